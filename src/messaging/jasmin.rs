//! Jasmin's HTTP API: `POST /send` with the message and a delivery-report URL; Jasmin answers
//! `Success "<id>"` or `Error "<reason>"`, and posts reports to `/hooks/jasmin/dlr`, expecting
//! `ACK/Jasmin` back (else it tries again).

use super::config::SmsProviderConfig;
use super::delivery::{self, Delivery};
use crate::domain::messages::{MessageStatus, SmsEncoding, sms_encoding};
use crate::domain::outbox::Claimed;

pub const NAME: &str = "jasmin";
pub const DLR_HOOK_PATH: &str = "/hooks/jasmin/dlr";
/// What Jasmin wants to read back from a delivery-report URL.
pub const DLR_ACK: &str = "ACK/Jasmin";

pub struct Jasmin {
    http: reqwest::Client,
    send_url: String,
    user: String,
    password: String,
    dlr_url: String,
}

impl Jasmin {
    pub fn new(config: &SmsProviderConfig, public_url: &str) -> Result<Jasmin, String> {
        let SmsProviderConfig::Jasmin {
            url,
            user,
            password,
        } = config
        else {
            return Err("not a Jasmin configuration".into());
        };
        Ok(Jasmin {
            http: delivery::http_client()?,
            send_url: format!("{url}/send"),
            user: user.clone(),
            password: password.clone(),
            dlr_url: format!(
                "{}{DLR_HOOK_PATH}?token={}",
                public_url.trim_end_matches('/'),
                dlr_token(password)
            ),
        })
    }

    pub async fn send(&self, message: &Claimed) -> Delivery {
        let mut form: Vec<(&str, String)> = vec![
            ("username", self.user.clone()),
            ("password", self.password.clone()),
            ("to", message.recipient.clone()),
            ("dlr", "yes".into()),
            ("dlr-url", self.dlr_url.clone()),
            ("dlr-level", "3".into()),
            ("dlr-method", "POST".into()),
        ];
        if let Some(from) = &message.sender {
            form.push(("from", from.clone()));
        }
        // Jasmin turns `content` into GSM 03.38, replacing what does not fit; text outside it
        // goes as UCS-2 (data coding 8) in hex.
        match sms_encoding(&message.body).0 {
            SmsEncoding::Gsm7 => {
                form.push(("coding", "0".into()));
                form.push(("content", message.body.clone()));
            }
            SmsEncoding::Ucs2 => {
                form.push(("coding", "8".into()));
                form.push(("hex-content", utf16_hex(&message.body)));
            }
        }
        let response = match self.http.post(&self.send_url).form(&form).send().await {
            Ok(response) => response,
            Err(err) => return delivery::transport_error("Jasmin", &err),
        };
        let status = response.status();
        let retry_after = delivery::retry_after(response.headers());
        let text = match response.text().await {
            Ok(text) => text,
            Err(err) => return delivery::transport_error("Jasmin", &err),
        };
        let (word, quoted) = parse_answer(&text);
        if status.is_success() && word == Some("Success") {
            return Delivery::Accepted {
                provider_id: quoted.map(str::to_string),
            };
        }
        let reason = format!(
            "Jasmin: {} (HTTP {})",
            quoted.unwrap_or(text.trim()),
            status.as_u16()
        );
        // Jasmin answers a throughput quota with 403: that is a rate limit, not a refusal.
        let throttled = quoted.is_some_and(|q| q.to_ascii_lowercase().contains("throughput"));
        if status.as_u16() == 429 || status.is_server_error() || throttled || status.is_success() {
            return Delivery::Temporary {
                error: reason,
                retry_after,
            };
        }
        Delivery::permanent(reason)
    }
}

/// The token in the delivery-report URL, so that only Jasmin (which got the URL from us) can
/// report: Jasmin does not sign its calls. Derived from the API password, which both sides know,
/// so it needs no setting of its own and changes with the password.
pub fn dlr_token(password: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(password.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"rendez jasmin delivery reports");
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether a delivery report carries the token of [`dlr_token`]; compared in constant time.
pub fn dlr_token_is_valid(password: &str, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    dlr_token(password)
        .as_bytes()
        .ct_eq(token.as_bytes())
        .into()
}

/// `Success "id"` / `Error "reason"`: the first word and the quoted part.
fn parse_answer(text: &str) -> (Option<&str>, Option<&str>) {
    let text = text.trim();
    let word = text.split_whitespace().next();
    let quoted = text
        .split_once('"')
        .and_then(|(_, rest)| rest.rsplit_once('"'))
        .map(|(inside, _)| inside);
    (word, quoted)
}

fn utf16_hex(text: &str) -> String {
    text.encode_utf16()
        .map(|unit| format!("{unit:04X}"))
        .collect()
}

/// A Jasmin delivery report's `message_status`, in our terms: level 1 reports say whether the
/// SMS center took the message (`ESME_ROK`) or refused it (`ESME_R...`), level 2 what the handset
/// network said.
pub fn report_status(message_status: &str) -> Option<MessageStatus> {
    Some(match message_status.trim().to_ascii_uppercase().as_str() {
        "ESME_ROK" | "ACCEPTD" | "ENROUTE" | "UNKNOWN" => MessageStatus::Sent,
        "DELIVRD" => MessageStatus::Delivered,
        "UNDELIV" | "REJECTD" | "EXPIRED" | "DELETED" => MessageStatus::Failed,
        other if other.starts_with("ESME_") => MessageStatus::Failed,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_reports_are_read() {
        assert_eq!(
            parse_answer("Success \"07033084-5cfd-4812-90a4-e4d24ffb6e3d\""),
            (
                Some("Success"),
                Some("07033084-5cfd-4812-90a4-e4d24ffb6e3d")
            )
        );
        assert_eq!(
            parse_answer("Error \"Mandatory argument [to] is not found.\""),
            (Some("Error"), Some("Mandatory argument [to] is not found."))
        );
        assert_eq!(utf16_hex("Ł€"), "014120AC");
        assert_eq!(report_status("DELIVRD"), Some(MessageStatus::Delivered));
        assert_eq!(
            report_status("ESME_RINVDSTADR"),
            Some(MessageStatus::Failed)
        );
        assert_eq!(report_status("ESME_ROK"), Some(MessageStatus::Sent));
    }
}
