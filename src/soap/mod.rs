//! The SOAP edge: `POST /soap` (1.1 and 1.2), `GET /soap?wsdl`. It turns bytes into a typed
//! request for one operation and a result (or an [`Error`]) back into an envelope; the work
//! itself is done by the use cases of [`crate::app`] (this edge never reaches the database
//! layer: see `tests/layers.rs`).

pub mod body_budget;
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

pub use operation::{Operation, RENDEZ_NS};

use crate::error::Error;

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
pub fn response_envelope(version: SoapVersion, operation: Operation, children: &str) -> Vec<u8> {
    write_envelope(version, operation, children.len(), |out| {
        out.extend_from_slice(children.as_bytes())
    })
}

/// Writes an envelope whose children `write_children` appends itself, into one buffer sized
/// up front (`children_len` bytes for the children): a large answer, such as a result's
/// content in base64, is then written once instead of being built apart and copied in.
pub(crate) fn write_envelope(
    version: SoapVersion,
    operation: Operation,
    children_len: usize,
    write_children: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let name = operation.name();
    let head = [
        r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap=""#,
        version.namespace(),
        r#""><soap:Body><tns:"#,
        name,
        r#"Response xmlns:tns=""#,
        RENDEZ_NS,
        r#"">"#,
    ];
    let tail = ["</tns:", name, "Response></soap:Body></soap:Envelope>"];
    let frame: usize = head.iter().chain(tail.iter()).map(|part| part.len()).sum();
    let mut out = Vec::with_capacity(frame + children_len);
    head.iter()
        .for_each(|part| out.extend_from_slice(part.as_bytes()));
    write_children(&mut out);
    tail.iter()
        .for_each(|part| out.extend_from_slice(part.as_bytes()));
    out
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
