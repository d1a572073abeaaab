//! Operating the server: what the access log leaves out, where `/metrics` is served and who may
//! read it, and how a SQLite file that another process keeps locked is reported.

mod access_log;
mod metrics;
mod sqlite_lock;
