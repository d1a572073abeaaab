//! Errors as OperationOutcome: bad parameter values (400), strict and lenient handling of
//! unknown parameters, unknown ids and types (404), other methods (405), formats (406) and
//! bodies over the limit (413), each with a diagnostic naming the problem.

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;
use crate::openvpms::{seed_clinic, start};

backend_tests!(
    bad_parameter_values_are_400_naming_the_parameter,
    unknown_parameters_are_ignored_unless_handling_is_strict,
    unknown_ids_types_and_paths_are_404,
    other_methods_are_405_and_large_bodies_413_unread,
    json_formats_are_served_and_xml_is_406,
);

async fn bad_parameter_values_are_400_naming_the_parameter(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    for (path, text) in [
        (
            "Practitioner?active=maybe",
            "'active' must be true or false, not 'maybe'",
        ),
        ("Schedule?active=yes", "'active' must be true or false"),
        (
            "PractitionerRole?practitioner=Location/1",
            "'practitioner' refers to Practitioner, not to Location",
        ),
        (
            "Schedule?actor=HealthcareService/1",
            "'actor' refers to Practitioner or Location",
        ),
        (
            "HealthcareService?location=Practitioner/1",
            "'location' refers to Location",
        ),
        ("Schedule?date=tomorrow", "'date' must be a date"),
        (
            "Schedule?date=xx2027-01-01",
            "the prefix 'xx' is not supported",
        ),
        ("Schedule?date=2027-13-01", "'date' must be a date"),
        (
            "Location?name:fuzzy=Main",
            "the modifier ':fuzzy' is not supported on 'name'",
        ),
        (
            "Location?identifier:exact=MAIN",
            "the modifier ':exact' is not supported on 'identifier'",
        ),
        ("Location?_count=many", "'_count'"),
    ] {
        f.get(path).await.assert_outcome(400, text);
    }
    // An empty value is ignored, as FHIR says.
    assert_eq!(f.search("Location?name=").await["total"], 2);
}

async fn unknown_parameters_are_ignored_unless_handling_is_strict(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    // Lenient (the default, and said so): ignored, and left out of the self link.
    for lenient in [f.clone(), f.with_header("Prefer", "handling=lenient")] {
        let bundle = lenient.search("Location?colour=blue&name=Main").await;
        assert_eq!(bundle["total"], 1);
        assert_eq!(
            link(&bundle, "self").unwrap(),
            format!("{}/fhir/Location?name=Main", app.address)
        );
    }
    // Strict: a 400 naming the parameter and what the type supports.
    let answer = f
        .with_header("Prefer", "handling=strict")
        .get("Location?colour=blue&name=Main")
        .await;
    answer.assert_outcome(400, "unknown search parameter 'colour'");
    answer.assert_outcome(400, "_id, name, identifier");
    // Known parameters pass under strict handling.
    let strict = f.with_header("Prefer", "handling=strict");
    assert_eq!(
        strict.search("Location?name=Main&_count=5").await["total"],
        1
    );
}

async fn unknown_ids_types_and_paths_are_404(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    for path in [
        "Location/999999".to_string(),
        "Location/abc".into(),
        format!("Location/0{}", ids.main),
        format!("Location/{}", ids.turner),
        format!("Schedule/{}", ids.main),
        "Organization/other".into(),
    ] {
        f.get(&path).await.assert_outcome(404, "is not known");
    }
    f.get("Encounter")
        .await
        .assert_outcome(404, "unknown resource type 'Encounter'; this server serves Location, Organization, Practitioner, PractitionerRole, HealthcareService, Schedule, Appointment, Patient, Slot, OperationDefinition");
    f.get(&format!("Location/{}/_history", ids.main))
        .await
        .assert_outcome(404, "is not an interaction this server supports");
    // Unknown types are 404 even without credentials; known ones ask for them first.
    f.anonymous()
        .get("Foo")
        .await
        .assert_outcome(404, "unknown resource type");
    f.anonymous()
        .get("Location/999999")
        .await
        .assert_outcome(401, "HTTP Basic");
}

async fn other_methods_are_405_and_large_bodies_413_unread(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    for (method, path) in [
        (reqwest::Method::POST, "Location"),
        (reqwest::Method::PUT, "Location/1"),
        (reqwest::Method::DELETE, "Practitioner/1"),
        (reqwest::Method::PATCH, "Schedule/1"),
        (reqwest::Method::POST, "HealthcareService"),
        (reqwest::Method::POST, "metadata"),
    ] {
        let answer = f
            .send(
                app.http
                    .request(method.clone(), f.url(path))
                    .header("Content-Type", "application/fhir+json")
                    .body("{}"),
            )
            .await;
        answer.assert_outcome(405, &format!("{method} is not supported on /fhir/{path}"));
        assert_eq!(answer.allow.as_deref(), Some("GET"));
    }
    // A body over the limit is refused before anything is read or checked.
    let big = vec![b'x'; 65 * 1024];
    let answer = f
        .anonymous()
        .send(app.http.post(f.url("Location")).body(big.clone()))
        .await;
    answer.assert_outcome(413, "larger than 65536 bytes");
    let answer = f.send(app.http.get(f.url("Location")).body(big)).await;
    answer.assert_outcome(413, "larger than 65536 bytes");
    // An unknown type stays a 404 whatever the method.
    f.send(app.http.post(f.url("Foo")))
        .await
        .assert_outcome(404, "unknown resource type 'Foo'");
    // A query string over the limit.
    let long = format!("Location?name={}", "a".repeat(9000));
    f.get(&long)
        .await
        .assert_outcome(414, "longer than 8192 bytes");
}

async fn json_formats_are_served_and_xml_is_406(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    for format in ["json", "application/json", "application/fhir%2Bjson"] {
        let bundle = f.search(&format!("Location?_format={format}")).await;
        assert_eq!(bundle["total"], 2, "{format}");
        let statement = f.json(&format!("metadata?_format={format}")).await;
        assert_eq!(statement["resourceType"], "CapabilityStatement");
    }
    for format in ["xml", "application/fhir%2Bxml", "text/html"] {
        f.get(&format!("Location?_format={format}"))
            .await
            .assert_outcome(406, "this server answers JSON only");
        f.get(&format!("metadata?_format={format}"))
            .await
            .assert_outcome(406, "JSON only");
    }
    // Accept: JSON or anything is served, XML alone is 406.
    for accept in [
        "application/fhir+json",
        "application/json",
        "*/*",
        "application/fhir+xml, application/fhir+json;q=0.5",
    ] {
        let answer = f.with_header("Accept", accept).get("Location").await;
        assert_eq!(answer.status, 200, "{accept}: {}", answer.body);
        assert!(answer.content_type.starts_with("application/fhir+json"));
    }
    f.with_header("Accept", "application/fhir+xml")
        .get("Location")
        .await
        .assert_outcome(406, "names no JSON type");
    // _format is not a search parameter: strict handling accepts it.
    let strict = f.with_header("Prefer", "handling=strict");
    assert_eq!(strict.search("Location?_format=json").await["total"], 2);
}
