//! Deputy's JSON as its Resource and Supervise APIs write it, and the parse into the domain's
//! [`DeputyRoster`]. Deputy writes flags as `true`/`false` or `1`/`0`, and `Modified` as an ISO
//! date with its install's offset (older installs: unix seconds); both are taken.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::deputy::{Break, DeputyRoster};

/// Deputy's slot type of a break (`strType`); other slots (activities, tasks) are not busy time.
pub const BREAK_SLOT: &str = "B";

/// One element of a roster's `Slots`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct WireSlot {
    #[serde(rename = "blnEmptySlot", default)]
    pub empty: bool,
    #[serde(rename = "strType", default)]
    pub kind: String,
    /// Seconds from the shift's start.
    #[serde(rename = "intStart", default)]
    pub start_offset: i64,
    #[serde(rename = "intEnd", default)]
    pub end_offset: i64,
    #[serde(rename = "intUnixStart", default)]
    pub unix_start: Option<i64>,
    #[serde(rename = "intUnixEnd", default)]
    pub unix_end: Option<i64>,
    #[serde(
        rename = "strTypeName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub type_name: Option<String>,
}

/// A roster row as `Roster/QUERY`, `supervise/roster` and the webhooks send it (the fields the
/// sync reads; the rest is ignored).
#[derive(Clone, Debug, Deserialize)]
pub struct WireRoster {
    #[serde(rename = "Id")]
    pub id: i64,
    #[serde(rename = "StartTime")]
    pub start_time: Option<i64>,
    #[serde(rename = "EndTime")]
    pub end_time: Option<i64>,
    #[serde(rename = "Employee", default)]
    pub employee: Option<i64>,
    #[serde(rename = "OperationalUnit", default)]
    pub operational_unit: Option<i64>,
    #[serde(rename = "Published", default)]
    pub published: Option<Value>,
    #[serde(rename = "Open", default)]
    pub open: Option<Value>,
    #[serde(rename = "Modified", default)]
    pub modified: Option<Value>,
    #[serde(rename = "Slots", default)]
    pub slots: Option<Vec<WireSlot>>,
}

fn flag(value: &Option<Value>) -> Option<bool> {
    match value.as_ref()? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        Value::String(s) => match s.trim() {
            "1" | "true" => Some(true),
            "0" | "false" | "" => Some(false),
            _ => None,
        },
        Value::Null => Some(false),
        _ => None,
    }
}

fn unix(seconds: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(seconds, 0).single()
}

/// Deputy's `Modified`: an ISO date with offset, or unix seconds.
pub fn parse_modified(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(n) => unix(n.as_i64()?),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(seconds) = s.parse::<i64>() {
                return unix(seconds);
            }
            DateTime::parse_from_rfc3339(s)
                .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z"))
                .ok()
                .map(|t| t.with_timezone(&Utc))
        }
        _ => None,
    }
}

impl WireRoster {
    /// The domain's roster; the text names the field that is missing or wrong.
    pub fn parse(&self) -> Result<DeputyRoster, String> {
        let field = |name: &str| format!("Deputy roster {}: {name} is missing or invalid", self.id);
        let start = self
            .start_time
            .and_then(unix)
            .ok_or_else(|| field("StartTime"))?;
        let end = self
            .end_time
            .and_then(unix)
            .ok_or_else(|| field("EndTime"))?;
        let modified = self
            .modified
            .as_ref()
            .and_then(parse_modified)
            .ok_or_else(|| field("Modified"))?;
        let operational_unit = self
            .operational_unit
            .filter(|u| *u > 0)
            .ok_or_else(|| field("OperationalUnit"))?;
        let mut breaks = Vec::new();
        for slot in self.slots.iter().flatten() {
            if slot.empty || slot.kind != BREAK_SLOT {
                continue;
            }
            // The unix times are absolute; the offsets are from the shift's start (both are
            // instants, so a break across a DST change keeps its length either way).
            let from = slot
                .unix_start
                .and_then(unix)
                .or_else(|| unix(start.timestamp() + slot.start_offset))
                .ok_or_else(|| field("Slots"))?;
            let to = slot
                .unix_end
                .and_then(unix)
                .or_else(|| unix(start.timestamp() + slot.end_offset))
                .ok_or_else(|| field("Slots"))?;
            breaks.push(Break {
                start: from,
                end: to,
            });
        }
        breaks.sort();
        Ok(DeputyRoster {
            id: self.id,
            employee: self.employee.filter(|e| *e > 0),
            operational_unit,
            start,
            end,
            breaks,
            published: flag(&self.published).unwrap_or(false),
            open: flag(&self.open).unwrap_or(false),
            modified,
        })
    }
}

/// A row that is not a roster Rendez can read: its id if readable, and why.
pub type Unreadable = (Option<i64>, String);

/// Parses one row of a QUERY answer or a webhook's data: the roster, or why the row is not a
/// roster Rendez can read.
pub fn parse_row(row: &Value) -> Result<DeputyRoster, Unreadable> {
    let id = row.get("Id").and_then(Value::as_i64);
    let wire: WireRoster = serde_json::from_value(row.clone())
        .map_err(|e| (id, format!("a Deputy roster that cannot be read: {e}")))?;
    wire.parse().map_err(|e| (id, e))
}

/// The body of `POST /api/v1/supervise/roster`.
#[derive(Clone, Debug, Serialize)]
pub struct SupervisePush {
    /// Present to change an existing roster.
    #[serde(rename = "intRosterId", skip_serializing_if = "Option::is_none")]
    pub roster_id: Option<i64>,
    #[serde(rename = "intStartTimestamp")]
    pub start: i64,
    #[serde(rename = "intEndTimestamp")]
    pub end: i64,
    #[serde(rename = "intRosterEmployee")]
    pub employee: i64,
    #[serde(rename = "intOpunitId")]
    pub operational_unit: i64,
    #[serde(rename = "blnPublish")]
    pub publish: u8,
    #[serde(rename = "intMealbreakMinute")]
    pub mealbreak_minutes: i64,
    #[serde(rename = "blnForceOverwrite")]
    pub force_overwrite: u8,
    #[serde(rename = "strComment")]
    pub comment: String,
    pub slots: Vec<WireSlot>,
}

impl SupervisePush {
    /// A published, assigned roster with the shift's breaks as break slots.
    pub fn new(
        roster_id: Option<i64>,
        employee: i64,
        operational_unit: i64,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        breaks: &[Break],
    ) -> SupervisePush {
        let slots: Vec<WireSlot> = breaks
            .iter()
            .map(|b| WireSlot {
                empty: false,
                kind: BREAK_SLOT.into(),
                start_offset: b.start.timestamp() - start.timestamp(),
                end_offset: b.end.timestamp() - start.timestamp(),
                unix_start: Some(b.start.timestamp()),
                unix_end: Some(b.end.timestamp()),
                type_name: Some("Meal Break".into()),
            })
            .collect();
        let mealbreak_minutes = breaks.iter().map(|b| (b.end - b.start).num_minutes()).sum();
        SupervisePush {
            roster_id,
            start: start.timestamp(),
            end: end.timestamp(),
            employee,
            operational_unit,
            publish: 1,
            mealbreak_minutes,
            force_overwrite: 1,
            comment: "Rendez".into(),
            slots,
        }
    }
}

/// Deputy's error answer: `{"error": {"code": .., "message": ".."}}`; the message, if any.
pub fn error_message(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let error = value.get("error")?;
    error
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| error.as_str().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_roster_with_a_meal_break_parses() {
        let row = json!({
            "Id": 41, "Date": "2026-12-08T00:00:00+01:00",
            "StartTime": 1796713200, "EndTime": 1796742000,
            "Employee": 3, "OperationalUnit": 9, "Published": true, "Open": false,
            "Modified": "2026-12-07T10:00:00+01:00",
            "Slots": [
                {"blnEmptySlot": false, "strType": "B", "intStart": 14400, "intEnd": 16200,
                 "intUnixStart": 1796727600, "intUnixEnd": 1796729400, "strTypeName": "Meal Break"},
                {"blnEmptySlot": false, "strType": "A", "intStart": 0, "intEnd": 3600}
            ]
        });
        let roster = parse_row(&row).unwrap();
        assert_eq!(roster.breaks.len(), 1);
        assert_eq!(roster.breaks[0].start.timestamp(), 1796727600);
        assert_eq!(roster.employee, Some(3));
        assert_eq!(roster.modified.to_rfc3339(), "2026-12-07T09:00:00+00:00");
    }

    #[test]
    fn flags_as_numbers_and_an_unassigned_employee() {
        let row = json!({"Id": 5, "StartTime": 10, "EndTime": 20, "Employee": 0,
            "OperationalUnit": 2, "Published": 1, "Open": 1, "Modified": 15});
        let roster = parse_row(&row).unwrap();
        assert!(roster.published && roster.open);
        assert_eq!(roster.employee, None);
    }

    #[test]
    fn a_row_without_times_names_the_field() {
        let row = json!({"Id": 6, "OperationalUnit": 2, "Modified": 15});
        let (id, reason) = parse_row(&row).unwrap_err();
        assert_eq!(id, Some(6));
        assert!(reason.contains("StartTime"), "{reason}");
    }
}
