//! The WSDL tells generated clients which request fields they cannot leave out: exactly those a
//! request without them is refused for, with a Client fault that names the field.

use crate::backend_tests;
use crate::helpers::{Auth, Backend, spawn_app};

backend_tests!(the_wsdl_marks_required_the_fields_a_request_cannot_omit_and_the_fault_names_them);

/// Each operation with a request that has every required field, and those fields.
const REQUESTS: &[(&str, &[(&str, &str)])] = &[
    (
        "searchAvailabilities",
        &[("ACTIVITY_LID", "A1"), ("AVA_RESULTS_NUMBER", "5")],
    ),
    (
        "addAppointment",
        &[
            ("ACTIVITY_LID", "A1"),
            ("RESOURCE_LID", "R1"),
            ("APP_DATE", "2027-03-01"),
            ("APP_START_TIME", "10:00"),
        ],
    ),
    ("deleteAppointment", &[("APP_LID", "X1")]),
    ("checkAppointment", &[("APP_LID", "X1")]),
];

/// The request element of `operation` in the WSDL: each child and whether it may be left out.
fn declared(wsdl: &str, operation: &str) -> Vec<(String, bool)> {
    let start = wsdl
        .find(&format!("<xs:element name=\"{operation}\">"))
        .unwrap_or_else(|| panic!("{operation} in the WSDL"));
    let end = start + wsdl[start..].find("</xs:complexType>").unwrap();
    wsdl[start..end]
        .split("<xs:element name=\"")
        .skip(2)
        .map(|rest| {
            let (name, attributes) = rest.split_once('"').unwrap();
            let tag_end = attributes.find('>').unwrap();
            (
                name.to_string(),
                attributes[..tag_end].contains("minOccurs=\"0\""),
            )
        })
        .collect()
}

async fn the_wsdl_marks_required_the_fields_a_request_cannot_omit_and_the_fault_names_them(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let wsdl = app.get("/soap?wsdl").await.text().await.unwrap();
    for (operation, fields) in REQUESTS {
        let declared = declared(&wsdl, operation);
        let required: Vec<&str> = declared
            .iter()
            .filter(|(_, optional)| !optional)
            .map(|(name, _)| name.as_str())
            .collect();
        let sent: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
        assert_eq!(required, sent, "{operation}: required in the WSDL");
        for (left_out, _) in fields.iter() {
            let body: String = fields
                .iter()
                .filter(|(name, _)| name != left_out)
                .map(|(name, value)| format!("<{name}>{value}</{name}>"))
                .collect();
            let reply = app.soap(&Auth::admin(), operation, &body).await;
            reply.assert_fault("Client", left_out);
        }
    }
}
