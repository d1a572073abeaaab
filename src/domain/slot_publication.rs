//! Published slots (FHIR `Slot`): what a role (a resource at a center) offers over the coming
//! window, one slot per step of the resource's grid inside its availability, and how a new
//! computation is reconciled with what is stored.
//!
//! The rules of reconciliation ([`plan`]):
//! - a wanted slot that is not stored is created; a stored free slot that differs from the wanted
//!   one at its start is updated; one that matches is retained as it is;
//! - a stored slot that is no longer wanted is retired only when free (no live appointment
//!   overlaps it);
//! - a booked slot (busy, busy-tentative, or linked to an appointment) keeps its start, end and
//!   service types: when availability no longer asks for it as it is, it is kept and counted as
//!   a conflict. Only its booking moves it: the status and the appointment link follow the live
//!   appointments, so a cancellation frees it (and a free slot that is no longer wanted is then
//!   retired).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::slots::{OpeningRule, SlotShape, SlotWindow, slots_on_day};

/// A slot's status, as FHIR codes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SlotStatus {
    Free,
    Busy,
    BusyTentative,
    BusyUnavailable,
}

impl SlotStatus {
    pub const ALL: [SlotStatus; 4] = [
        SlotStatus::Free,
        SlotStatus::Busy,
        SlotStatus::BusyTentative,
        SlotStatus::BusyUnavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SlotStatus::Free => "free",
            SlotStatus::Busy => "busy",
            SlotStatus::BusyTentative => "busy-tentative",
            SlotStatus::BusyUnavailable => "busy-unavailable",
        }
    }

    pub fn parse(text: &str) -> Option<SlotStatus> {
        SlotStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Booked time: never retired nor reshaped by a change of availability.
    pub fn is_booked(self) -> bool {
        matches!(self, SlotStatus::Busy | SlotStatus::BusyTentative)
    }
}

/// A published slot, as stored (and as searches answer it, with the live busy time laid over).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Stable while the slot exists; never given to another slot.
    pub id: i64,
    /// The role's number (the OpenVPMS schedule id, FHIR `Schedule`/`PractitionerRole`).
    pub role: i64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The center's IANA time zone, in which the slot was computed.
    pub timezone: String,
    pub status: SlotStatus,
    /// The numbers of the activities that may be booked in it (FHIR `serviceType`), sorted.
    pub service_types: Vec<i64>,
    /// The internal id of the live appointment that overlaps it, as the worker last saw it.
    pub appointment_id: Option<String>,
    /// The generation run that last wrote it, and the availability event that run served.
    pub run_id: String,
    pub event_id: Option<String>,
    /// Counts the writes of the slot, from 1 (FHIR `meta.versionId`).
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// Service types as stored: sorted numbers joined by commas.
pub fn service_types_text(types: &[i64]) -> String {
    types
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The service types of their stored text; a part that is not a number is left out.
pub fn parse_service_types(text: &str) -> Vec<i64> {
    text.split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect()
}

/// An availability rule of the role and the activities (numbers) that may be booked in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRule {
    pub rule: OpeningRule,
    pub service_types: Vec<i64>,
}

/// A slot that availability asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub service_types: Vec<i64>,
}

/// The slots availability asks for whose start lies in `[from, to)`: per rule, one slot per
/// `step` minutes from the rule's start on the center's clock, each ending inside the rule.
/// Rules that give the same start give one slot, with the service types of both. A local time
/// that does not exist (spring) has no slot; one that exists twice (autumn) has one, at its
/// first occurrence (see [`super::slots`]).
pub fn wanted_slots(
    tz: Tz,
    rules: &[RoleRule],
    step: u32,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Wanted> {
    let mut by_start: BTreeMap<DateTime<Utc>, Wanted> = BTreeMap::new();
    if step == 0 || from >= to {
        return Vec::new();
    }
    let first_day = from.with_timezone(&tz).date_naive();
    let last_day = to.with_timezone(&tz).date_naive();
    let window = SlotWindow {
        first_day,
        last_day,
        first_day_from: 0,
        last_day_until: None,
        daily_from: None,
        daily_until: None,
        not_before: from,
    };
    let shape = SlotShape {
        duration: step,
        step,
    };
    for day in first_day.iter_days().take_while(|d| *d <= last_day) {
        for role_rule in rules.iter().filter(|r| r.rule.covers(day)) {
            for slot in slots_on_day(
                tz,
                std::slice::from_ref(&role_rule.rule),
                shape,
                &[],
                &window,
                day,
            ) {
                if slot.start >= to {
                    break;
                }
                let wanted = by_start.entry(slot.start).or_insert_with(|| Wanted {
                    start: slot.start,
                    end: slot.end,
                    service_types: Vec::new(),
                });
                wanted
                    .service_types
                    .extend(role_rule.service_types.iter().copied());
            }
        }
    }
    by_start
        .into_values()
        .map(|mut w| {
            w.service_types.sort_unstable();
            w.service_types.dedup();
            w
        })
        .collect()
}

/// A live appointment of the role's resource (at any center: a resource is in one place).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Booking {
    pub appointment_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// What a stored slot is, for the reconciliation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSlot {
    pub id: i64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: SlotStatus,
    pub service_types: Vec<i64>,
    pub appointment_id: Option<String>,
}

impl StoredSlot {
    fn is_booked(&self) -> bool {
        self.status.is_booked() || self.appointment_id.is_some()
    }
}

/// A slot's values as a run writes them (new or updated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotValues {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: SlotStatus,
    pub service_types: Vec<i64>,
    pub appointment_id: Option<String>,
}

/// A booked slot kept although availability does not ask for it as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub slot: StoredSlot,
    /// What availability asks for at the slot's start (`None`: nothing).
    pub wanted: Option<Wanted>,
    /// The live appointment that keeps it.
    pub appointment_id: Option<String>,
}

/// What a run does to the stored slots of one role.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub create: Vec<SlotValues>,
    /// Stored id and its new values.
    pub update: Vec<(i64, SlotValues)>,
    pub retire: Vec<i64>,
    /// Stored slots left as they were, being right.
    pub retained: usize,
    pub conflicts: Vec<Conflict>,
}

/// Bookings sorted by start, searched for the first one overlapping an interval.
struct Bookings<'a> {
    sorted: Vec<&'a Booking>,
    longest: Duration,
}

impl<'a> Bookings<'a> {
    fn new(bookings: &'a [Booking]) -> Self {
        let mut sorted: Vec<&Booking> = bookings.iter().collect();
        sorted.sort_by_key(|b| (b.start, b.end));
        let longest = sorted
            .iter()
            .map(|b| b.end - b.start)
            .max()
            .unwrap_or_else(Duration::zero);
        Bookings { sorted, longest }
    }

    /// The status of `[start, end)`, and the appointment that makes it busy.
    fn status(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> (SlotStatus, Option<String>) {
        let first = self
            .sorted
            .partition_point(|b| b.start < start - self.longest);
        self.sorted[first..]
            .iter()
            .take_while(|b| b.start < end)
            .find(|b| b.end > start)
            .map_or((SlotStatus::Free, None), |b| {
                (SlotStatus::Busy, Some(b.appointment_id.clone()))
            })
    }
}

/// Reconciles the stored slots of a role (those of the compared range) with the wanted ones
/// and the live bookings; see the module's rules.
pub fn plan(wanted: &[Wanted], stored: &[StoredSlot], bookings: &[Booking]) -> Plan {
    let bookings = Bookings::new(bookings);
    let wanted_at: HashMap<DateTime<Utc>, &Wanted> = wanted.iter().map(|w| (w.start, w)).collect();
    let mut out = Plan::default();
    let mut stored_starts: BTreeSet<DateTime<Utc>> = BTreeSet::new();
    for slot in stored {
        stored_starts.insert(slot.start);
        let (now_status, now_appointment) = bookings.status(slot.start, slot.end);
        let still_booked = now_status.is_booked();
        let want = wanted_at.get(&slot.start).copied();
        let follow_booking = |out: &mut Plan| {
            if (slot.status, &slot.appointment_id) != (now_status, &now_appointment) {
                out.update.push((
                    slot.id,
                    SlotValues {
                        start: slot.start,
                        end: slot.end,
                        status: now_status,
                        service_types: slot.service_types.clone(),
                        appointment_id: now_appointment.clone(),
                    },
                ));
            }
        };
        match want {
            None if !still_booked => out.retire.push(slot.id),
            None => {
                follow_booking(&mut out);
                out.conflicts.push(Conflict {
                    slot: slot.clone(),
                    wanted: None,
                    appointment_id: now_appointment.clone(),
                });
            }
            Some(want) if still_booked && slot.is_booked() => {
                follow_booking(&mut out);
                if (want.end, &want.service_types) != (slot.end, &slot.service_types) {
                    out.conflicts.push(Conflict {
                        slot: slot.clone(),
                        wanted: Some(want.clone()),
                        appointment_id: now_appointment.clone(),
                    });
                } else if (slot.status, &slot.appointment_id) == (now_status, &now_appointment) {
                    out.retained += 1;
                }
            }
            Some(want) => {
                let (status, appointment_id) = bookings.status(want.start, want.end);
                let values = SlotValues {
                    start: want.start,
                    end: want.end,
                    status,
                    service_types: want.service_types.clone(),
                    appointment_id,
                };
                if (
                    slot.end,
                    slot.status,
                    &slot.service_types,
                    &slot.appointment_id,
                ) == (
                    values.end,
                    values.status,
                    &values.service_types,
                    &values.appointment_id,
                ) {
                    out.retained += 1;
                } else {
                    out.update.push((slot.id, values));
                }
            }
        }
    }
    for want in wanted.iter().filter(|w| !stored_starts.contains(&w.start)) {
        let (status, appointment_id) = bookings.status(want.start, want.end);
        out.create.push(SlotValues {
            start: want.start,
            end: want.end,
            status,
            service_types: want.service_types.clone(),
            appointment_id,
        });
    }
    out
}

/// What a conflict's audit row says was known: the slot, what availability asks for there, and
/// the booking.
pub fn conflict_inputs(conflict: &Conflict, tz: Tz) -> String {
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    let asked = match &conflict.wanted {
        None => "no availability rule covers it".to_string(),
        Some(w) => format!(
            "availability asks for {}-{} with service types [{}]",
            local(w.start),
            local(w.end),
            service_types_text(&w.service_types)
        ),
    };
    format!(
        "slot {} {}-{} ({}) {} with service types [{}]; {}; appointment {}",
        conflict.slot.id,
        local(conflict.slot.start),
        local(conflict.slot.end),
        tz.name(),
        conflict.slot.status.as_str(),
        service_types_text(&conflict.slot.service_types),
        asked,
        conflict.appointment_id.as_deref().unwrap_or("none"),
    )
}

/// The decision recorded with a conflict.
pub const CONFLICT_DECISION: &str =
    "kept unchanged: booked time is never retired or reshaped by a change of availability";

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};
    use chrono_tz::{Australia::Sydney, Europe::Madrid};

    fn every_day(start: u32, end: u32) -> OpeningRule {
        OpeningRule {
            working_day: None,
            start_minute: start,
            end_minute: end,
            start_day: None,
            end_day: None,
        }
    }

    fn local(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, m, d, h, min, 0)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn day_of(tz: Tz, y: i32, m: u32, d: u32) -> (DateTime<Utc>, DateTime<Utc>) {
        let day = NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let start = super::super::slots::earliest_instant(tz, day.and_hms_opt(0, 0, 0).unwrap());
        let next = day.succ_opt().unwrap();
        let end = super::super::slots::earliest_instant(tz, next.and_hms_opt(0, 0, 0).unwrap());
        (start, end)
    }

    fn rule(start: u32, end: u32, types: &[i64]) -> RoleRule {
        RoleRule {
            rule: every_day(start, end),
            service_types: types.to_vec(),
        }
    }

    fn stored_of(wanted: &[Wanted]) -> Vec<StoredSlot> {
        wanted
            .iter()
            .enumerate()
            .map(|(i, w)| StoredSlot {
                id: i as i64 + 1,
                start: w.start,
                end: w.end,
                status: SlotStatus::Free,
                service_types: w.service_types.clone(),
                appointment_id: None,
            })
            .collect()
    }

    #[test]
    fn overlapping_rules_give_one_slot_per_start_with_both_service_types() {
        let (from, to) = day_of(Madrid, 2027, 6, 1);
        let got = wanted_slots(
            Madrid,
            &[rule(540, 600, &[1]), rule(540, 660, &[2])],
            30,
            from,
            to,
        );
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].service_types, vec![1, 2]);
        assert_eq!(got[3].service_types, vec![2]);
    }

    #[test]
    fn no_slot_in_the_spring_gap_and_none_doubled_in_the_autumn_hour() {
        for (tz, spring, autumn) in [
            (Madrid, (2027, 3, 28), (2027, 10, 31)),
            (Sydney, (2027, 10, 3), (2027, 4, 4)),
        ] {
            let (from, to) = day_of(tz, spring.0, spring.1, spring.2);
            let got = wanted_slots(tz, &[rule(0, 24 * 60, &[1])], 30, from, to);
            // 23 hours of 30-minute slots.
            assert_eq!(got.len(), 46, "{tz} spring");
            assert!(
                got.iter()
                    .all(|w| w.start.with_timezone(&tz).format("%H").to_string() != "02"),
                "{tz}: a slot in the missing hour"
            );
            let (from, to) = day_of(tz, autumn.0, autumn.1, autumn.2);
            let got = wanted_slots(tz, &[rule(0, 24 * 60, &[1])], 30, from, to);
            let readings: Vec<String> = got
                .iter()
                .map(|w| w.start.with_timezone(&tz).format("%H:%M").to_string())
                .collect();
            let distinct: BTreeSet<&String> = readings.iter().collect();
            assert_eq!(distinct.len(), readings.len(), "{tz} autumn: {readings:?}");
            for w in &got {
                assert_eq!(w.end - w.start, Duration::minutes(30));
            }
        }
    }

    #[test]
    fn a_second_plan_over_its_own_result_changes_nothing() {
        let (from, to) = day_of(Madrid, 2027, 6, 1);
        let wanted = wanted_slots(Madrid, &[rule(540, 720, &[1])], 30, from, to);
        let first = plan(&wanted, &[], &[]);
        assert_eq!(first.create.len(), 6);
        let again = plan(&wanted, &stored_of(&wanted), &[]);
        assert_eq!(
            (again.create.len(), again.update.len(), again.retire.len()),
            (0, 0, 0)
        );
        assert_eq!(again.retained, 6);
    }

    #[test]
    fn a_booked_slot_no_longer_wanted_is_kept_as_a_conflict_and_a_free_one_retired() {
        let (from, to) = day_of(Madrid, 2027, 6, 1);
        let before = wanted_slots(Madrid, &[rule(540, 660, &[1])], 30, from, to);
        let mut stored = stored_of(&before);
        stored[0].status = SlotStatus::Busy;
        stored[0].appointment_id = Some("A".into());
        let booking = Booking {
            appointment_id: "A".into(),
            start: stored[0].start,
            end: stored[0].end,
        };
        let after = plan(&[], &stored, std::slice::from_ref(&booking));
        assert_eq!(after.retire, vec![2, 3, 4]);
        assert_eq!(after.conflicts.len(), 1);
        assert_eq!(after.conflicts[0].slot.id, 1);
        assert!(after.update.is_empty());
        // Once cancelled, it is free, and goes.
        let cancelled = plan(&[], &stored, &[]);
        assert_eq!(cancelled.retire, vec![1, 2, 3, 4]);
        assert!(cancelled.conflicts.is_empty());
    }

    #[test]
    fn a_booked_slot_keeps_its_shape_when_the_grid_changes_and_a_free_one_follows() {
        let (from, to) = day_of(Madrid, 2027, 6, 1);
        let before = wanted_slots(Madrid, &[rule(540, 600, &[1])], 30, from, to);
        let mut stored = stored_of(&before);
        stored[0].status = SlotStatus::Busy;
        stored[0].appointment_id = Some("A".into());
        let booking = Booking {
            appointment_id: "A".into(),
            start: stored[0].start,
            end: stored[0].end,
        };
        let after = wanted_slots(Madrid, &[rule(540, 600, &[1, 2])], 20, from, to);
        let got = plan(&after, &stored, std::slice::from_ref(&booking));
        assert_eq!(got.conflicts.len(), 1, "{got:?}");
        assert!(got.update.iter().all(|(id, _)| *id != 1));
        // 09:20 and 09:40 are new; 09:20 overlaps the booking, so it is busy.
        assert_eq!(got.create.len(), 2);
        assert_eq!(got.create[0].status, SlotStatus::Busy);
        assert_eq!(got.create[1].status, SlotStatus::Free);
        // 09:30 is no longer on the grid and free: retired.
        assert_eq!(got.retire, vec![2]);
    }

    #[test]
    fn status_and_link_follow_the_bookings() {
        let (from, to) = day_of(Madrid, 2027, 6, 1);
        let wanted = wanted_slots(Madrid, &[rule(540, 600, &[1])], 30, from, to);
        let stored = stored_of(&wanted);
        let booking = Booking {
            appointment_id: "A".into(),
            start: local(Madrid, 2027, 6, 1, 9, 15),
            end: local(Madrid, 2027, 6, 1, 9, 45),
        };
        let got = plan(&wanted, &stored, std::slice::from_ref(&booking));
        assert_eq!(got.update.len(), 2, "both slots overlap the booking");
        for (_, values) in &got.update {
            assert_eq!(values.status, SlotStatus::Busy);
            assert_eq!(values.appointment_id.as_deref(), Some("A"));
        }
    }
}
