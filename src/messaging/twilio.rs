//! Twilio's Messages API: `POST /2010-04-01/Accounts/{sid}/Messages.json`, with a status
//! callback per message, and the `X-Twilio-Signature` check of Twilio's webhooks.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha1::Sha1;

use super::config::SmsProviderConfig;
use super::delivery::{self, Delivery};
use crate::domain::messages::MessageStatus;
use crate::domain::outbox::Claimed;

pub const NAME: &str = "twilio";
pub const STATUS_HOOK_PATH: &str = "/hooks/twilio/status";

pub struct Twilio {
    http: reqwest::Client,
    messages_url: String,
    account_sid: String,
    auth_token: String,
    from: String,
    status_callback: String,
}

/// The body of Twilio's answers: `sid` on success, `code` and `message` on failure.
#[derive(Deserialize, Default)]
struct Answer {
    sid: Option<String>,
    code: Option<i64>,
    message: Option<String>,
}

impl Twilio {
    pub fn new(config: &SmsProviderConfig, public_url: &str) -> Result<Twilio, String> {
        let SmsProviderConfig::Twilio {
            account_sid,
            auth_token,
            from,
            base_url,
        } = config
        else {
            return Err("not a Twilio configuration".into());
        };
        Ok(Twilio {
            http: delivery::http_client()?,
            messages_url: format!("{base_url}/2010-04-01/Accounts/{account_sid}/Messages.json"),
            account_sid: account_sid.clone(),
            auth_token: auth_token.clone(),
            from: from.clone(),
            status_callback: format!("{}{STATUS_HOOK_PATH}", public_url.trim_end_matches('/')),
        })
    }

    pub async fn send(&self, message: &Claimed) -> Delivery {
        let from = message.sender.as_deref().unwrap_or(&self.from);
        // A messaging service picks the number itself.
        let from_key = if from.starts_with("MG") && !from.starts_with('+') {
            "MessagingServiceSid"
        } else {
            "From"
        };
        let form = [
            ("To", message.recipient.as_str()),
            (from_key, from),
            ("Body", message.body.as_str()),
            ("StatusCallback", self.status_callback.as_str()),
        ];
        let response = match self
            .http
            .post(&self.messages_url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&form)
            .send()
            .await
        {
            Ok(response) => response,
            Err(err) => return delivery::transport_error("Twilio", &err),
        };
        let status = response.status();
        let retry_after = delivery::retry_after(response.headers());
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(err) => return delivery::transport_error("Twilio", &err),
        };
        let answer: Answer = serde_json::from_slice(&bytes).unwrap_or_default();
        let reason = || match (&answer.code, &answer.message) {
            (Some(code), Some(text)) => format!("Twilio error {code}: {text}"),
            (None, Some(text)) => format!("Twilio: {text}"),
            _ => format!("Twilio answered HTTP {}", status.as_u16()),
        };
        if status.is_success() {
            return match answer.sid {
                Some(sid) => Delivery::Accepted {
                    provider_id: Some(sid),
                },
                // Accepted without an id cannot be tracked; it was sent, so it is not retried.
                None => Delivery::Accepted { provider_id: None },
            };
        }
        if status.as_u16() == 429 || status.is_server_error() {
            return Delivery::Temporary {
                error: format!("{} (HTTP {})", reason(), status.as_u16()),
                retry_after,
            };
        }
        Delivery::permanent(format!("{} (HTTP {})", reason(), status.as_u16()))
    }
}

/// Twilio's signature of a webhook request: base64 of HMAC-SHA1, keyed with the auth token, over
/// the full URL Twilio called followed by each POST parameter's name and value, sorted by name.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    BASE64.encode(mac.finalize().into_bytes())
}

/// Whether `header` (the request's `X-Twilio-Signature`) is Twilio's signature of this request;
/// compared in constant time.
pub fn signature_is_valid(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    header: &str,
) -> bool {
    use subtle::ConstantTimeEq;
    let expected = signature(auth_token, url, params);
    expected.as_bytes().ct_eq(header.trim().as_bytes()).into()
}

/// Twilio's message status, in our terms; `None` for a status we do not know.
pub fn report_status(twilio_status: &str) -> Option<MessageStatus> {
    Some(match twilio_status {
        "accepted" | "scheduled" | "queued" | "sending" | "sent" => MessageStatus::Sent,
        "delivered" | "read" => MessageStatus::Delivered,
        "undelivered" | "failed" | "canceled" => MessageStatus::Failed,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_signature_matches_twilios_documented_example() {
        // The example of Twilio's webhook security documentation.
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let body = params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]);
        let token = "12345";
        assert_eq!(signature(token, url, &body), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert!(signature_is_valid(
            token,
            url,
            &body,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!signature_is_valid(
            token,
            url,
            &body,
            "RSOYDt4T1cUTdK1PDd93/VVr8B9="
        ));
        assert!(!signature_is_valid(
            "other",
            url,
            &body,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        let mut changed = body.clone();
        changed[2].1 = "9999".into();
        assert!(!signature_is_valid(
            token,
            url,
            &changed,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn statuses_map_forward() {
        assert_eq!(report_status("delivered"), Some(MessageStatus::Delivered));
        assert_eq!(report_status("undelivered"), Some(MessageStatus::Failed));
        assert_eq!(report_status("sent"), Some(MessageStatus::Sent));
        assert_eq!(report_status("weird"), None);
    }
}
