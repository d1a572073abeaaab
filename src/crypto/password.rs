//! Client secrets at rest: Argon2id hashes in the PHC string format.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

pub const MIN_SECRET_CHARS: usize = 12;
pub const MAX_SECRET_CHARS: usize = 256;

/// Refuses secrets too short to resist guessing, too long to hash cheaply, or with white space
/// at either end (which SOAP stacks trim inconsistently).
pub fn check_new_secret(secret: &str) -> Result<(), String> {
    let chars = secret.chars().count();
    if chars < MIN_SECRET_CHARS {
        return Err(format!(
            "the password must have at least {MIN_SECRET_CHARS} characters"
        ));
    }
    if chars > MAX_SECRET_CHARS {
        return Err(format!(
            "the password must have at most {MAX_SECRET_CHARS} characters"
        ));
    }
    if secret.trim() != secret || secret.chars().any(char::is_control) {
        return Err(
            "the password may not start or end with white space or hold control characters".into(),
        );
    }
    Ok(())
}

pub fn hash_secret(secret: &str) -> String {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .expect("Argon2id with default parameters accepts any password")
        .to_string()
}

/// False for a wrong secret and for a stored hash that does not parse.
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => Argon2::default()
            .verify_password(secret.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_argon2id_and_verifies_only_its_secret() {
        let hash = hash_secret("correct horse battery");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_secret("correct horse battery", &hash));
        assert!(!verify_secret("correct horse batterY", &hash));
        assert!(!verify_secret("anything", "not a hash"));
    }

    #[test]
    fn weak_secrets_are_refused() {
        assert!(check_new_secret("short").is_err());
        assert!(check_new_secret(" padded secret value ").is_err());
        assert!(check_new_secret("a long enough secret").is_ok());
    }
}
