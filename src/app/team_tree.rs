//! Which teams are assigned where (the seed's "view in the web UI to see which teams are
//! assigned where"): the hierarchy in the caller's view, each location with the teams assigned
//! there today or later and their current members. The data `rendez teams tree` prints, as
//! values for the admin API; read in a few bulk queries, so a national tree (10,000 locations,
//! 1,000 teams) costs no query per team.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, Utc};

use super::Caller;
use super::locations::{Placed, list};
use crate::db::{DbConnection, teams};
use crate::error::Error;

/// A member of a team: an API client (by name) with its team role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub client: String,
    pub role: String,
}

/// A team's assignment at a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamAt {
    pub team: String,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
    pub view_only: bool,
    pub members: Vec<Member>,
}

#[derive(Debug, Default)]
pub struct TeamsTree {
    /// The hierarchy drawn as a tree, each location with its teams.
    pub locations: Vec<(Placed, Vec<TeamAt>)>,
    /// Centers outside the hierarchy (known to master data only) with teams.
    pub elsewhere: Vec<(String, Vec<TeamAt>)>,
    /// Teams assigned nowhere today or later.
    pub unassigned: Vec<String>,
}

/// The tree in the caller's view scope (the `admin` role).
pub fn tree(conn: &mut DbConnection, caller: &Caller) -> Result<TeamsTree, Error> {
    let placed = list(conn, caller)?;
    let today = Utc::now().date_naive();
    let live: Vec<teams::TeamRow> = teams::all_teams(conn)?
        .into_iter()
        .filter(|t| t.voided_at.is_none())
        .collect();
    let names: HashMap<String, String> = teams::all_client_names(conn)?.into_iter().collect();
    let mut members: HashMap<String, Vec<Member>> = HashMap::new();
    for m in teams::all_current_members(conn)? {
        let client = names
            .get(&m.principal_id)
            .cloned()
            .unwrap_or(m.principal_id);
        members.entry(m.team_id).or_default().push(Member {
            client,
            role: m.role,
        });
    }
    let team_names: HashMap<&str, &str> = live
        .iter()
        .map(|t| (t.id.as_str(), t.name.as_str()))
        .collect();
    let mut at: HashMap<String, Vec<TeamAt>> = HashMap::new();
    let mut placed_teams = HashSet::new();
    for a in teams::assignments_from(conn, today)? {
        let Some(name) = team_names.get(a.team_id.as_str()) else {
            continue;
        };
        placed_teams.insert(a.team_id.clone());
        at.entry(a.location_lid).or_default().push(TeamAt {
            team: name.to_string(),
            from: a.valid_from,
            to: a.valid_to,
            view_only: a.view_only,
            members: members.get(&a.team_id).cloned().unwrap_or_default(),
        });
    }
    for here in at.values_mut() {
        here.sort_by(|x, y| (&x.team, x.from).cmp(&(&y.team, y.from)));
    }
    let mut tree = TeamsTree::default();
    for p in placed {
        let here = at.remove(&p.location.lid).unwrap_or_default();
        tree.locations.push((p, here));
    }
    let mut elsewhere: Vec<(String, Vec<TeamAt>)> = at
        .into_iter()
        .filter(|(lid, _)| caller.view.allows(lid))
        .collect();
    elsewhere.sort_by(|x, y| x.0.cmp(&y.0));
    tree.elsewhere = elsewhere;
    let mut unassigned: Vec<String> = live
        .iter()
        .filter(|t| !placed_teams.contains(&t.id))
        .map(|t| t.name.clone())
        .collect();
    unassigned.sort();
    tree.unassigned = unassigned;
    Ok(tree)
}
