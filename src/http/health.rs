//! `/healthz`: the process answers. `/readyz`: and its database does too.

use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection;

use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.with_db(|conn| conn.batch_execute("SELECT 1")).await {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ready\n"),
        Err(err) => {
            log::warn!("readiness check failed: {}", err.log_detail());
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("not ready: the database is unreachable\n")
        }
    }
}
