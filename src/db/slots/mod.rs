//! Published slots: the availability events that ask for them ([`events`]).

pub mod events;

pub use events::{ChangedScopes, Scope};
