//! Instants as the database stores them: UTC `DATETIME`s without an offset.

use chrono::{DateTime, NaiveDateTime, Utc};

/// An instant as stored: UTC, to the microsecond on both backends (MariaDB's `DATETIME(6)`
/// keeps no more), so that an instant read back, or sent on the wire, equals the stored one.
pub fn naive(instant: DateTime<Utc>) -> NaiveDateTime {
    use chrono::SubsecRound;
    instant.trunc_subsecs(6).naive_utc()
}

pub fn utc(stored: NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(stored, Utc)
}
