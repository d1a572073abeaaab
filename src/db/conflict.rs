//! What counts as a conflict with concurrent work, after which a transaction may simply run
//! again (see [`super::tx`]): a leaf that [`super::dialect`] and [`super::tx`] both use.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// A failure after which the whole transaction may simply be run again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// A deadlock, or a Galera certification failure (both 1213).
    Deadlock,
    /// A lock wait timeout (1205).
    LockWait,
    /// "Record has changed since last read" (1020).
    RecordChanged,
    /// A Galera node not ready for writes (1047): it is joining, or lost its quorum for a moment.
    NotReady,
    /// A unique key taken by a concurrent twin that committed first.
    Twin,
    /// MariaDB's statement limit (`max_statement_time`, 1969) ended a statement: in a write
    /// transaction, a wait for a lock held by a transaction that went quiet (a Galera node
    /// sometimes never answers a BF-aborted victim's statement until its connection is cut, and
    /// the victim keeps its locks until then). Run again, a few times only: a statement that is
    /// slow by itself would be as slow again.
    StatementTime,
    /// The server rolled the whole transaction back under a savepoint (a deadlock, or a Galera
    /// node aborting a local transaction for a replicated one): rolling back to the savepoint
    /// then fails with "SAVEPOINT ... does not exist" (1305), which is what Diesel reports.
    RolledBack,
}

impl Conflict {
    /// The metric's label.
    pub fn label(self) -> &'static str {
        match self {
            Conflict::Deadlock => "deadlock",
            Conflict::LockWait => "lock_wait_timeout",
            Conflict::RecordChanged => "record_changed",
            Conflict::NotReady => "node_not_ready",
            Conflict::Twin => "unique_twin",
            Conflict::RolledBack => "rolled_back",
            Conflict::StatementTime => "statement_time",
        }
    }

    /// The conflict a server's error message reports, if any (MySQL and MariaDB word them so;
    /// the codes are not kept in every path Diesel takes).
    pub fn in_message(message: &str) -> Option<Conflict> {
        if message.contains("Deadlock found") {
            Some(Conflict::Deadlock)
        } else if message.contains("Lock wait timeout") {
            Some(Conflict::LockWait)
        } else if message.contains("Record has changed") {
            Some(Conflict::RecordChanged)
        } else if message.contains("max_statement_time exceeded") {
            Some(Conflict::StatementTime)
        } else if message.contains("SAVEPOINT") && message.contains("does not exist") {
            Some(Conflict::RolledBack)
        } else if message.contains("WSREP has not yet prepared node")
            || message.contains("WSREP replication failed")
        {
            Some(Conflict::NotReady)
        } else {
            None
        }
    }
}

/// An error that may be a [`Conflict`].
pub trait MayConflict {
    fn conflict(&self) -> Option<Conflict>;
}

impl MayConflict for DieselError {
    fn conflict(&self) -> Option<Conflict> {
        match self {
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                Some(Conflict::Deadlock)
            }
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                Some(Conflict::Twin)
            }
            DieselError::DatabaseError(_, info) => Conflict::in_message(info.message()),
            _ => None,
        }
    }
}

/// The use cases' error: a database failure reaches it as `Unavailable` with the server's text.
/// A unique clash is not retried here: at this level it is the caller's rule to report.
impl MayConflict for crate::error::Error {
    fn conflict(&self) -> Option<Conflict> {
        match self {
            crate::error::Error::Unavailable(detail) => Conflict::in_message(detail),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certification_failure_at_commit_is_a_conflict_whatever_kind_diesel_gives_it() {
        assert_eq!(
            Conflict::in_message(
                "Deadlock found when trying to get lock; try restarting transaction"
            ),
            Some(Conflict::Deadlock)
        );
        assert_eq!(
            Conflict::in_message("WSREP has not yet prepared node for application use"),
            Some(Conflict::NotReady)
        );
        assert_eq!(
            Conflict::in_message("Lock wait timeout exceeded; try restarting transaction"),
            Some(Conflict::LockWait)
        );
        assert_eq!(
            Conflict::in_message("SAVEPOINT diesel_savepoint_1 does not exist"),
            Some(Conflict::RolledBack)
        );
        assert_eq!(
            Conflict::in_message("Query execution was interrupted (max_statement_time exceeded)"),
            Some(Conflict::StatementTime)
        );
        assert_eq!(Conflict::in_message("Table 'x' doesn't exist"), None);
        let wrapped = crate::error::Error::Unavailable(
            "database: Deadlock found when trying to get lock; try restarting transaction".into(),
        );
        assert_eq!(wrapped.conflict(), Some(Conflict::Deadlock));
        assert_eq!(
            crate::error::Error::client("Deadlock found").conflict(),
            None
        );
    }
}
