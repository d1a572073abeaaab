//! Patients answering by SMS through each provider's inbound webhook (Twilio's signed form,
//! Jasmin's MO), with the answers Rendez sends back delivered through the same provider, and STOP
//! held at the gate for every SMS queued before it.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use rendez::messaging::gate::STOPPED_REASON;

use super::wired::{Signature, SmsVia, WAIT, eventually, twilio_inbound, wired};
use super::{
    EMAIL, MADRID, MO_SECRET, PHONE, book, clinic, fields_xml, local, messages_of, mo, offered,
    start_with, status_of, tick,
};
use crate::backend_tests;
use crate::helpers::{Auth, Backend, spawn_app_on, test_settings};
use crate::messaging::support::{
    FakeProvider, PARTNER, PARTNER_PASSWORD, message_items, partner, row_of, twilio_settings,
    wait_until_settled,
};

backend_tests!(
    patients_confirm_cancel_ask_stop_and_start_by_sms_through_twilio,
    patients_confirm_cancel_ask_stop_and_start_by_sms_through_jasmin,
    twilio_inbound_messages_without_a_valid_signature_are_refused_and_change_nothing,
    an_sms_queued_before_its_number_sent_stop_is_not_sent_whoever_queued_it,
);

async fn patients_confirm_cancel_ask_stop_and_start_by_sms_through_twilio(backend: Backend) {
    replies_of_every_kind(backend, SmsVia::Twilio).await
}

async fn patients_confirm_cancel_ask_stop_and_start_by_sms_through_jasmin(backend: Backend) {
    replies_of_every_kind(backend, SmsVia::Jasmin).await
}

const OTHER_PHONE: &str = "+34600999888";

async fn replies_of_every_kind(backend: Backend, via: SmsVia) {
    let w = wired(backend, via, |_, _| {}).await;
    clinic(&w.app).await;
    let first = book(&w.app, "2027-03-10", "10:00", &[]).await;
    let second = book(&w.app, "2027-03-12", "10:00", &[]).await;
    tick(&w.scheduler, Utc::now()).await;
    w.sms_to(PHONE, 2).await;

    // The clinic system's cursor, from a poll once the bookings have settled (a timestamp of
    // its own would be read with an overlap and show them again).
    actix_web::rt::time::sleep(StdDuration::from_millis(2100)).await;
    let since = w
        .app
        .soap(
            &Auth::admin(),
            "getAppointments",
            &fields_xml(&[("LAST_REQUEST_TIMESTAMP", "01/01/2000 00:00:00")]),
        )
        .await
        .field("LAST_REQUEST_TIMESTAMP")
        .expect("a cursor");

    // "Sí" confirms the next messaged appointment: APPROVED, and the clinic system sees it.
    w.patient_replies("in-1", PHONE, "Sí").await;
    assert_eq!(status_of(&w.app, &first).await, "APPROVED");
    assert_eq!(status_of(&w.app, &second).await, "PENDING");
    let texts = w.sms_to(PHONE, 3).await;
    assert!(
        texts[2].contains("gracias, su cita del 10/03/2027 a las 10:00 queda confirmada"),
        "{}",
        texts[2]
    );
    // Changes settle for 2 s before getAppointments shows them.
    actix_web::rt::time::sleep(StdDuration::from_millis(2100)).await;
    let polled = w
        .app
        .soap(
            &Auth::admin(),
            "getAppointments",
            &fields_xml(&[("LAST_REQUEST_TIMESTAMP", &since)]),
        )
        .await;
    assert_eq!(
        polled.fields("APP_LID"),
        vec![first.clone()],
        "{}",
        polled.body
    );
    assert_eq!(polled.field("STATUS").as_deref(), Some("APPROVED"));
    let next_poll = polled
        .field("LAST_REQUEST_TIMESTAMP")
        .expect("the timestamp to poll with next");

    // The provider delivering the same message again changes nothing and answers nothing.
    w.patient_replies("in-1", PHONE, "Sí").await;

    // "2" cancels it: CANCELLED by USER, the slot can be booked again, the clinic system sees it.
    assert!(!offered(&w.app, "2027-03-10", "10:00").await);
    w.patient_replies("in-2", PHONE, "2").await;
    assert_eq!(status_of(&w.app, &first).await, "CANCELLED by USER");
    assert!(offered(&w.app, "2027-03-10", "10:00").await);
    book(
        &w.app,
        "2027-03-10",
        "10:00",
        &[
            ("USER_ID_NUMBER", "SLOT-FREE"),
            ("USER_MOBILE_PHONE", OTHER_PHONE),
        ],
    )
    .await;
    actix_web::rt::time::sleep(StdDuration::from_millis(2100)).await;
    let polled = w
        .app
        .soap(
            &Auth::admin(),
            "getAppointments",
            &fields_xml(&[("LAST_REQUEST_TIMESTAMP", &next_poll)]),
        )
        .await;
    let statuses: Vec<(String, String)> = polled
        .fields("APP_LID")
        .into_iter()
        .zip(polled.fields("STATUS"))
        .collect();
    assert!(
        statuses.contains(&(first.clone(), "CANCELLED by USER".into())),
        "{}",
        polled.body
    );
    // The patient is told of the cancellation when the scheduler next runs.
    tick(&w.scheduler, Utc::now()).await;
    let texts = w.sms_to(PHONE, 4).await;
    assert!(texts[3].contains("ha sido anulada"), "{}", texts[3]);

    // Anything else gets the help text, once an hour at most.
    w.patient_replies("in-3", PHONE, "¿A qué hora era?").await;
    let texts = w.sms_to(PHONE, 5).await;
    assert!(
        texts[4].starts_with("Responda 1 para confirmar"),
        "{}",
        texts[4]
    );
    w.patient_replies("in-4", PHONE, "hola??").await;

    // STOP: no answer, and the next reminder goes by email; START: SMS again, with a word.
    w.patient_replies("in-5", PHONE, "STOP").await;
    tick(&w.scheduler, local(MADRID, "2027-03-09", "10:00")).await;
    let mails = w.emails_to(EMAIL, 1).await;
    assert!(mails[0].contains("12/03/2027 a las 10:00"), "{}", mails[0]);
    wait_until_settled(&w.app.pool, WAIT).await;
    assert_eq!(
        w.sms.received_for(PHONE).len(),
        5,
        "no second help, no answer to a repeat or to STOP, no SMS while stopped"
    );
    w.patient_replies("in-6", PHONE, "Start").await;
    let texts = w.sms_to(PHONE, 6).await;
    assert!(texts[5].starts_with("Volverá a recibir"), "{}", texts[5]);
    tick(&w.scheduler, local(MADRID, "2027-03-11", "10:00")).await;
    let texts = w.sms_to(PHONE, 7).await;
    assert!(
        texts[6].starts_with("Recordatorio") && texts[6].contains("12/03/2027"),
        "{}",
        texts[6]
    );
    assert_eq!(status_of(&w.app, &second).await, "PENDING");
}

async fn twilio_inbound_messages_without_a_valid_signature_are_refused_and_change_nothing(
    backend: Backend,
) {
    let w = wired(backend, SmsVia::Twilio, |_, _| {}).await;
    clinic(&w.app).await;
    let lid = book(&w.app, "2027-03-10", "10:00", &[]).await;
    tick(&w.scheduler, Utc::now()).await;
    for (sid, signature) in [("bad-1", Signature::Wrong), ("bad-2", Signature::Missing)] {
        let (status, body) = twilio_inbound(&w.app, sid, PHONE, "2", signature).await;
        assert_eq!(status, 403, "{signature:?}: {body}");
        assert!(body.contains("X-Twilio-Signature"), "{body}");
    }
    // Signed, but not what Twilio sends: refused, naming the field.
    let (status, body) =
        twilio_inbound(&w.app, "ok-1", "not a number", "2", Signature::Valid).await;
    assert_eq!(status, 400);
    assert!(body.contains("From"), "{body}");
    assert_eq!(status_of(&w.app, &lid).await, "PENDING");
    assert_eq!(messages_of(&w.app, &lid).len(), 1);

    // A server whose SMS provider is Jasmin has no Twilio webhook to offer.
    let (jasmin, _) = start_with(backend, |s| {
        crate::messaging::support::jasmin_settings(s, "http://127.0.0.1:9")
    })
    .await;
    let (status, body) = twilio_inbound(&jasmin, "x-1", PHONE, "2", Signature::Valid).await;
    assert_eq!(status, 404);
    assert!(body.contains("Twilio is not the SMS provider"), "{body}");
}

/// The gate stops an SMS to a number that sent STOP after the message was queued: the memo's
/// own notices and partners' messages alike, with the reason recorded; START lifts it.
async fn an_sms_queued_before_its_number_sent_stop_is_not_sent_whoever_queued_it(backend: Backend) {
    // A server without an SMS provider queues the confirmation, which no worker sends yet.
    let (app, scheduler) =
        start_with(backend, |s| s.jasmin_mo_secret = Some(MO_SECRET.into())).await;
    clinic(&app).await;
    let lid = book(&app, "2027-03-10", "10:00", &[]).await;
    tick(&scheduler, Utc::now()).await;
    let confirmation_id = {
        use diesel::prelude::*;
        use rendez::db::schema::{appointment_notices, appointments};
        let mut conn = app.pool.get().unwrap();
        appointment_notices::table
            .inner_join(appointments::table)
            .filter(appointments::lid.eq(&lid))
            .filter(appointment_notices::kind.eq("confirmation"))
            .select(appointment_notices::message_id)
            .first::<Option<String>>(&mut conn)
            .unwrap()
            .expect("the confirmation is queued")
    };
    let stop = |id: &'static str, from: &'static str, text: &'static str| {
        let app = &app;
        async move {
            let (status, body) = mo(
                app,
                MO_SECRET,
                &[("id", id), ("from", from), ("content", text)],
            )
            .await;
            assert_eq!((status, body.as_str()), (200, "ACK/Jasmin"), "{text}");
        }
    };
    stop("s-1", "34600111222", "STOP").await;

    // A second process with an SMS provider starts sending.
    let provider = FakeProvider::start().await;
    let mut settings = test_settings(&app.db);
    twilio_settings(&mut settings, &provider.url);
    let sender = spawn_app_on(Arc::clone(&app.db), settings).await;
    sender.add_client(PARTNER, PARTNER_PASSWORD, "messaging", "", false);
    let (status, _, error, _) = eventually("the gate to stop the confirmation", || {
        let row = row_of(&sender.pool, &confirmation_id);
        (row.0 != "QUEUED" && row.0 != "SENDING").then_some(row)
    })
    .await;
    assert_eq!(status, "FAILED");
    assert_eq!(error.as_deref(), Some(STOPPED_REASON));

    // A partner's messages due in a few seconds; one of the two numbers sends STOP meanwhile.
    let send_at = (Utc::now() + Duration::seconds(3)).to_rfc3339();
    let items = message_items(&[
        &[
            ("LEGACY_ID", "p-1"),
            ("CHANNEL", "SMS"),
            ("TO", "+34600555001"),
            ("BODY", "Su pedido está listo"),
            ("SEND_AT", &send_at),
        ],
        &[
            ("LEGACY_ID", "p-2"),
            ("CHANNEL", "SMS"),
            ("TO", "+34600555002"),
            ("BODY", "Su pedido está listo"),
            ("SEND_AT", &send_at),
        ],
    ]);
    let accepted = sender.soap(&partner(), "updateMessages", &items).await;
    assert_eq!(accepted.fields("RESULT"), ["OK", "OK"], "{}", accepted.body);
    stop("s-2", "34600555001", "stop").await;
    wait_until_settled(&sender.pool, WAIT).await;
    let found = sender
        .soap(&partner(), "searchMessages", "<LEGACY_ID>p-1</LEGACY_ID>")
        .await;
    assert_eq!(
        found.field("STATUS").as_deref(),
        Some("FAILED"),
        "{}",
        found.body
    );
    assert_eq!(
        found.field("ERROR_MESSAGE").as_deref(),
        Some(STOPPED_REASON)
    );
    let found = sender
        .soap(&partner(), "searchMessages", "<LEGACY_ID>p-2</LEGACY_ID>")
        .await;
    assert_eq!(
        found.field("STATUS").as_deref(),
        Some("SENT"),
        "{}",
        found.body
    );
    assert!(
        provider.received_for(PHONE).is_empty(),
        "{:?}",
        provider.received()
    );
    assert!(provider.received_for("+34600555001").is_empty());
    assert_eq!(provider.received_for("+34600555002").len(), 1);

    // START: the number gets SMS again (first the word that says so, in the fallback language:
    // no appointment was messaged to it).
    stop("s-3", "34600555001", "START").await;
    let again = message_items(&[&[
        ("LEGACY_ID", "p-3"),
        ("CHANNEL", "SMS"),
        ("TO", "+34600555001"),
        ("BODY", "Su pedido está listo"),
    ]]);
    let accepted = sender.soap(&partner(), "updateMessages", &again).await;
    assert_eq!(accepted.fields("RESULT"), ["OK"], "{}", accepted.body);
    wait_until_settled(&sender.pool, WAIT).await;
    let bodies: Vec<String> = provider
        .received_for("+34600555001")
        .iter()
        .map(super::wired::sms_text)
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(
        bodies
            .iter()
            .any(|b| b.starts_with("You will receive our texts again")),
        "{bodies:?}"
    );
    assert!(
        bodies.contains(&"Su pedido está listo".to_string()),
        "{bodies:?}"
    );
}
