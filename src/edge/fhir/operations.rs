//! The operations this server supports, as data: `$regenerate` on `PractitionerRole` (its code,
//! its OperationDefinition, its answer as `Parameters`). The handler is [`super::regenerate`];
//! the router's type table names the operation and serves the definitions.

use serde_json::{Value, json};

use super::practitioner_role;
use crate::app::slots::CompletionRecord;

/// The operation's code, as the URL spells it after `$`.
pub const CODE: &str = "regenerate";
/// The id of its OperationDefinition.
pub const ID: &str = "PractitionerRole-regenerate";

/// `$bulk-publish` (SMART Scheduling Links, handler [`super::bulk_publish`]): its code and the
/// id of its OperationDefinition.
pub const BULK_PUBLISH_CODE: &str = "bulk-publish";
pub const BULK_PUBLISH_ID: &str = "bulk-publish";

/// The canonical URL of the OperationDefinition.
pub fn url(base: &str) -> String {
    format!("{base}/OperationDefinition/{ID}")
}

/// The OperationDefinition (valid R4).
pub fn definition(base: &str) -> Value {
    let out = |name: &str, kind: &str, doc: &str| json!({"name": name, "use": "out", "min": 1, "max": "1", "type": kind, "documentation": doc});
    json!({
        "resourceType": "OperationDefinition",
        "id": ID,
        "url": url(base),
        "name": "PractitionerRoleRegenerate",
        "title": "Regenerate a PractitionerRole's slots",
        "status": "active",
        "kind": "operation",
        "publisher": "Rendez",
        "description": "Computes the role's published Slots again now over the slot window (RENDEZ_SLOT_WINDOW) from its availability and bookings, as an availability change would: creates the missing, updates what changed where safe, retires obsolete free slots, and never touches booked time (a booked slot availability no longer asks for is kept and counted as a conflict). Idempotent: a second call changes nothing. Needs the admin role and the role's center in the caller's edit scope. Answers the run's completion record.",
        "affectsState": true,
        "code": CODE,
        "resource": [practitioner_role::NAME],
        "system": false,
        "type": false,
        "instance": true,
        "parameter": [
            out("runId", "string", "The generation run's id (the meta.tag of the slots it wrote)"),
            out("created", "integer", "Slots created"),
            out("updated", "integer", "Free slots updated"),
            out("retired", "integer", "Free slots retired"),
            out("retained", "integer", "Slots kept as they were"),
            out("conflicts", "integer", "Booked slots that availability no longer asks for, kept"),
            {"name": "diagnostics", "use": "out", "min": 0, "max": "*", "type": "string",
                "documentation": "What the run noticed (conflicts' reasons)"},
        ],
    })
}

/// The completion record as `Parameters`.
pub fn parameters(record: &CompletionRecord) -> Value {
    let count = |name: &str, n: usize| json!({"name": name, "valueInteger": n});
    let mut parameter = vec![
        json!({"name": "runId", "valueString": record.run_id}),
        count("created", record.created),
        count("updated", record.updated),
        count("retired", record.retired),
        count("retained", record.retained),
        count("conflicts", record.conflicts),
    ];
    parameter.extend(
        record
            .diagnostics
            .iter()
            .filter(|d| !d.trim().is_empty())
            .map(|d| json!({"name": "diagnostics", "valueString": d})),
    );
    json!({"resourceType": "Parameters", "parameter": parameter})
}

/// The OperationDefinitions this server serves, for read and search.
pub fn definitions(base_url: &str) -> Vec<Value> {
    let mut all = vec![definition(base_url), bulk_publish_definition(base_url)];
    all.extend(ihe_definitions(base_url));
    all
}

/// The OperationDefinition (valid R4): a system-level operation answering the manifest.
pub fn bulk_publish_definition(base: &str) -> Value {
    json!({
        "resourceType": "OperationDefinition",
        "id": BULK_PUBLISH_ID,
        "url": format!("{base}/OperationDefinition/{BULK_PUBLISH_ID}"),
        "name": "BulkPublish",
        "title": "SMART Scheduling Links bulk publication",
        "status": "active",
        "kind": "operation",
        "publisher": "Rendez",
        "description": "GET /fhir/$bulk-publish answers the SMART Scheduling Links manifest (https://github.com/smart-on-fhir/smart-scheduling-links/blob/master/specification.md): transactionTime (the latest change of the centers and their stored slots), request, and output with, for each center in the caller's view scope, its Location, Schedule and Slot NDJSON files at /fhir/$bulk-publish/{center}/{Location|Schedule|Slot}.ndjson; error is empty. Needs authentication and the booking role, as every /fhir interaction. Strong ETag and Cache-Control: private, max-age=60; If-None-Match with the current tag answers 304. Slots are free or busy (bookings on every edge laid over at once), carry booking-deep-link (per-center template, RENDEZ_BOOKING_LINK_TEMPLATE and RENDEZ_BOOKING_LINKS) and booking-phone (the center's phone); the slot file is streamed.",
        "affectsState": false,
        "code": BULK_PUBLISH_CODE,
        "system": true,
        "type": false,
        "instance": false,
        "parameter": [{
            "name": "return",
            "use": "out",
            "min": 1,
            "max": "1",
            "type": "Binary",
            "documentation": "The manifest (application/json), not a FHIR resource: transactionTime, request, output [{type, url}], error []",
        }],
    })
}

/// The OperationDefinitions of IHE ITI Scheduling's operations on `Appointment` (valid R4), as
/// [`super::ihe`] serves them.
pub fn ihe_definitions(base: &str) -> Vec<Value> {
    let input = |name: &str, min: u32, max: &str, kind: &str, doc: &str| json!({"name": name, "use": "in", "min": min, "max": max, "type": kind, "documentation": doc});
    let out = json!({"name": "return", "use": "out", "min": 1, "max": "1", "type": "Bundle",
        "documentation": "A searchset Bundle of Appointments; an OperationOutcome of information may follow (a hold says until when it holds)."});
    let define = |code: &str,
                  name: &str,
                  title: &str,
                  description: &str,
                  affects: bool,
                  parameters: Vec<Value>| {
        let id = format!("Appointment-{code}");
        json!({
            "resourceType": "OperationDefinition",
            "id": id,
            "url": format!("{base}/OperationDefinition/{id}"),
            "name": name,
            "title": title,
            "status": "active",
            "kind": "operation",
            "publisher": "Rendez",
            "description": description,
            "affectsState": affects,
            "code": code,
            "resource": ["Appointment"],
            "system": false,
            "type": true,
            "instance": false,
            "parameter": parameters,
        })
    };
    vec![
        define(
            "find",
            "AppointmentFind",
            "Find potential appointments (IHE ITI-115)",
            "The appointments the caller could book between start and end, in the order and by the rules of SOAP searchAvailabilities (booking lead time, the activity's duration, insurance acceptance), as proposed Appointments whose ids $hold and $book take. GET with query parameters or POST with Parameters. Needs the booking role; follows the caller's view scope.",
            false,
            vec![
                input(
                    "start",
                    1,
                    "1",
                    "dateTime",
                    "The window's start, with a time zone",
                ),
                input(
                    "end",
                    1,
                    "1",
                    "dateTime",
                    "The window's end, with a time zone; at most 366 days after start",
                ),
                input(
                    "visit-type",
                    0,
                    "1",
                    "string",
                    "The activity: HealthcareService/{id} (required unless specialty names it)",
                ),
                input("specialty", 0, "1", "string", "The activity, as visit-type"),
                input("practitioner", 0, "1", "string", "Practitioner/{id}"),
                input("location", 0, "1", "string", "Location/{id}"),
                input(
                    "insurance-reference",
                    0,
                    "1",
                    "string",
                    "An insurance's LID (or system|LID): only resources that accept it",
                ),
                input(
                    "_count",
                    0,
                    "1",
                    "integer",
                    "At most this many proposals (1 to 1000, default 100)",
                ),
                out.clone(),
            ],
        ),
        define(
            "hold",
            "AppointmentHold",
            "Hold a proposed appointment (IHE ITI-116)",
            "Holds a proposed Appointment of $find for the caller until RENDEZ_HOLD_TTL from now (the answer's extension urn:rendez:extension:hold-expires says until when): the held time is busy for every other caller on every edge until it is booked, released or expires. 409 when the slot is no longer free, 404 for an unknown proposal, 422 when it cannot be booked.",
            true,
            vec![
                input(
                    "appointment-reference",
                    1,
                    "1",
                    "Reference",
                    "Appointment/{id} of a proposal of $find",
                ),
                out.clone(),
            ],
        ),
        define(
            "book",
            "AppointmentBook",
            "Book, or cancel, an appointment (IHE ITI-117)",
            "Books a hold of the caller's (only its holder, before it expires) or a proposal of $find directly, for the patient the appointment-resource names (Patient/{id}, or a contained Patient with name and contacts); with status cancelled, releases a hold or cancels an appointment. The same guarantees as SOAP addAppointment. 409 for a slot taken or a hold lost (expired, booked, released), 404 for an unknown hold, 422 for what cannot be booked.",
            true,
            vec![
                input(
                    "appointment-reference",
                    0,
                    "1",
                    "Reference",
                    "Appointment/{id}: a proposal, a hold, or an appointment to cancel",
                ),
                input(
                    "appointment-resource",
                    0,
                    "1",
                    "Appointment",
                    "The Appointment: its id (when no reference is given), status (booked or pending to book, cancelled to cancel) and Patient participant",
                ),
                out,
            ],
        ),
    ]
}
