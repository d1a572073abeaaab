//! The clinic system's own CancelAppointment web service (seed A.4.2) as an outbox channel: the
//! memo queues the SOAP request (its body) for the URL (its recipient) when a patient cancels,
//! and this sender posts it with the outbox's retries. The clinic's `DELETE_RESULT` decides the
//! outcome: `OK` is `SENT`; `ERROR` ends `FAILED` with the clinic's text, since asking again would
//! get the same answer; a Fault, a 429 or a 5xx is tried again.

use super::delivery::{self, Delivery};
use crate::domain::outbox::Claimed;
use crate::seed::clinic_cancel::{CANCEL_ACTION, CancelAnswer, read_cancel_answer};

pub const NAME: &str = "clinic";

/// Largest answer read from the clinic system: a CancelAppointment answer is a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

pub struct ClinicService {
    http: reqwest::Client,
}

impl ClinicService {
    pub fn new() -> Result<ClinicService, String> {
        Ok(ClinicService {
            http: delivery::http_client()?,
        })
    }

    pub async fn send(&self, message: &Claimed) -> Delivery {
        let response = match self
            .http
            .post(&message.recipient)
            .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .header("SOAPAction", format!("\"{CANCEL_ACTION}\""))
            .body(message.body.clone())
            .send()
            .await
        {
            Ok(response) => response,
            Err(err) => return delivery::transport_error("the clinic system", &err),
        };
        let status = response.status();
        let retry_after = delivery::retry_after(response.headers());
        let text = match response.bytes().await {
            Ok(bytes) => {
                String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_ANSWER_BYTES)]).into_owned()
            }
            Err(err) => return delivery::transport_error("the clinic system", &err),
        };
        if status.as_u16() == 429 || status.is_server_error() {
            return Delivery::Temporary {
                error: format!("the clinic system answered HTTP {status}"),
                retry_after,
            };
        }
        if !status.is_success() {
            return Delivery::permanent(format!("the clinic system answered HTTP {status}"));
        }
        match read_cancel_answer(&text) {
            Ok(CancelAnswer::Deleted) => Delivery::Accepted { provider_id: None },
            Ok(CancelAnswer::Refused(reason)) => Delivery::permanent(format!(
                "the clinic system answered DELETE_RESULT ERROR: {}",
                if reason.is_empty() {
                    "(no reason given)"
                } else {
                    &reason
                }
            )),
            // A 200 that is no CancelAppointment answer is a misconfigured URL or a broken
            // service: retrying is cheap, and a fixed service then gets the call.
            Err(problem) => Delivery::temporary(problem),
        }
    }
}
