//! The operator console's use cases (issue 20): signing in and out, the session a cookie
//! names, the CSRF token bound to it, the audit of every operator action, and (in [`pages`])
//! what each page shows and changes, each scoped by the operator's view and edit scopes.
//!
//! An operator is a principal like an API client: its roles say which pages it may use, and its
//! scopes are resolved by [`super::access::resolve_grantee`], the clients' rule (own grants and
//! teams), once per request.
//!
//! Sessions: the cookie holds 256 random bits; the database holds only their SHA-256 (a fast
//! hash suffices for a random secret, as for bearer tokens), with the session's CSRF token. A
//! session ends after the idle timeout, after its lifetime, or at sign-out, and is not used
//! again. Sign-in: Argon2id (a dummy hash for unknown names, so that both cost the same);
//! failures are counted per account and per address in the database, so every process shares
//! them; past the limit within the lockout time, the account or address is refused (even with
//! the right password) until the lockout ends.

pub mod clients;
pub mod pages;
pub mod rosters;
pub mod shifts;

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{NaiveDateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::access::{Grantee, ScopeCache, resolve_grantee};
use super::teams::audit_row;
use super::{Caller, Core};
use crate::db::{DbConnection, console, tx};
use crate::domain::access::Roles;
use crate::error::Error;

/// The longest operator name or password read from the sign-in form.
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Operators' resolved scopes, valid while the access version holds (as the clients').
static SCOPES: LazyLock<ScopeCache> = LazyLock::new(ScopeCache::default);

/// Sign-ins hashing at once: Argon2id takes a core and 19 MiB each, so a flood of sign-ins
/// waits here instead of filling the blocking threads the other pages need.
static HASHING: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// Verified against when the name is unknown, so that it costs as much as a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| crate::crypto::hash_secret("rendez-console-dummy-password"));

/// Runs blocking database work whose errors are already ours.
pub(crate) async fn blocking<T, F>(core: &Core, work: F) -> Result<T, Error>
where
    F: FnMut(&mut DbConnection) -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    core.with_connection(work).await
}

/// The audit actor of an operator: never mistaken for an API client of the same name.
pub fn actor_name(operator: &str) -> String {
    format!("operator {operator}")
}

/// Writes an audit row of an operator's action, in the caller's transaction when it has one.
pub(crate) fn audit(
    conn: &mut DbConnection,
    caller: &Caller,
    action: &str,
    subject: &str,
    after: Option<String>,
) -> Result<(), Error> {
    let subject: String = subject.chars().take(200).collect();
    Ok(console::audit(
        conn,
        &audit_row(caller, action, &subject, None, after),
    )?)
}

/// What the sign-in form sent, and from where.
pub struct SignIn {
    pub name: String,
    pub password: String,
    /// The client's address (as the edge determined it).
    pub address: String,
}

/// How a sign-in ended.
pub enum SignInOutcome {
    /// The value for the session cookie (shown to no one else, stored nowhere).
    SignedIn { cookie: String },
    /// Unknown name, wrong password or disabled operator: one answer for all.
    Refused,
    /// Too many failures of this account or from this address: refused until the lockout ends.
    LockedOut,
}

/// A signed-in operator's request: who, and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub operator: Caller,
    pub csrf_token: String,
    id_hash: String,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash_hex(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn account_subject(name: &str) -> String {
    format!("account:{name}")
}

fn address_subject(address: &str) -> String {
    format!("address:{}", address.chars().take(200).collect::<String>())
}

/// A principal standing for an operator's sign-in before they are known (for the audit).
fn anonymous(name: &str) -> Caller {
    let mut who = Caller::system("console");
    who.name = actor_name(name);
    who
}

fn duration(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Checks the name and password, counting failures and locking out; on success, opens a
/// session. Every attempt is audited.
pub async fn sign_in(core: &Core, request: SignIn) -> Result<SignInOutcome, Error> {
    let settings = core.config.console.clone();
    let SignIn {
        name,
        password,
        address,
    } = request;
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || password.chars().count() > MAX_PASSWORD_CHARS
    {
        return Ok(SignInOutcome::Refused);
    }
    let _turn = HASHING
        .acquire()
        .await
        .map_err(|_| Error::Internal("the sign-in semaphore is closed".into()))?;
    blocking(core, move |conn| {
        let now = Utc::now().naive_utc();
        let (account, from) = (account_subject(&name), address_subject(&address));
        let who = anonymous(&name);
        let locked = |conn: &mut DbConnection, subject: &str| -> Result<bool, Error> {
            Ok(console::failures_of(conn, subject)?
                .and_then(|row| row.locked_until)
                .is_some_and(|until| until > now))
        };
        if locked(conn, &account)? || locked(conn, &from)? {
            audit(conn, &who, "console.signin.locked", &address, None)?;
            return Ok(SignInOutcome::LockedOut);
        }
        let operator = console::find_operator(conn, &name)?;
        let hash = operator
            .as_ref()
            .map_or(DUMMY_HASH.as_str(), |o| o.password_hash.as_str());
        let verified = crate::crypto::verify_secret(&password, hash);
        crate::memory::give_back();
        let operator = match operator {
            Some(operator) if verified && !operator.disabled => operator,
            known => {
                let mut subjects = vec![from];
                if known.is_some() {
                    subjects.push(account);
                }
                // Run again after a conflict: each run counts from what is committed.
                let now_locked = tx::write(conn, |conn| -> Result<bool, Error> {
                    let mut locked = false;
                    for subject in &subjects {
                        locked |= count_failure(conn, subject, now, &settings)?;
                    }
                    audit(conn, &who, "console.signin.failed", &address, None)?;
                    Ok(locked)
                })?;
                return Ok(match now_locked {
                    true => SignInOutcome::LockedOut,
                    false => SignInOutcome::Refused,
                });
            }
        };
        let cookie = random_token();
        let session = console::SessionRow {
            id_hash: hash_hex(&cookie),
            operator_id: operator.id.clone(),
            csrf_token: random_token(),
            created_at: now,
            last_seen_at: now,
            ended_at: None,
        };
        let signed_in = anonymous(&operator.name);
        tx::write(conn, |conn| {
            console::clear_failures(conn, &account)?;
            console::insert_session(conn, &session)?;
            audit(conn, &signed_in, "console.signin", &address, None)
        })?;
        Ok(SignInOutcome::SignedIn { cookie })
    })
    .await
}

/// Counts one failure of a subject; true when it locks the subject out now.
fn count_failure(
    conn: &mut DbConnection,
    subject: &str,
    now: NaiveDateTime,
    settings: &crate::config::ConsoleConfig,
) -> Result<bool, Error> {
    let window = duration(settings.lockout);
    let mut row = match console::failures_of(conn, subject)? {
        Some(row) if now - row.window_start <= window => row,
        _ => console::FailureRow {
            subject: subject.to_string(),
            failures: 0,
            window_start: now,
            locked_until: None,
        },
    };
    row.failures += 1;
    let limit = i32::try_from(settings.login_failures).unwrap_or(i32::MAX);
    let lock = limit > 0 && row.failures >= limit;
    if lock {
        row.locked_until = Some(now + window);
        // A new window starts with the lockout: its end does not unlock a half-spent count.
        row.failures = 0;
        row.window_start = now;
    }
    console::put_failures(conn, &row)?;
    Ok(lock)
}

/// The live session a cookie names, with its operator resolved now; `None` for an unknown,
/// ended, idle or too old session or a disabled operator (the first three end it for good).
pub async fn session(core: &Core, cookie: &str) -> Result<Option<Session>, Error> {
    if cookie.is_empty() || cookie.len() > 100 {
        return Ok(None);
    }
    let settings = core.config.console.clone();
    let id_hash = hash_hex(cookie);
    blocking(core, move |conn| {
        let now = Utc::now().naive_utc();
        let Some((row, operator)) = console::live_session(conn, &id_hash)? else {
            return Ok(None);
        };
        let idle = now - row.last_seen_at > duration(settings.idle_timeout);
        let old = now - row.created_at > duration(settings.session_lifetime);
        if idle || old {
            console::end_session(conn, &id_hash, now)?;
            return Ok(None);
        }
        if operator.disabled {
            return Ok(None);
        }
        console::touch_session(conn, &id_hash, now)?;
        let scopes = resolve_grantee(
            conn,
            &Grantee {
                id: &operator.id,
                centers: "",
                location_scoped: true,
            },
            &SCOPES,
        )?;
        let roles: Roles = operator
            .roles
            .parse()
            .map_err(|e| Error::Internal(format!("operator roles: {e}")))?;
        Ok(Some(Session {
            operator: Caller {
                id: operator.id,
                name: actor_name(&operator.name),
                roles,
                centers: scopes.edit,
                view: scopes.view,
            },
            csrf_token: row.csrf_token,
            id_hash: id_hash.clone(),
        }))
    })
    .await
}

impl Session {
    /// The synchronizer token check every form post goes through (constant time).
    pub fn check_csrf(&self, given: Option<&str>) -> Result<(), Error> {
        let given = given.unwrap_or("");
        if !given.is_empty() && bool::from(given.as_bytes().ct_eq(self.csrf_token.as_bytes())) {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "the form's security token is missing or wrong: reload the page and try again"
                    .into(),
            ))
        }
    }

    /// The operator's name as they typed it at sign-in.
    pub fn operator_name(&self) -> &str {
        self.operator
            .name
            .strip_prefix("operator ")
            .unwrap_or(&self.operator.name)
    }
}

/// Ends the session (its cookie opens nothing from now on); audited.
pub async fn sign_out(core: &Core, session: &Session) -> Result<(), Error> {
    let (id_hash, operator) = (session.id_hash.clone(), session.operator.clone());
    blocking(core, move |conn| {
        tx::write(conn, |conn| {
            console::end_session(conn, &id_hash, Utc::now().naive_utc())?;
            audit(conn, &operator, "console.signout", "session", None)
        })
    })
    .await
}
