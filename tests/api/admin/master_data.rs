//! SOAP `updateLocations`: the clinic's master data pushes the location hierarchy, each item
//! judged on its own, inside the client's edit scope; what it places holds for scopes within a
//! second.

use super::*;
use crate::backend_tests;
use crate::helpers::{Auth, Backend, Reply};
use crate::teams::{PROVINCIAL, state};

backend_tests!(
    a_clinic_system_pushes_its_hierarchy_and_each_item_is_judged_on_its_own,
    a_pushed_move_changes_who_sees_a_center_within_a_second,
    a_limited_client_pushes_only_inside_its_edit_scope,
);

/// `(LID, name, parent, level)` items; empty texts are left out.
fn items(rows: &[(&str, &str, &str, &str)]) -> String {
    let mut xml = String::new();
    for (lid, name, parent, level) in rows {
        xml.push_str("<LOCATION>");
        for (field, value) in [
            ("LOCATION_LID", lid),
            ("LOCATION_NAME", name),
            ("LOCATION_PARENT_LID", parent),
            ("LOCATION_LEVEL", level),
        ] {
            if !value.is_empty() {
                xml.push_str(&format!("<{field}>{value}</{field}>"));
            }
        }
        xml.push_str("</LOCATION>");
    }
    xml
}

fn row_errors(reply: &Reply) -> Vec<(String, String, String)> {
    let numbers = reply.fields("ROW_NUMBER");
    let fields = reply.fields("FIELD");
    let messages = reply.fields("ERROR_MESSAGE");
    numbers
        .into_iter()
        .zip(fields)
        .zip(messages)
        .map(|((n, f), m)| (n, f, m))
        .collect()
}

async fn a_clinic_system_pushes_its_hierarchy_and_each_item_is_judged_on_its_own(backend: Backend) {
    let app = seeded(backend).await;
    let push = |rows: &[(&str, &str, &str, &str)]| {
        let body = items(rows);
        let app = &app;
        async move { app.soap(&Auth::admin(), "updateLocations", &body).await }
    };
    let reply = push(&[
        ("C-NEW", "New clinic", "D-NEW", "center"),
        ("D-NEW", "New district", "P-SOUTH", "district"),
        ("X-ORPHAN", "Orphan", "NOWHERE", "district"),
        ("P-SOUTH", "South", "C-PK1", "province"),
        ("X-NOLEVEL", "No level", "TH", ""),
        ("C-NEW", "New clinic", "D-PK", "center"),
    ])
    .await;
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("ERROR"),
        "{}",
        reply.body
    );
    assert_eq!(
        reply.field("CREATED").as_deref(),
        Some("2"),
        "{}",
        reply.body
    );
    let errors = row_errors(&reply);
    let numbers: Vec<&str> = errors.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(numbers, ["3", "4", "5", "6"], "{errors:?}");
    assert!(
        errors[0]
            .2
            .contains("'NOWHERE', which is no known location"),
        "{errors:?}"
    );
    assert!(
        errors[1]
            .2
            .contains("cycle: P-SOUTH -> C-PK1 -> D-PK -> P-SOUTH"),
        "{errors:?}"
    );
    assert_eq!(errors[2].1, "LOCATION_LEVEL", "{errors:?}");
    assert!(
        errors[3]
            .2
            .contains("under two parents: item 1 puts it under 'D-NEW'"),
        "{errors:?}"
    );
    // The good items hold, the center found its district though sent before it.
    let tree = get(&app, &Who::admin(), "/locations").await;
    let tree = tree.assert_ok()["locations"].as_array().unwrap().clone();
    let new = tree.iter().find(|l| l["lid"] == "C-NEW").unwrap();
    assert_eq!(
        (&new["parent"], &new["depth"]),
        (&serde_json::json!("D-NEW"), &serde_json::json!(3))
    );
    assert!(
        !tree
            .iter()
            .any(|l| l["lid"] == "X-ORPHAN" || l["lid"] == "X-NOLEVEL")
    );

    // Pushed again, nothing changes; a rename counts as an update.
    let before = state(&app);
    let again = push(&[("D-NEW", "New district", "P-SOUTH", "district")]).await;
    assert_eq!(
        (
            again.field("RESULT").as_deref(),
            again.field("CREATED").as_deref(),
            again.field("UPDATED").as_deref()
        ),
        (Some("OK"), Some("0"), Some("0")),
        "{}",
        again.body
    );
    assert_eq!(state(&app), before, "an unchanged push writes nothing");
    let renamed = push(&[("D-NEW", "Renamed district", "P-SOUTH", "district")]).await;
    assert_eq!(
        renamed.field("UPDATED").as_deref(),
        Some("1"),
        "{}",
        renamed.body
    );
    let (_, action, subject, before, after) = last_audit(&app);
    assert_eq!(
        (action.as_str(), subject.as_str()),
        ("location.put", "D-NEW")
    );
    assert!(before.unwrap().contains("New district") && after.unwrap().contains("Renamed"));

    // A call without any item is a Fault; so is a client without the admin role.
    app.soap(&Auth::admin(), "updateLocations", "")
        .await
        .assert_fault("Client", "at least one LOCATION");
    app.soap(
        &Auth::basic(BOOKER, PASSWORD),
        "updateLocations",
        &items(&[("A", "A", "", "x")]),
    )
    .await
    .assert_fault("Client", "lacks the role 'admin'");
}

async fn a_pushed_move_changes_who_sees_a_center_within_a_second(backend: Backend) {
    let app = seeded(backend).await;
    // The provincial officer edits and views the north; the southern district moves there.
    assert!(!searches_at(&app, PROVINCIAL, "C-PK1", false).await);
    let moved = std::time::Instant::now();
    let reply = app
        .soap(
            &Auth::admin(),
            "updateLocations",
            &items(&[("D-PK", "Pak district", "P-NORTH", "district")]),
        )
        .await;
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    assert!(searches_at(&app, PROVINCIAL, "C-PK1", true).await);
    assert!(
        moved.elapsed() < std::time::Duration::from_millis(1500),
        "held after {:?}",
        moved.elapsed()
    );
}

async fn a_limited_client_pushes_only_inside_its_edit_scope(backend: Backend) {
    let app = seeded(backend).await;
    let north = Auth::basic(NORTH_ADMIN, PASSWORD);
    let reply = app
        .soap(
            &north,
            "updateLocations",
            &items(&[
                ("C-CM3", "Third clinic", "D-CM", "center"),
                ("C-X", "Southern clinic", "D-PK", "center"),
                ("D-PK", "Taken", "P-NORTH", "district"),
                ("NEW-TOP", "New country", "", "country"),
            ]),
        )
        .await;
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("ERROR"),
        "{}",
        reply.body
    );
    assert_eq!(
        reply.field("CREATED").as_deref(),
        Some("1"),
        "{}",
        reply.body
    );
    let errors = row_errors(&reply);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0]
            .2
            .contains("may not place location 'C-X' under 'D-PK'"),
        "{errors:?}"
    );
    assert!(
        errors[1].2.contains("may not change location 'D-PK'"),
        "{errors:?}"
    );
    assert!(
        errors[2].2.contains("may not place location 'NEW-TOP'"),
        "{errors:?}"
    );
}
