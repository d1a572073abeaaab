//! The outbox API that other parts of Rendez queue their messages through.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use rendez::db::dialect;
use rendez::db::outbox::{self, Enqueued, NewMessage};
use rendez::db::schema::messages;
use rendez::domain::messages::Channel;

use crate::backend_tests;
use crate::helpers::{Backend, spawn_app};

fn sms<'a>(owner: &'a str, legacy_id: &'a str, body: &'a str) -> NewMessage<'a> {
    NewMessage {
        owner,
        legacy_id,
        channel: Channel::Sms,
        to: "+34600111222",
        from: None,
        subject: None,
        body,
        send_at: None,
        expires_at: None,
    }
}

fn status_of(conn: &mut rendez::db::DbConnection, id: &str) -> (String, Option<i32>) {
    messages::table
        .find(id)
        .select((messages::status, messages::segments))
        .first(conn)
        .unwrap()
}

async fn a_repeated_legacy_id_returns_the_first_message_and_queues_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut conn = app.pool.get().unwrap();
    let now = Utc::now();
    let first = outbox::enqueue(&mut conn, &sms("rendez:reminders", "r-1", "Hola"), now).unwrap();
    assert!(matches!(first, Enqueued::New { .. }));
    let again = outbox::enqueue(&mut conn, &sms("rendez:reminders", "r-1", "Other"), now).unwrap();
    assert_eq!(
        again,
        Enqueued::Existing {
            id: first.id().to_string()
        }
    );
    // Another owner may use the same legacy id.
    let other = outbox::enqueue(&mut conn, &sms("rendez:results", "r-1", "Hola"), now).unwrap();
    assert!(matches!(other, Enqueued::New { .. }));
    assert_ne!(other.id(), first.id());
    let count: i64 = messages::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, 2);
    assert_eq!(status_of(&mut conn, first.id()), ("QUEUED".into(), Some(1)));
}

async fn a_message_queued_in_a_rolled_back_transaction_is_not_queued(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut conn = app.pool.get().unwrap();
    let outcome: Result<(), diesel::result::Error> = dialect::write_transaction(&mut conn, |c| {
        outbox::enqueue(c, &sms("rendez:reminders", "r-2", "Hola"), Utc::now())?;
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert!(outcome.is_err());
    let count: i64 = messages::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, 0);
    // Committed together with the caller's own change.
    dialect::write_transaction(&mut conn, |c| {
        outbox::enqueue(c, &sms("rendez:reminders", "r-2", "Hola"), Utc::now()).map(|_| ())
    })
    .unwrap();
    let count: i64 = messages::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, 1);
}

async fn a_batch_answers_in_order_and_finds_earlier_and_repeated_ids(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut conn = app.pool.get().unwrap();
    let now = Utc::now();
    let earlier = outbox::enqueue(&mut conn, &sms("c", "b", "x"), now).unwrap();
    let batch = [
        sms("c", "a", "1"),
        sms("c", "b", "2"),
        sms("c", "a", "3"),
        sms("c", "d", "4"),
    ];
    let answers = outbox::enqueue_all(&mut conn, &batch, now).unwrap();
    assert!(matches!(answers[0], Enqueued::New { .. }));
    assert_eq!(
        answers[1],
        Enqueued::Existing {
            id: earlier.id().into()
        }
    );
    assert_eq!(
        answers[2],
        Enqueued::Existing {
            id: answers[0].id().into()
        }
    );
    assert!(matches!(answers[3], Enqueued::New { .. }));
    let count: i64 = messages::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, 3);
    // Without any earlier id, the whole batch goes in at once.
    let fresh = [sms("c", "e", "1"), sms("c", "f", "2")];
    let answers = outbox::enqueue_all(&mut conn, &fresh, now).unwrap();
    assert!(answers.iter().all(|a| matches!(a, Enqueued::New { .. })));
}

async fn only_a_queued_message_can_be_cancelled(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut conn = app.pool.get().unwrap();
    let now = Utc::now();
    let mut later = sms("c", "later", "x");
    later.send_at = Some(now + Duration::hours(1));
    let queued = outbox::enqueue(&mut conn, &later, now).unwrap();
    assert!(outbox::cancel_queued(&mut conn, queued.id(), now).unwrap());
    assert_eq!(status_of(&mut conn, queued.id()).0, "CANCELLED");
    // Twice: the second is too late.
    assert!(!outbox::cancel_queued(&mut conn, queued.id(), now).unwrap());
    let sending = outbox::enqueue(&mut conn, &sms("c", "sending", "x"), now).unwrap();
    diesel::update(messages::table.find(sending.id()))
        .set(messages::status.eq("SENDING"))
        .execute(&mut conn)
        .unwrap();
    assert!(!outbox::cancel_queued(&mut conn, sending.id(), now).unwrap());
    assert!(!outbox::cancel_queued(&mut conn, "no-such-id", now).unwrap());
}

backend_tests!(
    a_repeated_legacy_id_returns_the_first_message_and_queues_nothing,
    a_message_queued_in_a_rolled_back_transaction_is_not_queued,
    a_batch_answers_in_order_and_finds_earlier_and_repeated_ids,
    only_a_queued_message_can_be_cancelled,
);
