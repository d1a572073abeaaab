//! The Deputy sync's own tables: the poll's state and watermark ([`state`]), the rosters Deputy
//! deleted ([`state::mark_deleted`]), and the pushes of Rendez's shifts ([`pushes`]). The
//! shifts, mappings, conflicts and sync errors are the rosters' ([`super::rosters`]).

pub mod lookups;
pub mod pushes;
pub mod state;

pub use state::{PollRecord, SyncState};
