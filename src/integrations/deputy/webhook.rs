//! Deputy's webhook calls: the body (`{"topic": .., "data": OBJECT or [OBJECT]}`) and the
//! `X-Deputy-Secret` header. Deputy documents that header as the SHA-256 HMAC of the body keyed
//! with the install's private key (hex; Enterprise installs); other installs send the headers
//! given when the webhook was registered, so `rendez deputy webhooks install` registers
//! `X-Deputy-Secret: <secret>` too. Either form is taken, both compared in constant time.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::config::DeputyToken;
use super::wire;
use crate::domain::deputy::DeputyRoster;

/// The roster topics Rendez registers and takes.
pub const TOPICS: [&str; 3] = ["Roster.Insert", "Roster.Update", "Roster.Delete"];

/// What a webhook call asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RosterEvent {
    /// Insert or update: the roster as it now is.
    Saved(DeputyRoster),
    /// Deleted: the roster's id.
    Deleted(i64),
}

/// The hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &DeputyToken, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes()).expect("any key length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Whether `header` proves the call comes from Deputy: the body's signature (hex, any case),
/// or the registered secret itself.
pub fn secret_is_valid(secret: &DeputyToken, body: &[u8], header: &str) -> bool {
    let given = header.trim();
    let signed = same(
        signature(secret, body).as_bytes(),
        given.to_ascii_lowercase().as_bytes(),
    );
    let registered = same(secret.expose().as_bytes(), given.as_bytes());
    signed | registered
}

/// Reads a webhook body: the events it carries (one per roster), or why it is not a roster
/// webhook Rendez takes. Unreadable rosters inside a readable body are answered apart, with
/// their ids, so that they become sync errors.
pub fn parse(body: &[u8]) -> Result<(Vec<RosterEvent>, Vec<wire::Unreadable>), String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let topic = value
        .get("topic")
        .and_then(Value::as_str)
        .ok_or("the body has no topic")?;
    if !TOPICS.contains(&topic) {
        return Err(format!(
            "unknown event type '{}': Rendez takes {}",
            topic.chars().take(60).collect::<String>(),
            TOPICS.join(", ")
        ));
    }
    let rows: Vec<&Value> = match value.get("data") {
        Some(Value::Array(rows)) => rows.iter().collect(),
        Some(row @ Value::Object(_)) => vec![row],
        _ => return Err("the body has no roster in data".into()),
    };
    let mut events = Vec::new();
    let mut unreadable = Vec::new();
    for row in rows {
        if topic == "Roster.Delete" {
            match row.get("Id").and_then(Value::as_i64) {
                Some(id) => events.push(RosterEvent::Deleted(id)),
                None => return Err("a deleted roster without an Id".into()),
            }
            continue;
        }
        match wire::parse_row(row) {
            Ok(roster) => events.push(RosterEvent::Saved(roster)),
            Err((None, reason)) => return Err(reason),
            Err(failed) => unreadable.push(failed),
        }
    }
    Ok((events, unreadable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_checked_in_hex() {
        let secret = DeputyToken::new("s3cret");
        let body = br#"{"topic":"Roster.Delete","data":{"Id":4}}"#;
        let good = signature(&secret, body);
        assert!(secret_is_valid(&secret, body, &good.to_uppercase()));
        assert!(secret_is_valid(&secret, body, "s3cret"));
        assert!(!secret_is_valid(&secret, b"other", &good));
        assert!(!secret_is_valid(&secret, body, "s3cre"));
        assert_eq!(parse(body).unwrap().0, vec![RosterEvent::Deleted(4)]);
    }

    #[test]
    fn unknown_topics_and_bad_json_are_refused() {
        assert!(
            parse(br#"{"topic":"Timesheet.Insert","data":{}}"#)
                .unwrap_err()
                .contains("unknown event type")
        );
        assert!(parse(b"{nope").unwrap_err().contains("not JSON"));
        assert!(
            parse(br#"{"topic":"Roster.Update"}"#)
                .unwrap_err()
                .contains("no roster")
        );
    }
}
