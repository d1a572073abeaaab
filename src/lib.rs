//! Rendez: a self-hosted gateway between a clinic's own software and the outside world.
//!
//! Layers, outside in: [`http`], [`soap`] and [`edge`] (bytes, envelopes, faults), [`workers`]
//! and [`cli`] (background work, commands), all of which call [`app`] (the use cases); [`app`]
//! calls [`db`] (Diesel, one code path for SQLite and MySQL/MariaDB); [`domain`] holds parsed
//! values and rules, no XML or SQL. [`crypto`], [`seed`] and [`database`] are leaves any layer
//! may use. `tests/layers.rs` keeps the rule; [`startup`] puts the layers together.

pub mod app;
pub mod appointments_import;
pub mod auth;
pub mod campaign;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod database;
pub mod db;
pub mod demo;
pub mod domain;
pub mod edge;
pub mod error;
pub mod exports;
pub mod http;
pub mod import;
pub mod integrations;
pub mod logging;
pub mod memo;
pub mod memory;
pub mod messaging;
pub mod metrics;
pub mod results;
pub mod seed;
pub mod shutdown;
pub mod slots_command;
pub mod soap;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod workers;

pub use error::{Error, Result};
