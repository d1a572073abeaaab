//! When reminders go out: offsets before the appointment, read on the center's calendar, and
//! quiet hours during which a reminder waits for the morning.
//!
//! An offset of whole days lands at the same wall-clock time that many days before, on the
//! center's calendar: "24h before" a 10:00 appointment is 10:00 the day before, even when a
//! daylight-saving change lies in between (then 23 or 25 real hours). A patient reads reminders
//! on the clock, and "the same time yesterday" is what they expect. The part of an offset beyond
//! whole days is real time: `90m` is 90 real minutes, `36h` is 12 real hours before the same
//! clock time the day before. A clock time that does not exist on the reminder day (spring gap)
//! moves to the first instant after the gap; one that exists twice (autumn) takes the first.

use std::fmt;

use chrono::{DateTime, Days, Duration, NaiveDateTime, Utc};
use chrono_tz::Tz;

use crate::domain::slots::{earliest_instant, local_reading};

const DAY_SECONDS: u32 = 24 * 60 * 60;
/// The longest offset accepted: reminders are about upcoming appointments, not next year's.
const MAX_OFFSET_DAYS: u32 = 60;

/// How long before its appointment a reminder goes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReminderOffset {
    seconds: u32,
}

impl ReminderOffset {
    pub fn from_seconds(seconds: u32) -> Result<ReminderOffset, String> {
        if seconds == 0 {
            return Err("a reminder offset must be longer than 0".into());
        }
        if seconds > MAX_OFFSET_DAYS * DAY_SECONDS {
            return Err(format!(
                "a reminder offset is at most {MAX_OFFSET_DAYS} days"
            ));
        }
        Ok(ReminderOffset { seconds })
    }

    /// `72h`, `24h`, `90m`, `2d`, `1h30m` (and seconds, e.g. `45s`, mostly for tests).
    pub fn parse(raw: &str) -> Result<ReminderOffset, String> {
        let raw = raw.trim();
        let duration = humantime::parse_duration(raw)
            .map_err(|_| format!("'{raw}' is not a duration such as 24h or 90m"))?;
        if duration.subsec_nanos() != 0 {
            return Err(format!("'{raw}' is not a whole number of seconds"));
        }
        let seconds = u32::try_from(duration.as_secs())
            .map_err(|_| format!("'{raw}' is too long for a reminder offset"))?;
        ReminderOffset::from_seconds(seconds).map_err(|e| format!("'{raw}': {e}"))
    }

    pub fn seconds(self) -> u32 {
        self.seconds
    }

    /// When the reminder of an appointment starting at `start` is due, on the clock of `tz`.
    pub fn before(self, start: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        let (days, rest) = (self.seconds / DAY_SECONDS, self.seconds % DAY_SECONDS);
        let base = if days == 0 {
            start
        } else {
            let local: NaiveDateTime = start.with_timezone(&tz).naive_local();
            let earlier = local
                .checked_sub_days(Days::new(u64::from(days)))
                .expect("a date 60 days back exists");
            earliest_instant(tz, earlier)
        };
        base - Duration::seconds(i64::from(rest))
    }
}

impl fmt::Display for ReminderOffset {
    /// The shortest exact form: `72h`, `90m`, `45s`, `1h30m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (hours, minutes, seconds) = (
            self.seconds / 3600,
            self.seconds % 3600 / 60,
            self.seconds % 60,
        );
        let mut wrote = false;
        for (value, unit) in [(hours, "h"), (minutes, "m"), (seconds, "s")] {
            if value > 0 {
                write!(f, "{value}{unit}")?;
                wrote = true;
            }
        }
        if !wrote {
            f.write_str("0s")?;
        }
        Ok(())
    }
}

/// Reminder offsets, longest first, without repeats. Empty: no reminders.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReminderPlan(Vec<ReminderOffset>);

impl ReminderPlan {
    /// A comma-separated list such as `72h,24h` or `24h, 90m`; an empty text means none.
    pub fn parse(raw: &str) -> Result<ReminderPlan, String> {
        let mut offsets = raw
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(ReminderOffset::parse)
            .collect::<Result<Vec<_>, _>>()?;
        offsets.sort_by(|a, b| b.cmp(a));
        offsets.dedup();
        Ok(ReminderPlan(offsets))
    }

    pub fn offsets(&self) -> &[ReminderOffset] {
        &self.0
    }
}

impl fmt::Display for ReminderPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let texts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&texts.join(","))
    }
}

/// A daily window, on the center's clock, in which no reminder is sent; it may span midnight
/// (`21:00-08:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuietHours {
    from_minute: u32,
    until_minute: u32,
}

impl QuietHours {
    /// `HH:MM-HH:MM`; an empty text disables quiet hours (`None`).
    pub fn parse(raw: &str) -> Result<Option<QuietHours>, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        let bad = || format!("'{raw}' is not a window such as 21:00-08:00 (or empty for none)");
        let (from, until) = raw.split_once('-').ok_or_else(bad)?;
        let read = |t: &str| crate::domain::values::parse_time_of_day(t, false).ok_or_else(bad);
        let (from_minute, until_minute) = (read(from)?, read(until)?);
        if from_minute == until_minute {
            return Err(format!(
                "'{raw}' starts and ends at the same time; leave it empty to disable quiet hours"
            ));
        }
        Ok(Some(QuietHours {
            from_minute,
            until_minute,
        }))
    }

    fn spans_midnight(self) -> bool {
        self.from_minute > self.until_minute
    }

    /// True when `instant` falls inside the window on the clock of `tz`.
    pub fn contains(self, tz: Tz, instant: DateTime<Utc>) -> bool {
        let (_, minute) = local_reading(tz, instant);
        if self.spans_midnight() {
            minute >= self.from_minute || minute < self.until_minute
        } else {
            self.from_minute <= minute && minute < self.until_minute
        }
    }

    /// The instant the window that contains `instant` ends (the morning after, for a window
    /// that spans midnight and an evening instant).
    fn end_of_window(self, tz: Tz, instant: DateTime<Utc>) -> DateTime<Utc> {
        let (date, minute) = local_reading(tz, instant);
        let end_day = if self.spans_midnight() && minute >= self.from_minute {
            date.succ_opt().expect("a next day exists")
        } else {
            date
        };
        let end = end_day.and_hms_opt(0, 0, 0).expect("midnight exists")
            + Duration::minutes(i64::from(self.until_minute));
        earliest_instant(tz, end)
    }

    /// When a reminder due at `due` goes out: at `due`, or, if that falls inside the window, when
    /// the window ends, unless that would not be before the appointment (then at `due`).
    pub fn defer(self, tz: Tz, due: DateTime<Utc>, appointment: DateTime<Utc>) -> DateTime<Utc> {
        if !self.contains(tz, due) {
            return due;
        }
        let morning = self.end_of_window(tz, due);
        if morning < appointment { morning } else { due }
    }
}

impl fmt::Display for QuietHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::domain::values::format_time_of_day as hhmm;
        write!(f, "{}-{}", hhmm(self.from_minute), hhmm(self.until_minute))
    }
}

/// When a reminder goes out, quiet hours applied (`quiet` is `None` when disabled).
pub fn reminder_due(
    offset: ReminderOffset,
    appointment: DateTime<Utc>,
    tz: Tz,
    quiet: Option<QuietHours>,
) -> DateTime<Utc> {
    let due = offset.before(appointment, tz);
    match quiet {
        Some(quiet) => quiet.defer(tz, due, appointment),
        None => due,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::{America::New_York, Australia::Sydney, Europe::Madrid};

    fn at(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn clock(tz: Tz, t: DateTime<Utc>) -> String {
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
    }

    fn offset(raw: &str) -> ReminderOffset {
        ReminderOffset::parse(raw).unwrap()
    }

    #[test]
    fn offsets_read_hours_minutes_days_and_combinations() {
        assert_eq!(offset("72h").seconds(), 72 * 3600);
        assert_eq!(offset("90m").seconds(), 90 * 60);
        assert_eq!(offset("2d").seconds(), 2 * 86400);
        assert_eq!(offset("1h30m").seconds(), 90 * 60);
        assert_eq!(offset(" 45s ").seconds(), 45);
        assert_eq!(offset("90m").to_string(), "1h30m");
        assert_eq!(offset("72h").to_string(), "72h");
    }

    #[test]
    fn bad_offsets_are_refused_with_the_offending_text() {
        for raw in ["", "soon", "0m", "-5m", "61d", "1.5s"] {
            let err = ReminderOffset::parse(raw).unwrap_err();
            assert!(err.contains(raw.trim()) || raw.is_empty(), "{raw}: {err}");
        }
        assert!(
            ReminderOffset::parse("0m")
                .unwrap_err()
                .contains("longer than 0")
        );
        assert!(
            ReminderOffset::parse("61d")
                .unwrap_err()
                .contains("60 days")
        );
    }

    #[test]
    fn a_plan_is_sorted_longest_first_without_repeats_and_may_be_empty() {
        let plan = ReminderPlan::parse("24h, 72h,90m,24h").unwrap();
        assert_eq!(plan.to_string(), "72h,24h,1h30m");
        assert!(ReminderPlan::parse("").unwrap().offsets().is_empty());
        assert!(ReminderPlan::parse(" , ").unwrap().offsets().is_empty());
        let err = ReminderPlan::parse("72h,tomorrow").unwrap_err();
        assert!(err.contains("'tomorrow'"), "{err}");
    }

    #[test]
    fn whole_day_offsets_land_at_the_same_clock_time_on_an_ordinary_week() {
        let start = at(Madrid, 2026, 6, 10, 10, 0);
        assert_eq!(
            clock(Madrid, offset("24h").before(start, Madrid)),
            "2026-06-09 10:00"
        );
        assert_eq!(
            clock(Madrid, offset("72h").before(start, Madrid)),
            "2026-06-07 10:00"
        );
        assert_eq!(
            offset("24h").before(start, Madrid),
            start - Duration::hours(24)
        );
    }

    #[test]
    fn across_the_spring_change_24h_before_is_the_same_clock_time_23_real_hours_earlier() {
        // Madrid moves from 02:00 to 03:00 on Sunday 29 March 2026.
        let start = at(Madrid, 2026, 3, 29, 10, 0);
        let due = offset("24h").before(start, Madrid);
        assert_eq!(clock(Madrid, due), "2026-03-28 10:00");
        assert_eq!(start - due, Duration::hours(23));
        let start = at(Madrid, 2026, 3, 30, 10, 0);
        let due = offset("72h").before(start, Madrid);
        assert_eq!(clock(Madrid, due), "2026-03-27 10:00");
        assert_eq!(start - due, Duration::hours(71));
    }

    #[test]
    fn across_the_autumn_change_24h_before_is_the_same_clock_time_25_real_hours_earlier() {
        // Madrid moves from 03:00 back to 02:00 on Sunday 25 October 2026.
        let start = at(Madrid, 2026, 10, 25, 10, 0);
        let due = offset("24h").before(start, Madrid);
        assert_eq!(clock(Madrid, due), "2026-10-24 10:00");
        assert_eq!(start - due, Duration::hours(25));
    }

    #[test]
    fn in_the_southern_hemisphere_the_changes_are_the_other_way_round() {
        // Sydney moves from 03:00 back to 02:00 on Sunday 5 April 2026, and from 02:00 to
        // 03:00 on Sunday 4 October 2026.
        let start = at(Sydney, 2026, 4, 5, 9, 30);
        let due = offset("24h").before(start, Sydney);
        assert_eq!(clock(Sydney, due), "2026-04-04 09:30");
        assert_eq!(start - due, Duration::hours(25));
        let start = at(Sydney, 2026, 10, 5, 9, 30);
        let due = offset("48h").before(start, Sydney);
        assert_eq!(clock(Sydney, due), "2026-10-03 09:30");
        assert_eq!(start - due, Duration::hours(47));
    }

    #[test]
    fn a_clock_time_missing_on_the_reminder_day_moves_past_the_gap_and_a_doubled_one_takes_the_first()
     {
        // 02:30 does not exist in Madrid on 29 March 2026: the reminder goes at 03:00.
        let start = at(Madrid, 2026, 3, 30, 2, 30);
        assert_eq!(
            clock(Madrid, offset("24h").before(start, Madrid)),
            "2026-03-29 03:00"
        );
        // 02:30 happens twice on 25 October 2026: the first one (still summer time, +02:00).
        let start = at(Madrid, 2026, 10, 26, 2, 30);
        let due = offset("24h").before(start, Madrid);
        assert_eq!(
            due.with_timezone(&Madrid).to_rfc3339(),
            "2026-10-25T02:30:00+02:00"
        );
    }

    #[test]
    fn the_part_beyond_whole_days_is_real_time() {
        // 03:45 on the day of the spring change is 01:45 UTC; 90 real minutes earlier is
        // 00:15 UTC, which Madrid's clock (still +01:00 then) reads as 01:15.
        let start = at(Madrid, 2026, 3, 29, 3, 45);
        assert_eq!(
            clock(Madrid, offset("90m").before(start, Madrid)),
            "2026-03-29 01:15"
        );
        // 36h: 12 real hours before the same clock time the day before. New York changed on
        // 8 March: 12:00 on the 8th is 16:00 UTC, 12 hours earlier is 23:00 on the 7th.
        let start = at(New_York, 2026, 3, 9, 12, 0);
        assert_eq!(
            clock(New_York, offset("36h").before(start, New_York)),
            "2026-03-07 23:00"
        );
    }

    #[test]
    fn quiet_hours_parse_and_an_empty_text_disables_them() {
        let quiet = QuietHours::parse("21:00-08:00").unwrap().unwrap();
        assert_eq!(quiet.to_string(), "21:00-08:00");
        assert_eq!(QuietHours::parse("  ").unwrap(), None);
        for bad in ["21:00", "21:00-25:00", "9pm-8am", "08:00-08:00"] {
            let err = QuietHours::parse(bad).unwrap_err();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn a_reminder_inside_quiet_hours_waits_for_the_morning_on_the_center_clock() {
        let quiet = QuietHours::parse("21:00-08:00").ok().flatten();
        // An 08:30 appointment, 24h before is 08:30: outside, unchanged.
        let start = at(Madrid, 2026, 6, 10, 8, 30);
        assert_eq!(
            clock(Madrid, reminder_due(offset("24h"), start, Madrid, quiet)),
            "2026-06-09 08:30"
        );
        // A 10:00 appointment with a 12h reminder: 22:00 the evening before waits until 08:00.
        let start = at(Madrid, 2026, 6, 10, 10, 0);
        assert_eq!(
            clock(Madrid, reminder_due(offset("12h"), start, Madrid, quiet)),
            "2026-06-10 08:00"
        );
        // 90 minutes before 09:00 is 07:30, after midnight and inside: the same morning at 08:00.
        let start = at(Madrid, 2026, 6, 10, 9, 0);
        assert_eq!(
            clock(Madrid, reminder_due(offset("90m"), start, Madrid, quiet)),
            "2026-06-10 08:00"
        );
        // 21:00 itself is quiet, 08:00 itself is not.
        assert!(
            quiet
                .unwrap()
                .contains(Madrid, at(Madrid, 2026, 6, 9, 21, 0))
        );
        assert!(
            !quiet
                .unwrap()
                .contains(Madrid, at(Madrid, 2026, 6, 9, 8, 0))
        );
    }

    #[test]
    fn a_reminder_is_not_deferred_past_its_appointment() {
        let quiet = QuietHours::parse("21:00-08:00").ok().flatten();
        // A 07:30 appointment: 90 minutes before is 06:00; the morning (08:00) is too late.
        let start = at(Madrid, 2026, 6, 10, 7, 30);
        assert_eq!(
            clock(Madrid, reminder_due(offset("90m"), start, Madrid, quiet)),
            "2026-06-10 06:00"
        );
        // Exactly at the appointment is too late as well.
        let start = at(Madrid, 2026, 6, 10, 8, 0);
        assert_eq!(
            clock(Madrid, reminder_due(offset("1h"), start, Madrid, quiet)),
            "2026-06-10 07:00"
        );
    }

    #[test]
    fn quiet_hours_within_one_day_and_on_the_clock_of_each_center() {
        let quiet = QuietHours::parse("12:00-14:00").ok().flatten();
        let start = at(Sydney, 2026, 6, 10, 15, 0);
        assert_eq!(
            clock(Sydney, reminder_due(offset("2h"), start, Sydney, quiet)),
            "2026-06-10 14:00"
        );
        assert_eq!(
            clock(Sydney, reminder_due(offset("4h"), start, Sydney, quiet)),
            "2026-06-10 11:00"
        );
        // The same UTC instant is quiet in Madrid at night and not in Sydney in the morning.
        let night = QuietHours::parse("21:00-08:00").unwrap().unwrap();
        let instant = at(Madrid, 2026, 6, 10, 1, 0);
        assert!(night.contains(Madrid, instant));
        assert!(!night.contains(Sydney, instant));
    }

    #[test]
    fn the_morning_after_quiet_hours_that_end_in_a_spring_gap_is_the_first_instant_after_it() {
        let quiet = QuietHours::parse("21:00-02:30").ok().flatten();
        let start = at(Madrid, 2026, 3, 29, 11, 0);
        let due = reminder_due(offset("12h"), start, Madrid, quiet);
        assert_eq!(clock(Madrid, due), "2026-03-29 03:00");
    }
}
