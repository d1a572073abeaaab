//! SMS through Twilio's and Jasmin's APIs (a local server speaking them): what is sent, each
//! retry rule and final state, delivery reports with their signature, and a status that only
//! moves forward.

use std::time::Duration;

use base64::Engine;
use rendez::db::outbox::{record, reports};
use rendez::messaging::twilio;

use super::support::{
    Answer, FakeProvider, TWILIO_SID, TWILIO_TOKEN, accept, jasmin_settings, row_of, sms,
    spawn_with, twilio_settings, wait_for_status,
};
use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

const WAIT: Duration = Duration::from_secs(15);

async fn twilio_gets_the_message_with_credentials_sender_and_status_callback(backend: Backend) {
    let provider = FakeProvider::start().await;
    let app = spawn_with(backend, |s| twilio_settings(s, &provider.url)).await;
    let ids = accept(
        &app,
        &[
            &sms("t-1", "+34600111222", "Łukasz, su cita es mañana"),
            &[
                ("LEGACY_ID", "t-2"),
                ("CHANNEL", "SMS"),
                ("TO", "+34600111333"),
                ("FROM", "Clinica"),
                ("BODY", "Hola"),
            ],
        ],
    )
    .await;
    wait_for_status(&app.pool, &ids[0], "SENT", WAIT).await;
    wait_for_status(&app.pool, &ids[1], "SENT", WAIT).await;
    let first = &provider.received_for("+34600111222")[0];
    assert_eq!(
        first.path,
        format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages.json")
    );
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}"));
    assert_eq!(
        first.authorization.as_deref(),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(first.get("Body"), Some("Łukasz, su cita es mañana"));
    assert_eq!(first.get("From"), Some("+34911222333"));
    assert_eq!(
        first.get("StatusCallback"),
        Some(format!("{}/hooks/twilio/status", app.address).as_str())
    );
    assert_eq!(
        provider.received_for("+34600111333")[0].get("From"),
        Some("Clinica")
    );
    let (_, attempts, error, sid) = row_of(&app.pool, &ids[0]);
    assert_eq!((attempts, error), (1, None));
    assert!(sid.unwrap().starts_with("SM"));
}

async fn a_429_is_retried_after_its_retry_after_and_5xx_with_backoff(backend: Backend) {
    let provider = FakeProvider::start().await;
    let app = spawn_with(backend, |s| twilio_settings(s, &provider.url)).await;
    provider.script(
        "+34600111222",
        vec![
            Answer::new(
                429,
                r#"{"code":20429,"message":"Too Many Requests","status":429}"#,
            )
            .header("Retry-After", "1"),
            Answer::new(503, "Service Unavailable"),
        ],
    );
    let ids = accept(&app, &[&sms("r-1", "+34600111222", "Hola")]).await;
    wait_for_status(&app.pool, &ids[0], "SENT", WAIT).await;
    let calls = provider.received_for("+34600111222");
    assert_eq!(calls.len(), 3);
    // Retry-After (1 s) beat the 100 ms backoff; the 503 waited about twice the base.
    assert!(
        calls[1].at - calls[0].at >= Duration::from_millis(950),
        "{:?}",
        calls[1].at - calls[0].at
    );
    assert!(
        calls[2].at - calls[1].at >= Duration::from_millis(190),
        "{:?}",
        calls[2].at - calls[1].at
    );
    let mut conn = app.pool.get().unwrap();
    let attempts = record::attempts(&mut conn, &ids[0]).unwrap();
    let outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["RETRY", "RETRY", "SENT"]);
    assert!(
        attempts[0]
            .error_message
            .as_deref()
            .unwrap()
            .contains("Twilio error 20429: Too Many Requests")
    );
    assert!(
        attempts[1]
            .error_message
            .as_deref()
            .unwrap()
            .contains("HTTP 503")
    );
    assert!(
        attempts[2]
            .provider_id
            .as_deref()
            .unwrap()
            .starts_with("SM")
    );
    assert!(
        attempts
            .iter()
            .all(|a| a.provider.as_deref() == Some("twilio"))
    );
}

async fn a_4xx_fails_at_once_with_twilios_reason(backend: Backend) {
    let provider = FakeProvider::start().await;
    let app = spawn_with(backend, |s| twilio_settings(s, &provider.url)).await;
    provider.script(
        "+34600111222",
        vec![Answer::new(
            400,
            r#"{"code":21211,"message":"The 'To' number +34600111222 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}"#,
        )],
    );
    let ids = accept(&app, &[&sms("f-1", "+34600111222", "Hola")]).await;
    wait_for_status(&app.pool, &ids[0], "FAILED", WAIT).await;
    let (_, attempts, error, _) = row_of(&app.pool, &ids[0]);
    assert_eq!(attempts, 1);
    assert!(
        error
            .unwrap()
            .contains("Twilio error 21211: The 'To' number")
    );
    let search = app
        .soap(
            &super::support::partner(),
            "searchMessages",
            "<LEGACY_ID>f-1</LEGACY_ID>",
        )
        .await;
    assert_eq!(search.field("STATUS").as_deref(), Some("FAILED"));
    assert!(search.field("ERROR_MESSAGE").unwrap().contains("21211"));
    assert_eq!(search.field("ATTEMPTS").as_deref(), Some("1"));
}

async fn temporary_failures_end_failed_after_the_last_attempt(backend: Backend) {
    let provider = FakeProvider::start().await;
    let app = spawn_with(backend, |s| {
        twilio_settings(s, &provider.url);
        s.max_attempts = Some(3);
        s.retry_base = Some("20ms".into());
    })
    .await;
    provider.script(
        "+34600111222",
        (0..5).map(|_| Answer::new(500, "boom")).collect(),
    );
    let ids = accept(&app, &[&sms("m-1", "+34600111222", "Hola")]).await;
    wait_for_status(&app.pool, &ids[0], "FAILED", WAIT).await;
    let (_, attempts, error, _) = row_of(&app.pool, &ids[0]);
    assert_eq!(attempts, 3);
    assert!(error.unwrap().starts_with("gave up after 3 attempts"));
    assert_eq!(provider.received_for("+34600111222").len(), 3);
}

async fn a_message_past_its_expiry_ends_expired_unsent(backend: Backend) {
    let provider = FakeProvider::start().await;
    let app = spawn_with(backend, |s| {
        twilio_settings(s, &provider.url);
        s.retry_base = Some("5s".into());
    })
    .await;
    // It fails once; the retry (5 s) would come after EXPIRES_AT (2 s).
    provider.script("+34600111222", vec![Answer::new(503, "busy")]);
    let expires = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let mut item = sms("e-1", "+34600111222", "Hola");
    item.push(("EXPIRES_AT", &expires));
    let ids = accept(&app, &[&item]).await;
    wait_for_status(&app.pool, &ids[0], "EXPIRED", WAIT).await;
    assert!(row_of(&app.pool, &ids[0]).2.unwrap().contains("EXPIRES_AT"));
    // One whose expiry has passed by the time a worker claims it is never sent.
    let mut conn = app.pool.get().unwrap();
    let late = rendez::db::outbox::enqueue(
        &mut conn,
        &rendez::db::outbox::NewMessage {
            owner: "rendez:reminders",
            legacy_id: "too-late",
            channel: rendez::domain::messages::Channel::Sms,
            to: "+34600999888",
            from: None,
            subject: None,
            body: "Hola",
            send_at: None,
            expires_at: Some(chrono::Utc::now() - chrono::Duration::seconds(1)),
        },
        chrono::Utc::now(),
    )
    .unwrap();
    drop(conn);
    wait_for_status(&app.pool, late.id(), "EXPIRED", WAIT).await;
    assert!(provider.received_for("+34600999888").is_empty());
}

fn signed_post(app: &TestApp, params: &[(&str, &str)], token: &str) -> reqwest::RequestBuilder {
    let url = format!("{}/hooks/twilio/status", app.address);
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let signature = twilio::signature(token, &url, &owned);
    app.http
        .post(&url)
        .header("X-Twilio-Signature", signature)
        .form(params)
}

async fn status_reports_need_twilios_signature_and_only_move_forward(backend: Backend) {
    let provider = FakeProvider::start().await;
    let app = spawn_with(backend, |s| twilio_settings(s, &provider.url)).await;
    let ids = accept(&app, &[&sms("d-1", "+34600111222", "Hola")]).await;
    wait_for_status(&app.pool, &ids[0], "SENT", WAIT).await;
    let sid = row_of(&app.pool, &ids[0]).3.unwrap();
    let report = |status: &'static str| {
        vec![
            ("MessageSid", sid.clone()),
            ("MessageStatus", status.to_string()),
            ("AccountSid", TWILIO_SID.to_string()),
        ]
    };
    let as_refs = |v: &Vec<(&'static str, String)>| -> Vec<(&'static str, String)> { v.clone() };
    let post = |params: Vec<(&'static str, String)>, token: &str| {
        let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        signed_post(&app, &refs, token)
    };
    // A bad signature (wrong token), or none, is refused and changes nothing.
    let bad = post(as_refs(&report("delivered")), "not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 403);
    let unsigned = app
        .http
        .post(format!("{}/hooks/twilio/status", app.address))
        .form(&[("MessageSid", sid.as_str()), ("MessageStatus", "delivered")])
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    assert_eq!(row_of(&app.pool, &ids[0]).0, "SENT");

    let delivered = post(report("delivered"), TWILIO_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(delivered.status().is_success(), "{}", delivered.status());
    assert_eq!(row_of(&app.pool, &ids[0]).0, "DELIVERED");
    // Late and repeated reports are kept but never move it back.
    for late in ["sent", "queued", "delivered", "undelivered"] {
        let answer = post(report(late), TWILIO_TOKEN).send().await.unwrap();
        assert!(answer.status().is_success());
    }
    assert_eq!(row_of(&app.pool, &ids[0]).0, "DELIVERED");
    let mut conn = app.pool.get().unwrap();
    let history: Vec<String> = reports::reports(&mut conn, &ids[0])
        .unwrap()
        .into_iter()
        .map(|r| r.provider_status)
        .collect();
    assert_eq!(
        history,
        ["delivered", "sent", "queued", "delivered", "undelivered"]
    );
    let search = app
        .soap(
            &super::support::partner(),
            "searchMessages",
            "<LEGACY_ID>d-1</LEGACY_ID>",
        )
        .await;
    assert!(
        search
            .field("DELIVERED_TIME")
            .is_some_and(|t| !t.is_empty()),
        "{}",
        search.body
    );

    // A failure report of another message carries Twilio's error code.
    let ids = accept(&app, &[&sms("d-2", "+34600111444", "Hola")]).await;
    wait_for_status(&app.pool, &ids[0], "SENT", WAIT).await;
    let sid = row_of(&app.pool, &ids[0]).3.unwrap();
    let failed = post(
        vec![
            ("MessageSid", sid.clone()),
            ("MessageStatus", "undelivered".into()),
            ("ErrorCode", "30003".into()),
        ],
        TWILIO_TOKEN,
    )
    .send()
    .await
    .unwrap();
    assert!(failed.status().is_success());
    let (status, _, error, _) = row_of(&app.pool, &ids[0]);
    assert_eq!(status, "FAILED");
    assert!(error.unwrap().contains("Twilio error 30003"));
    // A report missing its fields is refused.
    let incomplete = post(vec![("MessageSid", sid)], TWILIO_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(incomplete.status(), 400);
}

async fn a_report_that_arrives_before_the_send_is_recorded_is_applied_then(backend: Backend) {
    let provider = FakeProvider::start().await;
    let app = spawn_with(backend, |s| twilio_settings(s, &provider.url)).await;
    // The fake provider answers with a known sid only after the report has come in.
    let sid = "SMearly0000000000000000000000000";
    provider.script(
        "+34600111222",
        vec![Answer::new(
            201,
            format!(r#"{{"sid":"{sid}","status":"queued"}}"#),
        )],
    );
    provider.set_delay(Duration::from_millis(600));
    let ids = accept(&app, &[&sms("early", "+34600111222", "Hola")]).await;
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    let params = [("MessageSid", sid), ("MessageStatus", "delivered")];
    let answer = signed_post(&app, &params, TWILIO_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    wait_for_status(&app.pool, &ids[0], "DELIVERED", WAIT).await;
}

async fn jasmin_sends_gsm_text_and_ucs2_in_hex_and_acknowledges_reports(backend: Backend) {
    let provider = FakeProvider::start().await;
    let app = spawn_with(backend, |s| jasmin_settings(s, &provider.url)).await;
    provider.script(
        "+34600555666",
        vec![Answer::new(
            400,
            "Error \"Mandatory argument [to] is not found.\"",
        )],
    );
    provider.script(
        "+34600777888",
        vec![Answer::new(500, "Error \"Unknown error: boom\"")],
    );
    let ids = accept(
        &app,
        &[
            &sms("j-1", "+34600111222", "Hola, su cita"),
            &sms("j-2", "+34600333444", "Łódź"),
            &sms("j-3", "+34600555666", "x"),
            &sms("j-4", "+34600777888", "x"),
        ],
    )
    .await;
    wait_for_status(&app.pool, &ids[0], "SENT", WAIT).await;
    wait_for_status(&app.pool, &ids[1], "SENT", WAIT).await;
    wait_for_status(&app.pool, &ids[2], "FAILED", WAIT).await;
    wait_for_status(&app.pool, &ids[3], "SENT", WAIT).await;
    let gsm = &provider.received_for("+34600111222")[0];
    assert_eq!(gsm.path, "/send");
    assert_eq!(gsm.get("username"), Some("rendez"));
    assert_eq!(gsm.get("password"), Some("jasmin-secret"));
    assert_eq!(gsm.get("content"), Some("Hola, su cita"));
    assert_eq!(gsm.get("coding"), Some("0"));
    assert_eq!(gsm.get("dlr-level"), Some("3"));
    let dlr_url = gsm.get("dlr-url").unwrap().to_string();
    let token = rendez::messaging::jasmin::dlr_token("jasmin-secret");
    assert_eq!(
        dlr_url,
        format!("{}/hooks/jasmin/dlr?token={token}", app.address)
    );
    let ucs2 = &provider.received_for("+34600333444")[0];
    assert_eq!(
        (ucs2.get("coding"), ucs2.get("hex-content")),
        (Some("8"), Some("014100F30064017A"))
    );
    assert!(
        row_of(&app.pool, &ids[2])
            .2
            .unwrap()
            .contains("Mandatory argument [to] is not found.")
    );
    assert_eq!(provider.received_for("+34600777888").len(), 2);

    let id = row_of(&app.pool, &ids[0]).3.unwrap();
    let dlr = |status: &'static str| {
        let id = id.clone();
        app.http
            .post(&dlr_url)
            .form(&[
                ("id", id.as_str()),
                ("message_status", status),
                ("level", "2"),
            ])
            .send()
    };
    let ack = dlr("DELIVRD").await.unwrap();
    assert_eq!(ack.status(), 200);
    assert_eq!(ack.text().await.unwrap(), "ACK/Jasmin");
    assert_eq!(row_of(&app.pool, &ids[0]).0, "DELIVERED");
    let late = dlr("ESME_ROK").await.unwrap();
    assert_eq!(late.text().await.unwrap(), "ACK/Jasmin");
    assert_eq!(row_of(&app.pool, &ids[0]).0, "DELIVERED");
    let bad = app
        .http
        .post(&dlr_url)
        .form(&[("level", "2")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    // Without the token (or with another), a report is refused and changes nothing.
    let id3 = row_of(&app.pool, &ids[3]).3.unwrap();
    for url in [
        format!("{}/hooks/jasmin/dlr", app.address),
        format!("{}/hooks/jasmin/dlr?token=0000", app.address),
    ] {
        let forged = app
            .http
            .post(&url)
            .form(&[("id", id3.as_str()), ("message_status", "UNDELIV")])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);
    }
    assert_eq!(row_of(&app.pool, &ids[3]).0, "SENT");
    // Twilio's hook is not open on a Jasmin server.
    let twilio_hook = app
        .http
        .post(format!("{}/hooks/twilio/status", app.address))
        .form(&[("MessageSid", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(twilio_hook.status(), 404);
}

backend_tests!(
    twilio_gets_the_message_with_credentials_sender_and_status_callback,
    a_429_is_retried_after_its_retry_after_and_5xx_with_backoff,
    a_4xx_fails_at_once_with_twilios_reason,
    temporary_failures_end_failed_after_the_last_attempt,
    a_message_past_its_expiry_ends_expired_unsent,
    status_reports_need_twilios_signature_and_only_move_forward,
    a_report_that_arrives_before_the_send_is_recorded_is_applied_then,
    jasmin_sends_gsm_text_and_ucs2_in_hex_and_acknowledges_reports,
);
