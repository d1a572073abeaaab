//! Booking operations (role `booking`): searchAvailabilities, addAppointment,
//! deleteAppointment, checkAppointment, getAppointments.

use super::flat::{FlatWriter, parse_flat};
use super::wire::{
    AddAppointment, AppointmentItem, CheckAppointment, CheckAppointmentResponse, DeleteAppointment,
    DeleteAppointmentResponse, GetAppointments, GetAppointmentsResponse, SearchAvailabilities,
};
use super::{Operation, render_children};
use crate::app::booking::{
    self, AppointmentFilter, AppointmentView, BookingOutcome, CancelOutcome,
};
use crate::auth::AuthenticatedClient;
use crate::domain::FieldSource;
use crate::domain::booking::{BookingRequest, CancelledBy, SearchRequest};
use crate::domain::values::{
    FieldError, date, format_date, format_price, format_time_of_day, format_timestamp, lid,
    required_lid, timestamp,
};
use crate::error::Error;
use crate::state::AppState;

/// A field of a single-item operation that cannot be read is the caller's fault.
fn client_fault(operation: Operation) -> impl Fn(FieldError) -> Error {
    move |e| Error::client(format!("{operation}: {e}"))
}

pub async fn search_availabilities(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: &str,
) -> Result<String, Error> {
    let operation = Operation::SearchAvailabilities;
    let raw: SearchAvailabilities = parse_flat(operation, payload)?;
    let request = SearchRequest::parse(&raw).map_err(client_fault(operation))?;
    let found = booking::search(state, client, request).await?;
    // Written directly: the hot operation's answer is many small items.
    let mut out = FlatWriter::with_capacity(64 + found.len() * 400);
    for slot in &found {
        out.open("AVAILABILITY");
        out.text("RESOURCE_LID", &slot.resource_lid);
        out.text("ACTIVITY_LID", &slot.activity_lid);
        out.optional("INSURANCE_LID", slot.insurance_lid.as_deref());
        out.text("LOCATION_LID", &slot.center_lid);
        out.text("AVA_DATE", &format_date(slot.date));
        out.text("AVA_START_TIME", &format_time_of_day(slot.start_minute));
        out.text("AVA_END_TIME", &format_time_of_day(slot.end_minute));
        out.text("AVAILABILITY_LID", &slot.availability_lid);
        out.optional(
            "ACTIVITY_PRICE",
            slot.price_cents.map(format_price).as_deref(),
        );
        out.close("AVAILABILITY");
    }
    Ok(out.finish())
}

pub async fn add_appointment(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: &str,
) -> Result<String, Error> {
    let operation = Operation::AddAppointment;
    let raw: AddAppointment = parse_flat(operation, payload)?;
    let request = BookingRequest::parse(&raw, state.config.default_country.as_deref())
        .map_err(client_fault(operation))?;
    let outcome = booking::book(state, client, request).await?;
    let mut out = FlatWriter::with_capacity(256);
    match outcome {
        BookingOutcome::Booked {
            app_lid,
            user_lid,
            user_tid,
            contacts_kept,
        } => {
            log::info!("booked appointment {app_lid} for client {}", client.name);
            out.text("ADD_RESULT", "OK");
            out.text("APP_LID", &app_lid);
            out.optional("USER_LID", user_lid.as_deref());
            out.text("USER_TID", &user_tid);
            // Only when it happened, so that every other answer stays as it was.
            if contacts_kept {
                log::warn!(
                    "client {} booked {app_lid} for a patient it may not change: their stored contact data were kept",
                    client.name
                );
                out.text("CONTACTS_KEPT", "true");
            }
        }
        BookingOutcome::Refused { message, .. } => {
            out.text("ADD_RESULT", "ERROR");
            out.text("ERROR_MESSAGE", &message);
        }
    }
    Ok(out.finish())
}

pub async fn delete_appointment(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: &str,
) -> Result<String, Error> {
    let operation = Operation::DeleteAppointment;
    let raw: DeleteAppointment = parse_flat(operation, payload)?;
    let app_lid = required_lid(&raw, "APP_LID").map_err(client_fault(operation))?;
    let by = CancelledBy::parse(&raw).map_err(client_fault(operation))?;
    let outcome = booking::cancel(state, client, app_lid.as_str(), by).await?;
    let (result, message) = match outcome {
        CancelOutcome::Cancelled | CancelOutcome::AlreadyCancelled => ("OK", None),
        // Another center's appointment is answered as an unknown one, as checkAppointment and
        // getAppointments do: a refusal must not tell that it exists.
        CancelOutcome::Unknown | CancelOutcome::OutOfScope(_) => {
            ("ERROR", Some(format!("unknown APP_LID '{app_lid}'")))
        }
    };
    render_children(&DeleteAppointmentResponse {
        delete_result: result.into(),
        error_message: message,
        app_lid: app_lid.to_string(),
    })
}

pub async fn check_appointment(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: &str,
) -> Result<String, Error> {
    let operation = Operation::CheckAppointment;
    let raw: CheckAppointment = parse_flat(operation, payload)?;
    let app_lid = required_lid(&raw, "APP_LID").map_err(client_fault(operation))?;
    let view = booking::check(state, client, app_lid.as_str())
        .await?
        .ok_or_else(|| Error::client(format!("checkAppointment: unknown APP_LID '{app_lid}'")))?;
    render_children(&appointment_core(&view))
}

pub async fn get_appointments(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: &str,
) -> Result<String, Error> {
    let operation = Operation::GetAppointments;
    let raw: GetAppointments = parse_flat(operation, payload)?;
    let fault = client_fault(operation);
    let since = timestamp(&raw, "LAST_REQUEST_TIMESTAMP").map_err(&fault)?;
    let user_tid = raw.field("USER_TID").map(str::to_ascii_lowercase);
    let filter = AppointmentFilter {
        user_lid: lid(&raw, "USER_LID")
            .map_err(&fault)?
            .map(|l| l.to_string()),
        user_tid,
        resource_lid: lid(&raw, "RESOURCE_LID")
            .map_err(&fault)?
            .map(|l| l.to_string()),
        start_date: date(&raw, "START_DATE").map_err(&fault)?,
        end_date: date(&raw, "END_DATE").map_err(&fault)?,
        changed_after: None,
        changed_until: None,
    };
    if filter.user_lid.is_none()
        && filter.user_tid.is_none()
        && filter.resource_lid.is_none()
        && since.is_none()
    {
        return Err(Error::client(
            "getAppointments: give USER_LID, USER_TID, RESOURCE_LID or LAST_REQUEST_TIMESTAMP",
        ));
    }
    let listed = booking::changes(state, client, filter, since).await?;
    render_children(&GetAppointmentsResponse {
        appointments: listed.views.into_iter().map(appointment_item).collect(),
        last_request_timestamp: listed.complete_until.map(format_timestamp),
    })
}

/// The fields checkAppointment answers, on the center's clock.
fn appointment_core(view: &AppointmentView) -> CheckAppointmentResponse {
    CheckAppointmentResponse {
        app_lid: view.lid.clone(),
        status: view.status.clone(),
        app_date: format_date(view.date),
        app_start_time: format_time_of_day(view.start_minute),
        app_end_time: format_time_of_day(view.end_minute),
        user_lid: view.user_lid.clone(),
        user_tid: view.user_tid.clone(),
        resource_lid: view.resource_lid.clone(),
        activity_lid: view.activity_lid.clone(),
        insurance_lid: view.insurance_lid.clone(),
    }
}

fn appointment_item(view: AppointmentView) -> AppointmentItem {
    AppointmentItem {
        core: appointment_core(&view),
        user_mobile_phone: view.user_mobile_phone,
        user_email: view.user_email,
        activity_name: view.activity_name,
        activity_group_lid: view.activity_group_lid,
        activity_group_name: view.activity_group_name,
        resource_first_name: view.resource_first_name,
        resource_second_name: view.resource_second_name,
        location_lid: view.center_lid,
        last_change: format_timestamp(view.last_change),
    }
}
