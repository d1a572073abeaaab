//! Storing master data. Each push runs in one write transaction, with a savepoint per row so
//! that a row refused by the database rules (a new entity without its name, an unknown
//! reference) is reported and rolled back while the good rows are kept.

mod availabilities;
pub mod bookables;
mod centers;
mod key_entities;
mod reach;
pub mod role_rules;
mod rows;

pub use availabilities::{apply_availabilities, apply_availabilities_within};
pub use centers::{CenterRow, list_centers};
pub use key_entities::{apply_key_entities, apply_key_entities_within};
