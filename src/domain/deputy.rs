//! Deputy's rosters as Rendez understands them, and the rules of the two-way sync that need no
//! database and no network: which rosters count, when a version is newer than the one held, when
//! a day is past (no longer synchronised), and whether what comes back is what Rendez pushed.
//!
//! Times are instants (Deputy sends unix seconds), so a shift across a DST change keeps its real
//! length; a shift's day is its start's date in its center's time zone.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// A break inside a shift (Deputy's `Slots` of type break): busy time for bookings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Break {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// One Deputy roster (a shift), parsed from the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeputyRoster {
    pub id: i64,
    /// `None` (Deputy sends 0) for an open shift.
    pub employee: Option<i64>,
    pub operational_unit: i64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub breaks: Vec<Break>,
    pub published: bool,
    pub open: bool,
    /// Deputy's last change of the roster: orders versions of one roster.
    pub modified: DateTime<Utc>,
}

/// Why a roster that Deputy has is not (or no longer) a shift in Rendez.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotAShift {
    /// Nobody is assigned to it.
    Open,
    /// Not published, and the server is set to take published rosters only.
    Unpublished,
}

impl NotAShift {
    pub fn as_str(self) -> &'static str {
        match self {
            NotAShift::Open => "open shift",
            NotAShift::Unpublished => "not published",
        }
    }
}

impl DeputyRoster {
    /// Whether the roster makes a shift in Rendez: assigned, and published unless unpublished
    /// rosters are taken too.
    pub fn as_shift(&self, include_unpublished: bool) -> Result<(), NotAShift> {
        if self.open || self.employee.is_none() {
            return Err(NotAShift::Open);
        }
        if !self.published && !include_unpublished {
            return Err(NotAShift::Unpublished);
        }
        Ok(())
    }

    /// The times make a shift: the end after the start, each break inside the shift, breaks
    /// not overlapping. The text names the problem, for the sync errors.
    pub fn check_times(&self) -> Result<(), String> {
        check_times(self.start, self.end, &self.breaks)
            .map_err(|e| format!("Deputy roster {}: {e}", self.id))
    }
}

/// Checks a shift's times (shared by both directions).
pub fn check_times(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    breaks: &[Break],
) -> Result<(), String> {
    if end <= start {
        return Err(format!("ends ({end}) before it starts ({start})"));
    }
    let mut sorted = breaks.to_vec();
    sorted.sort();
    for (index, b) in sorted.iter().enumerate() {
        if b.end <= b.start {
            return Err(format!(
                "a break ends ({}) before it starts ({})",
                b.end, b.start
            ));
        }
        if b.start < start || b.end > end {
            return Err(format!(
                "a break ({} to {}) lies outside the shift",
                b.start, b.end
            ));
        }
        if index > 0 && sorted[index - 1].end > b.start {
            return Err(format!("two breaks overlap at {}", b.start));
        }
    }
    Ok(())
}

/// How an arriving version of a roster compares with the `Modified` Rendez holds for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Never seen, or changed in Deputy since.
    Newer,
    /// The version held (a duplicate event, an unchanged roster, or the echo of a push).
    SameStamp,
    /// Older than the version held: an event that arrived late.
    Older,
}

pub fn freshness(held: Option<DateTime<Utc>>, incoming: DateTime<Utc>) -> Freshness {
    match held {
        None => Freshness::Newer,
        Some(held) if incoming > held => Freshness::Newer,
        Some(held) if incoming == held => Freshness::SameStamp,
        Some(_) => Freshness::Older,
    }
}

/// Whether a version from Deputy is applied. Out-of-order events never undo a newer state; a
/// version Rendez already holds does not undo a change made in Rendez since and not yet pushed
/// (it goes to Deputy next); a change Deputy made since the last exchange wins, as Deputy is
/// where the rosters are planned. A same-second version with other content is applied when
/// nothing waits to be pushed (Deputy's `Modified` has a one-second grain).
pub fn takes(freshness: Freshness, local_change_pending: bool) -> bool {
    match freshness {
        Freshness::Newer => true,
        Freshness::SameStamp => !local_change_pending,
        Freshness::Older => false,
    }
}

/// The day a shift belongs to: its start's date in its center's zone.
pub fn shift_day(start: DateTime<Utc>, zone: Tz) -> NaiveDate {
    start.with_timezone(&zone).date_naive()
}

/// Shifts of days before today (in the center's zone) are not synchronised, in either direction
/// (the seed's rule: the past is what happened, not a plan).
pub fn is_past_day(start: DateTime<Utc>, zone: Tz, now: DateTime<Utc>) -> bool {
    shift_day(start, zone) < now.with_timezone(&zone).date_naive()
}

/// The text that says so, for the log, the errors and the status.
pub fn past_day_reason(start: DateTime<Utc>, zone: Tz) -> String {
    format!(
        "the shift of {} is on a past day: past days are not synchronised with Deputy",
        shift_day(start, zone)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    fn roster(modified: i64, start: i64) -> DeputyRoster {
        DeputyRoster {
            id: 7,
            employee: Some(3),
            operational_unit: 9,
            start: at(start),
            end: at(start + 8 * 3600),
            breaks: vec![],
            published: true,
            open: false,
            modified: at(modified),
        }
    }

    #[test]
    fn an_older_version_never_undoes_a_newer_one() {
        let held = Some(at(200));
        assert_eq!(freshness(held, at(100)), Freshness::Older);
        assert!(!takes(freshness(held, at(100)), false));
        assert!(takes(freshness(held, at(300)), true));
        assert!(takes(freshness(None, at(1)), false));
    }

    #[test]
    fn the_version_held_does_not_undo_a_change_waiting_for_its_push() {
        let held = Some(at(200));
        assert_eq!(freshness(held, at(200)), Freshness::SameStamp);
        assert!(!takes(Freshness::SameStamp, true));
        assert!(takes(Freshness::SameStamp, false));
    }

    #[test]
    fn breaks_must_lie_inside_the_shift_without_overlap() {
        let mut r = roster(1, 0);
        r.breaks = vec![Break {
            start: at(3600),
            end: at(5400),
        }];
        assert!(r.check_times().is_ok());
        r.breaks.push(Break {
            start: at(5000),
            end: at(6000),
        });
        assert!(r.check_times().unwrap_err().contains("overlap"));
        r.breaks = vec![Break {
            start: at(-10),
            end: at(60),
        }];
        assert!(r.check_times().unwrap_err().contains("outside"));
    }

    #[test]
    fn open_and_unpublished_rosters_are_not_shifts() {
        let mut r = roster(1, 0);
        r.open = true;
        assert_eq!(r.as_shift(true), Err(NotAShift::Open));
        r.open = false;
        r.published = false;
        assert_eq!(r.as_shift(false), Err(NotAShift::Unpublished));
        assert_eq!(r.as_shift(true), Ok(()));
    }

    #[test]
    fn the_day_of_a_shift_is_its_local_date() {
        let madrid: Tz = "Europe/Madrid".parse().unwrap();
        // 2026-03-28 23:30 UTC is 2026-03-29 00:30 in Madrid (CET, +1).
        let start = Utc.with_ymd_and_hms(2026, 3, 28, 23, 30, 0).unwrap();
        assert_eq!(
            shift_day(start, madrid),
            NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()
        );
        let now = Utc.with_ymd_and_hms(2026, 3, 29, 12, 0, 0).unwrap();
        assert!(!is_past_day(start, madrid, now));
        let next_day = Utc.with_ymd_and_hms(2026, 3, 29, 23, 30, 0).unwrap();
        assert!(is_past_day(start, madrid, next_day));
    }
}
