//! The SOAP edge: `POST /soap` (1.1 and 1.2), `GET /soap?wsdl`. It turns bytes into a typed
//! request for one operation and a result (or an [`Error`]) back into an envelope; the work
//! itself is done by the domain and database layers.

mod booking;
pub mod endpoint;
pub mod envelope;
pub mod fault;
mod flat;
mod master;
mod messaging;
pub mod operation;
pub mod prescan;
mod results;
mod wire;

pub use operation::Operation;

use crate::error::Error;

/// The target namespace of every Rendez operation.
pub const RENDEZ_NS: &str = "urn:rendez:soap:v1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoapVersion {
    V11,
    V12,
}

impl SoapVersion {
    pub fn namespace(self) -> &'static str {
        match self {
            SoapVersion::V11 => "http://schemas.xmlsoap.org/soap/envelope/",
            SoapVersion::V12 => "http://www.w3.org/2003/05/soap-envelope",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            SoapVersion::V11 => "text/xml; charset=utf-8",
            SoapVersion::V12 => "application/soap+xml; charset=utf-8",
        }
    }
}

/// Wraps the children of an operation's response element into a full envelope.
pub fn response_envelope(version: SoapVersion, operation: Operation, children: &str) -> String {
    let name = operation.name();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{}"><soap:Body><tns:{name}Response xmlns:tns="{RENDEZ_NS}">{children}</tns:{name}Response></soap:Body></soap:Envelope>"#,
        version.namespace()
    )
}

/// Types the canonical operation element with yaserde; its plain-string errors get the
/// operation's name so that the Fault says where the problem is.
pub(crate) fn parse_payload<T: yaserde::YaDeserialize>(
    operation: Operation,
    payload: &str,
) -> Result<T, Error> {
    yaserde::de::from_str(payload)
        .map_err(|e| Error::client(format!("malformed {} request: {e}", operation.name())))
}

/// Serializes a response's children (the response element itself is written by
/// [`response_envelope`]).
pub(crate) fn render_children<T: yaserde::YaSerialize>(response: &T) -> Result<String, Error> {
    yaserde::ser::to_string_content(response)
        .map_err(|e| Error::Internal(format!("cannot serialize a response: {e}")))
}
