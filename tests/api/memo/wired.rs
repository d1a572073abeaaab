//! A memo server wired to real providers: the messaging tests' local SMS provider (speaking
//! Twilio's or Jasmin's API) and their real SMTP server (`tests/smtp/server.rs`), with the server's own
//! workers sending what the scheduler, driven by the test at chosen instants, queues.

use std::time::{Duration, Instant};

use rendez::config::Settings;
use rendez::memo::scheduler::Scheduler;

use super::{MO_SECRET, start_with};
use crate::helpers::{Backend, TestApp};
use crate::messaging::email::mail_text;
use crate::messaging::support::{
    FakeProvider, Received, SmtpServer, TWILIO_TOKEN, jasmin_settings, smtp_settings,
    twilio_settings,
};

/// How long a test waits for something the workers do.
pub const WAIT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmsVia {
    Twilio,
    Jasmin,
}

pub struct Wired {
    pub app: TestApp,
    pub scheduler: Scheduler,
    pub sms: FakeProvider,
    pub smtp: SmtpServer,
    pub via: SmsVia,
}

/// A memo server whose SMS go to a local provider `via` and whose emails go to a real SMTP
/// server, with Jasmin's MO secret set, and settings `tweak`ed (knowing the local provider, which
/// also answers as the clinic system).
pub async fn wired(
    backend: Backend,
    via: SmsVia,
    tweak: impl FnOnce(&mut Settings, &FakeProvider),
) -> Wired {
    let sms = FakeProvider::start().await;
    let smtp = SmtpServer::start(None);
    let (app, scheduler) = start_with(backend, |s| {
        match via {
            SmsVia::Twilio => twilio_settings(s, &sms.url),
            SmsVia::Jasmin => jasmin_settings(s, &sms.url),
        }
        smtp_settings(s, &smtp);
        s.jasmin_mo_secret = Some(MO_SECRET.into());
        tweak(s, &sms);
    })
    .await;
    Wired {
        app,
        scheduler,
        sms,
        smtp,
        via,
    }
}

/// The text of an SMS as the provider received it (Jasmin gets UCS-2 as hex).
pub fn sms_text(received: &Received) -> String {
    if let Some(body) = received.get("Body") {
        return body.to_string();
    }
    match received.get("hex-content") {
        Some(hex) => {
            let units: Vec<u16> = (0..hex.len())
                .step_by(4)
                .map(|i| u16::from_str_radix(&hex[i..i + 4], 16).unwrap())
                .collect();
            String::from_utf16(&units).unwrap()
        }
        None => received.get("content").unwrap_or_default().to_string(),
    }
}

/// Waits until `check` holds, polling; panics with `what` after [`WAIT`].
pub async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(start.elapsed() < WAIT, "waited {WAIT:?} for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
}

impl Wired {
    /// Waits until the provider has received `count` SMS for `to`; returns their texts.
    pub async fn sms_to(&self, to: &str, count: usize) -> Vec<String> {
        let texts = eventually(&format!("{count} SMS to {to}"), || {
            let got = self.sms.received_for(to);
            (got.len() >= count).then_some(got)
        })
        .await;
        texts.iter().map(sms_text).collect()
    }

    /// Waits until the SMTP server has accepted `count` emails for `to`; returns each one's
    /// headers and body as text, in no particular order.
    pub async fn emails_to(&self, to: &str, count: usize) -> Vec<String> {
        eventually(&format!("{count} emails to {to}"), || {
            let got: Vec<String> = self
                .smtp
                .messages()
                .into_iter()
                .filter(|(rcpt, _, _)| rcpt.iter().any(|r| r == to))
                .map(|(_, data, _)| mail_text(&data))
                .collect();
            (got.len() >= count).then_some(got)
        })
        .await
    }

    /// A patient's SMS to the server through the provider's inbound webhook (Twilio's signed
    /// form, or Jasmin's MO with the secret); returns the status and body of the answer.
    pub async fn patient_says(&self, id: &str, from: &str, text: &str) -> (u16, String) {
        match self.via {
            SmsVia::Twilio => twilio_inbound(&self.app, id, from, text, Signature::Valid).await,
            SmsVia::Jasmin => {
                let from = from.trim_start_matches('+');
                super::mo(
                    &self.app,
                    MO_SECRET,
                    &[
                        ("id", id),
                        ("from", from),
                        ("to", "5000"),
                        ("coding", "0"),
                        ("content", text),
                    ],
                )
                .await
            }
        }
    }

    /// Like [`Wired::patient_says`], and checks that the provider got the answer it expects.
    pub async fn patient_replies(&self, id: &str, from: &str, text: &str) {
        let (status, body) = self.patient_says(id, from, text).await;
        assert_eq!(status, 200, "{text}: {body}");
        match self.via {
            SmsVia::Twilio => assert_eq!(
                body, r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#,
                "an empty TwiML answer: Twilio sends nothing itself"
            ),
            SmsVia::Jasmin => assert_eq!(body, "ACK/Jasmin"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signature {
    Valid,
    Wrong,
    Missing,
}

/// Posts Twilio's inbound-message webhook, as Twilio signs it (or not).
pub async fn twilio_inbound(
    app: &TestApp,
    sid: &str,
    from: &str,
    text: &str,
    signature: Signature,
) -> (u16, String) {
    let url = format!("{}/hooks/twilio/inbound", app.address);
    let params: Vec<(String, String)> = [
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("AccountSid", crate::messaging::support::TWILIO_SID),
        ("From", from),
        ("To", "+34911222333"),
        ("Body", text),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    let mut request = app
        .http
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body);
    match signature {
        Signature::Valid => {
            let signed = rendez::messaging::twilio::signature(TWILIO_TOKEN, &url, &params);
            request = request.header("X-Twilio-Signature", signed);
        }
        Signature::Wrong => {
            let signed = rendez::messaging::twilio::signature("another-token", &url, &params);
            request = request.header("X-Twilio-Signature", signed);
        }
        Signature::Missing => {}
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}
