//! The results keyring: `RENDEZ_RESULTS_KEY` (the key new results are sealed with) and
//! `RENDEZ_RESULTS_OLD_KEYS` (keys retired by a rotation, kept so that older results stay
//! readable). Each key is written `KEYID:BASE64` (32 bytes); the key id is stored beside every
//! sealed value so that reading picks the right key.
//!
//! From each key two subkeys are derived (HMAC-SHA256 of the key over a purpose label), so that
//! one use can never be turned against another: an AES-256-GCM key for the file name and
//! content, and an HMAC key for lookups of download codes and ID numbers. The lookup key comes
//! from the results key rather than from `RENDEZ_SECRET_KEY` on purpose: a code unlocks health
//! data, so whoever cannot read the content must not be able to test guesses against the stored
//! hashes either, and `RENDEZ_SECRET_KEY` is often a file created beside the database.
//!
//! AES-256-GCM comes from aws-lc-rs (already built for rustls): its assembly is several times
//! faster than RustCrypto's `aes-gcm`, which every content read paid for. The format is plain
//! AES-256-GCM either way (ciphertext then 16-byte tag, 12-byte nonce), so values sealed by
//! either open with the other; a test below keeps that true.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
const KEY_ID_MAX: usize = 32;
const CONTENT_PURPOSE: &str = "rendez results content v1";
const LOOKUP_PURPOSE: &str = "rendez results lookup v1";

struct ResultsKey {
    id: String,
    cipher: LessSafeKey,
    lookup: Hmac<Sha256>,
}

/// A value sealed by [`Keyring::seal_in_place`]: the key that sealed it and the nonce used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: [u8; NONCE_LEN],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the results key '{0}' is not configured (add it to RENDEZ_RESULTS_OLD_KEYS)")]
    UnknownKey(String),
    #[error("a sealed value does not authenticate under the results key '{0}'")]
    Corrupt(String),
}

pub struct Keyring {
    current: ResultsKey,
    old: Vec<ResultsKey>,
}

impl Keyring {
    /// Parses the current key and the comma-separated retired keys; errors name the variable.
    pub fn parse(current: &str, old: Option<&str>) -> Result<Keyring, String> {
        let current = parse_key("RENDEZ_RESULTS_KEY", current)?;
        let mut keyring = Keyring {
            current,
            old: Vec::new(),
        };
        for part in old
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let key = parse_key("RENDEZ_RESULTS_OLD_KEYS", part)?;
            if keyring.get(&key.id).is_some() {
                return Err(format!(
                    "the results key id '{}' is given twice (RENDEZ_RESULTS_KEY and RENDEZ_RESULTS_OLD_KEYS need distinct ids)",
                    key.id
                ));
            }
            keyring.old.push(key);
        }
        Ok(keyring)
    }

    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Every configured key id, the current one first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(&self.current)
            .chain(self.old.iter())
            .map(|k| k.id.as_str())
    }

    fn get(&self, id: &str) -> Option<&ResultsKey> {
        std::iter::once(&self.current)
            .chain(self.old.iter())
            .find(|k| k.id == id)
    }

    /// Encrypts `buffer` in place under the current key with a fresh random nonce; the tag is
    /// appended. `aad` is authenticated, not stored: it binds the value to its row.
    pub fn seal_in_place(&self, aad: &[u8], buffer: &mut Vec<u8>) -> Sealed {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        buffer.reserve_exact(TAG_LEN);
        self.current
            .cipher
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), buffer)
            .expect("AES-GCM encryption into a Vec cannot fail");
        Sealed {
            key_id: self.current.id.clone(),
            nonce,
        }
    }

    /// Decrypts in place what [`Self::seal_in_place`] produced; the tag is removed.
    pub fn open_in_place(
        &self,
        sealed: &Sealed,
        aad: &[u8],
        buffer: &mut Vec<u8>,
    ) -> Result<(), OpenError> {
        let key = self
            .get(&sealed.key_id)
            .ok_or_else(|| OpenError::UnknownKey(sealed.key_id.clone()))?;
        let plain_len = key
            .cipher
            .open_in_place(
                Nonce::assume_unique_for_key(sealed.nonce),
                Aad::from(aad),
                buffer,
            )
            .map_err(|_| OpenError::Corrupt(sealed.key_id.clone()))?
            .len();
        buffer.truncate(plain_len);
        Ok(())
    }

    /// Seals a short value into one blob: nonce followed by ciphertext and tag.
    pub fn seal_small(&self, aad: &[u8], plaintext: &[u8]) -> (String, Vec<u8>) {
        let mut buffer = plaintext.to_vec();
        let sealed = self.seal_in_place(aad, &mut buffer);
        let mut blob = Vec::with_capacity(NONCE_LEN + buffer.len());
        blob.extend_from_slice(&sealed.nonce);
        blob.extend_from_slice(&buffer);
        (sealed.key_id, blob)
    }

    pub fn open_small(&self, key_id: &str, aad: &[u8], blob: &[u8]) -> Result<Vec<u8>, OpenError> {
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(OpenError::Corrupt(key_id.to_string()));
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let mut buffer = sealed.to_vec();
        let sealed = Sealed {
            key_id: key_id.to_string(),
            nonce: nonce.try_into().expect("split at NONCE_LEN"),
        };
        self.open_in_place(&sealed, aad, &mut buffer)?;
        Ok(buffer)
    }

    /// The keyed hash (hex) of `value` for `purpose` under the key `key_id`, if configured.
    pub fn lookup_hash(&self, key_id: &str, purpose: &str, value: &str) -> Option<String> {
        self.get(key_id).map(|k| keyed_hash(k, purpose, value))
    }

    /// The keyed hash under the current key (what new rows store).
    pub fn current_lookup_hash(&self, purpose: &str, value: &str) -> String {
        keyed_hash(&self.current, purpose, value)
    }

    /// The keyed hash under every configured key: rows sealed before a rotation are found by
    /// the hash under their own key.
    pub fn all_lookup_hashes(&self, purpose: &str, value: &str) -> Vec<String> {
        std::iter::once(&self.current)
            .chain(self.old.iter())
            .map(|k| keyed_hash(k, purpose, value))
            .collect()
    }
}

fn keyed_hash(key: &ResultsKey, purpose: &str, value: &str) -> String {
    let mut mac = key.lookup.clone();
    mac.update(purpose.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    hex(&mac.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn subkey(key: &[u8; 32], purpose: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

fn parse_key(variable: &str, text: &str) -> Result<ResultsKey, String> {
    let (id, encoded) = text.trim().split_once(':').ok_or_else(|| {
        format!("{variable} must be written KEYID:BASE64 (e.g. 2026a:<base64 of 32 random bytes>)")
    })?;
    let id = id.trim();
    let valid_id = !id.is_empty()
        && id.len() <= KEY_ID_MAX
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !valid_id {
        return Err(format!(
            "{variable}: the key id '{id}' must be 1 to {KEY_ID_MAX} letters, digits, '.', '_' or '-'"
        ));
    }
    let bytes = BASE64
        .decode(encoded.trim())
        .map_err(|e| format!("{variable}: the key '{id}' is not base64: {e}"))?;
    let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
        format!(
            "{variable}: the key '{id}' must be 32 bytes (base64 of 32 random bytes), not {}",
            b.len()
        )
    })?;
    Ok(ResultsKey {
        id: id.to_string(),
        cipher: LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &subkey(&key, CONTENT_PURPOSE))
                .expect("a 32-byte AES-256-GCM key"),
        ),
        lookup: <Hmac<Sha256> as Mac>::new_from_slice(&subkey(&key, LOOKUP_PURPOSE))
            .expect("any key length"),
    })
}

/// A new key in the configuration's form, for `rendez results new-key` and tests.
pub fn generate_key_text(id: &str) -> String {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!("{id}:{}", BASE64.encode(key))
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.key_ids().collect();
        write!(f, "Keyring(ids: {ids:?}, keys: ***)")
    }
}

/// The associated data of a result's sealed content: binds it to its DOWNLOAD_LID, so that
/// ciphertexts swapped between rows do not open.
pub fn content_aad(lid: &str) -> Vec<u8> {
    [b"rendez result content\0".as_slice(), lid.as_bytes()].concat()
}

/// The associated data of a result's sealed file name (distinct from the content's).
pub fn filename_aad(lid: &str) -> Vec<u8> {
    [b"rendez result file name\0".as_slice(), lid.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_its_associated_data() {
        let ring = Keyring::parse(&generate_key_text("k1"), None).unwrap();
        let mut buffer = b"hemoglobin 14.2".to_vec();
        let sealed = ring.seal_in_place(b"LID-1", &mut buffer);
        assert_eq!(sealed.key_id, "k1");
        assert!(!buffer.windows(10).any(|w| w == b"hemoglobin"));
        let mut swapped = buffer.clone();
        assert_eq!(
            ring.open_in_place(&sealed, b"LID-2", &mut swapped),
            Err(OpenError::Corrupt("k1".into()))
        );
        ring.open_in_place(&sealed, b"LID-1", &mut buffer).unwrap();
        assert_eq!(buffer, b"hemoglobin 14.2");
        let other = Keyring::parse(&generate_key_text("k2"), None).unwrap();
        let mut again = b"x".to_vec();
        let sealed = ring.seal_in_place(b"a", &mut again);
        assert!(matches!(
            other.open_in_place(&sealed, b"a", &mut again),
            Err(OpenError::UnknownKey(_))
        ));
    }

    /// Content sealed before the switch to aws-lc-rs (by the `aes-gcm` crate) still opens, and
    /// what aws-lc-rs seals opens with `aes-gcm`: the format on disk did not change.
    #[test]
    fn values_sealed_by_the_aes_gcm_crate_still_open() {
        use aes_gcm::aead::{AeadInPlace, KeyInit};
        let text = generate_key_text("k1");
        let ring = Keyring::parse(&text, None).unwrap();
        let raw: [u8; 32] = BASE64
            .decode(text.split_once(':').unwrap().1)
            .unwrap()
            .try_into()
            .unwrap();
        let old = aes_gcm::Aes256Gcm::new(&subkey(&raw, CONTENT_PURPOSE).into());
        let nonce = [7u8; NONCE_LEN];
        let mut buffer = b"creatinine 0.9 mg/dL".to_vec();
        old.encrypt_in_place(aes_gcm::Nonce::from_slice(&nonce), b"LID-9", &mut buffer)
            .unwrap();
        let sealed = Sealed {
            key_id: "k1".into(),
            nonce,
        };
        ring.open_in_place(&sealed, b"LID-9", &mut buffer).unwrap();
        assert_eq!(buffer, b"creatinine 0.9 mg/dL");

        let sealed = ring.seal_in_place(b"LID-9", &mut buffer);
        old.decrypt_in_place(
            aes_gcm::Nonce::from_slice(&sealed.nonce),
            b"LID-9",
            &mut buffer,
        )
        .unwrap();
        assert_eq!(buffer, b"creatinine 0.9 mg/dL");
    }

    #[test]
    fn two_seals_of_the_same_value_differ() {
        let ring = Keyring::parse(&generate_key_text("k1"), None).unwrap();
        let (_, a) = ring.seal_small(b"x", b"same");
        let (_, b) = ring.seal_small(b"x", b"same");
        assert_ne!(a, b);
        assert_eq!(ring.open_small("k1", b"x", &a).unwrap(), b"same");
    }

    #[test]
    fn a_rotated_key_still_opens_and_hashes_what_it_sealed() {
        let old_text = generate_key_text("2025");
        let old = Keyring::parse(&old_text, None).unwrap();
        let (key_id, blob) = old.seal_small(b"L", b"report.pdf");
        let hash = old.current_lookup_hash("code", "ABCD");
        let rotated = Keyring::parse(&generate_key_text("2026"), Some(&old_text)).unwrap();
        assert_eq!(rotated.current_id(), "2026");
        assert_eq!(
            rotated.open_small(&key_id, b"L", &blob).unwrap(),
            b"report.pdf"
        );
        assert!(rotated.all_lookup_hashes("code", "ABCD").contains(&hash));
        assert_eq!(
            rotated.lookup_hash("2025", "code", "ABCD"),
            Some(hash.clone())
        );
        assert_ne!(rotated.current_lookup_hash("code", "ABCD"), hash);
    }

    #[test]
    fn malformed_keys_are_refused_with_the_variable_named() {
        let err = Keyring::parse("no-colon", None).unwrap_err();
        assert!(
            err.contains("RENDEZ_RESULTS_KEY") && err.contains("KEYID:BASE64"),
            "{err}"
        );
        let short = format!("k:{}", BASE64.encode([0u8; 16]));
        assert!(
            Keyring::parse(&short, None)
                .unwrap_err()
                .contains("32 bytes")
        );
        assert!(
            Keyring::parse("bad id:AAAA", None)
                .unwrap_err()
                .contains("key id")
        );
        let key = generate_key_text("same");
        let err = Keyring::parse(&key, Some(&generate_key_text("same"))).unwrap_err();
        assert!(err.contains("twice"), "{err}");
        let err = Keyring::parse(&key, Some("x:notbase64!")).unwrap_err();
        assert!(err.contains("RENDEZ_RESULTS_OLD_KEYS"), "{err}");
    }

    #[test]
    fn the_debug_form_shows_ids_only() {
        let text = generate_key_text("k1");
        let ring = Keyring::parse(&text, None).unwrap();
        let shown = format!("{ring:?}");
        assert!(shown.contains("k1") && !shown.contains(text.split(':').nth(1).unwrap()));
    }
}
