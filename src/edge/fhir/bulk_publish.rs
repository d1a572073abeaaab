//! SMART Scheduling Links (<https://github.com/smart-on-fhir/smart-scheduling-links>):
//! `GET /fhir/$bulk-publish` answers the manifest, and each center in the caller's view scope
//! has three NDJSON files under it:
//!
//! - `/fhir/$bulk-publish/{center}/Location.ndjson`: the center (as `GET /fhir/Location/{id}`);
//! - `/fhir/$bulk-publish/{center}/Schedule.ndjson`: its schedules (a resource at the center);
//! - `/fhir/$bulk-publish/{center}/Slot.ndjson`: their published slots, `free` or `busy` (the
//!   live bookings laid over), each with the `booking-deep-link` extension when a link is
//!   configured for the center (`RENDEZ_BOOKING_LINK_TEMPLATE`, `RENDEZ_BOOKING_LINKS`) and the
//!   `booking-phone` extension when the center has a phone. A Rendez slot is one resource's
//!   time, booked by one appointment: its capacity is 1, which is what a slot without the
//!   `slot-capacity` extension means, so none carries it.
//!
//! The slot file is streamed: pages of [`PAGE`] slots are read on the blocking pool one after
//! the other and written a line per slot, so memory stays flat whatever the window holds.
//!
//! Access: unlike the specification's public files, every Rendez operation needs
//! authentication; the feed follows the rest of `/fhir` (the `booking` role, the view scope).
//! The manifest has a strong `ETag` (a digest of everything the files hold) and
//! `Cache-Control: private, max-age=60`; `If-None-Match` with a current tag answers 304.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::outcome::{Refusal, failure, outcome};
use super::request::{admit, base, caller};
use super::{location, schedule, slot};
use crate::app::publication::{self, CenterFeed, PAGE};
use crate::domain::slot_publication::{Slot, SlotStatus};
use crate::state::AppState;

use super::operations::BULK_PUBLISH_CODE as CODE;

pub const DEEP_LINK_EXTENSION: &str =
    "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link";
pub const PHONE_EXTENSION: &str =
    "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-phone";

const NDJSON: &str = "application/fhir+ndjson";
const CACHE_CONTROL: &str = "private, max-age=60";
const FILES: [&str; 3] = ["Location", "Schedule", "Slot"];

/// The feed's routes, inside the `/fhir` scope (before `/{type}`, which they would match).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/$bulk-publish")
            .route(web::get().to(manifest))
            .default_service(web::to(not_get)),
    )
    .service(
        web::resource("/$bulk-publish/{center}/{file}")
            .route(web::get().to(file))
            .default_service(web::to(not_get)),
    );
}

async fn not_get(req: HttpRequest) -> HttpResponse {
    let mut response = outcome(
        StatusCode::METHOD_NOT_ALLOWED,
        "not-supported",
        &format!("{} {} is not supported: GET only", req.method(), req.path()),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("GET"));
    response
}

/// The entity tags of `If-None-Match` (`*`, or a list of quoted tags, weak or strong); a value
/// that is neither is refused.
fn if_none_match(req: &HttpRequest) -> Result<Option<Vec<String>>, Refusal> {
    let mut tags = Vec::new();
    let mut any = false;
    for value in req.headers().get_all(header::IF_NONE_MATCH) {
        any = true;
        let text = value.to_str().map_err(|_| malformed("is not text"))?;
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "*" {
                tags.push("*".to_string());
                continue;
            }
            let opaque = part.strip_prefix("W/").unwrap_or(part);
            let inner = opaque
                .strip_prefix('"')
                .and_then(|o| o.strip_suffix('"'))
                .filter(|o| !o.contains('"'))
                .ok_or_else(|| {
                    malformed(&format!(
                        "'{part}' is not an entity tag (\"...\" or W/\"...\")"
                    ))
                })?;
            tags.push(inner.to_string());
        }
    }
    if any && tags.is_empty() {
        return Err(malformed("is empty"));
    }
    Ok(any.then_some(tags))
}

fn malformed(why: &str) -> Refusal {
    Refusal::new(
        StatusCode::BAD_REQUEST,
        "invalid",
        format!("If-None-Match {why}"),
    )
}

/// `GET /fhir/$bulk-publish`: the manifest.
async fn manifest(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let answer = async {
        admit(&req).map_err(Refusal::response)?;
        let who = caller(&req, &state).await?;
        let wanted = if_none_match(&req).map_err(Refusal::response)?;
        let found = publication::publication(&state, &who)
            .await
            .map_err(|e| failure(&e))?;
        let base = base(&state);
        let mut output = Vec::with_capacity(found.centers.len() * FILES.len());
        for center in &found.centers {
            for kind in FILES {
                output.push(json!({
                    "type": kind,
                    "url": format!("{base}/${CODE}/{}/{kind}.ndjson", center.id),
                }));
            }
        }
        let body = json!({
            "transactionTime": super::search::instant(found.transaction_time),
            "request": format!("{base}/${CODE}"),
            "output": output,
            "error": [],
        })
        .to_string();
        let tag = found.fingerprint[..32].to_string();
        let etag = format!("\"{tag}\"");
        if wanted.is_some_and(|tags| tags.iter().any(|t| t == "*" || *t == tag)) {
            return Ok(HttpResponse::NotModified()
                .insert_header((header::ETAG, etag))
                .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
                .finish());
        }
        Ok::<_, HttpResponse>(
            HttpResponse::Ok()
                .content_type("application/json")
                .insert_header((header::ETAG, etag))
                .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
                .body(body),
        )
    };
    match answer.await {
        Ok(response) | Err(response) => response,
    }
}

fn not_found(req: &HttpRequest, why: &str) -> HttpResponse {
    outcome(
        StatusCode::NOT_FOUND,
        "not-found",
        &format!(
            "{} is not a file of this server's SMART Scheduling Links feed: {why} (see /fhir/${CODE})",
            req.path()
        ),
    )
}

/// `GET /fhir/$bulk-publish/{center}/{Location|Schedule|Slot}.ndjson`.
async fn file(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let answer = async {
        admit(&req).map_err(Refusal::response)?;
        let center = req.match_info().get("center").unwrap_or_default();
        let name = req.match_info().get("file").unwrap_or_default();
        let Some(kind) = name
            .strip_suffix(".ndjson")
            .and_then(|k| FILES.iter().find(|f| **f == k))
        else {
            return Err(not_found(
                &req,
                &format!(
                    "a center's files are {}",
                    FILES.map(|f| format!("{f}.ndjson")).join(", ")
                ),
            ));
        };
        let who = caller(&req, &state).await?;
        let number = center
            .parse::<i64>()
            .ok()
            .filter(|n| n.to_string() == center && *n > 0)
            .ok_or_else(|| not_found(&req, &format!("'{center}' is not a center's id")))?;
        let feed = publication::center_feed(&state, &who, number)
            .await
            .map_err(|e| match e {
                crate::error::Error::NotFound(_) => {
                    not_found(&req, &format!("no center {number} in the caller's view"))
                }
                other => failure(&other),
            })?;
        let lines = match *kind {
            "Location" => Some(format!("{}\n", location::render(&feed.center))),
            "Schedule" => Some(
                feed.schedules
                    .iter()
                    .map(|s| format!("{}\n", schedule::render(s)))
                    .collect::<String>(),
            ),
            _ => None,
        };
        let mut response = HttpResponse::Ok();
        response
            .content_type(NDJSON)
            .insert_header((header::CACHE_CONTROL, CACHE_CONTROL));
        Ok::<_, HttpResponse>(match lines {
            Some(body) => response.body(body),
            None => response.streaming(slot_lines(state.clone(), Arc::new(feed))),
        })
    };
    match answer.await {
        Ok(response) | Err(response) => response,
    }
}

/// The slot file, a page at a time.
fn slot_lines(
    state: web::Data<AppState>,
    feed: Arc<CenterFeed>,
) -> impl futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>> {
    futures_util::stream::unfold(Some(0i64), move |after| {
        let state = state.clone();
        let feed = feed.clone();
        async move {
            let after = after?;
            match publication::slots_after(&state, &feed, after).await {
                Ok(page) if page.is_empty() => None,
                Ok(page) => {
                    let last = page.last().map(|s| s.id);
                    let mut out = String::with_capacity(page.len() * 900);
                    for one in &page {
                        out.push_str(&render(&feed, one).to_string());
                        out.push('\n');
                    }
                    // A short page is the last one.
                    let next = if page.len() < PAGE as usize {
                        None
                    } else {
                        last
                    };
                    Some((Ok(web::Bytes::from(out)), next))
                }
                Err(e) => {
                    log::error!(
                        "FHIR $bulk-publish: slot page after {after}: {}",
                        e.log_detail()
                    );
                    Some((
                        Err(actix_web::error::ErrorServiceUnavailable(
                            "the slot file could not be read to its end",
                        )),
                        None,
                    ))
                }
            }
        }
    })
}

/// A slot as the feed publishes it: as `GET /fhir/Slot/{id}` reads it, but `free` or `busy`
/// only (busy-tentative and busy-unavailable are busy), without the appointment's id, and with
/// the booking extensions.
pub fn render(feed: &CenterFeed, one: &Slot) -> Value {
    let mut out = slot::render(one, &feed.activities);
    out["status"] = json!(if one.status == SlotStatus::Free {
        "free"
    } else {
        "busy"
    });
    let mut extension: Vec<Value> = out["extension"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|x| x["url"] != slot::APPOINTMENT_EXTENSION)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if let Some(link) = feed.deep_link(one) {
        extension.push(json!({"url": DEEP_LINK_EXTENSION, "valueUrl": link}));
    }
    if let Some(phone) = location::nonblank(&feed.center.phone) {
        extension.push(json!({"url": PHONE_EXTENSION, "valueString": phone}));
    }
    out["extension"] = Value::Array(extension);
    out
}
