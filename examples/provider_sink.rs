//! An instant SMS provider for the messaging benchmark: answers Twilio's Messages API and
//! Jasmin's `/send` at once, as success, and counts what it got.
//!
//! Usage: provider_sink PORT

use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{App, HttpResponse, HttpServer, web};

static RECEIVED: AtomicU64 = AtomicU64::new(0);

async fn twilio() -> HttpResponse {
    let n = RECEIVED.fetch_add(1, Ordering::Relaxed);
    HttpResponse::Created()
        .content_type("application/json")
        .body(format!(r#"{{"sid":"SM{n:032x}","status":"queued"}}"#))
}

async fn jasmin() -> HttpResponse {
    let n = RECEIVED.fetch_add(1, Ordering::Relaxed);
    HttpResponse::Ok()
        .content_type("text/plain")
        .body(format!("Success \"{n:032x}\""))
}

async fn count() -> HttpResponse {
    HttpResponse::Ok().body(RECEIVED.load(Ordering::Relaxed).to_string())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("usage: provider_sink PORT");
    HttpServer::new(|| {
        App::new()
            .route(
                "/2010-04-01/Accounts/{sid}/Messages.json",
                web::post().to(twilio),
            )
            .route("/send", web::post().to(jasmin))
            .route("/count", web::get().to(count))
    })
    .workers(1)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
