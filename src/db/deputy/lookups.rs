//! What the sync reads of the rosters' and centers' tables that the rosters' module does not
//! answer: a center's zone, the shifts from Deputy inside a window, whether a push waits.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{centers, deputy_pushes, roster_shifts};
use crate::db::time::{naive, utc};

/// A center's time zone name, by id.
pub fn center_timezone(conn: &mut DbConnection, center_id: &str) -> QueryResult<Option<String>> {
    centers::table
        .find(center_id)
        .select(centers::timezone)
        .first(conn)
        .optional()
}

/// A shift Rendez holds for a Deputy roster: (shift id, roster id, start).
pub type HeldRoster = (String, i64, DateTime<Utc>);

/// The live shifts with a Deputy roster id starting in `[from, to)`.
pub fn held_in_window(
    conn: &mut DbConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<HeldRoster>> {
    let rows: Vec<(String, Option<i64>, NaiveDateTime)> = roster_shifts::table
        .filter(roster_shifts::deputy_roster_id.is_not_null())
        .filter(roster_shifts::removed_at.is_null())
        .filter(roster_shifts::start_at.ge(naive(from)))
        .filter(roster_shifts::start_at.lt(naive(to)))
        .select((
            roster_shifts::id,
            roster_shifts::deputy_roster_id,
            roster_shifts::start_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, roster, start)| Some((id, roster?, utc(start))))
        .collect())
}

/// Whether a change of the shift made in Rendez waits to be pushed (its version is past the
/// one last in step with Deputy).
pub fn push_pending(conn: &mut DbConnection, shift_id: &str, version: i64) -> QueryResult<bool> {
    let synced: Option<Option<i64>> = deputy_pushes::table
        .find(shift_id)
        .select(deputy_pushes::synced_version)
        .first(conn)
        .optional()?;
    Ok(pending_at(synced, version))
}

/// The version last in step with Deputy of each of these shifts that has a push row (`None`
/// inside: never in step); a shift without a row was never in step either.
pub fn synced_versions(
    conn: &mut DbConnection,
    shift_ids: &[String],
) -> QueryResult<std::collections::HashMap<String, Option<i64>>> {
    let mut synced = std::collections::HashMap::new();
    for chunk in shift_ids.chunks(500) {
        synced.extend(
            deputy_pushes::table
                .filter(deputy_pushes::shift_id.eq_any(chunk))
                .select((deputy_pushes::shift_id, deputy_pushes::synced_version))
                .load::<(String, Option<i64>)>(conn)?,
        );
    }
    Ok(synced)
}

/// Whether a shift whose push row says `synced` (see [`synced_versions`]) waits to be pushed
/// at `version`.
pub fn pending_at(synced: Option<Option<i64>>, version: i64) -> bool {
    match synced {
        None | Some(None) => true,
        Some(Some(synced)) => synced < version,
    }
}

/// A live shift without a Deputy id: (shift id, start, end).
pub type Twin = (String, DateTime<Utc>, DateTime<Utc>);

/// The live shifts of this resource at this center without a Deputy id that start from
/// `from` on: among them, the twin of a roster Deputy sends (same times) is a Rendez shift
/// whose push is under way, when Deputy's webhook for it arrives first. Read once for a role.
pub fn twins_of_role(
    conn: &mut DbConnection,
    resource_id: &str,
    center_id: &str,
    from: DateTime<Utc>,
) -> QueryResult<Vec<Twin>> {
    Ok(roster_shifts::table
        .filter(roster_shifts::resource_id.eq(resource_id))
        .filter(roster_shifts::center_id.eq(center_id))
        .filter(roster_shifts::start_at.ge(naive(from)))
        .filter(roster_shifts::deputy_roster_id.is_null())
        .filter(roster_shifts::removed_at.is_null())
        .select((
            roster_shifts::id,
            roster_shifts::start_at,
            roster_shifts::end_at,
        ))
        .load::<(String, NaiveDateTime, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(id, start, end)| (id, utc(start), utc(end)))
        .collect())
}

/// How many live shifts came from, or went to, Deputy (they carry its roster id).
pub fn held_count(conn: &mut DbConnection) -> QueryResult<i64> {
    roster_shifts::table
        .filter(roster_shifts::deputy_roster_id.is_not_null())
        .filter(roster_shifts::removed_at.is_null())
        .count()
        .get_result(conn)
}

/// When a Deputy mapping last changed: a roster refused as unmapped before may now be taken,
/// so the next poll reads the whole window again.
pub fn mappings_changed_at(conn: &mut DbConnection) -> QueryResult<Option<DateTime<Utc>>> {
    use crate::db::schema::{deputy_employees, deputy_units};
    let units: Option<NaiveDateTime> = deputy_units::table
        .select(diesel::dsl::max(deputy_units::updated_at))
        .first(conn)?;
    let employees: Option<NaiveDateTime> = deputy_employees::table
        .select(diesel::dsl::max(deputy_employees::updated_at))
        .first(conn)?;
    Ok(units.max(employees).map(utc))
}
