//! Rosters (issue 17): shifts as an availability source on every edge (SOAP
//! searchAvailabilities and addAppointment, the OpenVPMS free/busy answer, published slots),
//! breaks closed, the availability source per resource (rules, roster, both), daylight-saving
//! days, the `rendez roster` and `rendez deputy` commands, scopes, conflicts, and Deputy's
//! rosters taken in by Deputy's ids.
//!
//! Shifts are written through `app::rosters` on a core of the test's own (another process, as
//! far as the server's booking cache is concerned), or through the `rendez` binary.

mod admin;
mod cli;
mod conflicts;
mod deputy;
mod edges;
mod scopes;
mod sources;

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rendez::app::Caller;
use rendez::app::rosters::{self, ShiftRequest};
use rendez::domain::roster::{Shift, When};

use crate::helpers::{Auth, TestApp};
pub use crate::slots::{Rule, Scene, caller, day_ahead, quiet_scene};

pub const MADRID: chrono_tz::Tz = chrono_tz::Europe::Madrid;

/// The system operator (every role, every center), as the CLI acts.
pub fn operator() -> Caller {
    Caller::system("test")
}

/// A weekday (Monday to Friday) about `days` ahead, on Madrid's clock.
pub fn weekday_ahead(days: i64) -> NaiveDate {
    let mut day = day_ahead(MADRID, days);
    while day.weekday().number_from_monday() > 5 {
        day = day.succ_opt().unwrap();
    }
    day
}

pub fn iso(day: NaiveDate, hhmm: &str) -> When {
    When::parse(&format!("{}T{hhmm}", day.format("%Y-%m-%d")), "time").unwrap()
}

/// A shift request of `resource` at `place` on `day`, `start`-`end`, with breaks.
pub fn shift(
    resource: &str,
    place: &str,
    day: NaiveDate,
    start: &str,
    end: &str,
    breaks: &[(&str, &str)],
) -> ShiftRequest {
    ShiftRequest {
        resource_lid: resource.into(),
        place: place.parse().unwrap(),
        start: iso(day, start),
        end: iso(day, end),
        breaks: breaks
            .iter()
            .map(|(s, e)| (iso(day, s), iso(day, e)))
            .collect(),
    }
}

impl Scene {
    /// Adds a shift as the operator, and lets the server's searches see it.
    pub async fn add_shift(&self, request: ShiftRequest) -> Shift {
        let shift = rosters::add(&self.core, &operator(), request)
            .await
            .expect("the shift is added");
        settle().await;
        shift
    }
}

/// A change made through the test's own core reaches the server's searches through the
/// master-data version, which a search compares at most every second (the cache's promise).
pub async fn settle() {
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
}

/// Center C1 (Madrid) with R1 and R2 offering A1 and A2 (30 minutes, step 30), no rules.
pub async fn clinic(scene: &Scene) {
    scene.clinic("C1", "Europe/Madrid", &["R1", "R2"]).await;
}

/// The start times (HH:MM) searchAvailabilities offers for `resource` and A1 on `day`, with
/// the AVAILABILITY_LID of each.
pub async fn soap_starts(app: &TestApp, resource: &str, day: NaiveDate) -> Vec<(String, String)> {
    let date = day.format("%Y-%m-%d").to_string();
    let inner = format!(
        "<ACTIVITY_LID>A1</ACTIVITY_LID><RESOURCE_LID>{resource}</RESOURCE_LID>\
         <AVA_START_DAY>{date}</AVA_START_DAY><AVA_END_DAY>{date}</AVA_END_DAY>\
         <AVA_RESULTS_NUMBER>1000</AVA_RESULTS_NUMBER>"
    );
    let reply = app
        .soap(&Auth::admin(), "searchAvailabilities", &inner)
        .await;
    reply.assert_ok();
    items(&reply.body, "AVAILABILITY")
        .into_iter()
        .map(|item| {
            (
                item.get("AVA_START_TIME").cloned().unwrap_or_default(),
                item.get("AVAILABILITY_LID").cloned().unwrap_or_default(),
            )
        })
        .collect()
}

/// Just the start times.
pub async fn soap_times(app: &TestApp, resource: &str, day: NaiveDate) -> Vec<String> {
    soap_starts(app, resource, day)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect()
}

/// `HH:MM` every `step` minutes from `from` (inclusive) to `to` (exclusive).
pub fn times(from: &str, to: &str, step: u32) -> Vec<String> {
    let minute = |t: &str| {
        let (h, m) = t.split_once(':').unwrap();
        h.parse::<u32>().unwrap() * 60 + m.parse::<u32>().unwrap()
    };
    (minute(from)..minute(to))
        .step_by(step as usize)
        .map(|m| format!("{:02}:{:02}", m / 60, m % 60))
        .collect()
}

/// Books A1 with `resource` at `day` `hhmm` over SOAP; the ADD_RESULT and the reply's body.
pub async fn try_book(
    app: &TestApp,
    resource: &str,
    day: NaiveDate,
    hhmm: &str,
) -> (String, String) {
    let inner = format!(
        "<ACTIVITY_LID>A1</ACTIVITY_LID><RESOURCE_LID>{resource}</RESOURCE_LID>\
         <APP_DATE>{}</APP_DATE><APP_START_TIME>{hhmm}</APP_START_TIME>",
        day.format("%Y-%m-%d")
    );
    let reply = app.soap(&Auth::admin(), "addAppointment", &inner).await;
    (
        reply.field("ADD_RESULT").unwrap_or_default(),
        reply.field("APP_LID").unwrap_or_else(|| reply.body.clone()),
    )
}

/// The children of every element named `item`, by local name.
pub fn items(xml: &str, item: &str) -> Vec<BTreeMap<String, String>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut out = Vec::new();
    let mut current: Option<BTreeMap<String, String>> = None;
    let mut field: Option<(String, String)> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = e.local_name().into_inner().to_string();
                if current.is_none() && name == item {
                    current = Some(BTreeMap::new());
                } else if current.is_some() {
                    field = Some((name, String::new()));
                }
            }
            Ok(Event::Text(t)) => {
                if let Some((_, value)) = field.as_mut() {
                    value.push_str(&t.xml10_content());
                }
            }
            Ok(Event::End(e)) => {
                let name = e.local_name().into_inner().to_string();
                if let Some((field_name, value)) = field.take() {
                    if let Some(c) = current.as_mut() {
                        c.insert(field_name, value);
                    }
                } else if name == item
                    && let Some(c) = current.take()
                {
                    out.push(c);
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out
}
