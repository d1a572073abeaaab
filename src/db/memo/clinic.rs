//! Telling the clinic system that a patient cancelled: a call to its own CancelAppointment web
//! service (seed A.4.2), queued in the outbox in the cancel's transaction so that it is made, with
//! the outbox's retries, exactly when the cancel commits.

use chrono::Utc;
use diesel::QueryResult;

use super::MEMO_OWNER;
use super::facts::AppointmentFacts;
use crate::db::DbConnection;
use crate::db::outbox::{self, NewMessage};
use crate::domain::memo::config::MemoConfig;
use crate::domain::messages::Channel;
use crate::seed::clinic_cancel::cancel_request;

/// Queues the call when `RENDEZ_CLINIC_CANCEL_URL` is set; once per appointment.
pub fn enqueue_cancel(
    conn: &mut DbConnection,
    config: &MemoConfig,
    facts: &AppointmentFacts,
) -> QueryResult<()> {
    let Some(url) = &config.clinic_cancel_url else {
        return Ok(());
    };
    let body = cancel_request(&facts.lid, facts.patient_lid.as_deref());
    outbox::enqueue(
        conn,
        &NewMessage {
            owner: MEMO_OWNER,
            legacy_id: &format!("clinic-cancel:{}", facts.id),
            channel: Channel::ClinicCancel,
            to: url,
            from: None,
            subject: None,
            body: &body,
            send_at: None,
            expires_at: None,
        },
        Utc::now(),
    )
    .map(|_| ())
}
