//! `spawn_app` and typed helpers shared by every test.

use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "mysql")]
use diesel::Connection;
#[cfg(feature = "mysql")]
use diesel::connection::SimpleConnection;
use rendez::auth::{self, SecretKey};
use rendez::config::Settings;
use rendez::db::{self, Pool};
use rendez::startup::Application;

/// Which database a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    Mysql,
}

/// Generates, for each named `async fn(Backend)`, a module with one test per backend:
/// `name::sqlite` always, `name::mysql` when built with `--features mysql`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[cfg(feature = "mysql")]
            #[actix_web::test]
            async fn mysql() {
                super::$name($crate::helpers::Backend::Mysql).await
            }
        }
    )*};
}

pub const ADMIN: &str = "test-admin";
pub const ADMIN_PASSWORD: &str = "admin-password-123";
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";

/// A database made for one test and removed after it.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    /// The server's base URL and the database's name.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    mysql_name: Option<(String, String)>,
}

#[cfg(feature = "mysql")]
pub fn mysql_base_url() -> String {
    std::env::var("MYSQL_TEST_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

impl TestDatabase {
    pub fn new(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("rendez.db").display());
                TestDatabase {
                    url,
                    _dir: Some(dir),
                    mysql_name: None,
                }
            }
            Backend::Mysql => Self::new_mysql(),
        }
    }

    #[cfg(feature = "mysql")]
    fn new_mysql() -> TestDatabase {
        Self::new_mysql_at(&mysql_base_url())
    }

    /// A fresh database on the server at `base` (mysql://USER@HOST:PORT).
    #[cfg(feature = "mysql")]
    pub fn new_mysql_at(base: &str) -> TestDatabase {
        let name = format!("rendez_t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = diesel::MysqlConnection::establish(&format!("{base}/mysql"))
            .expect("MariaDB for tests (MYSQL_TEST_URL, default mysql://root@127.0.0.1:3306)");
        admin
            .batch_execute(&format!(
                "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            ))
            .expect("create a test database");
        TestDatabase {
            url: format!("{base}/{name}"),
            _dir: None,
            mysql_name: Some((base.to_string(), name)),
        }
    }

    #[cfg(not(feature = "mysql"))]
    fn new_mysql() -> TestDatabase {
        unreachable!("MySQL tests are only generated with --features mysql")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        #[cfg(feature = "mysql")]
        if let Some((base, name)) = &self.mysql_name
            && let Ok(mut admin) = diesel::MysqlConnection::establish(&format!("{base}/mysql"))
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"));
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub http: reqwest::Client,
    pub pool: Pool,
    pub secret_key: Arc<SecretKey>,
    pub server: actix_web::dev::ServerHandle,
    pub db: Arc<TestDatabase>,
}

/// The settings every test server starts from: port 0, its own key, a short pool timeout.
pub fn test_settings(db: &TestDatabase) -> Settings {
    Settings {
        database_url: Some(db.url.clone()),
        bind: Some("127.0.0.1:0".into()),
        secret_key: Some(SecretKey::generate().to_base64()),
        db_timeout: Some("2s".into()),
        // No statement watchdog: it opens connections one at a time per process, and hundreds
        // of test servers in one process then wait past the pool timeout. The deadline and
        // Galera tests set their own.
        db_read_timeout: Some("0s".into()),
        http_workers: Some(2),
        ..Settings::default()
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    let db = Arc::new(TestDatabase::new(backend));
    let settings = test_settings(&db);
    spawn_app_on(db, settings).await
}

/// Starts a server on an existing test database (a second process on the same database, or a
/// restart), with the given settings.
pub async fn spawn_app_on(db: Arc<TestDatabase>, settings: Settings) -> TestApp {
    let config = settings.resolve().expect("valid test settings");
    let pool = db::connect_bounded(&config.database_url, config.pool, config.db_deadlines)
        .expect("the test database opens");
    let secret_key = Arc::new(
        SecretKey::from_base64(config.secret_key.as_deref().expect("tests set a key")).unwrap(),
    );
    let app = Application::build(config.clone(), pool.clone(), secret_key.clone())
        .expect("the server builds");
    let port = app.port();
    let server = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    let test_app = TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        pool,
        secret_key,
        server,
        db,
    };
    // A second server on the same database finds the admin already there.
    let mut conn = test_app.pool.get().unwrap();
    if db::clients::find_by_name(&mut conn, ADMIN)
        .unwrap()
        .is_none()
    {
        test_app.add_client(
            ADMIN,
            ADMIN_PASSWORD,
            "booking,messaging,results,admin",
            "",
            true,
        );
    }
    drop(conn);
    test_app
}

/// A SOAP reply as the wire carried it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Reply {
    /// The text of the first element with this local name.
    pub fn field(&self, name: &str) -> Option<String> {
        all_fields(&self.body, name).into_iter().next()
    }

    pub fn fields(&self, name: &str) -> Vec<String> {
        all_fields(&self.body, name)
    }

    pub fn is_fault(&self) -> bool {
        self.body.contains(":Fault>")
    }

    /// The fault's text (faultstring in SOAP 1.1, Reason/Text in SOAP 1.2).
    pub fn fault_text(&self) -> String {
        self.field("faultstring")
            .or_else(|| self.field("Text"))
            .unwrap_or_default()
    }

    /// `Client` or `Server`, whichever version the fault is in.
    pub fn fault_code(&self) -> String {
        if let Some(code) = self.field("faultcode") {
            return code.rsplit(':').next().unwrap_or("").to_string();
        }
        // SOAP 1.2: the subcode (Client/Server), else the code itself (VersionMismatch, ...).
        let values = self.fields("Value");
        values
            .get(1)
            .or(values.first())
            .map(|v| v.rsplit(':').next().unwrap_or("").to_string())
            .unwrap_or_default()
    }

    #[track_caller]
    pub fn assert_fault(&self, code: &str, text_contains: &str) {
        assert!(
            self.is_fault(),
            "expected a {code} fault, got {} {}",
            self.status,
            self.body
        );
        assert_eq!(self.fault_code(), code, "fault code in {}", self.body);
        assert!(
            self.fault_text().contains(text_contains),
            "fault text {:?} lacks {text_contains:?}",
            self.fault_text()
        );
    }

    #[track_caller]
    pub fn assert_ok(&self) {
        assert_eq!(self.status, 200, "expected success, got {}", self.body);
        assert!(!self.is_fault(), "unexpected fault: {}", self.body);
    }
}

/// Every text of elements with this local name (any prefix), unescaped.
pub fn all_fields(xml: &str, name: &str) -> Vec<String> {
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) if e.local_name().as_ref() == name => {
                current = Some(String::new())
            }
            Ok(quick_xml::events::Event::Empty(e)) if e.local_name().as_ref() == name => {
                out.push(String::new())
            }
            Ok(quick_xml::events::Event::Text(t)) => {
                if let Some(c) = current.as_mut() {
                    c.push_str(&t.xml10_content());
                }
            }
            Ok(quick_xml::events::Event::GeneralRef(r)) => {
                if let Some(c) = current.as_mut() {
                    let name = r.into_inner();
                    c.push_str(match name.as_ref() {
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "?",
                    });
                }
            }
            Ok(quick_xml::events::Event::End(e)) if e.local_name().as_ref() == name => {
                if let Some(c) = current.take() {
                    out.push(c);
                }
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out
}

/// How a test authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Basic(String, String),
    Text(String, String),
    /// A PasswordDigest token; `created` and `nonce` default to now and a random nonce.
    Digest {
        user: String,
        password: String,
        created: Option<String>,
        nonce: Option<Vec<u8>>,
    },
}

impl Auth {
    pub fn admin() -> Auth {
        Auth::Basic(ADMIN.into(), ADMIN_PASSWORD.into())
    }
    pub fn basic(user: &str, password: &str) -> Auth {
        Auth::Basic(user.into(), password.into())
    }
    pub fn text(user: &str, password: &str) -> Auth {
        Auth::Text(user.into(), password.into())
    }
    pub fn digest(user: &str, password: &str) -> Auth {
        Auth::Digest {
            user: user.into(),
            password: password.into(),
            created: None,
            nonce: None,
        }
    }
}

/// A WS-Security header for the given authentication (empty for Basic or none).
pub fn security_header(auth: &Auth) -> String {
    const WSSE: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
    const WSU: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
    const PROFILE: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0";
    match auth {
        Auth::None | Auth::Basic(..) => String::new(),
        Auth::Text(user, password) => format!(
            r#"<wsse:Security xmlns:wsse="{WSSE}"><wsse:UsernameToken><wsse:Username>{user}</wsse:Username><wsse:Password Type="{PROFILE}#PasswordText">{password}</wsse:Password></wsse:UsernameToken></wsse:Security>"#,
            password = quick_xml::escape::escape(password.as_str())
        ),
        Auth::Digest {
            user,
            password,
            created,
            nonce,
        } => {
            use base64::Engine;
            let created = created.clone().unwrap_or_else(|| {
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            });
            let nonce = nonce
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().as_bytes().to_vec());
            let digest = auth::password_digest(&nonce, &created, password);
            let nonce = base64::engine::general_purpose::STANDARD.encode(nonce);
            format!(
                r#"<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken><wsse:Username>{user}</wsse:Username><wsse:Password Type="{PROFILE}#PasswordDigest">{digest}</wsse:Password><wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">{nonce}</wsse:Nonce><wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"#
            )
        }
    }
}

/// A SOAP 1.1 envelope around `<r:{operation}>{inner}</r:{operation}>`.
pub fn envelope11(auth: &Auth, operation: &str, inner: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP11_NS}" xmlns:r="urn:rendez:soap:v1"><s:Header>{}</s:Header><s:Body><r:{operation}>{inner}</r:{operation}></s:Body></s:Envelope>"#,
        security_header(auth)
    )
}

pub fn envelope12(auth: &Auth, operation: &str, inner: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP12_NS}" xmlns:r="urn:rendez:soap:v1"><s:Header>{}</s:Header><s:Body><r:{operation}>{inner}</r:{operation}></s:Body></s:Envelope>"#,
        security_header(auth)
    )
}

impl TestApp {
    /// Creates an API client directly in the database, as `rendez client add` does.
    pub fn add_client(&self, name: &str, password: &str, roles: &str, centers: &str, digest: bool) {
        let mut conn = self.pool.get().unwrap();
        let now = chrono::Utc::now().naive_utc();
        let id = uuid::Uuid::now_v7().to_string();
        let hash = auth::hash_secret(password);
        let digest_secret = digest.then(|| self.secret_key.encrypt_secret(password));
        let roles: rendez::domain::access::Roles = roles.parse().unwrap();
        let centers: rendez::domain::access::CenterScope = centers.parse().unwrap();
        let (roles, centers) = (roles.to_string(), centers.to_string());
        db::clients::insert(
            &mut conn,
            &db::clients::NewClient {
                id: &id,
                name,
                roles: &roles,
                centers: &centers,
                secret_hash: &hash,
                digest_secret: digest_secret.as_deref(),
                disabled: false,
                created_at: now,
                updated_at: now,
            },
        )
        .unwrap();
    }

    /// POSTs raw bytes to /soap with the given Content-Type and optional SOAPAction.
    pub async fn post_soap_raw(
        &self,
        content_type: Option<&str>,
        soap_action: Option<&str>,
        auth: &Auth,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let mut request = self.http.post(format!("{}/soap", self.address)).body(body);
        if let Some(ct) = content_type {
            request = request.header("Content-Type", ct);
        }
        if let Some(action) = soap_action {
            request = request.header("SOAPAction", action);
        }
        if let Auth::Basic(user, password) = auth {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await.expect("the server answers");
        Reply {
            status: response.status().as_u16(),
            content_type: response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
            body: response.text().await.unwrap_or_default(),
        }
    }

    /// Calls an operation over SOAP 1.1 with its SOAPAction.
    pub async fn soap(&self, auth: &Auth, operation: &str, inner: &str) -> Reply {
        let action = format!("\"urn:rendez:soap:v1#{operation}\"");
        self.post_soap_raw(
            Some("text/xml; charset=utf-8"),
            Some(&action),
            auth,
            envelope11(auth, operation, inner),
        )
        .await
    }

    /// Calls an operation over SOAP 1.2.
    pub async fn soap12(&self, auth: &Auth, operation: &str, inner: &str) -> Reply {
        let content_type = format!(
            "application/soap+xml; charset=utf-8; action=\"urn:rendez:soap:v1#{operation}\""
        );
        self.post_soap_raw(
            Some(&content_type),
            None,
            auth,
            envelope12(auth, operation, inner),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the server answers")
    }

    /// Pushes key-entity rows given as (FIELD, value) lists, as admin.
    pub async fn push_key_entities(&self, rows: &[&[(&str, &str)]], full_sync: bool) -> Reply {
        let mut inner = String::new();
        for row in rows {
            inner.push_str("<ROW>");
            for (field, value) in row.iter() {
                inner.push_str(&format!(
                    "<{field}>{}</{field}>",
                    quick_xml::escape::escape(*value)
                ));
            }
            inner.push_str("</ROW>");
        }
        if full_sync {
            inner.push_str("<FULL_SYNC>true</FULL_SYNC>");
        }
        self.soap(&Auth::admin(), "updateKeyEntities", &inner).await
    }

    /// A small clinic: center C1 (Europe/Madrid), resource R1 offering A1 (20 min) there.
    pub async fn seed_basic_clinic(&self) {
        let reply = self
            .push_key_entities(
                &[&[
                    ("LOCATION_LID", "C1"),
                    ("LOCATION_NAME", "Centro Uno"),
                    ("LOCATION_TIMEZONE", "Europe/Madrid"),
                    ("RESOURCE_LID", "R1"),
                    ("RESOURCE_FIRST_NAME", "Zoë"),
                    ("RESOURCE_SECOND_NAME", "Peña"),
                    ("ACTIVITY_LID", "A1"),
                    ("ACTIVITY_NAME", "Consulta"),
                    ("ACTIVITY_DURATION", "20"),
                    ("ACTIVITY_PRICE", "35.50"),
                ]],
                false,
            )
            .await;
        reply.assert_ok();
        assert_eq!(
            reply.field("RESULT").as_deref(),
            Some("OK"),
            "{}",
            reply.body
        );
    }
}

/// The path of the `rendez` binary built for these tests.
pub fn rendez_bin() -> &'static str {
    env!("CARGO_BIN_EXE_rendez")
}

/// The value of the sample `name{labels}` in a Prometheus text, 0 when absent.
pub fn sample(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}

pub async fn scrape(app: &TestApp) -> String {
    let response = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}
