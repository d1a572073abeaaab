//! "Your results are ready": queued in the outbox inside the transaction that makes a test result
//! available, to the patient's contact chosen as for appointment notices
//! (`COMMUNICATION_PREFERENCES`, mobile else email, STOP respected), in their language. The
//! message names the download page only: never the code, never the content.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::replies;
use crate::db::DbConnection;
use crate::db::outbox::{self, NewMessage};
use crate::db::schema::{centers, patients};
use crate::domain::memo::config::MemoConfig;
use crate::domain::memo::contact::language_preference;
use crate::domain::memo::{Placeholder, Reachability, Route, TemplateKind, TemplateValues, route};
use crate::domain::messages::Channel;

/// The outbox owner of result notices.
pub const RESULTS_OWNER: &str = "rendez:results";

/// The patient's page for results, after the public address.
pub const RESULTS_PAGE_PATH: &str = "/results";

/// What telling patients about results needs besides the database.
pub struct ResultsNotifier<'a> {
    pub config: &'a MemoConfig,
    /// `RENDEZ_PUBLIC_URL`; the message links to it + [`RESULTS_PAGE_PATH`].
    pub public_url: &'a str,
    /// A notice unsent after this long is not worth sending: the content is gone by then.
    pub valid_for: Duration,
}

/// The result that became available.
pub struct AvailableResult<'a> {
    pub id: &'a str,
    pub patient_id: &'a str,
    pub center_lid: Option<&'a str>,
    /// When it became available: with the id, it names this availability, so that a repeat of
    /// the same push queues nothing new and a re-issue after a cancellation does.
    pub available_at: NaiveDateTime,
}

/// What became of the notice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResultsNotice {
    Queued {
        channel: Channel,
        message_id: String,
    },
    /// No channel to the patient (the reason, without patient data).
    Nowhere(String),
}

type PatientContact = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Queues the notice in the caller's transaction.
pub fn queue(
    conn: &mut DbConnection,
    notifier: &ResultsNotifier<'_>,
    result: &AvailableResult<'_>,
) -> QueryResult<ResultsNotice> {
    let Some((first_name, mobile, email, language, preferences)) = patients::table
        .find(result.patient_id)
        .select((
            patients::first_name,
            patients::mobile_phone,
            patients::email,
            patients::language,
            patients::communication_preferences,
        ))
        .first::<PatientContact>(conn)
        .optional()?
    else {
        return Ok(ResultsNotice::Nowhere("the patient is unknown".into()));
    };
    let stopped = match &mobile {
        Some(phone) => replies::is_stopped(conn, phone)?,
        None => false,
    };
    let reach = Reachability {
        mobile_phone: mobile.as_deref(),
        email: email.as_deref(),
        preferences: preferences.as_deref(),
        sms_stopped: stopped,
        deliverable: notifier.config.deliverable,
    };
    let (channel, address) = match route(reach) {
        Route::To { channel, address } => (channel, address),
        Route::Nowhere(why) => return Ok(ResultsNotice::Nowhere(why)),
    };
    let center_name: Option<String> = match result.center_lid {
        Some(lid) => centers::table
            .filter(centers::lid.eq(lid))
            .select(centers::name)
            .first(conn)
            .optional()?,
        None => None,
    };
    let config = notifier.config;
    let center_language = result
        .center_lid
        .and_then(|lid| config.policy.for_center(lid).language.as_deref());
    let languages = language_preference(
        language.as_deref(),
        center_language,
        &config.fallback_language,
    );
    let Some(template) = config.templates.pick(TemplateKind::ResultsReady, languages) else {
        // The fallback language is checked at start to have every kind.
        return Ok(ResultsNotice::Nowhere("no template in any language".into()));
    };
    let mut values = TemplateValues::default();
    values
        .set(Placeholder::FirstName, first_name)
        .set(Placeholder::CenterName, center_name)
        .set(
            Placeholder::Link,
            Some(format!(
                "{}{RESULTS_PAGE_PATH}",
                notifier.public_url.trim_end_matches('/')
            )),
        );
    let rendered = template.render(&values);
    let (subject, body) = match channel {
        Channel::Email => (rendered.subject, rendered.email.unwrap_or(rendered.sms)),
        _ => (None, config.sms_text(rendered.sms)),
    };
    let now = Utc::now();
    let enqueued = outbox::enqueue(
        conn,
        &NewMessage {
            owner: RESULTS_OWNER,
            legacy_id: &legacy_id(result),
            channel,
            to: &address,
            from: None,
            subject: subject.as_deref(),
            body: &body,
            send_at: None,
            expires_at: Some(available(result) + notifier.valid_for),
        },
        now,
    )?;
    Ok(ResultsNotice::Queued {
        channel,
        message_id: enqueued.id().to_string(),
    })
}

fn available(result: &AvailableResult<'_>) -> DateTime<Utc> {
    result.available_at.and_utc()
}

/// One notice per result and moment of availability.
fn legacy_id(result: &AvailableResult<'_>) -> String {
    format!(
        "results-ready:{}:{}",
        result.id,
        available(result).timestamp_micros()
    )
}
