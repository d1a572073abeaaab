//! Rosters as stored: shifts and their breaks ([`shifts`]), what they make available to
//! searches ([`availability`]), the Deputy mappings ([`mappings`]), the conflicts a change
//! leaves behind ([`conflicts`]) and the shifts that cannot be synchronised ([`sync_errors`]).
//!
//! Every change of a shift runs in one write transaction that also moves the master-data
//! version (the booking cache of every process reloads) and records the slot worker's event
//! for the shift's role, as the other availability sources do: once per transaction, however
//! many shifts it changed ([`shifts::Batch`]).

pub mod availability;
pub mod conflicts;
pub mod incoming;
pub mod mappings;
pub mod shifts;
pub mod sources;
mod stamp;
pub mod sync_errors;

pub use shifts::{
    Batch, Change, ExternalOutcome, ExternalShift, ShiftFilter, ShiftWrite, Target, announcing,
    apply_external, apply_external_to, apply_external_within, find, insert, keep_deputy_id, list,
    remove, remove_external, remove_external_within, replace, target,
};
