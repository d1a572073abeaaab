//! SOAP Faults in the version the caller spoke. SOAP 1.2 names the culprits `Sender` and
//! `Receiver`; the contract's `Client`/`Server` are kept as a subcode so both read the same.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use quick_xml::escape::escape;

use super::{RENDEZ_NS, SoapVersion};
use crate::error::{Error, FaultCode};

pub fn render(version: SoapVersion, code: FaultCode, message: &str) -> String {
    render_with(version, code, message, None)
}

/// A Fault; `not_understood` (namespace, local name) adds SOAP 1.2's `NotUnderstood` header
/// block to a `MustUnderstand` fault. SOAP 1.1's faultstring carries no `xml:lang` (its schema
/// has none); SOAP 1.2's Reason/Text must.
fn render_with(
    version: SoapVersion,
    code: FaultCode,
    message: &str,
    not_understood: Option<(&str, &str)>,
) -> String {
    let message = escape(message);
    match version {
        SoapVersion::V11 => format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{ns}"><soap:Body><soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{message}</faultstring></soap:Fault></soap:Body></soap:Envelope>"#,
            ns = version.namespace()
        ),
        SoapVersion::V12 => {
            let code_element = match code {
                FaultCode::Client => {
                    format!(
                        "<env:Value>env:Sender</env:Value><env:Subcode><env:Value>r:{code}</env:Value></env:Subcode>"
                    )
                }
                FaultCode::Server => {
                    format!(
                        "<env:Value>env:Receiver</env:Value><env:Subcode><env:Value>r:{code}</env:Value></env:Subcode>"
                    )
                }
                FaultCode::VersionMismatch | FaultCode::MustUnderstand => {
                    format!("<env:Value>env:{code}</env:Value>")
                }
            };
            let header = match not_understood {
                Some((namespace, local)) => format!(
                    r#"<env:Header><env:NotUnderstood qname="nu:{local}" xmlns:nu="{namespace}"/></env:Header>"#,
                    namespace = escape(namespace),
                    local = escape(local)
                ),
                None => String::new(),
            };
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="{ns}" xmlns:r="{RENDEZ_NS}">{header}<env:Body><env:Fault><env:Code>{code_element}</env:Code><env:Reason><env:Text xml:lang="en">{message}</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>"#,
                ns = version.namespace()
            )
        }
    }
}

/// SOAP 1.1 answers every Fault with 500; SOAP 1.2 with 400 for the sender's fault and 500
/// for the receiver's.
pub fn status(version: SoapVersion, code: FaultCode) -> StatusCode {
    match (version, code) {
        (SoapVersion::V12, FaultCode::Client) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub fn response(version: SoapVersion, error: &Error) -> HttpResponse {
    response_with_status(version, error, status(version, error.fault_code()))
}

pub fn response_with_status(
    version: SoapVersion,
    error: &Error,
    status: StatusCode,
) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(version.content_type())
        .body(render_with(
            version,
            error.fault_code(),
            &error.to_string(),
            match error {
                Error::MustUnderstand { namespace, local } => {
                    Some((namespace.as_str(), local.as_str()))
                }
                _ => None,
            },
        ))
}
