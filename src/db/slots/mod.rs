//! Published slots: the availability events that ask for them ([`events`]), the run that
//! reconciles one role's stored slots with its availability and bookings ([`run`]), and the
//! reads of stored slots ([`search`]).

pub mod events;
pub mod lookup;
pub mod run;
pub mod search;

pub use events::{ChangedScopes, Scope};
pub use run::{RoleKey, RunRecord, RunRequest, run_role};
