//! `/metrics`: behind a bearer token (`RENDEZ_METRICS_TOKEN`), and on its own listener
//! (`RENDEZ_METRICS_BIND`), away from the patient pages.

use std::sync::Arc;

use rendez::auth::SecretKey;
use rendez::config::Settings;
use rendez::db;
use rendez::startup::Application;

use crate::helpers::{Backend, TestDatabase, test_settings};

/// The server's main address and, when it has one, its metrics address.
struct Served {
    main: String,
    metrics: Option<String>,
    _db: Arc<TestDatabase>,
}

async fn serve(change: impl FnOnce(&mut Settings)) -> Served {
    let db = Arc::new(TestDatabase::new(Backend::Sqlite));
    let mut settings = test_settings(&db);
    change(&mut settings);
    let config = settings.resolve().expect("valid test settings");
    let pool = db::connect(&config.database_url, config.pool).unwrap();
    let key = Arc::new(SecretKey::from_base64(config.secret_key.as_deref().unwrap()).unwrap());
    let app = Application::build(config, pool, key).expect("the server builds");
    let served = Served {
        main: format!("http://127.0.0.1:{}", app.port()),
        metrics: app
            .metrics_port()
            .map(|port| format!("http://127.0.0.1:{port}")),
        _db: db,
    };
    actix_web::rt::spawn(app.run_until_stopped());
    served
}

async fn get(url: String, bearer: Option<&str>) -> (u16, String, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = bearer {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, challenge, response.text().await.unwrap_or_default())
}

const TOKEN: &str = "metrics-token-5cQ8tW1z";

#[actix_web::test]
async fn metrics_with_a_token_configured_answer_401_without_it_or_with_a_wrong_one() {
    let served = serve(|s| s.metrics_token = Some(TOKEN.into())).await;
    let url = || format!("{}/metrics", served.main);

    let (status, challenge, body) = get(url(), None).await;
    assert_eq!(status, 401, "no token: {body}");
    assert!(challenge.starts_with("Bearer"), "{challenge:?}");
    assert!(!body.contains("rendez_"), "no metric leaks: {body}");

    let (status, _, _) = get(url(), Some("metrics-token-5cQ8tW1")).await;
    assert_eq!(status, 401, "a prefix of the token");
    let (status, _, _) = get(url(), Some("wrong")).await;
    assert_eq!(status, 401, "a wrong token");
    let basic = reqwest::Client::new()
        .get(url())
        .basic_auth("metrics", Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(
        basic.status().as_u16(),
        401,
        "the token as a Basic password"
    );

    let (status, _, body) = get(url(), Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert!(body.contains("rendez_db_pool_max_connections"), "{body}");
}

#[actix_web::test]
async fn metrics_without_a_token_configured_need_none() {
    let served = serve(|_| {}).await;
    let (status, _, body) = get(format!("{}/metrics", served.main), None).await;
    assert_eq!(status, 200);
    assert!(body.contains("rendez_db_pool_max_connections"), "{body}");
}

#[actix_web::test]
async fn metrics_on_their_own_address_are_absent_from_the_main_one() {
    let served = serve(|s| {
        s.metrics_bind = Some("127.0.0.1:0".into());
        s.metrics_token = Some(TOKEN.into());
    })
    .await;
    let metrics = served.metrics.clone().expect("a metrics listener");

    let (status, _, _) = get(format!("{}/metrics", served.main), Some(TOKEN)).await;
    assert_eq!(status, 404, "not on the main listener");
    let (status, _, _) = get(format!("{}/healthz", served.main), None).await;
    assert_eq!(status, 200, "the main listener serves the rest");

    let (status, _, body) = get(format!("{metrics}/metrics"), Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert!(body.contains("rendez_db_pool_max_connections"), "{body}");
    let (status, _, _) = get(format!("{metrics}/metrics"), None).await;
    assert_eq!(status, 401, "the token is still required there");
    for path in ["/results", "/soap?wsdl", "/healthz"] {
        let (status, _, _) = get(format!("{metrics}{path}"), None).await;
        assert_eq!(status, 404, "{path} is not on the metrics listener");
    }
}
