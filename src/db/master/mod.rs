//! Storing master data. Each push runs in one write transaction, with a savepoint per row so
//! that a row refused by the database rules (a new entity without its name, an unknown
//! reference) is reported and rolled back while the good rows are kept.

mod availabilities;
mod centers;
mod key_entities;

pub use availabilities::apply_availabilities;
pub use centers::{CenterRow, list_centers};
pub use key_entities::apply_key_entities;

use diesel::prelude::*;

use crate::domain::FieldError;
use crate::domain::master::{RowError, SyncOutcome};

use super::DbConnection;

/// Why one row could not be stored: its own fault (reported, the rest goes on) or the
/// database's (the whole push fails and nothing is written).
#[derive(Debug)]
enum RowFailure {
    Field(FieldError),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for RowFailure {
    fn from(err: diesel::result::Error) -> Self {
        RowFailure::Db(err)
    }
}

impl From<FieldError> for RowFailure {
    fn from(err: FieldError) -> Self {
        RowFailure::Field(err)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Created,
    Updated,
    Unchanged,
}

impl SyncOutcome {
    fn count(&mut self, change: Change) {
        match change {
            Change::Created => self.created += 1,
            Change::Updated => self.updated += 1,
            Change::Unchanged => {}
        }
    }
}

/// Runs `store` for one row inside a savepoint; a field failure rolls the row back and is
/// recorded, a database failure ends the push.
fn store_row<T>(
    conn: &mut DbConnection,
    outcome: &mut SyncOutcome,
    row_number: usize,
    store: impl FnOnce(&mut DbConnection, &mut SyncOutcome) -> Result<T, RowFailure>,
) -> QueryResult<Option<T>> {
    let mut row_outcome = SyncOutcome::default();
    match conn.transaction(|c| store(c, &mut row_outcome)) {
        Ok(value) => {
            outcome.created += row_outcome.created;
            outcome.updated += row_outcome.updated;
            Ok(Some(value))
        }
        Err(RowFailure::Field(err)) => {
            outcome.errors.push(RowError::new(row_number, err));
            Ok(None)
        }
        Err(RowFailure::Db(err)) => Err(err),
    }
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}
