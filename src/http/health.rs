//! `/`: what this server is. `/healthz`: the process answers. `/readyz`: and its database does
//! too, for writes as well (a SQLite file another process keeps locked is not ready).

use actix_web::{HttpResponse, web};

use crate::state::AppState;

/// What a person or a probe that opens the server's address wants first: the name, the
/// version, and where to go next.
pub async fn index() -> HttpResponse {
    let about = serde_json::json!({
        "name": "Rendez",
        "description": env!("CARGO_PKG_DESCRIPTION"),
        "version": env!("CARGO_PKG_VERSION"),
        "links": {
            "soap": "/soap",
            "wsdl": "/soap?wsdl",
            "health": "/healthz",
            "ready": "/readyz",
            "metrics": "/metrics",
            "results": "/results",
        },
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .body(about.to_string())
}

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match crate::app::ops::ready(&state).await {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ready\n"),
        Err(err) => {
            log::warn!("readiness check failed: {}", err.log_detail());
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("not ready: the database is unreachable or cannot be written\n")
        }
    }
}
