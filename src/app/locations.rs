//! Operator use cases on the location hierarchy (`rendez locations`): import it from a CSV
//! file, remove a location. Every change runs in one transaction with its audit row and the
//! access version bump, so that every process resolves scopes again (see `app::access`).

use chrono::Utc;

use super::Caller;
use super::teams::{audit_row, require_admin};
use crate::db::{DbConnection, teams};
use crate::domain::locations::{Location, merge};
use crate::domain::values::Lid;
use crate::error::Error;

/// Reads the CSV of `rendez locations import`: a header `LID,NAME,PARENT_LID,LEVEL` (any
/// order), then one location a line; an empty PARENT_LID is a top location.
pub fn parse_csv(text: &str) -> Result<Vec<Location>, Error> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| Error::client(format!("the header line: {e}")))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::client(format!("the header names no column {name}")))
    };
    let (lid, name, parent, level) = (
        column("LID")?,
        column("NAME")?,
        column("PARENT_LID")?,
        column("LEVEL")?,
    );
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = record.map_err(|e| Error::client(format!("line {line}: {e}")))?;
        let field = |i: usize| record.get(i).unwrap_or("").to_string();
        let lid_text =
            Lid::parse(&field(lid)).map_err(|e| Error::client(format!("line {line}: LID {e}")))?;
        let parent_text = field(parent);
        let parent = match parent_text.is_empty() {
            true => None,
            false => Some(
                Lid::parse(&parent_text)
                    .map_err(|e| Error::client(format!("line {line}: PARENT_LID {e}")))?
                    .as_str()
                    .to_string(),
            ),
        };
        let (name, level) = (field(name), field(level));
        if name.is_empty() || level.is_empty() {
            return Err(Error::client(format!(
                "line {line}: NAME and LEVEL are required"
            )));
        }
        rows.push(Location {
            lid: lid_text.as_str().to_string(),
            name,
            parent,
            level,
        });
    }
    if rows.is_empty() {
        return Err(Error::client("the file holds no location"));
    }
    Ok(rows)
}

/// Adds or replaces these locations (by LID): refused whole, nothing written, when the
/// hierarchy it would make has a cycle, a location under two parents or an unknown parent.
/// Answers how many locations were written.
pub fn import(
    conn: &mut DbConnection,
    caller: &Caller,
    rows: Vec<Location>,
) -> Result<usize, Error> {
    require_admin(caller, "importing locations")?;
    crate::db::tx::write(conn, |conn| {
        let existing: Vec<Location> = teams::live_locations(conn)?
            .into_iter()
            .map(|r| Location {
                lid: r.lid,
                name: r.name,
                parent: r.parent_lid,
                level: r.level,
            })
            .collect();
        merge(&existing, &rows).map_err(Error::Client)?;
        for row in &rows {
            let before = existing.iter().find(|e| e.lid == row.lid);
            if before == Some(row) {
                continue;
            }
            teams::put_location(
                conn,
                &teams::LocationRow {
                    lid: row.lid.clone(),
                    name: row.name.clone(),
                    parent_lid: row.parent.clone(),
                    level: row.level.clone(),
                    voided_at: None,
                },
            )?;
            teams::record_change(
                conn,
                &audit_row(
                    caller,
                    "location.put",
                    &row.lid,
                    before.map(describe),
                    Some(describe(row)),
                ),
            )?;
        }
        Ok(rows.len())
    })
}

/// Voids a location (it stays in the history); refused while a team is assigned to it or a
/// location is below it (said in that order).
pub fn remove(conn: &mut DbConnection, caller: &Caller, lid: &str) -> Result<(), Error> {
    require_admin(caller, "removing a location")?;
    crate::db::tx::write(conn, |conn| {
        let live = teams::live_locations(conn)?;
        let Some(row) = live.iter().find(|l| l.lid == lid) else {
            return Err(Error::client(format!("there is no location '{lid}'")));
        };
        // An assignment that has ended is history, not a team still there.
        let today = Utc::now().date_naive();
        let assigned: Vec<teams::AssignmentRow> = teams::assignments_at(conn, &[lid.to_string()])?
            .into_iter()
            .filter(|a| a.valid_to.is_none_or(|to| to >= today))
            .collect();
        if !assigned.is_empty() {
            let names: Vec<String> = teams::all_teams(conn)?
                .into_iter()
                .filter(|t| assigned.iter().any(|a| a.team_id == t.id))
                .map(|t| t.name)
                .collect();
            return Err(Error::client(format!(
                "location '{lid}' still has teams assigned: {}",
                names.join(", ")
            )));
        }
        if let Some(child) = live.iter().find(|l| l.parent_lid.as_deref() == Some(lid)) {
            return Err(Error::client(format!(
                "location '{lid}' still has location '{}' below it",
                child.lid
            )));
        }
        let before = describe(&Location {
            lid: row.lid.clone(),
            name: row.name.clone(),
            parent: row.parent_lid.clone(),
            level: row.level.clone(),
        });
        teams::void_location(conn, lid, Utc::now().naive_utc())?;
        teams::record_change(
            conn,
            &audit_row(caller, "location.void", lid, Some(before), None),
        )?;
        Ok(())
    })
}

fn describe(location: &Location) -> String {
    serde_json::json!({
        "lid": location.lid,
        "name": location.name,
        "parent": location.parent,
        "level": location.level,
    })
    .to_string()
}
