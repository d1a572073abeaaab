//! Free and busy time with the reference's semantics (`ScheduleServiceImplTestCase`,
//! `UserServiceImplTestCase`): ranges clipped to from/to, adjacent busy appointments merged,
//! `slots=true` on the schedule's grid, cancelled appointments free again, time outside
//! availability neither free nor busy, `freebusy` = both in one answer, a user's free and busy
//! time at a location, and daylight-saving changes in Madrid and Sydney (no range shifted or
//! lost).

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    ranges_are_clipped_to_from_and_to_and_to_opening_hours_and_adjacent_appointments_merge,
    ranges_are_listed_day_by_day_and_never_merged_across_midnight,
    slots_true_cuts_free_and_busy_on_the_schedule_s_grid_and_drops_partial_slots,
    a_cancelled_appointment_is_free_again_whoever_cancels_it,
    time_outside_availability_is_neither_free_nor_busy,
    a_user_is_free_where_rostered_minus_appointments_at_any_location_and_busy_elsewhere,
    a_user_without_roster_at_the_location_has_neither_free_nor_busy_time,
    madrid_spring_change_shifts_and_loses_no_range,
    madrid_autumn_change_shifts_and_loses_no_range,
    sydney_spring_change_shifts_and_loses_no_range,
    sydney_autumn_change_shifts_and_loses_no_range,
);

/// A Monday well ahead (Madrid, +01:00).
const MONDAY: &str = "2027-03-01";
const TUESDAY: &str = "2027-03-02";
const WEDNESDAY: &str = "2027-03-03";
const THURSDAY: &str = "2027-03-04";
const SUNDAY: &str = "2027-02-28";

/// Center C1 (Madrid), activities of 20, 30, 60 and 90 minutes and 4 hours; resources:
/// DAY (round the clock, 15-minute slots), OFFICE (09:00-17:00, 15-minute slots) and
/// BLOCKS (round the clock, 4-hour slots).
async fn clinic(app: &TestApp) {
    center(app, "C1", "Centro Uno", "Europe/Madrid").await;
    activity(app, "A20", "Veinte", 20).await;
    activity(app, "A30", "Treinta", 30).await;
    activity(app, "A60", "Una hora", 60).await;
    activity(app, "A90", "Hora y media", 90).await;
    activity(app, "A240", "Cuatro horas", 240).await;
    let all = ["A20", "A30", "A60", "A90"];
    resource(app, "DAY", "Day Schedule", &["C1"], 15, &all, &[]).await;
    resource(app, "OFFICE", "Office Schedule", &["C1"], 15, &all, &[]).await;
    resource(
        app,
        "BLOCKS",
        "Block Schedule",
        &["C1"],
        240,
        &["A240"],
        &[],
    )
    .await;
    open(
        app,
        &[
            Rule::daily("AV-DAY", "DAY", "C1", "00:00", "24:00"),
            Rule::daily("AV-OFFICE", "OFFICE", "C1", "09:00", "17:00"),
            Rule::daily("AV-BLOCKS", "BLOCKS", "C1", "00:00", "24:00"),
        ],
    )
    .await;
}

/// Free, busy and freebusy of a schedule between two instants (any offset), checked against
/// each other: freebusy is exactly {free, busy}. Returns (free, busy).
async fn free_busy(
    ov: &Ov<'_>,
    schedule: i64,
    from: &str,
    to: &str,
    slots: bool,
) -> (Vec<(String, String)>, Vec<(String, String)>) {
    let mut q = range_query(from, to);
    if slots {
        q.push_str("&slots=true");
    }
    let free = ov.json(&format!("schedules/{schedule}/free?{q}")).await;
    let busy = ov.json(&format!("schedules/{schedule}/busy?{q}")).await;
    let both = ov.json(&format!("schedules/{schedule}/freebusy?{q}")).await;
    assert_eq!(
        both,
        json!({"free": free, "busy": busy}),
        "freebusy = free + busy"
    );
    (ranges(&free), ranges(&busy))
}

fn m(date: &str, spans: &[(&str, &str)]) -> Vec<(String, String)> {
    same_day(MADRID, date, spans)
}

async fn ranges_are_clipped_to_from_and_to_and_to_opening_hours_and_adjacent_appointments_merge(
    backend: Backend,
) {
    let app = start(backend).await;
    clinic(&app).await;
    let ov = v2(&app);
    let c1 = ov.location_id("Centro Uno").await;
    let day = ov.schedule_id(c1, "Day Schedule").await;
    let office = ov.schedule_id(c1, "Office Schedule").await;
    for resource in ["DAY", "OFFICE"] {
        for time in ["09:00", "10:00", "12:00"] {
            soap_book(&app, resource, "A60", MONDAY, time, &[]).await;
        }
    }

    // Round the clock, queried midnight to midnight: 9-10 and 10-11 merge.
    let (free, busy) = free_busy(
        &ov,
        day,
        &at(MADRID, MONDAY, "00:00"),
        &at(MADRID, TUESDAY, "00:00"),
        false,
    )
    .await;
    assert_eq!(
        free,
        expect_ranges(
            MADRID,
            &[
                (MONDAY, "00:00", MONDAY, "09:00"),
                (MONDAY, "11:00", MONDAY, "12:00"),
                (MONDAY, "13:00", TUESDAY, "00:00"),
            ]
        )
    );
    assert_eq!(busy, m(MONDAY, &[("09:00", "11:00"), ("12:00", "13:00")]));

    // Open 09:00-17:00, queried 09:00-17:00 and 07:00-18:00: the same, clipped to opening hours.
    for (a, b) in [("09:00", "17:00"), ("07:00", "18:00")] {
        let (free, busy) = free_busy(
            &ov,
            office,
            &at(MADRID, MONDAY, a),
            &at(MADRID, MONDAY, b),
            false,
        )
        .await;
        assert_eq!(free, m(MONDAY, &[("11:00", "12:00"), ("13:00", "17:00")]));
        assert_eq!(busy, m(MONDAY, &[("09:00", "11:00"), ("12:00", "13:00")]));
    }

    // With 13:00-14:00 booked too, queried 09:30-13:30: clipped at both ends.
    soap_book(&app, "OFFICE", "A60", MONDAY, "13:00", &[]).await;
    let (free, busy) = free_busy(
        &ov,
        office,
        &at(MADRID, MONDAY, "09:30"),
        &at(MADRID, MONDAY, "13:30"),
        false,
    )
    .await;
    assert_eq!(free, m(MONDAY, &[("11:00", "12:00")]));
    assert_eq!(busy, m(MONDAY, &[("09:30", "11:00"), ("12:00", "13:30")]));

    // Sunday 22:30 to Monday 22:30: everything on Monday.
    let (free, busy) = free_busy(
        &ov,
        office,
        &at(MADRID, SUNDAY, "22:30"),
        &at(MADRID, MONDAY, "22:30"),
        false,
    )
    .await;
    assert_eq!(free, m(MONDAY, &[("11:00", "12:00"), ("14:00", "17:00")]));
    assert_eq!(busy, m(MONDAY, &[("09:00", "11:00"), ("12:00", "14:00")]));

    // The same instants in another offset give the same answer, in the center's zone.
    let (free_utc, busy_utc) = free_busy(
        &ov,
        office,
        "2027-02-28T21:30:00Z",
        "2027-03-01T21:30:00.000Z",
        false,
    )
    .await;
    assert_eq!((free_utc, busy_utc), (free, busy));
    let (free_far, _) = free_busy(
        &ov,
        office,
        "2027-03-01T05:30:00-02:00",
        "2027-03-01T20:00:00+05:30",
        false,
    )
    .await;
    // 08:30 to 15:30 Madrid.
    assert_eq!(
        free_far,
        m(MONDAY, &[("11:00", "12:00"), ("14:00", "15:30")])
    );

    // A query inside one busy range: no free time, the busy range clipped.
    let (free, busy) = free_busy(
        &ov,
        office,
        &at(MADRID, MONDAY, "09:15"),
        &at(MADRID, MONDAY, "09:45"),
        false,
    )
    .await;
    assert_eq!(free, vec![]);
    assert_eq!(busy, m(MONDAY, &[("09:15", "09:45")]));
    // No zero-length range where an appointment ends exactly at `from`.
    let (free, busy) = free_busy(
        &ov,
        office,
        &at(MADRID, MONDAY, "11:00"),
        &at(MADRID, MONDAY, "12:00"),
        false,
    )
    .await;
    assert_eq!(free, m(MONDAY, &[("11:00", "12:00")]));
    assert_eq!(busy, vec![]);
}

async fn ranges_are_listed_day_by_day_and_never_merged_across_midnight(backend: Backend) {
    let app = start(backend).await;
    clinic(&app).await;
    let ov = v2(&app);
    let c1 = ov.location_id("Centro Uno").await;
    let day = ov.schedule_id(c1, "Day Schedule").await;
    let office = ov.schedule_id(c1, "Office Schedule").await;

    let (free, busy) = free_busy(
        &ov,
        day,
        &at(MADRID, MONDAY, "00:00"),
        &at(MADRID, WEDNESDAY, "00:00"),
        false,
    )
    .await;
    assert_eq!(
        free,
        expect_ranges(
            MADRID,
            &[
                (MONDAY, "00:00", TUESDAY, "00:00"),
                (TUESDAY, "00:00", WEDNESDAY, "00:00"),
            ]
        ),
        "one range per day, not merged at midnight"
    );
    assert_eq!(busy, vec![]);

    // Appointments 23:30-24:00 and 00:00-00:30 touch, yet stay two busy ranges, one per day.
    soap_book(&app, "DAY", "A30", MONDAY, "23:30", &[]).await;
    soap_book(&app, "DAY", "A30", TUESDAY, "00:00", &[]).await;
    let (free, busy) = free_busy(
        &ov,
        day,
        &at(MADRID, MONDAY, "12:00"),
        &at(MADRID, TUESDAY, "12:00"),
        false,
    )
    .await;
    assert_eq!(
        free,
        expect_ranges(
            MADRID,
            &[
                (MONDAY, "12:00", MONDAY, "23:30"),
                (TUESDAY, "00:30", TUESDAY, "12:00"),
            ]
        )
    );
    assert_eq!(
        busy,
        expect_ranges(
            MADRID,
            &[
                (MONDAY, "23:30", TUESDAY, "00:00"),
                (TUESDAY, "00:00", TUESDAY, "00:30"),
            ]
        )
    );

    // Three office days, listed in order.
    let (free, _) = free_busy(
        &ov,
        office,
        &at(MADRID, MONDAY, "00:00"),
        &at(MADRID, THURSDAY, "00:00"),
        false,
    )
    .await;
    assert_eq!(
        free,
        expect_ranges(
            MADRID,
            &[
                (MONDAY, "09:00", MONDAY, "17:00"),
                (TUESDAY, "09:00", TUESDAY, "17:00"),
                (WEDNESDAY, "09:00", WEDNESDAY, "17:00"),
            ]
        )
    );
}

/// Consecutive `step`-minute ranges of real time from `from` to `to`, as the API writes them.
fn real_slots(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>, step: i64) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut t = from;
    while t + Duration::minutes(step) <= to {
        out.push((wire(tz, t), wire(tz, t + Duration::minutes(step))));
        t += Duration::minutes(step);
    }
    out
}

async fn slots_true_cuts_free_and_busy_on_the_schedule_s_grid_and_drops_partial_slots(
    backend: Backend,
) {
    let app = start(backend).await;
    clinic(&app).await;
    let ov = v2(&app);
    let c1 = ov.location_id("Centro Uno").await;
    let blocks = ov.schedule_id(c1, "Block Schedule").await;
    let office = ov.schedule_id(c1, "Office Schedule").await;

    // 4-hour slots, appointments 08-12 and 16-20 (the reference's case).
    soap_book(&app, "BLOCKS", "A240", MONDAY, "08:00", &[]).await;
    soap_book(&app, "BLOCKS", "A240", MONDAY, "16:00", &[]).await;
    let (from, to) = (at(MADRID, MONDAY, "00:00"), at(MADRID, TUESDAY, "00:00"));
    let (free, busy) = free_busy(&ov, blocks, &from, &to, true).await;
    assert_eq!(
        free,
        expect_ranges(
            MADRID,
            &[
                (MONDAY, "00:00", MONDAY, "04:00"),
                (MONDAY, "04:00", MONDAY, "08:00"),
                (MONDAY, "12:00", MONDAY, "16:00"),
                (MONDAY, "20:00", TUESDAY, "00:00"),
            ]
        )
    );
    assert_eq!(busy, m(MONDAY, &[("08:00", "12:00"), ("16:00", "20:00")]));
    // Without slots, the ranges.
    let (free, _) = free_busy(&ov, blocks, &from, &to, false).await;
    assert_eq!(
        free,
        expect_ranges(
            MADRID,
            &[
                (MONDAY, "00:00", MONDAY, "08:00"),
                (MONDAY, "12:00", MONDAY, "16:00"),
                (MONDAY, "20:00", TUESDAY, "00:00"),
            ]
        )
    );

    // 15-minute slots; a 20-minute appointment at 10:00 leaves 10:20-10:30 neither a free slot
    // nor a busy one: free slots resume at 10:30, the busy slot is 10:00-10:15 only.
    soap_book(&app, "OFFICE", "A20", MONDAY, "10:00", &[]).await;
    let (free, busy) = free_busy(
        &ov,
        office,
        &at(MADRID, MONDAY, "09:10"),
        &at(MADRID, MONDAY, "11:50"),
        true,
    )
    .await;
    let mut expected = slots(MADRID, MONDAY, "09:15", "10:00", 15);
    expected.extend(slots(MADRID, MONDAY, "10:30", "11:45", 15));
    assert_eq!(free, expected, "partial slots at 09:10 and 11:45 dropped");
    assert_eq!(busy, m(MONDAY, &[("10:00", "10:15")]));
    // The grid is the schedule's, from local midnight, whatever `from` is.
    let (free, _) = free_busy(
        &ov,
        office,
        &at(MADRID, MONDAY, "13:07"),
        &at(MADRID, MONDAY, "14:00"),
        true,
    )
    .await;
    assert_eq!(free, slots(MADRID, MONDAY, "13:15", "14:00", 15));
    // `slots=TRUE` is true too (a boolean query value, any case).
    let q = range_query(&at(MADRID, MONDAY, "13:00"), &at(MADRID, MONDAY, "14:00"));
    let free = ov
        .json(&format!("schedules/{office}/free?{q}&slots=TRUE"))
        .await;
    assert_eq!(ranges(&free), slots(MADRID, MONDAY, "13:00", "14:00", 15));
    // Anything else is false, never an error (a JAX-RS boolean).
    for value in ["yes", "1", "", "false"] {
        let free = ov
            .json(&format!("schedules/{office}/free?{q}&slots={value}"))
            .await;
        assert_eq!(
            ranges(&free),
            m(MONDAY, &[("13:00", "14:00")]),
            "slots={value}"
        );
    }
}

async fn a_cancelled_appointment_is_free_again_whoever_cancels_it(backend: Backend) {
    let app = start(backend).await;
    clinic(&app).await;
    let ov = v2(&app);
    let c1 = ov.location_id("Centro Uno").await;
    let office = ov.schedule_id(c1, "Office Schedule").await;
    let (from, to) = (at(MADRID, MONDAY, "09:00"), at(MADRID, MONDAY, "10:00"));

    let lid = soap_book(&app, "OFFICE", "A60", MONDAY, "09:00", &[]).await;
    let (free, busy) = free_busy(&ov, office, &from, &to, false).await;
    assert_eq!((free, busy), (vec![], m(MONDAY, &[("09:00", "10:00")])));
    soap_cancel(&app, &lid).await;
    let (free, busy) = free_busy(&ov, office, &from, &to, false).await;
    assert_eq!(
        (free, busy),
        (m(MONDAY, &[("09:00", "10:00")]), vec![]),
        "cancelled over SOAP: free at once"
    );

    // Booked again through the API and cancelled through it: free again at once.
    let a60 = ov.type_id(office, "Una hora").await;
    let reference = ov
        .book(&json!({
            "location": c1, "schedule": office, "appointmentType": a60,
            "start": from, "end": to, "firstName": "Ana", "lastName": "Gil",
            "email": "ana@example.org",
        }))
        .await;
    let (free, busy) = free_busy(&ov, office, &from, &to, false).await;
    assert_eq!((free, busy), (vec![], m(MONDAY, &[("09:00", "10:00")])));
    assert_eq!(
        ov.delete(&format!("bookings/{reference}")).await.status,
        204
    );
    let (free, busy) = free_busy(&ov, office, &from, &to, true).await;
    assert_eq!(free, slots(MADRID, MONDAY, "09:00", "10:00", 15));
    assert_eq!(busy, vec![]);
}

async fn time_outside_availability_is_neither_free_nor_busy(backend: Backend) {
    let app = start(backend).await;
    center(&app, "C1", "Centro Uno", "Europe/Madrid").await;
    activity(&app, "A60", "Una hora", 60).await;
    resource(&app, "WEEK", "Week Schedule", &["C1"], 15, &["A60"], &[]).await;
    // Monday 09-18, Tuesday closed, Wednesday 10-12 and 13-17 (two rules, a gap at lunch).
    open(
        &app,
        &[
            Rule::daily("AV-MON", "WEEK", "C1", "09:00", "18:00").weekday(1),
            Rule::daily("AV-WED1", "WEEK", "C1", "10:00", "12:00").weekday(3),
            Rule::daily("AV-WED2", "WEEK", "C1", "13:00", "17:00").weekday(3),
        ],
    )
    .await;
    let ov = v2(&app);
    let c1 = ov.location_id("Centro Uno").await;
    let week = ov.schedule_id(c1, "Week Schedule").await;
    let (from, to) = (at(MADRID, MONDAY, "00:00"), at(MADRID, THURSDAY, "00:00"));
    let (free, busy) = free_busy(&ov, week, &from, &to, false).await;
    assert_eq!(
        free,
        expect_ranges(
            MADRID,
            &[
                (MONDAY, "09:00", MONDAY, "18:00"),
                (WEDNESDAY, "10:00", WEDNESDAY, "12:00"),
                (WEDNESDAY, "13:00", WEDNESDAY, "17:00"),
            ]
        )
    );
    assert_eq!(busy, vec![], "closed time is not busy");

    // An appointment at the end of Wednesday's morning: busy 11-12, and lunch stays nothing.
    soap_book(&app, "WEEK", "A60", WEDNESDAY, "11:00", &[]).await;
    let (free, busy) = free_busy(
        &ov,
        week,
        &at(MADRID, WEDNESDAY, "00:00"),
        &at(MADRID, THURSDAY, "00:00"),
        false,
    )
    .await;
    assert_eq!(
        free,
        m(WEDNESDAY, &[("10:00", "11:00"), ("13:00", "17:00")])
    );
    assert_eq!(busy, m(WEDNESDAY, &[("11:00", "12:00")]));
    // A closed day alone: nothing at all.
    let (free, busy) = free_busy(
        &ov,
        week,
        &at(MADRID, TUESDAY, "00:00"),
        &at(MADRID, WEDNESDAY, "00:00"),
        true,
    )
    .await;
    assert_eq!((free, busy), (vec![], vec![]));

    // An appointment that reaches past the window once the clinic shortens the day (17:00-18:00
    // booked, then Monday ends at 17:30): busy only inside the window, nothing after it.
    soap_book(&app, "WEEK", "A60", MONDAY, "17:00", &[]).await;
    open(
        &app,
        &[Rule::daily("AV-MON", "WEEK", "C1", "09:00", "17:30").weekday(1)],
    )
    .await;
    let (free, busy) = free_busy(
        &ov,
        week,
        &at(MADRID, MONDAY, "00:00"),
        &at(MADRID, TUESDAY, "00:00"),
        false,
    )
    .await;
    assert_eq!(free, m(MONDAY, &[("09:00", "17:00")]));
    assert_eq!(busy, m(MONDAY, &[("17:00", "17:30")]));
}

/// A user's free/busy at a location: (free, busy) as (start, end, schedule) triples.
async fn user_free_busy(
    ov: &Ov<'_>,
    user: i64,
    location: i64,
    from: &str,
    to: &str,
) -> (Vec<(String, String, i64)>, Vec<(String, String, i64)>) {
    let q = range_query(from, to);
    let base = format!("users/{user}/locations/{location}");
    let free = ov.json(&format!("{base}/free?{q}")).await;
    let busy = ov.json(&format!("{base}/busy?{q}")).await;
    let both = ov.json(&format!("{base}/freebusy?{q}")).await;
    assert_eq!(
        both,
        json!({"user": user, "free": free, "busy": busy}),
        "freebusy = user + free + busy"
    );
    let triples = |list: &Value| {
        list.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["start"].as_str().unwrap().to_string(),
                    r["end"].as_str().unwrap().to_string(),
                    r["schedule"]
                        .as_i64()
                        .expect("each range names its schedule"),
                )
            })
            .collect::<Vec<_>>()
    };
    (triples(&free), triples(&busy))
}

fn on_schedule(ranges: Vec<(String, String)>, schedule: i64) -> Vec<(String, String, i64)> {
    ranges.into_iter().map(|(a, b)| (a, b, schedule)).collect()
}

/// A clinician at C1 and C2 (both Madrid), rostered at C1 on Monday 09-12 and 13-15 only, and
/// at C2 on Monday 12:00-13:30 and 15:30-16:00.
async fn rostered_clinician(app: &TestApp) {
    center(app, "C1", "Centro Uno", "Europe/Madrid").await;
    center(app, "C2", "Centro Dos", "Europe/Madrid").await;
    activity(app, "A15", "Quince", 15).await;
    activity(app, "A30", "Treinta", 30).await;
    clinician(app, "DR", "Zoë", "Peña", &["C1", "C2"], &["A15", "A30"]).await;
    let once = |lid, center, start, end| Rule {
        lid,
        resource: "DR",
        center,
        weekday: None,
        start,
        end,
        first_day: Some(MONDAY),
        last_day: Some(MONDAY),
    };
    open(
        app,
        &[
            once("R1", "C1", "09:00", "12:00"),
            once("R2", "C1", "13:00", "15:00"),
            once("R3", "C2", "12:00", "13:30"),
            once("R4", "C2", "15:30", "16:00"),
        ],
    )
    .await;
}

async fn a_user_is_free_where_rostered_minus_appointments_at_any_location_and_busy_elsewhere(
    backend: Backend,
) {
    let app = start(backend).await;
    rostered_clinician(&app).await;
    let ov = v2(&app);
    let c1 = ov.location_id("Centro Uno").await;
    let user = ov.user_id(c1, "Zoë Peña").await;
    let schedule = ov.schedule_id(c1, "Zoë Peña").await;

    // Rostered on Monday only, queried Sunday to Wednesday: free Monday 09-12 and 13-15; busy
    // the whole of Sunday and Tuesday, and Monday around the roster, day by day.
    let (free, busy) = user_free_busy(
        &ov,
        user,
        c1,
        &at(MADRID, SUNDAY, "00:00"),
        &at(MADRID, WEDNESDAY, "00:00"),
    )
    .await;
    assert_eq!(
        free,
        on_schedule(
            m(MONDAY, &[("09:00", "12:00"), ("13:00", "15:00")]),
            schedule
        )
    );
    assert_eq!(
        busy,
        on_schedule(
            expect_ranges(
                MADRID,
                &[
                    (SUNDAY, "00:00", MONDAY, "00:00"),
                    (MONDAY, "00:00", MONDAY, "09:00"),
                    (MONDAY, "12:00", MONDAY, "13:00"),
                    (MONDAY, "15:00", TUESDAY, "00:00"),
                    (TUESDAY, "00:00", WEDNESDAY, "00:00"),
                ]
            ),
            schedule
        )
    );

    // Appointments 09:30-10:00 and 10:00-10:30 at C1, 12:45-13:15 and 15:30-15:45 at C2 (the
    // reference's case): the user is busy at C1 during those at C2 too.
    soap_book(
        &app,
        "DR",
        "A30",
        MONDAY,
        "09:30",
        &[("LOCATION_LID", "C1")],
    )
    .await;
    soap_book(
        &app,
        "DR",
        "A30",
        MONDAY,
        "10:00",
        &[("LOCATION_LID", "C1")],
    )
    .await;
    soap_book(
        &app,
        "DR",
        "A30",
        MONDAY,
        "12:45",
        &[("LOCATION_LID", "C2")],
    )
    .await;
    soap_book(
        &app,
        "DR",
        "A15",
        MONDAY,
        "15:30",
        &[("LOCATION_LID", "C2")],
    )
    .await;
    let (free, busy) = user_free_busy(
        &ov,
        user,
        c1,
        &at(MADRID, MONDAY, "00:00"),
        &at(MADRID, TUESDAY, "00:00"),
    )
    .await;
    assert_eq!(
        free,
        on_schedule(
            m(
                MONDAY,
                &[("09:00", "09:30"), ("10:30", "12:00"), ("13:15", "15:00")]
            ),
            schedule
        )
    );
    assert_eq!(
        busy,
        on_schedule(
            expect_ranges(
                MADRID,
                &[
                    (MONDAY, "00:00", MONDAY, "09:00"),
                    (MONDAY, "09:30", MONDAY, "10:30"),
                    (MONDAY, "12:00", MONDAY, "13:15"),
                    (MONDAY, "15:00", TUESDAY, "00:00"),
                ]
            ),
            schedule
        )
    );
    // Clipped to from/to.
    let (free, busy) = user_free_busy(
        &ov,
        user,
        c1,
        &at(MADRID, MONDAY, "09:45"),
        &at(MADRID, MONDAY, "11:00"),
    )
    .await;
    assert_eq!(
        free,
        on_schedule(m(MONDAY, &[("10:30", "11:00")]), schedule)
    );
    assert_eq!(
        busy,
        on_schedule(m(MONDAY, &[("09:45", "10:30")]), schedule)
    );
}

async fn a_user_without_roster_at_the_location_has_neither_free_nor_busy_time(backend: Backend) {
    let app = start(backend).await;
    rostered_clinician(&app).await;
    let ov = v2(&app);
    let c1 = ov.location_id("Centro Uno").await;
    let user = ov.user_id(c1, "Zoë Peña").await;
    // Not rostered anywhere on Tuesday and Wednesday.
    let (free, busy) = user_free_busy(
        &ov,
        user,
        c1,
        &at(MADRID, TUESDAY, "00:00"),
        &at(MADRID, THURSDAY, "00:00"),
    )
    .await;
    assert_eq!((free, busy), (vec![], vec![]));
}

// ---------------------------------------------------------------------------------------------
// Daylight-saving changes

struct DstCase {
    tz: Tz,
    zone: &'static str,
    /// The day of the change.
    day: &'static str,
    before: &'static str,
    after: &'static str,
    /// The day's real length in hours (23 or 25).
    hours: i64,
}

/// Round the clock (30-minute slots) and office hours (09:00-17:00), with a 90-minute
/// appointment from 01:30 (across the change) and a 60-minute one at 10:00 on the change day:
/// every range lasts its real time, carries the offset of its own instant, and none is lost.
async fn dst(backend: Backend, case: DstCase) {
    let app = start(backend).await;
    center(&app, "C1", "Centro", case.zone).await;
    activity(&app, "A60", "Una hora", 60).await;
    activity(&app, "A90", "Hora y media", 90).await;
    resource(
        &app,
        "DAY",
        "Day Schedule",
        &["C1"],
        30,
        &["A60", "A90"],
        &[],
    )
    .await;
    resource(
        &app,
        "OFFICE",
        "Office Schedule",
        &["C1"],
        30,
        &["A60"],
        &[],
    )
    .await;
    open(
        &app,
        &[
            Rule::daily("AV-DAY", "DAY", "C1", "00:00", "24:00"),
            Rule::daily("AV-OFFICE", "OFFICE", "C1", "09:00", "17:00"),
        ],
    )
    .await;
    let tz = case.tz;
    let ov = v2(&app);
    let c1 = ov.location_id("Centro").await;
    let day_schedule = ov.schedule_id(c1, "Day Schedule").await;
    let office = ov.schedule_id(c1, "Office Schedule").await;
    let midnight = local(tz, case.day, "00:00").with_timezone(&Utc);
    let next_midnight = local(tz, case.after, "00:00").with_timezone(&Utc);
    assert_eq!(
        (next_midnight - midnight).num_hours(),
        case.hours,
        "the test's own premise"
    );

    // Nothing booked: the whole change day is one free range of its real length.
    let (free, busy) = free_busy(
        &ov,
        day_schedule,
        &wire(tz, midnight),
        &wire(tz, next_midnight),
        false,
    )
    .await;
    assert_eq!(free, vec![(wire(tz, midnight), wire(tz, next_midnight))]);
    assert_eq!(busy, vec![]);
    // In slots: every 30 real minutes, none lost, none doubled, none shortened.
    let (free, _) = free_busy(
        &ov,
        day_schedule,
        &wire(tz, midnight),
        &wire(tz, next_midnight),
        true,
    )
    .await;
    assert_eq!(free, real_slots(tz, midnight, next_midnight, 30));
    assert_eq!(free.len() as i64, case.hours * 2);

    // A 90-minute appointment from 01:30, across the change, and one at 10:00.
    soap_book(&app, "DAY", "A90", case.day, "01:30", &[]).await;
    soap_book(&app, "OFFICE", "A60", case.day, "10:00", &[]).await;
    let start = local(tz, case.day, "01:30").with_timezone(&Utc);
    let end = start + Duration::minutes(90);
    let (free, busy) = free_busy(
        &ov,
        day_schedule,
        &wire(tz, midnight),
        &wire(tz, next_midnight),
        false,
    )
    .await;
    assert_eq!(
        busy,
        vec![(wire(tz, start), wire(tz, end))],
        "90 real minutes"
    );
    assert_eq!(
        free,
        vec![
            (wire(tz, midnight), wire(tz, start)),
            (wire(tz, end), wire(tz, next_midnight)),
        ]
    );
    let (free, busy) = free_busy(
        &ov,
        day_schedule,
        &wire(tz, midnight),
        &wire(tz, next_midnight),
        true,
    )
    .await;
    assert_eq!(busy, real_slots(tz, start, end, 30));
    let mut expected = real_slots(tz, midnight, start, 30);
    expected.extend(real_slots(tz, end, next_midnight, 30));
    assert_eq!(free, expected);

    // Office hours on the days around the change: 09:00-17:00 each day on its own offset.
    let (free, busy) = free_busy(
        &ov,
        office,
        &at(tz, case.before, "00:00"),
        &at(tz, case.after, "23:59"),
        false,
    )
    .await;
    assert_eq!(
        free,
        vec![
            (at(tz, case.before, "09:00"), at(tz, case.before, "17:00")),
            (at(tz, case.day, "09:00"), at(tz, case.day, "10:00")),
            (at(tz, case.day, "11:00"), at(tz, case.day, "17:00")),
            (at(tz, case.after, "09:00"), at(tz, case.after, "17:00")),
        ]
    );
    assert_eq!(
        busy,
        vec![(at(tz, case.day, "10:00"), at(tz, case.day, "11:00"))]
    );
    assert_ne!(
        at(tz, case.before, "09:00")[23..],
        at(tz, case.after, "09:00")[23..],
        "the offsets differ on either side of the change"
    );

    // The user (the same resources) at the location: the same day, the same real lengths.
    let user = ov.user_id(c1, "Day Schedule").await;
    let (free, _) =
        user_free_busy(&ov, user, c1, &wire(tz, midnight), &wire(tz, next_midnight)).await;
    assert_eq!(
        free,
        vec![
            (wire(tz, midnight), wire(tz, start), day_schedule),
            (wire(tz, end), wire(tz, next_midnight), day_schedule),
        ]
    );
}

async fn madrid_spring_change_shifts_and_loses_no_range(backend: Backend) {
    dst(
        backend,
        DstCase {
            tz: MADRID,
            zone: "Europe/Madrid",
            day: "2027-03-28",
            before: "2027-03-27",
            after: "2027-03-29",
            hours: 23,
        },
    )
    .await;
}

async fn madrid_autumn_change_shifts_and_loses_no_range(backend: Backend) {
    dst(
        backend,
        DstCase {
            tz: MADRID,
            zone: "Europe/Madrid",
            day: "2027-10-31",
            before: "2027-10-30",
            after: "2027-11-01",
            hours: 25,
        },
    )
    .await;
}

async fn sydney_spring_change_shifts_and_loses_no_range(backend: Backend) {
    dst(
        backend,
        DstCase {
            tz: SYDNEY,
            zone: "Australia/Sydney",
            day: "2027-10-03",
            before: "2027-10-02",
            after: "2027-10-04",
            hours: 23,
        },
    )
    .await;
}

async fn sydney_autumn_change_shifts_and_loses_no_range(backend: Backend) {
    dst(
        backend,
        DstCase {
            tz: SYDNEY,
            zone: "Australia/Sydney",
            day: "2027-04-04",
            before: "2027-04-03",
            after: "2027-04-05",
            hours: 25,
        },
    )
    .await;
}
