//! The Deputy client against the fake install: paging by `start`, reads that start over when
//! rows move, failures classified (401, 429 with Retry-After, 5xx, timeouts, refusals), pushes
//! that keep Deputy's id and breaks, webhook registration, and a token that never shows.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use rendez::domain::deputy::Break;
use rendez::integrations::deputy::wire::SupervisePush;
use rendez::integrations::deputy::{DeputyClient, DeputyConfig, DeputyError, RosterFilter};

use super::fake_deputy::{Endpoint, FakeDeputy, FakeRoster, Scripted, TOKEN};

const HOUR: i64 = 3600;

fn client(fake: &FakeDeputy, token: &str, timeout: Duration) -> DeputyClient {
    let mut config = DeputyConfig::new(&fake.url, token);
    config.timeout = timeout;
    DeputyClient::new(&config).unwrap()
}

fn window() -> RosterFilter {
    RosterFilter {
        from: Utc::now() - chrono::Duration::days(1),
        to: Utc::now() + chrono::Duration::days(30),
        modified_since: None,
    }
}

fn tomorrow_at(hour: i64) -> i64 {
    let today = Utc::now().date_naive().and_hms_opt(0, 0, 0).unwrap();
    Utc.from_utc_datetime(&today).timestamp() + 24 * HOUR + hour * HOUR
}

/// `count` rosters over `employees` employees, eight hours each, spread over the next days.
fn fill(fake: &FakeDeputy, count: usize) -> Vec<i64> {
    (0..count)
        .map(|n| {
            let start = tomorrow_at(8) + (n as i64 % 20) * 24 * HOUR;
            fake.add(FakeRoster::new(
                1 + (n as i64 % 50),
                9,
                start,
                start + 8 * HOUR,
            ))
        })
        .collect()
}

#[actix_web::test]
async fn a_read_takes_500_rows_a_page_by_the_start_offset_with_the_oauth_token() {
    let fake = FakeDeputy::start().await;
    let ids = fill(&fake, 1200);
    let read = client(&fake, TOKEN, Duration::from_secs(10))
        .read_rosters(window())
        .await
        .unwrap();
    let got: Vec<i64> = read.rosters.iter().map(|r| r.id).collect();
    assert_eq!(got, ids);
    assert_eq!(read.requests, 3);
    let seen = fake.seen();
    let starts: Vec<u64> = seen
        .iter()
        .map(|s| s.body["start"].as_u64().unwrap())
        .collect();
    // Each page after the first starts on the last row of the one before, to see rows move.
    assert_eq!(starts, vec![0, 499, 998]);
    assert!(seen.iter().all(|s| s.body["max"] == 500));
    assert!(seen.iter().all(|s| s.body["sort"]["Id"] == "asc"));
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some(&format!("OAuth {TOKEN}")))
    );
    assert!(read.began_at.is_some(), "Deputy's Date header is kept");
}

#[actix_web::test]
async fn a_read_with_nothing_changed_since_the_watermark_costs_one_request() {
    let fake = FakeDeputy::start().await;
    fill(&fake, 600);
    let mut filter = window();
    filter.modified_since = Some(Utc::now() + chrono::Duration::seconds(5));
    let read = client(&fake, TOKEN, Duration::from_secs(10))
        .read_rosters(filter)
        .await
        .unwrap();
    assert!(read.rosters.is_empty());
    assert_eq!(read.requests, 1);
    assert_eq!(fake.count(Endpoint::Query), 1);
}

#[actix_web::test]
async fn a_roster_deleted_in_front_of_the_offset_makes_the_read_start_over_and_skip_nothing() {
    let fake = FakeDeputy::start().await;
    let ids = fill(&fake, 1200);
    let doomed = ids[10];
    fake.after_page(
        1,
        Box::new(move |rosters| {
            rosters.remove(&doomed);
        }),
    );
    let read = client(&fake, TOKEN, Duration::from_secs(10))
        .read_rosters(window())
        .await
        .unwrap();
    let got: Vec<i64> = read.rosters.iter().map(|r| r.id).collect();
    let expected: Vec<i64> = fake.rosters().iter().map(|r| r.id).collect();
    assert_eq!(got, expected, "every roster still there is read, once");
    assert_eq!(got.len(), 1199);
    // Two pages of the first attempt (the second saw the move), three of the second.
    assert_eq!(read.requests, 5);
}

#[actix_web::test]
async fn rosters_that_keep_moving_end_the_read_with_a_clear_temporary_error() {
    let fake = FakeDeputy::start().await;
    let ids = fill(&fake, 700);
    for (page, doomed) in [(1, ids[1]), (3, ids[2]), (5, ids[3])] {
        fake.after_page(
            page,
            Box::new(move |rosters| {
                rosters.remove(&doomed);
            }),
        );
    }
    let err = client(&fake, TOKEN, Duration::from_secs(10))
        .read_rosters(window())
        .await
        .unwrap_err();
    assert_eq!(err, DeputyError::ChangedWhileRead(3));
    assert!(err.is_temporary());
    assert!(err.to_string().contains("kept changing"), "{err}");
}

#[actix_web::test]
async fn a_wrong_token_is_unauthorized_and_no_text_shows_a_token() {
    let fake = FakeDeputy::start().await;
    let secret = "not-the-right-token-0123456789";
    let deputy = client(&fake, secret, Duration::from_secs(10));
    let err = deputy.read_rosters(window()).await.unwrap_err();
    assert_eq!(err, DeputyError::Unauthorized(401));
    assert!(!err.is_temporary());
    assert!(err.to_string().contains("RENDEZ_DEPUTY_TOKEN"));
    for text in [
        err.to_string(),
        format!("{err:?}"),
        format!("{deputy:?}"),
        format!("{:?}", DeputyConfig::new(&fake.url, secret)),
    ] {
        assert!(!text.contains(secret), "the token shows in {text}");
    }
}

#[actix_web::test]
async fn too_many_requests_carries_deputy_retry_after() {
    let fake = FakeDeputy::start().await;
    fake.script(Endpoint::Query, vec![Scripted::too_many(7)]);
    let err = client(&fake, TOKEN, Duration::from_secs(10))
        .read_rosters(window())
        .await
        .unwrap_err();
    assert_eq!(err, DeputyError::RateLimited(Some(Duration::from_secs(7))));
    assert!(err.is_temporary());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
}

#[actix_web::test]
async fn server_errors_and_timeouts_are_temporary() {
    let fake = FakeDeputy::start().await;
    fake.script(Endpoint::Query, vec![Scripted::status(503)]);
    let deputy = client(&fake, TOKEN, Duration::from_millis(500));
    let err = deputy.read_rosters(window()).await.unwrap_err();
    assert!(
        matches!(&err, DeputyError::Unavailable(m) if m.contains("503")),
        "{err:?}"
    );
    fake.set_delay(Duration::from_secs(2));
    let err = deputy.read_rosters(window()).await.unwrap_err();
    assert!(
        matches!(&err, DeputyError::Unavailable(m) if m.contains("timed out")),
        "{err:?}"
    );
    assert!(err.is_temporary());
}

#[actix_web::test]
async fn a_pushed_roster_keeps_its_id_its_breaks_and_is_deleted_once() {
    let fake = FakeDeputy::start().await;
    let deputy = client(&fake, TOKEN, Duration::from_secs(10));
    let at = |t: i64| Utc.timestamp_opt(t, 0).unwrap();
    let start = tomorrow_at(8);
    let lunch = Break {
        start: at(start + 4 * HOUR),
        end: at(start + 4 * HOUR + 1800),
    };
    let created = deputy
        .save_roster(&SupervisePush::new(
            None,
            3,
            9,
            at(start),
            at(start + 8 * HOUR),
            &[lunch],
        ))
        .await
        .unwrap();
    assert_eq!(created.breaks, vec![lunch]);
    assert!(created.published);
    let held = fake.roster(created.id).unwrap();
    assert_eq!(
        held.breaks,
        vec![(start + 4 * HOUR, start + 4 * HOUR + 1800)]
    );
    let changed = deputy
        .save_roster(&SupervisePush::new(
            Some(created.id),
            3,
            9,
            at(start + HOUR),
            at(start + 8 * HOUR),
            &[],
        ))
        .await
        .unwrap();
    assert_eq!(changed.id, created.id, "a change keeps Deputy's id");
    assert!(changed.modified > created.modified);
    assert_eq!(fake.rosters().len(), 1);
    deputy.delete_roster(created.id).await.unwrap();
    assert!(fake.roster(created.id).is_none());
    // Already gone: nothing to do, not an error.
    deputy.delete_roster(created.id).await.unwrap();
}

#[actix_web::test]
async fn a_refused_push_carries_deputy_message() {
    let fake = FakeDeputy::start().await;
    fake.script(
        Endpoint::Supervise,
        vec![Scripted::refused("Employee 3 cannot work in area 9")],
    );
    let at = |t: i64| Utc.timestamp_opt(t, 0).unwrap();
    let start = tomorrow_at(8);
    let err = client(&fake, TOKEN, Duration::from_secs(10))
        .save_roster(&SupervisePush::new(
            None,
            3,
            9,
            at(start),
            at(start + HOUR),
            &[],
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        DeputyError::Refused {
            status: 400,
            message: "Employee 3 cannot work in area 9".into()
        }
    );
    assert!(!err.is_temporary());
}

#[actix_web::test]
async fn a_webhook_registration_names_topic_address_and_secret_header() {
    let fake = FakeDeputy::start().await;
    let id = client(&fake, TOKEN, Duration::from_secs(10))
        .register_webhook(
            "Roster.Insert",
            "https://rendez.example/hooks/deputy",
            "X-Deputy-Secret: abc",
        )
        .await
        .unwrap();
    let hooks = fake.webhooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].0, id);
    assert_eq!(hooks[0].1, "Roster.Insert");
    assert_eq!(hooks[0].2, "https://rendez.example/hooks/deputy");
    let seen = fake.seen();
    assert_eq!(seen[0].body["Type"], "URL");
    assert_eq!(seen[0].body["Enabled"], 1);
}

#[actix_web::test]
async fn unpublished_and_open_rosters_are_read_with_their_flags() {
    let fake = FakeDeputy::start().await;
    let start = tomorrow_at(8);
    let draft = fake.add(FakeRoster::new(3, 9, start, start + HOUR).unpublished());
    let open = fake.add(FakeRoster::new(0, 9, start, start + HOUR));
    let read = client(&fake, TOKEN, Duration::from_secs(10))
        .read_rosters(window())
        .await
        .unwrap();
    let by_id = |id| read.rosters.iter().find(|r| r.id == id).unwrap();
    assert!(!by_id(draft).published);
    assert!(by_id(open).open && by_id(open).employee.is_none());
}
