//! Values as the outside sends them (all text), parsed once into types that cannot be wrong.
//! Each parser's error names the field it read.

use std::fmt;

use chrono::NaiveDate;
use chrono_tz::Tz;

/// Anything that hands out fields by their contract name: a SOAP item, a row of an import file.
pub trait FieldSource {
    /// The field's text, trimmed, with an empty value read as absent.
    fn field(&self, name: &'static str) -> Option<&str>;
}

/// A field that could not be accepted, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field,
            message: message.into(),
        }
    }

    pub fn missing(field: &'static str) -> Self {
        FieldError::new(field, format!("{field} is required"))
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type FieldResult<T> = Result<T, FieldError>;

pub fn required<'a>(src: &'a impl FieldSource, field: &'static str) -> FieldResult<&'a str> {
    src.field(field).ok_or_else(|| FieldError::missing(field))
}

pub const LID_MAX_CHARS: usize = 50;
pub const NAME_MAX_CHARS: usize = 200;

/// An id of the clinic system ("legacy id"): 1 to 50 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lid(String);

impl Lid {
    pub fn parse(raw: &str) -> Result<Lid, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("is empty".into());
        }
        if raw.chars().count() > LID_MAX_CHARS {
            return Err(format!("is longer than {LID_MAX_CHARS} characters"));
        }
        if raw.chars().any(char::is_control) {
            return Err("contains a control character".into());
        }
        Ok(Lid(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Lid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn lid(src: &impl FieldSource, field: &'static str) -> FieldResult<Option<Lid>> {
    src.field(field)
        .map(|raw| Lid::parse(raw).map_err(|e| FieldError::new(field, format!("{field} {e}"))))
        .transpose()
}

pub fn required_lid(src: &impl FieldSource, field: &'static str) -> FieldResult<Lid> {
    lid(src, field)?.ok_or_else(|| FieldError::missing(field))
}

/// Free text such as a name: at most `max` characters, no control characters but tab.
pub fn text(
    src: &impl FieldSource,
    field: &'static str,
    max: usize,
) -> FieldResult<Option<String>> {
    let Some(raw) = src.field(field) else {
        return Ok(None);
    };
    if raw.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("{field} is longer than {max} characters"),
        ));
    }
    if raw.chars().any(|c| c.is_control() && c != '\t') {
        return Err(FieldError::new(
            field,
            format!("{field} contains a control character"),
        ));
    }
    Ok(Some(raw.to_string()))
}

/// A date as `dd/mm/yyyy` or `yyyy-mm-dd`.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let raw = raw.trim();
    NaiveDate::parse_from_str(raw, "%d/%m/%Y")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%Y-%m-%d"))
        .ok()
        .filter(|d| (1900..=2999).contains(&chrono::Datelike::year(d)))
}

pub fn date(src: &impl FieldSource, field: &'static str) -> FieldResult<Option<NaiveDate>> {
    src.field(field)
        .map(|raw| {
            parse_date(raw).ok_or_else(|| {
                FieldError::new(
                    field,
                    format!("{field} '{raw}' is not a date (dd/mm/yyyy or yyyy-mm-dd)"),
                )
            })
        })
        .transpose()
}

pub fn format_date(date: NaiveDate) -> String {
    use chrono::Datelike;
    // Written by hand: chrono's strftime parses its pattern on every call, and a search answer
    // writes a date per slot.
    format!("{:02}/{:02}/{:04}", date.day(), date.month(), date.year())
}

/// A timestamp as `dd/mm/yyyy hh:mm:ss` (read as UTC) or ISO 8601 with an offset.
pub fn parse_timestamp(raw: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let raw = raw.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDateTime::parse_from_str(raw, "%d/%m/%Y %H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(raw, "%d/%m/%Y %H:%M"))
        .ok()
        .map(|t| t.and_utc())
}

pub fn timestamp(
    src: &impl FieldSource,
    field: &'static str,
) -> FieldResult<Option<chrono::DateTime<chrono::Utc>>> {
    src.field(field)
        .map(|raw| {
            parse_timestamp(raw).ok_or_else(|| {
                FieldError::new(
                    field,
                    format!("{field} '{raw}' is not a timestamp (dd/mm/yyyy hh:mm:ss in UTC, or ISO 8601 with offset)"),
                )
            })
        })
        .transpose()
}

/// A timestamp on the wire: ISO 8601, UTC, to the microsecond (so it can be sent back exactly).
pub fn format_timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A wall-clock time of day as minutes after midnight. `24:00` is accepted where a day's end is
/// meant (`allow_end_of_day`).
pub fn parse_time_of_day(raw: &str, allow_end_of_day: bool) -> Option<u32> {
    let (h, m) = raw.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) if allow_end_of_day => Some(24 * 60),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

pub fn time_of_day(
    src: &impl FieldSource,
    field: &'static str,
    allow_end_of_day: bool,
) -> FieldResult<Option<u32>> {
    src.field(field)
        .map(|raw| {
            parse_time_of_day(raw, allow_end_of_day).ok_or_else(|| {
                FieldError::new(
                    field,
                    format!("{field} '{raw}' is not a time of day (hh:mm, 24-hour)"),
                )
            })
        })
        .transpose()
}

pub fn format_time_of_day(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// A whole number of minutes in `1..=max`.
pub fn minutes(src: &impl FieldSource, field: &'static str, max: u32) -> FieldResult<Option<u32>> {
    src.field(field)
        .map(|raw| match raw.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(FieldError::new(
                field,
                format!("{field} '{raw}' must be a whole number of minutes from 1 to {max}"),
            )),
        })
        .transpose()
}

/// A price such as `35`, `35.5`, `35.50` or `35,50`, kept as cents so that no float rounds it.
pub fn parse_price_cents(raw: &str) -> Option<i64> {
    let raw = raw.trim().replace(',', ".");
    let (units, fraction) = match raw.split_once('.') {
        Some((u, f)) => (u, f),
        None => (raw.as_str(), ""),
    };
    if units.is_empty() || !units.bytes().all(|b| b.is_ascii_digit()) || units.len() > 12 {
        return None;
    }
    if fraction.len() > 2 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let cents = format!("{fraction:0<2}");
    Some(units.parse::<i64>().ok()? * 100 + cents.parse::<i64>().ok()?)
}

pub fn price(src: &impl FieldSource, field: &'static str) -> FieldResult<Option<i64>> {
    src.field(field)
        .map(|raw| {
            parse_price_cents(raw).ok_or_else(|| {
                FieldError::new(
                    field,
                    format!("{field} '{raw}' is not a price (a non-negative amount with at most 2 decimals)"),
                )
            })
        })
        .transpose()
}

pub fn format_price(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// A yes/no flag: `1`/`0`, `true`/`false`, `yes`/`no`.
pub fn flag(src: &impl FieldSource, field: &'static str) -> FieldResult<Option<bool>> {
    src.field(field)
        .map(|raw| match raw.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "y" | "s" | "si" => Ok(true),
            "0" | "false" | "no" | "n" => Ok(false),
            _ => Err(FieldError::new(
                field,
                format!("{field} '{raw}' must be 1 or 0"),
            )),
        })
        .transpose()
}

/// An IANA time-zone name such as `Europe/Madrid`.
pub fn timezone(src: &impl FieldSource, field: &'static str) -> FieldResult<Option<Tz>> {
    src.field(field)
        .map(|raw| {
            raw.parse::<Tz>().map_err(|_| {
                FieldError::new(
                    field,
                    format!("{field} '{raw}' is not an IANA time zone (e.g. Europe/Madrid)"),
                )
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_come_in_two_formats() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        assert_eq!(parse_date("29/03/2026"), Some(d));
        assert_eq!(parse_date("2026-03-29"), Some(d));
        assert_eq!(parse_date("31/02/2026"), None);
        assert_eq!(parse_date("03/29/2026"), None);
        assert_eq!(format_date(d), "29/03/2026");
    }

    #[test]
    fn times_of_day_are_24_hour_and_end_of_day_only_where_allowed() {
        assert_eq!(parse_time_of_day("08:30", false), Some(510));
        assert_eq!(parse_time_of_day("8:30", false), Some(510));
        assert_eq!(parse_time_of_day("24:00", false), None);
        assert_eq!(parse_time_of_day("24:00", true), Some(1440));
        assert_eq!(parse_time_of_day("12:60", true), None);
        assert_eq!(parse_time_of_day("1230", true), None);
        assert_eq!(format_time_of_day(510), "08:30");
    }

    #[test]
    fn prices_are_exact_cents() {
        assert_eq!(parse_price_cents("35"), Some(3500));
        assert_eq!(parse_price_cents("35.5"), Some(3550));
        assert_eq!(parse_price_cents("35,05"), Some(3505));
        assert_eq!(parse_price_cents("-1"), None);
        assert_eq!(parse_price_cents("1.234"), None);
        assert_eq!(parse_price_cents("abc"), None);
        assert_eq!(format_price(3505), "35.05");
    }

    #[test]
    fn a_lid_is_short_and_printable() {
        assert!(Lid::parse("  DR-7 ").is_ok());
        assert!(Lid::parse("").is_err());
        assert!(Lid::parse(&"x".repeat(51)).is_err());
        assert!(Lid::parse("a\u{0}b").is_err());
    }
}
