//! The domain core: values parsed from what the outside sends, and the rules of master data.
//! Nothing here knows XML, HTTP or SQL.

pub mod access;
pub mod booking;
pub mod deputy;
pub mod exported;
pub mod freebusy;
pub mod locations;
pub mod master;
pub mod memo;
pub mod messages;
pub mod outbox;
pub mod patient;
pub mod results;
pub mod roster;
pub mod slot_publication;
pub mod slots;
pub mod values;

pub use values::{FieldError, FieldSource};
