//! The token in a patient's link: which message it came with (so which appointment) and until
//! when it works, signed under `RENDEZ_SECRET_KEY`. No login: whoever has the message has the
//! link, as with the message itself.
//!
//! Layout, base64url without padding (40 characters, so that an SMS stays short): the notice id
//! (16 bytes), the expiry in Unix seconds (4 bytes, big-endian, good until 2106), and the first
//! 10 bytes of an HMAC-SHA256 of those 20 bytes under the `v2` purpose: 80 bits that can only be
//! tried online, one request each. Tokens of the first layout (54 characters: an 8-byte expiry
//! and a 16-byte tag under the `v1` purpose), in messages already sent, still verify. Each
//! message carries its own token, so one that was used does not spoil the next.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use chrono::{DateTime, Utc};
use hmac::Mac;
use uuid::Uuid;

use crate::crypto::SecretKey;

/// The layout Rendez writes.
const PURPOSE: &str = "rendez patient appointment link v2";
const EXPIRY_BYTES: usize = 4;
const MAC_BYTES: usize = 10;
const TOKEN_BYTES: usize = 16 + EXPIRY_BYTES + MAC_BYTES;
/// The first layout, still read.
const V1_PURPOSE: &str = "rendez patient appointment link v1";
const V1_EXPIRY_BYTES: usize = 8;
const V1_MAC_BYTES: usize = 16;
const V1_TOKEN_BYTES: usize = 16 + V1_EXPIRY_BYTES + V1_MAC_BYTES;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkToken {
    pub notice_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// Not a token Rendez signed (damaged, made up, or signed under another key).
    Forged,
    /// Signed, but past its expiry (the appointment's start).
    Expired,
}

impl LinkToken {
    pub fn sign(&self, key: &SecretKey) -> String {
        let mut bytes = Vec::with_capacity(TOKEN_BYTES);
        bytes.extend_from_slice(self.notice_id.as_bytes());
        // Expiries are appointment starts: after 1970 and before 2106.
        let seconds = u32::try_from(self.expires_at.timestamp().max(0)).unwrap_or(u32::MAX);
        bytes.extend_from_slice(&seconds.to_be_bytes());
        let mut mac = key.keyed_mac(PURPOSE);
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes()[..MAC_BYTES]);
        BASE64URL.encode(bytes)
    }

    /// The token's content if the signature holds and it has not expired at `now`.
    pub fn verify(
        token: &str,
        key: &SecretKey,
        now: DateTime<Utc>,
    ) -> Result<LinkToken, LinkError> {
        if token.len() > 2 * V1_TOKEN_BYTES {
            return Err(LinkError::Forged);
        }
        let bytes = BASE64URL.decode(token).map_err(|_| LinkError::Forged)?;
        let (purpose, expiry_bytes) = match bytes.len() {
            TOKEN_BYTES => (PURPOSE, EXPIRY_BYTES),
            V1_TOKEN_BYTES => (V1_PURPOSE, V1_EXPIRY_BYTES),
            _ => return Err(LinkError::Forged),
        };
        let (content, tag) = bytes.split_at(16 + expiry_bytes);
        let mut mac = key.keyed_mac(purpose);
        mac.update(content);
        // Constant-time comparison: a forger learns nothing from the time an answer takes.
        mac.verify_truncated_left(tag)
            .map_err(|_| LinkError::Forged)?;
        let notice_id = Uuid::from_slice(&content[..16]).map_err(|_| LinkError::Forged)?;
        let seconds = match &content[16..] {
            [a, b, c, d] => i64::from(u32::from_be_bytes([*a, *b, *c, *d])),
            wide => i64::from_be_bytes(wide.try_into().map_err(|_| LinkError::Forged)?),
        };
        let expires_at = DateTime::from_timestamp(seconds, 0).ok_or(LinkError::Forged)?;
        if now >= expires_at {
            return Err(LinkError::Expired);
        }
        Ok(LinkToken {
            notice_id,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn token() -> LinkToken {
        LinkToken {
            notice_id: Uuid::now_v7(),
            expires_at: Utc.with_ymd_and_hms(2027, 3, 1, 9, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let key = SecretKey::generate();
        let t = token();
        let text = t.sign(&key);
        assert_eq!(text.len(), 40);
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let before = t.expires_at - Duration::seconds(1);
        assert_eq!(LinkToken::verify(&text, &key, before), Ok(t));
        assert_eq!(
            LinkToken::verify(&text, &key, t.expires_at),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn a_changed_token_or_another_key_is_forged() {
        let key = SecretKey::generate();
        let t = token();
        let now = t.expires_at - Duration::days(1);
        let text = t.sign(&key);
        assert_eq!(
            LinkToken::verify(&text, &SecretKey::generate(), now),
            Err(LinkError::Forged)
        );
        // A later expiry written into the token breaks its signature.
        let mut bytes = BASE64URL.decode(&text).unwrap();
        bytes[19] ^= 0x01;
        let tampered = BASE64URL.encode(&bytes);
        assert_eq!(
            LinkToken::verify(&tampered, &key, now),
            Err(LinkError::Forged)
        );
        for junk in [
            "",
            "abc",
            "!!!!",
            &"A".repeat(40),
            &"A".repeat(54),
            &"A".repeat(500),
            &text[..39],
        ] {
            assert_eq!(
                LinkToken::verify(junk, &key, now),
                Err(LinkError::Forged),
                "{junk}"
            );
        }
    }

    #[test]
    fn a_token_of_the_first_54_character_layout_still_verifies() {
        let key = SecretKey::generate();
        let t = token();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(t.notice_id.as_bytes());
        bytes.extend_from_slice(&t.expires_at.timestamp().to_be_bytes());
        let mut mac = key.keyed_mac(V1_PURPOSE);
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes()[..V1_MAC_BYTES]);
        let old = BASE64URL.encode(bytes);
        assert_eq!(old.len(), 54);
        let now = t.expires_at - Duration::days(1);
        assert_eq!(LinkToken::verify(&old, &key, now), Ok(t));
        // A v1 tag does not make a v2 token, nor the reverse.
        assert_eq!(
            LinkToken::verify(&old[..40], &key, now),
            Err(LinkError::Forged)
        );
    }
}
