//! Rendez: a self-hosted gateway between a clinic's own software and the outside world.
//!
//! Layers, outside in: [`http`] and [`soap`] (the edge: bytes, envelopes, faults), [`domain`]
//! (parsed values and rules, no XML or SQL), [`db`] (Diesel, one code path for SQLite and
//! MySQL/MariaDB). [`cli`] and [`startup`] put them together.

pub mod app;
pub mod appointments_import;
pub mod auth;
pub mod campaign;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod edge;
pub mod error;
pub mod exports;
pub mod http;
pub mod import;
pub mod logging;
pub mod memo;
pub mod memory;
pub mod messaging;
pub mod metrics;
pub mod results;
pub mod slots_command;
pub mod soap;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod workers;

pub use error::{Error, Result};
