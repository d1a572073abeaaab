//! The clinic system hears of patients' cancellations through its own CancelAppointment web
//! service (seed A.4.2), here a local HTTP server in the test that speaks it: Rendez calls it
//! through the outbox, records `OK` as sent, an `ERROR` as failed with the clinic's text, and
//! tries again after a server error.

use chrono::Utc;
use diesel::prelude::*;
use rendez::db::outbox::record;
use rendez::db::schema::{appointments, messages};

use super::wired::{SmsVia, WAIT, wired};
use super::{book, clinic, fields_xml, status_of, tick};
use crate::backend_tests;
use crate::helpers::{Auth, Backend, TestApp};
use crate::messaging::support::{Answer, CLINIC_PATH, clinic_answer, wait_until_settled};

backend_tests!(
    the_clinic_system_hears_of_each_patient_cancellation_through_its_cancel_appointment_service,
);

/// (status, attempts, error) of the queued call about an appointment.
fn call_about(app: &TestApp, app_lid: &str) -> Option<(String, i32, Option<String>, String)> {
    let mut conn = app.pool.get().unwrap();
    let id: String = appointments::table
        .filter(appointments::lid.eq(app_lid))
        .select(appointments::id)
        .first(&mut conn)
        .unwrap();
    messages::table
        .filter(messages::legacy_id.eq(format!("clinic-cancel:{id}")))
        .select((
            messages::status,
            messages::attempts,
            messages::error_message,
            messages::id,
        ))
        .first(&mut conn)
        .optional()
        .unwrap()
}

async fn the_clinic_system_hears_of_each_patient_cancellation_through_its_cancel_appointment_service(
    backend: Backend,
) {
    let w = wired(backend, SmsVia::Twilio, |s, provider| {
        s.clinic_cancel_url = Some(format!("{}{CLINIC_PATH}", provider.url));
    })
    .await;
    clinic(&w.app).await;
    let phones = ["+34600100001", "+34600100002", "+34600100003"];
    let mut lids = Vec::new();
    for (n, phone) in phones.iter().enumerate() {
        let time = format!("{:02}:00", 10 + n);
        let id_number = format!("CB{n}");
        lids.push(
            book(
                &w.app,
                "2027-03-10",
                &time,
                &[("USER_MOBILE_PHONE", phone), ("USER_ID_NUMBER", &id_number)],
            )
            .await,
        );
    }
    let by_clinic = book(
        &w.app,
        "2027-03-10",
        "14:00",
        &[
            ("USER_MOBILE_PHONE", "+34600100009"),
            ("USER_ID_NUMBER", "CB9"),
        ],
    )
    .await;
    tick(&w.scheduler, Utc::now()).await;
    for phone in phones {
        w.sms_to(phone, 1).await;
    }
    // The second cancellation is refused by the clinic system; the third meets a server error
    // first, then succeeds.
    w.sms.script(
        &lids[1],
        vec![Answer::new(
            200,
            clinic_answer("ERROR", "la cita ya fue atendida"),
        )],
    );
    w.sms
        .script(&lids[2], vec![Answer::new(503, "Service Unavailable")]);
    for (n, phone) in phones.iter().enumerate() {
        w.patient_replies(&format!("cancel-{n}"), phone, "2").await;
        assert_eq!(status_of(&w.app, &lids[n]).await, "CANCELLED by USER");
    }
    // A cancellation by the clinic system itself is not reported back to it.
    let deleted = w
        .app
        .soap(
            &Auth::admin(),
            "deleteAppointment",
            &fields_xml(&[("APP_LID", &by_clinic)]),
        )
        .await;
    assert_eq!(deleted.field("DELETE_RESULT").as_deref(), Some("OK"));
    wait_until_settled(&w.app.pool, WAIT).await;

    for (n, lid) in lids.iter().enumerate() {
        let calls = w.sms.received_for(lid);
        let expected_calls = if n == 2 { 2 } else { 1 };
        assert_eq!(calls.len(), expected_calls, "{lid}: {calls:?}");
        for call in &calls {
            assert_eq!(call.path, CLINIC_PATH);
            assert_eq!(
                call.get("SOAPAction"),
                Some("\"urn:rendez:clinic:v1#CancelAppointment\"")
            );
            let body = call.get("Body").unwrap();
            assert!(
                body.contains("CancelAppointment") && body.contains("urn:rendez:clinic:v1"),
                "{body}"
            );
            assert_eq!(
                crate::helpers::all_fields(body, "USER_LID").len(),
                1,
                "{body}"
            );
        }
    }
    let (status, attempts, error, _) = call_about(&w.app, &lids[0]).unwrap();
    assert_eq!((status.as_str(), attempts, error), ("SENT", 1, None));
    let (status, attempts, error, _) = call_about(&w.app, &lids[1]).unwrap();
    assert_eq!((status.as_str(), attempts), ("FAILED", 1));
    let error = error.unwrap();
    assert!(
        error.contains("DELETE_RESULT ERROR: la cita ya fue atendida"),
        "the clinic's text is recorded: {error}"
    );
    let (status, attempts, _, id) = call_about(&w.app, &lids[2]).unwrap();
    assert_eq!((status.as_str(), attempts), ("SENT", 2));
    let mut conn = w.app.pool.get().unwrap();
    let outcomes: Vec<String> = record::attempts(&mut conn, &id)
        .unwrap()
        .into_iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(outcomes, ["RETRY", "SENT"]);
    drop(conn);
    assert!(call_about(&w.app, &by_clinic).is_none());
    assert!(w.sms.received_for(&by_clinic).is_empty());
    // Each cancellation is told to its patient as well.
    tick(&w.scheduler, Utc::now()).await;
    for phone in phones {
        let texts = w.sms_to(phone, 2).await;
        assert!(texts[1].contains("ha sido anulada"), "{}", texts[1]);
    }
}
