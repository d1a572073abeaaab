//! A schedule's availability rules in FHIR's words: `availableTime` (days of week and hours),
//! the `period` they span, and `availabilityExceptions` for rules limited to some days, which
//! `availableTime` cannot express. Rules that ended before today (in the center's time zone)
//! are left out. Rendez's rules only say when a resource works, so there is no `notAvailable`
//! to derive: time outside the rules is simply not available.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use serde_json::{Value, json};

use crate::app::directory::ScheduleEntry;
use crate::domain::slots::OpeningRule;

const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const MINUTES_PER_DAY: u32 = 24 * 60;

/// `HH:MM:SS` of a minute of the day; the end of the day is the last second (FHIR's `time`
/// has no 24:00).
fn time(minute: u32) -> String {
    if minute >= MINUTES_PER_DAY {
        "23:59:59".to_string()
    } else {
        format!("{:02}:{:02}:00", minute / 60, minute % 60)
    }
}

fn in_effect(rule: &OpeningRule, today: NaiveDate) -> bool {
    rule.end_day.is_none_or(|last| last >= today)
}

/// The rules still in effect, one `availableTime` per set of hours and days.
pub fn available_times(schedule: &ScheduleEntry) -> Vec<Value> {
    let today = Utc::now().with_timezone(&schedule.timezone).date_naive();
    type Key = (u32, u32, Option<NaiveDate>, Option<NaiveDate>);
    let mut grouped: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
    for rule in schedule.rules.iter().filter(|r| in_effect(r, today)) {
        let days = grouped
            .entry((
                rule.start_minute,
                rule.end_minute,
                rule.start_day,
                rule.end_day,
            ))
            .or_default();
        match rule.working_day {
            Some(day) => days.push(usize::from(day).min(6)),
            None => days.extend(0..7),
        }
    }
    grouped
        .into_iter()
        .map(|((start, end, _, _), mut days)| {
            days.sort_unstable();
            days.dedup();
            let mut time_slot = json!({
                "daysOfWeek": days.iter().map(|d| DAYS[*d]).collect::<Vec<_>>(),
            });
            if start == 0 && end >= MINUTES_PER_DAY {
                time_slot["allDay"] = json!(true);
            } else {
                time_slot["availableStartTime"] = json!(time(start));
                time_slot["availableEndTime"] = json!(time(end));
            }
            time_slot
        })
        .collect()
}

/// What `availableTime` cannot say: the rules limited to some days.
pub fn exceptions(schedule: &ScheduleEntry) -> Option<String> {
    let today = Utc::now().with_timezone(&schedule.timezone).date_naive();
    let limited: Vec<String> = schedule
        .rules
        .iter()
        .filter(|r| in_effect(r, today) && (r.start_day.is_some() || r.end_day.is_some()))
        .map(|r| {
            let days = r
                .working_day
                .map_or("every day", |d| DAYS[usize::from(d).min(6)]);
            let from = r
                .start_day
                .map(|d| format!(" from {d}"))
                .unwrap_or_default();
            let until = r.end_day.map(|d| format!(" until {d}")).unwrap_or_default();
            format!(
                "{days} {}-{}{from}{until}",
                &time(r.start_minute)[..5],
                &time(r.end_minute)[..5]
            )
        })
        .collect();
    (!limited.is_empty()).then(|| {
        format!(
            "Times in {}; some hours apply only on some dates: {}",
            schedule.timezone.name(),
            limited.join("; ")
        )
    })
}

/// The days the rules span, as a `Period`, when they are bounded on some side.
pub fn period(schedule: &ScheduleEntry) -> Option<Value> {
    let (first, last) = schedule.horizon()?;
    if first.is_none() && last.is_none() {
        return None;
    }
    let mut period = json!({});
    if let Some(first) = first {
        period["start"] = json!(first.to_string());
    }
    if let Some(last) = last {
        period["end"] = json!(last.to_string());
    }
    Some(period)
}
