//! Appointment messages as patients receive them: booked and cancelled over SOAP, planned and
//! queued by the scheduler at chosen instants, sent by the server's own workers to a local SMS
//! provider or a real SMTP server. The texts are checked where they arrive.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use rendez::db::schema::messages;

use super::wired::{SmsVia, eventually, wired};
use super::{
    EMAIL, H24, H72, MADRID, PHONE, book, clinic, fields_xml, local, messages_of, notices_of,
    state_of, tick,
};
use crate::backend_tests;
use crate::helpers::{Auth, Backend, TestApp, sample, scrape, spawn_app_on, test_settings};
use crate::messaging::email::mail_text;
use crate::messaging::support::{SmtpServer, smtp_settings, twilio_settings, wait_until_settled};

backend_tests!(
    a_booking_s_confirmation_and_each_reminder_reach_the_patient_by_sms_with_name_center_clock_and_link,
    a_patient_who_allows_only_email_gets_confirmation_and_reminder_through_smtp,
    a_server_without_an_sms_provider_writes_to_patients_with_a_mobile_by_email,
    a_cancellation_reaches_the_patient_and_the_withdrawn_reminders_never_go,
    after_downtime_the_first_tick_of_a_restarted_server_delivers_the_due_reminder_once,
    a_reminder_due_in_quiet_hours_reaches_the_patient_in_the_morning,
    across_daylight_saving_changes_the_reminder_arrives_at_the_same_clock_time,
    the_metrics_count_scheduler_ticks_notices_and_sends_per_provider,
);

async fn the_metrics_count_scheduler_ticks_notices_and_sends_per_provider(backend: Backend) {
    let w = wired(backend, SmsVia::Twilio, |_, _| {}).await;
    clinic(&w.app).await;
    let sent = r#"rendez_message_attempts_total{channel="SMS",outcome="SENT",provider="twilio"}"#;
    let ticks = "rendez_scheduler_ticks_total";
    let queued = r#"rendez_scheduler_notices_total{outcome="queued"}"#;
    let before = scrape(&w.app).await;
    let lid = book(&w.app, "2027-03-10", "10:00", &[]).await;
    tick(&w.scheduler, Utc::now()).await;
    all_sent(&w.app, &lid).await;
    let after = scrape(&w.app).await;
    // Counters are the process's: other tests move them too, never backwards.
    assert!(
        sample(&after, sent) >= sample(&before, sent) + 1.0,
        "{after}"
    );
    assert!(
        sample(&after, ticks) >= sample(&before, ticks) + 1.0,
        "{after}"
    );
    assert!(
        sample(&after, queued) >= sample(&before, queued) + 1.0,
        "{after}"
    );
}

/// The last address of this server's patient pages in `text` (in an email as the tests read
/// it, the decoded body comes last).
fn link_in(app: &TestApp, text: &str) -> String {
    let at = text
        .rfind(&format!("{}/a/", app.address))
        .unwrap_or_else(|| panic!("no link in {text}"));
    text[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches('.')
        .to_string()
}

/// Waits until every outbox message about the appointment is `SENT`; returns how many.
async fn all_sent(app: &TestApp, lid: &str) -> usize {
    eventually(&format!("the messages about {lid} SENT"), || {
        let sent = messages_of(app, lid);
        sent.iter()
            .all(|(_, (_, _, _, _, status))| status == "SENT")
            .then_some(sent.len())
    })
    .await
}

async fn a_booking_s_confirmation_and_each_reminder_reach_the_patient_by_sms_with_name_center_clock_and_link(
    backend: Backend,
) {
    let w = wired(backend, SmsVia::Twilio, |_, _| {}).await;
    clinic(&w.app).await;
    let lid = book(&w.app, "2027-03-10", "10:00", &[]).await;
    tick(&w.scheduler, Utc::now()).await;

    let texts = w.sms_to(PHONE, 1).await;
    let confirmation = &texts[0];
    // 10:00 in Madrid is 09:00 UTC: the text shows the center's clock.
    assert!(
        confirmation.contains("Zoë, su cita con Zoë Peña es el 10/03/2027 a las 10:00"),
        "{confirmation}"
    );
    assert!(!confirmation.contains("09:00"), "{confirmation}");
    let page = w
        .app
        .http
        .get(link_in(&w.app, confirmation))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("10/03/2027") && html.contains("10:00"),
        "{html}"
    );

    // Each reminder at its instant: 72 hours, then 24 hours before, on Madrid's clock.
    tick(&w.scheduler, local(MADRID, "2027-03-07", "09:59")).await;
    tick(&w.scheduler, local(MADRID, "2027-03-07", "10:00")).await;
    let texts = w.sms_to(PHONE, 2).await;
    assert!(
        texts[1].starts_with(
            "Recordatorio Centro Uno: Zoë, tiene cita con Zoë Peña el 10/03/2027 a las 10:00"
        ),
        "{}",
        texts[1]
    );
    tick(&w.scheduler, local(MADRID, "2027-03-09", "10:00")).await;
    let texts = w.sms_to(PHONE, 3).await;
    assert!(texts[2].contains("10/03/2027 a las 10:00"), "{}", texts[2]);
    // Every message carries its own link to the same appointment.
    let links: Vec<String> = texts.iter().map(|t| link_in(&w.app, t)).collect();
    assert!(links[0] != links[1] && links[1] != links[2], "{links:?}");

    assert_eq!(all_sent(&w.app, &lid).await, 3);
    // Later ticks send nothing more.
    tick(&w.scheduler, local(MADRID, "2027-03-10", "09:00")).await;
    wait_until_settled(&w.app.pool, super::wired::WAIT).await;
    assert_eq!(w.sms.received_for(PHONE).len(), 3);
    // Twilio was asked to report on each message.
    let callback = format!("{}/hooks/twilio/status", w.app.address);
    assert!(
        w.sms
            .received_for(PHONE)
            .iter()
            .all(|r| r.get("StatusCallback") == Some(callback.as_str()))
    );
}

async fn a_patient_who_allows_only_email_gets_confirmation_and_reminder_through_smtp(
    backend: Backend,
) {
    let w = wired(backend, SmsVia::Jasmin, |s, _| {
        s.reminders = Some("24h".into());
    })
    .await;
    clinic(&w.app).await;
    let lid = book(
        &w.app,
        "2027-03-10",
        "10:00",
        &[("COMMUNICATION_PREFERENCES", "010")],
    )
    .await;
    tick(&w.scheduler, Utc::now()).await;
    let mails = w.emails_to(EMAIL, 1).await;
    let confirmation = &mails[0];
    assert!(
        confirmation.contains("Cita reservada: 10/03/2027 a las 10:00, Centro Uno"),
        "the subject: {confirmation}"
    );
    assert!(confirmation.contains("Estimado/a Zoë:"), "{confirmation}");
    assert!(
        confirmation.contains("Fecha: 10/03/2027 a las 10:00"),
        "{confirmation}"
    );
    let page = w
        .app
        .http
        .get(link_in(&w.app, confirmation))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);

    tick(&w.scheduler, local(MADRID, "2027-03-09", "10:00")).await;
    let mails = w.emails_to(EMAIL, 2).await;
    assert!(
        mails
            .iter()
            .any(|m| m.contains("Recordatorio: su cita del 10/03/2027 a las 10:00")),
        "{mails:?}"
    );
    assert_eq!(all_sent(&w.app, &lid).await, 2);
    assert!(
        w.sms.received_for(PHONE).is_empty(),
        "SMS is not allowed: {:?}",
        w.sms.received()
    );
}

async fn a_server_without_an_sms_provider_writes_to_patients_with_a_mobile_by_email(
    backend: Backend,
) {
    let smtp = SmtpServer::start(None);
    let (app, scheduler) = super::start_with(backend, |s| smtp_settings(s, &smtp)).await;
    clinic(&app).await;
    let by_email = book(&app, "2027-03-10", "10:00", &[]).await;
    // A patient who allows SMS only cannot be written to at all, and the notice says why.
    let nowhere = book(
        &app,
        "2027-03-10",
        "11:00",
        &[
            ("COMMUNICATION_PREFERENCES", "100"),
            ("USER_ID_NUMBER", "SMS-ONLY"),
        ],
    )
    .await;
    tick(&scheduler, Utc::now()).await;
    let mail = eventually("the confirmation by email", || {
        smtp.messages().into_iter().next()
    })
    .await;
    assert_eq!(mail.0, [EMAIL]);
    assert!(mail_text(&mail.1).contains("Cita reservada: 10/03/2027 a las 10:00"));
    assert_eq!(all_sent(&app, &by_email).await, 1);
    assert_eq!(state_of(&app, &nowhere, "confirmation", 0), "skipped");
    let reason = notices_of(&app, &nowhere)[0].4.clone().unwrap();
    assert!(
        reason.contains("no provider") && reason.contains("SMS"),
        "{reason}"
    );
}

async fn a_cancellation_reaches_the_patient_and_the_withdrawn_reminders_never_go(backend: Backend) {
    let w = wired(backend, SmsVia::Jasmin, |_, _| {}).await;
    clinic(&w.app).await;
    let lid = book(&w.app, "2027-03-10", "10:00", &[]).await;
    tick(&w.scheduler, Utc::now()).await;
    w.sms_to(PHONE, 1).await;
    let reply = w
        .app
        .soap(
            &Auth::admin(),
            "deleteAppointment",
            &fields_xml(&[("APP_LID", &lid)]),
        )
        .await;
    assert_eq!(
        reply.field("DELETE_RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    tick(&w.scheduler, Utc::now()).await;
    let texts = w.sms_to(PHONE, 2).await;
    assert!(
        texts[1].contains("su cita con Zoë Peña del 10/03/2027 a las 10:00 ha sido anulada"),
        "{}",
        texts[1]
    );
    assert!(
        !texts[1].contains("/a/"),
        "no link to a cancelled appointment"
    );
    for now in [
        local(MADRID, "2027-03-07", "10:00"),
        local(MADRID, "2027-03-09", "10:00"),
    ] {
        tick(&w.scheduler, now).await;
    }
    wait_until_settled(&w.app.pool, super::wired::WAIT).await;
    assert_eq!(w.sms.received_for(PHONE).len(), 2);
    assert_eq!(state_of(&w.app, &lid, "reminder", H72), "withdrawn");
    assert_eq!(state_of(&w.app, &lid, "reminder", H24), "withdrawn");
}

async fn after_downtime_the_first_tick_of_a_restarted_server_delivers_the_due_reminder_once(
    backend: Backend,
) {
    let w = wired(backend, SmsVia::Twilio, |_, _| {}).await;
    clinic(&w.app).await;
    let early = book(&w.app, "2027-03-10", "09:00", &[]).await;
    let late = book(&w.app, "2027-03-12", "12:00", &[]).await;
    tick(&w.scheduler, Utc::now()).await;
    w.sms_to(PHONE, 2).await;
    wait_until_settled(&w.app.pool, super::wired::WAIT).await;

    // The server goes down before any reminder is due...
    w.app.server.stop(true).await;
    // ...and comes back on 11 March at 13:00: the 09:00 appointment of the 10th has begun, both
    // reminders of the one on the 12th fell due meanwhile.
    let mut settings = test_settings(&w.app.db);
    settings.secret_key = Some(w.app.secret_key.to_base64());
    settings.booking_lead = Some("0".into());
    settings.scheduler_interval = Some("1h".into());
    twilio_settings(&mut settings, &w.sms.url);
    smtp_settings(&mut settings, &w.smtp);
    let config = settings.clone().resolve().unwrap();
    let back = spawn_app_on(w.app.db.clone(), settings).await;
    let scheduler = rendez::memo::scheduler::Scheduler {
        pool: back.pool.clone(),
        config: std::sync::Arc::new(config.memo),
        key: back.secret_key.clone(),
        public_url: back.address.clone(),
    };
    let report = tick(&scheduler, local(MADRID, "2027-03-11", "13:00")).await;
    assert_eq!(report.dispatched.queued, 1, "{report:?}");
    let texts = w.sms_to(PHONE, 3).await;
    assert!(
        texts[2].starts_with("Recordatorio Centro Uno")
            && texts[2].contains("12/03/2027 a las 12:00"),
        "the late appointment's reminder, sent late: {}",
        texts[2]
    );
    // Once: a second catch-up (or the same instant again) sends nothing more.
    tick(&scheduler, local(MADRID, "2027-03-11", "13:05")).await;
    wait_until_settled(&back.pool, super::wired::WAIT).await;
    assert_eq!(w.sms.received_for(PHONE).len(), 3);
    for offset in [H72, H24] {
        assert_eq!(state_of(&back, &early, "reminder", offset), "dropped");
    }
    assert_eq!(state_of(&back, &late, "reminder", H72), "dropped");
    assert_eq!(state_of(&back, &late, "reminder", H24), "queued");
    let reasons: Vec<Option<String>> = notices_of(&back, &early)
        .into_iter()
        .filter(|n| n.0 == "reminder")
        .map(|n| n.4)
        .collect();
    assert!(
        reasons
            .iter()
            .all(|r| r.as_deref() == Some("the appointment had begun when the notice fell due")),
        "{reasons:?}"
    );
}

async fn a_reminder_due_in_quiet_hours_reaches_the_patient_in_the_morning(backend: Backend) {
    let w = wired(backend, SmsVia::Jasmin, |s, _| {
        s.reminders = Some("12h".into());
    })
    .await;
    clinic(&w.app).await;
    // 12 hours before 10:00 is 22:00, inside the default quiet hours 21:00-08:00.
    let lid = book(&w.app, "2027-03-12", "10:00", &[]).await;
    tick(&w.scheduler, Utc::now()).await;
    w.sms_to(PHONE, 1).await;
    for night in ["22:00", "23:30"] {
        tick(&w.scheduler, local(MADRID, "2027-03-11", night)).await;
    }
    tick(&w.scheduler, local(MADRID, "2027-03-12", "07:59")).await;
    assert_eq!(
        messages_of(&w.app, &lid).len(),
        1,
        "nothing is queued at night: {:?}",
        notices_of(&w.app, &lid)
    );
    tick(&w.scheduler, local(MADRID, "2027-03-12", "08:00")).await;
    let texts = w.sms_to(PHONE, 2).await;
    assert!(texts[1].contains("12/03/2027 a las 10:00"), "{}", texts[1]);
    assert_eq!(all_sent(&w.app, &lid).await, 2);
}

async fn across_daylight_saving_changes_the_reminder_arrives_at_the_same_clock_time(
    backend: Backend,
) {
    let w = wired(backend, SmsVia::Twilio, |s, _| {
        s.reminders = Some("24h".into());
        s.quiet_hours = Some("".into());
    })
    .await;
    clinic(&w.app).await;
    // Madrid moves to summer time at 02:00 on 28 March 2027 and back at 03:00 on 31 October:
    // the day before is 23 and 25 real hours long respectively.
    let spring = book(&w.app, "2027-03-28", "10:00", &[]).await;
    let autumn = book(
        &w.app,
        "2027-10-31",
        "10:00",
        &[
            ("USER_MOBILE_PHONE", "+34600333444"),
            ("USER_ID_NUMBER", "AUT1"),
        ],
    )
    .await;
    tick(&w.scheduler, Utc::now()).await;
    w.sms_to(PHONE, 1).await;
    w.sms_to("+34600333444", 1).await;
    for (lid, phone, day, real_hours) in [
        (&spring, PHONE, "2027-03-27", 23),
        (&autumn, "+34600333444", "2027-10-30", 25),
    ] {
        let due = local(MADRID, day, "10:00");
        let start = due + Duration::hours(real_hours);
        assert_eq!(
            start.with_timezone(&MADRID).format("%H:%M").to_string(),
            "10:00"
        );
        // A minute before the clock's 10:00 nothing goes; at 10:00 the reminder does.
        tick(&w.scheduler, due - Duration::minutes(1)).await;
        assert_eq!(messages_of(&w.app, lid).len(), 1, "{lid}");
        tick(&w.scheduler, due).await;
        let texts = w.sms_to(phone, 2).await;
        let date = if lid == &spring {
            "28/03/2027"
        } else {
            "31/10/2027"
        };
        assert!(
            texts[1].contains(&format!("{date} a las 10:00")),
            "{}",
            texts[1]
        );
    }
    let mut conn = w.app.pool.get().unwrap();
    let reminders: i64 = messages::table
        .filter(messages::body.like("Recordatorio%"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(reminders, 2);
}
