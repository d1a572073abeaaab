//! Every resource type and Bundle the FHIR edge returns, checked by an independent validator:
//! the `fhir.resources` Python models (tests/fhir/validate.py). Where Python or the package is
//! missing the test says so and skips, unless `RENDEZ_REQUIRE_FHIR_VALIDATOR=1` (CI).

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;
use crate::openvpms::{FRIDAY, Rule, open, push, seed_clinic, soap_book, soap_cancel, start};

backend_tests!(every_resource_and_bundle_validates_against_r4,);

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fhir/validate.py");

pub(super) fn validator_available() -> bool {
    let found = Command::new("python3")
        .args(["-c", "from fhir.resources.R4B import get_fhir_model_class"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("RENDEZ_REQUIRE_FHIR_VALIDATOR").as_deref() != Ok("1"),
            "RENDEZ_REQUIRE_FHIR_VALIDATOR=1 but python3 cannot import fhir.resources.R4B"
        );
        eprintln!("fhir.resources is not installed: the FHIR answers were not validated");
    }
    found
}

/// Runs the validator over these resources; answers its report when it finds problems.
pub(super) fn validate(resources: &[Value]) -> Result<(), String> {
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(Value::Array(resources.to_vec()).to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

async fn every_resource_and_bundle_validates_against_r4(backend: Backend) {
    if !validator_available() {
        return;
    }
    let app = start(backend).await;
    seed_clinic(&app).await;
    // Details every optional element comes from: an address, a phone, a website, a
    // description, rules limited in time and an all-day rule.
    push(
        &app,
        &[&[
            ("LOCATION_LID", "BRANCH"),
            ("LOCATION_NAME", "Branch Clinic"),
            ("LOCATION_TIMEZONE", "Australia/Sydney"),
            ("LOCATION_ADDRESS", "2 Pitt St, Sydney"),
            ("LOCATION_PHONE", "+61 2 9999 0001"),
            ("LOCATION_WEBSITE_URL", "https://branch.example.org"),
            ("LOCATION_DESCRIPTION", "Upstairs"),
        ]],
    )
    .await;
    open(
        &app,
        &[
            Rule {
                lid: "AV-TURNER-BR",
                resource: "DR-TURNER",
                center: "BRANCH",
                weekday: Some(1),
                start: "09:00",
                end: "13:00",
                first_day: Some("2027-01-04"),
                last_day: Some("2027-03-31"),
            },
            Rule::daily("AV-TURNER-ALL", "DR-TURNER", "BRANCH", "00:00", "24:00").weekday(6),
        ],
    )
    .await;
    // Appointments, one cancelled, with a patient's name and contacts.
    let contacts = [
        ("USER_FIRST_NAME", "Judith"),
        ("USER_SECOND_NAME", "Bourke"),
        ("USER_MOBILE_PHONE", "+61418976543"),
        ("USER_EMAIL", "judith@example.org"),
    ];
    soap_book(&app, "SCH-APPT", "STD", FRIDAY, "09:00", &contacts).await;
    let cancelled = soap_book(&app, "DR-TURNER", "STD", FRIDAY, "12:00", &contacts).await;
    soap_cancel(&app, &cancelled).await;
    // A hierarchy above the centers, a team assigned in it with a member (issue 18).
    {
        use rendez::domain::locations::{Location, TeamRole};
        let operator = rendez::app::Caller::system("test");
        let loc = |lid: &str, parent: Option<&str>, level: &str| Location {
            lid: lid.into(),
            name: format!("Name of {lid}"),
            parent: parent.map(Into::into),
            level: level.into(),
        };
        let mut conn = app.pool.get().unwrap();
        rendez::app::locations::import(
            &mut conn,
            &operator,
            vec![
                loc("AU", None, "country"),
                loc("NSW", Some("AU"), "state"),
                loc("MAIN", Some("NSW"), "center"),
                loc("BRANCH", Some("NSW"), "center"),
            ],
        )
        .unwrap();
        rendez::app::teams::add(&mut conn, &operator, "Sydney team").unwrap();
        rendez::app::teams::assign(
            &mut conn,
            &operator,
            crate::teams::assignment("Sydney team", "NSW"),
        )
        .unwrap();
        rendez::app::teams::join(
            &mut conn,
            &operator,
            "Sydney team",
            crate::openvpms::PORTAL,
            TeamRole::Leader,
        )
        .unwrap();
    }
    // An admin sees the team's members too.
    let f = fhir(&app).as_client(crate::helpers::ADMIN, crate::helpers::ADMIN_PASSWORD);
    // The slots are published (by the server's worker).
    let ids = ids(&f).await;
    super::slots::until_total(
        &f,
        &super::slots::slots_path(&ids.appt_main, super::slots::day(), "09:00", "10:00", ""),
        4,
    )
    .await;
    let mut answers: Vec<Value> = vec![f.json("metadata").await];
    // A busy slot naming its appointment, and the regeneration's Parameters.
    answers.push(
        f.search(&format!(
            "Slot?schedule=Schedule/{}&start=ge{FRIDAY}&start=lt2027-02-20&status=busy",
            ids.appt_main
        ))
        .await,
    );
    let regenerated = f
        .post(
            &format!("PractitionerRole/{}/$regenerate", ids.appt_main),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(regenerated.status, 200, "{}", regenerated.body);
    answers.push(regenerated.parsed());
    for kind in [
        "Location",
        "Organization",
        "Practitioner",
        "PractitionerRole",
        "HealthcareService",
        "Schedule",
        "Appointment",
        "Patient",
        "Slot",
        "OperationDefinition",
    ] {
        // A page with a next link, the whole set, and each resource read by id.
        answers.push(f.search(&format!("{kind}?_count=1")).await);
        let bundle = f.search(kind).await;
        assert!(!entry_ids(&bundle).is_empty(), "{kind}: {bundle}");
        for id in entry_ids(&bundle) {
            answers.push(f.json(&format!("{kind}/{id}")).await);
        }
        answers.push(bundle);
        answers.push(f.search(&format!("{kind}?_count=0")).await);
    }
    // Errors are resources too.
    answers.push(f.get("Location/999999").await.parsed());
    answers.push(f.get("Location?active=maybe&_count=x").await.parsed());
    answers.push(f.anonymous().get("Location").await.parsed());
    answers.push(f.get("Location?_format=xml").await.parsed());
    // Every answer was checked: reads, searches, the statement and outcomes.
    let kinds: std::collections::BTreeSet<&str> = answers
        .iter()
        .map(|a| a["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 14, "{kinds:?}");
    // The hierarchy, the team and its member were among them.
    let all = Value::Array(answers.clone()).to_string();
    for part in [
        "urn:rendez:location-lid",
        "\"code\":\"team\"",
        "urn:rendez:team-role",
        "urn:rendez:slot-generation-run",
    ] {
        assert!(all.contains(part), "{part} was not validated");
    }
    if let Err(report) = validate(&answers) {
        panic!("the FHIR validator refused some answers:\n{report}");
    }
    // The validator does refuse what is not R4 (so a pass means something).
    let broken = serde_json::json!({"resourceType": "Location", "id": "1", "hours": "9-5"});
    assert!(
        validate(&[broken]).is_err(),
        "an element R4 does not define is refused"
    );
}
