//! `PractitionerRole`, `HealthcareService` and `Schedule`: a resource at a center with its
//! availability rules and activities, and the activities themselves; every search parameter.

use serde_json::json;

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;
use crate::openvpms::{Rule, open, seed_clinic, start};

backend_tests!(
    a_practitioner_role_carries_its_hours_and_activities_at_one_center,
    practitioner_roles_are_searched_by_practitioner_location_service_and_active,
    healthcare_services_are_activities_searched_by_identifier_name_location_and_active,
    schedules_are_searched_by_actor_active_service_type_and_date,
);

/// Turner also works at Branch on Mondays 09:00-13:00, from 2027-01-04 to 2027-03-31 only.
async fn turner_at_branch_on_mondays(app: &crate::helpers::TestApp) {
    open(
        app,
        &[Rule {
            lid: "AV-TURNER-BR",
            resource: "DR-TURNER",
            center: "BRANCH",
            weekday: Some(1),
            start: "09:00",
            end: "13:00",
            first_day: Some("2027-01-04"),
            last_day: Some("2027-03-31"),
        }],
    )
    .await;
}

async fn a_practitioner_role_carries_its_hours_and_activities_at_one_center(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    turner_at_branch_on_mondays(&app).await;
    let f = fhir(&app);
    let ids = ids(&f).await;

    let role = f
        .json(&format!("PractitionerRole/{}", ids.turner_main))
        .await;
    assert_eq!(role["resourceType"], "PractitionerRole");
    assert_eq!(role["active"], true);
    assert_eq!(
        role["practitioner"],
        json!({"reference": format!("Practitioner/{}", ids.turner), "display": "Andrew Turner"})
    );
    assert_eq!(
        role["location"],
        json!([{"reference": format!("Location/{}", ids.main), "display": "Main Clinic"}])
    );
    assert_eq!(
        role["identifier"],
        json!([
            {"use": "official", "system": RESOURCE_LID, "value": "DR-TURNER"},
            {"use": "official", "system": CENTER_LID, "value": "MAIN"},
        ])
    );
    // Daily 11:00-17:00 at Main: every day of the week, no period, no exception.
    assert_eq!(
        role["availableTime"],
        json!([{
            "daysOfWeek": ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
            "availableStartTime": "11:00:00",
            "availableEndTime": "17:00:00",
        }])
    );
    assert!(role.get("period").is_none(), "{role}");
    assert!(role.get("availabilityExceptions").is_none(), "{role}");
    // What Turner offers: Standard Consult, as a service and a specialty.
    assert_eq!(
        role["healthcareService"],
        json!([{"reference": format!("HealthcareService/{}", ids.standard), "display": "Standard Consult"}])
    );
    assert_eq!(role["specialty"][0]["coding"][0]["system"], ACTIVITY_LID);
    assert_eq!(role["specialty"][0]["coding"][0]["code"], "STD");

    // At Branch: Mondays only, within dates, which the role's period and exceptions say.
    let branch = f
        .json(&format!("PractitionerRole/{}", ids.turner_branch))
        .await;
    assert_eq!(
        branch["availableTime"],
        json!([{"daysOfWeek": ["mon"], "availableStartTime": "09:00:00", "availableEndTime": "13:00:00"}])
    );
    assert_eq!(
        branch["period"],
        json!({"start": "2027-01-04", "end": "2027-03-31"})
    );
    let exceptions = branch["availabilityExceptions"].as_str().unwrap();
    assert!(
        exceptions.contains("mon 09:00-13:00 from 2027-01-04 until 2027-03-31")
            && exceptions.contains("Australia/Sydney"),
        "{exceptions}"
    );
    // The role and the schedule of a resource at a center share their id.
    let schedule = f.json(&format!("Schedule/{}", ids.turner_branch)).await;
    assert_eq!(schedule["id"], branch["id"]);
}

async fn practitioner_roles_are_searched_by_practitioner_location_service_and_active(
    backend: Backend,
) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    // Five resources at centers: the two schedules at Main, Barton at Main, Turner at both.
    assert_eq!(f.search("PractitionerRole").await["total"], 5);
    let mut turner = vec![ids.turner_main.clone(), ids.turner_branch.clone()];
    turner.sort_by_key(|id| id.parse::<i64>().unwrap());
    assert_eq!(
        f.ids(&format!(
            "PractitionerRole?practitioner=Practitioner/{}",
            ids.turner
        ))
        .await,
        turner
    );
    // A bare id and an absolute URL name the same practitioner.
    assert_eq!(
        f.ids(&format!("PractitionerRole?practitioner={}", ids.turner))
            .await,
        turner
    );
    assert_eq!(
        f.ids(&format!(
            "PractitionerRole?practitioner={}",
            urlencoding(&format!("{}/fhir/Practitioner/{}", app.address, ids.turner))
        ))
        .await,
        turner
    );
    assert_eq!(
        f.ids(&format!(
            "PractitionerRole?location=Location/{}",
            ids.branch
        ))
        .await,
        vec![ids.turner_branch.clone()]
    );
    assert_eq!(
        f.search(&format!("PractitionerRole?location=Location/{}", ids.main))
            .await["total"],
        4
    );
    // Long Consult: the two schedules at Main.
    let long = f
        .ids(&format!(
            "PractitionerRole?service=HealthcareService/{}",
            ids.long
        ))
        .await;
    assert_eq!(long.len(), 2, "{long:?}");
    assert!(long.contains(&ids.appt_main), "{long:?}");
    assert_eq!(f.search("PractitionerRole?active=true").await["total"], 5);
    assert_eq!(f.search("PractitionerRole?active=false").await["total"], 0);
    assert_eq!(
        f.ids(&format!(
            "PractitionerRole?identifier={}&practitioner=Practitioner/{}",
            urlencoding(&format!("{CENTER_LID}|BRANCH")),
            ids.turner
        ))
        .await,
        vec![ids.turner_branch.clone()]
    );
}

async fn healthcare_services_are_activities_searched_by_identifier_name_location_and_active(
    backend: Backend,
) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    let ids = ids(&f).await;

    let standard = f.json(&format!("HealthcareService/{}", ids.standard)).await;
    assert_eq!(standard["resourceType"], "HealthcareService");
    assert_eq!(standard["name"], "Standard Consult");
    assert_eq!(standard["active"], true);
    assert_eq!(
        standard["identifier"],
        json!([{"use": "official", "system": ACTIVITY_LID, "value": "STD"}])
    );
    assert_eq!(standard["providedBy"]["reference"], "Organization/clinic");
    assert_eq!(standard["type"][0]["coding"][0]["code"], "STD");
    // Offered at both centers (Turner works at Branch).
    let mut both = vec![
        format!("Location/{}", ids.main),
        format!("Location/{}", ids.branch),
    ];
    both.sort_by_key(|r| r[9..].parse::<i64>().unwrap());
    let offered: Vec<&str> = standard["location"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["reference"].as_str().unwrap())
        .collect();
    assert_eq!(offered, both);

    assert_eq!(f.search("HealthcareService").await["total"], 4);
    assert_eq!(
        f.ids("HealthcareService?name=long").await,
        vec![ids.long.clone()]
    );
    assert_eq!(
        f.ids("HealthcareService?identifier=STD").await,
        vec![ids.standard.clone()]
    );
    // Only Standard Consult is offered at Branch.
    assert_eq!(
        f.ids(&format!(
            "HealthcareService?location=Location/{}",
            ids.branch
        ))
        .await,
        vec![ids.standard.clone()]
    );
    assert_eq!(
        f.search(&format!("HealthcareService?location=Location/{}", ids.main))
            .await["total"],
        4
    );
    assert_eq!(f.search("HealthcareService?active=false").await["total"], 0);
}

async fn schedules_are_searched_by_actor_active_service_type_and_date(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    turner_at_branch_on_mondays(&app).await;
    let f = fhir(&app);
    let ids = ids(&f).await;

    let schedule = f.json(&format!("Schedule/{}", ids.appt_main)).await;
    assert_eq!(schedule["resourceType"], "Schedule");
    assert_eq!(schedule["active"], true);
    assert_eq!(
        schedule["actor"],
        json!([
            {"reference": format!("Practitioner/{}", ids.appt), "display": "Main Appointment Schedule"},
            {"reference": format!("Location/{}", ids.main), "display": "Main Clinic"},
        ])
    );
    let codes: Vec<&str> = schedule["serviceType"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["LONG", "NEWP", "SHORT", "STD"]);
    assert!(schedule.get("planningHorizon").is_none(), "{schedule}");
    assert!(
        schedule["comment"]
            .as_str()
            .unwrap()
            .contains("Slots of 15 minutes")
    );
    let branch = f.json(&format!("Schedule/{}", ids.turner_branch)).await;
    assert_eq!(
        branch["planningHorizon"],
        json!({"start": "2027-01-04", "end": "2027-03-31"})
    );

    assert_eq!(f.search("Schedule").await["total"], 5);
    // actor: a practitioner or a location.
    assert_eq!(
        f.search(&format!("Schedule?actor=Practitioner/{}", ids.turner))
            .await["total"],
        2
    );
    assert_eq!(
        f.ids(&format!("Schedule?actor=Location/{}", ids.branch))
            .await,
        vec![ids.turner_branch.clone()]
    );
    assert_eq!(f.search("Schedule?active=true").await["total"], 5);
    assert_eq!(f.search("Schedule?active=false").await["total"], 0);
    // service-type: New Patient is only on the appointment schedule.
    assert_eq!(
        f.ids(&format!(
            "Schedule?service-type={}",
            urlencoding(&format!("{ACTIVITY_LID}|NEWP"))
        ))
        .await,
        vec![ids.appt_main.clone()]
    );
    assert_eq!(f.search("Schedule?service-type=LONG").await["total"], 2);
    // date: the open-ended schedules match any day; Branch only within its rules' days.
    let branch_only = |path: &str| {
        let path = path.to_string();
        let f = f.clone();
        let branch = ids.branch.clone();
        async move { f.ids(&format!("{path}&actor=Location/{branch}")).await }
    };
    assert_eq!(
        branch_only("Schedule?date=2027-02-15").await,
        vec![ids.turner_branch.clone()]
    );
    assert_eq!(
        branch_only("Schedule?date=2027-04-01").await,
        Vec::<String>::new()
    );
    assert_eq!(
        branch_only("Schedule?date=ge2027-03-31").await,
        vec![ids.turner_branch.clone()]
    );
    assert_eq!(
        branch_only("Schedule?date=gt2027-03-31").await,
        Vec::<String>::new()
    );
    assert_eq!(
        branch_only("Schedule?date=lt2027-01-04").await,
        Vec::<String>::new()
    );
    assert_eq!(
        branch_only("Schedule?date=le2027-01-04").await,
        vec![ids.turner_branch.clone()]
    );
    assert_eq!(f.search("Schedule?date=2031-06-01").await["total"], 4);
}
