//! The row an OpenVPMS booking adds in the booking's own transaction: a leaf, so that the
//! booking path can write it without depending on the rest of the API's persistence.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::online_bookings;

/// What the OpenVPMS API records of a booking, in the booking's own transaction.
#[derive(Clone, Debug)]
pub struct OnlineRecord {
    /// Random in `[1, 2^53)`: unique by the primary key (a clash retries the booking), and an
    /// exact number in any JSON reader.
    pub number: i64,
    pub token: String,
    pub user_number: Option<i64>,
    pub title: Option<String>,
    pub patient_name: Option<String>,
}

pub fn insert_booking(
    conn: &mut DbConnection,
    record: &OnlineRecord,
    appointment_id: &str,
    client_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(online_bookings::table)
        .values((
            online_bookings::number.eq(record.number),
            online_bookings::token.eq(&record.token),
            online_bookings::appointment_id.eq(appointment_id),
            online_bookings::client_id.eq(client_id),
            online_bookings::user_number.eq(record.user_number),
            online_bookings::title.eq(&record.title),
            online_bookings::patient_name.eq(&record.patient_name),
            online_bookings::created_at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
}
