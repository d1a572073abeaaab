//! The messaging gateway's workers: they claim due messages from the outbox, send them through
//! the configured provider of each channel, and record what happened.

pub mod clinic;
pub mod config;
pub mod delivery;
pub mod gate;
pub mod jasmin;
pub mod log;
pub mod provider;
pub mod retry;
pub mod smtp;
pub mod twilio;
pub mod worker;

pub use config::{EmailProviderConfig, MessagingConfig, SmsProviderConfig};
pub use worker::{Workers, wake};
