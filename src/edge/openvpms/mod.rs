//! The OpenVPMS online booking API (v2, and v1 without users), served under `/ws/booking/v2`,
//! `/ws/booking/v1` and the same under `/openvpms/ws/booking/...`, so that a provider that works
//! with OpenVPMS works with Rendez by changing only the base URL.
//!
//! Parse, call [`crate::app::online`], render. Answers are JSON; errors are `text/plain` with
//! the reference's texts (400 [`Error::Client`], 404 [`Error::NotFound`]). Authentication is
//! HTTP Basic with a Rendez API client that has the `booking` role; its centers limit what it
//! sees. The OpenAPI 3.1 document is `GET /ws/booking/v2/openapi.json`.

mod times;
pub mod wire;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures_util::StreamExt;
use utoipa::OpenApi;

use crate::app::Caller;
use crate::app::online;
use crate::auth::Credentials;
use crate::domain::access::Role;
use crate::error::Error;
use crate::http::client_address::client_address;
use crate::state::AppState;
use wire::{
    AppointmentType, Booking, FreeBusyShape, Location, NewBooking, RangeShape, Schedule,
    ScheduleRangeShape, User, UserFreeBusyShape,
};

/// The largest booking body read; a larger one is refused before it is read.
pub const MAX_BOOKING_BODY: usize = 16 * 1024;
const TEXT: &str = "text/plain";
const JSON: &str = "application/json";
const NO_RESOURCE: &str = "HTTP 404 Not Found";

/// Which version a route belongs to (v1 has no users and no `user` in bookings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// The API's routes, under both base paths and both versions.
pub fn routes(cfg: &mut web::ServiceConfig) {
    for base in ["/ws/booking", "/openvpms/ws/booking"] {
        cfg.service(version_scope(&format!("{base}/v2"), Version::V2));
        cfg.service(version_scope(&format!("{base}/v1"), Version::V1));
    }
}

fn version_scope(path: &str, version: Version) -> actix_web::Scope {
    // Free/busy first: actix tries a scope's resources in order, each pattern with a path
    // parameter by a regular expression, and these are the API's busiest routes. No two
    // patterns here match the same path, so the order changes no answer.
    let mut scope = web::scope(path)
        .app_data(version)
        .service(get("/schedules/{id}/free", get_schedule_free))
        .service(get("/schedules/{id}/busy", get_schedule_busy))
        .service(get("/schedules/{id}/freebusy", get_schedule_freebusy))
        .service(get("/locations", get_locations))
        .service(get("/locations/{id}", get_location))
        .service(get("/locations/{id}/schedules", get_location_schedules))
        .service(get("/schedules/{id}", get_schedule))
        .service(get(
            "/schedules/{id}/appointmentTypes",
            get_appointment_types,
        ))
        .service(
            web::resource("/bookings")
                .route(web::post().to(post_booking))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/bookings/{reference}")
                .route(web::get().to(get_booking))
                .route(web::delete().to(delete_booking))
                .default_service(web::to(method_not_allowed)),
        );
    if version == Version::V2 {
        scope = scope
            .service(get("/openapi.json", openapi_json))
            .service(get("/locations/{id}/users", get_location_users))
            .service(get("/users/{id}", get_user))
            .service(get("/users/{id}/locations", get_user_locations))
            .service(get("/users/{id}/locations/{location}", get_user_location))
            .service(get("/users/{id}/locations/{location}/free", get_user_free))
            .service(get("/users/{id}/locations/{location}/busy", get_user_busy))
            .service(get(
                "/users/{id}/locations/{location}/freebusy",
                get_user_freebusy,
            ));
    }
    scope.default_service(web::to(no_resource))
}

/// A resource answered by GET (and HEAD); another method is 405.
fn get<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler))
        .default_service(web::to(method_not_allowed))
}

async fn method_not_allowed() -> HttpResponse {
    text(
        StatusCode::METHOD_NOT_ALLOWED,
        "HTTP 405 Method Not Allowed",
    )
}

async fn no_resource() -> HttpResponse {
    text(StatusCode::NOT_FOUND, NO_RESOURCE)
}

fn text(status: StatusCode, body: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(TEXT)
        .body(body.into())
}

fn json_text(body: String) -> HttpResponse {
    HttpResponse::Ok().content_type(JSON).body(body)
}

fn json_bytes(body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok().content_type(JSON).body(body)
}

fn json<T: serde::Serialize>(value: &T) -> HttpResponse {
    match serde_json::to_string(value) {
        Ok(body) => json_text(body),
        Err(e) => failure(&Error::Internal(format!("JSON: {e}"))),
    }
}

/// An error in the API's words.
fn failure(error: &Error) -> HttpResponse {
    match error {
        Error::Client(message) => text(StatusCode::BAD_REQUEST, message.as_str()),
        Error::NotFound(message) => text(StatusCode::NOT_FOUND, message.as_str()),
        Error::Unauthenticated(_) => HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"Rendez\""))
            .content_type(TEXT)
            .body(error.to_string()),
        Error::TooManyFailures(wait) => HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, wait.as_secs().max(1).to_string()))
            .content_type(TEXT)
            .body(error.to_string()),
        Error::Forbidden(_) => text(StatusCode::FORBIDDEN, error.to_string()),
        Error::Unavailable(_) => {
            log::warn!("OpenVPMS API: {}", error.log_detail());
            text(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
        }
        _ => {
            log::error!("OpenVPMS API: {}", error.log_detail());
            text(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
        }
    }
}

/// The caller, from HTTP Basic credentials checked before anything else is read, holding the
/// `booking` role (checked here too, so that a body is never read for a caller without it).
async fn caller(req: &HttpRequest, state: &AppState) -> Result<Caller, HttpResponse> {
    let credentials = basic_credentials(req.headers()).map_err(|e| failure(&e))?;
    let address = client_address(req, state.config.trust_forwarded_for);
    let caller = state
        .auth
        .authenticate(credentials, &address)
        .await
        .map_err(|e| failure(&e))?;
    crate::app::require(&caller, Role::Booking, "the OpenVPMS booking API")
        .map_err(|e| failure(&e))?;
    Ok(caller)
}

/// Whether the request says its body is JSON (`application/json` or `application/*+json`,
/// any parameters), as the reference's `@Consumes(APPLICATION_JSON)` requires.
fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|mime| {
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

pub(crate) fn basic_credentials(headers: &HeaderMap) -> Result<Credentials, Error> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(Error::Unauthenticated(
            "send HTTP Basic credentials of a client with the booking role".into(),
        ));
    };
    let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("Basic") {
        return Err(Error::Unauthenticated(
            "only HTTP Basic authentication is supported".into(),
        ));
    }
    let decoded = BASE64
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            Error::Unauthenticated("the HTTP Basic credentials are not valid base64 UTF-8".into())
        })?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or_else(|| Error::Unauthenticated("the HTTP Basic credentials have no ':'".into()))?;
    Ok(Credentials::Password {
        username: username.to_string(),
        password: password.to_string(),
    })
}

/// An `{id}`-like path segment: a whole number, else no such resource (as Jersey answers).
fn path_id(req: &HttpRequest, name: &str) -> Result<i64, Error> {
    req.match_info()
        .get(name)
        .and_then(|raw| raw.parse::<i64>().ok())
        .ok_or_else(|| Error::NotFound(NO_RESOURCE.into()))
}

fn version(req: &HttpRequest) -> Version {
    req.app_data::<Version>().copied().unwrap_or(Version::V2)
}

/// The query's parameters, decoded (`+` is a space, as in any form encoding).
struct Query(Vec<(String, String)>);

impl Query {
    fn of(req: &HttpRequest) -> Query {
        Query(
            url::form_urlencoded::parse(req.query_string().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn range(
        &self,
    ) -> Result<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>), Error> {
        let from = wire::parse_query_time("from", self.get("from")).map_err(Error::Client)?;
        let to = wire::parse_query_time("to", self.get("to")).map_err(Error::Client)?;
        Ok((from, to))
    }

    fn slots(&self) -> bool {
        self.get("slots")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// Runs a handler body: authenticate, then the body's own result.
macro_rules! answer {
    ($req:expr, $state:expr, |$caller:ident| $body:expr) => {{
        let $caller = match caller(&$req, &$state).await {
            Ok(caller) => caller,
            Err(response) => return response,
        };
        let result: Result<HttpResponse, HttpResponse> = async { $body }.await;
        match result {
            Ok(response) | Err(response) => response,
        }
    }};
}

fn fail(error: Error) -> HttpResponse {
    failure(&error)
}

// ---------------------------------------------------------------------------------------------
// Locations.

/// The locations open to online booking.
#[utoipa::path(get, path = "/locations", tag = "locations",
    responses((status = 200, description = "Locations by name", body = [Location])))]
async fn get_locations(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer!(req, state, |who| {
        let list = online::locations(&state, &who).await.map_err(fail)?;
        Ok(json(
            &list.into_iter().map(Location::from).collect::<Vec<_>>(),
        ))
    })
}

/// One location.
#[utoipa::path(get, path = "/locations/{id}", tag = "locations",
    params(("id" = i64, Path, description = "Location id")),
    responses((status = 200, body = Location),
        (status = 404, description = "Practice location not found", body = String, content_type = "text/plain")))]
async fn get_location(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer!(req, state, |who| {
        let id = path_id(&req, "id").map_err(fail)?;
        let found = online::location(&state, &who, id).await.map_err(fail)?;
        Ok(json(&Location::from(found)))
    })
}

/// The schedules of a location.
#[utoipa::path(get, path = "/locations/{id}/schedules", tag = "locations",
    params(("id" = i64, Path, description = "Location id")),
    responses((status = 200, body = [Schedule]),
        (status = 404, description = "Practice location not found", body = String, content_type = "text/plain")))]
async fn get_location_schedules(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer!(req, state, |who| {
        let id = path_id(&req, "id").map_err(fail)?;
        let list = online::location_schedules(&state, &who, id)
            .await
            .map_err(fail)?;
        Ok(json(
            &list.into_iter().map(Schedule::from).collect::<Vec<_>>(),
        ))
    })
}

/// The clinicians of a location (v2).
#[utoipa::path(get, path = "/locations/{id}/users", tag = "locations",
    params(("id" = i64, Path, description = "Location id")),
    responses((status = 200, body = [User]),
        (status = 404, description = "Practice location not found", body = String, content_type = "text/plain")))]
async fn get_location_users(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer!(req, state, |who| {
        let id = path_id(&req, "id").map_err(fail)?;
        let list = online::location_users(&state, &who, id)
            .await
            .map_err(fail)?;
        Ok(json(&list.into_iter().map(User::from).collect::<Vec<_>>()))
    })
}

// ---------------------------------------------------------------------------------------------
// Schedules.

/// One schedule.
#[utoipa::path(get, path = "/schedules/{id}", tag = "schedules",
    params(("id" = i64, Path, description = "Schedule id")),
    responses((status = 200, body = Schedule),
        (status = 404, description = "Schedule not found", body = String, content_type = "text/plain")))]
async fn get_schedule(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer!(req, state, |who| {
        let id = path_id(&req, "id").map_err(fail)?;
        let found = online::schedule(&state, &who, id).await.map_err(fail)?;
        Ok(json(&Schedule::from(found)))
    })
}

/// The appointment types of a schedule.
#[utoipa::path(get, path = "/schedules/{id}/appointmentTypes", tag = "schedules",
    params(("id" = i64, Path, description = "Schedule id")),
    responses((status = 200, body = [AppointmentType]),
        (status = 404, description = "Schedule not found", body = String, content_type = "text/plain")))]
async fn get_appointment_types(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer!(req, state, |who| {
        let id = path_id(&req, "id").map_err(fail)?;
        let list = online::schedule_appointment_types(&state, &who, id)
            .await
            .map_err(fail)?;
        Ok(json(
            &list
                .into_iter()
                .map(AppointmentType::from)
                .collect::<Vec<_>>(),
        ))
    })
}

#[derive(Clone, Copy)]
enum Which {
    Free,
    Busy,
    Both,
}

async fn schedule_time(req: HttpRequest, state: web::Data<AppState>, which: Which) -> HttpResponse {
    answer!(req, state, |who| {
        let id = path_id(&req, "id").map_err(fail)?;
        let query = Query::of(&req);
        let (from, to) = query.range().map_err(fail)?;
        let found = online::schedule_time(&state, &who, id, from, to, query.slots())
            .await
            .map_err(fail)?;
        let tz = found.timezone;
        let mut out = Vec::new();
        match which {
            Which::Free => times::ranges_json(tz, &found.free(), None, &mut out),
            Which::Busy => times::ranges_json(tz, &found.busy(), None, &mut out),
            Which::Both => {
                out.extend_from_slice(b"{\"free\":");
                times::ranges_json(tz, &found.free(), None, &mut out);
                out.extend_from_slice(b",\"busy\":");
                times::ranges_json(tz, &found.busy(), None, &mut out);
                out.push(b'}');
            }
        }
        Ok(json_bytes(out))
    })
}

/// Free time of a schedule over `[from, to)` (at most 31 days), whole slots with `slots=true`.
#[utoipa::path(get, path = "/schedules/{id}/free", tag = "schedules",
    params(("id" = i64, Path, description = "Schedule id"),
        ("from" = String, Query, description = "ISO date-time with an offset, e.g. 2019-02-15T00:00:00+11:00"),
        ("to" = String, Query, description = "ISO date-time with an offset"),
        ("slots" = Option<bool>, Query, description = "Split into the schedule's slots")),
    responses((status = 200, body = [RangeShape]),
        (status = 400, description = "Missing 'from' parameter, ...", body = String, content_type = "text/plain"),
        (status = 404, description = "Schedule not found", body = String, content_type = "text/plain")))]
async fn get_schedule_free(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    schedule_time(req, state, Which::Free).await
}

/// Busy time of a schedule.
#[utoipa::path(get, path = "/schedules/{id}/busy", tag = "schedules",
    params(("id" = i64, Path, description = "Schedule id"),
        ("from" = String, Query, description = "ISO date-time with an offset"),
        ("to" = String, Query, description = "ISO date-time with an offset"),
        ("slots" = Option<bool>, Query, description = "Split into the schedule's slots")),
    responses((status = 200, body = [RangeShape]),
        (status = 400, body = String, content_type = "text/plain"),
        (status = 404, body = String, content_type = "text/plain")))]
async fn get_schedule_busy(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    schedule_time(req, state, Which::Busy).await
}

/// Free and busy time of a schedule.
#[utoipa::path(get, path = "/schedules/{id}/freebusy", tag = "schedules",
    params(("id" = i64, Path, description = "Schedule id"),
        ("from" = String, Query, description = "ISO date-time with an offset"),
        ("to" = String, Query, description = "ISO date-time with an offset"),
        ("slots" = Option<bool>, Query, description = "Split into the schedule's slots")),
    responses((status = 200, body = FreeBusyShape),
        (status = 400, body = String, content_type = "text/plain"),
        (status = 404, body = String, content_type = "text/plain")))]
async fn get_schedule_freebusy(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    schedule_time(req, state, Which::Both).await
}

// ---------------------------------------------------------------------------------------------
// Users (v2).

/// One clinician.
#[utoipa::path(get, path = "/users/{id}", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = User),
        (status = 404, description = "User not found", body = String, content_type = "text/plain")))]
async fn get_user(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer!(req, state, |who| {
        let id = path_id(&req, "id").map_err(fail)?;
        let found = online::user(&state, &who, id).await.map_err(fail)?;
        Ok(json(&User::from(found)))
    })
}

/// The locations a clinician works at.
#[utoipa::path(get, path = "/users/{id}/locations", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = [Location]),
        (status = 404, description = "User not found", body = String, content_type = "text/plain")))]
async fn get_user_locations(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer!(req, state, |who| {
        let id = path_id(&req, "id").map_err(fail)?;
        let list = online::user_locations(&state, &who, id)
            .await
            .map_err(fail)?;
        Ok(json(
            &list.into_iter().map(Location::from).collect::<Vec<_>>(),
        ))
    })
}

/// One location of a clinician.
#[utoipa::path(get, path = "/users/{id}/locations/{location}", tag = "users",
    params(("id" = i64, Path, description = "User id"), ("location" = i64, Path, description = "Location id")),
    responses((status = 200, body = Location),
        (status = 404, description = "User not found / Location not found", body = String, content_type = "text/plain")))]
async fn get_user_location(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer!(req, state, |who| {
        let id = path_id(&req, "id").map_err(fail)?;
        let location = path_id(&req, "location").map_err(fail)?;
        let found = online::user_location(&state, &who, id, location)
            .await
            .map_err(fail)?;
        Ok(json(&Location::from(found)))
    })
}

async fn user_time(req: HttpRequest, state: web::Data<AppState>, which: Which) -> HttpResponse {
    answer!(req, state, |who| {
        let id = path_id(&req, "id").map_err(fail)?;
        let location = path_id(&req, "location").map_err(fail)?;
        // The reference looks the user and the location up before it reads the dates.
        online::user_location(&state, &who, id, location)
            .await
            .map_err(fail)?;
        let (from, to) = Query::of(&req).range().map_err(fail)?;
        let found = online::user_time(&state, &who, id, location, from, to)
            .await
            .map_err(fail)?;
        let (tz, time, schedule) = (found.timezone, found.time, Some(found.schedule));
        let mut out = Vec::new();
        match which {
            Which::Free => times::ranges_json(tz, &time.free, schedule, &mut out),
            Which::Busy => times::ranges_json(tz, &time.busy, schedule, &mut out),
            Which::Both => {
                out.extend_from_slice(format!("{{\"user\":{},\"free\":", found.user).as_bytes());
                times::ranges_json(tz, &time.free, schedule, &mut out);
                out.extend_from_slice(b",\"busy\":");
                times::ranges_json(tz, &time.busy, schedule, &mut out);
                out.push(b'}');
            }
        }
        Ok(json_bytes(out))
    })
}

/// Free time of a clinician at a location, per schedule.
#[utoipa::path(get, path = "/users/{id}/locations/{location}/free", tag = "users",
    params(("id" = i64, Path), ("location" = i64, Path),
        ("from" = String, Query), ("to" = String, Query)),
    responses((status = 200, body = [ScheduleRangeShape]),
        (status = 400, body = String, content_type = "text/plain"),
        (status = 404, body = String, content_type = "text/plain")))]
async fn get_user_free(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    user_time(req, state, Which::Free).await
}

/// Busy time of a clinician at a location.
#[utoipa::path(get, path = "/users/{id}/locations/{location}/busy", tag = "users",
    params(("id" = i64, Path), ("location" = i64, Path),
        ("from" = String, Query), ("to" = String, Query)),
    responses((status = 200, body = [ScheduleRangeShape]),
        (status = 400, body = String, content_type = "text/plain"),
        (status = 404, body = String, content_type = "text/plain")))]
async fn get_user_busy(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    user_time(req, state, Which::Busy).await
}

/// Free and busy time of a clinician at a location.
#[utoipa::path(get, path = "/users/{id}/locations/{location}/freebusy", tag = "users",
    params(("id" = i64, Path), ("location" = i64, Path),
        ("from" = String, Query), ("to" = String, Query)),
    responses((status = 200, body = UserFreeBusyShape),
        (status = 400, body = String, content_type = "text/plain"),
        (status = 404, body = String, content_type = "text/plain")))]
async fn get_user_freebusy(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    user_time(req, state, Which::Both).await
}

// ---------------------------------------------------------------------------------------------
// Bookings.

/// Reads a body of at most [`MAX_BOOKING_BODY`] bytes; a larger one is refused unread.
async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> Result<Vec<u8>, HttpResponse> {
    let too_large = || {
        text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The booking is larger than {MAX_BOOKING_BODY} bytes"),
        )
    };
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BOOKING_BODY as u64) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(announced.unwrap_or(0) as usize);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            text(
                StatusCode::BAD_REQUEST,
                format!("The booking could not be read: {e}"),
            )
        })?;
        if body.len() + chunk.len() > MAX_BOOKING_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Makes a booking; answers its reference. With an `Idempotency-Key`, a retry by the same
/// client answers the first booking's reference.
#[utoipa::path(post, path = "/bookings", tag = "bookings",
    request_body(content = NewBooking, content_type = "application/json"),
    params(("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key answers the first booking")),
    responses((status = 201, description = "The booking reference; Location: its URL", body = String, content_type = "text/plain"),
        (status = 400, description = "Cannot make a booking in the past, Booking start is not on a slot boundary, ...", body = String, content_type = "text/plain"),
        (status = 413, description = "Body over 16 KiB", body = String, content_type = "text/plain"),
        (status = 415, description = "The body is not declared application/json", body = String, content_type = "text/plain")))]
async fn post_booking(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    answer!(req, state, |who| {
        if !is_json(&req) {
            return Err(text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "HTTP 415 Unsupported Media Type",
            ));
        }
        let body = read_body(&req, payload).await?;
        let form = wire::parse_booking(&body, version(&req) == Version::V2)
            .map_err(|m| text(StatusCode::BAD_REQUEST, m))?;
        let key = match req.headers().get("Idempotency-Key") {
            None => None,
            Some(value) => Some(value.to_str().map(str::to_string).map_err(|_| {
                text(
                    StatusCode::BAD_REQUEST,
                    "The Idempotency-Key header must be visible ASCII",
                )
            })?),
        };
        let reference = online::book(&state, &who, form, key).await.map_err(fail)?;
        let info = req.connection_info();
        let path = req.path().trim_end_matches('/');
        let location = format!("{}://{}{path}/{reference}", info.scheme(), info.host());
        Ok(HttpResponse::Created()
            .insert_header((header::LOCATION, location))
            .content_type(TEXT)
            .body(reference))
    })
}

/// A booking by its reference.
#[utoipa::path(get, path = "/bookings/{reference}", tag = "bookings",
    params(("reference" = String, Path, description = "As answered by POST bookings")),
    responses((status = 200, body = Booking),
        (status = 400, description = "Invalid booking reference", body = String, content_type = "text/plain"),
        (status = 404, description = "Booking not found", body = String, content_type = "text/plain")))]
async fn get_booking(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer!(req, state, |who| {
        let reference = req.match_info().get("reference").unwrap_or_default();
        let found = online::get_booking(&state, &who, reference)
            .await
            .map_err(fail)?;
        Ok(json(&Booking::from_view(
            found,
            version(&req) == Version::V2,
        )))
    })
}

/// Cancels a pending booking.
#[utoipa::path(delete, path = "/bookings/{reference}", tag = "bookings",
    params(("reference" = String, Path)),
    responses((status = 204, description = "Cancelled"),
        (status = 400, description = "The booking must be pending to cancel / Invalid booking reference", body = String, content_type = "text/plain"),
        (status = 404, description = "Booking not found", body = String, content_type = "text/plain")))]
async fn delete_booking(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer!(req, state, |who| {
        let reference = req.match_info().get("reference").unwrap_or_default();
        online::cancel_booking(&state, &who, reference)
            .await
            .map_err(fail)?;
        Ok(HttpResponse::NoContent().finish())
    })
}

// ---------------------------------------------------------------------------------------------
// The OpenAPI document.

struct BasicAuth;

impl utoipa::Modify for BasicAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rendez: OpenVPMS online booking API",
        version = "2",
        description = "The OpenVPMS booking API v2 as Rendez serves it. A location is a center, a schedule a resource at a center, an appointment type an activity, a user a clinician resource. Errors are text/plain. v1 (/ws/booking/v1) is the same without users and without the booking's `user`."
    ),
    servers((url = "/ws/booking/v2"), (url = "/openvpms/ws/booking/v2")),
    security(("basic" = [])),
    modifiers(&BasicAuth),
    paths(
        get_locations, get_location, get_location_schedules, get_location_users,
        get_schedule, get_appointment_types, get_schedule_free, get_schedule_busy,
        get_schedule_freebusy, get_user, get_user_locations, get_user_location, get_user_free,
        get_user_busy, get_user_freebusy, post_booking, get_booking, delete_booking
    ),
    components(schemas(
        Location, Schedule, AppointmentType, User, RangeShape, ScheduleRangeShape, FreeBusyShape,
        UserFreeBusyShape, Booking, NewBooking
    ))
)]
struct ApiDoc;

/// The OpenAPI 3.1 document of the API, generated from the handlers and wire types above.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn openapi_json() -> HttpResponse {
    match openapi().to_json() {
        Ok(body) => json_text(body),
        Err(e) => failure(&Error::Internal(format!("OpenAPI: {e}"))),
    }
}
