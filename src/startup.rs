//! Building and running the HTTP server. The application binds its own listener, so tests can
//! ask for port 0 and read back the port.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, middleware, web};

use crate::auth::{self, Authenticator, KeySource, SecretKey};
use crate::config::Config;
use crate::db::{self, Pool};
use crate::http::{self, metrics::Metrics};
use crate::memo::scheduler::Scheduler;
use crate::state::AppState;

/// The committed WSDL; its placeholder address is replaced by the public URL when served.
pub const WSDL_TEMPLATE: &str = include_str!("../wsdl/rendez.wsdl");
const WSDL_PLACEHOLDER_ADDRESS: &str = "http://localhost:8080/soap";

pub struct Application {
    port: u16,
    server: Server,
    pool: Pool,
    scheduler: Scheduler,
}

impl Application {
    /// Binds the listener and prepares the server; `pool` is already migrated.
    pub fn build(config: Config, pool: Pool, secret_key: Arc<SecretKey>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(&config.bind).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", config.bind))
        })?;
        let address = listener.local_addr()?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}"));
        let wsdl = WSDL_TEMPLATE.replace(WSDL_PLACEHOLDER_ADDRESS, &format!("{public_url}/soap"));
        let workers = config.http_workers;
        let metrics = Metrics::new();
        let state = web::Data::new(AppState {
            auth: Authenticator::new(
                pool.clone(),
                secret_key.clone(),
                config.auth_cache_ttl,
                metrics.password_verifications.clone(),
            ),
            config: Arc::new(config),
            pool: pool.clone(),
            metrics,
            wsdl,
            secret_key: secret_key.clone(),
            public_url: public_url.clone(),
        });
        let scheduler = Scheduler {
            pool: pool.clone(),
            config: Arc::new(state.config.memo.clone()),
            key: secret_key,
            public_url,
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(http::soap_error_handlers())
                .wrap(
                    middleware::Logger::new("%a \"%r\" %s %b %Dms")
                        .exclude("/healthz")
                        .exclude("/metrics"),
                )
                .configure(http::routes)
        })
        .workers(workers)
        .listen(listener)?
        .run();
        Ok(Application {
            port: address.port(),
            server,
            pool,
            scheduler,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server from elsewhere (tests, signal handlers).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Runs until the server stops, with the housekeeping that belongs to a serving process.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let pool = self.pool.clone();
        let housekeeping = actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let pool = pool.clone();
                let outcome = web::block(move || -> Result<usize, String> {
                    let mut conn = pool.get().map_err(|e| e.to_string())?;
                    auth::forget_old_nonces(&mut conn).map_err(|e| e.to_string())
                })
                .await;
                if let Ok(Err(e)) = outcome {
                    log::warn!("could not forget old nonces: {e}");
                }
            }
        });
        let reminders = actix_web::rt::spawn(self.scheduler.run());
        let result = self.server.await;
        housekeeping.abort();
        reminders.abort();
        result
    }
}

/// Opens (and migrates) the database named by the configuration.
pub fn open_database(config: &Config) -> Result<Pool, String> {
    db::connect(&config.database_url, config.pool)
}

/// The secret key, with a loud warning when it was made up on the spot.
pub fn load_secret_key(config: &Config) -> Result<Arc<SecretKey>, String> {
    let (key, source) =
        SecretKey::load_or_create(config.secret_key.as_deref(), &config.secret_key_file)?;
    if source == KeySource::Created {
        log::warn!(
            "RENDEZ_SECRET_KEY is not set: created a new key in {}. Production should set \
             RENDEZ_SECRET_KEY (base64 of 32 random bytes) and keep it safe; losing it breaks \
             digest clients and patient links.",
            config.secret_key_file.display()
        );
    }
    Ok(Arc::new(key))
}
