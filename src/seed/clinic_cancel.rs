//! The clinic system's CancelAppointment web service (seed A.4.2), as Rendez calls it: a SOAP 1.1
//! request with `APP_LID` and `USER_LID`, answered with `DELETE_RESULT`, `RESULT` and `APP_LID`
//! (or, on an error, the error message in `APP_LID`, as the seed says).

use quick_xml::escape::escape;
use quick_xml::events::Event;

/// The namespace of the operation element; its children are unqualified.
pub const CLINIC_NS: &str = "urn:rendez:clinic:v1";
pub const CANCEL_ACTION: &str = "urn:rendez:clinic:v1#CancelAppointment";

pub fn cancel_request(app_lid: &str, user_lid: Option<&str>) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><c:CancelAppointment xmlns:c="{CLINIC_NS}"><APP_LID>{}</APP_LID><USER_LID>{}</USER_LID></c:CancelAppointment></soap:Body></soap:Envelope>"#,
        escape(app_lid),
        escape(user_lid.unwrap_or_default())
    )
}

/// What the clinic system answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelAnswer {
    /// `DELETE_RESULT` (or `RESULT`) `OK`.
    Deleted,
    /// `ERROR`, with the text it gave (in `APP_LID` per the seed, or `ERROR_MESSAGE`).
    Refused(String),
}

/// Reads the answer; `Err` when it is no answer of CancelAppointment at all (a Fault, not XML,
/// no result field).
pub fn read_cancel_answer(xml: &str) -> Result<CancelAnswer, String> {
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut current: Option<String> = None;
    let mut fields: Vec<(String, String)> = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = e.local_name().as_ref().to_string();
                if name == "Fault" {
                    return Err("the clinic system answered with a SOAP Fault".into());
                }
                current = Some(name);
                fields.push((current.clone().unwrap_or_default(), String::new()));
            }
            Ok(Event::Text(t)) => {
                if current.is_some()
                    && let Some(last) = fields.last_mut()
                {
                    last.1.push_str(&t.xml10_content());
                }
            }
            Ok(Event::GeneralRef(r)) => {
                if current.is_some()
                    && let Some(last) = fields.last_mut()
                {
                    last.1.push_str(match r.into_inner().as_ref() {
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "?",
                    });
                }
            }
            Ok(Event::End(_)) => current = None,
            Ok(Event::Eof) => break,
            Err(e) => return Err(format!("the clinic system's answer is not XML: {e}")),
            _ => {}
        }
    }
    let get = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_string())
    };
    let result = get("DELETE_RESULT")
        .filter(|r| !r.is_empty())
        .or_else(|| get("RESULT"))
        .ok_or("the clinic system's answer has no DELETE_RESULT or RESULT")?;
    match result.to_ascii_uppercase().as_str() {
        "OK" => Ok(CancelAnswer::Deleted),
        "ERROR" => Ok(CancelAnswer::Refused(
            get("ERROR_MESSAGE")
                .filter(|m| !m.is_empty())
                .or_else(|| get("APP_LID"))
                .unwrap_or_default(),
        )),
        other => Err(format!(
            "the clinic system answered DELETE_RESULT '{other}', neither OK nor ERROR"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_carries_both_ids_escaped() {
        let xml = cancel_request("A<1>", Some("P&2"));
        assert!(xml.contains("<APP_LID>A&lt;1&gt;</APP_LID>"), "{xml}");
        assert!(xml.contains("<USER_LID>P&amp;2</USER_LID>"), "{xml}");
        assert!(xml.contains("CancelAppointment"), "{xml}");
    }

    #[test]
    fn ok_and_error_answers_are_read_and_anything_else_is_an_error() {
        let ok = "<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'><s:Body><x:CancelAppointmentResponse xmlns:x='urn:c'><DELETE_RESULT>OK</DELETE_RESULT><RESULT>OK</RESULT><APP_LID>A1</APP_LID></x:CancelAppointmentResponse></s:Body></s:Envelope>";
        assert_eq!(read_cancel_answer(ok), Ok(CancelAnswer::Deleted));
        let refused = ok
            .replace(">OK<", ">ERROR<")
            .replace(">A1<", ">appointment already attended<");
        assert_eq!(
            read_cancel_answer(&refused),
            Ok(CancelAnswer::Refused("appointment already attended".into()))
        );
        let fault = "<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'><s:Body><s:Fault><faultstring>x</faultstring></s:Fault></s:Body></s:Envelope>";
        assert!(read_cancel_answer(fault).unwrap_err().contains("Fault"));
        assert!(
            read_cancel_answer("<a><b>1</b></a>")
                .unwrap_err()
                .contains("no DELETE_RESULT")
        );
        assert!(
            read_cancel_answer("<a><RESULT>MAYBE</RESULT></a>")
                .unwrap_err()
                .contains("MAYBE")
        );
    }
}
