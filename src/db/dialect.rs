//! The few places where SQLite and MySQL/MariaDB really differ. Everything else in the database
//! layer is one Diesel code path; each function here says why its backends part ways.

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::DbConnection;

/// One-time setup when the database is opened.
pub fn prepare_database(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    match conn {
        // WAL lets readers run beside the single writer; it is a property of the file, so it is
        // set once here rather than on every pooled connection.
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => {
            diesel::connection::SimpleConnection::batch_execute(c, "PRAGMA journal_mode = WAL;")
        }
        // MySQL needs nothing: the schema's tables carry their engine and collation.
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(_) => Ok(()),
    }
}

#[cfg(feature = "sqlite")]
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `work` in a transaction that will write.
///
/// SQLite allows one writer: a plain (deferred) transaction that reads first and writes later can
/// fail at its first write with SQLITE_BUSY once another writer got in between, and no busy
/// timeout helps. `BEGIN IMMEDIATE` takes the write lock up front, so the transaction waits for
/// it (busy_timeout) instead. MySQL takes row locks as it goes: an ordinary transaction, with
/// unique keys and `FOR UPDATE` protecting what must not race.
///
/// Within one process, SQLite writers also queue on a mutex first: SQLite's own busy handler
/// polls with growing sleeps, which under load left some writers waiting over a second.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DieselError>,
{
    let _writer = match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => Some(SQLITE_WRITER.lock().unwrap_or_else(|p| p.into_inner())),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(_) => None::<std::sync::MutexGuard<'static, ()>>,
    };
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match work(conn) {
        Ok(value) => match DbConnection::commit_transaction(conn) {
            Ok(()) => Ok(value),
            Err(commit_err) => {
                // A failed commit leaves the transaction open on some backends; close it so the
                // pooled connection is clean, and report the commit's own error.
                let _ = DbConnection::rollback_transaction(conn);
                Err(commit_err.into())
            }
        },
        Err(err) => {
            DbConnection::rollback_transaction(conn)?;
            Err(err)
        }
    }
}

/// [`write_transaction`] for work that opens no transaction of its own (no `conn.transaction`
/// inside): on MySQL it is opened with `SET autocommit = 0` and committed by `SET autocommit = 1`,
/// statements the connection keeps prepared, so the transaction costs two round trips. Diesel's
/// `BEGIN` and `COMMIT` go through `batch_execute`, which on MySQL turns multi-statement mode on
/// and off around each: six round trips, a third of a booking's. (MySQL, unlike MariaDB, refuses
/// to prepare `BEGIN`; `SET` it prepares.) Diesel does not know of this transaction, hence the
/// rule on `work`; the pool's checkout check refuses a connection left with autocommit off.
// Built for MySQL alone, the connection can only be MySQL's.
#[cfg_attr(not(feature = "sqlite"), allow(irrefutable_let_patterns))]
pub fn flat_write_transaction<T, F>(conn: &mut DbConnection, work: F) -> diesel::QueryResult<T>
where
    F: FnOnce(&mut DbConnection) -> diesel::QueryResult<T>,
{
    #[cfg(feature = "mysql")]
    if let DbConnection::Mysql(c) = conn {
        use diesel::RunQueryDsl;
        Fixed::<AutocommitOff>::new().execute(c)?;
        return match work(conn) {
            Ok(value) => match commit_flat(conn) {
                Ok(()) => Ok(value),
                Err(commit_err) => {
                    let _ = rollback_flat(conn);
                    Err(commit_err)
                }
            },
            Err(err) => {
                rollback_flat(conn)?;
                Err(err)
            }
        };
    }
    write_transaction(conn, work)
}

#[cfg(feature = "mysql")]
fn commit_flat(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    match conn {
        DbConnection::Mysql(c) => Fixed::<AutocommitOn>::new().execute(c).map(|_| ()),
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => unreachable!("flat transactions are MySQL's"),
    }
}

/// The rare way out (an error, a deadlock to retry): one batch, so it costs what Diesel's does.
#[cfg(feature = "mysql")]
fn rollback_flat(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    use diesel::connection::SimpleConnection;
    match conn {
        DbConnection::Mysql(c) => c.batch_execute("ROLLBACK; SET autocommit = 1"),
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => unreachable!("flat transactions are MySQL's"),
    }
}

/// A fixed statement, kept prepared by the connection (Diesel never caches `sql_query`): each
/// statement is a type of its own, since the statement cache keys on the type.
#[cfg(feature = "mysql")]
trait FixedSql: 'static {
    const SQL: &'static str;
}

#[cfg(feature = "mysql")]
struct Fixed<S>(std::marker::PhantomData<S>);

#[cfg(feature = "mysql")]
impl<S: FixedSql> Fixed<S> {
    fn new() -> Self {
        Fixed(std::marker::PhantomData)
    }
}

#[cfg(feature = "mysql")]
impl<S: FixedSql> diesel::query_builder::QueryId for Fixed<S> {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

#[cfg(feature = "mysql")]
impl<S: FixedSql, DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB>
    for Fixed<S>
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        out.push_sql(S::SQL);
        Ok(())
    }
}

#[cfg(feature = "mysql")]
impl<S: FixedSql> diesel::query_builder::Query for Fixed<S> {
    type SqlType = diesel::sql_types::BigInt;
}

#[cfg(feature = "mysql")]
impl<S, Conn> diesel::RunQueryDsl<Conn> for Fixed<S> {}

#[cfg(feature = "mysql")]
struct AutocommitOff;
#[cfg(feature = "mysql")]
impl FixedSql for AutocommitOff {
    const SQL: &'static str = "SET autocommit = 0";
}

#[cfg(feature = "mysql")]
struct AutocommitOn;
#[cfg(feature = "mysql")]
impl FixedSql for AutocommitOn {
    const SQL: &'static str = "SET autocommit = 1";
}

#[cfg(feature = "mysql")]
struct Autocommit;
#[cfg(feature = "mysql")]
impl FixedSql for Autocommit {
    const SQL: &'static str = "SELECT CAST(@@autocommit AS SIGNED)";
}

/// Checks a pooled connection before it is handed out.
pub fn check_alive(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    match conn {
        // A MySQL connection dies with its server or the network; a dead one must be replaced
        // before use, so that service resumes by itself when the database returns.
        //
        // A `SELECT` that the connection keeps prepared: Diesel's `batch_execute` on MySQL turns
        // multi-statement mode on and off around its query, three round trips where this is one,
        // and the check runs at every checkout.
        //
        // It also reads autocommit: a connection that a flat transaction left with autocommit off
        // (see [`flat_write_transaction`]) would run every later read in one long transaction.
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => {
            use diesel::RunQueryDsl;
            match Fixed::<Autocommit>::new().get_result::<i64>(c)? {
                1 => Ok(()),
                _ => Err(DieselError::QueryBuilderError(
                    "a pooled connection was left in a transaction (autocommit off)".into(),
                )),
            }
        }
        // A SQLite connection is a file handle in this process: it cannot die on its own, and a
        // query per checkout would only cost time.
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// Readiness: can this process write now? SQLite: take the write lock and let it go at once
/// (`BEGIN IMMEDIATE`, then `ROLLBACK`), so that a lock another process holds for longer than
/// the busy timeout makes the check fail as every write would. MySQL: the server answers (its
/// writers wait on row locks, not on the whole database).
pub fn check_writable(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => write_transaction(conn, |_| Ok(())),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => {
            diesel::connection::SimpleConnection::batch_execute(c, "SELECT 1")
        }
    }
}

/// True when an insert hit a unique key: both backends report it as this kind.
pub fn is_unique_violation(err: &DieselError) -> bool {
    matches!(
        err,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// True for the failures after which the whole transaction may simply be run again: MySQL's
/// deadlock (1213) and lock wait timeout (1205), and "record has changed" (1020).
pub fn is_retryable(err: &DieselError) -> bool {
    match err {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        DieselError::DatabaseError(_, info) => {
            let message = info.message();
            message.contains("Lock wait timeout") || message.contains("Record has changed")
        }
        _ => false,
    }
}

/// Finds a resource by LID and locks its row until the transaction ends, so that bookings of
/// one resource run one after the other and each sees what the one before committed. Returns
/// its id and its booking version (see the booking cache).
///
/// MySQL: `SELECT ... FOR UPDATE` on the resource row; this must be the transaction's first
/// read, or REPEATABLE READ would keep showing an older snapshot. SQLite: the transaction
/// began with `BEGIN IMMEDIATE` (see [`write_transaction`]) and already excludes every other
/// writer, so a plain read suffices.
pub fn lock_resource(
    conn: &mut DbConnection,
    lid: &str,
) -> diesel::QueryResult<Option<(String, i64)>> {
    use super::schema::resources;
    use diesel::prelude::*;
    let query = resources::table
        .filter(resources::lid.eq(lid))
        .filter(resources::active.eq(true))
        .select((resources::id, resources::booking_version));
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.first(c).optional(),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().first(c).optional(),
    }
}

/// Locks an appointment row by LID for a status change (same rules as [`lock_resource`]).
pub fn lock_appointment(conn: &mut DbConnection, lid: &str) -> diesel::QueryResult<Option<String>> {
    use super::schema::appointments;
    use diesel::prelude::*;
    let query = appointments::table
        .filter(appointments::lid.eq(lid))
        .select(appointments::id);
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.first(c).optional(),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().first(c).optional(),
    }
}

/// Reads a test result by LID and locks its row until the transaction ends (same rules as
/// [`lock_resource`]: MySQL `FOR UPDATE`, which also reads the latest committed row; SQLite is
/// already the only writer).
pub fn lock_test_result_by_lid(
    conn: &mut DbConnection,
    lid: &str,
) -> diesel::QueryResult<Option<super::results::ResultRow>> {
    use super::results::ResultRow;
    use super::schema::test_results;
    use diesel::prelude::*;
    // `as_select` is typed per backend, so each arm builds its own query.
    let query = || test_results::table.filter(test_results::lid.eq(lid));
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query().select(ResultRow::as_select()).first(c).optional(),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query()
            .select(ResultRow::as_select())
            .for_update()
            .first(c)
            .optional(),
    }
}

/// Reads and locks the test results whose code hash is one of `hashes` (a download attempt's
/// first read, so that its counters are the latest on MySQL).
pub fn lock_test_results_by_code(
    conn: &mut DbConnection,
    hashes: &[String],
) -> diesel::QueryResult<Vec<super::results::ResultRow>> {
    use super::results::ResultRow;
    use super::schema::test_results;
    use diesel::prelude::*;
    let query = || test_results::table.filter(test_results::code_hash.eq_any(hashes));
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query().select(ResultRow::as_select()).load(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query().select(ResultRow::as_select()).for_update().load(c),
    }
}

/// Locks the patient page's guard row of an address until the transaction ends, creating it
/// when it is new: an upsert, which on MySQL (`ON DUPLICATE KEY UPDATE`) takes the row's
/// exclusive lock at once, so that attempts from one address queue on it instead of meeting
/// in a deadlock (a plain `INSERT IGNORE` then `FOR UPDATE` takes a shared lock first). SQLite's
/// write transaction already excludes every other writer; the same upsert keeps `touched_at`.
pub fn lock_result_address(
    conn: &mut DbConnection,
    address: &str,
    now: chrono::NaiveDateTime,
) -> diesel::QueryResult<()> {
    use super::schema::result_address_guards as guards;
    use diesel::prelude::*;
    let insert = diesel::insert_into(guards::table)
        .values((guards::address.eq(address), guards::touched_at.eq(now)));
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => insert
            .on_conflict(guards::address)
            .do_update()
            .set(guards::touched_at.eq(now))
            .execute(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => insert
            .on_conflict(diesel::dsl::DuplicatedKeys)
            .do_update()
            .set(guards::touched_at.eq(now))
            .execute(c),
    }
    .map(|_| ())
}

/// The id of the message an owner queued under a legacy id, read with a lock so that it sees the
/// latest committed row: after a unique-key clash with a concurrent twin, MySQL's plain read
/// would still show the transaction's older snapshot, without the twin's row.
pub fn current_message_id(
    conn: &mut DbConnection,
    owner: &str,
    legacy_id: &str,
) -> diesel::QueryResult<Option<String>> {
    use super::schema::messages;
    use diesel::prelude::*;
    let query = messages::table
        .filter(messages::owner.eq(owner))
        .filter(messages::legacy_id.eq(legacy_id))
        .select(messages::id);
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.first(c).optional(),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().first(c).optional(),
    }
}

/// Inserts many messages in one statement: multi-row inserts do not compile through the
/// MultiConnection enum, so each backend runs its own.
pub(crate) fn insert_messages(
    conn: &mut DbConnection,
    rows: &[&super::outbox::MessageInsert<'_>],
) -> diesel::QueryResult<usize> {
    use super::schema::messages;
    use diesel::prelude::*;
    if rows.is_empty() {
        return Ok(0);
    }
    let query = diesel::insert_into(messages::table).values(rows.to_vec());
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.execute(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.execute(c),
    }
}

/// Ids of a channel's due messages, oldest due first, locked for the claim. MySQL skips rows
/// another worker is claiming (`FOR UPDATE SKIP LOCKED`, which does not compile through the
/// MultiConnection enum); SQLite's transaction already excludes every other writer.
pub fn due_message_ids(
    conn: &mut DbConnection,
    channel: &str,
    now: chrono::NaiveDateTime,
    limit: usize,
) -> diesel::QueryResult<Vec<String>> {
    use super::schema::messages;
    use diesel::prelude::*;
    let query = messages::table
        .filter(messages::status.eq("QUEUED"))
        .filter(messages::channel.eq(channel))
        .filter(messages::due_at.le(now))
        .order(messages::due_at.asc())
        .limit(limit as i64)
        .select(messages::id);
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.load(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().skip_locked().load(c),
    }
}

/// Messages of a channel whose lease has run out, with their attempt counts, locked like
/// [`due_message_ids`].
pub fn expired_leases(
    conn: &mut DbConnection,
    channel: &str,
    now: chrono::NaiveDateTime,
    limit: usize,
) -> diesel::QueryResult<Vec<(String, i32)>> {
    use super::schema::messages;
    use diesel::prelude::*;
    let query = messages::table
        .filter(messages::status.eq("SENDING"))
        .filter(messages::channel.eq(channel))
        .filter(messages::due_at.lt(now))
        .order(messages::due_at.asc())
        .limit(limit as i64)
        .select((messages::id, messages::attempts));
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.load(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().skip_locked().load(c),
    }
}

/// A channel's token bucket, locked until the transaction ends (MySQL `FOR UPDATE`; SQLite's
/// transaction holds the write lock already).
pub fn lock_rate_bucket(
    conn: &mut DbConnection,
    channel: &str,
) -> diesel::QueryResult<Option<(f64, chrono::NaiveDateTime)>> {
    use super::schema::rate_buckets;
    use diesel::prelude::*;
    let query = rate_buckets::table
        .find(channel)
        .select((rate_buckets::tokens, rate_buckets::refilled_at));
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.first(c).optional(),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().first(c).optional(),
    }
}

/// The message a provider's id belongs to, locked so that reports applied at once move it
/// forward one after the other.
pub fn message_by_provider_id(
    conn: &mut DbConnection,
    provider: &str,
    provider_id: &str,
) -> diesel::QueryResult<Option<String>> {
    use super::schema::messages;
    use diesel::prelude::*;
    let query = messages::table
        .filter(messages::provider_id.eq(provider_id))
        .filter(messages::provider.eq(provider))
        .select(messages::id);
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.first(c).optional(),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().first(c).optional(),
    }
}

/// Inserts many attempt rows in one statement (see [`insert_messages`]).
pub(crate) fn insert_attempts(
    conn: &mut DbConnection,
    rows: &[super::outbox::record::AttemptInsert],
) -> diesel::QueryResult<usize> {
    use super::schema::message_attempts;
    use diesel::prelude::*;
    if rows.is_empty() {
        return Ok(0);
    }
    let query = diesel::insert_into(message_attempts::table).values(rows);
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.execute(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.execute(c),
    }
}

/// The next transaction reads what is committed at each statement (MySQL's READ COMMITTED).
///
/// The memo planner handles a batch of appointments in one transaction, locking each in turn;
/// under REPEATABLE READ its plain reads of the second one would still show the snapshot taken
/// at the first. SQLite's `BEGIN IMMEDIATE` already excludes every other writer.
pub fn next_transaction_reads_committed(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => Ok(()),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => diesel::connection::SimpleConnection::batch_execute(
            c,
            "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
        ),
    }
}

/// Claims up to `limit` appointment changes the memo planner has not planned from yet, oldest
/// first, as (change id, appointment id). MySQL: `FOR UPDATE SKIP LOCKED`, so that planners in
/// other processes take other rows and none waits; SQLite: the write transaction excludes them.
pub fn claim_unplanned_changes(
    conn: &mut DbConnection,
    limit: i64,
) -> diesel::QueryResult<Vec<(String, String)>> {
    use super::schema::appointment_changes as changes;
    use diesel::prelude::*;
    let query = changes::table
        .filter(changes::planned_at.is_null())
        .order(changes::changed_at.asc())
        .limit(limit)
        .select((changes::id, changes::appointment_id));
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.load(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().skip_locked().load(c),
    }
}

/// Claims up to `limit` planned notices due at `now`, earliest first (same rules as
/// [`claim_unplanned_changes`]).
pub fn claim_due_notices(
    conn: &mut DbConnection,
    now: chrono::NaiveDateTime,
    limit: i64,
) -> diesel::QueryResult<Vec<String>> {
    use super::schema::appointment_notices as notices;
    use diesel::prelude::*;
    let query = notices::table
        .filter(notices::state.eq("planned"))
        .filter(notices::due_at.le(now))
        .order(notices::due_at.asc())
        .limit(limit)
        .select(notices::id);
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.load(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().skip_locked().load(c),
    }
}

/// Locks an appointment row by id (same rules as [`lock_resource`]); `false` if there is none.
pub fn lock_appointment_id(conn: &mut DbConnection, id: &str) -> diesel::QueryResult<bool> {
    use super::schema::appointments;
    use diesel::prelude::*;
    let query = appointments::table
        .filter(appointments::id.eq(id))
        .select(appointments::id);
    let found: Option<String> = match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.first(c).optional()?,
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().first(c).optional()?,
    };
    Ok(found.is_some())
}

/// Locks the appointment rows of these ids in one statement (same rules as [`lock_resource`]);
/// returns the ids that exist, in id order. Callers lock in one order (sorted ids) so that two
/// never wait for each other's appointments, and chunk the ids.
pub fn lock_appointment_ids(
    conn: &mut DbConnection,
    ids: &[&str],
) -> diesel::QueryResult<Vec<String>> {
    use super::schema::appointments;
    use diesel::prelude::*;
    let query = appointments::table
        .filter(appointments::id.eq_any(ids))
        .order(appointments::id.asc())
        .select(appointments::id);
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.load(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().load(c),
    }
}

/// A multi-row `INSERT` of `rows` into `table`: multi-row inserts do not compile through the
/// MultiConnection enum, so each backend runs its own (the same statement text otherwise).
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let query = diesel::insert_into($table).values($rows);
        match $conn {
            #[cfg(feature = "sqlite")]
            $crate::db::DbConnection::Sqlite(c) => diesel::RunQueryDsl::execute(query, c),
            #[cfg(feature = "mysql")]
            $crate::db::DbConnection::Mysql(c) => diesel::RunQueryDsl::execute(query, c),
        }
    }};
}
pub(crate) use insert_rows;

/// Locks the schedule row of an export kind and reads when a file was last attempted; `None`
/// when the kind has no row. Writers of export files take turns on this lock, so that two
/// processes never write the same changes twice (same rules as [`lock_resource`]).
pub fn lock_export_schedule(
    conn: &mut DbConnection,
    kind: &str,
) -> diesel::QueryResult<Option<Option<chrono::NaiveDateTime>>> {
    use super::schema::export_schedule;
    use diesel::prelude::*;
    let query = export_schedule::table
        .filter(export_schedule::kind.eq(kind))
        .select(export_schedule::last_run_at);
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.first(c).optional(),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().first(c).optional(),
    }
}

/// The claim tokens of those of these messages that are still `SENDING`, locked until the
/// transaction ends (MySQL `FOR UPDATE`; SQLite's write transaction excludes other writers), so
/// that the holder's report can be applied to all of them at once.
pub fn lock_sending(
    conn: &mut DbConnection,
    ids: &[&str],
) -> diesel::QueryResult<Vec<(String, Option<String>)>> {
    use super::schema::messages;
    use diesel::prelude::*;
    let query = messages::table
        .filter(messages::id.eq_any(ids))
        .filter(messages::status.eq("SENDING"))
        .select((messages::id, messages::claim_token));
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.load(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().load(c),
    }
}

/// One message a provider took, for [`mark_sent`].
pub struct SentRow<'a> {
    pub id: &'a str,
    pub provider_id: Option<&'a str>,
    pub at: chrono::NaiveDateTime,
}

/// Moves `SENDING` messages to `SENT` in one statement, each with its own provider id and time:
/// a `CASE` per column, which Diesel's query builder cannot write for a list of any length, so
/// the statement is made of placeholders here and every value is bound (the text is the same
/// for both backends; only the boxed query's type differs).
pub fn mark_sent(
    conn: &mut DbConnection,
    provider: &str,
    rows: &[SentRow<'_>],
) -> diesel::QueryResult<usize> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::{Nullable, Text, Timestamp};
    if rows.is_empty() {
        return Ok(0);
    }
    let case = " WHEN ? THEN ?".repeat(rows.len());
    let ids = vec!["?"; rows.len()].join(", ");
    let sql = format!(
        "UPDATE messages SET status = 'SENT', provider = ?, error_message = NULL, \
         provider_id = CASE id{case} END, sent_at = CASE id{case} END, \
         updated_at = CASE id{case} END WHERE status = 'SENDING' AND id IN ({ids})"
    );
    macro_rules! run {
        ($backend:ty, $conn:expr) => {{
            let mut query = diesel::sql_query(sql)
                .into_boxed::<$backend>()
                .bind::<Text, _>(provider);
            for row in rows {
                query = query
                    .bind::<Text, _>(row.id)
                    .bind::<Nullable<Text>, _>(row.provider_id);
            }
            for _ in 0..2 {
                for row in rows {
                    query = query.bind::<Text, _>(row.id).bind::<Timestamp, _>(row.at);
                }
            }
            for row in rows {
                query = query.bind::<Text, _>(row.id);
            }
            query.execute($conn)
        }};
    }
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => run!(diesel::sqlite::Sqlite, c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => run!(diesel::mysql::Mysql, c),
    }
}
