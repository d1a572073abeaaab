//! A shift opens its clinician on every edge: SOAP searchAvailabilities and addAppointment,
//! the OpenVPMS free/busy answer and the published slots; its lunch break is closed; a
//! daylight-saving day's shift lasts its real hours.

use chrono::NaiveDate;
use rendez::app::rosters;
use rendez::domain::slot_publication::SlotStatus;

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;
use crate::slots::local;

backend_tests!(
    a_shift_opens_its_clinician_to_soap_searches_and_bookings_but_not_in_its_lunch_break,
    the_openvpms_free_time_follows_the_shift_and_leaves_out_its_lunch_break,
    published_slots_follow_a_shift_and_its_removal,
    a_shift_on_the_day_the_clocks_go_forward_skips_the_missing_hour,
);

async fn a_shift_opens_its_clinician_to_soap_searches_and_bookings_but_not_in_its_lunch_break(
    backend: Backend,
) {
    let scene = quiet_scene(backend, "30days").await;
    clinic(&scene).await;
    let day = weekday_ahead(3);
    // No rules, no shift: nothing to offer.
    assert!(soap_times(&scene.app, "R1", day).await.is_empty());

    // The seed's gap: a shift whose lunch patients must not be booked into.
    let added = scene
        .add_shift(shift(
            "R1",
            "C1/Surgery",
            day,
            "09:00",
            "17:00",
            &[("12:30", "13:30")],
        ))
        .await;
    assert_eq!(added.area.as_deref(), Some("Surgery"));
    let found = soap_starts(&scene.app, "R1", day).await;
    let starts: Vec<String> = found.iter().map(|(t, _)| t.clone()).collect();
    let mut expected = times("09:00", "12:30", 30);
    expected.extend(times("13:30", "17:00", 30));
    assert_eq!(starts, expected, "the shift minus its lunch break");
    for (_, lid) in &found {
        assert_eq!(lid, &format!("roster:{}", added.id));
    }
    // R2 has no shift: still nothing.
    assert!(soap_times(&scene.app, "R2", day).await.is_empty());
    // Another day: nothing.
    assert!(
        soap_times(&scene.app, "R1", day.succ_opt().unwrap())
            .await
            .is_empty()
    );

    // Booked in the shift: yes; in the lunch break or after the shift: no.
    let (result, app_lid) = try_book(&scene.app, "R1", day, "13:30").await;
    assert_eq!(result, "OK", "{app_lid}");
    for refused in ["12:30", "13:00", "17:00"] {
        let (result, body) = try_book(&scene.app, "R1", day, refused).await;
        assert_ne!(result, "OK", "{refused} was booked: {body}");
    }
    let starts = soap_times(&scene.app, "R1", day).await;
    assert!(!starts.contains(&"13:30".to_string()), "{starts:?}");
}

async fn the_openvpms_free_time_follows_the_shift_and_leaves_out_its_lunch_break(backend: Backend) {
    use crate::openvpms::{PORTAL, PORTAL_PASSWORD, ranges, same_day, v2};
    let scene = quiet_scene(backend, "30days").await;
    scene
        .app
        .add_client(PORTAL, PORTAL_PASSWORD, "booking", "", false);
    clinic(&scene).await;
    let day = weekday_ahead(4);
    scene
        .add_shift(shift(
            "R1",
            "C1",
            day,
            "09:00",
            "17:00",
            &[("12:30", "13:30")],
        ))
        .await;
    let (result, body) = try_book(&scene.app, "R1", day, "10:00").await;
    assert_eq!(result, "OK", "{body}");

    let ov = v2(&scene.app);
    let c1 = ov.location_id("C1").await;
    let schedule = ov.schedule_id(c1, "R1").await;
    let iso_day = day.format("%Y-%m-%d").to_string();
    let next = day.succ_opt().unwrap().format("%Y-%m-%d").to_string();
    let q = crate::openvpms::range_query(
        &crate::openvpms::at(MADRID, &iso_day, "00:00"),
        &crate::openvpms::at(MADRID, &next, "00:00"),
    );
    let free = ov.json(&format!("schedules/{schedule}/free?{q}")).await;
    let busy = ov.json(&format!("schedules/{schedule}/busy?{q}")).await;
    assert_eq!(
        ranges(&free),
        same_day(
            MADRID,
            &iso_day,
            &[("09:00", "10:00"), ("10:30", "12:30"), ("13:30", "17:00")]
        ),
        "free: the shift minus the booking and the lunch break"
    );
    assert_eq!(
        ranges(&busy),
        same_day(MADRID, &iso_day, &[("10:00", "10:30")])
    );
}

async fn published_slots_follow_a_shift_and_its_removal(backend: Backend) {
    let scene = quiet_scene(backend, "30days").await;
    clinic(&scene).await;
    scene.publish().await;
    let day = weekday_ahead(5);
    let added = scene
        .add_shift(shift(
            "R1",
            "C1",
            day,
            "09:00",
            "12:00",
            &[("10:00", "10:30")],
        ))
        .await;
    scene.publish().await;
    let role = scene.role("R1", "C1");
    let free_on_day = |slots: &[rendez::domain::slot_publication::Slot]| -> Vec<String> {
        let mut starts: Vec<String> = slots
            .iter()
            .filter(|s| s.status == SlotStatus::Free)
            .filter(|s| s.start.with_timezone(&MADRID).date_naive() == day)
            .map(|s| local(MADRID, s.start))
            .collect();
        starts.sort();
        starts
    };
    assert_eq!(
        free_on_day(&scene.slots_of(role).await),
        ["09:00", "09:30", "10:30", "11:00", "11:30"],
        "published in the shift, not in its break"
    );

    let removed = rosters::remove(&scene.core, &operator(), &added.id, None)
        .await
        .unwrap();
    assert!(matches!(removed, rosters::ChangeOutcome::Done(_)));
    settle().await;
    scene.publish().await;
    assert!(
        free_on_day(&scene.slots_of(role).await).is_empty(),
        "the removed shift's slots are retired"
    );
}

async fn a_shift_on_the_day_the_clocks_go_forward_skips_the_missing_hour(backend: Backend) {
    let scene = quiet_scene(backend, "30days").await;
    clinic(&scene).await;
    // 28 March 2027 in Madrid: 02:00 jumps to 03:00.
    let day = NaiveDate::from_ymd_opt(2027, 3, 28).unwrap();
    // A time in the gap does not exist: refused, naming the problem.
    let err = rosters::add(
        &scene.core,
        &operator(),
        shift("R1", "C1", day, "02:30", "06:00", &[]),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");

    let added = scene
        .add_shift(shift("R1", "C1", day, "00:00", "06:00", &[]))
        .await;
    assert_eq!(
        added.times.end() - added.times.start(),
        chrono::Duration::hours(5),
        "six hours on the clock, five real hours"
    );
    let starts = soap_times(&scene.app, "R1", day).await;
    let mut expected = times("00:00", "02:00", 30);
    expected.extend(times("03:00", "06:00", 30));
    assert_eq!(starts, expected, "no slot in the missing hour");
    let listed = rosters::list(
        &scene.core,
        &operator(),
        rosters::ShiftQuery {
            from: Some(day),
            to: Some(day),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let view = rosters::ShiftView::of(&listed[0]);
    assert_eq!(
        (view.start.as_str(), view.end.as_str()),
        ("2027-03-28T00:00", "2027-03-28T06:00")
    );
}
