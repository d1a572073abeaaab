//! The connection: one enum over the backends compiled in, chosen at run time by the scheme of
//! `DATABASE_URL` (see [`super::pool::DbManager`]). Everything in the database layer takes a
//! `&mut DbConnection`; this file depends on nothing else of the crate.

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    #[cfg(feature = "sqlite")]
    Sqlite(diesel::SqliteConnection),
    #[cfg(feature = "mysql")]
    Mysql(diesel::MysqlConnection),
}
