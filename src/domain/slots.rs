//! Free slots of one resource, computed on the center's wall clock.
//!
//! A slot starts on the grid `rule start + k × step` of an availability rule, in local time, on
//! a day the rule covers; it lasts `duration` real minutes, ends inside the rule and overlaps no
//! busy interval. Daylight-saving changes: a local start that does not exist (spring gap) is
//! skipped; a local start that exists twice (autumn) is offered once, at its first occurrence,
//! so no two slots read the same on the clock; durations are real minutes, so a 30-minute slot
//! across the change lasts 30 minutes and its end reads as the clock shows then.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;

/// One availability rule of the resource at the center, in local wall-clock terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpeningRule {
    /// 0 = Sunday .. 6 = Saturday; `None`: every day.
    pub working_day: Option<u8>,
    pub start_minute: u32,
    pub end_minute: u32,
    pub start_day: Option<NaiveDate>,
    pub end_day: Option<NaiveDate>,
}

impl OpeningRule {
    /// True when the rule applies on `day` (its weekday and its date range).
    pub fn covers(&self, day: NaiveDate) -> bool {
        let weekday = day.weekday().num_days_from_sunday() as u8;
        self.working_day.is_none_or(|d| d == weekday)
            && self.start_day.is_none_or(|s| day >= s)
            && self.end_day.is_none_or(|e| day <= e)
    }
}

/// What a search asks for, in the center's local terms plus one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotWindow {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// Slots on the first day start at or after this local minute.
    pub first_day_from: u32,
    /// Slots on the last day start before this local minute.
    pub last_day_until: Option<u32>,
    /// Every day, slots start at or after this local minute...
    pub daily_from: Option<u32>,
    /// ...and before this one.
    pub daily_until: Option<u32>,
    /// No slot starts before this instant (now plus the booking lead time).
    pub not_before: DateTime<Utc>,
}

/// How long a slot is and how far apart slot starts are, in minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotShape {
    pub duration: u32,
    pub step: u32,
}

/// A free slot: real instants, and the rule it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub rule: usize,
}

/// A free slot in Unix seconds, as the scan finds it: only the slots a search keeps become
/// [`Slot`]s (the conversion to a date is most of a slot's cost otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnixSlot {
    pub start: i64,
    pub end: i64,
    pub rule: usize,
}

impl UnixSlot {
    pub fn slot(&self) -> Slot {
        Slot {
            start: from_unix(self.start),
            end: from_unix(self.end),
            rule: self.rule,
        }
    }
}

/// An instant during which the resource is taken, `[start, end)`.
pub type Busy = (DateTime<Utc>, DateTime<Utc>);

/// The earliest instant that reads `local` on the clock, or, inside a spring gap, the first
/// instant after it.
pub fn earliest_instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    resolve(tz, local, true)
}

/// The latest instant that reads `local`, or the first after a gap.
pub fn latest_instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    resolve(tz, local, false)
}

fn resolve(tz: Tz, local: NaiveDateTime, earliest: bool) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, second) => {
            if earliest { first } else { second }.with_timezone(&Utc)
        }
        LocalResult::None => {
            // Gaps are at most a few hours; walk forward to the first minute that exists.
            let mut probe = local;
            for _ in 0..(24 * 60) {
                probe += Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            Utc.from_utc_datetime(&local)
        }
    }
}

fn at_minute(day: NaiveDate, minute: u32) -> NaiveDateTime {
    day.and_hms_opt(0, 0, 0).expect("midnight exists") + Duration::minutes(i64::from(minute))
}

/// One day on one center's clock, prepared once for every resource searched on it.
#[derive(Clone, Copy, Debug)]
pub struct DayClock {
    tz: Tz,
    day: NaiveDate,
    /// UTC midnight's Unix time when the clock keeps one offset all day (most days): each start
    /// is then a sum, without asking the time zone.
    steady_midnight: Option<i64>,
}

impl DayClock {
    pub fn new(tz: Tz, day: NaiveDate) -> Self {
        // The same unambiguous offset at both midnights: no change that day (a change and its
        // reversal within one day do not occur).
        let offset_at = |local: NaiveDateTime| {
            tz.offset_from_local_datetime(&local)
                .single()
                .map(|o| i64::from(o.fix().local_minus_utc()))
        };
        let steady_midnight = match (
            offset_at(at_minute(day, 0)),
            offset_at(at_minute(day, 24 * 60)),
        ) {
            (Some(start), Some(end)) if start == end => {
                Some(at_minute(day, 0).and_utc().timestamp() - start)
            }
            _ => None,
        };
        DayClock {
            tz,
            day,
            steady_midnight,
        }
    }

    pub fn day(&self) -> NaiveDate {
        self.day
    }

    /// The Unix time at which the clock reads `minute` of the day: its first reading when the
    /// hour is read twice (`earliest`) or its last; `None` inside a spring gap.
    fn instant(&self, minute: u32, earliest: bool) -> Option<i64> {
        if let Some(midnight) = self.steady_midnight {
            return Some(midnight + 60 * i64::from(minute));
        }
        match self.tz.from_local_datetime(&at_minute(self.day, minute)) {
            LocalResult::Single(t) => Some(t.timestamp()),
            LocalResult::Ambiguous(first, last) => {
                Some(if earliest { first } else { last }.timestamp())
            }
            LocalResult::None => None,
        }
    }

    /// How the clock reads a Unix time of its day, worked out without the time zone on a day
    /// with one offset; `None` otherwise (ask [`local_reading`]).
    pub fn reading(&self, unix: i64) -> Option<(NaiveDate, u32)> {
        let since_midnight = unix - self.steady_midnight?;
        (0..24 * 60 * 60)
            .contains(&since_midnight)
            .then_some((self.day, (since_midnight / 60) as u32))
    }

    /// The latest Unix time that reads `minute`, or the first after a gap (see
    /// [`latest_instant`]).
    fn latest(&self, minute: u32) -> i64 {
        match self.steady_midnight {
            Some(midnight) => midnight + 60 * i64::from(minute),
            None => latest_instant(self.tz, at_minute(self.day, minute)).timestamp(),
        }
    }
}

/// Unix time, whole seconds, rounded up: `ceil(t) > s` exactly when `t > s` for a whole `s`.
fn seconds_up(t: DateTime<Utc>) -> i64 {
    t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
}

/// Busy time met in order of start by a scan whose candidates only move later: an interval
/// `[start, end)` overlaps some busy one exactly when the latest end among those starting before
/// `end` is after `start`. Each busy interval is read once per scan.
struct BusyScan<'a> {
    busy: &'a [Busy],
    next: usize,
    latest_end: i64,
}

impl<'a> BusyScan<'a> {
    fn new(busy: &'a [Busy]) -> Self {
        BusyScan {
            busy,
            next: 0,
            latest_end: i64::MIN,
        }
    }

    /// `start` and `end` never smaller than at the previous call.
    fn overlaps(&mut self, start: i64, end: i64) -> bool {
        while let Some((s, e)) = self.busy.get(self.next) {
            if s.timestamp() >= end {
                break;
            }
            self.latest_end = self.latest_end.max(seconds_up(*e));
            self.next += 1;
        }
        self.latest_end > start
    }
}

fn from_unix(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).expect("a slot lies within chrono's range")
}

/// The free slots of one day, ordered by start, without two at one instant.
pub fn slots_on_day(
    tz: Tz,
    rules: &[OpeningRule],
    shape: SlotShape,
    busy: &[Busy],
    window: &SlotWindow,
    day: NaiveDate,
) -> Vec<Slot> {
    let clock = DayClock::new(tz, day);
    let mut slots = Vec::new();
    slots_on_day_until(&clock, rules, shape, busy, window, None, &mut slots);
    slots.iter().map(UnixSlot::slot).collect()
}

/// [`slots_on_day`] into `slots` (emptied first), in Unix seconds, without the slots that start
/// after `until` (a search that already holds enough earlier ones). A rule's starts only grow
/// with its local minutes (an hour read twice counts at its first occurrence), so its scan stops
/// at the first start past `until`.
pub fn slots_on_day_until(
    clock: &DayClock,
    rules: &[OpeningRule],
    shape: SlotShape,
    busy: &[Busy],
    window: &SlotWindow,
    until: Option<i64>,
    slots: &mut Vec<UnixSlot>,
) {
    let day = clock.day;
    slots.clear();
    if day < window.first_day || day > window.last_day || shape.step == 0 {
        return;
    }
    let duration = 60 * i64::from(shape.duration);
    let not_before = seconds_up(window.not_before);
    for (index, rule) in rules.iter().enumerate().filter(|(_, r)| r.covers(day)) {
        let rule_end = clock.latest(rule.end_minute);
        let mut taken = BusyScan::new(busy);
        let mut minute = rule.start_minute;
        while minute < rule.end_minute {
            let this = minute;
            minute += shape.step;
            if day == window.first_day && this < window.first_day_from {
                continue;
            }
            if day == window.last_day && window.last_day_until.is_some_and(|until| this >= until) {
                break;
            }
            if window.daily_from.is_some_and(|from| this < from) {
                continue;
            }
            if window.daily_until.is_some_and(|until| this >= until) {
                break;
            }
            let Some(start) = clock.instant(this, true) else {
                continue;
            };
            if until.is_some_and(|until| start > until) {
                break;
            }
            let end = start + duration;
            if end > rule_end {
                break;
            }
            if taken.overlaps(start, end) || start < not_before {
                continue;
            }
            slots.push(UnixSlot {
                start,
                end,
                rule: index,
            });
        }
    }
    slots.sort_by_key(|s| (s.start, s.rule));
    slots.dedup_by_key(|s| s.start);
}

/// Reads an instant as the center's clock shows it: (date, minute of the day).
pub fn local_reading(tz: Tz, instant: DateTime<Utc>) -> (NaiveDate, u32) {
    let local = instant.with_timezone(&tz).naive_local();
    let minute = local
        .time()
        .signed_duration_since(chrono::NaiveTime::MIN)
        .num_minutes() as u32;
    (local.date(), minute)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{Australia::Sydney, Europe::Madrid};

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn every_day(start: u32, end: u32) -> OpeningRule {
        OpeningRule {
            working_day: None,
            start_minute: start,
            end_minute: end,
            start_day: None,
            end_day: None,
        }
    }

    fn window(first: NaiveDate, last: NaiveDate) -> SlotWindow {
        SlotWindow {
            first_day: first,
            last_day: last,
            first_day_from: 0,
            last_day_until: None,
            daily_from: None,
            daily_until: None,
            not_before: Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap(),
        }
    }

    fn readings(tz: Tz, slots: &[Slot]) -> Vec<(String, String)> {
        let show = |t: DateTime<Utc>| t.with_timezone(&tz).format("%H:%M").to_string();
        slots.iter().map(|s| (show(s.start), show(s.end))).collect()
    }

    fn shape(duration: u32, step: u32) -> SlotShape {
        SlotShape { duration, step }
    }

    #[test]
    fn slots_follow_the_grid_and_fit_inside_the_rule() {
        let d = day(2026, 6, 1);
        let slots = slots_on_day(
            Madrid,
            &[every_day(540, 630)],
            shape(30, 20),
            &[],
            &window(d, d),
            d,
        );
        // 10:20 would end at 10:50, after the rule.
        assert_eq!(
            readings(Madrid, &slots),
            vec![
                ("09:00".into(), "09:30".into()),
                ("09:20".into(), "09:50".into()),
                ("09:40".into(), "10:10".into()),
                ("10:00".into(), "10:30".into()),
            ]
        );
    }

    #[test]
    fn busy_time_blocks_every_overlapping_slot() {
        let d = day(2026, 6, 1);
        let start = earliest_instant(Madrid, at_minute(d, 600));
        let busy = [(start, start + Duration::minutes(30))];
        let slots = slots_on_day(
            Madrid,
            &[every_day(540, 720)],
            shape(15, 15),
            &busy,
            &window(d, d),
            d,
        );
        let starts: Vec<String> = readings(Madrid, &slots)
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert!(starts.contains(&"09:45".to_string()));
        for taken in ["10:00", "10:15"] {
            assert!(
                !starts.contains(&taken.to_string()),
                "{taken} overlaps the 10:00-10:30 booking"
            );
        }
        assert!(starts.contains(&"10:30".to_string()));
    }

    #[test]
    fn madrid_spring_forward_skips_the_missing_hour() {
        // 29 March 2026: 02:00 CET jumps to 03:00 CEST.
        let d = day(2026, 3, 29);
        let slots = slots_on_day(
            Madrid,
            &[every_day(60, 300)],
            shape(30, 30),
            &[],
            &window(d, d),
            d,
        );
        let got = readings(Madrid, &slots);
        assert!(got.iter().all(|(s, _)| !s.starts_with("02:")), "{got:?}");
        assert!(
            got.contains(&("01:30".into(), "03:00".into())),
            "01:30 + 30 real minutes reads 03:00: {got:?}"
        );
        assert!(got.contains(&("03:00".into(), "03:30".into())));
        for slot in &slots {
            assert_eq!(slot.end - slot.start, Duration::minutes(30));
        }
    }

    #[test]
    fn madrid_fall_back_offers_each_clock_time_once_and_never_shortens() {
        // 25 October 2026: 03:00 CEST goes back to 02:00 CET.
        let d = day(2026, 10, 25);
        let slots = slots_on_day(
            Madrid,
            &[every_day(60, 300)],
            shape(30, 30),
            &[],
            &window(d, d),
            d,
        );
        let got = readings(Madrid, &slots);
        let mut starts: Vec<&String> = got.iter().map(|(s, _)| s).collect();
        let total = starts.len();
        starts.dedup();
        assert_eq!(
            starts.len(),
            total,
            "a clock time is offered twice: {got:?}"
        );
        for slot in &slots {
            assert_eq!(
                slot.end - slot.start,
                Duration::minutes(30),
                "shortened slot in {got:?}"
            );
        }
        assert!(
            got.contains(&("02:30".into(), "02:00".into())),
            "the first 02:30 ends on the repeated 02:00: {got:?}"
        );
    }

    #[test]
    fn sydney_changes_the_other_way_round() {
        // 4 October 2026: 02:00 AEST jumps to 03:00 AEDT. 5 April 2026: 03:00 AEDT back to 02:00.
        let spring = day(2026, 10, 4);
        let slots = slots_on_day(
            Sydney,
            &[every_day(60, 240)],
            shape(60, 60),
            &[],
            &window(spring, spring),
            spring,
        );
        assert_eq!(
            readings(Sydney, &slots),
            vec![
                ("01:00".into(), "03:00".into()),
                ("03:00".into(), "04:00".into())
            ]
        );
        let autumn = day(2026, 4, 5);
        let slots = slots_on_day(
            Sydney,
            &[every_day(60, 240)],
            shape(60, 60),
            &[],
            &window(autumn, autumn),
            autumn,
        );
        let got = readings(Sydney, &slots);
        assert_eq!(
            got.iter().filter(|(s, _)| s == "02:00").count(),
            1,
            "{got:?}"
        );
        for slot in &slots {
            assert_eq!(slot.end - slot.start, Duration::hours(1));
        }
    }

    #[test]
    fn the_window_filters_first_day_last_day_and_daily_hours() {
        let (first, last) = (day(2026, 6, 1), day(2026, 6, 3));
        let rules = [every_day(480, 720)];
        let mut w = window(first, last);
        w.first_day_from = 600;
        w.last_day_until = Some(540);
        w.daily_from = Some(510);
        w.daily_until = Some(660);
        let first_day = readings(
            Madrid,
            &slots_on_day(Madrid, &rules, shape(30, 30), &[], &w, first),
        );
        assert_eq!(first_day.first().unwrap().0, "10:00");
        assert_eq!(first_day.last().unwrap().0, "10:30");
        let middle = readings(
            Madrid,
            &slots_on_day(Madrid, &rules, shape(30, 30), &[], &w, day(2026, 6, 2)),
        );
        assert_eq!(middle.first().unwrap().0, "08:30");
        assert_eq!(middle.last().unwrap().0, "10:30");
        let last_day = readings(
            Madrid,
            &slots_on_day(Madrid, &rules, shape(30, 30), &[], &w, last),
        );
        assert_eq!(last_day, vec![("08:30".into(), "09:00".into())]);
    }

    #[test]
    fn rules_apply_on_their_weekday_and_dates_only() {
        let monday = day(2026, 6, 1);
        let rule = OpeningRule {
            working_day: Some(1),
            start_minute: 540,
            end_minute: 600,
            start_day: Some(monday),
            end_day: Some(monday),
        };
        let w = window(monday, day(2026, 6, 8));
        assert_eq!(
            slots_on_day(
                Madrid,
                std::slice::from_ref(&rule),
                shape(30, 30),
                &[],
                &w,
                monday
            )
            .len(),
            2
        );
        assert!(
            slots_on_day(
                Madrid,
                std::slice::from_ref(&rule),
                shape(30, 30),
                &[],
                &w,
                day(2026, 6, 2)
            )
            .is_empty()
        );
        assert!(slots_on_day(Madrid, &[rule], shape(30, 30), &[], &w, day(2026, 6, 8)).is_empty());
    }

    #[test]
    fn nothing_starts_before_the_lead_time() {
        let d = day(2026, 6, 1);
        let mut w = window(d, d);
        w.not_before = earliest_instant(Madrid, at_minute(d, 600));
        let slots = slots_on_day(Madrid, &[every_day(540, 660)], shape(30, 30), &[], &w, d);
        assert_eq!(readings(Madrid, &slots)[0].0, "10:00");
    }

    #[test]
    fn a_steady_day_is_read_without_the_time_zone_as_the_time_zone_reads_it() {
        for (tz, d) in [(Madrid, day(2026, 6, 1)), (Sydney, day(2026, 6, 1))] {
            let clock = DayClock::new(tz, d);
            for minute in (0..24 * 60).step_by(7) {
                let instant = earliest_instant(tz, at_minute(d, minute));
                assert_eq!(
                    clock.reading(instant.timestamp()),
                    Some(local_reading(tz, instant)),
                    "{tz} {d} minute {minute}"
                );
            }
            // The next midnight belongs to the next day: left to the time zone.
            let next = earliest_instant(tz, at_minute(d, 24 * 60));
            assert_eq!(clock.reading(next.timestamp()), None);
        }
        // A day with a change is always left to the time zone.
        for (tz, d) in [(Madrid, day(2026, 3, 29)), (Sydney, day(2026, 4, 5))] {
            let noon = earliest_instant(tz, at_minute(d, 12 * 60));
            assert_eq!(DayClock::new(tz, d).reading(noon.timestamp()), None);
        }
    }

    #[test]
    fn a_bound_keeps_exactly_the_slots_up_to_it() {
        for (tz, d) in [
            (Madrid, day(2026, 6, 1)),
            (Madrid, day(2026, 3, 29)),
            (Madrid, day(2026, 10, 25)),
            (Sydney, day(2026, 4, 5)),
        ] {
            let rules = [every_day(0, 1440), every_day(60, 300)];
            let all = slots_on_day(tz, &rules, shape(30, 15), &[], &window(d, d), d);
            for bound in &all {
                let mut kept = Vec::new();
                slots_on_day_until(
                    &DayClock::new(tz, d),
                    &rules,
                    shape(30, 15),
                    &[],
                    &window(d, d),
                    Some(bound.start.timestamp()),
                    &mut kept,
                );
                let kept: Vec<Slot> = kept.iter().map(UnixSlot::slot).collect();
                let expected: Vec<Slot> = all
                    .iter()
                    .filter(|s| s.start <= bound.start)
                    .cloned()
                    .collect();
                assert_eq!(kept, expected, "{tz} {d} up to {}", bound.start);
            }
        }
    }

    #[test]
    fn a_long_appointment_blocks_every_slot_it_covers_whatever_starts_inside_it() {
        let d = day(2026, 6, 1);
        let at = |h: u32, m: u32, s: u32| {
            Madrid
                .with_ymd_and_hms(2026, 6, 1, h, m, s)
                .unwrap()
                .with_timezone(&Utc)
        };
        // A long one, a short one inside it, and one ending a fraction of a second past 13:00.
        let busy = [
            (at(9, 0, 0), at(12, 0, 0)),
            (at(9, 30, 0), at(9, 45, 0)),
            (at(12, 30, 0), at(13, 0, 0) + Duration::milliseconds(1)),
        ];
        let rules = [every_day(8 * 60, 14 * 60)];
        let slots = slots_on_day(Madrid, &rules, shape(30, 15), &busy, &window(d, d), d);
        let starts: Vec<String> = readings(Madrid, &slots).into_iter().map(|r| r.0).collect();
        assert_eq!(
            starts,
            ["08:00", "08:15", "08:30", "12:00", "13:15", "13:30"],
            "free only before 09:00, from 12:00 to 12:30, and after 13:00"
        );
    }

    #[test]
    fn overlapping_rules_do_not_duplicate_slots() {
        let d = day(2026, 6, 1);
        let slots = slots_on_day(
            Madrid,
            &[every_day(540, 600), every_day(540, 660)],
            shape(30, 30),
            &[],
            &window(d, d),
            d,
        );
        assert_eq!(readings(Madrid, &slots).len(), 4);
    }
}
