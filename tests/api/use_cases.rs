//! The use cases judge their callers themselves. Called directly, without the SOAP endpoint's
//! role gate in front (as a new edge, a worker or the CLI calls them), a caller without the
//! role or beyond its centers is refused in the words SOAP answers, and nothing is stored.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use rendez::app::master::{AvailabilitySync, KeyEntitySync};
use rendez::app::messaging::{DeliveryReport, Enqueue};
use rendez::app::results::{Patient, PushOutcome};
use rendez::app::{self, Caller, Core};
use rendez::config::Settings;
use rendez::domain::FieldSource;
use rendez::domain::master::{AvailabilityRule, KeyEntity};
use rendez::domain::messages::{MessageQuery, MessageRequest, MessageStatus};
use rendez::domain::results::{TestResultPush, parse_item};
use rendez::error::Error;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, TestDatabase, spawn_app_on};
use crate::results::results_settings;

backend_tests!(
    a_caller_without_the_role_is_refused_by_every_use_case_and_nothing_is_stored,
    a_caller_limited_to_a_center_is_refused_beyond_it_by_the_master_data_use_cases,
    a_caller_limited_to_a_center_pushes_and_lists_results_only_there,
    messaging_use_cases_refuse_a_channel_without_provider_and_an_overlong_report_id,
    the_workers_use_cases_need_the_messaging_role_which_the_system_principal_holds,
);

/// Fields as a flat item carries them.
struct Fields(HashMap<&'static str, &'static str>);

impl FieldSource for Fields {
    fn field(&self, name: &'static str) -> Option<&str> {
        self.0.get(name).copied()
    }
}

fn fields(pairs: &[(&'static str, &'static str)]) -> Fields {
    Fields(pairs.iter().copied().collect())
}

fn caller(name: &str, roles: &str, centers: &str) -> Caller {
    Caller {
        id: format!("id-{name}"),
        name: name.into(),
        roles: roles.parse().expect("valid roles"),
        centers: centers.parse().expect("valid centers"),
    }
}

/// A server (for its migrated database and the SOAP pushes that set the scene) and a core of
/// its own on the same database, whose use cases the test calls directly.
async fn server_and_core(backend: Backend) -> (TestApp, Core) {
    let db = Arc::new(TestDatabase::new(backend));
    let settings = results_settings(&db, |s: &mut Settings| {
        s.sms_provider = None;
    });
    let config = settings.clone().resolve().expect("valid test settings");
    let app = spawn_app_on(db, settings).await;
    let core = Core::new(
        Arc::new(config),
        app.pool.clone(),
        app.secret_key.clone(),
        app.address.clone(),
    );
    (app, core)
}

/// Two centers, C1 (R1 offering A1) and C2 (R2 offering A1), pushed over SOAP.
async fn two_centers(app: &TestApp) {
    for (center, resource) in [("C1", "R1"), ("C2", "R2")] {
        app.push_key_entities(
            &[&[
                ("LOCATION_LID", center),
                ("LOCATION_NAME", center),
                ("LOCATION_TIMEZONE", "Europe/Madrid"),
                ("RESOURCE_LID", resource),
                ("RESOURCE_FIRST_NAME", resource),
                ("ACTIVITY_LID", "A1"),
                ("ACTIVITY_NAME", "Consulta"),
                ("ACTIVITY_DURATION", "20"),
            ]],
            false,
        )
        .await
        .assert_ok();
    }
}

fn key_entity(center: &'static str) -> (usize, KeyEntity) {
    let row = KeyEntity::parse(&fields(&[
        ("LOCATION_LID", center),
        ("LOCATION_NAME", "Nuevo"),
        ("LOCATION_TIMEZONE", "Europe/Madrid"),
    ]))
    .expect("a valid row");
    (1, row)
}

fn availability(center: &'static str, resource: &'static str) -> (usize, AvailabilityRule) {
    let rule = AvailabilityRule::parse(
        &fields(&[
            ("AVAILABILITY_LID", "AV-NEW"),
            ("RESOURCE_LID", resource),
            ("LOCATION_LID", center),
            ("R_START_TIME", "09:00"),
            ("R_END_TIME", "13:00"),
        ]),
        &["A1".to_string()],
    )
    .expect("a valid rule");
    (1, rule)
}

fn result_push(lid: &'static str, center: Option<&'static str>) -> TestResultPush {
    let mut pairs = vec![
        ("DOWNLOAD_LID", lid),
        ("DOWNLOAD_CODE", "Q7M4-K9TX-P2WR-8HVN"),
        ("USER_ID_NUMBER", "12345678Z"),
        ("DOWNLOAD_TYPE", "pdf"),
        ("USER_LID", "P-1"),
    ];
    if let Some(center) = center {
        pairs.push(("LOCATION_LID", center));
    }
    parse_item(&fields(&pairs), Ok(Some(b"%PDF-1.4 result".to_vec())), None)
        .expect("a valid result")
}

#[track_caller]
fn assert_forbidden<T: std::fmt::Debug>(result: Result<T, Error>, text: &str) {
    match result {
        Err(Error::Forbidden(message)) => assert_eq!(message, text),
        other => panic!("expected Forbidden({text:?}), got {other:?}"),
    }
}

#[track_caller]
fn assert_client_error<T: std::fmt::Debug>(result: Result<T, Error>, text: &str) {
    match result {
        Err(Error::Client(message)) => assert_eq!(message, text),
        other => panic!("expected Client({text:?}), got {other:?}"),
    }
}

fn lacks(role: &str, action: &str) -> String {
    format!("client 'clerk' lacks the role '{role}' that {action} needs")
}

async fn a_caller_without_the_role_is_refused_by_every_use_case_and_nothing_is_stored(
    backend: Backend,
) {
    let (app, core) = server_and_core(backend).await;
    two_centers(&app).await;
    let admin = caller("root", "admin,booking,messaging,results", "");
    // Booking only: no admin, messaging or results.
    let clerk = caller("clerk", "booking", "");
    assert_forbidden(
        app::master::sync_key_entities(
            &core,
            &clerk,
            KeyEntitySync {
                rows: vec![key_entity("C9")],
                ..KeyEntitySync::default()
            },
        )
        .await,
        &lacks("admin", "updateKeyEntities"),
    );
    assert_forbidden(
        app::master::sync_availabilities(
            &core,
            &clerk,
            AvailabilitySync {
                rules: vec![availability("C1", "R1")],
                ..AvailabilitySync::default()
            },
        )
        .await,
        &lacks("admin", "updateAvailabilities"),
    );
    assert_forbidden(
        app::master::centers(&core, &clerk).await,
        &lacks("admin", "getCenters"),
    );
    let centers: Vec<String> = app::master::centers(&core, &admin)
        .await
        .expect("the admin lists centers")
        .into_iter()
        .map(|c| c.lid)
        .collect();
    assert_eq!(centers, ["C1", "C2"], "the refused push stored nothing");
    let results_only = caller("clerk", "results", "");
    assert_forbidden(
        app::master::bookables(&core, &results_only, None).await,
        &lacks("booking", "getKeyEntities"),
    );
    let message = MessageRequest::parse(
        &fields(&[
            ("LEGACY_ID", "m-1"),
            ("CHANNEL", "EMAIL"),
            ("TO", "ana@example.org"),
            ("BODY", "hola"),
        ]),
        None,
        Utc::now(),
    )
    .expect("a valid message");
    assert_forbidden(
        app::messaging::enqueue(
            &core,
            &clerk,
            Enqueue {
                messages: vec![message],
                refused_legacy_ids: Vec::new(),
            },
        )
        .await,
        &lacks("messaging", "updateMessages"),
    );
    let query = MessageQuery {
        legacy_id: None,
        message_id: None,
        to: None,
        status: None,
        channel: None,
        from: None,
        until: None,
        page: 1,
        page_size: 10,
    };
    assert_forbidden(
        app::messaging::search(&core, &clerk, query.clone()).await,
        &lacks("messaging", "searchMessages"),
    );
    let (_, total) = app::messaging::search(&core, &admin, query)
        .await
        .expect("the admin searches");
    assert_eq!(total, 0, "nothing was queued");
    assert_forbidden(
        app::results::push(&core, &clerk, 1, result_push("RES-1", Some("C1"))).await,
        &lacks("results", "updateTestResults"),
    );
    assert_forbidden(
        app::results::list(&core, &clerk, Patient::Lid("P-1".into()), None).await,
        &lacks("results", "getTestResultsList"),
    );
    assert_forbidden(
        app::results::read_content(&core, &clerk, "RES-1".into(), "127.0.0.1".into())
            .await
            .map(|_| ()),
        &lacks("results", "getTestResultContent"),
    );
    let listed = app::results::list(&core, &admin, Patient::Lid("P-1".into()), None)
        .await
        .expect("the admin lists results");
    assert!(listed.is_empty(), "the refused push stored nothing");
}

async fn a_caller_limited_to_a_center_is_refused_beyond_it_by_the_master_data_use_cases(
    backend: Backend,
) {
    let (app, core) = server_and_core(backend).await;
    two_centers(&app).await;
    let madrid = caller("madrid", "admin,booking", "C1");
    assert_forbidden(
        app::master::sync_key_entities(
            &core,
            &madrid,
            KeyEntitySync {
                rows: vec![key_entity("C2")],
                ..KeyEntitySync::default()
            },
        )
        .await,
        "item 1: client 'madrid' may not act on center 'C2'",
    );
    let no_center = KeyEntity::parse(&fields(&[
        ("INSURANCE_LID", "I-1"),
        ("INSURANCE_NAME", "Mutua"),
    ]))
    .expect("a valid row");
    assert_forbidden(
        app::master::sync_key_entities(
            &core,
            &madrid,
            KeyEntitySync {
                rows: vec![(1, no_center)],
                ..KeyEntitySync::default()
            },
        )
        .await,
        "item 1: client 'madrid' is limited to some centers, so every item must name its LOCATION_LID",
    );
    assert_forbidden(
        app::master::sync_key_entities(
            &core,
            &madrid,
            KeyEntitySync {
                rows: vec![key_entity("C1")],
                full_sync: true,
                ..KeyEntitySync::default()
            },
        )
        .await,
        "client 'madrid' is limited to some centers and cannot send FULL_SYNC",
    );
    assert_forbidden(
        app::master::sync_availabilities(
            &core,
            &madrid,
            AvailabilitySync {
                rules: vec![availability("C2", "R2")],
                ..AvailabilitySync::default()
            },
        )
        .await,
        "item 1: client 'madrid' may not act on center 'C2'",
    );
    // An admin of every center still may not empty master data with an empty full sync.
    let root = caller("root", "admin,booking", "");
    assert_client_error(
        app::master::sync_key_entities(
            &core,
            &root,
            KeyEntitySync {
                full_sync: true,
                ..KeyEntitySync::default()
            },
        )
        .await,
        "updateKeyEntities: FULL_SYNC without any ROW would deactivate all master data; send the rows to keep",
    );
    // Reads: only the caller's centers, whatever it names.
    let centers: Vec<String> = app::master::centers(&core, &madrid)
        .await
        .expect("madrid lists its centers")
        .into_iter()
        .map(|c| c.lid)
        .collect();
    assert_eq!(centers, ["C1"]);
    let (offerings, _) = app::master::bookables(&core, &madrid, None)
        .await
        .expect("madrid reads what it may book");
    assert!(!offerings.is_empty());
    assert!(
        offerings.iter().all(|o| o.center_lid == "C1"),
        "{offerings:?}"
    );
    let (beyond, acceptances) = app::master::bookables(&core, &madrid, Some("C2".into()))
        .await
        .expect("naming another center reads nothing");
    assert!(beyond.is_empty() && acceptances.is_empty());
    // What madrid may do, it does: the push within its center is stored.
    let outcome = app::master::sync_availabilities(
        &core,
        &madrid,
        AvailabilitySync {
            rules: vec![availability("C1", "R1")],
            ..AvailabilitySync::default()
        },
    )
    .await
    .expect("a rule in madrid's center");
    assert!(outcome.is_ok() && outcome.created > 0, "{outcome:?}");
}

async fn a_caller_limited_to_a_center_pushes_and_lists_results_only_there(backend: Backend) {
    let (app, core) = server_and_core(backend).await;
    two_centers(&app).await;
    let madrid = caller("madrid", "results", "C1");
    assert_forbidden(
        app::results::push(&core, &madrid, 3, result_push("RES-C2", Some("C2"))).await,
        "client 'madrid' may not act on center 'C2' (TEST_RESULT 3)",
    );
    let pushed = app::results::push(&core, &madrid, 1, result_push("RES-NONE", None))
        .await
        .expect("answered as a refused item");
    assert!(
        matches!(&pushed.outcome, PushOutcome::Refused(m) if m == "LOCATION_LID is required from a client limited to some centers"),
        "{pushed:?}"
    );
    let pushed = app::results::push(&core, &madrid, 1, result_push("RES-C1", Some("C1")))
        .await
        .expect("a result of madrid's center");
    assert!(
        matches!(pushed.outcome, PushOutcome::Stored { .. }),
        "{pushed:?}"
    );
    assert_eq!(pushed.warning, None, "a long random code draws no warning");
    let listed = app::results::list(&core, &madrid, Patient::Lid("P-1".into()), None)
        .await
        .expect("madrid lists");
    let lids: Vec<&str> = listed.iter().map(|r| r.lid.as_str()).collect();
    assert_eq!(
        lids,
        ["RES-C1"],
        "only the stored result, nothing of the refused ones"
    );
    let sydney = caller("sydney", "results", "C2");
    let unseen = app::results::list(&core, &sydney, Patient::Lid("P-1".into()), None)
        .await
        .expect("sydney lists");
    assert!(
        unseen.is_empty(),
        "madrid's result is not sydney's: {unseen:?}"
    );
    match app::results::read_content(&core, &sydney, "RES-C1".into(), "127.0.0.1".into()).await {
        Ok(app::results::ContentRead::Unknown) => {}
        Ok(_) => panic!("sydney read madrid's result"),
        Err(e) => panic!("sydney's read failed: {e:?}"),
    }
}

async fn messaging_use_cases_refuse_a_channel_without_provider_and_an_overlong_report_id(
    backend: Backend,
) {
    let (_app, core) = server_and_core(backend).await;
    let sender = caller("sender", "messaging", "");
    let sms = MessageRequest::parse(
        &fields(&[
            ("LEGACY_ID", "m-1"),
            ("CHANNEL", "SMS"),
            ("TO", "+34600000001"),
            ("BODY", "hola"),
        ]),
        None,
        Utc::now(),
    )
    .expect("a valid message");
    assert_eq!(
        app::messaging::missing_provider(&core, sms.channel),
        Some("RENDEZ_SMS_PROVIDER")
    );
    assert_client_error(
        app::messaging::enqueue(
            &core,
            &sender,
            Enqueue {
                messages: vec![sms],
                refused_legacy_ids: Vec::new(),
            },
        )
        .await,
        "CHANNEL: no SMS provider is configured on this server (RENDEZ_SMS_PROVIDER); the message was not accepted",
    );
    let report = |provider_id: String| DeliveryReport {
        provider: "jasmin",
        provider_id,
        status: MessageStatus::Delivered,
        provider_status: "DELIVRD".into(),
        error: None,
        received_at: Utc::now(),
    };
    assert_client_error(
        app::messaging::delivery_report(&core, report("x".repeat(101))).await,
        "the message id is too long",
    );
    // One of 100 characters is stored (it waits for its message).
    app::messaging::delivery_report(&core, report("y".repeat(100)))
        .await
        .expect("a report of an id of 100 characters");
}

/// The status of a message in the outbox.
fn status_of(app: &TestApp, id: &str) -> String {
    use diesel::prelude::*;
    use rendez::db::schema::messages;
    let mut conn = app.pool.get().unwrap();
    messages::table
        .filter(messages::id.eq(id))
        .select(messages::status)
        .first(&mut conn)
        .unwrap()
}

async fn the_workers_use_cases_need_the_messaging_role_which_the_system_principal_holds(
    backend: Backend,
) {
    use rendez::app::delivery::{self, AttemptOutcome};
    use rendez::domain::messages::Channel;
    let (app, core) = server_and_core(backend).await;
    let queued = {
        let mut conn = app.pool.get().unwrap();
        let message = rendez::db::outbox::NewMessage {
            owner: "id-partner",
            legacy_id: "w-1",
            channel: Channel::Sms,
            to: "+34600000002",
            from: None,
            subject: None,
            body: "hola",
            send_at: None,
            expires_at: None,
        };
        rendez::db::outbox::enqueue(&mut conn, &message, Utc::now())
            .unwrap()
            .id()
            .to_string()
    };
    let lease = std::time::Duration::from_secs(30);
    let clerk = caller("clerk", "booking,results,admin", "");

    // A caller without the messaging role claims, sweeps, renews and records nothing.
    let (pool, who, id) = (core.pool.clone(), clerk.clone(), queued.clone());
    let refused = tokio::task::spawn_blocking(move || {
        (
            delivery::claim(&pool, &who, Channel::Sms, 10, None, lease),
            delivery::return_expired_leases(&pool, &who, Channel::Sms, 8),
            delivery::extend_lease(&pool, &who, &[id], "token", Utc::now()),
            delivery::record(&pool, &who, "log", &[], &[]),
        )
    })
    .await
    .unwrap();
    let sending = lacks("messaging", "sending messages");
    assert_forbidden(refused.0, &sending);
    assert_forbidden(refused.1, &sending);
    assert_forbidden(refused.2, &sending);
    assert_forbidden(refused.3, &sending);
    assert_eq!(status_of(&app, &queued), "QUEUED");

    // Nor does it plan and send reminders, or queue a campaign.
    let (pool, who, memo, key) = (
        core.pool.clone(),
        clerk.clone(),
        core.config.memo.clone(),
        core.secret_key.clone(),
    );
    let public_url = core.public_url.clone();
    let tick = tokio::task::spawn_blocking(move || {
        let dispatch = app::reminders::Dispatch {
            config: &memo,
            key: &key,
            public_url: &public_url,
        };
        app::reminders::tick(&pool, &who, &dispatch, Utc::now())
    })
    .await
    .unwrap();
    assert_forbidden(tick, &lacks("messaging", "sending reminders"));
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("spring.txt");
    std::fs::write(&template, "[sms]\nHi {first_name}\n").unwrap();
    let recipients = dir.path().join("recipients.csv");
    std::fs::write(&recipients, "phone,first_name\n+34600000003,Ana\n").unwrap();
    let campaign = rendez::campaign::load(&[template], &recipients, None).unwrap();
    let (pool, who) = (core.pool.clone(), clerk.clone());
    let sent = tokio::task::spawn_blocking(move || {
        app::campaign::send(&pool, &who, &campaign, Utc::now(), |_| true)
    })
    .await
    .unwrap();
    assert_eq!(
        sent.unwrap_err(),
        format!("not allowed: {}", lacks("messaging", "sending a campaign"))
    );
    let campaign_messages = {
        use diesel::prelude::*;
        use rendez::db::schema::messages;
        let mut conn = app.pool.get().unwrap();
        messages::table
            .filter(messages::owner.eq(rendez::campaign::OWNER))
            .count()
            .get_result::<i64>(&mut conn)
            .unwrap()
    };
    assert_eq!(campaign_messages, 0);

    // The server's own worker holds every role: it claims the message and records its send.
    let worker = Caller::system("worker");
    assert!(
        worker.is_system()
            && worker
                .roles
                .contains(rendez::domain::access::Role::Messaging)
    );
    let pool = core.pool.clone();
    let claimed = tokio::task::spawn_blocking(move || {
        let batch = delivery::claim(&pool, &worker, Channel::Sms, 10, None, lease)?;
        let now = Utc::now();
        let attempts = vec![(
            0,
            now,
            now,
            AttemptOutcome::Sent {
                provider_id: Some("p-1".into()),
            },
        )];
        let late = delivery::record(&pool, &worker, "log", &batch.messages, &attempts)?;
        Ok::<_, Error>((batch, late))
    })
    .await
    .unwrap()
    .expect("the system principal may send");
    let (batch, late) = claimed;
    assert_eq!(batch.messages.len(), 1);
    assert_eq!(batch.messages[0].id, queued);
    assert_eq!(batch.refusals, vec![None]);
    assert_eq!(late, 0);
    assert_eq!(status_of(&app, &queued), "SENT");
}
