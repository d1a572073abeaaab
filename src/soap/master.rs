//! Master-data operations (role `admin`): updateKeyEntities, updateAvailabilities, getCenters,
//! updateLocations.

use super::flat::parse_flat;
use super::wire::{
    CenterItem, GetCentersResponse, GetKeyEntities, GetKeyEntitiesResponse, KeyEntityRow,
    LocationItem, RowErrorItem, SyncResponse, UpdateAvailabilities, UpdateKeyEntities,
    UpdateLocations,
};
use super::{Operation, parse_payload, render_children};
use crate::app;
use crate::app::master::{AvailabilitySync, KeyEntitySync, Offering};
use crate::auth::AuthenticatedClient;
use crate::domain::FieldSource;
use crate::domain::locations::Location;
use crate::domain::master::{self, AvailabilityRule, KeyEntity, SyncOutcome};
use crate::domain::values::{FieldError, Lid, format_price};
use crate::error::Error;
use crate::state::AppState;

pub async fn update_key_entities(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: &str,
) -> Result<String, Error> {
    let request: UpdateKeyEntities = parse_payload(Operation::UpdateKeyEntities, payload)?;
    let full_sync = parse_full_sync(request.full_sync.as_deref())?;
    app::master::require_full_sync_scope(client, full_sync)?;
    // Items as sent, so that one that does not parse is judged too. (FULL_SYNC without any
    // row is refused by the use case.)
    for (index, row) in request.rows.iter().enumerate() {
        app::master::require_item_center(client, index + 1, row.field("LOCATION_LID"))?;
    }
    let (rows, refused) = master::parse_rows(numbered(&request.rows), |row| KeyEntity::parse(*row));
    let outcome = app::master::sync_key_entities(
        state,
        client,
        KeyEntitySync {
            rows,
            refused,
            full_sync,
        },
    )
    .await?;
    render_children(&sync_response(outcome))
}

pub async fn update_availabilities(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: &str,
) -> Result<String, Error> {
    let request: UpdateAvailabilities = parse_payload(Operation::UpdateAvailabilities, payload)?;
    let full_sync = parse_full_sync(request.full_sync.as_deref())?;
    app::master::require_full_sync_scope(client, full_sync)?;
    for (index, rule) in request.rules.iter().enumerate() {
        app::master::require_item_center(client, index + 1, rule.field("LOCATION_LID"))?;
    }
    let (rules, refused) = master::parse_rows(numbered(&request.rules), |item| {
        AvailabilityRule::parse(*item, &item.activity_lids)
    });
    let outcome = app::master::sync_availabilities(
        state,
        client,
        AvailabilitySync {
            rules,
            refused,
            full_sync,
        },
    )
    .await?;
    render_children(&sync_response(outcome))
}

/// The hierarchy above (and around) the centers: each `LOCATION` placed under its
/// `LOCATION_PARENT_LID` (a top one without), judged on its own (see
/// [`app::locations::push`]); a center keeps its LID.
pub async fn update_locations(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: &str,
) -> Result<String, Error> {
    let request: UpdateLocations = parse_payload(Operation::UpdateLocations, payload)?;
    if request.items.is_empty() {
        return Err(Error::client("updateLocations: send at least one LOCATION"));
    }
    let (items, refused) = master::parse_rows(numbered(&request.items), |item| location(item));
    let outcome = app::admin::push_locations(state, client, items, refused).await?;
    render_children(&sync_response(outcome))
}

/// An item as the hierarchy takes it; the error names the field.
fn location(item: &LocationItem) -> Result<Location, FieldError> {
    let lid = |field: &'static str| -> Result<Option<String>, FieldError> {
        item.field(field)
            .map(|raw| {
                Lid::parse(raw)
                    .map(|l| l.as_str().to_string())
                    .map_err(|e| FieldError::new(field, format!("{field} {e}")))
            })
            .transpose()
    };
    let text = |field: &'static str| -> Result<String, FieldError> {
        let value = item
            .field(field)
            .ok_or_else(|| FieldError::missing(field))?;
        if value.chars().count() > 200 || value.chars().any(char::is_control) {
            return Err(FieldError::new(
                field,
                format!("{field} is 1 to 200 characters, no control characters"),
            ));
        }
        Ok(value.to_string())
    };
    Ok(Location {
        lid: lid("LOCATION_LID")?.ok_or_else(|| FieldError::missing("LOCATION_LID"))?,
        name: text("LOCATION_NAME")?,
        parent: lid("LOCATION_PARENT_LID")?,
        level: text("LOCATION_LEVEL")?,
    })
}

pub async fn get_centers(
    state: &AppState,
    client: &AuthenticatedClient,
    _payload: &str,
) -> Result<String, Error> {
    let centers = app::master::centers(state, client).await?;
    let response = GetCentersResponse {
        centers: centers
            .into_iter()
            .map(|c| CenterItem {
                center_lid: c.lid,
                center_name: c.name,
                description: c.description,
                address: c.address,
                phone: c.phone,
                website_url: c.website_url,
                timezone: c.timezone,
            })
            .collect(),
    };
    render_children(&response)
}

/// What the client may book, per center: `ROW`s in updateKeyEntities' shape. A center outside
/// the client's scope, or unknown, lists nothing.
pub async fn get_key_entities(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: &str,
) -> Result<String, Error> {
    let request: GetKeyEntities = parse_flat(Operation::GetKeyEntities, payload)?;
    let only = request.field("LOCATION_LID").map(str::to_string);
    let (offerings, acceptances) = app::master::bookables(state, client, only).await?;
    let mut rows: Vec<KeyEntityRow> = offerings.into_iter().map(offering_row).collect();
    let centers: std::collections::BTreeSet<String> =
        rows.iter().filter_map(|r| r.location_lid.clone()).collect();
    let mut priced = std::collections::BTreeSet::new();
    for acceptance in acceptances {
        // An insurance limited to doctors is listed where they work; one for every doctor once.
        if let Some((_, center)) = &acceptance.resource
            && !centers.contains(center)
        {
            continue;
        }
        if priced.insert(acceptance.insurance_lid.clone()) {
            for (activity, price) in &acceptance.prices {
                rows.push(KeyEntityRow {
                    insurance_lid: Some(acceptance.insurance_lid.clone()),
                    insurance_name: Some(acceptance.insurance_name.clone()),
                    activity_lid: Some(activity.clone()),
                    activity_price: price.map(format_price),
                    ..KeyEntityRow::default()
                });
            }
        }
        let (resource_lid, location_lid) = match acceptance.resource {
            Some((resource, center)) => (Some(resource), Some(center)),
            None => (None, None),
        };
        rows.push(KeyEntityRow {
            insurance_lid: Some(acceptance.insurance_lid),
            insurance_name: Some(acceptance.insurance_name),
            resource_lid,
            location_lid,
            ..KeyEntityRow::default()
        });
    }
    render_children(&GetKeyEntitiesResponse { rows })
}

fn offering_row(o: Offering) -> KeyEntityRow {
    let (group_lid, group_name) = o.group.unzip();
    KeyEntityRow {
        activity_group_lid: group_lid,
        activity_group_name: group_name,
        activity_lid: Some(o.activity_lid),
        activity_name: Some(o.activity_name),
        activity_price: o.price_cents.map(format_price),
        activity_duration: Some(o.duration_minutes.to_string()),
        location_lid: Some(o.center_lid),
        location_name: Some(o.center_name),
        resource_lid: Some(o.resource_lid),
        resource_first_name: Some(o.resource_first_name),
        resource_second_name: o.resource_second_name,
        location_timezone: Some(o.timezone),
        web_enabled: Some("1".into()),
        availabilities_step: o.step_minutes.map(|s| s.to_string()),
        ..KeyEntityRow::default()
    }
}

/// SOAP items are numbered from 1 in the order sent.
fn numbered<T>(items: &[T]) -> impl Iterator<Item = (usize, &T)> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| (index + 1, item))
}

fn parse_full_sync(raw: Option<&str>) -> Result<bool, Error> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(false),
        Some(v) => Err(Error::client(format!(
            "FULL_SYNC '{v}' must be true or false"
        ))),
    }
}

fn sync_response(outcome: SyncOutcome) -> SyncResponse {
    SyncResponse {
        result: if outcome.is_ok() { "OK" } else { "ERROR" }.to_string(),
        created: outcome.created,
        updated: outcome.updated,
        deactivated: outcome.deactivated,
        row_errors: outcome
            .errors
            .into_iter()
            .map(|e| RowErrorItem {
                row_number: e.row as u32,
                field: Some(e.field.to_string()),
                error_message: Some(format!("row {}: {}", e.row, e.message)),
            })
            .collect(),
    }
}
