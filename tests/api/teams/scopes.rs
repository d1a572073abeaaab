//! The seed's user-type table as tests: who views and who edits where, over SOAP and the
//! OpenVPMS REST API.

use super::*;
use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::openvpms::{start, v2};

backend_tests!(
    each_principal_searches_where_it_may_view_and_an_out_of_scope_center_is_refused,
    each_principal_books_only_where_it_may_edit,
    appointment_lists_and_checks_follow_the_view_scope_and_cancelling_the_edit_scope,
    master_data_pushes_need_the_edit_scope_and_get_centers_lists_the_view_scope,
    a_view_only_assignment_adds_to_view_and_not_to_edit,
    the_openvpms_api_lists_and_finds_only_centers_in_scope,
    an_old_client_limited_to_centers_and_an_unlimited_one_are_unchanged,
);

async fn seeded(backend: Backend) -> TestApp {
    let app = start(backend).await;
    seed_table(&app).await;
    app
}

async fn each_principal_searches_where_it_may_view_and_an_out_of_scope_center_is_refused(
    backend: Backend,
) {
    let app = seeded(backend).await;
    let table: [(&str, &[&str]); 3] = [
        (COLLECTOR, &["C-CM1", "C-CM2"]),
        (PROVINCIAL, &["C-CM1", "C-CM2", "C-CR1"]),
        (NATIONAL, &CENTERS),
    ];
    for (who, viewable) in table {
        assert_eq!(
            slot_centers(&search(&app, who, None).await),
            viewable.to_vec(),
            "{who} searches everywhere"
        );
        for c in CENTERS {
            let reply = search(&app, who, Some(c)).await;
            if viewable.contains(&c) {
                assert_eq!(slot_centers(&reply), vec![c.to_string()], "{who} at {c}");
            } else {
                reply.assert_fault("Client", "may not act on center");
            }
        }
    }
}

async fn each_principal_books_only_where_it_may_edit(backend: Backend) {
    let app = seeded(backend).await;
    let table: [(&str, &[&str]); 3] = [
        (COLLECTOR, &["C-CM1", "C-CM2"]),
        (PROVINCIAL, &["C-CM1", "C-CM2", "C-CR1"]),
        (NATIONAL, &[]),
    ];
    for (i, (who, editable)) in table.into_iter().enumerate() {
        let time = format!("{:02}:00", 9 + i);
        for c in CENTERS {
            let reply = add(&app, who, c, &time).await;
            if editable.contains(&c) {
                reply.assert_ok();
                assert_eq!(
                    reply.field("ADD_RESULT").as_deref(),
                    Some("OK"),
                    "{who} at {c}: {}",
                    reply.body
                );
            } else {
                reply.assert_fault("Client", "may not act on center");
            }
        }
    }
}

async fn appointment_lists_and_checks_follow_the_view_scope_and_cancelling_the_edit_scope(
    backend: Backend,
) {
    let app = seeded(backend).await;
    let at_cm = add(&app, COLLECTOR, "C-CM1", "09:00").await;
    let at_cr = add(&app, PROVINCIAL, "C-CR1", "09:00").await;
    let (cm_lid, cr_lid) = (
        at_cm.field("APP_LID").unwrap(),
        at_cr.field("APP_LID").unwrap(),
    );

    let listed = |reply: Reply| {
        reply.assert_ok();
        let mut lids = reply.fields("APP_LID");
        lids.sort();
        lids
    };
    let list = |who: &'static str, resource: &'static str| {
        let app = &app;
        async move {
            app.soap(
                &auth(who),
                "getAppointments",
                &fields_xml(&[("RESOURCE_LID", resource)]),
            )
            .await
        }
    };
    assert_eq!(
        listed(list(NATIONAL, "R-C-CM1").await),
        vec![cm_lid.clone()]
    );
    assert_eq!(
        listed(list(NATIONAL, "R-C-CR1").await),
        vec![cr_lid.clone()]
    );
    assert_eq!(
        listed(list(PROVINCIAL, "R-C-CM1").await),
        vec![cm_lid.clone()]
    );
    assert!(listed(list(COLLECTOR, "R-C-CR1").await).is_empty());

    let check = |who: &'static str, lid: String| {
        let app = &app;
        async move {
            app.soap(
                &auth(who),
                "checkAppointment",
                &fields_xml(&[("APP_LID", &lid)]),
            )
            .await
        }
    };
    let seen = check(NATIONAL, cr_lid.clone()).await;
    seen.assert_ok();
    assert_eq!(
        seen.field("APP_LID").as_deref(),
        Some(cr_lid.as_str()),
        "{}",
        seen.body
    );
    let unseen = check(COLLECTOR, cr_lid.clone()).await;
    let unknown = check(COLLECTOR, "NO-SUCH-APPOINTMENT".into()).await;
    assert_eq!(
        unseen.body.replace(&cr_lid, "X"),
        unknown.body.replace("NO-SUCH-APPOINTMENT", "X"),
        "another district's appointment looks unknown"
    );

    // The national user sees the collector's appointment but may not cancel it.
    let delete = |who: &'static str, lid: String| {
        let app = &app;
        async move {
            app.soap(
                &auth(who),
                "deleteAppointment",
                &fields_xml(&[("APP_LID", &lid)]),
            )
            .await
        }
    };
    let refused = delete(NATIONAL, cm_lid.clone()).await;
    assert_ne!(
        refused.field("DELETE_RESULT").as_deref(),
        Some("OK"),
        "{}",
        refused.body
    );
    assert_eq!(
        listed(list(NATIONAL, "R-C-CM1").await),
        vec![cm_lid.clone()]
    );
    let done = delete(COLLECTOR, cm_lid.clone()).await;
    assert_eq!(
        done.field("DELETE_RESULT").as_deref(),
        Some("OK"),
        "{}",
        done.body
    );
}

async fn master_data_pushes_need_the_edit_scope_and_get_centers_lists_the_view_scope(
    backend: Backend,
) {
    let app = seeded(backend).await;
    let push = |who: &'static str, center: &'static str| {
        let app = &app;
        async move {
            let row = fields_xml(&[("LOCATION_LID", center), ("LOCATION_NAME", "Renamed")]);
            app.soap(
                &auth(who),
                "updateKeyEntities",
                &format!("<ROW>{row}</ROW>"),
            )
            .await
        }
    };
    let ok = push(PROVINCIAL, "C-CR1").await;
    ok.assert_ok();
    assert_eq!(ok.field("RESULT").as_deref(), Some("OK"), "{}", ok.body);
    for (who, center) in [
        (PROVINCIAL, "C-PK1"),
        (NATIONAL, "C-CM1"),
        (COLLECTOR, "C-CR1"),
    ] {
        let refused = push(who, center).await;
        let text = format!(
            "{} {}",
            refused.fault_text(),
            refused.fields("ERROR_MESSAGE").join(" ")
        );
        assert!(
            text.contains("may not act on"),
            "{who} at {center}: {}",
            refused.body
        );
    }
    let centers_of = |who: &'static str| {
        let app = &app;
        async move {
            let reply = app.soap(&auth(who), "getCenters", "").await;
            reply.assert_ok();
            let mut lids = reply.fields("CENTER_LID");
            lids.sort();
            lids
        }
    };
    assert_eq!(centers_of(NATIONAL).await, CENTERS.to_vec());
    assert_eq!(
        centers_of(PROVINCIAL).await,
        vec!["C-CM1", "C-CM2", "C-CR1"]
    );
    assert_eq!(centers_of(COLLECTOR).await, vec!["C-CM1", "C-CM2"]);
}

async fn a_view_only_assignment_adds_to_view_and_not_to_edit(backend: Backend) {
    let app = seeded(backend).await;
    {
        let mut conn = app.pool.get().unwrap();
        app::teams::add(&mut conn, &operator(), "South observers").unwrap();
        let mut observe = assignment("South observers", "P-SOUTH");
        observe.view_only = true;
        app::teams::assign(&mut conn, &operator(), observe).unwrap();
        app::teams::join(
            &mut conn,
            &operator(),
            "South observers",
            COLLECTOR,
            TeamRole::Leader,
        )
        .unwrap();
    }
    // Resolved within a second (the client's row is read again by then).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        slot_centers(&search(&app, COLLECTOR, Some("C-PK1")).await),
        vec!["C-PK1"]
    );
    add(&app, COLLECTOR, "C-PK1", "10:00")
        .await
        .assert_fault("Client", "may not act on center");
    let ok = add(&app, COLLECTOR, "C-CM2", "10:00").await;
    assert_eq!(ok.field("ADD_RESULT").as_deref(), Some("OK"), "{}", ok.body);
}

async fn the_openvpms_api_lists_and_finds_only_centers_in_scope(backend: Backend) {
    let app = seeded(backend).await;
    let names = |answer: &crate::openvpms::Answer| {
        assert_eq!(answer.status, 200, "{}", answer.body);
        let mut names: Vec<String> = answer
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    let admin = v2(&app).as_client(crate::helpers::ADMIN, crate::helpers::ADMIN_PASSWORD);
    let every = admin.get("locations").await;
    let id_of = |name: &str| {
        every
            .json()
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let collector = v2(&app).as_client(COLLECTOR, PASSWORD);
    assert_eq!(
        names(&collector.get("locations").await),
        vec!["Clinic C-CM1", "Clinic C-CM2"]
    );
    let provincial = v2(&app).as_client(PROVINCIAL, PASSWORD);
    assert_eq!(
        names(&provincial.get("locations").await),
        vec!["Clinic C-CM1", "Clinic C-CM2", "Clinic C-CR1"]
    );
    // Viewing needs the view scope only: the national user sees the whole country.
    let national = v2(&app).as_client(NATIONAL, PASSWORD);
    let mut country: Vec<String> = CENTERS.iter().map(|c| format!("Clinic {c}")).collect();
    country.sort();
    assert_eq!(names(&national.get("locations").await), country);
    let inside = collector
        .get(&format!("locations/{}", id_of("Clinic C-CM1")))
        .await;
    assert_eq!(inside.status, 200, "{}", inside.body);
    let outside = collector
        .get(&format!("locations/{}", id_of("Clinic C-PK1")))
        .await;
    assert_eq!(
        outside.status, 404,
        "another district looks unknown: {}",
        outside.body
    );
    assert!(!outside.body.contains("C-PK1"), "{}", outside.body);
}

async fn an_old_client_limited_to_centers_and_an_unlimited_one_are_unchanged(backend: Backend) {
    let app = seeded(backend).await;
    app.add_client("old-limited", PASSWORD, "booking", "C-CR1", false);
    app.add_client("old-unlimited", PASSWORD, "booking", "", false);
    assert_eq!(
        slot_centers(&search(&app, "old-limited", None).await),
        vec!["C-CR1"]
    );
    let ok = add(&app, "old-limited", "C-CR1", "11:00").await;
    assert_eq!(ok.field("ADD_RESULT").as_deref(), Some("OK"), "{}", ok.body);
    add(&app, "old-limited", "C-CM1", "11:00")
        .await
        .assert_fault("Client", "may not act on center");
    assert_eq!(
        slot_centers(&search(&app, "old-unlimited", None).await),
        CENTERS.to_vec()
    );
    let ok = add(&app, "old-unlimited", "C-PK1", "11:00").await;
    assert_eq!(ok.field("ADD_RESULT").as_deref(), Some("OK"), "{}", ok.body);
}
