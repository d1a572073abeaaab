//! Deputy's rosters taken in by Deputy's ids (what the sync's polls and webhooks call):
//! unmapped employees and units are sync errors that name them, cleared once the roster is
//! taken in; a replay changes nothing; an older `Modified` never undoes a newer state; a
//! removal keeps the shift as removed; Deputy's id of a pushed shift is kept.

use chrono::{Duration, TimeZone, Utc};
use rendez::app::rosters::{self, DeputyApplied, DeputyRoster, ExternalOutcome};
use rendez::domain::roster::{Origin, Span, SyncSubject};

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(deputy_rosters_are_taken_in_by_id_and_errors_name_what_is_unmapped,);

async fn deputy_rosters_are_taken_in_by_id_and_errors_name_what_is_unmapped(backend: Backend) {
    let scene = quiet_scene(backend, "30days").await;
    clinic(&scene).await;
    let op = operator();
    let day = weekday_ahead(4);
    let at = |hhmm: &str| {
        let time = chrono::NaiveTime::parse_from_str(hhmm, "%H:%M").unwrap();
        MADRID
            .from_local_datetime(&day.and_time(time))
            .unwrap()
            .with_timezone(&Utc)
    };
    let modified = Utc::now() - Duration::minutes(10);
    let roster = DeputyRoster {
        roster_id: 9001,
        employee_id: 77,
        unit_id: 5,
        start: at("09:00"),
        end: at("17:00"),
        breaks: vec![Span {
            start: at("12:30"),
            end: at("13:30"),
        }],
        modified,
    };

    // Unmapped employee: refused, the error names it.
    let applied = rosters::apply_deputy(&scene.core, &op, roster.clone())
        .await
        .unwrap();
    let DeputyApplied::Refused(reason) = applied else {
        panic!("{applied:?}")
    };
    assert!(reason.contains("employee 77"), "{reason}");
    rosters::map_employee(&scene.core, &op, "R1", 77)
        .await
        .unwrap();
    // Unmapped unit next.
    let applied = rosters::apply_deputy(&scene.core, &op, roster.clone())
        .await
        .unwrap();
    let DeputyApplied::Refused(reason) = applied else {
        panic!("{applied:?}")
    };
    assert!(reason.contains("operational unit 5"), "{reason}");
    let errors = rosters::sync_errors(&scene.core, &op, true).await.unwrap();
    assert_eq!(errors.len(), 1, "one open error per roster: {errors:?}");
    assert_eq!(errors[0].subject, "deputy:9001");
    assert_eq!(errors[0].occurrences, 2);
    assert!(errors[0].reason.contains("operational unit 5"));

    // Mapped: taken in, the error cleared.
    rosters::map_area(&scene.core, &op, "C1/Consults".parse().unwrap(), 5)
        .await
        .unwrap();
    let applied = rosters::apply_deputy(&scene.core, &op, roster.clone())
        .await
        .unwrap();
    let DeputyApplied::Applied(ExternalOutcome::Created(id)) = applied else {
        panic!("{applied:?}")
    };
    assert!(
        rosters::sync_errors(&scene.core, &op, true)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        rosters::sync_errors(&scene.core, &op, false)
            .await
            .unwrap()
            .len(),
        1
    );
    let taken = rosters::get(&scene.core, &op, &id).await.unwrap();
    assert_eq!(taken.origin, Origin::Deputy);
    assert_eq!(taken.deputy_roster_id, Some(9001));
    assert_eq!(taken.area.as_deref(), Some("Consults"));
    settle().await;
    let starts = soap_times(&scene.app, "R1", day).await;
    let mut expected = times("09:00", "12:30", 30);
    expected.extend(times("13:30", "17:00", 30));
    assert_eq!(starts, expected, "Deputy's breaks are closed too");

    // The same event again: nothing changes.
    let again = rosters::apply_deputy(&scene.core, &op, roster.clone())
        .await
        .unwrap();
    assert_eq!(
        again,
        DeputyApplied::Applied(ExternalOutcome::Unchanged(id.clone()))
    );
    assert_eq!(
        rosters::get(&scene.core, &op, &id).await.unwrap().version,
        1
    );

    // A newer change shortens it; an older one arriving late does not undo it.
    let newer = DeputyRoster {
        end: at("12:00"),
        breaks: vec![],
        modified: modified + Duration::minutes(5),
        ..roster.clone()
    };
    let applied = rosters::apply_deputy(&scene.core, &op, newer)
        .await
        .unwrap();
    assert!(
        matches!(
            applied,
            DeputyApplied::Applied(ExternalOutcome::Updated { .. })
        ),
        "{applied:?}"
    );
    let late = DeputyRoster {
        modified: modified + Duration::minutes(1),
        ..roster.clone()
    };
    let applied = rosters::apply_deputy(&scene.core, &op, late).await.unwrap();
    assert_eq!(
        applied,
        DeputyApplied::Applied(ExternalOutcome::Stale(id.clone()))
    );
    let held = rosters::get(&scene.core, &op, &id).await.unwrap();
    assert_eq!(held.times.end(), at("12:00"));
    assert_eq!(held.version, 2);

    // Impossible times: a sync error, the shift untouched.
    let bad = DeputyRoster {
        end: at("08:00"),
        modified: modified + Duration::minutes(9),
        ..roster.clone()
    };
    let applied = rosters::apply_deputy(&scene.core, &op, bad).await.unwrap();
    let DeputyApplied::Refused(reason) = applied else {
        panic!("{applied:?}")
    };
    assert!(reason.contains("invalid times"), "{reason}");
    assert_eq!(
        rosters::get(&scene.core, &op, &id).await.unwrap().version,
        2
    );

    // Removed by Deputy: kept as removed; an unknown roster is unknown.
    let removed = rosters::remove_deputy(
        &scene.core,
        &op,
        9001,
        Some(modified + Duration::minutes(10)),
    )
    .await
    .unwrap();
    assert!(
        matches!(removed, ExternalOutcome::Removed { .. }),
        "{removed:?}"
    );
    let again = rosters::remove_deputy(&scene.core, &op, 9001, None)
        .await
        .unwrap();
    assert_eq!(again, ExternalOutcome::Unchanged(id.clone()));
    assert_eq!(
        rosters::remove_deputy(&scene.core, &op, 1, None)
            .await
            .unwrap(),
        ExternalOutcome::Unknown
    );
    assert!(
        rosters::get(&scene.core, &op, &id)
            .await
            .unwrap()
            .removed_at
            .is_some()
    );

    // A shift made in Rendez, pushed: Deputy's id is kept, its version stays.
    let ours = scene
        .add_shift(super::shift("R2", "C1", day, "09:00", "10:00", &[]))
        .await;
    rosters::keep_deputy_id(&scene.core, &op, &ours.id, 9100, Some(Utc::now()))
        .await
        .unwrap();
    let held = rosters::get(&scene.core, &op, &ours.id).await.unwrap();
    assert_eq!((held.deputy_roster_id, held.version), (Some(9100), 1));
    assert_eq!(held.origin, Origin::Rendez);

    // Sync errors recorded and cleared by subject.
    let subject = SyncSubject::Shift(ours.id.clone());
    rosters::record_sync_error(&scene.core, &op, subject.clone(), "Deputy said no")
        .await
        .unwrap();
    assert!(
        rosters::sync_errors(&scene.core, &op, true)
            .await
            .unwrap()
            .iter()
            .any(|e| e.shift_id.as_deref() == Some(ours.id.as_str()))
    );
    assert!(
        rosters::clear_sync_error(&scene.core, &op, subject.clone())
            .await
            .unwrap()
    );
    assert!(
        !rosters::clear_sync_error(&scene.core, &op, subject)
            .await
            .unwrap()
    );
}
