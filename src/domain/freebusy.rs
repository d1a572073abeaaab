//! Free and busy time of a schedule or a clinician, as the OpenVPMS booking API answers it.
//!
//! - A schedule: per local day of its center, the windows of its availability rules (clipped to
//!   the query) are split into free and busy time: busy = live appointments (adjacent and
//!   overlapping ones merged into one range, then clipped to the window), free = the rest of the
//!   window. Time outside every window is neither free nor busy.
//! - A clinician at a location: per local day, free = the availability windows minus the
//!   appointments; busy = the rest of the day (clipped to the query) plus the appointments,
//!   touching ranges merged. Without any window in the whole query, neither.
//! - Ranges are never merged across local midnight; `slots` splits ranges on the grid of
//!   minute-of-day multiples of the slot size from local midnight, dropping partial slots.
//!
//! All arithmetic is on instants; only day boundaries and rule times are read on the center's
//! clock, so a daylight-saving change neither shifts nor loses a range.

use chrono::{DateTime, Duration, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::slots::{Busy, OpeningRule, earliest_instant};

/// A time range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Range {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Range {
        Range { start, end }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FreeBusy {
    pub free: Vec<Range>,
    pub busy: Vec<Range>,
}

/// The longest range one query may cover.
pub const MAX_RANGE_DAYS: i64 = 31;

/// The local days a range touches, first to last.
fn days(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> impl Iterator<Item = NaiveDate> {
    let first = from.with_timezone(&tz).date_naive();
    let last = to.with_timezone(&tz).date_naive();
    first.iter_days().take_while(move |d| *d <= last)
}

/// Local midnight of a day, as an instant (the first instant of the day).
fn midnight(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    earliest_instant(tz, day.and_hms_opt(0, 0, 0).expect("midnight"))
}

fn at_minute(tz: Tz, day: NaiveDate, minute: u32) -> DateTime<Utc> {
    if minute >= 24 * 60 {
        return midnight(tz, day + Duration::days(1));
    }
    let local = day.and_hms_opt(0, 0, 0).expect("midnight") + Duration::minutes(i64::from(minute));
    earliest_instant(tz, local)
}

/// The windows of the rules that cover `day`, merged where they overlap or touch, as instants
/// clipped to `[from, to)`; empty ones dropped.
pub fn windows_on(
    tz: Tz,
    rules: &[OpeningRule],
    day: NaiveDate,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Range> {
    let mut local: Vec<(u32, u32)> = rules
        .iter()
        .filter(|r| r.covers(day))
        .map(|r| (r.start_minute, r.end_minute))
        .collect();
    local.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(local.len());
    for (start, end) in local {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
        .into_iter()
        .filter_map(|(start, end)| {
            let start = at_minute(tz, day, start).max(from);
            let end = at_minute(tz, day, end).min(to);
            (start < end).then_some(Range::new(start, end))
        })
        .collect()
}

/// Busy time merged: overlapping or touching appointments become one range. `busy` is sorted
/// by start.
fn merged_busy(busy: &[Busy]) -> Vec<Range> {
    let mut runs: Vec<Range> = Vec::new();
    for &(start, end) in busy {
        match runs.last_mut() {
            Some(run) if start <= run.end => run.end = run.end.max(end),
            _ => runs.push(Range::new(start, end)),
        }
    }
    runs
}

/// `window` minus `runs` (sorted, disjoint): the free parts, in order.
fn subtract(window: Range, runs: &[Range], out: &mut Vec<Range>) {
    let mut cursor = window.start;
    for run in runs {
        if run.end <= cursor {
            continue;
        }
        if run.start >= window.end {
            break;
        }
        if run.start > cursor {
            out.push(Range::new(cursor, run.start));
        }
        cursor = cursor.max(run.end);
        if cursor >= window.end {
            return;
        }
    }
    if cursor < window.end {
        out.push(Range::new(cursor, window.end));
    }
}

/// A schedule's free and busy time over `[from, to)` (see the module's description). `busy`
/// holds the resource's live appointments, sorted by start.
pub fn schedule(
    tz: Tz,
    rules: &[OpeningRule],
    busy: &[Busy],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> FreeBusy {
    let runs = merged_busy(busy);
    let mut out = FreeBusy::default();
    if from >= to {
        return out;
    }
    for day in days(tz, from, to) {
        for window in windows_on(tz, rules, day, from, to) {
            for run in &runs {
                let start = run.start.max(window.start);
                let end = run.end.min(window.end);
                if start < end {
                    out.busy.push(Range::new(start, end));
                }
            }
            subtract(window, &runs, &mut out.free);
        }
    }
    out
}

/// A clinician's free and busy time at one location over `[from, to)` (see the module's
/// description). `busy` holds the clinician's live appointments anywhere, sorted by start.
pub fn clinician(
    tz: Tz,
    rules: &[OpeningRule],
    busy: &[Busy],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> FreeBusy {
    let mut out = FreeBusy::default();
    if from >= to {
        return out;
    }
    let per_day: Vec<(Range, Vec<Range>)> = days(tz, from, to)
        .filter_map(|day| {
            let start = midnight(tz, day).max(from);
            let end = midnight(tz, day + Duration::days(1)).min(to);
            (start < end).then(|| {
                (
                    Range::new(start, end),
                    windows_on(tz, rules, day, start, end),
                )
            })
        })
        .collect();
    if per_day.iter().all(|(_, windows)| windows.is_empty()) {
        return out;
    }
    let runs = merged_busy(busy);
    for (day, windows) in per_day {
        for window in &windows {
            subtract(*window, &runs, &mut out.free);
        }
        // Busy: the day outside the windows, plus the appointments, touching ranges merged.
        let mut off: Vec<Range> = Vec::new();
        subtract(day, &windows, &mut off);
        for run in &runs {
            let start = run.start.max(day.start);
            let end = run.end.min(day.end);
            if start < end {
                off.push(Range::new(start, end));
            }
        }
        off.sort_by_key(|r| r.start);
        let mut merged: Vec<Range> = Vec::with_capacity(off.len());
        for range in off {
            match merged.last_mut() {
                Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
                _ => merged.push(range),
            }
        }
        out.busy.extend(merged);
    }
    out
}

fn offset_at(tz: Tz, at: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc()
}

/// Seconds from local midnight of the day `at` reads on the center's clock.
fn into_day(tz: Tz, at: DateTime<Utc>) -> i64 {
    (at.timestamp() + i64::from(offset_at(tz, at))).rem_euclid(86_400)
}

/// The first grid time at or after `at` (grid: multiples of `step` from local midnight).
pub fn round_up(tz: Tz, at: DateTime<Utc>, step_minutes: u32) -> DateTime<Utc> {
    let step = i64::from(step_minutes) * 60;
    let into = into_day(tz, at) * 1000 + i64::from(at.timestamp_subsec_millis());
    let step_ms = step * 1000;
    let rem = into % step_ms;
    if rem == 0 {
        return at;
    }
    let up = (into - rem + step_ms).min(86_400_000);
    at + Duration::milliseconds(up - into)
}

/// The last grid time at or before `at`.
pub fn round_down(tz: Tz, at: DateTime<Utc>, step_minutes: u32) -> DateTime<Utc> {
    let step_ms = i64::from(step_minutes) * 60_000;
    let into = into_day(tz, at) * 1000 + i64::from(at.timestamp_subsec_millis());
    at - Duration::milliseconds(into % step_ms)
}

/// Whether `at` lies on the slot grid (minute of the local day a multiple of the slot size;
/// seconds ignored as the reference does).
pub fn on_grid(tz: Tz, at: DateTime<Utc>, step_minutes: u32) -> bool {
    step_minutes == 0 || (into_day(tz, at) / 60) % i64::from(step_minutes) == 0
}

/// Each range split into whole slots of the grid; partial slots at either end dropped.
pub fn slots(tz: Tz, ranges: &[Range], step_minutes: u32) -> Vec<Range> {
    if step_minutes == 0 {
        return ranges.to_vec();
    }
    let step = Duration::minutes(i64::from(step_minutes));
    let wanted: i64 = ranges
        .iter()
        .map(|r| (r.end - r.start).num_minutes() / i64::from(step_minutes) + 1)
        .sum();
    let mut out = Vec::with_capacity(usize::try_from(wanted).unwrap_or(0));
    for range in ranges {
        let mut at = round_up(tz, range.start, step_minutes);
        let end = round_down(tz, range.end, step_minutes);
        // Stepping on instants keeps the grid through a daylight-saving change when an hour is
        // a whole number of slots, and loses no slot of a repeated hour; otherwise each step is
        // put back on the grid. Without a change inside the range, no step needs a check.
        let steady = offset_at(tz, range.start) == offset_at(tz, range.end);
        loop {
            // One addition per slot: instant arithmetic is most of this loop's cost.
            let next = at + step;
            if next > end {
                break;
            }
            out.push(Range::new(at, next));
            at = next;
            if !steady && !on_grid(tz, at, step_minutes) {
                at = round_up(tz, at, step_minutes);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{Australia::Sydney, Europe::Madrid};

    fn rule(day: Option<u8>, start: u32, end: u32) -> OpeningRule {
        OpeningRule {
            working_day: day,
            start_minute: start,
            end_minute: end,
            start_day: None,
            end_day: None,
        }
    }

    fn at(tz: Tz, text: &str) -> DateTime<Utc> {
        let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
        tz.from_local_datetime(&local)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn show(tz: Tz, ranges: &[Range]) -> Vec<String> {
        ranges
            .iter()
            .map(|r| {
                format!(
                    "{}-{}",
                    r.start.with_timezone(&tz).format("%d %H:%M"),
                    r.end.with_timezone(&tz).format("%d %H:%M")
                )
            })
            .collect()
    }

    fn busy(tz: Tz, list: &[(&str, &str)]) -> Vec<Busy> {
        list.iter().map(|(s, e)| (at(tz, s), at(tz, e))).collect()
    }

    #[test]
    fn the_seed_example_gives_two_free_ranges_and_one_busy() {
        let tz = Sydney;
        let rules = [rule(None, 9 * 60, 17 * 60 + 30)];
        let taken = busy(tz, &[("2019-02-15 10:45", "2019-02-15 11:30")]);
        let fb = schedule(
            tz,
            &rules,
            &taken,
            at(tz, "2019-02-15 00:00"),
            at(tz, "2019-02-16 00:00"),
        );
        assert_eq!(
            show(tz, &fb.free),
            ["15 09:00-15 10:45", "15 11:30-15 17:30"]
        );
        assert_eq!(show(tz, &fb.busy), ["15 10:45-15 11:30"]);
        let free_slots = slots(tz, &fb.free, 15);
        assert_eq!(free_slots.len(), 7 + 24);
        assert_eq!(show(tz, &free_slots[..1]), ["15 09:00-15 09:15"]);
        assert_eq!(
            show(tz, &free_slots[6..8]),
            ["15 10:30-15 10:45", "15 11:30-15 11:45"]
        );
    }

    #[test]
    fn adjacent_appointments_merge_and_everything_is_clipped() {
        let tz = Madrid;
        let rules = [rule(None, 0, 24 * 60)];
        let taken = busy(
            tz,
            &[
                ("2026-05-14 09:00", "2026-05-14 10:00"),
                ("2026-05-14 10:00", "2026-05-14 11:00"),
                ("2026-05-14 12:00", "2026-05-14 13:00"),
                ("2026-05-14 13:00", "2026-05-14 14:00"),
            ],
        );
        let fb = schedule(
            tz,
            &rules,
            &taken,
            at(tz, "2026-05-14 09:30"),
            at(tz, "2026-05-14 13:30"),
        );
        assert_eq!(show(tz, &fb.free), ["14 11:00-14 12:00"]);
        assert_eq!(
            show(tz, &fb.busy),
            ["14 09:30-14 11:00", "14 12:00-14 13:30"]
        );
    }

    #[test]
    fn time_outside_the_rules_is_neither_free_nor_busy() {
        let tz = Madrid;
        // Monday 9-18, Wednesday 10-17; 2026-05-11 is a Monday.
        let rules = [
            rule(Some(1), 9 * 60, 18 * 60),
            rule(Some(3), 10 * 60, 17 * 60),
        ];
        let taken = busy(tz, &[("2026-05-11 17:00", "2026-05-11 20:00")]);
        let fb = schedule(
            tz,
            &rules,
            &taken,
            at(tz, "2026-05-11 00:00"),
            at(tz, "2026-05-14 00:00"),
        );
        assert_eq!(
            show(tz, &fb.free),
            ["11 09:00-11 17:00", "13 10:00-13 17:00"]
        );
        assert_eq!(show(tz, &fb.busy), ["11 17:00-11 18:00"]);
    }

    #[test]
    fn ranges_are_not_merged_across_midnight_and_slots_drop_partial_ones() {
        let tz = Madrid;
        let rules = [rule(None, 0, 24 * 60)];
        let fb = schedule(
            tz,
            &rules,
            &[],
            at(tz, "2026-05-14 00:00"),
            at(tz, "2026-05-16 00:00"),
        );
        assert_eq!(
            show(tz, &fb.free),
            ["14 00:00-15 00:00", "15 00:00-16 00:00"]
        );
        let partial = [Range::new(
            at(tz, "2026-05-14 09:10"),
            at(tz, "2026-05-14 10:20"),
        )];
        assert_eq!(
            show(tz, &slots(tz, &partial, 15)),
            [
                "14 09:15-14 09:30",
                "14 09:30-14 09:45",
                "14 09:45-14 10:00",
                "14 10:00-14 10:15"
            ]
        );
        let four_hours = schedule(
            tz,
            &rules,
            &busy(
                tz,
                &[
                    ("2026-05-14 08:00", "2026-05-14 12:00"),
                    ("2026-05-14 16:00", "2026-05-14 20:00"),
                ],
            ),
            at(tz, "2026-05-14 00:00"),
            at(tz, "2026-05-15 00:00"),
        );
        assert_eq!(
            show(tz, &slots(tz, &four_hours.free, 240)),
            [
                "14 00:00-14 04:00",
                "14 04:00-14 08:00",
                "14 12:00-14 16:00",
                "14 20:00-15 00:00"
            ]
        );
        assert_eq!(
            show(tz, &slots(tz, &four_hours.busy, 240)),
            ["14 08:00-14 12:00", "14 16:00-14 20:00"]
        );
    }

    #[test]
    fn a_spring_change_in_madrid_shifts_and_loses_nothing() {
        let tz = Madrid;
        // 2026-03-29: 02:00 CET becomes 03:00 CEST. A 24-hour rule gives a 23-hour day.
        let rules = [rule(None, 0, 24 * 60)];
        let fb = schedule(
            tz,
            &rules,
            &[],
            at(tz, "2026-03-29 00:00"),
            at(tz, "2026-03-30 00:00"),
        );
        assert_eq!(fb.free.len(), 1);
        assert_eq!(fb.free[0].end - fb.free[0].start, Duration::hours(23));
        let cut = slots(tz, &fb.free, 60);
        assert_eq!(cut.len(), 23);
        assert!(cut.windows(2).all(|w| w[0].end == w[1].start));
        // Daytime opening hours keep their wall-clock times on both sides of the change.
        let day_rules = [rule(None, 9 * 60, 17 * 60)];
        let fb = schedule(
            tz,
            &day_rules,
            &[],
            at(tz, "2026-03-28 00:00"),
            at(tz, "2026-03-30 00:00"),
        );
        assert_eq!(
            show(tz, &fb.free),
            ["28 09:00-28 17:00", "29 09:00-29 17:00"]
        );
    }

    #[test]
    fn an_autumn_change_in_sydney_keeps_the_repeated_hour() {
        let tz = Sydney;
        // 2026-04-05: 03:00 AEDT becomes 02:00 AEST; the day lasts 25 hours.
        let rules = [rule(None, 0, 24 * 60)];
        let fb = schedule(
            tz,
            &rules,
            &[],
            at(tz, "2026-04-05 00:00"),
            at(tz, "2026-04-06 00:00"),
        );
        assert_eq!(fb.free[0].end - fb.free[0].start, Duration::hours(25));
        let cut = slots(tz, &fb.free, 30);
        assert_eq!(cut.len(), 50);
        assert!(cut.windows(2).all(|w| w[0].end == w[1].start));
    }

    #[test]
    fn a_clinician_is_busy_outside_the_roster_and_free_inside_it() {
        let tz = Madrid;
        // Roster 9-12 and 13-15 on 2026-05-28 (a Thursday) only.
        let rules = [
            OpeningRule {
                start_day: NaiveDate::from_ymd_opt(2026, 5, 28),
                end_day: NaiveDate::from_ymd_opt(2026, 5, 28),
                ..rule(None, 9 * 60, 12 * 60)
            },
            OpeningRule {
                start_day: NaiveDate::from_ymd_opt(2026, 5, 28),
                end_day: NaiveDate::from_ymd_opt(2026, 5, 28),
                ..rule(None, 13 * 60, 15 * 60)
            },
        ];
        let taken = busy(
            tz,
            &[
                ("2026-05-28 09:30", "2026-05-28 10:00"),
                ("2026-05-28 10:00", "2026-05-28 10:30"),
                ("2026-05-28 12:45", "2026-05-28 13:15"),
                ("2026-05-28 15:30", "2026-05-28 15:45"),
            ],
        );
        let fb = clinician(
            tz,
            &rules,
            &taken,
            at(tz, "2026-05-28 00:00"),
            at(tz, "2026-05-29 00:00"),
        );
        assert_eq!(
            show(tz, &fb.free),
            [
                "28 09:00-28 09:30",
                "28 10:30-28 12:00",
                "28 13:15-28 15:00"
            ]
        );
        assert_eq!(
            show(tz, &fb.busy),
            [
                "28 00:00-28 09:00",
                "28 09:30-28 10:30",
                "28 12:00-28 13:15",
                "28 15:00-29 00:00"
            ]
        );
        let wider = clinician(
            tz,
            &rules,
            &[],
            at(tz, "2026-05-27 00:00"),
            at(tz, "2026-05-29 00:00"),
        );
        assert_eq!(show(tz, &wider.busy)[0], "27 00:00-28 00:00");
        let nothing = clinician(
            tz,
            &rules,
            &[],
            at(tz, "2026-06-01 00:00"),
            at(tz, "2026-06-02 00:00"),
        );
        assert_eq!(nothing, FreeBusy::default());
    }

    #[test]
    fn the_grid_is_read_on_the_local_clock() {
        let tz = Sydney;
        assert!(on_grid(tz, at(tz, "2019-02-15 12:30"), 15));
        assert!(!on_grid(tz, at(tz, "2019-02-15 12:40"), 15));
        assert_eq!(
            round_up(tz, at(tz, "2019-02-15 23:50"), 15),
            at(tz, "2019-02-16 00:00")
        );
        assert_eq!(
            round_down(tz, at(tz, "2019-02-15 12:44"), 15),
            at(tz, "2019-02-15 12:30")
        );
    }
}
