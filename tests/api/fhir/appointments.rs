//! `Appointment` and `Patient`: appointments booked over SOAP, read and searched by patient,
//! practitioner, location, date, status and last change, paged by id; patients with their name
//! and contacts only; both under the `booking` role and the center scope.

use serde_json::Value;

use super::*;
use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::openvpms::{FRIDAY, seed_clinic, soap_book, soap_cancel, start};

backend_tests!(
    appointments_are_searched_by_every_parameter_and_paged,
    patients_show_name_and_contacts_within_the_callers_scope_and_role,
);

/// Three appointments on the seed's Friday (Sydney, +11:00) and the day after: Judith with the
/// appointment schedule at 09:00, Ana with Turner at 12:00, Judith's cancelled one with Barton.
async fn book_three(app: &TestApp) -> [String; 3] {
    let judith = [
        ("USER_LID", "P-JUDITH"),
        ("USER_FIRST_NAME", "Judith"),
        ("USER_SECOND_NAME", "Bourke"),
        ("USER_MOBILE_PHONE", "+61418976543"),
        ("USER_EMAIL", "judith@example.org"),
    ];
    let first = soap_book(app, "SCH-APPT", "STD", FRIDAY, "09:00", &judith).await;
    let second = soap_book(
        app,
        "DR-TURNER",
        "STD",
        FRIDAY,
        "12:00",
        &[
            ("USER_FIRST_NAME", "Ana"),
            ("USER_SECOND_NAME", "Ruiz"),
            ("USER_MOBILE_PHONE", "+61418000111"),
        ],
    )
    .await;
    let third = soap_book(app, "DR-BARTON", "STD", "2027-02-20", "10:00", &judith).await;
    soap_cancel(app, &third).await;
    [first, second, third]
}

/// The appointment with this APP_LID.
async fn by_lid(f: &Fhir<'_>, lid: &str) -> Value {
    let bundle = f
        .search("Appointment?_count=500&_lastUpdated=ge2000-01-01")
        .await;
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].clone())
        .find(|a| a["identifier"][0]["value"] == lid)
        .unwrap_or_else(|| panic!("no appointment {lid} in {bundle}"))
}

fn patient_of(appointment: &Value) -> String {
    appointment["participant"][0]["actor"]["reference"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn appointments_are_searched_by_every_parameter_and_paged(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let [first, second, third] = book_three(&app).await;
    let f = fhir(&app);
    let ids = ids(&f).await;

    let a1 = by_lid(&f, &first).await;
    let a2 = by_lid(&f, &second).await;
    let a3 = by_lid(&f, &third).await;
    let id = |a: &Value| a["id"].as_str().unwrap().to_string();
    // Read by id: the same resource.
    assert_eq!(f.json(&format!("Appointment/{}", id(&a2))).await, a2);
    assert_eq!(a2["identifier"][0]["system"], "urn:rendez:appointment-lid");
    assert_eq!(a2["start"], "2027-02-19T01:00:00Z");
    assert_eq!(a2["end"], "2027-02-19T01:15:00Z");
    assert_eq!(a2["minutesDuration"], 15);
    let actors: Vec<&str> = a2["participant"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["actor"]["reference"].as_str().unwrap())
        .collect();
    assert_eq!(actors[1], format!("Practitioner/{}", ids.turner));
    assert_eq!(actors[2], format!("Location/{}", ids.main));
    assert_eq!(actors[3], format!("HealthcareService/{}", ids.standard));
    assert!(actors[0].starts_with("Patient/"));
    assert_eq!(a2["serviceType"][0]["coding"][0]["code"], "STD");
    assert!(
        ["pending", "booked"].contains(&a1["status"].as_str().unwrap()),
        "{a1}"
    );
    assert_eq!(a3["status"], "cancelled");
    assert_eq!(a3["cancelationReason"]["coding"][0]["code"], "prov");

    let sorted = |mut list: Vec<String>| {
        list.sort();
        list
    };
    assert_eq!(f.search("Appointment").await["total"], 3);
    assert_eq!(
        f.ids(&format!(
            "Appointment?practitioner=Practitioner/{}",
            ids.turner
        ))
        .await,
        vec![id(&a2)]
    );
    assert_eq!(
        f.search(&format!("Appointment?location=Location/{}", ids.main))
            .await["total"],
        3
    );
    assert!(
        f.ids(&format!("Appointment?location=Location/{}", ids.branch))
            .await
            .is_empty()
    );
    assert_eq!(
        f.ids(&format!(
            "Appointment?patient={}",
            urlencoding(&patient_of(&a2))
        ))
        .await,
        vec![id(&a2)]
    );
    // Judith's two, the same patient.
    assert_eq!(patient_of(&a1), patient_of(&a3));
    assert_eq!(
        f.ids(&format!(
            "Appointment?patient={}",
            urlencoding(&patient_of(&a1))
        ))
        .await,
        sorted(vec![id(&a1), id(&a3)])
    );
    // date: instants with an offset, or UTC days (Friday 09:00 in Sydney is Thursday 22:00 UTC).
    assert_eq!(
        f.ids(&format!(
            "Appointment?date={}&date={}",
            urlencoding("ge2027-02-19T00:00:00+11:00"),
            urlencoding("lt2027-02-20T00:00:00+11:00")
        ))
        .await,
        sorted(vec![id(&a1), id(&a2)])
    );
    assert_eq!(f.ids("Appointment?date=2027-02-18").await, vec![id(&a1)]);
    assert_eq!(
        f.ids(&format!(
            "Appointment?date={}",
            urlencoding("2027-02-19T12:00:00+11:00")
        ))
        .await,
        vec![id(&a2)]
    );
    assert_eq!(
        f.ids(&format!(
            "Appointment?date={}",
            urlencoding("gt2027-02-19T12:00:00Z")
        ))
        .await,
        vec![id(&a3)]
    );
    // status
    assert_eq!(f.ids("Appointment?status=cancelled").await, vec![id(&a3)]);
    assert_eq!(
        f.search("Appointment?status=pending,booked").await["total"],
        2
    );
    assert_eq!(f.search("Appointment?status=noshow").await["total"], 0);
    f.get("Appointment?status=lost")
        .await
        .assert_outcome(400, "'status' must be an Appointment status");
    f.get("Appointment?date=2027-02-19,2027-02-20")
        .await
        .assert_outcome(400, "'date' takes one value");
    f.get("Appointment?date=friday")
        .await
        .assert_outcome(400, "'date' must be a date");
    f.get("Appointment?patient=Location/1")
        .await
        .assert_outcome(400, "'patient' refers to Patient");
    // _lastUpdated
    assert_eq!(
        f.search("Appointment?_lastUpdated=ge2020-01-01").await["total"],
        3
    );
    assert_eq!(
        f.search("Appointment?_lastUpdated=lt2020-01-01").await["total"],
        0
    );
    // Paging by id through all three, a cancellation between pages changing nothing seen.
    let page = f.search("Appointment?_count=2").await;
    assert_eq!(page["total"], 3);
    assert_eq!(entry_ids(&page).len(), 2);
    soap_cancel(&app, &first).await;
    let rest = f.search(&link(&page, "next").unwrap()).await;
    let mut all = entry_ids(&page);
    all.extend(entry_ids(&rest));
    assert_eq!(all, sorted(vec![id(&a1), id(&a2), id(&a3)]));
    assert!(link(&rest, "next").is_none());
    f.get("Appointment/not-an-appointment")
        .await
        .assert_outcome(404, "Appointment/not-an-appointment is not known");
}

async fn patients_show_name_and_contacts_within_the_callers_scope_and_role(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let [first, _, _] = book_three(&app).await;
    let f = fhir(&app);
    let a1 = by_lid(&f, &first).await;
    let reference = patient_of(&a1);
    let judith = f.json(&reference).await;
    assert_eq!(judith["resourceType"], "Patient");
    assert_eq!(judith["name"][0]["family"], "Bourke");
    assert_eq!(judith["name"][0]["given"][0], "Judith");
    assert_eq!(judith["identifier"][0]["system"], "urn:rendez:patient-tid");
    let telecom = judith["telecom"].as_array().unwrap();
    assert!(telecom.iter().any(|t| t["value"] == "+61418976543"));
    assert!(telecom.iter().any(|t| t["value"] == "judith@example.org"));
    let all = f.search("Patient").await;
    assert_eq!(all["total"], 2, "{all}");
    let id = judith["id"].as_str().unwrap();
    assert_eq!(
        f.ids(&format!("Patient?_id={id}")).await,
        vec![id.to_string()]
    );
    f.get("Patient/nobody")
        .await
        .assert_outcome(404, "Patient/nobody is not known");

    // A client limited to Branch, where nobody has an appointment, sees none of them.
    app.add_client("branch", "branch-password-1", "booking", "BRANCH", false);
    let branch = f.as_client("branch", "branch-password-1");
    assert_eq!(branch.search("Patient").await["total"], 0);
    assert_eq!(branch.search("Appointment").await["total"], 0);
    branch
        .get(&reference)
        .await
        .assert_outcome(404, "is not known");
    branch
        .get(&format!("Appointment/{}", a1["id"].as_str().unwrap()))
        .await
        .assert_outcome(404, "is not known");
    // A client limited to Main sees them.
    app.add_client("main", "main-password-1", "booking", "MAIN", false);
    let main = f.as_client("main", "main-password-1");
    assert_eq!(main.json(&reference).await, judith);
    assert_eq!(main.search("Appointment").await["total"], 3);
    // Without the booking role: 403, and no patient data in the answer.
    app.add_client("texter", "texter-password-1", "messaging", "", false);
    let texter = f.as_client("texter", "texter-password-1");
    for path in [reference.clone(), "Patient".into(), "Appointment".into()] {
        let answer = texter.get(&path).await;
        answer.assert_outcome(403, "lacks the role 'booking'");
        assert!(!answer.body.contains("Judith"), "{}", answer.body);
    }
    // Unauthenticated: 401.
    f.anonymous()
        .get(&reference)
        .await
        .assert_outcome(401, "HTTP Basic");
}
