//! "Your results are ready" (issue 6): a test result pushed over SOAP tells its patient, in the
//! store's transaction, through the outbox, on the channel and in the language the memo would
//! choose, with the download page's address and never the code, the ID number or the content.

use diesel::prelude::*;
use rendez::crypto::keyring::generate_key_text;
use rendez::db::schema::{messages, result_events, test_results};

use super::wired::{SmsVia, WAIT, Wired, wired};
use super::{PHONE, book, clinic};
use crate::backend_tests;
use crate::helpers::Backend;
use crate::messaging::support::wait_until_settled;
use crate::results::{Item, LAB, LAB_PASSWORD};

backend_tests!(
    a_result_made_available_is_announced_by_sms_in_the_patient_s_language_with_the_page_and_never_the_code,
    the_results_notice_goes_by_email_when_only_email_is_allowed_or_the_mobile_sent_stop_and_nowhere_when_nothing_is,
    a_result_is_announced_once_per_availability_and_again_after_a_reissue_following_a_cancellation,
);

async fn results_server(backend: Backend, via: SmsVia) -> Wired {
    let w = wired(backend, via, |s, _| {
        s.results_key = Some(generate_key_text("k1"));
    })
    .await;
    w.app.add_client(LAB, LAB_PASSWORD, "results", "", false);
    w
}

/// The result's history as (event, outcome), oldest first.
fn history(w: &Wired, lid: &str) -> Vec<(String, String)> {
    let mut conn = w.app.pool.get().unwrap();
    let id: String = test_results::table
        .filter(test_results::lid.eq(lid))
        .select(test_results::id)
        .first(&mut conn)
        .unwrap();
    result_events::table
        .filter(result_events::result_id.eq(id))
        .order((result_events::at.asc(), result_events::id.asc()))
        .select((result_events::event, result_events::outcome))
        .load(&mut conn)
        .unwrap()
}

fn notices_in(history: &[(String, String)]) -> Vec<&str> {
    history
        .iter()
        .filter(|(event, _)| event == "notice")
        .map(|(_, outcome)| outcome.as_str())
        .collect()
}

/// Asserts that a patient's message says nothing it must not.
#[track_caller]
fn tells_no_secret(text: &str, item: &Item) {
    let lower = text.to_lowercase();
    for secret in [&item.code, &item.id_number] {
        assert!(
            !lower.contains(&secret.to_lowercase()),
            "{secret} in the message: {text}"
        );
    }
    let content = String::from_utf8_lossy(&item.content);
    assert!(!text.contains(content.as_ref()), "the content in: {text}");
}

async fn a_result_made_available_is_announced_by_sms_in_the_patient_s_language_with_the_page_and_never_the_code(
    backend: Backend,
) {
    let w = results_server(backend, SmsVia::Twilio).await;
    clinic(&w.app).await;
    // A patient the clinic knows from a booking: Spanish, mobile and email (no message was sent
    // about the booking: the scheduler has not run).
    book(
        &w.app,
        "2027-03-10",
        "10:00",
        &[("USER_ID_NUMBER", "RES-12345")],
    )
    .await;
    let mut known = Item::new(
        "R-ES",
        "NOTICECODE7Q2X",
        "RES-12345",
        b"hemoglobina 14.2 marker",
    );
    known.user_lid = None;
    let known = known.with("LOCATION_LID", "C1");
    w.app.push_ok(&known).await;
    let texts = w.sms_to(PHONE, 1).await;
    let page = format!("{}/results", w.app.address);
    assert_eq!(
        texts[0],
        format!(
            "Centro Uno: Zoë, sus resultados ya están disponibles. Descárguelos en {page} con el código que le dieron en el centro y su número de documento."
        )
    );
    tells_no_secret(&texts[0], &known);
    assert_eq!(w.app.get("/results").await.status(), 200);
    assert_eq!(notices_in(&history(&w, "R-ES")), ["sms"]);

    // A patient first known from the result itself, with no language: the fallback (English).
    let stranger = Item::new("R-EN", "STRANGER9K3PW", "EN-777", b"glucose 5.1 marker")
        .with("USER_MOBILE_PHONE", "+34600444555");
    w.app.push_ok(&stranger).await;
    let texts = w.sms_to("+34600444555", 1).await;
    assert_eq!(
        texts[0],
        format!(
            "Your clinic: Hello, your results are ready. Download them at {page} with the code the clinic gave you and your ID number."
        )
    );
    tells_no_secret(&texts[0], &stranger);
}

async fn the_results_notice_goes_by_email_when_only_email_is_allowed_or_the_mobile_sent_stop_and_nowhere_when_nothing_is(
    backend: Backend,
) {
    let w = results_server(backend, SmsVia::Jasmin).await;
    let page = format!("{}/results", w.app.address);
    let email_only = Item::new("R-MAIL", "MAILCODE4H7TZ", "MAIL-1", b"ferritin marker")
        .with("USER_MOBILE_PHONE", "+34600777001")
        .with("USER_EMAIL", "ana@example.org")
        .with("COMMUNICATION_PREFERENCES", "010");
    w.app.push_ok(&email_only).await;
    let mails = w.emails_to("ana@example.org", 1).await;
    assert!(
        mails[0].contains("Your results are ready"),
        "the subject: {}",
        mails[0]
    );
    assert!(mails[0].contains("Dear patient,"), "{}", mails[0]);
    assert!(mails[0].contains(&page), "{}", mails[0]);
    tells_no_secret(&mails[0], &email_only);
    assert_eq!(notices_in(&history(&w, "R-MAIL")), ["email"]);

    // The mobile answered STOP: email instead, or nothing if SMS is all the patient allows.
    let (status, _) = w.patient_says("mo-1", "+34600777002", "STOP").await;
    assert_eq!(status, 200);
    let stopped = Item::new("R-STOP", "STOPCODE8M2QX", "STOP-1", b"lipids marker")
        .with("USER_MOBILE_PHONE", "+34600777002")
        .with("USER_EMAIL", "bea@example.org");
    w.app.push_ok(&stopped).await;
    let mails = w.emails_to("bea@example.org", 1).await;
    assert!(mails[0].contains(&page), "{}", mails[0]);
    let sms_only = Item::new("R-SMS", "SMSONLY3T9VB", "STOP-2", b"urea marker")
        .with("USER_MOBILE_PHONE", "+34600777002")
        .with("COMMUNICATION_PREFERENCES", "100");
    w.app.push_ok(&sms_only).await;
    let nothing = Item::new("R-NONE", "NOTHING6Q4RZ", "NONE-1", b"iron marker")
        .with("USER_MOBILE_PHONE", "+34600777003")
        .with("USER_EMAIL", "carla@example.org")
        .with("COMMUNICATION_PREFERENCES", "001");
    w.app.push_ok(&nothing).await;
    assert_eq!(notices_in(&history(&w, "R-SMS")), ["no_channel"]);
    assert_eq!(notices_in(&history(&w, "R-NONE")), ["no_channel"]);
    wait_until_settled(&w.app.pool, WAIT).await;
    assert!(w.sms.received().is_empty(), "{:?}", w.sms.received());
    let recipients: Vec<String> = {
        let mut conn = w.app.pool.get().unwrap();
        messages::table
            .filter(messages::owner.eq("rendez:results"))
            .select(messages::recipient)
            .load(&mut conn)
            .unwrap()
    };
    assert_eq!(recipients.len(), 2, "{recipients:?}");
}

async fn a_result_is_announced_once_per_availability_and_again_after_a_reissue_following_a_cancellation(
    backend: Backend,
) {
    let w = results_server(backend, SmsVia::Twilio).await;
    let mobile = "+34600888001";
    let item = Item::new("R-1", "ONCECODE5W8KP", "ONCE-1", b"first marker")
        .with("USER_MOBILE_PHONE", mobile);
    w.app.push_ok(&item).await;
    w.sms_to(mobile, 1).await;
    // The clinic system pushes the same result again, and again with a new code: the result
    // stayed available all along, so the patient hears nothing new.
    w.app.push_ok(&item).await;
    let mut new_code = item.clone();
    new_code.code = "ONCECODE9Z2MN".into();
    w.app.push_ok(&new_code).await;
    // Withdrawn: nothing to say. Re-issued afterwards: available again, and the patient is told.
    w.app.cancel_result("R-1").await.assert_ok();
    wait_until_settled(&w.app.pool, WAIT).await;
    assert_eq!(w.sms.received_for(mobile).len(), 1);
    let mut reissued = item.clone();
    reissued.code = "REISSUED4C7XJ".into();
    w.app.push_ok(&reissued).await;
    let texts = w.sms_to(mobile, 2).await;
    assert!(texts[1].contains("your results are ready"), "{}", texts[1]);
    tells_no_secret(&texts[1], &reissued);
    wait_until_settled(&w.app.pool, WAIT).await;
    assert_eq!(w.sms.received_for(mobile).len(), 2);
    assert_eq!(notices_in(&history(&w, "R-1")), ["sms", "sms"]);
    let mut conn = w.app.pool.get().unwrap();
    let statuses: Vec<String> = messages::table
        .filter(messages::owner.eq("rendez:results"))
        .select(messages::status)
        .load(&mut conn)
        .unwrap();
    assert_eq!(statuses, ["SENT", "SENT"]);
}
