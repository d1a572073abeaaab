//! Authentication of API clients: HTTP Basic, and WS-Security UsernameToken with PasswordText
//! or PasswordDigest. Argon2id verification is deliberately slow, so successful checks are
//! remembered briefly (as a keyed hash, never the secret) and concurrent hashing is bounded.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

/// Moved to the leaf [`crate::crypto`]; kept here for callers not yet moved.
pub use crate::crypto::{KeySource, SecretKey, check_new_secret, hash_secret, verify_secret};

use crate::app::{Pool, access};
use crate::error::Error;

/// How far a PasswordDigest token's `Created` may be from our clock, either way.
pub const CREATED_WINDOW: chrono::Duration = chrono::Duration::minutes(5);
const MAX_USERNAME_CHARS: usize = 100;
const MAX_CACHE_ENTRIES: usize = 10_000;
/// How long a remembered success answers without reading the client's row again: a client
/// disabled (or whose secret changed) in the database is refused within this time.
pub const CLIENT_RECHECK: Duration = Duration::from_secs(1);
const GENERIC_REFUSAL: &str = "unknown client or wrong password";
/// One text for every PasswordDigest refusal (unknown or disabled client, client without
/// `--digest`, wrong digest), so that the answer never tells which names exist.
const DIGEST_REFUSAL: &str =
    "unknown client or wrong password (PasswordDigest also needs a client created with --digest)";

/// What a request presented.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// HTTP Basic, or a UsernameToken with PasswordText.
    Password { username: String, password: String },
    /// A UsernameToken with PasswordDigest = Base64(SHA-1(nonce + created + secret)).
    Digest {
        username: String,
        digest: String,
        nonce: String,
        created: String,
    },
}

impl Credentials {
    fn username(&self) -> &str {
        match self {
            Credentials::Password { username, .. } | Credentials::Digest { username, .. } => {
                username
            }
        }
    }
}

/// A client that proved who it is: the principal every use case takes.
pub type AuthenticatedClient = crate::domain::access::Principal;

/// How many failed logins one address may have within a window before it is refused at once
/// (`RENDEZ_AUTH_FAILURE_LIMIT`, `RENDEZ_AUTH_FAILURE_WINDOW`); 0 failures: no limit.
#[derive(Debug, Clone, Copy)]
pub struct FailureLimit {
    pub failures: u32,
    pub window: Duration,
}

/// How long a client that logged in from an address keeps its reserved share of hashing there.
const TRUSTED_FOR: Duration = Duration::from_secs(24 * 60 * 60);

pub struct Authenticator {
    pool: Pool,
    secret_key: Arc<SecretKey>,
    cache_key: [u8; 32],
    cache_ttl: Duration,
    cache: Mutex<HashMap<[u8; 32], Instant>>,
    /// Recent successes by name and password: the client as its row read then, so that calls
    /// within [`CLIENT_RECHECK`] need neither the database nor the blocking pool.
    recent: Mutex<HashMap<[u8; 32], Recent>>,
    /// One gate per credentials being checked, so that a burst of calls with the same
    /// credentials (a client opening many connections at once) runs Argon2id once, not once per
    /// call: the others wait for the first and then find it in the cache.
    in_flight: Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
    /// Argon2id for callers not known to this address: at most one per core at a time.
    hashing: Semaphore,
    /// Argon2id for a client name that logged in from the same address recently: a flood of
    /// unknown or failing callers never makes a known client wait behind it.
    hashing_trusted: Semaphore,
    /// Recent successes by client name and address (keyed hashes), with when they happened.
    trusted: Mutex<HashMap<[u8; 32], Instant>>,
    failure_limit: FailureLimit,
    /// Failed logins per address within the window, oldest first.
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
    /// Argon2id verifications run (for `/metrics`).
    verifications: prometheus::IntCounter,
    /// The view and edit scopes resolved, while the access version holds.
    scopes: Arc<access::ScopeCache>,
}

struct Recent {
    client: AuthenticatedClient,
    row_read: Instant,
    expires: Instant,
    /// When a request took on reading the row again ahead of time (see [`Authenticator::recent_success`]).
    recheck_claimed: Option<Instant>,
}

/// The longest bearer token read (Rendez's are 47 characters).
const MAX_BEARER_CHARS: usize = 256;

/// Verified against when the client does not exist, so that an unknown name costs as much time
/// as a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_secret("rendez-dummy-secret-for-timing"));

impl Authenticator {
    pub fn new(
        pool: Pool,
        secret_key: Arc<SecretKey>,
        cache_ttl: Duration,
        failure_limit: FailureLimit,
        verifications: prometheus::IntCounter,
    ) -> Self {
        let mut cache_key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut cache_key);
        let parallel = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Authenticator {
            pool,
            secret_key,
            cache_key,
            cache_ttl,
            cache: Mutex::new(HashMap::new()),
            recent: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            hashing: Semaphore::new(parallel),
            hashing_trusted: Semaphore::new(parallel),
            trusted: Mutex::new(HashMap::new()),
            failure_limit,
            failures: Mutex::new(HashMap::new()),
            verifications,
            scopes: Arc::new(access::ScopeCache::default()),
        }
    }

    /// Checks credentials presented from `address`. An address with too many recent failures
    /// is refused at once ([`Error::TooManyFailures`]), unless this client name logged in from
    /// it before and has not failed since.
    pub async fn authenticate(
        &self,
        credentials: Credentials,
        address: &str,
    ) -> Result<AuthenticatedClient, Error> {
        // The fast path of a busy client: a success remembered for these very credentials.
        let recent_key = match &credentials {
            Credentials::Password { username, password } => {
                let key = self.keyed(&["recent", username, password]);
                if let Some(client) = self.recent_success(&key) {
                    return Ok(client);
                }
                Some(key)
            }
            Credentials::Digest { .. } => None,
        };
        let pair = self.keyed(&["pair", credentials.username(), address]);
        let trusted = self.is_trusted(&pair);
        if !trusted {
            self.check_failures(address)?;
        }
        let outcome = self
            .authenticate_checked(credentials, recent_key, trusted)
            .await;
        match &outcome {
            Ok(_) => self.trust(pair),
            Err(Error::Unauthenticated(_)) => {
                self.untrust(&pair);
                self.record_failure(address);
            }
            Err(_) => {}
        }
        outcome
    }

    /// Checks a bearer token presented from `address` (`rendez client token`): the client it
    /// was issued to, if the token is live and the client enabled. Unknown and revoked tokens
    /// count as failed logins of the address, as wrong passwords do. Read from the database on
    /// every request (one primary-key lookup), so a revocation holds at once.
    pub async fn authenticate_bearer(
        &self,
        token: &str,
        address: &str,
    ) -> Result<AuthenticatedClient, Error> {
        const REFUSAL: &str = "the bearer token is unknown or revoked";
        self.check_failures(address)?;
        if token.is_empty() || token.len() > MAX_BEARER_CHARS {
            self.record_failure(address);
            return Err(Error::Unauthenticated(REFUSAL.into()));
        }
        let pool = self.pool.clone();
        let hash = crate::crypto::bearer::token_hash(token);
        let scopes = self.scopes.clone();
        let row =
            actix_web::web::block(move || access::find_client_by_token(&pool, &hash, &scopes))
                .await??;
        let Some((row, scopes)) = row.filter(|(r, _)| !r.disabled) else {
            self.record_failure(address);
            return Err(Error::Unauthenticated(REFUSAL.into()));
        };
        Ok(AuthenticatedClient {
            roles: row
                .roles
                .parse()
                .map_err(|e| Error::Internal(format!("client {}: {e}", row.name)))?,
            centers: scopes.edit,
            view: scopes.view,
            id: row.id,
            name: row.name,
        })
    }

    async fn authenticate_checked(
        &self,
        credentials: Credentials,
        recent_key: Option<[u8; 32]>,
        trusted: bool,
    ) -> Result<AuthenticatedClient, Error> {
        let username = credentials.username().to_string();
        if username.is_empty() || username.chars().count() > MAX_USERNAME_CHARS {
            return Err(Error::Unauthenticated(GENERIC_REFUSAL.into()));
        }
        if let Credentials::Digest { nonce, created, .. } = &credentials {
            // Judged before the lookup, so that the answer is the same for every name.
            check_token_freshness(nonce, created, Utc::now())?;
        }
        let row_read = Instant::now();
        let pool = self.pool.clone();
        let lookup = username.clone();
        let scopes = self.scopes.clone();
        let row =
            actix_web::web::block(move || access::find_client_scoped(&pool, &lookup, &scopes))
                .await??;
        let Some((row, scopes)) = row.filter(|(r, _)| !r.disabled) else {
            self.forget_recent(recent_key.as_ref());
            return Err(match credentials {
                Credentials::Password { password, .. } => {
                    self.slow_verify(password, DUMMY_HASH.clone(), trusted)
                        .await?;
                    Error::Unauthenticated(GENERIC_REFUSAL.into())
                }
                Credentials::Digest { .. } => Error::Unauthenticated(DIGEST_REFUSAL.into()),
            });
        };
        match credentials {
            Credentials::Password { password, .. } => {
                let cache_key = self.cache_key_for(&row.id, &row.secret_hash, &password);
                let mut verified = self
                    .verify_once(
                        cache_key,
                        password.clone(),
                        row.secret_hash.clone(),
                        trusted,
                    )
                    .await?;
                // A rotated secret works until its overlap ends.
                if !verified && let Some(previous) = row.previous_secret(Utc::now().naive_utc()) {
                    let cache_key = self.cache_key_for(&row.id, previous, &password);
                    verified = self
                        .verify_once(cache_key, password, previous.to_string(), trusted)
                        .await?;
                }
                if !verified {
                    self.forget_recent(recent_key.as_ref());
                    return Err(Error::Unauthenticated(GENERIC_REFUSAL.into()));
                }
            }
            Credentials::Digest {
                digest,
                nonce,
                created,
                ..
            } => {
                let secret = row
                    .digest_secret
                    .as_deref()
                    .ok_or_else(|| Error::Unauthenticated(DIGEST_REFUSAL.into()))
                    .and_then(|stored| {
                        self.secret_key
                            .decrypt_secret(stored)
                            .map_err(Error::Internal)
                    })?;
                let nonce_bytes = check_digest(&digest, &nonce, &created, &secret, Utc::now())?;
                let nonce_key = hex(&Sha256::new()
                    .chain_update(row.id.as_bytes())
                    .chain_update([0u8])
                    .chain_update(&nonce_bytes)
                    .finalize());
                let pool = self.pool.clone();
                let fresh = actix_web::web::block(move || {
                    access::remember_nonce(&pool, &nonce_key, Utc::now())
                })
                .await??;
                if !fresh {
                    return Err(Error::Unauthenticated(
                        "this Nonce was already used; every request needs a new one".into(),
                    ));
                }
            }
        }
        let client = AuthenticatedClient {
            roles: row
                .roles
                .parse()
                .map_err(|e| Error::Internal(format!("client {}: {e}", row.name)))?,
            centers: scopes.edit,
            view: scopes.view,
            id: row.id,
            name: row.name,
        };
        if let Some(key) = recent_key {
            self.remember_recent(key, &client, row_read);
        }
        Ok(client)
    }

    /// A success with these credentials whose client row was read within [`CLIENT_RECHECK`].
    /// Past half that age, one request (`None` for it alone) reads the row again while the others
    /// still answer from memory, so that a busy client never finds its entry expired and sends
    /// every request in flight to the database at once.
    fn recent_success(&self, key: &[u8; 32]) -> Option<AuthenticatedClient> {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let entry = recent
            .get_mut(key)
            .filter(|r| r.row_read.elapsed() <= CLIENT_RECHECK && r.expires > Instant::now())?;
        let due = entry.row_read.elapsed() > CLIENT_RECHECK / 2;
        let claimed = entry
            .recheck_claimed
            .is_some_and(|at| at.elapsed() <= CLIENT_RECHECK / 2);
        if due && !claimed {
            entry.recheck_claimed = Some(Instant::now());
            return None;
        }
        Some(entry.client.clone())
    }

    /// The row says these credentials no longer hold: no request answers from memory any more.
    fn forget_recent(&self, key: Option<&[u8; 32]>) {
        if let Some(key) = key {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            recent.remove(key);
        }
    }

    fn remember_recent(&self, key: [u8; 32], client: &AuthenticatedClient, row_read: Instant) {
        let now = Instant::now();
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() >= MAX_CACHE_ENTRIES {
            recent.retain(|_, r| r.row_read.elapsed() <= CLIENT_RECHECK);
            if recent.len() >= MAX_CACHE_ENTRIES {
                recent.clear();
            }
        }
        // Never longer than the password check itself is remembered.
        let expires = recent
            .get(&key)
            .map(|r| r.expires)
            .filter(|e| *e > now)
            .unwrap_or(now + self.cache_ttl);
        recent.insert(
            key,
            Recent {
                client: client.clone(),
                row_read,
                expires,
                recheck_claimed: None,
            },
        );
    }

    /// A cached success, or one Argon2id verification for any number of simultaneous callers
    /// with the same credentials.
    async fn verify_once(
        &self,
        key: [u8; 32],
        password: String,
        hash: String,
        trusted: bool,
    ) -> Result<bool, Error> {
        if self.cached(&key) {
            return Ok(true);
        }
        let gate = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            in_flight.entry(key).or_default().clone()
        };
        let verified = {
            let _turn = gate.lock().await;
            if self.cached(&key) {
                true
            } else {
                let ok = self.slow_verify(password, hash, trusted).await?;
                if ok {
                    self.remember(key);
                }
                ok
            }
        };
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        // The map's reference and ours: nobody else waits at this gate.
        if Arc::strong_count(&gate) <= 2 {
            in_flight.remove(&key);
        }
        Ok(verified)
    }

    /// Argon2id verification off the async threads, at most one per core at a time for each
    /// kind of caller (trusted or not).
    async fn slow_verify(
        &self,
        password: String,
        hash: String,
        trusted: bool,
    ) -> Result<bool, Error> {
        let pool = if trusted {
            &self.hashing_trusted
        } else {
            &self.hashing
        };
        let _permit = pool
            .acquire()
            .await
            .map_err(|_| Error::Internal("the hashing semaphore is closed".into()))?;
        self.verifications.inc();
        Ok(actix_web::web::block(move || {
            let verified = verify_secret(&password, &hash);
            // Argon2id's 19 MiB would otherwise stay resident on an idle blocking thread.
            crate::memory::give_back();
            verified
        })
        .await?)
    }

    fn is_trusted(&self, pair: &[u8; 32]) -> bool {
        let trusted = self.trusted.lock().unwrap_or_else(|p| p.into_inner());
        trusted
            .get(pair)
            .is_some_and(|at| at.elapsed() <= TRUSTED_FOR)
    }

    fn trust(&self, pair: [u8; 32]) {
        let mut trusted = self.trusted.lock().unwrap_or_else(|p| p.into_inner());
        if trusted.len() >= MAX_CACHE_ENTRIES {
            trusted.retain(|_, at| at.elapsed() <= TRUSTED_FOR);
            if trusted.len() >= MAX_CACHE_ENTRIES {
                trusted.clear();
            }
        }
        trusted.insert(pair, Instant::now());
    }

    fn untrust(&self, pair: &[u8; 32]) {
        let mut trusted = self.trusted.lock().unwrap_or_else(|p| p.into_inner());
        trusted.remove(pair);
    }

    /// Refuses an address that failed `failure_limit.failures` times within the window, saying
    /// when it may try again.
    fn check_failures(&self, address: &str) -> Result<(), Error> {
        let FailureLimit { failures, window } = self.failure_limit;
        if failures == 0 {
            return Ok(());
        }
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let Some(times) = map.get_mut(address) else {
            return Ok(());
        };
        while times.front().is_some_and(|t| t.elapsed() > window) {
            times.pop_front();
        }
        if times.len() < failures as usize {
            return Ok(());
        }
        let oldest = times.front().copied().unwrap_or_else(Instant::now);
        Err(Error::TooManyFailures(
            window.saturating_sub(oldest.elapsed()) + Duration::from_millis(999),
        ))
    }

    fn record_failure(&self, address: &str) {
        let FailureLimit { failures, window } = self.failure_limit;
        if failures == 0 {
            return;
        }
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_CACHE_ENTRIES && !map.contains_key(address) {
            map.retain(|_, times| times.back().is_some_and(|t| t.elapsed() <= window));
            if map.len() >= MAX_CACHE_ENTRIES {
                map.clear();
            }
        }
        let times = map.entry(address.to_string()).or_default();
        while times.front().is_some_and(|t| t.elapsed() > window) {
            times.pop_front();
        }
        times.push_back(Instant::now());
        while times.len() > failures as usize {
            times.pop_front();
        }
    }

    fn cache_key_for(&self, client_id: &str, secret_hash: &str, password: &str) -> [u8; 32] {
        self.keyed(&[client_id, secret_hash, password])
    }

    fn keyed(&self, parts: &[&str]) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.cache_key).expect("any key length");
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    fn cached(&self, key: &[u8; 32]) -> bool {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(key)
            .is_some_and(|expires| *expires > Instant::now())
    }

    fn remember(&self, key: [u8; 32]) {
        let now = Instant::now();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHE_ENTRIES {
            cache.retain(|_, expires| *expires > now);
            if cache.len() >= MAX_CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(key, now + self.cache_ttl);
    }
}

/// What can be judged of a PasswordDigest token without its client: `Created` within the
/// window, a well-formed Nonce. Returns the decoded nonce.
pub fn check_token_freshness(
    nonce: &str,
    created: &str,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, Error> {
    let created_at = DateTime::parse_from_rfc3339(created.trim()).map_err(|_| {
        Error::Unauthenticated(format!("Created '{created}' is not an ISO 8601 timestamp"))
    })?;
    if (now - created_at.with_timezone(&Utc)).abs() > CREATED_WINDOW {
        return Err(Error::Unauthenticated(
            "Created is more than 5 minutes away from the server's clock".into(),
        ));
    }
    let nonce_bytes = BASE64
        .decode(nonce.trim())
        .ok()
        .filter(|n| (8..=128).contains(&n.len()))
        .ok_or_else(|| {
            Error::Unauthenticated("the Nonce must be base64 of 8 to 128 bytes".into())
        })?;
    Ok(nonce_bytes)
}

/// Checks a PasswordDigest token against the client's secret; returns the decoded nonce,
/// which the caller must then record as used.
pub fn check_digest(
    digest: &str,
    nonce: &str,
    created: &str,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, Error> {
    let nonce_bytes = check_token_freshness(nonce, created, now)?;
    let expected = Sha1::new()
        .chain_update(&nonce_bytes)
        .chain_update(created.trim().as_bytes())
        .chain_update(secret.as_bytes())
        .finalize();
    let given = BASE64.decode(digest.trim()).unwrap_or_default();
    if !bool::from(given.as_slice().ct_eq(expected.as_slice())) {
        return Err(Error::Unauthenticated(DIGEST_REFUSAL.into()));
    }
    Ok(nonce_bytes)
}

/// Forgets nonces whose tokens would be refused for their age anyway. Blocking.
pub fn forget_old_nonces(pool: &Pool) -> Result<usize, Error> {
    access::forget_nonces_before(pool, Utc::now() - CREATED_WINDOW * 3)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The PasswordDigest a client computes, for tests and example clients.
pub fn password_digest(nonce: &[u8], created: &str, secret: &str) -> String {
    BASE64.encode(
        Sha1::new()
            .chain_update(nonce)
            .chain_update(created.as_bytes())
            .chain_update(secret.as_bytes())
            .finalize(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correct_digest_within_the_window_passes() {
        let now = Utc::now();
        let created = now.to_rfc3339();
        let nonce = b"0123456789abcdef";
        let digest = password_digest(nonce, &created, "the secret value");
        let got = check_digest(
            &digest,
            &BASE64.encode(nonce),
            &created,
            "the secret value",
            now,
        )
        .unwrap();
        assert_eq!(got, nonce);
    }

    #[test]
    fn a_stale_or_future_created_is_refused() {
        let now = Utc::now();
        let nonce = b"0123456789abcdef";
        for offset in [chrono::Duration::minutes(6), chrono::Duration::minutes(-6)] {
            let created = (now + offset).to_rfc3339();
            let digest = password_digest(nonce, &created, "s");
            let err = check_digest(&digest, &BASE64.encode(nonce), &created, "s", now).unwrap_err();
            assert!(err.to_string().contains("5 minutes"), "{err}");
        }
    }

    #[test]
    fn a_wrong_secret_is_refused() {
        let now = Utc::now();
        let created = now.to_rfc3339();
        let nonce = b"0123456789abcdef";
        let digest = password_digest(nonce, &created, "other");
        assert!(check_digest(&digest, &BASE64.encode(nonce), &created, "secret", now).is_err());
    }
}
