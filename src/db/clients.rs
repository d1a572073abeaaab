//! API clients: who may call Rendez, with which roles and centers.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{api_clients, client_tokens};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_clients)]
#[cfg_attr(feature = "sqlite", diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "mysql", diesel(check_for_backend(diesel::mysql::Mysql)))]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub roles: String,
    pub centers: String,
    pub secret_hash: String,
    pub digest_secret: Option<String>,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// A rotated secret that still works until `previous_secret_until`.
    pub previous_secret_hash: Option<String>,
    pub previous_secret_until: Option<NaiveDateTime>,
    /// Its scope comes from its grants and teams (issue 18): an empty `centers` then means no
    /// center of its own, not every center.
    pub location_scoped: bool,
}

impl ClientRow {
    /// The previous secret's hash while its overlap lasts at `now`.
    pub fn previous_secret(&self, now: NaiveDateTime) -> Option<&str> {
        match (&self.previous_secret_hash, self.previous_secret_until) {
            (Some(hash), Some(until)) if now < until => Some(hash),
            _ => None,
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_clients)]
pub struct NewClient<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub roles: &'a str,
    pub centers: &'a str,
    pub secret_hash: &'a str,
    pub digest_secret: Option<&'a str>,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn find_by_name(conn: &mut DbConnection, name: &str) -> QueryResult<Option<ClientRow>> {
    api_clients::table
        .filter(api_clients::name.eq(name))
        .select(ClientRow::as_select())
        .first(conn)
        .optional()
}

pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<ClientRow>> {
    api_clients::table
        .order(api_clients::name.asc())
        .select(ClientRow::as_select())
        .load(conn)
}

pub fn insert(conn: &mut DbConnection, client: &NewClient<'_>) -> QueryResult<()> {
    diesel::insert_into(api_clients::table)
        .values(client)
        .execute(conn)
        .map(|_| ())
}

/// Replaces a client's secrets, roles and centers, and enables it (used by `--demo`).
pub fn replace(conn: &mut DbConnection, client: &NewClient<'_>) -> QueryResult<usize> {
    diesel::update(api_clients::table.filter(api_clients::name.eq(client.name)))
        .set((
            api_clients::roles.eq(client.roles),
            api_clients::centers.eq(client.centers),
            api_clients::secret_hash.eq(client.secret_hash),
            api_clients::digest_secret.eq(client.digest_secret),
            api_clients::disabled.eq(false),
            api_clients::updated_at.eq(client.updated_at),
        ))
        .execute(conn)
}

/// Returns how many clients were enabled (0: no such name).
pub fn enable(conn: &mut DbConnection, name: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(api_clients::table.filter(api_clients::name.eq(name)))
        .set((
            api_clients::disabled.eq(false),
            api_clients::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Replaces a client's secret (its hash, and its encrypted form for PasswordDigest). With
/// `keep_previous_until`, the secret replaced keeps working (HTTP Basic and PasswordText) until
/// then; without, it stops at once, as does any earlier one.
pub fn set_secret(
    conn: &mut DbConnection,
    name: &str,
    secret_hash: &str,
    digest_secret: Option<&str>,
    keep_previous_until: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    super::tx::write(conn, |conn| {
        let previous = match keep_previous_until {
            Some(_) => api_clients::table
                .filter(api_clients::name.eq(name))
                .select(api_clients::secret_hash)
                .first::<String>(conn)
                .optional()?,
            None => None,
        };
        diesel::update(api_clients::table.filter(api_clients::name.eq(name)))
            .set((
                api_clients::secret_hash.eq(secret_hash),
                api_clients::digest_secret.eq(digest_secret),
                api_clients::previous_secret_hash.eq(&previous),
                api_clients::previous_secret_until.eq(previous.as_ref().and(keep_previous_until)),
                api_clients::updated_at.eq(now),
            ))
            .execute(conn)
    })
}

/// Returns how many clients were disabled (0: no such name).
pub fn disable(conn: &mut DbConnection, name: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(api_clients::table.filter(api_clients::name.eq(name)))
        .set((
            api_clients::disabled.eq(true),
            api_clients::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Stores a bearer token of the client (its hash only).
pub fn insert_token(
    conn: &mut DbConnection,
    client_id: &str,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(client_tokens::table)
        .values((
            client_tokens::token_hash.eq(token_hash),
            client_tokens::client_id.eq(client_id),
            client_tokens::created_at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Revokes every live token of the client; how many there were.
pub fn revoke_tokens(
    conn: &mut DbConnection,
    client_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        client_tokens::table
            .filter(client_tokens::client_id.eq(client_id))
            .filter(client_tokens::revoked_at.is_null()),
    )
    .set(client_tokens::revoked_at.eq(now))
    .execute(conn)
}

/// The client whose live token has this hash.
pub fn find_by_token(conn: &mut DbConnection, token_hash: &str) -> QueryResult<Option<ClientRow>> {
    client_tokens::table
        .inner_join(api_clients::table.on(api_clients::id.eq(client_tokens::client_id)))
        .filter(client_tokens::token_hash.eq(token_hash))
        .filter(client_tokens::revoked_at.is_null())
        .select(ClientRow::as_select())
        .first(conn)
        .optional()
}
