//! Who may read and change rosters: the admin role; a change needs the center in the edit
//! scope, a read its view scope; a shift outside the view scope is as if unknown.

use rendez::app::Caller;
use rendez::app::rosters::{self, ShiftQuery};
use rendez::error::Error;

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(an_out_of_scope_center_is_refused_and_a_view_only_caller_cannot_change,);

fn limited(edit: &str, view: &str) -> Caller {
    Caller {
        id: format!("id-{edit}-{view}"),
        name: "limited".into(),
        roles: "admin".parse().unwrap(),
        centers: edit.parse().unwrap(),
        view: view.parse().unwrap(),
    }
}

async fn an_out_of_scope_center_is_refused_and_a_view_only_caller_cannot_change(backend: Backend) {
    let scene = quiet_scene(backend, "30days").await;
    clinic(&scene).await;
    scene.clinic("C2", "Europe/Madrid", &["R3"]).await;
    let day = weekday_ahead(3);
    let at_c1 = scene
        .add_shift(shift("R1", "C1", day, "09:00", "12:00", &[]))
        .await;
    let at_c2 = scene
        .add_shift(shift("R3", "C2", day, "09:00", "12:00", &[]))
        .await;

    // Edits C2 only, sees both.
    let c2_editor = limited("C2", "C1,C2");
    let refused = rosters::add(
        &scene.core,
        &c2_editor,
        shift("R1", "C1", day, "13:00", "14:00", &[]),
    )
    .await
    .unwrap_err();
    assert!(matches!(refused, Error::Forbidden(_)), "{refused:?}");
    assert!(refused.to_string().contains("C1"), "{refused}");
    let refused = rosters::remove(&scene.core, &c2_editor, &at_c1.id, None)
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Forbidden(_)), "{refused:?}");
    let listed = rosters::list(&scene.core, &c2_editor, ShiftQuery::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 2, "it sees both centers");
    rosters::add(
        &scene.core,
        &c2_editor,
        shift("R3", "C2", day, "13:00", "14:00", &[]),
    )
    .await
    .expect("its own center");

    // Sees C2 only: C1's shift is unknown to it, and C1 cannot be listed.
    let c2_only = limited("C2", "C2");
    let listed = rosters::list(&scene.core, &c2_only, ShiftQuery::default())
        .await
        .unwrap();
    assert!(listed.iter().all(|s| s.center_lid == "C2"), "{listed:?}");
    let hidden = rosters::get(&scene.core, &c2_only, &at_c1.id)
        .await
        .unwrap_err();
    assert!(matches!(hidden, Error::NotFound(_)), "{hidden:?}");
    let refused = rosters::list(
        &scene.core,
        &c2_only,
        ShiftQuery {
            center_lid: Some("C1".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(refused, Error::Forbidden(_)), "{refused:?}");
    let refused = rosters::map_area(&scene.core, &c2_only, "C1".parse().unwrap(), 7)
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Forbidden(_)), "{refused:?}");
    // Sync errors span every center: a limited caller may not read them.
    assert!(
        rosters::sync_errors(&scene.core, &c2_only, true)
            .await
            .is_err()
    );

    // Views C1 without editing it: reads, cannot change.
    let viewer = limited("C2", "C1");
    rosters::get(&scene.core, &viewer, &at_c1.id)
        .await
        .expect("it may read");
    let refused = rosters::change(
        &scene.core,
        &viewer,
        &at_c1.id,
        shift("R1", "C1", day, "09:00", "11:00", &[]),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(refused, Error::Forbidden(_)), "{refused:?}");

    // Without the admin role: refused whatever the scope.
    let booker = caller("booking", "");
    for refused in [
        rosters::list(&scene.core, &booker, ShiftQuery::default())
            .await
            .unwrap_err(),
        rosters::remove(&scene.core, &booker, &at_c2.id, None)
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(refused, Error::Forbidden(_)), "{refused:?}");
    }
    // Nothing was removed by the refusals.
    let all = rosters::list(&scene.core, &operator(), ShiftQuery::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
}
