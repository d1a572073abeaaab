//! `/admin/v1/rosters`: shifts (listed, read, added, changed, removed), the conflicts they
//! leave, and each resource's availability source; through `app::rosters`, which checks the
//! role and the caller's view scope (reads) and edit scope (changes).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::error::{AdminError, Answer, ErrorBody, json_response, ok};
use super::request::{caller, json_body, path_param, resource};
use crate::app::rosters::{self, ChangeOutcome, ShiftQuery, ShiftRequest, ShiftView};
use crate::domain::roster::{AvailabilitySource, Place, When, parse_date};
use crate::error::Error;
use crate::state::AppState;

/// The largest body a roster route reads.
pub const MAX_BODY: usize = 16 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/rosters/shifts")
            .route(web::get().to(list))
            .route(web::post().to(add)),
    )
    .service(
        resource("/rosters/shifts/{shift}")
            .route(web::get().to(read))
            .route(web::put().to(change))
            .route(web::delete().to(remove)),
    )
    .service(resource("/rosters/conflicts").route(web::get().to(conflicts)))
    .service(resource("/rosters/conflicts/{conflict}/resolve").route(web::post().to(resolve)))
    .service(
        resource("/rosters/sources/{resource}")
            .route(web::get().to(source))
            .route(web::put().to(set_source)),
    );
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list, add, read, change, remove, conflicts, resolve, source, set_source
    ),
    components(schemas(
        ShiftOut,
        BreakOut,
        ShiftList,
        ShiftIn,
        BreakIn,
        Removed,
        ConflictOut,
        ConflictList,
        SourceOut,
        SourceIn
    ))
)]
struct Doc;

#[derive(Serialize, ToSchema)]
pub struct BreakOut {
    /// On the center's clock, `2027-03-01T12:30`.
    pub start: String,
    pub end: String,
}

#[derive(Serialize, ToSchema)]
pub struct ShiftOut {
    pub id: String,
    pub resource: String,
    pub center: String,
    pub area: Option<String>,
    /// The center's IANA time zone, whose clock `start` and `end` are read on.
    pub timezone: String,
    pub start: String,
    pub end: String,
    /// The same instants in UTC (RFC 3339).
    pub start_at: String,
    pub end_at: String,
    pub breaks: Vec<BreakOut>,
    /// rendez or deputy
    pub origin: String,
    pub deputy_roster_id: Option<i64>,
    /// Moves with every change; send it back to change or remove only what you read.
    pub version: i64,
    pub removed_at: Option<String>,
}

impl From<ShiftView> for ShiftOut {
    fn from(v: ShiftView) -> Self {
        let rfc =
            |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        ShiftOut {
            id: v.id,
            resource: v.resource,
            center: v.center,
            area: v.area,
            timezone: v.timezone,
            start: v.start,
            end: v.end,
            start_at: rfc(v.start_at),
            end_at: rfc(v.end_at),
            breaks: v
                .breaks
                .into_iter()
                .map(|b| BreakOut {
                    start: b.start,
                    end: b.end,
                })
                .collect(),
            origin: v.origin.as_str().to_string(),
            deputy_roster_id: v.deputy_roster_id,
            version: v.version,
            removed_at: v.removed_at.map(rfc),
        }
    }
}

fn shift_out(shift: &crate::domain::roster::Shift) -> ShiftOut {
    ShiftOut::from(ShiftView::of(shift))
}

#[derive(Serialize, ToSchema)]
pub struct ShiftList {
    pub shifts: Vec<ShiftOut>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakIn {
    pub start: String,
    pub end: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftIn {
    /// The resource's LID.
    pub resource: String,
    /// The center's LID.
    pub center: String,
    /// An area of the center.
    #[serde(default)]
    pub area: Option<String>,
    /// On the center's clock (`2027-03-01T09:00`), or an instant with its offset.
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub breaks: Vec<BreakIn>,
    /// For a change: the version read (a change of another version answers 409).
    #[serde(default)]
    pub version: Option<i64>,
}

impl ShiftIn {
    fn request(&self) -> Result<ShiftRequest, Error> {
        let place: Place = match &self.area {
            Some(area) => format!("{}/{area}", self.center),
            None => self.center.clone(),
        }
        .parse()?;
        let breaks = self
            .breaks
            .iter()
            .enumerate()
            .map(|(i, b)| {
                Ok((
                    When::parse(&b.start, &format!("breaks[{i}].start"))?,
                    When::parse(&b.end, &format!("breaks[{i}].end"))?,
                ))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(ShiftRequest {
            resource_lid: self.resource.clone(),
            place,
            start: When::parse(&self.start, "start")?,
            end: When::parse(&self.end, "end")?,
            breaks,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct Removed {
    pub shift: ShiftOut,
    /// The ids of the appointments left in time the shift no longer covers (each now an open
    /// conflict; they stay booked).
    pub conflicts: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConflictOut {
    pub id: String,
    pub shift: String,
    pub appointment: String,
    pub appointment_start: String,
    pub appointment_end: String,
    pub resource: String,
    pub center: String,
    /// removed or shortened
    pub cause: String,
    pub since: String,
    pub resolved_at: Option<String>,
    pub resolved_by: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConflictList {
    pub conflicts: Vec<ConflictOut>,
}

#[derive(Serialize, ToSchema)]
pub struct SourceOut {
    pub resource: String,
    /// rules, roster or both: what the clinic said (null: the default).
    pub said: Option<String>,
    /// What applies.
    pub effective: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceIn {
    /// rules, roster, both, or default.
    pub source: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ShiftParams {
    /// Only this resource's (LID).
    resource: Option<String>,
    /// Only at this center (LID).
    center: Option<String>,
    /// Shifts starting on or after this day (YYYY-MM-DD, on the center's clock).
    from: Option<String>,
    /// Shifts starting on or before this day.
    to: Option<String>,
    /// Removed shifts too.
    removed: Option<bool>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConflictParams {
    /// Resolved ones too.
    all: Option<bool>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VersionParams {
    /// The version read: another answers 409.
    version: Option<i64>,
}

fn query<T: serde::de::DeserializeOwned>(req: &HttpRequest) -> Result<T, Error> {
    web::Query::<T>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| Error::client(format!("the query: {e}")))
}

fn stale(current: i64) -> AdminError {
    AdminError::new(
        StatusCode::CONFLICT,
        "conflict",
        format!("the shift changed meanwhile: it is now at version {current}"),
    )
}

/// The shifts in the caller's view, by start.
#[utoipa::path(get, operation_id = "listShifts", path = "/rosters/shifts", tag = "rosters",
    params(ShiftParams),
    responses((status = 200, body = ShiftList),
        (status = 400, description = "A bad date or parameter (named)", body = ErrorBody),
        (status = 403, description = "A center outside the caller's view", body = ErrorBody)))]
async fn list(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let params: ShiftParams = query(&req)?;
    let shifts = rosters::list(
        &state,
        &who,
        ShiftQuery {
            resource_lid: params.resource,
            center_lid: params.center,
            from: params.from.map(|d| parse_date(&d, "from")).transpose()?,
            to: params.to.map(|d| parse_date(&d, "to")).transpose()?,
            include_removed: params.removed.unwrap_or(false),
        },
    )
    .await?;
    ok(&ShiftList {
        shifts: shifts.iter().map(shift_out).collect(),
    })
}

/// Adds a shift; its breaks are closed to bookings.
#[utoipa::path(post, operation_id = "addShift", path = "/rosters/shifts", tag = "rosters",
    request_body(content = ShiftIn, content_type = "application/json"),
    responses((status = 201, body = ShiftOut),
        (status = 400, description = "Bad times (named: end before start, a break outside the shift or overlapping another, a time the clocks skip), an unknown resource or center", body = ErrorBody),
        (status = 403, description = "The center is outside the caller's edit scope", body = ErrorBody)))]
async fn add(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let body: ShiftIn = json_body(&req, payload, MAX_BODY).await?;
    let shift = rosters::add(&state, &who, body.request()?).await?;
    Ok(json_response(StatusCode::CREATED, &shift_out(&shift)))
}

/// One shift (removed ones too).
#[utoipa::path(get, operation_id = "readShift", path = "/rosters/shifts/{shift}", tag = "rosters",
    params(("shift" = String, Path)),
    responses((status = 200, body = ShiftOut),
        (status = 404, description = "No such shift in the caller's view", body = ErrorBody)))]
async fn read(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let shift = rosters::get(&state, &who, &path_param(&req, "shift")).await?;
    ok(&shift_out(&shift))
}

/// Changes a shift's area, times and breaks (its resource and center stay). Appointments in
/// time it loses stay, as conflicts.
#[utoipa::path(put, operation_id = "changeShift", path = "/rosters/shifts/{shift}", tag = "rosters",
    params(("shift" = String, Path)),
    request_body(content = ShiftIn, content_type = "application/json"),
    responses((status = 200, body = Removed),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The shift is at another version", body = ErrorBody)))]
async fn change(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let body: ShiftIn = json_body(&req, payload, MAX_BODY).await?;
    let id = path_param(&req, "shift");
    match rosters::change(&state, &who, &id, body.request()?, body.version).await? {
        ChangeOutcome::Stale { current } => Err(stale(current)),
        ChangeOutcome::Done(changed) => ok(&Removed {
            shift: shift_out(&changed.shift),
            conflicts: changed.conflicts,
        }),
    }
}

/// Removes a shift (it stays listed with `removed=true`). Appointments in it stay, as
/// conflicts.
#[utoipa::path(delete, operation_id = "removeShift", path = "/rosters/shifts/{shift}", tag = "rosters",
    params(("shift" = String, Path), VersionParams),
    responses((status = 200, body = Removed),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The shift is at another version", body = ErrorBody)))]
async fn remove(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let params: VersionParams = query(&req)?;
    let id = path_param(&req, "shift");
    match rosters::remove(&state, &who, &id, params.version).await? {
        ChangeOutcome::Stale { current } => Err(stale(current)),
        ChangeOutcome::Done(changed) => ok(&Removed {
            shift: shift_out(&changed.shift),
            conflicts: changed.conflicts,
        }),
    }
}

/// Appointments left outside a removed or shortened shift, in the caller's view.
#[utoipa::path(get, operation_id = "listRosterConflicts", path = "/rosters/conflicts", tag = "rosters",
    params(ConflictParams),
    responses((status = 200, body = ConflictList)))]
async fn conflicts(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let params: ConflictParams = query(&req)?;
    let found = rosters::conflicts(&state, &who, !params.all.unwrap_or(false)).await?;
    let rfc =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    ok(&ConflictList {
        conflicts: found
            .into_iter()
            .map(|c| ConflictOut {
                id: c.id,
                shift: c.shift_id,
                appointment: c.appointment_id,
                appointment_start: rfc(c.appointment_start),
                appointment_end: rfc(c.appointment_end),
                resource: c.resource_lid,
                center: c.center_lid,
                cause: c.cause.as_str().to_string(),
                since: rfc(c.detected_at),
                resolved_at: c.resolved_at.map(rfc),
                resolved_by: c.resolved_by,
            })
            .collect(),
    })
}

/// Marks a conflict resolved.
#[utoipa::path(post, operation_id = "resolveRosterConflict", path = "/rosters/conflicts/{conflict}/resolve", tag = "rosters",
    params(("conflict" = String, Path)),
    responses((status = 204, description = "Resolved"),
        (status = 400, description = "Already resolved", body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn resolve(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    rosters::resolve_conflict(&state, &who, &path_param(&req, "conflict")).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn source_out(resource: String, view: rosters::SourceView) -> SourceOut {
    SourceOut {
        resource,
        said: view.said.map(|s| s.as_str().to_string()),
        effective: view.effective.as_str().to_string(),
    }
}

/// Where a resource's availability comes from.
#[utoipa::path(get, operation_id = "readAvailabilitySource", path = "/rosters/sources/{resource}", tag = "rosters",
    params(("resource" = String, Path)),
    responses((status = 200, body = SourceOut), (status = 404, body = ErrorBody)))]
async fn source(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let lid = path_param(&req, "resource");
    let view = rosters::source(&state, &who, &lid).await?;
    ok(&source_out(lid, view))
}

/// Sets where a resource's availability comes from: rules, roster, both, or default.
#[utoipa::path(put, operation_id = "setAvailabilitySource", path = "/rosters/sources/{resource}", tag = "rosters",
    params(("resource" = String, Path)),
    request_body(content = SourceIn, content_type = "application/json"),
    responses((status = 200, body = SourceOut),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn set_source(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Answer {
    let who = caller(&req, &state).await?;
    let body: SourceIn = json_body(&req, payload, MAX_BODY).await?;
    let said = if body.source.trim().eq_ignore_ascii_case("default") {
        None
    } else {
        Some(
            body.source
                .parse::<AvailabilitySource>()
                .map_err(|e| Error::client(format!("source: {e}")))?,
        )
    };
    let lid = path_param(&req, "resource");
    let view = rosters::set_source(&state, &who, &lid, said).await?;
    ok(&source_out(lid, view))
}
