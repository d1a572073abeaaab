//! updateMessages and searchMessages over SOAP: per-item results, idempotency, refusals,
//! filters and paging, and each client seeing only its own messages.

use std::time::Duration;

use diesel::prelude::*;
use rendez::db::schema::messages;

use super::support::{
    FakeProvider, PARTNER, accept, message_items, partner, sms, spawn_with, twilio_settings,
};
use crate::backend_tests;
use crate::helpers::{Auth, Backend, spawn_app};

fn count(app: &crate::helpers::TestApp) -> i64 {
    let mut conn = app.pool.get().unwrap();
    messages::table.count().get_result(&mut conn).unwrap()
}

async fn each_message_is_judged_on_its_own_and_the_good_ones_are_stored(backend: Backend) {
    let provider = FakeProvider::start().await;
    // Sending is held back (SEND_AT ahead) so that the stored rows can be read as accepted.
    let app = spawn_with(backend, |s| twilio_settings(s, &provider.url)).await;
    let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let mut good = sms("ok-1", "+34 600 111 222", "Su cita es mañana a las 10:00");
    good.push(("SEND_AT", &later));
    let mut email = vec![
        ("LEGACY_ID", "mail-1"),
        ("CHANNEL", "EMAIL"),
        ("TO", "zoe@example.org"),
        ("BODY", "x"),
    ];
    email.push(("SUBJECT", "Cita"));
    let items: Vec<Vec<(&str, &str)>> = vec![
        good,
        sms("bad-to", "call me", "x"),
        vec![
            ("CHANNEL", "SMS"),
            ("TO", "+34600111222"),
            ("BODY", "no legacy id"),
        ],
        sms("bad-body", "+34600111222", ""),
        vec![
            ("LEGACY_ID", "bad-channel"),
            ("CHANNEL", "FAX"),
            ("TO", "+34600111222"),
            ("BODY", "x"),
        ],
        email,
    ];
    let refs: Vec<&[(&str, &str)]> = items.iter().map(Vec::as_slice).collect();
    let reply = app
        .soap(&partner(), "updateMessages", &message_items(&refs))
        .await;
    reply.assert_ok();
    assert_eq!(
        reply.fields("RESULT"),
        ["OK", "ERROR", "ERROR", "ERROR", "ERROR", "ERROR"],
        "{}",
        reply.body
    );
    let errors = reply.fields("ERROR_MESSAGE");
    assert!(errors[0].starts_with("MESSAGE 2: TO:"), "{errors:?}");
    assert!(errors[1].starts_with("MESSAGE 3: LEGACY_ID"), "{errors:?}");
    assert!(errors[2].starts_with("MESSAGE 4: BODY"), "{errors:?}");
    assert!(errors[3].starts_with("MESSAGE 5: CHANNEL"), "{errors:?}");
    // No SMTP server is configured: the email is refused, never pretended.
    assert!(
        errors[4].starts_with("MESSAGE 6: CHANNEL: no EMAIL provider is configured"),
        "{errors:?}"
    );
    assert_eq!(reply.field("SEGMENTS").as_deref(), Some("1"));
    let id = reply.field("MESSAGE_ID").unwrap();
    let mut conn = app.pool.get().unwrap();
    let (recipient, status, body): (String, String, String) = messages::table
        .find(&id)
        .select((messages::recipient, messages::status, messages::body))
        .first(&mut conn)
        .unwrap();
    assert_eq!(
        (recipient.as_str(), status.as_str()),
        ("+34600111222", "QUEUED")
    );
    assert_eq!(body, "Su cita es mañana a las 10:00");
    assert_eq!(count(&app), 1);
    assert!(provider.received().is_empty());
}

async fn a_repeated_legacy_id_returns_the_first_message_id_and_sends_nothing_new(backend: Backend) {
    let provider = FakeProvider::start().await;
    let app = spawn_with(backend, |s| twilio_settings(s, &provider.url)).await;
    let first = accept(&app, &[&sms("same", "+34600111222", "Hola")]).await;
    super::support::wait_for_status(&app.pool, &first[0], "SENT", Duration::from_secs(10)).await;
    // Again, even with another text, and within one call twice.
    let again = accept(
        &app,
        &[
            &sms("same", "+34600111222", "Otra"),
            &sms("same", "+34600111222", "Otra"),
        ],
    )
    .await;
    assert_eq!(again, vec![first[0].clone(), first[0].clone()]);
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&app), 1);
    assert_eq!(provider.received().len(), 1);
    // A retry that would now be refused (EXPIRES_AT has passed) still gets its first answer.
    let expired = app
        .soap(
            &partner(),
            "updateMessages",
            &message_items(&[&[
                ("LEGACY_ID", "same"),
                ("CHANNEL", "SMS"),
                ("TO", "+34600111222"),
                ("BODY", "Hola"),
                ("EXPIRES_AT", "2001-01-01T00:00:00Z"),
            ]]),
        )
        .await;
    assert_eq!(
        expired.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        expired.body
    );
    assert_eq!(expired.field("MESSAGE_ID"), Some(first[0].clone()));
}

/// The `MESSAGE_RESULT` elements of an answer, as the wire carried them.
fn result_items(body: &str) -> Vec<&str> {
    body.match_indices("<MESSAGE_RESULT>")
        .map(|(start, _)| {
            let end = body[start..].find("</MESSAGE_RESULT>").unwrap() + start;
            &body[start..end + "</MESSAGE_RESULT>".len()]
        })
        .collect()
}

async fn a_repeated_legacy_id_answers_exactly_as_the_first_time_segments_included(
    backend: Backend,
) {
    let provider = FakeProvider::start().await;
    let app = spawn_with(backend, |s| twilio_settings(s, &provider.url)).await;
    let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    // 200 GSM-7 characters: two segments.
    let long = "x".repeat(200);
    let first_item = held_sms("seg-1", &long, &later);
    let first = app
        .soap(&partner(), "updateMessages", &message_items(&[&first_item]))
        .await;
    first.assert_ok();
    assert_eq!(
        first.field("SEGMENTS").as_deref(),
        Some("2"),
        "{}",
        first.body
    );
    let first_item_xml = result_items(&first.body)[0].to_string();
    // Again in a later call, twice in one call, with another text, and once in a form that
    // would now be refused (EXPIRES_AT has passed): each answer is the first one.
    let mut expired = sms("seg-1", "+34600111222", "short");
    expired.push(("EXPIRES_AT", "2001-01-01T00:00:00Z"));
    let again = app
        .soap(
            &partner(),
            "updateMessages",
            &message_items(&[
                &first_item,
                &sms("seg-1", "+34600111222", "short"),
                &expired,
            ]),
        )
        .await;
    again.assert_ok();
    assert_eq!(
        result_items(&again.body),
        vec![first_item_xml.as_str(); 3],
        "{}",
        again.body
    );
    // A new message repeated within one call: the repeat answers as its first did.
    let second_item = held_sms("seg-2", &long, &later);
    let twice = app
        .soap(
            &partner(),
            "updateMessages",
            &message_items(&[&second_item, &second_item]),
        )
        .await;
    twice.assert_ok();
    let items = result_items(&twice.body);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0], items[1], "{}", twice.body);
    assert!(
        items[0].contains("<SEGMENTS>2</SEGMENTS>"),
        "{}",
        twice.body
    );
    assert_eq!(count(&app), 2);
}

/// An SMS held back (SEND_AT ahead) so that nothing is sent while the test reads.
fn held_sms<'a>(legacy_id: &'a str, body: &'a str, send_at: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut item = sms(legacy_id, "+34600111222", body);
    item.push(("SEND_AT", send_at));
    item
}

async fn two_identical_calls_at_once_queue_one_message(backend: Backend) {
    let provider = FakeProvider::start().await;
    let app = spawn_with(backend, |s| twilio_settings(s, &provider.url)).await;
    let items: Vec<Vec<(&str, &str)>> = (0..50)
        .map(|i| {
            let id: &'static str = Box::leak(format!("twin-{i}").into_boxed_str());
            sms(id, "+34600111222", "Hola")
        })
        .collect();
    let refs: Vec<&[(&str, &str)]> = items.iter().map(Vec::as_slice).collect();
    let body = message_items(&refs);
    let auth = partner();
    let calls = (0..4).map(|_| app.soap(&auth, "updateMessages", &body));
    let replies = futures_util::future::join_all(calls).await;
    let first_ids = replies[0].fields("MESSAGE_ID");
    for reply in &replies {
        reply.assert_ok();
        assert_eq!(
            reply.fields("RESULT"),
            vec!["OK".to_string(); 50],
            "{}",
            reply.body
        );
        assert_eq!(reply.fields("MESSAGE_ID"), first_ids);
    }
    assert_eq!(count(&app), 50);
    super::support::wait_until_settled(&app.pool, Duration::from_secs(20)).await;
    assert_eq!(provider.received().len(), 50);
}

async fn search_filters_pages_and_shows_a_client_only_its_own_messages(backend: Backend) {
    let provider = FakeProvider::start().await;
    let app = spawn_with(backend, |s| twilio_settings(s, &provider.url)).await;
    let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let mut items = Vec::new();
    for i in 0..5 {
        let id: &'static str = Box::leak(format!("s-{i}").into_boxed_str());
        let to = if i % 2 == 0 {
            "+34600111222"
        } else {
            "+34600333444"
        };
        let mut item = sms(id, to, "Hola");
        item.push(("SEND_AT", &later));
        items.push(item);
    }
    let refs: Vec<&[(&str, &str)]> = items.iter().map(Vec::as_slice).collect();
    let ids = accept(&app, &refs).await;
    app.add_client("other", "other-password-123", "messaging", "", false);
    let other = Auth::basic("other", "other-password-123");

    let all = app.soap(&partner(), "searchMessages", "").await;
    all.assert_ok();
    assert_eq!(all.field("TOTAL").as_deref(), Some("5"));
    // Newest first.
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(all.fields("MESSAGE_ID"), newest_first);
    assert_eq!(all.fields("STATUS"), vec!["QUEUED".to_string(); 5]);

    let page = app
        .soap(
            &partner(),
            "searchMessages",
            "<PAGE>2</PAGE><PAGE_SIZE>2</PAGE_SIZE>",
        )
        .await;
    assert_eq!(page.fields("MESSAGE_ID"), newest_first[2..4].to_vec());
    let by_to = app
        .soap(&partner(), "searchMessages", "<TO>0034 600 333 444</TO>")
        .await;
    assert_eq!(by_to.field("TOTAL").as_deref(), Some("2"), "{}", by_to.body);
    let by_legacy = app
        .soap(&partner(), "searchMessages", "<LEGACY_ID>s-3</LEGACY_ID>")
        .await;
    assert_eq!(by_legacy.fields("MESSAGE_ID"), vec![ids[3].clone()]);
    let by_id = app
        .soap(
            &partner(),
            "searchMessages",
            &format!(
                "<MESSAGE_ID>{}</MESSAGE_ID><STATUS>queued</STATUS><CHANNEL>SMS</CHANNEL>",
                ids[1]
            ),
        )
        .await;
    assert_eq!(by_id.fields("LEGACY_ID"), vec!["s-1".to_string()]);
    let none_sent = app
        .soap(&partner(), "searchMessages", "<STATUS>SENT</STATUS>")
        .await;
    assert_eq!(none_sent.field("TOTAL").as_deref(), Some("0"));
    let future = app
        .soap(
            &partner(),
            "searchMessages",
            "<FROM_DATE>2999-01-01</FROM_DATE>",
        )
        .await;
    assert_eq!(future.field("TOTAL").as_deref(), Some("0"));
    let today = chrono::Utc::now().format("%d/%m/%Y").to_string();
    let since_today = app
        .soap(
            &partner(),
            "searchMessages",
            &format!("<FROM_DATE>{today}</FROM_DATE>"),
        )
        .await;
    assert_eq!(since_today.field("TOTAL").as_deref(), Some("5"));

    // Another client sees none of them, not even by id.
    let theirs = app
        .soap(
            &other,
            "searchMessages",
            &format!("<MESSAGE_ID>{}</MESSAGE_ID>", ids[0]),
        )
        .await;
    theirs.assert_ok();
    assert_eq!(theirs.field("TOTAL").as_deref(), Some("0"));
    // And may use the same legacy ids for its own messages.
    let own = accept_as(&app, &other, &[&sms("s-0", "+34600111222", "Hola")]).await;
    assert_ne!(own[0], ids[0]);

    for (inner, field) in [
        ("<STATUS>LOST</STATUS>", "STATUS"),
        ("<CHANNEL>FAX</CHANNEL>", "CHANNEL"),
        ("<PAGE_SIZE>1001</PAGE_SIZE>", "PAGE_SIZE"),
        ("<PAGE>0</PAGE>", "PAGE"),
        ("<FROM_DATE>yesterday</FROM_DATE>", "FROM_DATE"),
    ] {
        app.soap(&partner(), "searchMessages", inner)
            .await
            .assert_fault("Client", field);
    }
}

async fn accept_as(
    app: &crate::helpers::TestApp,
    auth: &Auth,
    items: &[&[(&str, &str)]],
) -> Vec<String> {
    let reply = app
        .soap(auth, "updateMessages", &message_items(items))
        .await;
    reply.assert_ok();
    reply.fields("MESSAGE_ID")
}

async fn messaging_needs_the_messaging_role_and_a_provider(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_client("booker", "booker-password-123", "booking", "", false);
    let booker = Auth::basic("booker", "booker-password-123");
    app.soap(
        &booker,
        "updateMessages",
        &message_items(&[&sms("x", "+34600111222", "x")]),
    )
    .await
    .assert_fault("Client", "messaging");
    app.soap(&booker, "searchMessages", "")
        .await
        .assert_fault("Client", "messaging");
    // A server without any provider refuses every message, each with its reason.
    app.add_client(
        PARTNER,
        super::support::PARTNER_PASSWORD,
        "messaging",
        "",
        false,
    );
    let reply = app
        .soap(
            &partner(),
            "updateMessages",
            &message_items(&[&sms("x", "+34600111222", "x")]),
        )
        .await;
    reply.assert_ok();
    assert_eq!(reply.field("RESULT").as_deref(), Some("ERROR"));
    assert!(
        reply
            .field("ERROR_MESSAGE")
            .unwrap()
            .contains("no SMS provider is configured on this server (RENDEZ_SMS_PROVIDER)")
    );
    assert_eq!(count(&app), 0);
    // Too many items in one call is the caller's fault as a whole.
    let many: Vec<Vec<(&str, &str)>> = (0..1001).map(|_| sms("x", "+34600111222", "x")).collect();
    let refs: Vec<&[(&str, &str)]> = many.iter().map(Vec::as_slice).collect();
    app.soap(&partner(), "updateMessages", &message_items(&refs))
        .await
        .assert_fault("Client", "at most 1000");
}

backend_tests!(
    each_message_is_judged_on_its_own_and_the_good_ones_are_stored,
    a_repeated_legacy_id_returns_the_first_message_id_and_sends_nothing_new,
    a_repeated_legacy_id_answers_exactly_as_the_first_time_segments_included,
    two_identical_calls_at_once_queue_one_message,
    search_filters_pages_and_shows_a_client_only_its_own_messages,
    messaging_needs_the_messaging_role_and_a_provider,
);

async fn the_log_provider_marks_messages_sent_without_sending(backend: Backend) {
    let app = spawn_with(backend, |s| {
        super::support::fast(s);
        s.sms_provider = Some("log".into());
        s.email_provider = Some("log".into());
    })
    .await;
    let ids = accept(
        &app,
        &[
            &sms("log-1", "+34600111222", "Hola"),
            &[
                ("LEGACY_ID", "log-2"),
                ("CHANNEL", "EMAIL"),
                ("TO", "zoe@example.org"),
                ("BODY", "Hola"),
            ],
        ],
    )
    .await;
    for id in &ids {
        super::support::wait_for_status(&app.pool, id, "SENT", Duration::from_secs(10)).await;
        let (_, _, _, provider_id) = super::support::row_of(&app.pool, id);
        assert_eq!(provider_id, Some(format!("log-{id}")));
    }
}

async fn serve_without_workers_accepts_but_sends_nothing(backend: Backend) {
    let provider = FakeProvider::start().await;
    let db = std::sync::Arc::new(crate::helpers::TestDatabase::new(backend));
    let mut settings = crate::helpers::test_settings(&db);
    twilio_settings(&mut settings, &provider.url);
    let config = settings.resolve().unwrap();
    let pool = rendez::db::connect(&config.database_url, config.pool).unwrap();
    let key = std::sync::Arc::new(
        rendez::auth::SecretKey::from_base64(config.secret_key.as_deref().unwrap()).unwrap(),
    );
    let app = rendez::startup::Application::build(config, pool.clone(), key)
        .unwrap()
        .without_workers();
    let address = format!("http://127.0.0.1:{}/soap", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    let mut conn = pool.get().unwrap();
    let now = chrono::Utc::now().naive_utc();
    let hash = rendez::auth::hash_secret(super::support::PARTNER_PASSWORD);
    rendez::db::clients::insert(
        &mut conn,
        &rendez::db::clients::NewClient {
            id: "partner-id",
            name: PARTNER,
            roles: "messaging",
            centers: "",
            secret_hash: &hash,
            digest_secret: None,
            disabled: false,
            created_at: now,
            updated_at: now,
        },
    )
    .unwrap();
    drop(conn);
    let body = crate::helpers::envelope11(
        &partner(),
        "updateMessages",
        &message_items(&[&sms("nw-1", "+34600111222", "Hola")]),
    );
    let reply = reqwest::Client::new()
        .post(&address)
        .basic_auth(PARTNER, Some(super::support::PARTNER_PASSWORD))
        .header("Content-Type", "text/xml; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(reply.contains("<RESULT>OK</RESULT>"), "{reply}");
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert!(provider.received().is_empty());
    let mut conn = pool.get().unwrap();
    let status: String = messages::table
        .select(messages::status)
        .first(&mut conn)
        .unwrap();
    assert_eq!(status, "QUEUED");
    // The outbox's depth shows in /metrics, by channel and state.
    let metrics = reqwest::Client::new()
        .get(address.replace("/soap", "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"rendez_outbox_messages{channel="SMS",state="QUEUED"} 1"#),
        "{metrics}"
    );
}

backend_tests!(
    the_log_provider_marks_messages_sent_without_sending,
    serve_without_workers_accepts_but_sends_nothing,
);
