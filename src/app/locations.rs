//! Operator use cases on the location hierarchy (`rendez locations`): import it from a CSV
//! file, remove a location. Every change runs in one transaction with its audit row and the
//! access version bump, so that every process resolves scopes again (see `app::access`).

use chrono::Utc;

use super::teams::{audit_row, require_admin, require_edit_location};
use super::{Caller, require};
use crate::db::{DbConnection, teams, tx};
use crate::domain::access::Role;
use crate::domain::locations::{Growing, Location, merge, tree_order};
use crate::domain::master::{RowError, SyncOutcome};
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
        let merged = merge(&existing, &rows).map_err(Error::Client)?;
        require_edit_places(caller, &existing, &merged, &rows)?;
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
        // Out of the caller's view, a location looks unknown.
        let Some(row) = live
            .iter()
            .find(|l| l.lid == lid && caller.view.allows(lid))
        else {
            return Err(Error::NotFound(format!("there is no location '{lid}'")));
        };
        require_edit_location(caller, lid)?;
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

/// An import may change only locations in the caller's edit scope, and place a location only
/// below one in it (or below a location of the same import placed so): a district's admin adds
/// centers to its district, never a new country. `merged` is the hierarchy after the import.
fn require_edit_places(
    caller: &Caller,
    existing: &[Location],
    merged: &[Location],
    rows: &[Location],
) -> Result<(), Error> {
    if !caller.edit().is_limited() {
        return Ok(());
    }
    let parent_of: std::collections::HashMap<&str, Option<&str>> = merged
        .iter()
        .map(|l| (l.lid.as_str(), l.parent.as_deref()))
        .collect();
    for row in rows {
        if let Some(before) = existing.iter().find(|e| e.lid == row.lid) {
            require_edit_location(caller, &row.lid)?;
            if before.parent == row.parent {
                // Renamed or re-levelled where it is: its own scope suffices (a province's
                // admin may rename the province, whose parent it cannot edit).
                continue;
            }
        }
        // merge() refused cycles: the walk up ends at a top.
        let mut above = row.parent.as_deref();
        let anchored = loop {
            match above {
                None => break false,
                Some(lid) if caller.edit().allows(lid) => break true,
                Some(lid) => above = parent_of.get(lid).copied().flatten(),
            }
        };
        if !anchored {
            return Err(Error::Forbidden(format!(
                "client '{}' may not place location '{}' under '{}': that is outside its edit scope",
                caller.name,
                row.lid,
                row.parent.as_deref().unwrap_or("(the top)")
            )));
        }
    }
    Ok(())
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

/// A location where a tree draws it: its depth below the caller's tops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub location: Location,
    pub depth: usize,
}

/// The hierarchy the caller may see (its view scope), drawn as a tree: each location followed
/// by those below it. A parent out of the caller's view is not named: that location is a top.
pub fn list(conn: &mut DbConnection, caller: &Caller) -> Result<Vec<Placed>, Error> {
    require_admin(caller, "reading the locations")?;
    let visible: Vec<Location> = teams::live_locations(conn)?
        .into_iter()
        .filter(|r| caller.view.allows(&r.lid))
        .map(|r| Location {
            parent: r.parent_lid.filter(|p| caller.view.allows(p)),
            lid: r.lid,
            name: r.name,
            level: r.level,
        })
        .collect();
    Ok(tree_order(&visible)
        .into_iter()
        .map(|(i, depth)| Placed {
            location: visible[i].clone(),
            depth,
        })
        .collect())
}

/// `updateLocations`: the clinic's master data pushes its hierarchy, items numbered from 1.
/// Each item is judged on its own, as every master-data push judges its items: one whose
/// parent comes later in the same push waits for it; one with an unknown parent, a cycle, a
/// second parent in the same push, or a place outside the caller's edit scope is refused in its
/// own `RowError`; the others are written in one transaction (each with its audit row and the
/// access version bump), and an unchanged one writes nothing.
pub fn push(
    conn: &mut DbConnection,
    caller: &Caller,
    items: Vec<(usize, Location)>,
    refused: Vec<RowError>,
) -> Result<SyncOutcome, Error> {
    require(caller, Role::Admin, "updateLocations")?;
    // Run again after a conflict, from the items as sent: each run judges them afresh.
    tx::write(conn, |conn| {
        let existing: Vec<Location> = teams::live_locations(conn)?
            .into_iter()
            .map(|r| Location {
                lid: r.lid,
                name: r.name,
                parent: r.parent_lid,
                level: r.level,
            })
            .collect();
        let mut errors = refused.clone();
        let mut growing = Growing::new(&existing);
        let mut accepted: Vec<(usize, Location)> = Vec::new();
        let refuse = |row: usize, message: String| RowError {
            row,
            field: PARENT_FIELD,
            message,
        };
        // The first item of a LID says where it goes; a later one elsewhere contradicts it.
        let mut first_of: std::collections::HashMap<String, (usize, Option<String>)> =
            Default::default();
        let mut pending = Vec::with_capacity(items.len());
        for (row, location) in items.iter().cloned() {
            match first_of.get(&location.lid) {
                Some((first, parent)) if *parent != location.parent => {
                    errors.push(refuse(
                        row,
                        format!(
                            "location '{}' is given under two parents: item {first} puts it under '{}'",
                            location.lid,
                            parent.as_deref().unwrap_or("(none)")
                        ),
                    ));
                }
                _ => {
                    first_of
                        .entry(location.lid.clone())
                        .or_insert((row, location.parent.clone()));
                    pending.push((row, location));
                }
            }
        }
        // A pass places every item whose parent is known by now; items waiting for a parent
        // placed later in the push get another pass, until one places nothing.
        loop {
            let mut placed_any = false;
            let mut waiting = Vec::new();
            for (row, location) in pending {
                if let Some(parent) = location.parent.as_deref()
                    && !growing.knows(parent)
                {
                    waiting.push((row, location));
                    continue;
                }
                let before = existing.iter().find(|e| e.lid == location.lid);
                match may_place(caller, before, &location, &growing) {
                    Err(Error::Forbidden(message)) => {
                        errors.push(refuse(row, message));
                        continue;
                    }
                    Err(other) => return Err(other),
                    Ok(()) => {}
                }
                if let Err(message) = growing.place(&location) {
                    errors.push(refuse(row, message));
                    continue;
                }
                placed_any = true;
                accepted.push((row, location));
            }
            pending = waiting;
            if pending.is_empty() || !placed_any {
                break;
            }
        }
        for (row, location) in pending {
            let message = format!(
                "location '{}' names the parent '{}', which is no known location",
                location.lid,
                location.parent.as_deref().unwrap_or_default()
            );
            errors.push(refuse(row, message));
        }
        let mut outcome = SyncOutcome::default();
        let mut written: std::collections::HashMap<String, Location> = Default::default();
        for (_, location) in accepted {
            let before = written
                .get(&location.lid)
                .or_else(|| existing.iter().find(|e| e.lid == location.lid));
            if before == Some(&location) {
                continue;
            }
            match before {
                Some(_) => outcome.updated += 1,
                None => outcome.created += 1,
            }
            teams::put_location(
                conn,
                &teams::LocationRow {
                    lid: location.lid.clone(),
                    name: location.name.clone(),
                    parent_lid: location.parent.clone(),
                    level: location.level.clone(),
                    voided_at: None,
                },
            )?;
            teams::record_change(
                conn,
                &audit_row(
                    caller,
                    "location.put",
                    &location.lid,
                    before.map(describe),
                    Some(describe(&location)),
                ),
            )?;
            written.insert(location.lid.clone(), location);
        }
        errors.sort_by_key(|e| e.row);
        outcome.errors = errors;
        Ok(outcome)
    })
}

/// The field a refused place names.
const PARENT_FIELD: &str = "LOCATION_PARENT_LID";

/// One item of a push against the caller's edit scope (see [`require_edit_places`]).
fn may_place(
    caller: &Caller,
    before: Option<&Location>,
    location: &Location,
    growing: &Growing,
) -> Result<(), Error> {
    if !caller.edit().is_limited() {
        return Ok(());
    }
    if let Some(before) = before {
        require_edit_location(caller, &location.lid)?;
        if before.parent == location.parent {
            return Ok(());
        }
    }
    let mut above = location.parent.as_deref();
    while let Some(lid) = above {
        if caller.edit().allows(lid) {
            return Ok(());
        }
        above = growing.parent(lid);
    }
    Err(Error::Forbidden(format!(
        "client '{}' may not place location '{}' under '{}': that is outside its edit scope",
        caller.name,
        location.lid,
        location.parent.as_deref().unwrap_or("(the top)")
    )))
}
