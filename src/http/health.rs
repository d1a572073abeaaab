//! `/healthz`: the process answers. `/readyz`: and its database does too, for writes as well
//! (a SQLite file another process keeps locked is not ready).

use actix_web::{HttpResponse, web};

use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.with_db(crate::db::dialect::check_writable).await {
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
