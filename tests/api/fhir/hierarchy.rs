//! Issue 18 through FHIR: the location hierarchy as `Location` (`partOf`, `partof`), teams as
//! `Organization` of type team, their members as `PractitionerRole`s; and the seed's three
//! principals (district collector, provincial officer, national user) reading every type in
//! and out of their view scope.

use std::collections::BTreeSet;

use rendez::app;
use rendez::domain::locations::TeamRole;
use serde_json::Value;

use super::slots::{day, until_total};
use super::*;
use crate::backend_tests;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, Backend, TestApp};
use crate::openvpms::{soap_book, start};
use crate::teams::{COLLECTOR, NATIONAL, PASSWORD, PROVINCIAL, assignment, operator, seed_table};

backend_tests!(
    the_hierarchy_reads_as_locations_with_part_of_and_partof_searches,
    teams_read_as_organizations_and_their_members_as_practitioner_roles,
    each_principal_reads_every_type_in_its_view_scope_only,
);

const LOCATION_LID: &str = "urn:rendez:location-lid";
const PLACES: [&str; 6] = ["TH", "P-NORTH", "P-SOUTH", "D-CM", "D-CR", "D-PK"];
const CENTERS: [&str; 4] = ["C-CM1", "C-CM2", "C-CR1", "C-PK1"];

/// A location's id by LID (a center's or a hierarchy location's), as `f` finds it.
async fn location(f: &Fhir<'_>, lid: &str) -> String {
    let system = if CENTERS.contains(&lid) {
        CENTER_LID
    } else {
        LOCATION_LID
    };
    f.id_of("Location", system, lid).await
}

fn set(ids: Vec<String>) -> BTreeSet<String> {
    ids.into_iter().collect()
}

async fn seeded(backend: Backend) -> TestApp {
    let app = start(backend).await;
    seed_table(&app).await;
    app
}

async fn the_hierarchy_reads_as_locations_with_part_of_and_partof_searches(backend: Backend) {
    let app = seeded(backend).await;
    let f = fhir(&app);
    // Every level and every center, each once.
    let all = f.search("Location?_count=500").await;
    assert_eq!(all["total"], 10, "{all}");
    let mut ids = std::collections::HashMap::new();
    for lid in PLACES.iter().chain(CENTERS.iter()) {
        ids.insert(*lid, location(&f, lid).await);
    }
    // TH is at the top; a province is part of it; its type is its level.
    let th = f.json(&format!("Location/{}", ids["TH"])).await;
    assert!(th.get("partOf").is_none(), "{th}");
    assert_eq!(th["type"][0]["text"], "country");
    assert_eq!(th["identifier"][0]["system"], LOCATION_LID);
    assert_eq!(th["identifier"][0]["value"], "TH");
    let north = f.json(&format!("Location/{}", ids["P-NORTH"])).await;
    assert_eq!(
        north["partOf"]["reference"],
        format!("Location/{}", ids["TH"])
    );
    assert_eq!(north["partOf"]["display"], "Name of TH");
    // A center is part of its district.
    let cm1 = f.json(&format!("Location/{}", ids["C-CM1"])).await;
    assert_eq!(
        cm1["partOf"]["reference"],
        format!("Location/{}", ids["D-CM"])
    );
    assert_eq!(cm1["identifier"][0]["system"], CENTER_LID);
    // partof: the locations directly below.
    let below = |lid: &str| format!("Location?partof=Location/{}", ids[lid]);
    assert_eq!(
        set(f.ids(&below("TH")).await),
        set(vec![ids["P-NORTH"].clone(), ids["P-SOUTH"].clone()])
    );
    assert_eq!(
        set(f.ids(&below("D-CM")).await),
        set(vec![ids["C-CM1"].clone(), ids["C-CM2"].clone()])
    );
    assert!(f.ids(&below("C-CM1")).await.is_empty());
    // A bare id, and OR between values.
    assert_eq!(
        set(f
            .ids(&format!("Location?partof={},{}", ids["D-CR"], ids["D-PK"]))
            .await),
        set(vec![ids["C-CR1"].clone(), ids["C-PK1"].clone()])
    );
    // With other parameters, and paging over the mix of levels and centers.
    assert_eq!(
        f.ids(&format!("{}&name=Name%20of%20P-N", below("TH")))
            .await,
        vec![ids["P-NORTH"].clone()]
    );
    let page = f.search("Location?_count=4").await;
    assert_eq!(page["total"], 10);
    let mut seen = entry_ids(&page);
    let mut next = link(&page, "next");
    while let Some(url) = next {
        let page = f.search(&url).await;
        seen.extend(entry_ids(&page));
        next = link(&page, "next");
    }
    assert_eq!(seen.len(), 10);
    assert_eq!(set(seen).len(), 10, "nothing twice");
    // Bad references are 400.
    f.get("Location?partof=Organization/clinic")
        .await
        .assert_outcome(400, "'partof' refers to Location");
    // Ids stay the same in another process.
    let other = crate::openvpms::other_server(&app).await;
    assert_eq!(location(&fhir(&other), "D-CM").await, ids["D-CM"]);
}

/// A team's id.
async fn team(f: &Fhir<'_>, name: &str) -> String {
    f.id_of("Organization", "urn:rendez:team", name).await
}

async fn teams_read_as_organizations_and_their_members_as_practitioner_roles(backend: Backend) {
    let app = seeded(backend).await;
    {
        let mut conn = app.pool.get().unwrap();
        app::teams::add(&mut conn, &operator(), "PK collectors").unwrap();
        app::teams::assign(&mut conn, &operator(), assignment("PK collectors", "D-PK")).unwrap();
        app::teams::join(
            &mut conn,
            &operator(),
            "PK collectors",
            PROVINCIAL,
            TeamRole::Leader,
        )
        .unwrap();
    }
    let admin = fhir(&app).as_client(ADMIN, ADMIN_PASSWORD);
    let cm = team(&admin, "CM collectors").await;
    let pk = team(&admin, "PK collectors").await;
    let d_cm = location(&admin, "D-CM").await;
    // type=team: the two teams; type=prov: the clinic group; no type: the group first.
    assert_eq!(
        set(admin.ids("Organization?type=team").await),
        set(vec![cm.clone(), pk.clone()])
    );
    assert_eq!(
        admin
            .ids(&format!(
                "Organization?type={}",
                urlencoding("http://terminology.hl7.org/CodeSystem/organization-type|prov")
            ))
            .await,
        vec!["clinic".to_string()]
    );
    let all = admin.ids("Organization").await;
    assert_eq!(all.len(), 3);
    assert_eq!(all[0], "clinic");
    let organization = admin.json(&format!("Organization/{cm}")).await;
    assert_eq!(organization["name"], "CM collectors");
    assert_eq!(organization["active"], true);
    assert_eq!(organization["type"][0]["coding"][0]["code"], "team");
    assert_eq!(organization["partOf"]["reference"], "Organization/clinic");
    let assigned = &organization["extension"][0];
    assert_eq!(assigned["url"], "urn:rendez:extension:team-assignment");
    assert_eq!(
        assigned["extension"][0]["valueReference"]["reference"],
        format!("Location/{d_cm}")
    );
    assert_eq!(assigned["extension"][2]["valueBoolean"], false);

    // Members: the collector in CM collectors, the provincial officer leading PK collectors.
    let members = admin
        .search(&format!("PractitionerRole?organization=Organization/{cm}"))
        .await;
    assert_eq!(members["total"], 1, "{members}");
    let member = members["entry"][0]["resource"].clone();
    assert_eq!(member["practitioner"]["identifier"]["value"], COLLECTOR);
    assert_eq!(member["practitioner"]["display"], COLLECTOR);
    assert_eq!(member["code"][0]["coding"][0]["code"], "member");
    assert_eq!(
        member["organization"]["reference"],
        format!("Organization/{cm}")
    );
    assert_eq!(
        member["location"][0]["reference"],
        format!("Location/{d_cm}")
    );
    assert_eq!(member["active"], true);
    let member_id = member["id"].as_str().unwrap().to_string();
    assert_eq!(
        admin.json(&format!("PractitionerRole/{member_id}")).await,
        member
    );
    let leaders = admin.search("PractitionerRole?role=leader").await;
    assert_eq!(leaders["total"], 1);
    assert_eq!(
        leaders["entry"][0]["resource"]["practitioner"]["display"],
        PROVINCIAL
    );
    assert_eq!(
        admin
            .ids(&format!("PractitionerRole?location=Location/{d_cm}"))
            .await,
        vec![member_id.clone()]
    );
    // The roles at centers are the clinic group's; no team member among them.
    let at_centers = admin
        .ids("PractitionerRole?organization=Organization/clinic")
        .await;
    assert_eq!(at_centers.len(), 4);
    assert!(!at_centers.contains(&member_id));

    // The collector leaves, PK collectors is voided: both stay, inactive.
    {
        let mut conn = app.pool.get().unwrap();
        app::teams::leave(&mut conn, &operator(), "CM collectors", COLLECTOR).unwrap();
        app::teams::void(&mut conn, &operator(), "PK collectors").unwrap();
    }
    let left = admin.json(&format!("PractitionerRole/{member_id}")).await;
    assert_eq!(left["active"], false);
    assert!(left["period"]["end"].is_string(), "{left}");
    assert_eq!(
        admin.ids("PractitionerRole?active=false").await.len(),
        2,
        "the one who left, and the leader of the voided team"
    );
    assert_eq!(
        admin.json(&format!("Organization/{pk}")).await["active"],
        false
    );
    assert_eq!(
        admin.ids("Organization?active=false").await,
        vec![pk.clone()]
    );

    // Who is in a team is for admins: a booking client sees the teams, not their members.
    app.add_client("viewer", "viewer-password-1", "booking", "", false);
    let viewer = fhir(&app).as_client("viewer", "viewer-password-1");
    assert_eq!(viewer.ids("Organization?type=team").await.len(), 2);
    assert!(
        viewer
            .ids(&format!("PractitionerRole?organization=Organization/{cm}"))
            .await
            .is_empty()
    );
    viewer
        .get(&format!("PractitionerRole/{member_id}"))
        .await
        .assert_outcome(404, "is not known");
    // Team members take no writes, and no regeneration.
    let put = admin
        .put(&format!("PractitionerRole/{member_id}"), &member)
        .await;
    assert!(matches!(put.status, 404 | 422), "{}", put.body);
    admin
        .post(
            &format!("PractitionerRole/{member_id}/$regenerate"),
            &Value::Null,
        )
        .await
        .assert_outcome(404, "is not known");
}

/// The seed's principals over FHIR.
fn principal<'a>(app: &'a TestApp, name: &str) -> Fhir<'a> {
    fhir(app).as_client(name, PASSWORD)
}

async fn each_principal_reads_every_type_in_its_view_scope_only(backend: Backend) {
    let app = seeded(backend).await;
    {
        let mut conn = app.pool.get().unwrap();
        app::teams::add(&mut conn, &operator(), "PK collectors").unwrap();
        app::teams::assign(&mut conn, &operator(), assignment("PK collectors", "D-PK")).unwrap();
    }
    let day = day();
    let date = day.format("%Y-%m-%d").to_string();
    for (center, first, phone) in [
        ("C-CM1", "North", "+34600111222"),
        ("C-PK1", "South", "+34600111333"),
    ] {
        soap_book(
            &app,
            &format!("R-{center}"),
            "STD",
            &date,
            "10:00",
            &[
                ("LOCATION_LID", center),
                ("USER_FIRST_NAME", first),
                ("USER_SECOND_NAME", "Patient"),
                ("USER_MOBILE_PHONE", phone),
            ],
        )
        .await;
    }
    // Everything's ids, as an unlimited admin sees them.
    let admin = fhir(&app).as_client(ADMIN, ADMIN_PASSWORD);
    let mut loc = std::collections::HashMap::new();
    for lid in PLACES.iter().chain(CENTERS.iter()) {
        loc.insert(*lid, location(&admin, lid).await);
    }
    let doctor = |c: &str| format!("R-{c}");
    let mut practitioner = std::collections::HashMap::new();
    let mut role = std::collections::HashMap::new();
    let mut slot = std::collections::HashMap::new();
    let mut appointment = std::collections::HashMap::new();
    let mut patient = std::collections::HashMap::new();
    for c in CENTERS {
        let p = admin.id_of("Practitioner", RESOURCE_LID, &doctor(c)).await;
        let r = admin
            .ids(&format!("PractitionerRole?practitioner=Practitioner/{p}"))
            .await[0]
            .clone();
        let slots = until_total(
            &admin,
            // The UTC day holds the Madrid clinic's day, 09:00-17:00: 32 slots.
            &format!(
                "Slot?schedule=Schedule/{r}&start=ge{day}&start=lt{}",
                day.succ_opt().unwrap()
            ),
            32,
        )
        .await;
        slot.insert(c, entry_ids(&slots)[0].clone());
        let booked = admin
            .search(&format!("Appointment?location=Location/{}", loc[c]))
            .await;
        if let Some(a) = booked["entry"].as_array().and_then(|e| e.first()) {
            let resource = &a["resource"];
            appointment.insert(c, resource["id"].as_str().unwrap().to_string());
            let who = resource["participant"][0]["actor"]["reference"]
                .as_str()
                .unwrap()
                .trim_start_matches("Patient/")
                .to_string();
            patient.insert(c, who);
        }
        practitioner.insert(c, p);
        role.insert(c, r);
    }
    let cm_team = team(&admin, "CM collectors").await;
    let pk_team = team(&admin, "PK collectors").await;
    let std = admin.id_of("HealthcareService", ACTIVITY_LID, "STD").await;

    // (principal, the locations it views, the centers among them)
    let table: [(&str, &[&str], &[&str]); 3] = [
        (COLLECTOR, &["D-CM", "C-CM1", "C-CM2"], &["C-CM1", "C-CM2"]),
        (
            PROVINCIAL,
            &["P-NORTH", "D-CM", "D-CR", "C-CM1", "C-CM2", "C-CR1"],
            &["C-CM1", "C-CM2", "C-CR1"],
        ),
        (
            NATIONAL,
            &[
                "TH", "P-NORTH", "P-SOUTH", "D-CM", "D-CR", "D-PK", "C-CM1", "C-CM2", "C-CR1",
                "C-PK1",
            ],
            &CENTERS,
        ),
    ];
    for (name, views, centers) in table {
        let f = principal(&app, name);
        let expect = |all: &[&str], of: &dyn Fn(&str) -> String| -> BTreeSet<String> {
            all.iter().map(|c| of(c)).collect()
        };
        // Searches list exactly what is in scope.
        assert_eq!(
            set(f.ids("Location?_count=500").await),
            expect(views, &|l| loc[l].clone()),
            "{name}: Location"
        );
        assert_eq!(
            set(f.ids("Practitioner").await),
            expect(centers, &|c| practitioner[c].clone()),
            "{name}: Practitioner"
        );
        assert_eq!(
            set(f.ids("Schedule").await),
            expect(centers, &|c| role[c].clone()),
            "{name}: Schedule"
        );
        assert_eq!(
            set(f
                .ids("PractitionerRole?organization=Organization/clinic")
                .await),
            expect(centers, &|c| role[c].clone()),
            "{name}: PractitionerRole"
        );
        assert_eq!(f.ids("HealthcareService").await, vec![std.clone()]);
        let booked: Vec<&str> = centers
            .iter()
            .copied()
            .filter(|c| appointment.contains_key(c))
            .collect();
        assert_eq!(
            set(f.ids("Appointment").await),
            expect(&booked, &|c| appointment[c].clone()),
            "{name}: Appointment"
        );
        assert_eq!(
            set(f.ids("Patient").await),
            expect(&booked, &|c| patient[c].clone()),
            "{name}: Patient"
        );
        let teams_seen = set(f.ids("Organization?type=team").await);
        let mut teams_expected = BTreeSet::from([cm_team.clone()]);
        if name == NATIONAL {
            teams_expected.insert(pk_team.clone());
        }
        assert_eq!(teams_seen, teams_expected, "{name}: teams");
        // Reads: in scope 200, out of scope 404 (as an unknown id).
        for c in CENTERS {
            let inside = centers.contains(&c);
            let mut paths = vec![
                format!("Location/{}", loc[c]),
                format!("Practitioner/{}", practitioner[c]),
                format!("PractitionerRole/{}", role[c]),
                format!("Schedule/{}", role[c]),
                format!("Slot/{}", slot[c]),
            ];
            if let Some(a) = appointment.get(c) {
                paths.push(format!("Appointment/{a}"));
                paths.push(format!("Patient/{}", patient[c]));
            }
            for path in paths {
                let answer = f.get(&path).await;
                if inside {
                    assert_eq!(answer.status, 200, "{name} {path}: {}", answer.body);
                } else {
                    answer.assert_outcome(404, "is not known");
                }
            }
            // Slot searches of a schedule out of scope find nothing.
            let slots = f
                .search(&format!("Slot?schedule=Schedule/{}", role[c]))
                .await;
            assert_eq!(slots["total"] != 0, inside, "{name}: slots of {c}");
        }
        for place in PLACES {
            let answer = f.get(&format!("Location/{}", loc[place])).await;
            if views.contains(&place) {
                assert_eq!(answer.status, 200, "{name} {place}: {}", answer.body);
            } else {
                answer.assert_outcome(404, "is not known");
            }
        }
        let pk = f.get(&format!("Organization/{pk_team}")).await;
        assert_eq!(pk.status == 200, name == NATIONAL, "{name}: {}", pk.body);
        // A parent out of scope is not named: the collector's district is its top.
        let d_cm = f.json(&format!("Location/{}", loc["D-CM"])).await;
        assert_eq!(d_cm.get("partOf").is_some(), name != COLLECTOR, "{d_cm}");
    }
}
