//! The address a request came from, as recorded and rate-limited: the peer, or behind a
//! trusted reverse proxy (`RENDEZ_TRUST_FORWARDED_FOR`) the last `X-Forwarded-For` entry,
//! the one that proxy added (earlier entries are whatever the client claimed).

use actix_web::HttpRequest;

pub fn client_address(req: &HttpRequest, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for
        && let Some(forwarded) = req
            .headers()
            .get("X-Forwarded-For")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').map(str::trim).find(|a| !a.is_empty()))
            .and_then(|a| a.parse::<std::net::IpAddr>().ok())
    {
        return forwarded.to_string();
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}
