//! `GET /fhir/metadata`: the CapabilityStatement, generated from [`TYPES`], the table the
//! router serves, so it lists exactly what is supported.

use serde_json::{Value, json};

use super::registry::TYPES;
use super::search::{DEFAULT_COUNT, MAX_COUNT};

/// When this statement's content last changed (CapabilityStatement.date).
const DATE: &str = "2026-12-07";

pub fn statement(base: &str) -> Value {
    let resources: Vec<Value> =
        TYPES
            .iter()
            .map(|t| {
                let mut resource = json!({
                    "type": t.name,
                    "documentation": t.doc,
                    "interaction": if t.writable {
                        json!([{"code": "read"}, {"code": "search-type"}, {"code": "create"},
                            {"code": "update"}, {"code": "patch"}, {"code": "delete"}])
                    } else {
                        json!([{"code": "read"}, {"code": "search-type"}])
                    },
                    "versioning": if t.writable { "versioned-update" } else { "no-version" },
                    "updateCreate": false,
                    "conditionalCreate": false,
                    "conditionalUpdate": false,
                    "conditionalDelete": "not-supported",
                    "searchParam": t.params.iter().map(|p| json!({
                        "name": p.name,
                        "type": p.kind().as_str(),
                        "documentation": p.doc,
                    })).collect::<Vec<_>>(),
                });
                if !t.operations.is_empty() {
                    resource["operation"] = t
                    .operations
                    .iter()
                    .map(|o| json!({
                        "name": o.code,
                        "definition": format!("{base}/OperationDefinition/{}", o.definition),
                    }))
                    .collect();
                }
                resource
            })
            .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": DATE,
        "publisher": "Rendez",
        "kind": "instance",
        "software": {"name": "Rendez", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {
            "description": "Rendez: the clinic's directory and schedules as FHIR R4",
            "url": base,
        },
        "fhirVersion": "4.0.1",
        "format": ["json", "application/fhir+json", "application/json"],
        "rest": [{
            "mode": "server",
            "documentation": format!(
                "Searches answer a searchset Bundle with total and self/next links. Paging: _count (default {DEFAULT_COUNT}, at most {MAX_COUNT}; 0 answers only the total) and _after=<id> (the next link's cursor: matches with a larger id, so pages stay consistent while data changes). Unknown search parameters are ignored and left out of the self link, or refused with 400 under 'Prefer: handling=strict'. JSON only: _format=xml answers 406. The metadata is public; everything else needs authentication."
            ),
            "security": {
                "cors": false,
                "service": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "Basic",
                }]}],
                "description": "HTTP Basic with a Rendez API client, or a bearer token of one (Authorization: Bearer, issued by `rendez client token NAME`), that has the booking role (403 without it); PractitionerRole writes need the admin role and the role's center in the client's scope. A client limited to some centers sees only those centers and the schedules, resources and activities at them; anything else is 404 on read and absent from searches.",
            },
            "resource": resources,
            "operation": [{
                "name": super::operations::BULK_PUBLISH_CODE,
                "definition": format!("{base}/OperationDefinition/{}", super::operations::BULK_PUBLISH_ID),
                "documentation": "SMART Scheduling Links: GET /fhir/$bulk-publish answers the manifest of the Location, Schedule and Slot NDJSON files of the caller's centers",
            }],
        }],
    })
}
