//! SMART Scheduling Links (issue 19): `GET /fhir/$bulk-publish` and the NDJSON files it names,
//! read back as a Slot Discovery Client would (follow the manifest's URLs, parse each line,
//! resolve Schedule -> Location and Slot -> Schedule); the booking extensions per center; the
//! manifest's ETag and 304; the caller's view scope and authentication; bad input; the
//! OperationDefinition in the CapabilityStatement; every resource checked by the validator.

use std::collections::{BTreeMap, BTreeSet};

use chrono::DateTime;
use serde_json::Value;

use super::validator::{validate, validator_available};
use super::*;
use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::openvpms::{Rule, open, push, seed_clinic, soap_book, start_with};

backend_tests!(
    a_client_reads_the_manifest_and_every_file_with_resolving_references,
    the_manifest_answers_304_to_its_etag_and_a_new_tag_after_a_booking,
    the_feed_follows_the_callers_view_scope_and_needs_authentication,
    bad_file_names_centers_and_if_none_match_are_operation_outcomes,
    the_operation_is_in_the_capability_statement_with_its_definition,
);

const DEEP_LINK: &str =
    "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link";
const PHONE: &str = "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-phone";
const BRANCH_PHONE: &str = "+61 2 9999 0001";

/// The seed clinic with Branch's phone, Turner working at Branch, a default booking link and
/// Branch's own; answers once every schedule's slots are published.
async fn clinic(backend: Backend) -> TestApp {
    let app = start_with(backend, |s| {
        s.booking_link_template = Some(
            "https://book.example.org/{center}/slots/{slot}?schedule={schedule}&start={start}"
                .into(),
        );
        s.booking_links = Some("BRANCH=https://branch.example.org/book?slot={slot}".into());
    })
    .await;
    seed_clinic(&app).await;
    push(
        &app,
        &[&[
            ("LOCATION_LID", "BRANCH"),
            ("LOCATION_NAME", "Branch Clinic"),
            ("LOCATION_TIMEZONE", "Australia/Sydney"),
            ("LOCATION_PHONE", BRANCH_PHONE),
            ("LOCATION_ADDRESS", "2 Pitt St, Sydney"),
        ]],
    )
    .await;
    open(
        &app,
        &[Rule::daily(
            "AV-TURNER-BR",
            "DR-TURNER",
            "BRANCH",
            "09:00",
            "10:00",
        )],
    )
    .await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    let day = super::slots::day();
    for schedule in [&ids.appt_main, &ids.turner_branch] {
        super::slots::until_total(
            &f,
            &super::slots::slots_path(schedule, day, "09:00", "10:00", ""),
            4,
        )
        .await;
    }
    // The worker may still be publishing other roles: wait until the feed holds still.
    let began = std::time::Instant::now();
    let mut last = String::new();
    loop {
        let (status, headers, body) = raw(&f, "$bulk-publish", &[]).await;
        assert_eq!(status, 200, "{body}");
        let tag = header(&headers, "etag");
        if tag == last {
            break;
        }
        assert!(began.elapsed().as_secs() < 30, "the feed never held still");
        last = tag;
        actix_web::rt::time::sleep(std::time::Duration::from_millis(1500)).await;
    }
    app
}

/// A GET with the client's credentials: status, headers and body.
async fn raw(
    f: &Fhir<'_>,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = f.app.http.get(f.url(url));
    if let Some((user, password)) = &f.credentials {
        request = request.basic_auth(user, Some(password));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    assert_ne!(status, 500, "{url}: {body}");
    (status, headers, body)
}

fn header(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// What a client gathers from a feed: the manifest and every resource of every file, by type.
struct Feed {
    manifest: Value,
    etag: String,
    resources: BTreeMap<String, Vec<Value>>,
    /// The Location id each file's URL names, with the file's type.
    files: Vec<(String, String)>,
}

async fn read_feed(f: &Fhir<'_>) -> Feed {
    let (status, headers, body) = raw(f, "$bulk-publish", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(header(&headers, "content-type").starts_with("application/json"));
    assert!(
        header(&headers, "cache-control").contains("max-age"),
        "{headers:?}"
    );
    let etag = header(&headers, "etag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "strong: {etag}"
    );
    let manifest: Value = serde_json::from_str(&body).unwrap();
    DateTime::parse_from_rfc3339(manifest["transactionTime"].as_str().unwrap())
        .expect("transactionTime is an ISO 8601 instant");
    assert_eq!(
        manifest["request"],
        format!("{}/fhir/$bulk-publish", f.app.address),
        "{manifest}"
    );
    assert_eq!(manifest["error"], serde_json::json!([]));
    let mut resources: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut files = Vec::new();
    for output in manifest["output"].as_array().unwrap() {
        let kind = output["type"].as_str().unwrap().to_string();
        assert!(
            ["Location", "Schedule", "Slot"].contains(&kind.as_str()),
            "{output}"
        );
        let url = output["url"].as_str().unwrap();
        assert!(url.starts_with(&f.app.address), "{url}");
        let center = url.split('/').rev().nth(1).unwrap().to_string();
        files.push((center, kind.clone()));
        let (status, headers, body) = raw(f, url, &[]).await;
        assert_eq!(status, 200, "{url}: {body}");
        assert!(header(&headers, "content-type").starts_with("application/fhir+ndjson"));
        assert!(
            body.is_empty() || body.ends_with('\n'),
            "{url}: one resource per line"
        );
        for line in body.lines() {
            let resource: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{url}: a line is not JSON ({e}): {line}"));
            assert!(!line.contains('\n'));
            assert_eq!(resource["resourceType"], kind.as_str(), "{url}: {line}");
            resources.entry(kind.clone()).or_default().push(resource);
        }
    }
    Feed {
        manifest,
        etag,
        resources,
        files,
    }
}

fn extension<'a>(resource: &'a Value, url: &str) -> Option<&'a Value> {
    resource["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == url)
}

async fn a_client_reads_the_manifest_and_every_file_with_resolving_references(backend: Backend) {
    let app = clinic(backend).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    let date = super::slots::day().format("%Y-%m-%d").to_string();
    soap_book(&app, "SCH-APPT", "STD", &date, "09:15", &[]).await;
    let feed = read_feed(&f).await;
    // Split per center: each of the two centers has its three files.
    let expected: BTreeSet<(String, String)> = [&ids.main, &ids.branch]
        .iter()
        .flat_map(|c| ["Location", "Schedule", "Slot"].map(|k| ((*c).clone(), k.to_string())))
        .collect();
    assert_eq!(
        feed.files.iter().cloned().collect::<BTreeSet<_>>(),
        expected
    );
    assert_eq!(feed.files.len(), 6, "{}", feed.manifest);

    let locations: BTreeMap<String, &Value> = feed.resources["Location"]
        .iter()
        .map(|l| (l["id"].as_str().unwrap().to_string(), l))
        .collect();
    assert_eq!(
        locations.keys().cloned().collect::<BTreeSet<_>>(),
        [ids.main.clone(), ids.branch.clone()].into_iter().collect()
    );
    assert_eq!(locations[&ids.branch]["telecom"][0]["value"], BRANCH_PHONE);
    // Every Schedule names a Location of the feed.
    let mut schedule_center: BTreeMap<String, String> = BTreeMap::new();
    for schedule in &feed.resources["Schedule"] {
        let location = schedule["actor"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["reference"].as_str()?.strip_prefix("Location/"))
            .next()
            .unwrap_or_else(|| panic!("a Schedule names its Location: {schedule}"));
        assert!(locations.contains_key(location), "{schedule}");
        schedule_center.insert(
            schedule["id"].as_str().unwrap().to_string(),
            location.to_string(),
        );
    }
    for schedule in [&ids.appt_main, &ids.turner_main, &ids.turner_branch] {
        assert!(
            schedule_center.contains_key(schedule),
            "{schedule} in {schedule_center:?}"
        );
    }
    // Every Slot names a Schedule of the feed, is free or busy, starts before it ends, and
    // carries its center's deep link and phone.
    let mut per_schedule: BTreeMap<String, u64> = BTreeMap::new();
    let mut statuses: BTreeSet<String> = BTreeSet::new();
    let mut slot_ids = BTreeSet::new();
    for slot in &feed.resources["Slot"] {
        let id = slot["id"].as_str().unwrap();
        assert!(slot_ids.insert(id.to_string()), "slot {id} twice");
        let schedule = slot["schedule"]["reference"]
            .as_str()
            .and_then(|r| r.strip_prefix("Schedule/"))
            .unwrap();
        let center = schedule_center
            .get(schedule)
            .unwrap_or_else(|| panic!("{schedule} is not in the feed: {slot}"));
        *per_schedule.entry(schedule.to_string()).or_default() += 1;
        let status = slot["status"].as_str().unwrap();
        assert!(status == "free" || status == "busy", "{slot}");
        statuses.insert(status.to_string());
        let start = DateTime::parse_from_rfc3339(slot["start"].as_str().unwrap()).unwrap();
        let end = DateTime::parse_from_rfc3339(slot["end"].as_str().unwrap()).unwrap();
        assert!(start < end, "{slot}");
        let link = extension(slot, DEEP_LINK)
            .and_then(|e| e["valueUrl"].as_str())
            .unwrap_or_else(|| panic!("a deep link: {slot}"));
        if *center == ids.branch {
            assert_eq!(link, format!("https://branch.example.org/book?slot={id}"));
            assert_eq!(extension(slot, PHONE).unwrap()["valueString"], BRANCH_PHONE);
        } else {
            assert_eq!(
                link,
                format!(
                    "https://book.example.org/MAIN/slots/{id}?schedule={schedule}&start={}",
                    slot["start"].as_str().unwrap()
                )
            );
            // Main has no phone in its master data.
            assert!(extension(slot, PHONE).is_none(), "{slot}");
        }
        assert!(
            extension(slot, "urn:rendez:extension:slot-appointment").is_none(),
            "the feed names no appointment: {slot}"
        );
    }
    assert_eq!(
        statuses,
        ["busy", "free"].map(String::from).into_iter().collect(),
        "the booking shows busy"
    );
    // The files hold every published slot: as many per schedule as the Slot search counts.
    for (schedule, count) in &per_schedule {
        let total = f
            .search(&format!("Slot?schedule=Schedule/{schedule}&_count=0"))
            .await["total"]
            .as_u64()
            .unwrap();
        assert_eq!(*count, total, "Schedule/{schedule}");
    }
    // More than one page of the server (500 slots) in a file.
    assert!(per_schedule[&ids.appt_main] > 1000, "{per_schedule:?}");
    // The busy slot is the booked one, as the Slot search says.
    let busy: Vec<&Value> = feed.resources["Slot"]
        .iter()
        .filter(|s| s["status"] == "busy")
        .collect();
    assert_eq!(busy.len(), 1, "{busy:?}");
    assert_eq!(
        f.json(&format!("Slot/{}", busy[0]["id"].as_str().unwrap()))
            .await["status"],
        "busy"
    );

    if validator_available() {
        let all: Vec<Value> = feed.resources.values().flatten().cloned().collect();
        validate(&all).unwrap_or_else(|report| panic!("{report}"));
    }
}

async fn the_manifest_answers_304_to_its_etag_and_a_new_tag_after_a_booking(backend: Backend) {
    let app = clinic(backend).await;
    let f = fhir(&app);
    let first = read_feed(&f).await;
    let etag = first.etag.clone();
    // The same data: the same tag and body.
    let (status, headers, again) = raw(&f, "$bulk-publish", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "etag"), etag);
    assert_eq!(
        serde_json::from_str::<Value>(&again).unwrap(),
        first.manifest
    );
    for tag in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
        "*".into(),
    ] {
        let (status, headers, body) = raw(&f, "$bulk-publish", &[("If-None-Match", &tag)]).await;
        assert_eq!(status, 304, "{tag}: {body}");
        assert!(body.is_empty());
        assert_eq!(header(&headers, "etag"), etag);
    }
    let (status, _, _) = raw(&f, "$bulk-publish", &[("If-None-Match", "\"other\"")]).await;
    assert_eq!(status, 200);
    // A booking changes a slot's status in the files: a new tag, and the old one is stale.
    let date = super::slots::day().format("%Y-%m-%d").to_string();
    soap_book(&app, "SCH-APPT", "STD", &date, "09:30", &[]).await;
    let (status, headers, _) = raw(&f, "$bulk-publish", &[("If-None-Match", &etag)]).await;
    assert_eq!(status, 200, "the old tag after a booking");
    assert_ne!(header(&headers, "etag"), etag);
}

async fn the_feed_follows_the_callers_view_scope_and_needs_authentication(backend: Backend) {
    let app = clinic(backend).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    app.add_client("branch", "branch-password-1", "booking", "BRANCH", false);
    let branch = f.as_client("branch", "branch-password-1");
    let feed = read_feed(&branch).await;
    assert_eq!(
        feed.files
            .iter()
            .map(|(c, _)| c.clone())
            .collect::<BTreeSet<_>>(),
        [ids.branch.clone()].into_iter().collect(),
        "only Branch: {}",
        feed.manifest
    );
    for slot in &feed.resources["Slot"] {
        assert_eq!(
            slot["schedule"]["reference"],
            format!("Schedule/{}", ids.turner_branch)
        );
    }
    assert_eq!(feed.resources["Location"].len(), 1);
    // Main's files do not exist for it, whatever it knows of their URLs.
    for kind in ["Location", "Schedule", "Slot"] {
        branch
            .get(&format!("$bulk-publish/{}/{kind}.ndjson", ids.main))
            .await
            .assert_outcome(404, "no center");
    }
    // A different view, a different tag.
    let everything = read_feed(&f).await;
    assert_ne!(everything.etag, feed.etag);
    // Without the booking role: 403; without credentials: 401.
    app.add_client("texter", "texter-password-1", "messaging", "", false);
    let texter = f.as_client("texter", "texter-password-1");
    texter
        .get("$bulk-publish")
        .await
        .assert_outcome(403, "lacks the role 'booking'");
    texter
        .get(&format!("$bulk-publish/{}/Slot.ndjson", ids.main))
        .await
        .assert_outcome(403, "lacks the role 'booking'");
    for path in [
        "$bulk-publish".to_string(),
        format!("$bulk-publish/{}/Slot.ndjson", ids.main),
        format!("$bulk-publish/{}/Location.ndjson", ids.main),
    ] {
        let answer = f.anonymous().get(&path).await;
        answer.assert_outcome(401, "HTTP Basic");
        assert!(answer.www_authenticate.is_some());
    }
}

async fn bad_file_names_centers_and_if_none_match_are_operation_outcomes(backend: Backend) {
    let app = clinic(backend).await;
    let f = fhir(&app);
    let ids = ids(&f).await;
    f.get(&format!("$bulk-publish/{}/Practitioner.ndjson", ids.main))
        .await
        .assert_outcome(
            404,
            "a center's files are Location.ndjson, Schedule.ndjson, Slot.ndjson",
        );
    f.get(&format!("$bulk-publish/{}/Slot.json", ids.main))
        .await
        .assert_outcome(404, "a center's files are");
    f.get("$bulk-publish/main/Slot.ndjson")
        .await
        .assert_outcome(404, "'main' is not a center's id");
    f.get("$bulk-publish/007/Slot.ndjson")
        .await
        .assert_outcome(404, "'007' is not a center's id");
    f.get("$bulk-publish/999999/Slot.ndjson")
        .await
        .assert_outcome(404, "no center 999999");
    for bad in ["abc", "\"unterminated", "W/abc", "\"a\"b\""] {
        f.with_header("If-None-Match", bad)
            .get("$bulk-publish")
            .await
            .assert_outcome(400, "If-None-Match");
    }
    let answer = f.post("$bulk-publish", &serde_json::json!({})).await;
    answer.assert_outcome(405, "GET only");
    assert_eq!(answer.allow.as_deref(), Some("GET"));
}

async fn the_operation_is_in_the_capability_statement_with_its_definition(backend: Backend) {
    let app = clinic(backend).await;
    let f = fhir(&app);
    let statement = f.json("metadata").await;
    let operation = statement["rest"][0]["operation"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "bulk-publish")
        .unwrap_or_else(|| panic!("bulk-publish in {statement}"))
        .clone();
    let url = operation["definition"].as_str().unwrap();
    let definition = f.json(url).await;
    assert_eq!(definition["resourceType"], "OperationDefinition");
    assert_eq!(definition["code"], "bulk-publish");
    assert_eq!(definition["url"], url);
    assert_eq!(definition["system"], true);
    assert_eq!(definition["instance"], false);
    if validator_available() {
        validate(&[statement, definition]).unwrap_or_else(|report| panic!("{report}"));
    }
}
