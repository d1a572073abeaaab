//! Operator use cases on teams (`rendez teams`) and principals' own grants: add and void a
//! team, assign it to a location at any level for some days, let principals join and leave it
//! with a team role, and print the tree. Each runs in one transaction with its audit row and
//! the access version bump (see `app::access`): a change holds on every process within a
//! second. Voided teams and closed memberships stay in the history.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};

use super::access::{EDIT, VIEW};
use super::{Caller, require};
use crate::db::{DbConnection, teams};
use crate::domain::access::Role;
use crate::domain::locations::{TeamRole, Validity};
use crate::error::Error;

pub(crate) fn require_admin(caller: &Caller, action: &str) -> Result<(), Error> {
    require(caller, Role::Admin, action)
}

pub(crate) fn audit_row(
    caller: &Caller,
    action: &str,
    subject: &str,
    before: Option<String>,
    after: Option<String>,
) -> teams::AuditRow {
    teams::AuditRow {
        id: uuid::Uuid::now_v7().to_string(),
        at: Utc::now().naive_utc(),
        actor: caller.name.clone(),
        action: action.to_string(),
        subject: subject.to_string(),
        before_state: before,
        after_state: after,
    }
}

fn live_team(conn: &mut DbConnection, name: &str) -> Result<teams::TeamRow, Error> {
    match teams::find_team(conn, name)? {
        Some(team) if team.voided_at.is_none() => Ok(team),
        Some(_) => Err(Error::client(format!("team '{name}' is voided"))),
        None => Err(Error::NotFound(format!("there is no team '{name}'"))),
    }
}

/// Changing the hierarchy at a location (removing it, assigning a team there, granting it)
/// needs the caller's edit scope there.
pub(crate) fn require_edit_location(caller: &Caller, lid: &str) -> Result<(), Error> {
    if caller.edit().allows(lid) {
        return Ok(());
    }
    Err(Error::Forbidden(format!(
        "client '{}' may not change location '{lid}': it is outside its edit scope",
        caller.name
    )))
}

/// Changing a team (voiding it, its members) changes what its members may do wherever it is
/// assigned, today or later: the caller's edit scope must hold every such place. A team
/// assigned nowhere yet is any admin's.
fn require_team_in_scope(
    conn: &mut DbConnection,
    caller: &Caller,
    team: &teams::TeamRow,
) -> Result<(), Error> {
    if !caller.edit().is_limited() {
        return Ok(());
    }
    let today = Utc::now().date_naive();
    for a in teams::assignments_of(conn, &team.id)? {
        if a.valid_to.is_none_or(|to| to >= today) && !caller.edit().allows(&a.location_lid) {
            return Err(Error::Forbidden(format!(
                "client '{}' may not change team '{}': it is assigned to '{}', outside its edit scope",
                caller.name, team.name, a.location_lid
            )));
        }
    }
    Ok(())
}

/// A principal's id by name: an API client's, else a console operator's (issue 20).
fn client_id(conn: &mut DbConnection, name: &str) -> Result<String, Error> {
    if let Some((id, _)) = teams::client_scope_kind(conn, name)? {
        return Ok(id);
    }
    crate::db::console::find_operator(conn, name)?
        .map(|operator| operator.id)
        .ok_or_else(|| Error::client(format!("there is no client '{name}'")))
}

/// The locations a grant or an assignment may name: the hierarchy's, and the centers of master
/// data (a center placed in no hierarchy yet).
fn require_known_locations(conn: &mut DbConnection, lids: &[String]) -> Result<(), Error> {
    if lids.is_empty() {
        return Ok(());
    }
    let known = teams::live_locations(conn)?;
    let centers = super::master::all_centers(conn)?;
    for lid in lids {
        if !known.iter().any(|l| &l.lid == lid) && !centers.iter().any(|c| &c.lid == lid) {
            return Err(Error::client(format!("there is no location '{lid}'")));
        }
    }
    Ok(())
}

/// Adds a team.
pub fn add(conn: &mut DbConnection, caller: &Caller, name: &str) -> Result<(), Error> {
    require_admin(caller, "adding a team")?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(Error::client(
            "a team name is 1 to 200 characters, no control characters",
        ));
    }
    crate::db::tx::write(conn, |conn| {
        if teams::find_team(conn, name)?.is_some() {
            return Err(Error::client(format!(
                "a team named '{name}' exists already"
            )));
        }
        teams::insert_team(
            conn,
            &teams::TeamRow {
                id: uuid::Uuid::now_v7().to_string(),
                name: name.to_string(),
                created_at: Utc::now().naive_utc(),
                voided_at: None,
            },
        )?;
        teams::record_change(
            conn,
            &audit_row(caller, "team.add", name, None, Some(name.into())),
        )?;
        Ok(())
    })
}

/// Voids a team: its members and assignments grant nothing from now on, and stay in the history.
pub fn void(conn: &mut DbConnection, caller: &Caller, name: &str) -> Result<(), Error> {
    require_admin(caller, "voiding a team")?;
    crate::db::tx::write(conn, |conn| {
        let team = live_team(conn, name)?;
        require_team_in_scope(conn, caller, &team)?;
        teams::void_team(conn, &team.id, Utc::now().naive_utc())?;
        teams::record_change(
            conn,
            &audit_row(
                caller,
                "team.void",
                name,
                Some("active".into()),
                Some("voided".into()),
            ),
        )?;
        Ok(())
    })
}

/// An assignment to make.
pub struct Assignment<'a> {
    pub team: &'a str,
    pub location: &'a str,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub view_only: bool,
}

/// Assigns a team to a location at any level: from today when no start is given; refused for
/// an unknown location, an end before the start, or days overlapping another assignment of the
/// team to the same location.
pub fn assign(conn: &mut DbConnection, caller: &Caller, a: Assignment<'_>) -> Result<(), Error> {
    require_admin(caller, "assigning a team")?;
    let validity = Validity::new(a.from.unwrap_or_else(|| Utc::now().date_naive()), a.to)
        .map_err(Error::Client)?;
    crate::db::tx::write(conn, |conn| {
        let team = live_team(conn, a.team)?;
        if !caller.view.allows(a.location) {
            // Out of the caller's view, a location looks unknown.
            return Err(Error::client(format!(
                "there is no location '{}'",
                a.location
            )));
        }
        require_known_locations(conn, &[a.location.to_string()])?;
        require_edit_location(caller, a.location)?;
        for other in teams::assignments_of(conn, &team.id)? {
            let theirs = Validity {
                from: other.valid_from,
                to: other.valid_to,
            };
            if other.location_lid == a.location && theirs.overlaps(&validity) {
                return Err(Error::client(format!(
                    "team '{}' is already assigned to '{}' from {} to {}: the dates overlap",
                    a.team,
                    a.location,
                    other.valid_from,
                    other
                        .valid_to
                        .map_or("no end".to_string(), |d| d.to_string())
                )));
            }
        }
        teams::insert_assignment(
            conn,
            &teams::AssignmentRow {
                id: uuid::Uuid::now_v7().to_string(),
                team_id: team.id.clone(),
                location_lid: a.location.to_string(),
                valid_from: validity.from,
                valid_to: validity.to,
                view_only: a.view_only,
                voided_at: None,
            },
        )?;
        let after = serde_json::json!({
            "location": a.location,
            "from": validity.from.to_string(),
            "to": validity.to.map(|d| d.to_string()),
            "view_only": a.view_only,
        });
        teams::record_change(
            conn,
            &audit_row(caller, "team.assign", a.team, None, Some(after.to_string())),
        )?;
        Ok(())
    })
}

/// Makes a principal (an API client, by name) a member of a team with a team role.
pub fn join(
    conn: &mut DbConnection,
    caller: &Caller,
    team: &str,
    principal: &str,
    role: TeamRole,
) -> Result<(), Error> {
    require_admin(caller, "changing a team's members")?;
    crate::db::tx::write(conn, |conn| {
        let row = live_team(conn, team)?;
        require_team_in_scope(conn, caller, &row)?;
        let id = client_id(conn, principal)?;
        if teams::current_members(conn, &row.id)?
            .iter()
            .any(|m| m.principal_id == id)
        {
            return Err(Error::client(format!(
                "'{principal}' is already a member of team '{team}'"
            )));
        }
        teams::insert_member(
            conn,
            &teams::MemberRow {
                id: uuid::Uuid::now_v7().to_string(),
                team_id: row.id,
                principal_id: id,
                role: role.as_str().to_string(),
                joined_at: Utc::now().naive_utc(),
                left_at: None,
            },
        )?;
        let subject = format!("{team}/{principal}");
        teams::record_change(
            conn,
            &audit_row(
                caller,
                "team.join",
                &subject,
                None,
                Some(role.as_str().into()),
            ),
        )?;
        Ok(())
    })
}

/// Ends a principal's membership of a team (the row stays, closed).
pub fn leave(
    conn: &mut DbConnection,
    caller: &Caller,
    team: &str,
    principal: &str,
) -> Result<(), Error> {
    require_admin(caller, "changing a team's members")?;
    crate::db::tx::write(conn, |conn| {
        let row = live_team(conn, team)?;
        require_team_in_scope(conn, caller, &row)?;
        let id = match teams::client_scope_kind(conn, principal)? {
            Some((id, _)) => Some(id),
            None => crate::db::console::find_operator(conn, principal)?.map(|o| o.id),
        };
        let member = match id {
            Some(id) => teams::current_members(conn, &row.id)?
                .into_iter()
                .find(|m| m.principal_id == id),
            None => None,
        };
        let Some(member) = member else {
            return Err(Error::NotFound(format!(
                "'{principal}' is no member of team '{team}'"
            )));
        };
        teams::close_membership(conn, &member.id, Utc::now().naive_utc())?;
        let subject = format!("{team}/{principal}");
        teams::record_change(
            conn,
            &audit_row(caller, "team.leave", &subject, Some(member.role), None),
        )?;
        Ok(())
    })
}

/// Checks the locations of a client's own grants before the client is added.
pub fn check_grants(
    conn: &mut DbConnection,
    view: &[String],
    edit: &[String],
) -> Result<(), Error> {
    require_known_locations(conn, view)?;
    require_known_locations(conn, edit)
}

/// The locations a caller may grant: known ones (out of its view, a location looks unknown)
/// in its edit scope.
pub(crate) fn require_grantable(
    conn: &mut DbConnection,
    caller: &Caller,
    view: &[String],
    edit: &[String],
) -> Result<(), Error> {
    if let Some(hidden) = view.iter().chain(edit).find(|l| !caller.view.allows(l)) {
        return Err(Error::client(format!("there is no location '{hidden}'")));
    }
    check_grants(conn, view, edit)?;
    for lid in view.iter().chain(edit) {
        require_edit_location(caller, lid)?;
    }
    Ok(())
}

/// Gives a client its own view and edit grants, and makes its scope come from grants and teams
/// (an empty list then means no location, not every center).
pub fn grant(
    conn: &mut DbConnection,
    caller: &Caller,
    client: &str,
    view: &[String],
    edit: &[String],
) -> Result<(), Error> {
    require_admin(caller, "granting locations")?;
    crate::db::tx::write(conn, |conn| grant_within(conn, caller, client, view, edit))
}

/// [`grant`] in the caller's transaction (the client's own, when it is added with its grants).
pub(crate) fn grant_within(
    conn: &mut DbConnection,
    caller: &Caller,
    client: &str,
    view: &[String],
    edit: &[String],
) -> Result<(), Error> {
    require_admin(caller, "granting locations")?;
    let id = client_id(conn, client)?;
    require_grantable(conn, caller, view, edit)?;
    let existing = teams::grants_of(conn, &id)?;
    let mut rows = Vec::new();
    for (scope, lids) in [(VIEW, view), (EDIT, edit)] {
        for lid in lids {
            let fresh = !existing
                .iter()
                .chain(&rows)
                .any(|g: &teams::GrantRow| &g.location_lid == lid && g.scope == scope);
            if fresh {
                rows.push(teams::GrantRow {
                    principal_id: id.clone(),
                    location_lid: lid.clone(),
                    scope: scope.to_string(),
                });
            }
        }
    }
    teams::insert_grants(conn, &rows)?;
    teams::set_location_scoped(conn, client)?;
    let after = serde_json::json!({ "view": view, "edit": edit });
    teams::record_change(
        conn,
        &audit_row(
            caller,
            "client.grant",
            client,
            None,
            Some(after.to_string()),
        ),
    )?;
    Ok(())
}

/// `rendez teams tree`: each location with the teams assigned there today or later and their
/// current members, indented by depth; teams assigned to no location after.
pub fn tree(conn: &mut DbConnection, caller: &Caller) -> Result<Vec<String>, Error> {
    require_admin(caller, "reading the teams")?;
    let locations = teams::live_locations(conn)?;
    let all_teams: Vec<teams::TeamRow> = teams::all_teams(conn)?
        .into_iter()
        .filter(|t| t.voided_at.is_none())
        .collect();
    let today = Utc::now().date_naive();
    let mut at: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut placed = std::collections::HashSet::new();
    for team in &all_teams {
        let members = teams::current_members(conn, &team.id)?;
        let ids: Vec<String> = members.iter().map(|m| m.principal_id.clone()).collect();
        let mut names = teams::client_names(conn, &ids)?;
        names.extend(crate::db::console::operator_names(conn, &ids)?);
        let people: Vec<String> = members
            .iter()
            .map(|m| {
                let name = names
                    .iter()
                    .find(|(id, _)| id == &m.principal_id)
                    .map_or(m.principal_id.as_str(), |(_, n)| n.as_str());
                format!("{name} ({})", m.role)
            })
            .collect();
        for a in teams::assignments_of(conn, &team.id)? {
            if a.valid_to.is_some_and(|to| to < today) {
                continue;
            }
            placed.insert(team.id.clone());
            let dates = format!(
                "{}..{}",
                a.valid_from,
                a.valid_to.map_or(String::new(), |d| d.to_string())
            );
            let mode = if a.view_only { ", view only" } else { "" };
            at.entry(a.location_lid.clone()).or_default().push(format!(
                "team {} [{dates}{mode}]: {}",
                team.name,
                if people.is_empty() {
                    "no members".to_string()
                } else {
                    people.join(", ")
                }
            ));
        }
    }
    let mut lines = Vec::new();
    let mut stack: Vec<(usize, &teams::LocationRow)> = locations
        .iter()
        .filter(|l| {
            l.parent_lid
                .as_deref()
                .is_none_or(|p| !locations.iter().any(|o| o.lid == p))
        })
        .rev()
        .map(|l| (0, l))
        .collect();
    while let Some((depth, loc)) = stack.pop() {
        let indent = "  ".repeat(depth);
        lines.push(format!("{indent}{} {} ({})", loc.lid, loc.name, loc.level));
        for team in at.remove(&loc.lid).unwrap_or_default() {
            lines.push(format!("{indent}  * {team}"));
        }
        stack.extend(
            locations
                .iter()
                .filter(|c| c.parent_lid.as_deref() == Some(loc.lid.as_str()))
                .rev()
                .map(|c| (depth + 1, c)),
        );
    }
    for (lid, teams_there) in at {
        lines.push(format!("{lid} (a center outside the hierarchy)"));
        lines.extend(teams_there.into_iter().map(|t| format!("  * {t}")));
    }
    for team in all_teams.iter().filter(|t| !placed.contains(&t.id)) {
        lines.push(format!("team {} is assigned nowhere", team.name));
    }
    Ok(lines)
}
