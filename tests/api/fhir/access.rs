//! Who may read: HTTP Basic with a Rendez client holding the `booking` role (401 without or
//! with wrong credentials, 403 without the role), and its center scope on every read and
//! search (another center's resources are unknown and unlisted).

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;
use crate::openvpms::{seed_clinic, start, start_with};

backend_tests!(
    without_or_with_wrong_credentials_every_read_and_search_is_401,
    a_client_without_the_booking_role_is_403,
    a_client_limited_to_one_center_sees_only_what_is_there,
);

/// A search and a read of every served type.
fn every_path(ids: &Ids) -> Vec<String> {
    vec![
        "Location".into(),
        format!("Location/{}", ids.main),
        "Organization".into(),
        "Organization/clinic".into(),
        "Practitioner".into(),
        format!("Practitioner/{}", ids.turner),
        "PractitionerRole".into(),
        format!("PractitionerRole/{}", ids.turner_main),
        "HealthcareService".into(),
        format!("HealthcareService/{}", ids.standard),
        "Schedule".into(),
        format!("Schedule/{}", ids.turner_main),
    ]
}

async fn without_or_with_wrong_credentials_every_read_and_search_is_401(backend: Backend) {
    // No limit on failed logins here: every path is tried with a wrong password.
    let app = start_with(backend, |s| s.auth_failure_limit = Some(0)).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    for path in every_path(&ids) {
        let answer = f.anonymous().get(&path).await;
        answer.assert_outcome(401, "HTTP Basic");
        assert_eq!(
            answer.www_authenticate.as_deref(),
            Some("Basic realm=\"Rendez\""),
            "{path}"
        );
        let answer = f.as_client("sample", "wrong-password").get(&path).await;
        answer.assert_outcome(401, "authentication failed");
        // A bearer token that Rendez did not issue.
        let answer = f
            .anonymous()
            .with_header("Authorization", "Bearer abc")
            .get(&path)
            .await;
        answer.assert_outcome(401, "the bearer token is unknown or revoked");
    }
}

async fn a_client_without_the_booking_role_is_403(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    app.add_client(
        "texter",
        "texter-password-1",
        "messaging,results",
        "",
        false,
    );
    let texter = f.as_client("texter", "texter-password-1");
    for path in every_path(&ids) {
        texter
            .get(&path)
            .await
            .assert_outcome(403, "lacks the role 'booking'");
    }
    // The CapabilityStatement is public.
    assert_eq!(
        texter.json("metadata").await["resourceType"],
        "CapabilityStatement"
    );
}

async fn a_client_limited_to_one_center_sees_only_what_is_there(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    app.add_client("branch", "branch-password-1", "booking", "BRANCH", false);
    let branch = f.as_client("branch", "branch-password-1");

    // Searches list only Branch and what is there: Turner, his role and schedule there, and
    // the one activity offered there.
    assert_eq!(branch.ids("Location").await, vec![ids.branch.clone()]);
    assert_eq!(branch.ids("Practitioner").await, vec![ids.turner.clone()]);
    assert_eq!(
        branch.ids("PractitionerRole").await,
        vec![ids.turner_branch.clone()]
    );
    assert_eq!(
        branch.ids("Schedule").await,
        vec![ids.turner_branch.clone()]
    );
    assert_eq!(
        branch.ids("HealthcareService").await,
        vec![ids.standard.clone()]
    );
    assert_eq!(branch.search("Location").await["total"], 1);
    // Even asked by name or id, Main does not exist for it.
    assert!(branch.ids("Location?name=Main").await.is_empty());
    assert!(
        branch
            .ids(&format!("Location?_id={}", ids.main))
            .await
            .is_empty()
    );
    assert!(
        branch
            .ids(&format!("PractitionerRole?location=Location/{}", ids.main))
            .await
            .is_empty()
    );
    // Reads of what is elsewhere are 404, as an unknown id.
    for path in [
        format!("Location/{}", ids.main),
        format!("Practitioner/{}", ids.barton),
        format!("Practitioner/{}", ids.appt),
        format!("PractitionerRole/{}", ids.turner_main),
        format!("Schedule/{}", ids.appt_main),
        format!("HealthcareService/{}", ids.long),
    ] {
        branch.get(&path).await.assert_outcome(404, "is not known");
    }
    // What is there reads; Turner's role there shows only Branch.
    let turner = branch.json(&format!("Practitioner/{}", ids.turner)).await;
    assert_eq!(turner["id"], ids.turner);
    let standard = branch
        .json(&format!("HealthcareService/{}", ids.standard))
        .await;
    let locations = standard["location"].as_array().unwrap();
    assert_eq!(locations.len(), 1, "{standard}");
    assert_eq!(
        locations[0]["reference"],
        format!("Location/{}", ids.branch)
    );
}
