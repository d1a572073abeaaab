//! Ids and instants as the roster tables store them.

use chrono::{DateTime, Utc};

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Now, as stored (to the microsecond), so that what is written compares equal when read.
pub(crate) fn now() -> DateTime<Utc> {
    crate::db::time::utc(crate::db::time::naive(Utc::now()))
}
