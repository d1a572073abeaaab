//! `RENDEZ_SECRET_KEY`: 32 bytes that sign patient links and encrypt the secrets of digest
//! clients. Each use gets its own subkey, so one purpose can never be turned against another.

use std::fmt;
use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

pub struct SecretKey([u8; 32]);

/// Where the key came from, so that `serve` can warn when it made one up.
#[derive(Debug, PartialEq, Eq)]
pub enum KeySource {
    Environment,
    File,
    Created,
}

const DIGEST_SECRET_PURPOSE: &str = "rendez digest client secret v1";

impl SecretKey {
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|e| format!("RENDEZ_SECRET_KEY is not base64: {e}"))?;
        let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            format!(
                "RENDEZ_SECRET_KEY must be 32 bytes (base64 of 32 random bytes), not {}",
                b.len()
            )
        })?;
        Ok(SecretKey(key))
    }

    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        SecretKey(key)
    }

    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// The key from the environment's value, else from `file`, else a new one written to `file`
    /// (readable by its owner only).
    pub fn load_or_create(
        from_env: Option<&str>,
        file: &Path,
    ) -> Result<(Self, KeySource), String> {
        if let Some(value) = from_env.filter(|v| !v.trim().is_empty()) {
            return Ok((Self::from_base64(value)?, KeySource::Environment));
        }
        match std::fs::read_to_string(file) {
            Ok(text) => {
                let key = Self::from_base64(&text)
                    .map_err(|e| format!("the key file {}: {e}", file.display()))?;
                Ok((key, KeySource::File))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                write_private(file, &key.to_base64())
                    .map_err(|e| format!("cannot create the key file {}: {e}", file.display()))?;
                Ok((key, KeySource::Created))
            }
            Err(e) => Err(format!("cannot read the key file {}: {e}", file.display())),
        }
    }

    fn subkey(&self, purpose: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// An HMAC-SHA256 under the subkey of `purpose` (e.g. signing patient links), for the
    /// caller to feed and then finish or verify.
    pub fn keyed_mac(&self, purpose: &str) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.subkey(purpose)).expect("any key length")
    }

    /// Encrypts a client's digest secret: base64 of a random 12-byte nonce and the AES-256-GCM
    /// ciphertext.
    pub fn encrypt_secret(&self, secret: &str) -> String {
        let cipher = Aes256Gcm::new(&self.subkey(DIGEST_SECRET_PURPOSE).into());
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), secret.as_bytes())
            .expect("AES-GCM encryption of a short secret cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        BASE64.encode(out)
    }

    pub fn decrypt_secret(&self, stored: &str) -> Result<String, String> {
        let bytes = BASE64
            .decode(stored)
            .map_err(|_| "the stored secret is not base64".to_string())?;
        if bytes.len() < 12 + 16 {
            return Err("the stored secret is too short".into());
        }
        let (nonce, sealed) = bytes.split_at(12);
        let cipher = Aes256Gcm::new(&self.subkey(DIGEST_SECRET_PURPOSE).into());
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| {
                "the stored secret does not decrypt: was RENDEZ_SECRET_KEY changed?".to_string()
            })?;
        String::from_utf8(plain).map_err(|_| "the stored secret is not UTF-8".to_string())
    }
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(content.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_survives_encryption_and_only_under_its_key() {
        let key = SecretKey::generate();
        let sealed = key.encrypt_secret("s3cret-Peña");
        assert!(!sealed.contains("s3cret"));
        assert_eq!(key.decrypt_secret(&sealed).unwrap(), "s3cret-Peña");
        assert!(SecretKey::generate().decrypt_secret(&sealed).is_err());
    }

    #[test]
    fn a_key_of_the_wrong_length_is_refused() {
        let err = SecretKey::from_base64(&BASE64.encode([0u8; 16])).unwrap_err();
        assert!(err.contains("32 bytes"), "{err}");
    }

    #[test]
    fn a_missing_key_file_is_created_once_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rendez.key");
        let (first, source) = SecretKey::load_or_create(None, &path).unwrap();
        assert_eq!(source, KeySource::Created);
        let (again, source) = SecretKey::load_or_create(None, &path).unwrap();
        assert_eq!(source, KeySource::File);
        assert_eq!(first.to_base64(), again.to_base64());
    }
}
