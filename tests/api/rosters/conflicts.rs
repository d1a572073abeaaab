//! A shift shortened or removed while patients are booked in the time it loses: the
//! appointments stay, and a conflict names each appointment, the shift, and since when, until
//! an operator marks it resolved.

use rendez::app::rosters::{self, ChangeOutcome};
use rendez::domain::roster::ConflictCause;

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;

/// `/metrics`'s figure of open conflicts.
async fn open_conflicts(scene: &Scene) -> f64 {
    let text = crate::helpers::scrape(&scene.app).await;
    assert!(text.contains("rendez_roster_open_conflicts "), "{text}");
    crate::helpers::sample(&text, "rendez_roster_open_conflicts")
}

backend_tests!(shortening_or_removing_a_booked_shift_keeps_the_appointments_and_records_conflicts,);

async fn shortening_or_removing_a_booked_shift_keeps_the_appointments_and_records_conflicts(
    backend: Backend,
) {
    let scene = quiet_scene(backend, "30days").await;
    clinic(&scene).await;
    let day = weekday_ahead(3);
    let added = scene
        .add_shift(shift("R1", "C1", day, "09:00", "17:00", &[]))
        .await;
    let (result, morning) = try_book(&scene.app, "R1", day, "09:30").await;
    assert_eq!(result, "OK", "{morning}");
    let (result, afternoon) = try_book(&scene.app, "R1", day, "15:00").await;
    assert_eq!(result, "OK", "{afternoon}");
    let op = operator();
    assert!(
        rosters::conflicts(&scene.core, &op, true)
            .await
            .unwrap()
            .is_empty()
    );

    // Shortened to the morning: the 15:00 appointment is left outside, and stays.
    let changed = rosters::change(
        &scene.core,
        &op,
        &added.id,
        shift("R1", "C1", day, "09:00", "12:00", &[]),
        Some(added.version),
    )
    .await
    .unwrap();
    let ChangeOutcome::Done(changed) = changed else {
        panic!("{changed:?}")
    };
    assert_eq!(changed.conflicts, vec![afternoon.clone()]);
    assert_eq!(changed.shift.version, added.version + 1);
    let open = rosters::conflicts(&scene.core, &op, true).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open_conflicts(&scene).await, 1.0);
    assert_eq!(open[0].appointment_id, afternoon);
    assert_eq!(open[0].shift_id, added.id);
    assert_eq!(open[0].cause, ConflictCause::Shortened);
    assert_eq!(
        (open[0].resource_lid.as_str(), open[0].center_lid.as_str()),
        ("R1", "C1")
    );
    let check = scene
        .app
        .soap(
            &crate::helpers::Auth::admin(),
            "checkAppointment",
            &format!("<APP_LID>{afternoon}</APP_LID>"),
        )
        .await;
    assert!(
        !check.body.contains("CANCEL"),
        "the appointment stays: {}",
        check.body
    );

    // A stale version changes nothing.
    let stale = rosters::remove(&scene.core, &op, &added.id, Some(added.version))
        .await
        .unwrap();
    assert_eq!(
        stale,
        ChangeOutcome::Stale {
            current: added.version + 1
        }
    );

    // Removed: the morning appointment too; the afternoon one is not recorded twice.
    let removed = rosters::remove(&scene.core, &op, &added.id, None)
        .await
        .unwrap();
    let ChangeOutcome::Done(removed) = removed else {
        panic!("{removed:?}")
    };
    assert!(removed.removed);
    assert_eq!(removed.conflicts, vec![morning.clone()]);
    let open = rosters::conflicts(&scene.core, &op, true).await.unwrap();
    assert_eq!(open.len(), 2, "{open:?}");
    assert_eq!(open_conflicts(&scene).await, 2.0);
    let by_morning = open.iter().find(|c| c.appointment_id == morning).unwrap();
    assert_eq!(by_morning.cause, ConflictCause::Removed);

    // Resolved: no longer open, still listed with --all; twice is refused.
    rosters::resolve_conflict(&scene.core, &op, &by_morning.id)
        .await
        .unwrap();
    let open = rosters::conflicts(&scene.core, &op, true).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        open_conflicts(&scene).await,
        1.0,
        "a resolved one is not open"
    );
    let all = rosters::conflicts(&scene.core, &op, false).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().any(|c| c.resolved_by.is_some()));
    let err = rosters::resolve_conflict(&scene.core, &op, &by_morning.id)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already resolved"), "{err}");
    let err = rosters::resolve_conflict(&scene.core, &op, "nope")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not known"), "{err}");
    // The removed shift is gone from the list, and cannot be removed again.
    let err = rosters::remove(&scene.core, &op, &added.id, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not known"), "{err}");
}
