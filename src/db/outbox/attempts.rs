//! The `message_attempts` table's rows: one per try of a message (claimed, sent, failed, or
//! returned when its lease ran out), written by the claim and by the recording of attempts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::message_attempts;

#[derive(Insertable)]
#[diesel(table_name = message_attempts, treat_none_as_default_value = false)]
pub(crate) struct AttemptInsert {
    pub id: String,
    pub message_id: String,
    pub attempt: i32,
    pub started_at: NaiveDateTime,
    pub finished_at: NaiveDateTime,
    pub outcome: &'static str,
    pub provider: Option<String>,
    pub provider_id: Option<String>,
    pub error_message: Option<String>,
    pub retry_at: Option<NaiveDateTime>,
}

/// Inserts many attempt rows in one statement: multi-row inserts do not compile through the
/// MultiConnection enum, so each backend runs its own.
pub(crate) fn insert_attempts(
    conn: &mut DbConnection,
    rows: &[AttemptInsert],
) -> diesel::QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let query = diesel::insert_into(message_attempts::table).values(rows);
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.execute(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.execute(c),
    }
    .map(|_| ())
}
