//! Rosters: dated shifts of a resource at a center (optionally in an area of it), with breaks.
//!
//! A shift is held as real instants (UTC), like every instant inside Rendez; local times exist
//! only where a person types or reads them, on the center's clock. A shift makes its resource
//! bookable for its duration and its breaks are busy: as an availability source, a shift is
//! the day-by-day local spans it leaves free ([`ShiftTimes::day_spans`]), each one dated
//! [`OpeningRule`] the slot engine already reads on the center's clock, daylight-saving
//! changes included (`super::slots`).
//!
//! Local times typed by a person: a start inside the hour read twice in autumn is its first
//! reading, an end its last (the widest shift, as the slot engine reads a rule); a time inside
//! the spring gap does not exist and is refused with a message that says so.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::slots::{OpeningRule, local_reading};
use crate::error::Error;

/// The longest shift: a day and a night. Longer ones are surely typing errors.
pub const MAX_SHIFT: Duration = Duration::hours(24);
/// How many breaks a shift may have.
pub const MAX_BREAKS: usize = 12;
/// The longest area name.
pub const AREA_MAX_CHARS: usize = 100;

/// Where a shift came from: the sync never pushes a shift back where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Typed in Rendez (CLI, admin API, console).
    Rendez,
    /// Received from Deputy (poll or webhook).
    Deputy,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Rendez => "rendez",
            Origin::Deputy => "deputy",
        }
    }
}

impl FromStr for Origin {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "rendez" => Ok(Origin::Rendez),
            "deputy" => Ok(Origin::Deputy),
            other => Err(Error::Internal(format!("unknown shift origin '{other}'"))),
        }
    }
}

/// Where a resource's availability comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AvailabilitySource {
    /// Its availability rules (updateAvailabilities, CSV, FHIR PractitionerRole).
    Rules,
    /// Its shifts.
    Roster,
    /// The time both its rules and its shifts open (the intersection).
    Both,
}

impl AvailabilitySource {
    pub const ALL: [AvailabilitySource; 3] = [
        AvailabilitySource::Rules,
        AvailabilitySource::Roster,
        AvailabilitySource::Both,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AvailabilitySource::Rules => "rules",
            AvailabilitySource::Roster => "roster",
            AvailabilitySource::Both => "both",
        }
    }

    /// What applies to a resource: what the clinic said, else the roster for a resource that
    /// has shifts or a Deputy employee, else its rules.
    pub fn resolve(said: Option<Self>, has_shifts: bool, deputy_employee: bool) -> Self {
        said.unwrap_or(if has_shifts || deputy_employee {
            AvailabilitySource::Roster
        } else {
            AvailabilitySource::Rules
        })
    }
}

impl fmt::Display for AvailabilitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AvailabilitySource {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let wanted = s.trim();
        AvailabilitySource::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                Error::client(format!(
                    "unknown availability source '{wanted}': it is one of rules, roster, both"
                ))
            })
    }
}

/// A center, or an area of it: `CENTER_LID` or `CENTER_LID/AREA`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Place {
    pub center_lid: String,
    pub area: Option<String>,
}

impl FromStr for Place {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let (center, area) = match s.split_once('/') {
            Some((center, area)) => (center.trim(), Some(area.trim())),
            None => (s.trim(), None),
        };
        if center.is_empty() {
            return Err(Error::client(format!(
                "'{s}' names no center: write CENTER_LID or CENTER_LID/AREA"
            )));
        }
        let area = match area {
            None => None,
            Some("") => {
                return Err(Error::client(format!(
                    "'{s}' has an empty area after '/': write CENTER_LID or CENTER_LID/AREA"
                )));
            }
            Some(area) => Some(valid_area(area)?),
        };
        Ok(Place {
            center_lid: center.to_string(),
            area,
        })
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.area {
            Some(area) => write!(f, "{}/{area}", self.center_lid),
            None => f.write_str(&self.center_lid),
        }
    }
}

/// An area name as stored: trimmed, not empty, at most [`AREA_MAX_CHARS`], no control
/// characters.
pub fn valid_area(area: &str) -> Result<String, Error> {
    let area = area.trim();
    if area.is_empty() {
        return Err(Error::client("an area name cannot be empty"));
    }
    if area.chars().count() > AREA_MAX_CHARS {
        return Err(Error::client(format!(
            "the area name is longer than {AREA_MAX_CHARS} characters"
        )));
    }
    if area.chars().any(char::is_control) {
        return Err(Error::client("the area name contains control characters"));
    }
    Ok(area.to_string())
}

/// A time as a caller gives it: on the center's clock (a person), or an instant (Deputy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Local(NaiveDateTime),
    At(DateTime<Utc>),
}

impl When {
    /// An ISO local date and time (`2026-06-01T09:00`, seconds optional, a space allowed for
    /// the `T`), or an instant with its offset (`2026-06-01T07:00:00Z`).
    pub fn parse(text: &str, what: &str) -> Result<When, Error> {
        let text = text.trim();
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Ok(When::At(at.with_timezone(&Utc)));
        }
        for format in [
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%d %H:%M:%S",
        ] {
            if let Ok(local) = NaiveDateTime::parse_from_str(text, format) {
                return Ok(When::Local(local));
            }
        }
        Err(Error::client(format!(
            "the {what} '{text}' is not an ISO local date and time such as 2026-06-01T09:00"
        )))
    }

    /// The instant on the center's clock: a start at its first reading, an end at its last;
    /// a local time inside a spring gap is refused.
    pub fn resolve(self, tz: Tz, bound: Bound, what: &str) -> Result<DateTime<Utc>, Error> {
        match self {
            When::At(at) => Ok(at),
            When::Local(local) => match tz.from_local_datetime(&local) {
                LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
                LocalResult::Ambiguous(first, last) => Ok(match bound {
                    Bound::Start => first,
                    Bound::End => last,
                }
                .with_timezone(&Utc)),
                LocalResult::None => Err(Error::client(format!(
                    "the {what} {} does not exist in {tz}: the clocks go forward over it",
                    local.format("%Y-%m-%dT%H:%M")
                ))),
            },
        }
    }
}

/// A break as typed on the command line, `START-END`: two ISO local date-times
/// (`2026-06-01T12:30-2026-06-01T13:30`), or two times of day (`12:30-13:30`) on the day the
/// shift starts (a time before the shift's start is on the next day: a night shift's break).
pub fn parse_break(text: &str, shift_start: &When) -> Result<(When, When), Error> {
    let text = text.trim();
    let bad = || {
        Error::client(format!(
            "the break '{text}' is not START-END, such as 12:30-13:30 or 2026-06-01T12:30-2026-06-01T13:30"
        ))
    };
    for (at, _) in text.match_indices('-') {
        let (left, right) = (&text[..at], &text[at + 1..]);
        if let (Some(start), Some(end)) = (piece(left, shift_start)?, piece(right, shift_start)?) {
            return Ok((start, end));
        }
    }
    Err(bad())
}

/// One end of a typed break: a full date-time, or a time of day on the shift's day; `None`
/// when the text is neither.
fn piece(text: &str, shift_start: &When) -> Result<Option<When>, Error> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    if let Ok(when) = When::parse(text, "break") {
        return Ok(Some(when));
    }
    let Ok(time) = chrono::NaiveTime::parse_from_str(text.trim(), "%H:%M") else {
        return Ok(None);
    };
    match shift_start {
        When::Local(start) => {
            let mut local = start.date().and_time(time);
            if local < *start {
                local += Duration::days(1);
            }
            Ok(Some(When::Local(local)))
        }
        When::At(_) => Err(Error::client(
            "a break given as a time of day needs the shift's start as a local date and time; write the break's full dates",
        )),
    }
}

/// Which end of an interval a local time is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Start,
    End,
}

/// An interval of real time, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Span {
    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// A shift's times, checked: it ends after it starts and lasts at most [`MAX_SHIFT`]; each
/// break ends after it starts, lies inside the shift, and overlaps no other break (kept in
/// order of start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShiftTimes {
    span: Span,
    breaks: Vec<Span>,
}

impl ShiftTimes {
    pub fn new(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        mut breaks: Vec<Span>,
    ) -> Result<ShiftTimes, Error> {
        if end <= start {
            return Err(Error::client(format!(
                "the shift ends ({}) before it starts ({}): its end must come after its start",
                end.to_rfc3339(),
                start.to_rfc3339()
            )));
        }
        if end - start > MAX_SHIFT {
            return Err(Error::client(format!(
                "the shift lasts {} hours: a shift lasts at most {} hours",
                (end - start).num_minutes() as f64 / 60.0,
                MAX_SHIFT.num_hours()
            )));
        }
        if breaks.len() > MAX_BREAKS {
            return Err(Error::client(format!(
                "the shift has {} breaks: at most {MAX_BREAKS} are kept",
                breaks.len()
            )));
        }
        breaks.sort();
        for b in &breaks {
            if b.end <= b.start {
                return Err(Error::client(format!(
                    "a break ends ({}) before it starts ({})",
                    b.end.to_rfc3339(),
                    b.start.to_rfc3339()
                )));
            }
            if b.start < start || b.end > end {
                return Err(Error::client(format!(
                    "the break {} - {} is not inside the shift {} - {}",
                    b.start.to_rfc3339(),
                    b.end.to_rfc3339(),
                    start.to_rfc3339(),
                    end.to_rfc3339()
                )));
            }
        }
        for pair in breaks.windows(2) {
            if pair[0].overlaps(&pair[1]) {
                return Err(Error::client(format!(
                    "the breaks {} - {} and {} - {} overlap",
                    pair[0].start.to_rfc3339(),
                    pair[0].end.to_rfc3339(),
                    pair[1].start.to_rfc3339(),
                    pair[1].end.to_rfc3339()
                )));
            }
        }
        Ok(ShiftTimes {
            span: Span { start, end },
            breaks,
        })
    }

    /// Times as stored, checked when they were written: kept as they are, so that a shift
    /// stored under older rules still reads.
    pub fn stored(start: DateTime<Utc>, end: DateTime<Utc>, mut breaks: Vec<Span>) -> ShiftTimes {
        breaks.sort();
        ShiftTimes {
            span: Span { start, end },
            breaks,
        }
    }

    /// Times typed on the center's clock (or instants), checked as [`ShiftTimes::new`].
    pub fn on_clock(
        tz: Tz,
        start: When,
        end: When,
        breaks: &[(When, When)],
    ) -> Result<ShiftTimes, Error> {
        let start = start.resolve(tz, Bound::Start, "shift start")?;
        let end = end.resolve(tz, Bound::End, "shift end")?;
        let breaks = breaks
            .iter()
            .map(|(s, e)| {
                Ok(Span {
                    start: s.resolve(tz, Bound::Start, "break start")?,
                    end: e.resolve(tz, Bound::End, "break end")?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        ShiftTimes::new(start, end, breaks)
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.span.start
    }

    pub fn end(&self) -> DateTime<Utc> {
        self.span.end
    }

    pub fn span(&self) -> Span {
        self.span
    }

    pub fn breaks(&self) -> &[Span] {
        &self.breaks
    }

    /// The time the shift leaves bookable: the shift without its breaks, in order.
    pub fn working(&self) -> Vec<Span> {
        let mut free = Vec::new();
        let mut from = self.span.start;
        for b in &self.breaks {
            if b.start > from {
                free.push(Span {
                    start: from,
                    end: b.start,
                });
            }
            from = from.max(b.end);
        }
        if from < self.span.end {
            free.push(Span {
                start: from,
                end: self.span.end,
            });
        }
        free
    }

    /// The working time as the center's clock reads it, cut at each local midnight: whole
    /// minutes (a start rounded up, an end down), so that the slot engine's grid starts on them.
    pub fn day_spans(&self, tz: Tz) -> Vec<DaySpan> {
        let mut spans = Vec::new();
        for part in self.working() {
            let mut from = part.start;
            while from < part.end {
                let (day, minute) = minute_up(tz, from);
                let next_midnight = day
                    .succ_opt()
                    .map(|next| {
                        super::slots::earliest_instant(
                            tz,
                            next.and_hms_opt(0, 0, 0).expect("midnight"),
                        )
                    })
                    .unwrap_or(part.end);
                let until = part.end.min(next_midnight);
                let end_minute = if until >= next_midnight {
                    24 * 60
                } else {
                    let (end_day, end_minute) = local_reading(tz, until);
                    if end_day > day { 24 * 60 } else { end_minute }
                };
                if end_minute > minute {
                    spans.push(DaySpan {
                        day,
                        start_minute: minute,
                        end_minute,
                    });
                }
                if until <= from {
                    break;
                }
                from = until;
            }
        }
        spans
    }

    /// The real time that this shift leaves bookable and `after` (the shift as changed;
    /// `None`: removed) does not: where bookings become conflicts.
    pub fn lost_by(&self, after: Option<&ShiftTimes>) -> Vec<Span> {
        let kept = after.map(ShiftTimes::working).unwrap_or_default();
        let mut lost = Vec::new();
        for part in self.working() {
            let mut pieces = vec![part];
            for k in &kept {
                pieces = pieces.into_iter().flat_map(|p| subtract(p, *k)).collect();
            }
            lost.extend(pieces);
        }
        lost
    }
}

fn subtract(from: Span, cut: Span) -> Vec<Span> {
    if !from.overlaps(&cut) {
        return vec![from];
    }
    let mut left = Vec::new();
    if cut.start > from.start {
        left.push(Span {
            start: from.start,
            end: cut.start,
        });
    }
    if cut.end < from.end {
        left.push(Span {
            start: cut.end,
            end: from.end,
        });
    }
    left
}

/// The local reading of an instant, rounded up to the next whole minute.
fn minute_up(tz: Tz, at: DateTime<Utc>) -> (NaiveDate, u32) {
    let whole = at.timestamp() % 60 == 0 && at.timestamp_subsec_nanos() == 0;
    let at = if whole {
        at
    } else {
        DateTime::from_timestamp(at.timestamp() - at.timestamp().rem_euclid(60) + 60, 0)
            .unwrap_or(at)
    };
    local_reading(tz, at)
}

/// Part of a shift's working time within one local day: `[start_minute, end_minute)` on the
/// center's clock (`end_minute` up to 1440, the next midnight).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DaySpan {
    pub day: NaiveDate,
    pub start_minute: u32,
    pub end_minute: u32,
}

impl DaySpan {
    /// The span as a rule of that day only.
    pub fn rule(&self) -> OpeningRule {
        OpeningRule {
            working_day: None,
            start_minute: self.start_minute,
            end_minute: self.end_minute,
            start_day: Some(self.day),
            end_day: Some(self.day),
        }
    }

    /// The time both this span and `rule` open that day, as a rule of that day only; `None`
    /// when the rule does not open then.
    pub fn intersect(&self, rule: &OpeningRule) -> Option<OpeningRule> {
        if !rule.covers(self.day) {
            return None;
        }
        let start = self.start_minute.max(rule.start_minute);
        let end = self.end_minute.min(rule.end_minute);
        (end > start).then_some(OpeningRule {
            working_day: None,
            start_minute: start,
            end_minute: end,
            start_day: Some(self.day),
            end_day: Some(self.day),
        })
    }
}

/// A shift as stored and shown.
#[derive(Clone, Debug, PartialEq)]
pub struct Shift {
    pub id: String,
    pub resource_id: String,
    pub resource_lid: String,
    pub center_id: String,
    pub center_lid: String,
    pub timezone: Tz,
    pub area: Option<String>,
    pub times: ShiftTimes,
    pub origin: Origin,
    pub deputy_roster_id: Option<i64>,
    /// Deputy's `Modified` of the state last received from it.
    pub external_modified_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub removed_at: Option<DateTime<Utc>>,
}

impl Shift {
    pub fn place(&self) -> Place {
        Place {
            center_lid: self.center_lid.clone(),
            area: self.area.clone(),
        }
    }

    /// An instant as the center's clock reads it (`2026-06-01T09:00`).
    pub fn local(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.timezone)
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    }
}

/// Why a shift cannot be synchronised, by what it is (see the sync errors).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SyncSubject {
    /// A shift of Rendez (by its id).
    Shift(String),
    /// A roster of Deputy Rendez could not take in (by Deputy's id).
    Deputy(i64),
}

impl SyncSubject {
    /// The key stored: `shift:<id>` or `deputy:<id>`.
    pub fn key(&self) -> String {
        match self {
            SyncSubject::Shift(id) => format!("shift:{id}"),
            SyncSubject::Deputy(id) => format!("deputy:{id}"),
        }
    }
}

/// What a conflict was caused by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConflictCause {
    Removed,
    Shortened,
}

impl ConflictCause {
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictCause::Removed => "removed",
            ConflictCause::Shortened => "shortened",
        }
    }

    pub fn parse(s: &str) -> ConflictCause {
        if s == "removed" {
            ConflictCause::Removed
        } else {
            ConflictCause::Shortened
        }
    }
}

/// A whole local day as the instants that bound it on the center's clock: `[from, to)`.
pub fn local_days(tz: Tz, first: NaiveDate, last: NaiveDate) -> Span {
    let midnight = |d: NaiveDate| {
        super::slots::earliest_instant(tz, d.and_hms_opt(0, 0, 0).expect("midnight"))
    };
    Span {
        start: midnight(first),
        end: midnight(last.succ_opt().unwrap_or(last)),
    }
}

/// A date as typed (`2026-06-01`).
pub fn parse_date(text: &str, what: &str) -> Result<NaiveDate, Error> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        Error::client(format!(
            "the {what} '{}' is not an ISO date such as 2026-06-01",
            text.trim()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Madrid;

    fn local(text: &str) -> When {
        When::parse(text, "time").unwrap()
    }

    fn times(start: &str, end: &str, breaks: &[(&str, &str)]) -> Result<ShiftTimes, Error> {
        let breaks: Vec<(When, When)> = breaks.iter().map(|(s, e)| (local(s), local(e))).collect();
        ShiftTimes::on_clock(Madrid, local(start), local(end), &breaks)
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_shift_with_lunch_leaves_two_spans() {
        let t = times(
            "2026-06-01T09:00",
            "2026-06-01T17:00",
            &[("2026-06-01T12:30", "2026-06-01T13:30")],
        )
        .unwrap();
        let spans = t.day_spans(Madrid);
        assert_eq!(
            spans,
            vec![
                DaySpan {
                    day: day(2026, 6, 1),
                    start_minute: 540,
                    end_minute: 750
                },
                DaySpan {
                    day: day(2026, 6, 1),
                    start_minute: 810,
                    end_minute: 1020
                },
            ]
        );
    }

    #[test]
    fn bad_times_are_refused_with_the_reason() {
        let err = times("2026-06-01T17:00", "2026-06-01T09:00", &[]).unwrap_err();
        assert!(
            err.to_string().contains("must come after its start"),
            "{err}"
        );
        let err = times(
            "2026-06-01T09:00",
            "2026-06-01T12:00",
            &[("2026-06-01T11:30", "2026-06-01T12:30")],
        )
        .unwrap_err();
        assert!(err.to_string().contains("not inside the shift"), "{err}");
        let err = times(
            "2026-06-01T09:00",
            "2026-06-01T17:00",
            &[
                ("2026-06-01T12:00", "2026-06-01T13:00"),
                ("2026-06-01T12:30", "2026-06-01T13:30"),
            ],
        )
        .unwrap_err();
        assert!(err.to_string().contains("overlap"), "{err}");
        let err = times("2026-06-01T09:00", "2026-06-03T09:00", &[]).unwrap_err();
        assert!(err.to_string().contains("at most 24 hours"), "{err}");
        let err = When::parse("tomorrow", "shift start").unwrap_err();
        assert!(err.to_string().contains("ISO local date"), "{err}");
    }

    #[test]
    fn a_time_in_the_spring_gap_is_refused_and_an_autumn_shift_lasts_its_real_hours() {
        let err = times("2026-03-29T02:30", "2026-03-29T06:00", &[]).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        // 25 October 2026: 00:00 to 04:00 on the clock is five real hours.
        let t = times("2026-10-25T00:00", "2026-10-25T04:00", &[]).unwrap();
        assert_eq!(t.end() - t.start(), Duration::hours(5));
        assert_eq!(
            t.day_spans(Madrid),
            vec![DaySpan {
                day: day(2026, 10, 25),
                start_minute: 0,
                end_minute: 240
            }]
        );
    }

    #[test]
    fn a_night_shift_is_cut_at_midnight() {
        let t = times("2026-06-01T22:00", "2026-06-02T06:00", &[]).unwrap();
        assert_eq!(
            t.day_spans(Madrid),
            vec![
                DaySpan {
                    day: day(2026, 6, 1),
                    start_minute: 1320,
                    end_minute: 1440
                },
                DaySpan {
                    day: day(2026, 6, 2),
                    start_minute: 0,
                    end_minute: 360
                },
            ]
        );
    }

    #[test]
    fn shortening_loses_the_cut_time_and_removal_loses_everything() {
        let before = times("2026-06-01T09:00", "2026-06-01T17:00", &[]).unwrap();
        let after = times("2026-06-01T09:00", "2026-06-01T12:00", &[]).unwrap();
        let lost = before.lost_by(Some(&after));
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].start, after.end());
        assert_eq!(lost[0].end, before.end());
        assert_eq!(before.lost_by(None), vec![before.span()]);
        assert!(after.lost_by(Some(&before)).is_empty());
    }

    #[test]
    fn both_keeps_what_the_rule_and_the_shift_share() {
        let span = DaySpan {
            day: day(2026, 6, 1),
            start_minute: 540,
            end_minute: 1020,
        };
        let monday_mornings = OpeningRule {
            working_day: Some(1),
            start_minute: 480,
            end_minute: 720,
            start_day: None,
            end_day: None,
        };
        let got = span.intersect(&monday_mornings).unwrap();
        assert_eq!((got.start_minute, got.end_minute), (540, 720));
        let tuesdays = OpeningRule {
            working_day: Some(2),
            ..monday_mornings
        };
        assert!(span.intersect(&tuesdays).is_none());
    }

    #[test]
    fn breaks_are_typed_as_times_of_day_or_full_dates() {
        let start = local("2026-06-01T09:00");
        let (s, e) = parse_break("12:30-13:30", &start).unwrap();
        assert_eq!(
            (s, e),
            (local("2026-06-01T12:30"), local("2026-06-01T13:30"))
        );
        let (s, e) = parse_break("2026-06-01T12:30-2026-06-01T13:30", &start).unwrap();
        assert_eq!(
            (s, e),
            (local("2026-06-01T12:30"), local("2026-06-01T13:30"))
        );
        let night = local("2026-06-01T22:00");
        let (s, _) = parse_break("01:00-01:30", &night).unwrap();
        assert_eq!(s, local("2026-06-02T01:00"));
        let err = parse_break("lunch", &start).unwrap_err();
        assert!(err.to_string().contains("START-END"), "{err}");
    }

    #[test]
    fn the_source_defaults_to_the_roster_for_rostered_resources() {
        use AvailabilitySource::*;
        assert_eq!(AvailabilitySource::resolve(None, false, false), Rules);
        assert_eq!(AvailabilitySource::resolve(None, true, false), Roster);
        assert_eq!(AvailabilitySource::resolve(None, false, true), Roster);
        assert_eq!(AvailabilitySource::resolve(Some(Both), true, true), Both);
        assert!("sometimes".parse::<AvailabilitySource>().is_err());
        assert!("/x".parse::<Place>().is_err());
        assert!("C1/".parse::<Place>().is_err());
        assert_eq!(
            "C1/Surgery".parse::<Place>().unwrap().area.as_deref(),
            Some("Surgery")
        );
    }
}
