//! Migrations live in two parallel trees, `migrations/sqlite` and `migrations/mysql`, with the
//! same names; each backend runs its own tree, embedded in the binary.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::DbConnection;

#[cfg(feature = "sqlite")]
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
#[cfg(feature = "mysql")]
pub const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/mysql");

type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Applies what is pending; returns the names applied.
pub fn run_pending(conn: &mut DbConnection) -> Result<Vec<String>, MigrationError> {
    let applied = match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS)?,
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => c.run_pending_migrations(MYSQL_MIGRATIONS)?,
    };
    Ok(applied.into_iter().map(|v| v.to_string()).collect())
}

/// Reverts every applied migration (for the up-down-up test and for operators who must).
pub fn revert_all(conn: &mut DbConnection) -> Result<Vec<String>, MigrationError> {
    let reverted = match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS)?,
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => c.revert_all_migrations(MYSQL_MIGRATIONS)?,
    };
    Ok(reverted.into_iter().map(|v| v.to_string()).collect())
}
