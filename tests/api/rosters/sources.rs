//! Where a resource's availability comes from: its rules, its roster, or both (their
//! intersection); by default the roster for a clinician with shifts or a Deputy employee, the
//! rules otherwise. Set by `app::rosters::set_source` (the CLI, the admin API) or by the
//! master-data push's AVAILABILITY_SOURCE, which old clients simply do not send.

use rendez::app::rosters;
use rendez::domain::roster::AvailabilitySource;

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    rules_roster_and_both_decide_what_searches_offer,
    the_master_data_push_sets_the_source_and_refuses_an_unknown_one,
);

async fn rules_roster_and_both_decide_what_searches_offer(backend: Backend) {
    let scene = quiet_scene(backend, "30days").await;
    clinic(&scene).await;
    let day = weekday_ahead(3);
    let other_day = weekday_ahead(10);
    scene.open(&[Rule::daily("AV-R1", "08:00", "12:00")]).await;
    // Rules alone: no shift, no Deputy employee.
    assert_eq!(
        soap_times(&scene.app, "R1", day).await,
        times("08:00", "12:00", 30)
    );
    let view = rosters::source(&scene.core, &operator(), "R1")
        .await
        .unwrap();
    assert_eq!(
        (view.said, view.effective),
        (None, AvailabilitySource::Rules)
    );

    // A shift makes the roster the default: the shift's hours that day, nothing on others.
    scene
        .add_shift(shift("R1", "C1", day, "10:00", "14:00", &[]))
        .await;
    assert_eq!(
        soap_times(&scene.app, "R1", day).await,
        times("10:00", "14:00", 30)
    );
    assert!(soap_times(&scene.app, "R1", other_day).await.is_empty());
    let view = rosters::source(&scene.core, &operator(), "R1")
        .await
        .unwrap();
    assert_eq!(
        (view.said, view.effective),
        (None, AvailabilitySource::Roster)
    );

    // Both: only when the rules and the shift agree.
    let set = async |source| {
        let view = rosters::set_source(&scene.core, &operator(), "R1", source).await;
        settle().await;
        view
    };
    let view = set(Some(AvailabilitySource::Both)).await.unwrap();
    assert_eq!(view.effective, AvailabilitySource::Both);
    assert_eq!(
        soap_times(&scene.app, "R1", day).await,
        times("10:00", "12:00", 30)
    );
    assert!(soap_times(&scene.app, "R1", other_day).await.is_empty());

    // Rules, though rostered.
    set(Some(AvailabilitySource::Rules)).await.unwrap();
    assert_eq!(
        soap_times(&scene.app, "R1", day).await,
        times("08:00", "12:00", 30)
    );
    assert_eq!(
        soap_times(&scene.app, "R1", other_day).await,
        times("08:00", "12:00", 30)
    );

    // Back to the default: the roster again.
    let view = set(None).await.unwrap();
    assert_eq!(
        (view.said, view.effective),
        (None, AvailabilitySource::Roster)
    );
    assert_eq!(
        soap_times(&scene.app, "R1", day).await,
        times("10:00", "14:00", 30)
    );

    // A Deputy employee makes the roster the default even without a shift.
    scene
        .open(&[Rule::daily("AV-R2", "08:00", "09:00").of("R2", "C1")])
        .await;
    assert_eq!(
        soap_times(&scene.app, "R2", day).await,
        times("08:00", "09:00", 30)
    );
    rosters::map_employee(&scene.core, &operator(), "R2", 42)
        .await
        .unwrap();
    settle().await;
    assert!(soap_times(&scene.app, "R2", day).await.is_empty());

    // An unknown resource is named.
    let err = rosters::set_source(&scene.core, &operator(), "NOPE", None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown resource 'NOPE'"), "{err}");
}

async fn the_master_data_push_sets_the_source_and_refuses_an_unknown_one(backend: Backend) {
    let scene = quiet_scene(backend, "30days").await;
    clinic(&scene).await;
    let day = weekday_ahead(3);
    scene.open(&[Rule::daily("AV-R1", "08:00", "12:00")]).await;
    scene
        .add_shift(shift("R1", "C1", day, "10:00", "14:00", &[]))
        .await;
    let push = async |source: &'static str| {
        scene
            .app
            .push_key_entities(
                &[&[("RESOURCE_LID", "R1"), ("AVAILABILITY_SOURCE", source)]],
                false,
            )
            .await
    };
    let reply = push("both").await;
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    assert_eq!(
        soap_times(&scene.app, "R1", day).await,
        times("10:00", "12:00", 30)
    );
    let reply = push("rules").await;
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    assert_eq!(
        soap_times(&scene.app, "R1", day).await,
        times("08:00", "12:00", 30)
    );
    // A row without the field (an old client) leaves the source as it is.
    let reply = scene
        .app
        .push_key_entities(
            &[&[("RESOURCE_LID", "R1"), ("RESOURCE_FIRST_NAME", "Renamed")]],
            false,
        )
        .await;
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    let view = rosters::source(&scene.core, &operator(), "R1")
        .await
        .unwrap();
    assert_eq!(view.said, Some(AvailabilitySource::Rules));
    // An unknown source is a row error naming the field; nothing changes.
    let reply = push("sometimes").await;
    assert!(
        reply.body.contains("AVAILABILITY_SOURCE"),
        "the refusal names the field: {}",
        reply.body
    );
    let view = rosters::source(&scene.core, &operator(), "R1")
        .await
        .unwrap();
    assert_eq!(view.said, Some(AvailabilitySource::Rules));
    let reply = push("default").await;
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    let view = rosters::source(&scene.core, &operator(), "R1")
        .await
        .unwrap();
    assert_eq!(
        (view.said, view.effective),
        (None, AvailabilitySource::Roster)
    );
}
