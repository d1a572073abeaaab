//! Email through a real SMTP server over TCP (`tests/smtp/server.rs`): UTF-8 text, the SMTP answers that mean
//! retry (4xx) or give up (5xx), and STARTTLS against a test CA.

use std::time::Duration;

use super::support::{
    SmtpServer, accept, fast, row_of, smtp_settings, spawn_with, wait_for_status,
};
use crate::backend_tests;
use crate::helpers::Backend;

const WAIT: Duration = Duration::from_secs(20);

fn email<'a>(legacy_id: &'a str, to: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("LEGACY_ID", legacy_id),
        ("CHANNEL", "EMAIL"),
        ("TO", to),
        ("SUBJECT", "Su cita con la Dra. Peña — confirmación"),
        (
            "BODY",
            "Hola Zoë,\nsu cita es el 03/12 a las 10:00.\nŁukasz",
        ),
    ]
}

async fn an_email_reaches_the_smtp_server_with_its_utf8_subject_and_body(backend: Backend) {
    let smtp = SmtpServer::start(None);
    let app = spawn_with(backend, |s| smtp_settings(s, &smtp)).await;
    let mut item = email("e-1", "Zoe.Pena@Example.org");
    item.push(("FROM", "partner@partner.example"));
    let ids = accept(&app, &[&item]).await;
    wait_for_status(&app.pool, &ids[0], "SENT", WAIT).await;
    let received = smtp.messages();
    assert_eq!(received.len(), 1);
    let (recipients, data, tls) = &received[0];
    assert_eq!(recipients, &["zoe.pena@example.org"]);
    assert!(!tls);
    let parsed = mail_text(data);
    assert!(
        parsed.contains("Su cita con la Dra. Peña — confirmación"),
        "{data}"
    );
    assert!(parsed.contains("Hola Zoë,"), "{data}");
    assert!(parsed.contains("Łukasz"), "{data}");
    assert!(data.contains("citas@clinica.example"), "{data}");
    assert!(data.contains("Reply-To: partner@partner.example"), "{data}");
    assert!(
        data.contains(&format!("Message-ID: <{}@rendez.invalid>", ids[0])),
        "{data}"
    );
}

/// The subject and body as text: encoded-words and quoted-printable or base64 undone.
pub fn mail_text(data: &str) -> String {
    use base64::Engine;
    let mut text = String::new();
    for line in data.lines() {
        let words: Vec<String> = line
            .split_whitespace()
            .map(|word| {
                let encoded = word
                    .strip_prefix("=?utf-8?b?")
                    .or(word.strip_prefix("=?UTF-8?B?"))
                    .map(|inner| inner.trim_end_matches("?="));
                match encoded.and_then(|e| base64::engine::general_purpose::STANDARD.decode(e).ok())
                {
                    Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                    None => word.to_string(),
                }
            })
            .collect();
        text.push_str(&words.join(" "));
        text.push('\n');
    }
    let body = data.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    if data.contains("Content-Transfer-Encoding: base64") {
        let joined: String = body.split_whitespace().collect();
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(joined) {
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    } else {
        text.push_str(&quoted_printable(body));
    }
    text
}

fn quoted_printable(body: &str) -> String {
    let mut bytes = Vec::new();
    let raw = body.replace("=\r\n", "");
    let mut chars = raw.as_bytes().iter();
    while let Some(&b) = chars.next() {
        if b == b'=' {
            let hex: Vec<u8> = chars.by_ref().take(2).copied().collect();
            if let Ok(v) = u8::from_str_radix(std::str::from_utf8(&hex).unwrap_or(""), 16) {
                bytes.push(v);
            }
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

async fn smtp_5xx_fails_at_once_and_4xx_is_retried(backend: Backend) {
    let smtp = SmtpServer::start(None);
    let app = spawn_with(backend, |s| {
        smtp_settings(s, &smtp);
        s.max_attempts = Some(4);
    })
    .await;
    let ids = accept(
        &app,
        &[
            &email("p-1", "perm-nobody@example.org"),
            &email("t-1", "temp-always@example.org"),
            &email("f-1", "flaky2-later@example.org"),
        ],
    )
    .await;
    wait_for_status(&app.pool, &ids[0], "FAILED", WAIT).await;
    let (_, attempts, error, _) = row_of(&app.pool, &ids[0]);
    assert_eq!(attempts, 1);
    assert!(error.unwrap().contains("550"));
    wait_for_status(&app.pool, &ids[1], "FAILED", WAIT).await;
    let (_, attempts, error, _) = row_of(&app.pool, &ids[1]);
    assert_eq!(attempts, 4);
    let error = error.unwrap();
    assert!(
        error.starts_with("gave up after 4 attempts") && error.contains("451"),
        "{error}"
    );
    wait_for_status(&app.pool, &ids[2], "SENT", WAIT).await;
    assert_eq!(row_of(&app.pool, &ids[2]).1, 3);
    let received = smtp.messages();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].0, ["flaky2-later@example.org"]);
}

/// A test CA and a certificate for 127.0.0.1 signed by it, as PEM files.
fn test_ca(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Rendez test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

async fn starttls_with_a_trusted_ca_delivers_and_an_untrusted_certificate_does_not(
    backend: Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_ca(dir.path());
    let smtp = SmtpServer::start(Some((&cert, &key)));
    let url = format!("smtp://127.0.0.1:{}?tls=required", smtp.port);
    let app = spawn_with(backend, |s| {
        smtp_settings(s, &smtp);
        s.smtp_url = Some(url.clone());
        s.smtp_ca_file = Some(ca.clone());
    })
    .await;
    let ids = accept(&app, &[&email("tls-1", "zoe@example.org")]).await;
    wait_for_status(&app.pool, &ids[0], "SENT", WAIT).await;
    let received = smtp.messages();
    assert_eq!(received.len(), 1);
    assert!(received[0].2, "the message did not travel over TLS");

    // Without the CA the server's certificate is not trusted: nothing is sent.
    let untrusting = spawn_with(backend, |s| {
        fast(s);
        s.smtp_url = Some(url.clone());
        s.mail_from = Some("citas@clinica.example".into());
        s.max_attempts = Some(2);
    })
    .await;
    let ids = accept(&untrusting, &[&email("tls-2", "zoe@example.org")]).await;
    wait_for_status(&untrusting.pool, &ids[0], "FAILED", WAIT).await;
    assert_eq!(smtp.messages().len(), 1);
    let error = row_of(&untrusting.pool, &ids[0]).2.unwrap();
    assert!(error.starts_with("gave up after 2 attempts"), "{error}");
}

backend_tests!(
    an_email_reaches_the_smtp_server_with_its_utf8_subject_and_body,
    smtp_5xx_fails_at_once_and_4xx_is_retried,
    starttls_with_a_trusted_ca_delivers_and_an_untrusted_certificate_does_not,
);
