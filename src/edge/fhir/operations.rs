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
    vec![
        definition(base_url),
        super::bulk_publish::definition(base_url),
    ]
}
