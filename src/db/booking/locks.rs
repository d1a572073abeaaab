//! Row locks of the booking tables (resources, appointments), taken first in a write
//! transaction so that changes to one row run one after the other. MySQL: `SELECT ... FOR
//! UPDATE`; SQLite: the write transaction (`BEGIN IMMEDIATE`) already excludes every other
//! writer, so a plain read suffices.

use crate::db::DbConnection;

/// Finds a resource by LID and locks its row until the transaction ends, so that bookings of
/// one resource run one after the other and each sees what the one before committed. Returns
/// its id and its booking version (see the booking cache).
///
/// MySQL: `SELECT ... FOR UPDATE` on the resource row; this must be the transaction's first
/// read, or REPEATABLE READ would keep showing an older snapshot. SQLite: the transaction
/// began with `BEGIN IMMEDIATE` (see [`crate::db::dialect::write_transaction`]) and already excludes every other
/// writer, so a plain read suffices.
pub fn lock_resource(
    conn: &mut DbConnection,
    lid: &str,
) -> diesel::QueryResult<Option<(String, i64)>> {
    use crate::db::schema::resources;
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
    use crate::db::schema::appointments;
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

/// Locks an appointment row by id (same rules as [`lock_resource`]); `false` if there is none.
pub fn lock_appointment_id(conn: &mut DbConnection, id: &str) -> diesel::QueryResult<bool> {
    use crate::db::schema::appointments;
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
    use crate::db::schema::appointments;
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
