//! Bearer tokens of API clients: 256 random bits, and the SHA-256 that is stored and looked up.
//! A plain (fast, unkeyed) hash is enough here, unlike for passwords: the token is random and
//! that long, so a stolen hash cannot be turned back into it by guessing, and a slow hash would
//! only slow every request down.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new token: `rdz_` and 32 random bytes in URL-safe base64.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "rdz_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// What is stored of a token, and looked up: its SHA-256, in hex.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
