//! `getAppointments` as a change feed: which window a poll reads, and the cursors it returns.
//!
//! The contract calls `LAST_REQUEST_TIMESTAMP` "the date and time of the last call". A poller
//! that sends back what Rendez returned reads each change once. A poller that sends its own
//! clock's time of its last call would miss the changes that settled after Rendez's previous
//! answer was cut (`CHANGE_SETTLE` before the call): a timestamp Rendez did not return is read
//! `CHANGE_SETTLE` plus a tolerance (its clock may run ahead) earlier, so such a poller sees
//! every change, some twice, within that overlap only.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use super::appointments::{self, AppointmentFilter, CHANGE_SETTLE, Listed};
use crate::db::schema::change_feed_cursors;
use crate::db::time::naive;
use crate::db::{DbConnection, dialect};
use crate::domain::access::CenterScope;

/// How long a returned cursor is recognised when sent back; after that it is read with the
/// overlap, which repeats a few changes and misses none.
const CURSORS_KEPT: Duration = Duration::hours(1);

/// One poll of the feed: the changes after `since` (see the module), up to `now` minus
/// `CHANGE_SETTLE`; the answer's `complete_until` is the cursor to send next.
pub fn poll(
    conn: &mut DbConnection,
    client_id: &str,
    filter: AppointmentFilter,
    scope: &CenterScope,
    since: DateTime<Utc>,
    tolerance: Duration,
    now: DateTime<Utc>,
) -> QueryResult<Listed> {
    let returned_before = change_feed_cursors::table
        .find((client_id, naive(since)))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    let after = if returned_before {
        since
    } else {
        since - CHANGE_SETTLE - tolerance
    };
    let filter = AppointmentFilter {
        changed_after: Some(after),
        // To the microsecond, as the answer carries it: the next poll starts exactly there.
        changed_until: Some(truncate_to_micros(now - CHANGE_SETTLE)),
        ..filter
    };
    let listed = appointments::list(conn, &filter, scope)?;
    if let Some(cursor) = listed.complete_until {
        remember(conn, client_id, cursor, now)?;
    }
    Ok(listed)
}

fn truncate_to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(6)
}

fn remember(
    conn: &mut DbConnection,
    client_id: &str,
    cursor: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let inserted = diesel::insert_into(change_feed_cursors::table)
        .values((
            change_feed_cursors::client_id.eq(client_id),
            change_feed_cursors::cursor_at.eq(naive(cursor)),
        ))
        .execute(conn);
    match inserted {
        // Two polls cut at the same instant: the cursor is known already.
        Err(e) if dialect::is_unique_violation(&e) => {}
        other => {
            other?;
        }
    }
    diesel::delete(
        change_feed_cursors::table
            .filter(change_feed_cursors::client_id.eq(client_id))
            .filter(change_feed_cursors::cursor_at.lt(naive(now - CURSORS_KEPT))),
    )
    .execute(conn)?;
    Ok(())
}
