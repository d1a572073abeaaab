//! The database layer: one Diesel schema and one code path for SQLite and MySQL/MariaDB.
//! The backend is chosen at run time by the scheme of `DATABASE_URL`; what really differs between
//! the two lives in [`dialect`].

pub mod booking;
pub mod clients;
pub mod conflict;
pub mod connection;
pub mod console;
#[cfg(feature = "mysql")]
pub mod deadline;
pub mod deputy;
pub mod dialect;
pub mod exports;
#[cfg(feature = "mysql")]
pub mod galera;
pub mod imports;
pub mod master;
pub mod memo;
pub mod migrations;
pub mod nonces;
pub mod opt_outs;
pub mod outbox;
pub mod pool;
pub mod results;
pub mod rosters;
pub mod schema;
pub mod slots;
#[cfg(feature = "sqlite")]
mod sqlite_plans;
pub mod teams;
pub mod time;
pub mod tx;

pub use crate::database::DatabaseUrl;
pub use connection::DbConnection;
pub use pool::{
    DEFAULT_BUSY_TIMEOUT, DbManager, Pool, PoolOptions, PooledConn, StatementDeadlines, connect,
    connect_bounded, lost_before_commit, start_work,
};

#[cfg(not(any(feature = "sqlite", feature = "mysql")))]
compile_error!("build rendez with at least one database feature: sqlite or mysql");
