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
    let outermost = !in_transaction(conn);
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
                if outermost {
                    unwind(conn);
                }
                Err(commit_err.into())
            }
        },
        Err(err) => {
            let rollback = DbConnection::rollback_transaction(conn);
            if outermost {
                unwind(conn);
                if !in_transaction(conn) {
                    return Err(err);
                }
            }
            rollback?;
            Err(err)
        }
    }
}

/// True while Diesel counts the connection inside a transaction (or has given up on it).
pub(super) fn in_transaction(conn: &mut DbConnection) -> bool {
    <DbConnection as TransactionManager<DbConnection>>::is_broken_transaction_manager(conn)
}

/// Brings Diesel's count of open transactions back to none after a failed outermost one.
///
/// A deadlock, or a Galera node aborting a local transaction for a replicated one, rolls the
/// whole transaction back on the server, under Diesel's savepoints. A `RELEASE SAVEPOINT` that
/// then fails leaves Diesel's depth as it was, so its rollback stops short of the top: Diesel
/// would go on counting a transaction the server no longer has, open the next one as a savepoint
/// of nothing, and run it statement by statement in autocommit. Each rollback here takes Diesel
/// one level down (failing savepoints included) until the top-level `ROLLBACK`.
fn unwind(conn: &mut DbConnection) {
    for _ in 0..16 {
        if !in_transaction(conn)
            || DbConnection::rollback_transaction(conn).is_err_and(|e| {
                matches!(
                    e,
                    DieselError::BrokenTransactionManager | DieselError::NotInTransaction
                )
            })
        {
            return;
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
        super::deadline::note_step(
            diesel::Connection::instrumentation(c),
            super::deadline::TxStep::Begin,
        );
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
        DbConnection::Mysql(c) => {
            super::deadline::note_step(
                diesel::Connection::instrumentation(c),
                super::deadline::TxStep::Commit,
            );
            Fixed::<AutocommitOn>::new().execute(c).map(|_| ())
        }
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => unreachable!("flat transactions are MySQL's"),
    }
}

/// The rare way out (an error, a deadlock to retry): one batch, so it costs what Diesel's does.
#[cfg(feature = "mysql")]
fn rollback_flat(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    use diesel::connection::SimpleConnection;
    match conn {
        DbConnection::Mysql(c) => {
            super::deadline::note_step(
                diesel::Connection::instrumentation(c),
                super::deadline::TxStep::Rollback,
            );
            c.batch_execute("ROLLBACK; SET autocommit = 1")
        }
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
/// writers wait on row locks, not on the whole database), and, a Galera node, is synced with
/// the primary component.
pub fn check_writable(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => write_transaction(conn, |_| Ok(())),
        // A Galera node answers while it is cut off from its cluster, and then fails every
        // statement on the tables: it must say so itself (see `super::galera`).
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => super::galera::node_state(c)?
            .readiness()
            .map_err(|why| DieselError::QueryBuilderError(why.into())),
    }
}

/// Makes the server end any statement of this connection that runs longer than `limit`
/// (`RENDEZ_DB_STATEMENT_TIMEOUT`): MariaDB's `max_statement_time` (seconds, any statement), else
/// MySQL's `max_execution_time` (milliseconds, `SELECT` only).
#[cfg(feature = "mysql")]
pub fn limit_statement_time(
    conn: &mut diesel::MysqlConnection,
    limit: std::time::Duration,
) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::{BigInt, Double};
    let mariadb = diesel::sql_query("SET SESSION max_statement_time = ?")
        .bind::<Double, _>(limit.as_secs_f64())
        .execute(conn);
    match mariadb {
        Ok(_) => Ok(()),
        Err(_) => diesel::sql_query("SET SESSION max_execution_time = ?")
            .bind::<BigInt, _>(i64::try_from(limit.as_millis()).unwrap_or(i64::MAX))
            .execute(conn)
            .map(|_| ()),
    }
}

/// True when an insert hit a unique key: both backends report it as this kind.
pub fn is_unique_violation(err: &DieselError) -> bool {
    matches!(
        err,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// True for the failures after which the whole transaction may simply be run again: a deadlock
/// or a Galera certification failure (1213, at `COMMIT` too), a lock wait timeout (1205), "record
/// has changed" (1020), a Galera node not ready for a moment (1047); see [`super::conflict::Conflict`].
pub fn is_retryable(err: &DieselError) -> bool {
    use super::conflict::{Conflict, MayConflict};
    err.conflict().is_some_and(|c| c != Conflict::Twin)
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
