//! The messaging gateway: the outbox API, updateMessages/searchMessages, the workers, the
//! providers (SMTP, Twilio, Jasmin) and their delivery reports.

mod outbox;
