//! The pool: opens connections of the backend the URL names, prepares and migrates the database
//! at start, and checks connections before handing them out.

use std::time::Duration;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::r2d2;

use super::connection::DbConnection;
#[cfg(feature = "mysql")]
use super::deadline;
#[cfg(feature = "sqlite")]
use super::sqlite_plans;
use super::{dialect, migrations};
use crate::database::DatabaseUrl;
pub use crate::database::{PoolOptions, StatementDeadlines};

pub type Pool = r2d2::Pool<DbManager>;
pub type PooledConn = r2d2::PooledConnection<DbManager>;

/// Builds connections of the backend that the parsed URL names. Diesel's derived
/// `MultiConnection::establish` would try each backend in turn and hide the real reason.
#[derive(Debug, Clone)]
pub struct DbManager {
    url: DatabaseUrl,
    /// SQLite: how long a statement waits for another writer's lock (`RENDEZ_DB_TIMEOUT`).
    busy_timeout: Duration,
    /// MySQL: how long one statement may take; `None` for the connection that migrates, whose
    /// statements may rightly run long.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    deadlines: Option<StatementDeadlines>,
}

/// The busy timeout of a manager made without one: `RENDEZ_DB_TIMEOUT`'s default.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(3);

impl DbManager {
    pub fn new(url: DatabaseUrl) -> Self {
        DbManager {
            url,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            deadlines: None,
        }
    }

    /// MySQL connections end a statement that overruns `deadlines` (see [`super::deadline`]).
    pub fn with_deadlines(mut self, deadlines: StatementDeadlines) -> Self {
        self.deadlines = Some(deadlines);
        self
    }

    /// SQLite connections wait at most `timeout` for a lock another connection holds, then
    /// fail (a `Server` fault), instead of waiting without end.
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Opens one connection, with the server's own reason on failure.
    pub fn establish(&self) -> Result<DbConnection, diesel::ConnectionError> {
        match &self.url {
            #[cfg(feature = "sqlite")]
            DatabaseUrl::Sqlite { path } => {
                sqlite_plans::enable_for_new_connections()
                    .map_err(diesel::ConnectionError::BadConnection)?;
                create_private_file(path).map_err(|e| {
                    diesel::ConnectionError::BadConnection(format!("cannot create {path}: {e}"))
                })?;
                // The busy timeout is set as the connection opens (see `sqlite_plans`), before
                // these pragmas, which may already wait for a lock.
                let mut conn = sqlite_plans::opening_with_busy_timeout(self.busy_timeout, || {
                    diesel::SqliteConnection::establish(path)
                })?;
                // mmap_size: pages are read from a shared mapping instead of one `pread` per
                // page; a 64 KiB result's overflow pages cost 16 system calls per read without.
                conn.batch_execute(
                    "PRAGMA foreign_keys = ON; \
                     PRAGMA synchronous = NORMAL; PRAGMA mmap_size = 1073741824;",
                )
                .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                Ok(DbConnection::Sqlite(conn))
            }
            #[cfg(feature = "mysql")]
            DatabaseUrl::Mysql { url, port, .. } => {
                self.url.check_reachable(Duration::from_secs(5))?;
                let deadlines = self.deadlines.unwrap_or(StatementDeadlines {
                    statement: Duration::ZERO,
                    read: Duration::ZERO,
                });
                let mut conn = if deadlines.read.is_zero() {
                    diesel::MysqlConnection::establish(url)?
                } else {
                    let (mut conn, timer) =
                        deadline::establish_watched(*port, deadlines.read, || {
                            diesel::MysqlConnection::establish(url)
                        })?;
                    if let Some(timer) = timer {
                        conn.set_instrumentation(timer);
                    }
                    conn
                };
                conn.batch_execute(
                    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION'",
                )
                .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                if !deadlines.statement.is_zero() {
                    dialect::limit_statement_time(&mut conn, deadlines.statement)
                        .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                }
                Ok(DbConnection::Mysql(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for DbManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        self.establish().map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        if older_than_last_cut(conn) {
            return Err(r2d2::Error::QueryError(
                diesel::result::Error::QueryBuilderError(
                    "opened before a statement ran out of time: replaced unchecked".into(),
                ),
            ));
        }
        dialect::check_alive(conn).map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking()
            || <DbConnection as diesel::connection::TransactionManager<DbConnection>>::is_broken_transaction_manager(conn)
            || timed_out(conn)
    }
}

/// See [`deadline::is_older_than_last_cut`].
fn older_than_last_cut(conn: &mut DbConnection) -> bool {
    match conn {
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => deadline::is_older_than_last_cut(c.instrumentation()),
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => false,
    }
}

/// Marks the start of a unit of work on a connection just checked out (see
/// [`lost_before_commit`]).
pub fn start_work(conn: &mut DbConnection) {
    match conn {
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => deadline::start_work(c.instrumentation()),
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => {}
    }
}

/// True for a MySQL connection whose statement ran past its deadline inside a transaction that
/// had not asked for its commit, nothing of the work having committed before: the server rolls
/// it back, so the work may run again on another connection.
pub fn lost_before_commit(conn: &mut DbConnection) -> bool {
    match conn {
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => deadline::was_cut_before_commit(c.instrumentation()),
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => false,
    }
}

/// True for a MySQL connection whose statement ran past its deadline (its socket is closed).
fn timed_out(conn: &mut DbConnection) -> bool {
    match conn {
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => deadline::is_cut(c.instrumentation()),
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => false,
    }
}

/// Creates the SQLite database file readable by its owner only (0600) when it does not exist
/// yet, before SQLite opens it: SQLite would create it with the umask's mode (often 0644), and
/// it gives the `-wal` and `-shm` files the database file's own mode.
#[cfg(feature = "sqlite")]
fn create_private_file(path: &str) -> std::io::Result<()> {
    let path = path.strip_prefix("file:").unwrap_or(path);
    let path = path.split('?').next().unwrap_or(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Opens the database, applies pending migrations, then builds the pool.
/// A first connection is made directly so that a wrong password or an unreachable server stops
/// the program at once with the server's own reason.
pub fn connect(url: &DatabaseUrl, options: PoolOptions) -> Result<Pool, String> {
    connect_bounded(url, options, StatementDeadlines::default())
}

/// [`connect`], with the pool's MySQL connections bounded by `deadlines` (the migrating
/// connection is not: a migration may rightly run long).
pub fn connect_bounded(
    url: &DatabaseUrl,
    options: PoolOptions,
    deadlines: StatementDeadlines,
) -> Result<Pool, String> {
    let manager = DbManager::new(url.clone()).with_busy_timeout(options.connection_timeout);
    let mut first = manager
        .establish()
        .map_err(|e| format!("cannot open the database {url}: {}", connection_reason(&e)))?;
    dialect::prepare_database(&mut first)
        .map_err(|e| format!("cannot prepare the database {url}: {e}"))?;
    migrations::run_pending(&mut first)
        .map_err(|e| format!("cannot migrate the database {url}: {e}"))?;
    drop(first);
    let manager = manager.with_deadlines(deadlines);
    r2d2::Pool::builder()
        .max_size(options.max_size)
        // The whole pool is kept open: a burst after a quiet spell would otherwise wait while
        // the pool opens MariaDB connections one after another (a first second of searches with
        // a p99 of 70 to 200 ms in benches/booking.sh).
        .min_idle(None)
        .connection_timeout(options.connection_timeout)
        .test_on_check_out(true)
        .build(manager)
        .map_err(|e| format!("cannot open the database pool for {url}: {e}"))
}

fn connection_reason(err: &diesel::ConnectionError) -> String {
    match err {
        diesel::ConnectionError::BadConnection(reason) => reason.clone(),
        diesel::ConnectionError::InvalidConnectionUrl(reason) => {
            format!("invalid connection URL: {reason}")
        }
        other => other.to_string(),
    }
}
