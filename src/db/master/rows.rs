//! What the master-data pushes share: a row's failure, its change, the savepoint per row and
//! why a push that lost a race runs again.

use diesel::prelude::*;

use crate::domain::FieldError;
use crate::domain::master::{RowError, SyncOutcome};

use crate::db::DbConnection;

/// Why one row could not be stored: its own fault (reported, the rest goes on) or the
/// database's (the whole push fails and nothing is written).
#[derive(Debug)]
pub(super) enum RowFailure {
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
pub(super) enum Change {
    Created,
    Updated,
    Unchanged,
}

impl SyncOutcome {
    pub(super) fn count(&mut self, change: Change) {
        match change {
            Change::Created => self.created += 1,
            Change::Updated => self.updated += 1,
            Change::Unchanged => {}
        }
    }
}

/// Runs `store` for one row inside a savepoint; a field failure rolls the row back and is
/// recorded, a database failure ends the push.
pub(super) fn store_row<T>(
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

// A whole push runs again (`db::tx::retrying`) when it lost a race with a concurrent push of
// the same new LIDs. On MySQL, two transactions can both find a LID absent and both insert it:
// the second then fails on the unique key (or, with its row locks crossed, on a deadlock, 1213;
// on Galera, at COMMIT, as a certification failure) and its push is rolled back whole. Run again
// in a new transaction, it finds the winner's rows and updates them, so concurrent identical
// pushes all succeed. SQLite never races so: its `BEGIN IMMEDIATE` lets one push at a time in.

pub(super) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub(super) fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}
