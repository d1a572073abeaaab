//! Paging: `_count` (default 50, at most 500, 0 for the total alone), `self` and `next` links,
//! keyset paging that stays correct while data changes between pages, and ids that are the
//! same after a restart and in another process.

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;
use crate::openvpms::{clinician, other_server, push, seed_clinic, start};

backend_tests!(
    next_links_page_through_every_match_while_data_changes_between_pages,
    count_is_bounded_and_zero_answers_only_the_total,
    ids_are_the_same_in_another_process_and_after_a_restart,
);

async fn next_links_page_through_every_match_while_data_changes_between_pages(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    let before = f.ids("Practitioner").await;
    assert_eq!(before.len(), 4);

    let first = f.search("Practitioner?_count=2").await;
    assert_eq!(first["total"], 4);
    assert_eq!(entry_ids(&first), before[..2]);
    assert_eq!(
        link(&first, "self").unwrap(),
        format!("{}/fhir/Practitioner?_count=2", app.address)
    );
    let next = link(&first, "next").expect("a next link");
    assert_eq!(
        next,
        format!(
            "{}/fhir/Practitioner?_count=2&_after={}",
            app.address, before[1]
        )
    );

    // Between pages: a new clinician (named to sort first by name) and the first page's
    // second practitioner leaves (a full sync without it).
    clinician(&app, "DR-AARON", "Aaron", "Abbott", &["MAIN"], &["STD"]).await;
    let gone = before[1].clone();
    leave_out(&app, &f, &gone).await;

    let second = f.search(&next).await;
    // Nothing repeated, nothing skipped: the two not yet seen, then the new one.
    assert_eq!(entry_ids(&second), before[2..]);
    assert_eq!(second["total"], 4, "3 of the first 4 and the new one");
    let third = f
        .search(&link(&second, "next").expect("a third page"))
        .await;
    let aaron = f.id_of("Practitioner", RESOURCE_LID, "DR-AARON").await;
    assert_eq!(entry_ids(&third), vec![aaron.clone()]);
    assert!(link(&third, "next").is_none(), "{third}");
    let now = f.ids("Practitioner").await;
    assert!(!now.contains(&gone) && now.contains(&aaron), "{now:?}");
    // The same search filtered pages the same way.
    let filtered = f.search("Practitioner?name=main&_count=1").await;
    assert_eq!(filtered["total"], 2);
    let rest = f.search(&link(&filtered, "next").unwrap()).await;
    assert!(link(&rest, "self").unwrap().contains("name=main"));
    assert_eq!(rest["total"], 2);
    assert_eq!(entry_ids(&rest).len(), 1);
    assert!(link(&rest, "next").is_none());
}

/// Takes the resource with this FHIR id out of the clinic: a full sync of the seed clinic's
/// resources without it.
async fn leave_out(app: &crate::helpers::TestApp, f: &Fhir<'_>, id: &str) {
    let gone = f.json(&format!("Practitioner/{id}")).await;
    let lid = gone["identifier"][0]["value"].as_str().unwrap().to_string();
    let mut rows: Vec<Vec<(&str, &str)>> = vec![
        vec![
            ("LOCATION_LID", "MAIN"),
            ("LOCATION_NAME", "Main Clinic"),
            ("LOCATION_TIMEZONE", "Australia/Sydney"),
        ],
        vec![
            ("LOCATION_LID", "BRANCH"),
            ("LOCATION_NAME", "Branch Clinic"),
            ("LOCATION_TIMEZONE", "Australia/Sydney"),
        ],
    ];
    for (activity, name, minutes) in [
        ("SHORT", "Short Consult", "15"),
        ("STD", "Standard Consult", "15"),
        ("LONG", "Long Consult", "30"),
        ("NEWP", "New Patient", "30"),
    ] {
        rows.push(vec![
            ("ACTIVITY_LID", activity),
            ("ACTIVITY_NAME", name),
            ("ACTIVITY_DURATION", minutes),
        ]);
    }
    type Resource<'a> = (&'a str, &'a str, &'a str, &'a [&'a str], &'a [&'a str]);
    let resources: [Resource<'_>; 5] = [
        (
            "SCH-APPT",
            "Main Appointment Schedule",
            "",
            &["MAIN"],
            &["SHORT", "STD", "LONG", "NEWP"],
        ),
        (
            "SCH-SURG",
            "Main Surgery Schedule",
            "",
            &["MAIN"],
            &["LONG"],
        ),
        (
            "DR-TURNER",
            "Andrew",
            "Turner",
            &["MAIN", "BRANCH"],
            &["STD"],
        ),
        ("DR-BARTON", "Chris", "Barton", &["MAIN"], &["STD"]),
        ("DR-AARON", "Aaron", "Abbott", &["MAIN"], &["STD"]),
    ];
    for (resource, first, second, centers, activities) in resources {
        if resource == lid {
            continue;
        }
        let mut row = vec![("RESOURCE_LID", resource), ("RESOURCE_FIRST_NAME", first)];
        if !second.is_empty() {
            row.push(("RESOURCE_SECOND_NAME", second));
        }
        rows.push(row);
        for center in centers {
            rows.push(vec![("RESOURCE_LID", resource), ("LOCATION_LID", center)]);
        }
        for activity in activities {
            rows.push(vec![("RESOURCE_LID", resource), ("ACTIVITY_LID", activity)]);
        }
    }
    let rows: Vec<&[(&str, &str)]> = rows.iter().map(Vec::as_slice).collect();
    let reply = app.push_key_entities(&rows, true).await;
    crate::openvpms::assert_result_ok(&reply);
    f.get(&format!("Practitioner/{id}"))
        .await
        .assert_outcome(404, "is not known");
}

async fn count_is_bounded_and_zero_answers_only_the_total(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    // 60 more practitioners: more than the default page.
    for n in 0..60 {
        let lid = format!("EXTRA-{n:02}");
        push(
            &app,
            &[
                &[
                    ("RESOURCE_LID", lid.as_str()),
                    ("RESOURCE_FIRST_NAME", "Extra"),
                ],
                &[("RESOURCE_LID", lid.as_str()), ("LOCATION_LID", "MAIN")],
            ],
        )
        .await;
    }
    let f = fhir(&app);
    let default = f.search("Practitioner").await;
    assert_eq!(default["total"], 64);
    assert_eq!(entry_ids(&default).len(), 50, "50 by default");
    assert!(link(&default, "next").is_some());
    let big = f.search("Practitioner?_count=500").await;
    assert_eq!(entry_ids(&big).len(), 64);
    assert!(link(&big, "next").is_none());
    let zero = f.search("Practitioner?_count=0").await;
    assert_eq!(zero["total"], 64);
    assert!(zero.get("entry").is_none(), "{zero}");
    for bad in ["501", "-1", "ten", ""] {
        let answer = f.get(&format!("Practitioner?_count={bad}")).await;
        answer.assert_outcome(400, "'_count' must be a whole number from 0 to 500");
    }
    f.get("Practitioner?_after=abc")
        .await
        .assert_outcome(400, "'_after'");
}

async fn ids_are_the_same_in_another_process_and_after_a_restart(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    let mut everything = Vec::new();
    for kind in [
        "Location",
        "Practitioner",
        "PractitionerRole",
        "HealthcareService",
        "Schedule",
    ] {
        everything.push((kind, f.search(kind).await));
    }
    // Another process on the same database (its own memory) answers the same resources.
    let other = other_server(&app).await;
    let g = fhir(&other);
    for (kind, bundle) in &everything {
        let again = g.search(kind).await;
        assert_eq!(entry_ids(&again), entry_ids(bundle), "{kind}");
        let resources = |b: &serde_json::Value| {
            b["entry"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["resource"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(resources(&again), resources(bundle), "{kind}");
    }
    // And the OpenVPMS API, which gives the same numbers, agrees.
    let locations: serde_json::Value = crate::openvpms::v2(&app).json("locations").await;
    let main = locations
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "Main Clinic")
        .unwrap()["id"]
        .to_string();
    assert_eq!(f.id_of("Location", CENTER_LID, "MAIN").await, main);
}
