//! The messaging gateway: the outbox API, updateMessages/searchMessages, the workers, the
//! providers (SMTP, Twilio, Jasmin) and their delivery reports.

pub mod email;
mod outbox;
mod sms;
mod soap;
pub mod support;
mod workers;
