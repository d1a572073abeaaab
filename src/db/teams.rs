//! The location hierarchy, teams, their members and assignments, principals' own grants, the
//! audit of every change to them, and the version that tells processes their resolved scopes
//! are stale. Rows are voided or closed, never deleted: they stay in the history.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{
    access_audit, access_version, api_clients, locations, principal_grants, team_assignments,
    team_members, teams,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = locations)]
pub struct LocationRow {
    pub lid: String,
    pub name: String,
    pub parent_lid: Option<String>,
    pub level: String,
    pub voided_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = teams)]
pub struct TeamRow {
    pub id: String,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub voided_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = team_members)]
pub struct MemberRow {
    pub id: String,
    pub team_id: String,
    pub principal_id: String,
    pub role: String,
    pub joined_at: NaiveDateTime,
    pub left_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = team_assignments)]
pub struct AssignmentRow {
    pub id: String,
    pub team_id: String,
    pub location_lid: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub view_only: bool,
    pub voided_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = principal_grants)]
pub struct GrantRow {
    pub principal_id: String,
    pub location_lid: String,
    pub scope: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = access_audit)]
pub struct AuditRow {
    pub id: String,
    pub at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub before_state: Option<String>,
    pub after_state: Option<String>,
}

const VERSION_ROW: &str = "access";

/// The version of everything scopes are resolved from.
pub fn version(conn: &mut DbConnection) -> QueryResult<i64> {
    access_version::table
        .find(VERSION_ROW)
        .select(access_version::version)
        .first(conn)
}

/// Records a change: bumps the version and writes the audit row. Call it in the change's own
/// transaction, so that no process sees the change without the version telling it.
pub fn record_change(conn: &mut DbConnection, audit: &AuditRow) -> QueryResult<()> {
    diesel::update(access_version::table.find(VERSION_ROW))
        .set(access_version::version.eq(access_version::version + 1))
        .execute(conn)?;
    diesel::insert_into(access_audit::table)
        .values(audit)
        .execute(conn)
        .map(|_| ())
}

/// The audit, oldest first.
pub fn audit_trail(conn: &mut DbConnection) -> QueryResult<Vec<AuditRow>> {
    access_audit::table
        .order((access_audit::at.asc(), access_audit::id.asc()))
        .select(AuditRow::as_select())
        .load(conn)
}

/// Every location not voided.
pub fn live_locations(conn: &mut DbConnection) -> QueryResult<Vec<LocationRow>> {
    locations::table
        .filter(locations::voided_at.is_null())
        .order(locations::lid.asc())
        .select(LocationRow::as_select())
        .load(conn)
}

/// Writes a location, replacing the one of that LID.
pub fn put_location(conn: &mut DbConnection, row: &LocationRow) -> QueryResult<()> {
    let changed = diesel::update(locations::table.find(&row.lid))
        .set((
            locations::name.eq(&row.name),
            locations::parent_lid.eq(&row.parent_lid),
            locations::level.eq(&row.level),
            locations::voided_at.eq(row.voided_at),
        ))
        .execute(conn)?;
    if changed == 0 {
        diesel::insert_into(locations::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

pub fn void_location(conn: &mut DbConnection, lid: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(locations::table.find(lid))
        .set(locations::voided_at.eq(Some(now)))
        .execute(conn)
}

pub fn find_team(conn: &mut DbConnection, name: &str) -> QueryResult<Option<TeamRow>> {
    teams::table
        .filter(teams::name.eq(name))
        .select(TeamRow::as_select())
        .first(conn)
        .optional()
}

pub fn all_teams(conn: &mut DbConnection) -> QueryResult<Vec<TeamRow>> {
    teams::table
        .order(teams::name.asc())
        .select(TeamRow::as_select())
        .load(conn)
}

pub fn insert_team(conn: &mut DbConnection, row: &TeamRow) -> QueryResult<()> {
    diesel::insert_into(teams::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn void_team(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(teams::table.find(id).filter(teams::voided_at.is_null()))
        .set(teams::voided_at.eq(Some(now)))
        .execute(conn)
}

/// The members still in a team (not left), leaders first.
pub fn current_members(conn: &mut DbConnection, team_id: &str) -> QueryResult<Vec<MemberRow>> {
    team_members::table
        .filter(team_members::team_id.eq(team_id))
        .filter(team_members::left_at.is_null())
        .order((team_members::role.asc(), team_members::joined_at.asc()))
        .select(MemberRow::as_select())
        .load(conn)
}

pub fn insert_member(conn: &mut DbConnection, row: &MemberRow) -> QueryResult<()> {
    diesel::insert_into(team_members::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn close_membership(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        team_members::table
            .find(id)
            .filter(team_members::left_at.is_null()),
    )
    .set(team_members::left_at.eq(Some(now)))
    .execute(conn)
}

/// The teams (not voided) a principal is a member of now.
pub fn teams_of(conn: &mut DbConnection, principal_id: &str) -> QueryResult<Vec<String>> {
    team_members::table
        .inner_join(teams::table)
        .filter(team_members::principal_id.eq(principal_id))
        .filter(team_members::left_at.is_null())
        .filter(teams::voided_at.is_null())
        .select(teams::id)
        .load(conn)
}

/// A team's assignments not voided, whatever their dates.
pub fn assignments_of(conn: &mut DbConnection, team_id: &str) -> QueryResult<Vec<AssignmentRow>> {
    team_assignments::table
        .filter(team_assignments::team_id.eq(team_id))
        .filter(team_assignments::voided_at.is_null())
        .order(team_assignments::valid_from.asc())
        .select(AssignmentRow::as_select())
        .load(conn)
}

/// The assignments of these teams that hold on `day`.
pub fn assignments_on(
    conn: &mut DbConnection,
    team_ids: &[String],
    day: NaiveDate,
) -> QueryResult<Vec<AssignmentRow>> {
    team_assignments::table
        .filter(team_assignments::team_id.eq_any(team_ids))
        .filter(team_assignments::voided_at.is_null())
        .filter(team_assignments::valid_from.le(day))
        .filter(
            team_assignments::valid_to
                .is_null()
                .or(team_assignments::valid_to.ge(day)),
        )
        .select(AssignmentRow::as_select())
        .load(conn)
}

pub fn insert_assignment(conn: &mut DbConnection, row: &AssignmentRow) -> QueryResult<()> {
    diesel::insert_into(team_assignments::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// The live (not voided) assignments naming these locations, whatever their dates.
pub fn assignments_at(conn: &mut DbConnection, lids: &[String]) -> QueryResult<Vec<AssignmentRow>> {
    team_assignments::table
        .filter(team_assignments::location_lid.eq_any(lids))
        .filter(team_assignments::voided_at.is_null())
        .select(AssignmentRow::as_select())
        .load(conn)
}

pub fn grants_of(conn: &mut DbConnection, principal_id: &str) -> QueryResult<Vec<GrantRow>> {
    principal_grants::table
        .filter(principal_grants::principal_id.eq(principal_id))
        .select(GrantRow::as_select())
        .load(conn)
}

pub fn insert_grants(conn: &mut DbConnection, rows: &[GrantRow]) -> QueryResult<()> {
    for row in rows {
        diesel::insert_into(principal_grants::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// Marks a client's scope as coming from its grants and teams (its empty centers list no
/// longer means every center).
pub fn set_location_scoped(conn: &mut DbConnection, client_name: &str) -> QueryResult<usize> {
    diesel::update(api_clients::table.filter(api_clients::name.eq(client_name)))
        .set(api_clients::location_scoped.eq(true))
        .execute(conn)
}

/// A client's id and whether its scope comes from grants and teams, by name.
pub fn client_scope_kind(
    conn: &mut DbConnection,
    client_name: &str,
) -> QueryResult<Option<(String, bool)>> {
    api_clients::table
        .filter(api_clients::name.eq(client_name))
        .select((api_clients::id, api_clients::location_scoped))
        .first(conn)
        .optional()
}

/// Whether a client's scope comes from grants and teams, by id.
pub fn is_location_scoped(conn: &mut DbConnection, client_id: &str) -> QueryResult<bool> {
    api_clients::table
        .find(client_id)
        .select(api_clients::location_scoped)
        .first::<bool>(conn)
        .optional()
        .map(|s| s.unwrap_or(false))
}

/// Names of principals (API clients) by id, for the tree.
pub fn client_names(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    api_clients::table
        .filter(api_clients::id.eq_any(ids))
        .select((api_clients::id, api_clients::name))
        .load(conn)
}

/// The current memberships of every team not voided, oldest first.
pub fn all_current_members(conn: &mut DbConnection) -> QueryResult<Vec<MemberRow>> {
    team_members::table
        .inner_join(teams::table)
        .filter(team_members::left_at.is_null())
        .filter(teams::voided_at.is_null())
        .order((team_members::joined_at.asc(), team_members::id.asc()))
        .select(MemberRow::as_select())
        .load(conn)
}

/// The assignments not voided, of teams not voided, that hold on `day` or later.
pub fn assignments_from(
    conn: &mut DbConnection,
    day: NaiveDate,
) -> QueryResult<Vec<AssignmentRow>> {
    team_assignments::table
        .inner_join(teams::table)
        .filter(teams::voided_at.is_null())
        .filter(team_assignments::voided_at.is_null())
        .filter(
            team_assignments::valid_to
                .is_null()
                .or(team_assignments::valid_to.ge(day)),
        )
        .order(team_assignments::valid_from.asc())
        .select(AssignmentRow::as_select())
        .load(conn)
}

/// Every assignment not voided (current, future and ended), for the FHIR views of teams.
pub fn all_assignments(conn: &mut DbConnection) -> QueryResult<Vec<AssignmentRow>> {
    team_assignments::table
        .filter(team_assignments::voided_at.is_null())
        .order(team_assignments::valid_from.asc())
        .select(AssignmentRow::as_select())
        .load(conn)
}

/// Every API client's id and name.
pub fn all_client_names(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    api_clients::table
        .order(api_clients::name.asc())
        .select((api_clients::id, api_clients::name))
        .load(conn)
}

/// Every principal's own grants.
pub fn all_grants(conn: &mut DbConnection) -> QueryResult<Vec<GrantRow>> {
    principal_grants::table
        .select(GrantRow::as_select())
        .load(conn)
}

/// Replaces a principal's own grants with these.
pub fn replace_grants(
    conn: &mut DbConnection,
    principal_id: &str,
    rows: &[GrantRow],
) -> QueryResult<()> {
    diesel::delete(principal_grants::table.filter(principal_grants::principal_id.eq(principal_id)))
        .execute(conn)?;
    insert_grants(conn, rows)
}

/// Empties a client's list of centers (of before issue 18): its scope is its grants' and
/// teams' alone. Marks it location-scoped in the same statement, so that the empty list never
/// means every center.
pub fn clear_centers(conn: &mut DbConnection, client_name: &str) -> QueryResult<usize> {
    diesel::update(api_clients::table.filter(api_clients::name.eq(client_name)))
        .set((
            api_clients::centers.eq(""),
            api_clients::location_scoped.eq(true),
        ))
        .execute(conn)
}

/// Every membership, current and closed (history), for the FHIR views of teams.
pub fn all_memberships(conn: &mut DbConnection) -> QueryResult<Vec<MemberRow>> {
    team_members::table
        .order(team_members::joined_at.asc())
        .select(MemberRow::as_select())
        .load(conn)
}
