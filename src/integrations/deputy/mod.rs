//! Deputy's roster API: the client, its wire forms and its configuration. The sync's rules are
//! in [`crate::domain::deputy`]; what the poller and the webhook do with rosters is in
//! [`crate::app::deputy`].

pub mod client;
pub mod config;
pub mod webhook;
pub mod wire;

pub use client::{DeputyClient, DeputyError, PAGE_SIZE, RosterFilter, RosterRead};
pub use config::{DeputyConfig, DeputyToken};
