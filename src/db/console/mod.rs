//! The operator console's rows: operators, their sessions, the failed sign-ins that throttle
//! and lock them out, and the audit rows of their actions (in `access_audit`, beside the
//! access changes). The lists the pages show are in [`views`].

pub mod views;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{access_audit, console_login_failures, console_operators, console_sessions};
use super::teams::AuditRow;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = console_operators)]
pub struct OperatorRow {
    pub id: String,
    pub name: String,
    pub roles: String,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = console_sessions)]
pub struct SessionRow {
    pub id_hash: String,
    pub operator_id: String,
    pub csrf_token: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = console_login_failures)]
pub struct FailureRow {
    pub subject: String,
    pub failures: i32,
    pub window_start: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
}

pub fn find_operator(conn: &mut DbConnection, name: &str) -> QueryResult<Option<OperatorRow>> {
    console_operators::table
        .filter(console_operators::name.eq(name))
        .select(OperatorRow::as_select())
        .first(conn)
        .optional()
}

pub fn operator_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<OperatorRow>> {
    console_operators::table
        .find(id)
        .select(OperatorRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_operator(conn: &mut DbConnection, row: &OperatorRow) -> QueryResult<()> {
    diesel::insert_into(console_operators::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Operators' names by id (the teams tree names its members).
pub fn operator_names(
    conn: &mut DbConnection,
    ids: &[String],
) -> QueryResult<Vec<(String, String)>> {
    console_operators::table
        .filter(console_operators::id.eq_any(ids))
        .select((console_operators::id, console_operators::name))
        .load(conn)
}

pub fn insert_session(conn: &mut DbConnection, row: &SessionRow) -> QueryResult<()> {
    diesel::insert_into(console_sessions::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// A session not ended, with its operator.
pub fn live_session(
    conn: &mut DbConnection,
    id_hash: &str,
) -> QueryResult<Option<(SessionRow, OperatorRow)>> {
    console_sessions::table
        .inner_join(
            console_operators::table.on(console_operators::id.eq(console_sessions::operator_id)),
        )
        .filter(console_sessions::id_hash.eq(id_hash))
        .filter(console_sessions::ended_at.is_null())
        .select((SessionRow::as_select(), OperatorRow::as_select()))
        .first(conn)
        .optional()
}

pub fn touch_session(
    conn: &mut DbConnection,
    id_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(console_sessions::table.find(id_hash))
        .set(console_sessions::last_seen_at.eq(now))
        .execute(conn)
        .map(|_| ())
}

pub fn end_session(
    conn: &mut DbConnection,
    id_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        console_sessions::table
            .find(id_hash)
            .filter(console_sessions::ended_at.is_null()),
    )
    .set(console_sessions::ended_at.eq(Some(now)))
    .execute(conn)
}

pub fn failures_of(conn: &mut DbConnection, subject: &str) -> QueryResult<Option<FailureRow>> {
    console_login_failures::table
        .find(subject)
        .select(FailureRow::as_select())
        .first(conn)
        .optional()
}

/// Writes a subject's failure count (insert or replace, in the caller's transaction).
pub fn put_failures(conn: &mut DbConnection, row: &FailureRow) -> QueryResult<()> {
    let changed = diesel::update(console_login_failures::table.find(&row.subject))
        .set((
            console_login_failures::failures.eq(row.failures),
            console_login_failures::window_start.eq(row.window_start),
            console_login_failures::locked_until.eq(row.locked_until),
        ))
        .execute(conn)?;
    if changed == 0 {
        diesel::insert_into(console_login_failures::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

pub fn clear_failures(conn: &mut DbConnection, subject: &str) -> QueryResult<()> {
    diesel::delete(console_login_failures::table.find(subject))
        .execute(conn)
        .map(|_| ())
}

/// Records an operator's action (no access version bump: it changes nobody's scope).
pub fn audit(conn: &mut DbConnection, row: &AuditRow) -> QueryResult<()> {
    diesel::insert_into(access_audit::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// The audit rows of one actor, newest first (for tests and the operator's own history).
pub fn audit_of(conn: &mut DbConnection, actor: &str, limit: i64) -> QueryResult<Vec<AuditRow>> {
    access_audit::table
        .filter(access_audit::actor.eq(actor))
        .order((access_audit::at.desc(), access_audit::id.desc()))
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)
}

/// Every operator, by name.
pub fn operators(conn: &mut DbConnection) -> QueryResult<Vec<OperatorRow>> {
    console_operators::table
        .order(console_operators::name.asc())
        .select(OperatorRow::as_select())
        .load(conn)
}

/// Shuts an operator out (its sessions open nothing from its next request on); how many rows
/// changed (0: unknown or disabled already).
pub fn disable_operator(conn: &mut DbConnection, name: &str) -> QueryResult<usize> {
    diesel::update(
        console_operators::table
            .filter(console_operators::name.eq(name))
            .filter(console_operators::disabled.eq(false)),
    )
    .set(console_operators::disabled.eq(true))
    .execute(conn)
}

/// Ends every live session of an operator (by id).
pub fn end_sessions_of(
    conn: &mut DbConnection,
    operator_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        console_sessions::table
            .filter(console_sessions::operator_id.eq(operator_id))
            .filter(console_sessions::ended_at.is_null()),
    )
    .set(console_sessions::ended_at.eq(Some(now)))
    .execute(conn)
}
