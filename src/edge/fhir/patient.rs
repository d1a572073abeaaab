//! `Patient`: the minimum an appointment needs, its patient's name and contacts. Id: Rendez's
//! patient id; identifiers: the patient's TID ([`PATIENT_TID`]) and, when the clinic sent one,
//! its LID ([`PATIENT_LID`]). Never logged.

use serde_json::{Value, json};

use super::location::nonblank;
use super::search::{ID, Page, Query, instant, intersect};
use super::systems::{PATIENT_LID, PATIENT_TID, identifier};
use crate::app::appointment_pages::{self, PatientEntry};
use crate::app::{Caller, Core};
use crate::error::Error;

pub const NAME: &str = "Patient";

pub const PARAMS: &[super::search::Param] = &[ID];

pub async fn search(core: &Core, caller: &Caller, query: &Query) -> Result<Page, Error> {
    let ids = intersect(
        query
            .criteria
            .iter()
            .filter(|c| c.name == "_id")
            .map(|c| c.values.clone()),
    );
    let page =
        appointment_pages::patients(core, caller, ids, query.after.clone(), query.count).await?;
    let next = if page.more {
        page.items.last().map(|p| p.id.clone())
    } else {
        None
    };
    Ok(Page {
        entries: page
            .items
            .iter()
            .map(|p| (p.id.clone(), render(p)))
            .collect(),
        total: page.total,
        next,
    })
}

pub async fn read(core: &Core, caller: &Caller, id: &str) -> Result<Option<Value>, Error> {
    let page =
        appointment_pages::patients(core, caller, Some(vec![id.to_string()]), None, 1).await?;
    Ok(page.items.first().map(render))
}

pub fn render(patient: &PatientEntry) -> Value {
    let mut identifiers = vec![identifier(PATIENT_TID, &patient.tid)];
    if let Some(lid) = nonblank(&patient.lid) {
        identifiers.push(identifier(PATIENT_LID, lid));
    }
    let mut out = json!({
        "resourceType": NAME,
        "id": patient.id,
        "meta": {"lastUpdated": instant(patient.updated_at)},
        "identifier": identifiers,
        "active": true,
    });
    let family = nonblank(&patient.second_name);
    let given = nonblank(&patient.first_name);
    if family.is_some() || given.is_some() {
        let mut name = json!({"use": "official"});
        if let Some(family) = family {
            name["family"] = json!(family);
        }
        if let Some(given) = given {
            name["given"] = json!([given]);
        }
        out["name"] = json!([name]);
    }
    let mut telecom = Vec::new();
    if let Some(mobile) = nonblank(&patient.mobile_phone) {
        telecom.push(json!({"system": "phone", "value": mobile, "use": "mobile"}));
    }
    if let Some(phone) = nonblank(&patient.landline_phone) {
        telecom.push(json!({"system": "phone", "value": phone, "use": "home"}));
    }
    if let Some(email) = nonblank(&patient.email) {
        telecom.push(json!({"system": "email", "value": email}));
    }
    if !telecom.is_empty() {
        out["telecom"] = Value::Array(telecom);
    }
    out
}
