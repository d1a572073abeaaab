//! The location hierarchy and the teams as a caller may read them (the FHIR edge renders them
//! as `Location` with `partOf`, `Organization` of type team and the team members'
//! `PractitionerRole`s, as the OpenSRP crosswalk of issue 18 says).
//!
//! Ids are numbers of the one sequence every API id comes from (`online_ids`), given when an
//! entity is first read: a location of the hierarchy by its LID, a team and a membership by
//! their ids. A hierarchy row whose LID is an active center of master data is that center (its
//! `Location` is the directory's); the others are the levels above.
//!
//! Scope (the view scope, as every read): a location is seen when it is in the caller's view
//! scope; a parent outside it is not named (telling it exists would leak). A team is seen when
//! one of its assignments (not voided) is at a location in the view scope, or by a caller whose
//! view is not limited. Who is in a team names API clients: members are listed only to a
//! caller with the `admin` role, as `rendez teams tree` is.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};

use super::online::numbers;
use super::{Caller, Core, require};
use crate::db::booking::online::Kind;
use crate::db::{master as master_rows, teams};
use crate::domain::access::{CenterScope, Role};
use crate::error::Error;

const ACTION: &str = "reading the location hierarchy and teams (the FHIR API)";

/// A location of the hierarchy above the centers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaceEntry {
    pub id: i64,
    pub lid: String,
    pub name: String,
    pub level: String,
    /// Its parent, when the caller may see it: (number, name).
    pub parent: Option<(i64, String)>,
}

/// The hierarchy a caller sees: the locations above the centers, and each visible center's
/// parent (by center LID).
#[derive(Clone, Debug, Default)]
pub struct Places {
    /// Ascending by id.
    pub places: Vec<PlaceEntry>,
    pub center_parents: HashMap<String, (i64, String)>,
}

/// A location a team is assigned to, as the caller sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignedPlace {
    /// The location's number (a center's or a hierarchy location's).
    pub id: i64,
    pub name: String,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
    pub view_only: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamEntry {
    pub id: i64,
    pub name: String,
    pub active: bool,
    /// Its assignments at locations the caller sees.
    pub assigned: Vec<AssignedPlace>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberEntry {
    pub id: i64,
    /// The membership's own id (its identifier).
    pub key: String,
    pub team: i64,
    pub team_name: String,
    /// The API client's name.
    pub principal: String,
    /// leader or member.
    pub role: String,
    pub joined: DateTime<Utc>,
    pub left: Option<DateTime<Utc>>,
    /// Current: not left, and the team not voided.
    pub active: bool,
}

/// The teams a caller sees, and their members when it holds the admin role.
#[derive(Clone, Debug, Default)]
pub struct Teams {
    /// Ascending by id.
    pub teams: Vec<TeamEntry>,
    /// Ascending by id; empty without the admin role.
    pub members: Vec<MemberEntry>,
    /// Whether the members were listed (the caller holds the admin role).
    pub members_listed: bool,
}

/// Numbers for hierarchy LIDs and a center's number by LID.
struct Numbering {
    by_lid: HashMap<String, (i64, String)>,
}

/// The hierarchy's live rows, the active centers' (LID, internal id, name), and the numbers of
/// both, as the caller's view scope allows.
async fn numbering(
    core: &Core,
    view: &CenterScope,
) -> Result<(Vec<teams::LocationRow>, HashSet<String>, Numbering), Error> {
    let (rows, centers) = core
        .with_db(|conn| {
            Ok((
                teams::live_locations(conn)?,
                master_rows::list_centers(conn, &CenterScope::All)?,
            ))
        })
        .await?;
    let center_lids: HashSet<String> = centers.iter().map(|c| c.lid.clone()).collect();
    let mut wanted: Vec<(Kind, String)> = Vec::new();
    let mut names: Vec<(String, String)> = Vec::new();
    for c in centers.iter().filter(|c| view.allows(&c.lid)) {
        wanted.push((Kind::Center, c.id.clone()));
        names.push((c.lid.clone(), c.name.clone()));
    }
    for r in rows
        .iter()
        .filter(|r| view.allows(&r.lid) && !center_lids.contains(&r.lid))
    {
        wanted.push((Kind::Place, r.lid.clone()));
        names.push((r.lid.clone(), r.name.clone()));
    }
    let given = if wanted.is_empty() {
        Vec::new()
    } else {
        numbers(core, wanted).await?
    };
    let by_lid = names
        .into_iter()
        .zip(given)
        .map(|((lid, name), n)| (lid, (n, name)))
        .collect();
    Ok((rows, center_lids, Numbering { by_lid }))
}

/// The hierarchy as `caller` may see it (role `booking`, its view scope).
pub async fn places(core: &Core, caller: &Caller) -> Result<Places, Error> {
    require(caller, Role::Booking, ACTION)?;
    let (rows, center_lids, numbering) = numbering(core, &caller.view).await?;
    let parent_of = |parent: &Option<String>| {
        parent
            .as_deref()
            .and_then(|p| numbering.by_lid.get(p))
            .cloned()
    };
    let mut out = Places::default();
    for row in rows.iter().filter(|r| caller.view.allows(&r.lid)) {
        if center_lids.contains(&row.lid) {
            if let Some(parent) = parent_of(&row.parent_lid) {
                out.center_parents.insert(row.lid.clone(), parent);
            }
            continue;
        }
        let Some((id, _)) = numbering.by_lid.get(&row.lid) else {
            continue;
        };
        out.places.push(PlaceEntry {
            id: *id,
            lid: row.lid.clone(),
            name: row.name.clone(),
            level: row.level.clone(),
            parent: parent_of(&row.parent_lid),
        });
    }
    out.places.sort_by_key(|p| p.id);
    Ok(out)
}

/// The teams as `caller` may see them (role `booking`, its view scope), with their members
/// when the caller holds the `admin` role.
pub async fn teams(core: &Core, caller: &Caller) -> Result<Teams, Error> {
    require(caller, Role::Booking, ACTION)?;
    let members_listed = caller.roles.contains(Role::Admin);
    let (_, _, numbering) = numbering(core, &caller.view).await?;
    let (all_teams, assignments, memberships) = core
        .with_db(move |conn| {
            let memberships = if members_listed {
                teams::all_memberships(conn)?
            } else {
                Vec::new()
            };
            Ok((
                teams::all_teams(conn)?,
                teams::all_assignments(conn)?,
                memberships,
            ))
        })
        .await?;
    let seen: Vec<&teams::TeamRow> = all_teams
        .iter()
        .filter(|t| {
            !caller.view.is_limited()
                || assignments
                    .iter()
                    .any(|a| a.team_id == t.id && caller.view.allows(&a.location_lid))
        })
        .collect();
    let seen_ids: HashSet<&str> = seen.iter().map(|t| t.id.as_str()).collect();
    let members: Vec<&teams::MemberRow> = memberships
        .iter()
        .filter(|m| seen_ids.contains(m.team_id.as_str()))
        .collect();
    let mut wanted: Vec<(Kind, String)> = seen.iter().map(|t| (Kind::Team, t.id.clone())).collect();
    wanted.extend(members.iter().map(|m| (Kind::Member, m.id.clone())));
    let given = if wanted.is_empty() {
        Vec::new()
    } else {
        numbers(core, wanted).await?
    };
    let (team_numbers, member_numbers) = given.split_at(seen.len());
    let principal_ids: Vec<String> = members.iter().map(|m| m.principal_id.clone()).collect();
    let principals: HashMap<String, String> = if principal_ids.is_empty() {
        HashMap::new()
    } else {
        core.with_db(move |conn| teams::client_names(conn, &principal_ids))
            .await?
            .into_iter()
            .collect()
    };
    let mut out = Teams {
        members_listed,
        ..Teams::default()
    };
    let mut team_of: HashMap<&str, (i64, &teams::TeamRow)> = HashMap::new();
    for (team, number) in seen.iter().zip(team_numbers) {
        team_of.insert(team.id.as_str(), (*number, *team));
        let assigned = assignments
            .iter()
            .filter(|a| a.team_id == team.id)
            .filter_map(|a| {
                let (id, name) = numbering.by_lid.get(&a.location_lid)?;
                Some(AssignedPlace {
                    id: *id,
                    name: name.clone(),
                    from: a.valid_from,
                    to: a.valid_to,
                    view_only: a.view_only,
                })
            })
            .collect();
        out.teams.push(TeamEntry {
            id: *number,
            name: team.name.clone(),
            active: team.voided_at.is_none(),
            assigned,
        });
    }
    for (member, number) in members.iter().zip(member_numbers) {
        let Some((team_number, team)) = team_of.get(member.team_id.as_str()) else {
            continue;
        };
        out.members.push(MemberEntry {
            id: *number,
            key: member.id.clone(),
            team: *team_number,
            team_name: team.name.clone(),
            principal: principals
                .get(&member.principal_id)
                .cloned()
                .unwrap_or_else(|| member.principal_id.clone()),
            role: member.role.clone(),
            joined: member.joined_at.and_utc(),
            left: member.left_at.map(|t| t.and_utc()),
            active: member.left_at.is_none() && team.voided_at.is_none(),
        });
    }
    out.teams.sort_by_key(|t| t.id);
    out.members.sort_by_key(|m| m.id);
    Ok(out)
}
