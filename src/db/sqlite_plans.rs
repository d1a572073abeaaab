//! Stable query plans for SQLite (its QPSG setting), on every connection this process opens.
//!
//! Since SQLite 3.53 a statement whose `LIMIT` is a bound value (Diesel's `.first()` and
//! `.limit(n)` always bind it) is marked for re-preparation each time the value is bound, so
//! that the planner may use the number. Diesel binds on every run: every such query was parsed
//! and planned again, a twentieth of the server's time when reading test results. With the
//! query planner stability guarantee, a prepared statement keeps its plan whatever the bound
//! values. Rendez gives SQLite no statistics (no `ANALYZE`) and binds no `LIKE` patterns, the
//! other two uses of bound values by the planner, so no plan is lost.
//!
//! Diesel does not hand out the raw connection, so the setting is made by an automatic
//! extension: SQLite calls it for each connection it opens.
//!
//! The same extension sets the connection's busy timeout (`RENDEZ_DB_TIMEOUT`) through
//! `sqlite3_busy_timeout`, before any statement runs: a `PRAGMA` cannot take a bound value, and
//! the value is per pool, so the opening thread hands it over in a thread-local.

use std::cell::Cell;
use std::ffi::{c_char, c_int};
use std::sync::OnceLock;
use std::time::Duration;

use libsqlite3_sys::{
    SQLITE_DBCONFIG_ENABLE_QPSG, SQLITE_OK, sqlite3, sqlite3_api_routines, sqlite3_auto_extension,
    sqlite3_busy_timeout, sqlite3_db_config,
};

thread_local! {
    /// The busy timeout for the connection this thread is opening, in milliseconds.
    static BUSY_TIMEOUT_MS: Cell<c_int> = const { Cell::new(0) };
}

/// Runs `open` (which opens one SQLite connection on this thread) so that the connection
/// waits at most `timeout` for another writer's lock before failing with SQLITE_BUSY.
pub fn opening_with_busy_timeout<T>(timeout: Duration, open: impl FnOnce() -> T) -> T {
    let ms = c_int::try_from(timeout.as_millis()).unwrap_or(c_int::MAX);
    let previous = BUSY_TIMEOUT_MS.with(|cell| cell.replace(ms));
    let opened = open();
    BUSY_TIMEOUT_MS.with(|cell| cell.set(previous));
    opened
}

/// Registers the setting for the connections opened from now on; once per process.
pub fn enable_for_new_connections() -> Result<(), String> {
    static REGISTERED: OnceLock<c_int> = OnceLock::new();
    // SAFETY: `enable_qpsg` has the signature SQLite calls an extension's entry point with.
    match *REGISTERED.get_or_init(|| unsafe { sqlite3_auto_extension(Some(enable_qpsg)) }) {
        SQLITE_OK => Ok(()),
        code => Err(format!("SQLite refused a connection setting (code {code})")),
    }
}

/// Called by SQLite on a connection as it opens; a failure would fail the open.
unsafe extern "C" fn enable_qpsg(
    db: *mut sqlite3,
    _error: *mut *mut c_char,
    _api: *const sqlite3_api_routines,
) -> c_int {
    // SAFETY: `db` is the connection being opened; the option takes an int and an optional
    // pointer where the new setting is written back (none wanted).
    let configured = unsafe {
        sqlite3_db_config(
            db,
            SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as c_int,
            std::ptr::null_mut::<c_int>(),
        )
    };
    if configured != SQLITE_OK {
        return configured;
    }
    let ms = BUSY_TIMEOUT_MS.with(Cell::get);
    // SAFETY: `db` is the connection being opened.
    unsafe { sqlite3_busy_timeout(db, ms) }
}
