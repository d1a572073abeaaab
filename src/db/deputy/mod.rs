//! The Deputy sync's own tables: the poll's state and watermark ([`state`]), the rosters Deputy
//! deleted ([`state::mark_deleted`]), the last polls ([`polls`]), and the pushes of Rendez's shifts ([`pushes`]). The
//! shifts, mappings, conflicts and sync errors are the rosters' ([`super::rosters`]).

pub mod lookups;
pub mod polls;
pub mod pushes;
pub mod state;

pub use polls::PollRow;
pub use state::{PollRecord, SyncState};
