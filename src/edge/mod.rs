//! Edges that speak other protocols than the clinic SOAP contract. Each parses its wire form,
//! calls the use cases of [`crate::app`] and renders their answers and errors in its own words;
//! none imports the database layer.

pub mod admin;
pub mod console;
pub mod fhir;
pub mod openvpms;
