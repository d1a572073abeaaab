//! The token in a patient's link: which message it came with (so which appointment) and until
//! when it works, signed under `RENDEZ_SECRET_KEY`. No login: whoever has the message has the
//! link, as with the message itself.
//!
//! Layout, base64url without padding (54 characters): the notice id (16 bytes), the expiry in
//! Unix seconds (8 bytes, big-endian), and the first 16 bytes of an HMAC-SHA256 of those 24
//! bytes. Each message carries its own token, so one that was used does not spoil the next.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use chrono::{DateTime, Utc};
use hmac::Mac;
use uuid::Uuid;

use crate::auth::SecretKey;

const PURPOSE: &str = "rendez patient appointment link v1";
const MAC_BYTES: usize = 16;
const TOKEN_BYTES: usize = 16 + 8 + MAC_BYTES;

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
        bytes.extend_from_slice(&self.expires_at.timestamp().to_be_bytes());
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
        if token.len() > 2 * TOKEN_BYTES {
            return Err(LinkError::Forged);
        }
        let bytes = BASE64URL.decode(token).map_err(|_| LinkError::Forged)?;
        if bytes.len() != TOKEN_BYTES {
            return Err(LinkError::Forged);
        }
        let (content, tag) = bytes.split_at(16 + 8);
        let mut mac = key.keyed_mac(PURPOSE);
        mac.update(content);
        // Constant-time comparison: a forger learns nothing from the time an answer takes.
        mac.verify_truncated_left(tag)
            .map_err(|_| LinkError::Forged)?;
        let notice_id = Uuid::from_slice(&content[..16]).map_err(|_| LinkError::Forged)?;
        let seconds = i64::from_be_bytes(content[16..].try_into().expect("8 bytes"));
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
        assert_eq!(text.len(), 54);
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
        bytes[23] ^= 0x01;
        let tampered = BASE64URL.encode(&bytes);
        assert_eq!(
            LinkToken::verify(&tampered, &key, now),
            Err(LinkError::Forged)
        );
        for junk in [
            "",
            "abc",
            "!!!!",
            &"A".repeat(54),
            &"A".repeat(500),
            &text[..53],
        ] {
            assert_eq!(
                LinkToken::verify(junk, &key, now),
                Err(LinkError::Forged),
                "{junk}"
            );
        }
    }
}
