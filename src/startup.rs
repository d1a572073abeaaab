//! Building and running the HTTP server. The application binds its own listener, so tests can
//! ask for port 0 and read back the port.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};

use crate::app::{self, Pool};
use crate::auth::{Authenticator, KeySource, SecretKey};
use crate::config::Config;
use crate::http;
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::workers::{Parts, Which, Workers};

/// The committed WSDL; its placeholder address is replaced by the public URL when served.
pub const WSDL_TEMPLATE: &str = include_str!("../wsdl/rendez.wsdl");
const WSDL_PLACEHOLDER_ADDRESS: &str = "http://localhost:8080/soap";

/// The public address of a process, from RENDEZ_PUBLIC_URL or the bind address.
pub fn public_url(config: &Config, bound: Option<std::net::SocketAddr>) -> String {
    config.public_url.clone().unwrap_or_else(|| match bound {
        Some(address) => format!("http://{address}"),
        None => format!("http://{}", config.bind),
    })
}

pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on its own listener (`RENDEZ_METRICS_BIND`), and its port.
    metrics_server: Option<(Server, u16)>,
    /// What the background work runs with, and which of it this process runs.
    background: Parts,
    which: Which,
}

impl Application {
    /// Binds the listener and prepares the server; `pool` is already migrated.
    pub fn build(config: Config, pool: Pool, secret_key: Arc<SecretKey>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(&config.bind).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", config.bind))
        })?;
        let address = listener.local_addr()?;
        let metrics_listener = match &config.metrics_bind {
            Some(bind) => Some(TcpListener::bind(bind).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot listen on {bind} for /metrics: {e}"),
                )
            })?),
            None => None,
        };
        let public_url = public_url(&config, Some(address));
        let wsdl = WSDL_TEMPLATE.replace(WSDL_PLACEHOLDER_ADDRESS, &format!("{public_url}/soap"));
        let workers = config.http_workers;
        let shutdown_secs = config.shutdown_timeout.as_secs().max(1);
        let metrics = Metrics::new();
        let core = Arc::new(app::Core::new(
            Arc::new(config),
            pool.clone(),
            secret_key.clone(),
            public_url.clone(),
        ));
        let background = Parts {
            config: core.config.clone(),
            pool: pool.clone(),
            secret_key: secret_key.clone(),
            public_url: public_url.clone(),
            serving: Some(core.clone()),
        };
        let state = web::Data::new(AppState {
            auth: Authenticator::new(
                pool.clone(),
                secret_key.clone(),
                core.config.auth_cache_ttl,
                core.config.auth_failure_limit,
                metrics.password_verifications.clone(),
            ),
            bodies: crate::soap::body_budget::BodyBudget::new(core.config.max_bodies_in_flight),
            core,
            metrics,
            wsdl,
        });
        let metrics_server = match metrics_listener {
            Some(listener) => {
                let port = listener.local_addr()?.port();
                log::info!("serving /metrics on {}", listener.local_addr()?);
                let state = state.clone();
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(state.clone())
                        .configure(http::metrics_routes)
                })
                .workers(1)
                .disable_signals()
                .shutdown_timeout(shutdown_secs)
                .listen(listener)?
                .run();
                Some((server, port))
            }
            None => None,
        };
        let metrics_here = metrics_server.is_none();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(http::soap_error_handlers())
                .wrap(http::access_log::logger())
                .configure(|cfg| {
                    http::routes_but_metrics(cfg);
                    if metrics_here {
                        http::metrics_routes(cfg);
                    }
                })
        })
        .workers(workers)
        // Signals are the CLI's (see `crate::shutdown`): it bounds the whole stop, this only
        // the wait for requests in flight.
        .disable_signals()
        .shutdown_timeout(shutdown_secs)
        .listen(listener)?
        .run();
        Ok(Application {
            port: address.port(),
            server,
            metrics_server,
            background,
            which: Which::Serve,
        })
    }

    /// Serves HTTP only: messaging, the reminder scheduler, imports and exports run elsewhere
    /// (`rendez worker`; see [`crate::workers`]).
    pub fn without_workers(mut self) -> Self {
        self.which = Which::ServeWithoutWorkers;
        self
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the separate `/metrics` listener, when `RENDEZ_METRICS_BIND` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(_, port)| *port)
    }

    /// Stops the server from elsewhere (tests, signal handlers).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Runs until the server stops, with this process's background work (see
    /// [`crate::workers`]), which then stops too.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let background =
            Workers::spawn(self.background, self.which).map_err(std::io::Error::other)?;
        let metrics = self.metrics_server.map(|(server, _)| {
            let handle = server.handle();
            (actix_web::rt::spawn(server), handle)
        });
        let result = self.server.await;
        if let Some((task, handle)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        background.stop().await;
        result
    }
}

/// Opens (and migrates) the database named by the configuration.
pub fn open_database(config: &Config) -> Result<Pool, String> {
    app::ops::open_database(config)
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

/// Says at start whether test results can be served, and whether stored results were sealed
/// with a key that is no longer configured.
pub fn report_results_setup(config: &Config, pool: &Pool) {
    let Some(keyring) = &config.results.keyring else {
        log::warn!(
            "test results are not configured (RENDEZ_RESULTS_KEY is not set): the results \
             operations and the /results page answer that they are unavailable"
        );
        return;
    };
    log::info!(
        "test results are sealed with the key '{}'",
        keyring.current_id()
    );
    let missing = app::ops::missing_result_keys(pool, keyring).map_err(|e| e.log_detail());
    match missing {
        Ok(ids) if ids.is_empty() => {}
        Ok(ids) => log::error!(
            "stored test results were sealed with the key(s) {} that RENDEZ_RESULTS_KEY and \
             RENDEZ_RESULTS_OLD_KEYS do not hold: they cannot be read until the key is configured",
            ids.join(", ")
        ),
        Err(e) => log::warn!("could not check the keys of stored test results: {e}"),
    }
}

/// Warns when messages to patients would carry links to this server's own bind address
/// (appointment pages, the results page): patients can rarely reach it.
/// Warns when no provider takes messages: confirmations and reminders would wait unseen.
pub fn report_messaging(config: &Config) {
    if config.messaging.sms.is_none() && config.messaging.email.is_none() {
        log::warn!(
            "no SMS or email provider is configured: updateMessages refuses messages, and \
             patients' confirmations, reminders and result notices wait in the outbox until one \
             is (RENDEZ_SMS_PROVIDER, RENDEZ_SMTP_URL; see the README's Configuration)"
        );
    }
}

/// Tells a fresh installation how to create the first API client, without which every call is
/// refused.
pub fn report_clients(pool: &Pool) {
    let clients = pool
        .get()
        .map_err(|e| e.to_string())
        .and_then(|mut conn| app::clients::list(&mut conn).map_err(|e| e.log_detail()));
    match clients {
        Ok(clients) if clients.iter().all(|c| c.disabled) => log::warn!(
            "no API client can call Rendez yet: create one for the clinic's system with \
             `rendez client add NAME --roles admin,booking` (see `rendez client add --help`)"
        ),
        Ok(_) => {}
        Err(e) => log::warn!("cannot list the API clients: {e}"),
    }
}

pub fn report_patient_links(config: &Config) {
    use crate::messaging::{EmailProviderConfig, SmsProviderConfig};
    let real_sms = matches!(
        config.messaging.sms,
        Some(SmsProviderConfig::Twilio { .. } | SmsProviderConfig::Jasmin { .. })
    );
    let real_email = matches!(
        config.messaging.email,
        Some(EmailProviderConfig::Smtp { .. })
    );
    if config.public_url.is_none() && (real_sms || real_email) {
        log::warn!(
            "RENDEZ_PUBLIC_URL is not set: the links in messages to patients (their appointment \
             pages, the results page) point at this server's bind address {}; set \
             RENDEZ_PUBLIC_URL to the address patients reach",
            config.bind
        );
    }
}
