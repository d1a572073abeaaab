//! `GET /fhir/metadata`: public, FHIR 4.0.1, and exactly what the router serves: every listed
//! type answers read and search and accepts every listed parameter under strict handling;
//! a type that is not listed is unknown.

use serde_json::Value;

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;
use crate::openvpms::{seed_clinic, start};

backend_tests!(
    the_capability_statement_is_public_and_lists_the_served_types,
    every_listed_parameter_is_understood_and_an_unlisted_type_is_unknown,
);

const SERVED: [&str; 10] = [
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
];

async fn the_capability_statement_is_public_and_lists_the_served_types(backend: Backend) {
    let app = start(backend).await;
    let statement = fhir(&app).anonymous().json("metadata").await;
    assert_eq!(statement["resourceType"], "CapabilityStatement");
    assert_eq!(statement["fhirVersion"], "4.0.1");
    assert_eq!(statement["kind"], "instance");
    assert!(
        statement["format"]
            .as_array()
            .unwrap()
            .contains(&Value::from("application/fhir+json"))
    );
    let rest = &statement["rest"][0];
    assert_eq!(rest["mode"], "server");
    assert_eq!(rest["security"]["service"][0]["coding"][0]["code"], "Basic");
    assert!(
        rest["security"]["description"]
            .as_str()
            .unwrap()
            .contains("booking role")
    );
    let types: Vec<&str> = rest["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, SERVED);
    let location = &rest["resource"][0];
    let params: Vec<(&str, &str)> = location["searchParam"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        params,
        [
            ("_id", "token"),
            ("name", "string"),
            ("identifier", "token"),
            ("partof", "reference")
        ]
    );
    for resource in rest["resource"].as_array().unwrap() {
        let interactions: Vec<&str> = resource["interaction"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["code"].as_str().unwrap())
            .collect();
        if resource["type"] == "PractitionerRole" {
            assert_eq!(
                interactions,
                ["read", "search-type", "create", "update", "patch", "delete"],
                "{resource}"
            );
            assert_eq!(resource["versioning"], "versioned-update", "{resource}");
        } else {
            assert_eq!(interactions, ["read", "search-type"], "{resource}");
            assert_eq!(resource["versioning"], "no-version", "{resource}");
        }
    }
    // Its base URL is the server's.
    assert_eq!(
        statement["implementation"]["url"],
        format!("{}/fhir", app.address)
    );
}

/// A value each parameter type accepts.
fn sample_value(resource: &str, name: &str, kind: &str) -> &'static str {
    match (name, kind) {
        ("status", _) if resource == "Slot" => "free",
        ("partof", _) => "Location/1",
        ("schedule", _) => "Schedule/1",
        ("organization", _) => "Organization/1",
        (_, "string") => "a",
        ("active", _) => "true",
        ("actor", _) | ("practitioner", _) => "Practitioner/1",
        ("location", _) => "Location/1",
        ("patient", _) => "Patient/1",
        ("status", _) => "booked",
        ("service", _) => "HealthcareService/1",
        (_, "date") => "ge2027-01-01",
        _ => "x",
    }
}

async fn every_listed_parameter_is_understood_and_an_unlisted_type_is_unknown(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    let strict = f.with_header("Prefer", "handling=strict");
    let statement = f.json("metadata").await;
    for resource in statement["rest"][0]["resource"].as_array().unwrap() {
        let kind = resource["type"].as_str().unwrap();
        strict.search(kind).await;
        for param in resource["searchParam"].as_array().unwrap() {
            let name = param["name"].as_str().unwrap();
            let value = sample_value(kind, name, param["type"].as_str().unwrap());
            let path = format!("{kind}?{name}={}", urlencoding(value));
            let answer = strict.get(&path).await;
            assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        }
        // A parameter it does not list is refused under strict handling.
        strict
            .get(&format!("{kind}?not-a-param=1"))
            .await
            .assert_outcome(400, "not-a-param");
    }
    for unlisted in ["Encounter", "Foo", "location", "slot"] {
        f.get(unlisted)
            .await
            .assert_outcome(404, &format!("unknown resource type '{unlisted}'"));
        f.get(&format!("{unlisted}/1"))
            .await
            .assert_outcome(404, "unknown resource type");
    }
}
