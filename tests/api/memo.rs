//! Appointment communications end to end: bookings and cancellations over SOAP, the scheduler
//! run at chosen instants (and once as the real loop), the notices it records and the messages it
//! queues in the outbox, and the patient's appointment page over real HTTP.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use rendez::config::Settings;
use rendez::db::schema::{appointment_notices, appointments, messages};
use rendez::domain::memo::LinkToken;
use rendez::memo::scheduler::{Scheduler, TickReport};

use crate::backend_tests;
use crate::helpers::{Auth, Backend, Reply, TestApp, TestDatabase, spawn_app_on, test_settings};

// End to end, through real providers and processes.
mod campaign;
mod clinic_callback;
mod contacts;
mod delivered;
mod exports;
mod imports;
mod processes;
mod replies;
mod results_ready;
mod wired;

backend_tests!(
    with_rendez_sms_gsm7_the_confirmation_sms_is_written_in_gsm7,
    a_booking_queues_a_confirmation_with_a_link_and_each_reminder_at_its_time_on_the_center_clock,
    a_reminder_whose_time_had_passed_at_booking_is_skipped_and_the_confirmation_stands_for_it,
    after_downtime_a_due_reminder_goes_late_once_and_one_whose_appointment_began_is_dropped,
    a_reminder_falling_in_quiet_hours_waits_for_the_morning_unless_that_is_after_the_appointment,
    a_daylight_saving_change_between_booking_and_reminder_keeps_the_reminder_at_the_same_clock_time,
    cancelling_withdraws_pending_notices_cancels_unsent_ones_and_queues_a_cancellation_notice,
    the_channel_follows_communication_preferences_and_contact_data_and_the_language_falls_back,
    the_appointment_page_confirms_and_cancels_and_says_when_a_link_is_used_forged_or_expired,
    the_real_scheduler_loop_queues_a_confirmation_without_being_called,
    sms_replies_through_jasmin_confirm_cancel_stop_start_and_get_help_once,
    schedulers_of_two_processes_ticking_at_once_queue_each_notice_once,
);

const MADRID: Tz = chrono_tz::Europe::Madrid;

/// A server whose scheduler loop stays out of the way (it ticks once at start, then hourly),
/// booking lead 0, and `tweak`ed settings; with the scheduler the test drives.
async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> (TestApp, Scheduler) {
    let db = Arc::new(TestDatabase::new(backend));
    let mut settings = test_settings(&db);
    settings.booking_lead = Some("0".into());
    settings.scheduler_interval = Some("1h".into());
    tweak(&mut settings);
    let config = settings.clone().resolve().expect("valid settings");
    let app = spawn_app_on(db, settings).await;
    let scheduler = Scheduler {
        pool: app.pool.clone(),
        config: Arc::new(config.memo),
        key: app.secret_key.clone(),
        public_url: app.address.clone(),
    };
    (app, scheduler)
}

async fn start(backend: Backend) -> (TestApp, Scheduler) {
    start_with(backend, |_| {}).await
}

async fn tick(scheduler: &Scheduler, now: DateTime<Utc>) -> TickReport {
    let scheduler = scheduler.clone();
    tokio::task::spawn_blocking(move || scheduler.tick(now))
        .await
        .unwrap()
        .expect("a tick succeeds")
}

fn fields_xml(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("<{k}>{}</{k}>", quick_xml::escape::escape(*v)))
        .collect()
}

async fn ok(reply: Reply) -> Reply {
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    reply
}

/// Center C1 in Madrid (with an address), doctor R1 (Zoë Peña) doing A30 (30 minutes) there
/// round the clock every day.
async fn clinic(app: &TestApp) {
    let rows: &[&[(&str, &str)]] = &[
        &[
            ("LOCATION_LID", "C1"),
            ("LOCATION_NAME", "Centro Uno"),
            ("LOCATION_TIMEZONE", "Europe/Madrid"),
        ],
        &[
            ("ACTIVITY_LID", "A30"),
            ("ACTIVITY_NAME", "Consulta"),
            ("ACTIVITY_DURATION", "30"),
        ],
        &[
            ("RESOURCE_LID", "R1"),
            ("RESOURCE_FIRST_NAME", "Zoë"),
            ("RESOURCE_SECOND_NAME", "Peña"),
            ("LOCATION_LID", "C1"),
            ("ACTIVITY_LID", "A30"),
        ],
    ];
    ok(app.push_key_entities(rows, false).await).await;
    let availability = fields_xml(&[
        ("AVAILABILITY_LID", "AV1"),
        ("RESOURCE_LID", "R1"),
        ("LOCATION_LID", "C1"),
        ("R_START_TIME", "00:00"),
        ("R_END_TIME", "24:00"),
    ]);
    ok(app
        .soap(
            &Auth::admin(),
            "updateAvailabilities",
            &format!("<AVAILABILITY>{availability}</AVAILABILITY>"),
        )
        .await)
    .await;
}

const PHONE: &str = "+34600111222";
const EMAIL: &str = "zoe.pena@example.org";

/// Books R1/A30 at `date` (yyyy-mm-dd) `time` for a patient with a mobile, an email and
/// Spanish, plus `extra` fields (which replace those of the same name); returns APP_LID.
async fn book(app: &TestApp, date: &str, time: &str, extra: &[(&str, &str)]) -> String {
    let mut params: Vec<(&str, &str)> = vec![
        ("ACTIVITY_LID", "A30"),
        ("RESOURCE_LID", "R1"),
        ("APP_DATE", date),
        ("APP_START_TIME", time),
        ("USER_FIRST_NAME", "Zoë"),
        ("USER_MOBILE_PHONE", PHONE),
        ("USER_EMAIL", EMAIL),
        ("USER_LANGUAGE", "es"),
    ];
    for (name, value) in extra {
        params.retain(|(n, _)| n != name);
        if !value.is_empty() {
            params.push((name, value));
        }
    }
    let reply = app
        .soap(&Auth::admin(), "addAppointment", &fields_xml(&params))
        .await;
    reply.assert_ok();
    assert_eq!(
        reply.field("ADD_RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    reply.field("APP_LID").expect("APP_LID")
}

/// Whether a search offers R1's 30-minute slot at that local date and time, right now: a
/// cancellation must free it for the very next search, whoever cancelled.
async fn offered(app: &TestApp, date: &str, time: &str) -> bool {
    let day = format!("{}/{}/{}", &date[8..10], &date[5..7], &date[0..4]);
    let hour: u32 = time[0..2].parse().unwrap();
    let until = format!("{:02}{}", hour + 1, &time[2..]);
    let reply = app
        .soap(
            &Auth::admin(),
            "searchAvailabilities",
            &fields_xml(&[
                ("ACTIVITY_LID", "A30"),
                ("AVA_START_DAY", &day),
                ("AVA_END_DAY", &day),
                ("AVA_MIN_TIME", time),
                ("AVA_MAX_TIME", &until),
                ("AVA_RESULTS_NUMBER", "5"),
            ]),
        )
        .await;
    reply.assert_ok();
    reply.fields("AVA_START_TIME").iter().any(|t| t == time)
}

fn local(tz: Tz, date: &str, time: &str) -> DateTime<Utc> {
    let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    let t = chrono::NaiveTime::parse_from_str(time, "%H:%M").unwrap();
    tz.from_local_datetime(&day.and_time(t))
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

/// (kind, offset seconds, due instant, state, reason) of the appointment's notices, by due time.
type NoticeRow = (String, i32, DateTime<Utc>, String, Option<String>);

fn notices_of(app: &TestApp, app_lid: &str) -> Vec<NoticeRow> {
    let mut conn = app.pool.get().unwrap();
    let rows: Vec<(String, i32, chrono::NaiveDateTime, String, Option<String>)> =
        appointment_notices::table
            .inner_join(appointments::table)
            .filter(appointments::lid.eq(app_lid))
            .order((
                appointment_notices::due_at.asc(),
                appointment_notices::kind.asc(),
            ))
            .select((
                appointment_notices::kind,
                appointment_notices::offset_seconds,
                appointment_notices::due_at,
                appointment_notices::state,
                appointment_notices::reason,
            ))
            .load(&mut conn)
            .unwrap();
    rows.into_iter()
        .map(|(k, o, d, s, r)| (k, o, d.and_utc(), s, r))
        .collect()
}

fn state_of(app: &TestApp, app_lid: &str, kind: &str, offset: i32) -> String {
    notices_of(app, app_lid)
        .into_iter()
        .find(|n| n.0 == kind && n.1 == offset)
        .unwrap_or_else(|| panic!("no {kind} {offset} notice: {:?}", notices_of(app, app_lid)))
        .3
}

/// A message in the outbox: (channel, recipient, subject, body, status).
type Message = (String, String, Option<String>, String, String);

/// The outbox messages about an appointment, in the order they were queued.
fn messages_of(app: &TestApp, app_lid: &str) -> Vec<(String, Message)> {
    let mut conn = app.pool.get().unwrap();
    let rows: Vec<(String, String, String, Option<String>, String, String)> =
        appointment_notices::table
            .inner_join(appointments::table)
            .inner_join(
                messages::table.on(messages::id.nullable().eq(appointment_notices::message_id)),
            )
            .filter(appointments::lid.eq(app_lid))
            .order(messages::created_at.asc())
            .select((
                appointment_notices::kind,
                messages::channel,
                messages::recipient,
                messages::subject,
                messages::body,
                messages::status,
            ))
            .load(&mut conn)
            .unwrap();
    rows.into_iter()
        .map(|(k, c, r, s, b, st)| (k, (c, r, s, b, st)))
        .collect()
}

/// Posts the page's form (`action=...`), as a browser without JavaScript does.
async fn post_action(app: &TestApp, url: &str, action: &str) -> reqwest::Response {
    app.http
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("action={action}"))
        .send()
        .await
        .unwrap()
}

fn kinds(messages: &[(String, Message)]) -> Vec<&str> {
    messages.iter().map(|(k, _)| k.as_str()).collect()
}

const H72: i32 = 72 * 3600;
const H24: i32 = 24 * 3600;

async fn a_booking_queues_a_confirmation_with_a_link_and_each_reminder_at_its_time_on_the_center_clock(
    backend: Backend,
) {
    let (app, scheduler) = start(backend).await;
    clinic(&app).await;
    let lid = book(&app, "2027-03-10", "10:00", &[]).await;
    let start = local(MADRID, "2027-03-10", "10:00");
    let now = Utc::now();
    let report = tick(&scheduler, now).await;
    assert_eq!(report.planned.appointments, 1, "{report:?}");
    assert_eq!(report.dispatched.queued, 1, "{report:?}");

    let notices = notices_of(&app, &lid);
    let expected = vec![
        ("confirmation".to_string(), 0, "queued".to_string()),
        ("reminder".to_string(), H72, "planned".to_string()),
        ("reminder".to_string(), H24, "planned".to_string()),
    ];
    let got: Vec<(String, i32, String)> = notices
        .iter()
        .map(|n| (n.0.clone(), n.1, n.3.clone()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(notices[1].2, local(MADRID, "2027-03-07", "10:00"));
    assert_eq!(notices[2].2, local(MADRID, "2027-03-09", "10:00"));

    let sent = messages_of(&app, &lid);
    assert_eq!(kinds(&sent), ["confirmation"]);
    let (channel, to, subject, body, status) = &sent[0].1;
    assert_eq!(
        (channel.as_str(), to.as_str(), status.as_str()),
        ("SMS", PHONE, "QUEUED")
    );
    assert_eq!(subject, &None);
    assert!(
        body.contains("10/03/2027") && body.contains("10:00"),
        "{body}"
    );
    assert!(
        body.contains("Zoë Peña") && body.contains("Centro Uno"),
        "{body}"
    );
    assert!(
        body.contains(&format!("{}/a/", app.address)),
        "Spanish with a link: {body}"
    );
    assert!(body.contains("responda 1"), "Spanish: {body}");

    // A tick a minute before the 72h reminder's time queues nothing; at its time, it goes.
    let before = tick(&scheduler, notices[1].2 - Duration::minutes(1)).await;
    assert_eq!(before.dispatched, Default::default(), "{before:?}");
    let at = tick(&scheduler, notices[1].2).await;
    assert_eq!(at.dispatched.queued, 1, "{at:?}");
    // Ticking again at the same moment, or from a second scheduler, queues nothing more.
    let again = tick(&scheduler, notices[1].2 + Duration::minutes(5)).await;
    assert_eq!(again.dispatched.queued, 0, "{again:?}");
    tick(&scheduler, notices[2].2).await;
    let sent = messages_of(&app, &lid);
    assert_eq!(kinds(&sent), ["confirmation", "reminder", "reminder"]);
    assert!(
        sent[1].1.3.starts_with("Recordatorio Centro Uno"),
        "{}",
        sent[1].1.3
    );
    for (_, (_, _, _, body, _)) in &sent {
        assert!(
            body.contains("10/03/2027 a las 10:00") || body.contains("10/03/2027"),
            "{body}"
        );
    }
    assert!(start > notices[2].2);
}

async fn a_reminder_whose_time_had_passed_at_booking_is_skipped_and_the_confirmation_stands_for_it(
    backend: Backend,
) {
    let (app, scheduler) = start_with(backend, |s| {
        s.reminders = Some("72h,24h".into());
        s.quiet_hours = Some("".into());
    })
    .await;
    clinic(&app).await;
    // An appointment two days from now: its 72h reminder was due before it was booked.
    let start = Utc::now() + Duration::hours(48);
    let local_start = start.with_timezone(&MADRID);
    let date = local_start.format("%Y-%m-%d").to_string();
    let rounded = format!("{}:00", local_start.format("%H"));
    let lid = book(&app, &date, &rounded, &[]).await;
    tick(&scheduler, Utc::now()).await;
    assert_eq!(state_of(&app, &lid, "confirmation", 0), "queued");
    let notices = notices_of(&app, &lid);
    let h72 = notices.iter().find(|n| n.1 == H72).unwrap();
    assert_eq!(h72.3, "skipped");
    assert!(
        h72.4
            .as_deref()
            .unwrap()
            .contains("passed when the appointment was booked")
    );
    assert_eq!(state_of(&app, &lid, "reminder", H24), "planned");
    // Even a tick long after does not send it.
    tick(&scheduler, Utc::now() + Duration::hours(1)).await;
    assert_eq!(state_of(&app, &lid, "reminder", H72), "skipped");
}

async fn after_downtime_a_due_reminder_goes_late_once_and_one_whose_appointment_began_is_dropped(
    backend: Backend,
) {
    let (app, scheduler) = start(backend).await;
    clinic(&app).await;
    let early = book(&app, "2027-03-10", "09:00", &[]).await;
    let late = book(&app, "2027-03-12", "12:00", &[]).await;
    tick(&scheduler, Utc::now()).await;
    // Rendez was down from before every reminder until 11 March 13:00: the 09:00 appointment of
    // the 10th has begun, the one of the 12th is still ahead and both its reminders are due.
    let back = local(MADRID, "2027-03-11", "13:00");
    let report = tick(&scheduler, back).await;
    assert_eq!(report.dispatched.queued, 1, "{report:?}");
    assert_eq!(report.dispatched.dropped, 3, "{report:?}");
    for offset in [H72, H24] {
        assert_eq!(state_of(&app, &early, "reminder", offset), "dropped");
    }
    let began = notices_of(&app, &early);
    assert!(
        began
            .iter()
            .filter(|n| n.0 == "reminder")
            .all(|n| n.4.as_deref() == Some("the appointment had begun when the notice fell due"))
    );
    assert_eq!(state_of(&app, &late, "reminder", H72), "dropped");
    assert_eq!(state_of(&app, &late, "reminder", H24), "queued");
    assert_eq!(
        kinds(&messages_of(&app, &late)),
        ["confirmation", "reminder"]
    );
    assert_eq!(kinds(&messages_of(&app, &early)), ["confirmation"]);
    // Another catch-up changes nothing.
    let again = tick(&scheduler, back + Duration::minutes(1)).await;
    assert_eq!(again.dispatched, Default::default());
}

async fn a_reminder_falling_in_quiet_hours_waits_for_the_morning_unless_that_is_after_the_appointment(
    backend: Backend,
) {
    let (app, scheduler) = start_with(backend, |s| s.reminders = Some("12h".into())).await;
    clinic(&app).await;
    // 12h before 10:00 is 22:00, inside 21:00-08:00: planned for 08:00.
    let morning = book(&app, "2027-03-12", "10:00", &[]).await;
    // 12h before 07:30 is 19:30: outside, unchanged.
    let evening = book(&app, "2027-03-11", "07:30", &[]).await;
    tick(&scheduler, Utc::now()).await;
    let due = |lid: &str| {
        notices_of(&app, lid)
            .into_iter()
            .find(|n| n.0 == "reminder")
            .unwrap()
            .2
    };
    assert_eq!(due(&morning), local(MADRID, "2027-03-12", "08:00"));
    assert_eq!(due(&evening), local(MADRID, "2027-03-10", "19:30"));
    // Caught up at 23:00 (inside quiet hours), the 19:30 one would wait for 08:00, but that is
    // after its 07:30 appointment: it goes at once.
    let report = tick(&scheduler, local(MADRID, "2027-03-10", "23:00")).await;
    assert_eq!(report.dispatched.queued, 1, "{report:?}");
    assert_eq!(state_of(&app, &evening, "reminder", 12 * 3600), "queued");
    assert_eq!(state_of(&app, &morning, "reminder", 12 * 3600), "planned");

    // With quiet hours 21:00-09:00, a late reminder at 23:00 for a 10:00 appointment is deferred.
    let (app, scheduler) = start_with(backend, |s| {
        s.reminders = Some("24h".into());
        s.quiet_hours = Some("21:00-09:00".into());
    })
    .await;
    clinic(&app).await;
    let lid = book(&app, "2027-03-11", "10:00", &[]).await;
    tick(&scheduler, Utc::now()).await;
    let report = tick(&scheduler, local(MADRID, "2027-03-10", "23:00")).await;
    assert_eq!(report.dispatched.deferred, 1, "{report:?}");
    let (_, _, due, state, reason) = notices_of(&app, &lid)
        .into_iter()
        .find(|n| n.0 == "reminder")
        .unwrap();
    assert_eq!(
        (due, state.as_str()),
        (local(MADRID, "2027-03-11", "09:00"), "planned")
    );
    assert_eq!(reason.as_deref(), Some("deferred past quiet hours"));
    let report = tick(&scheduler, local(MADRID, "2027-03-11", "09:00")).await;
    assert_eq!(report.dispatched.queued, 1, "{report:?}");
}

async fn a_daylight_saving_change_between_booking_and_reminder_keeps_the_reminder_at_the_same_clock_time(
    backend: Backend,
) {
    let (app, scheduler) = start_with(backend, |s| s.quiet_hours = Some("".into())).await;
    clinic(&app).await;
    // Madrid changes to summer time at 02:00 on Sunday 28 March 2027, between the 72h and 24h
    // reminders of a Monday 10:00 appointment and the appointment itself.
    let spring = book(&app, "2027-03-29", "10:00", &[]).await;
    // And back to winter time at 03:00 on Sunday 31 October 2027.
    let autumn = book(&app, "2027-11-01", "10:00", &[]).await;
    tick(&scheduler, Utc::now()).await;
    for (lid, day72, day24, real72, real24) in [
        (&spring, "2027-03-26", "2027-03-28", 71, 24),
        (&autumn, "2027-10-29", "2027-10-31", 73, 24),
    ] {
        let notices = notices_of(&app, lid);
        let reminders: Vec<&NoticeRow> = notices.iter().filter(|n| n.0 == "reminder").collect();
        assert_eq!(reminders[0].2, local(MADRID, day72, "10:00"), "{lid}");
        assert_eq!(reminders[1].2, local(MADRID, day24, "10:00"), "{lid}");
        let appointment_start = if lid == &spring {
            local(MADRID, "2027-03-29", "10:00")
        } else {
            local(MADRID, "2027-11-01", "10:00")
        };
        assert_eq!(
            (appointment_start - reminders[0].2).num_hours(),
            real72,
            "{lid}"
        );
        assert_eq!(
            (appointment_start - reminders[1].2).num_hours(),
            real24,
            "{lid}"
        );
    }
    // The 24h reminder of the spring appointment goes on Sunday at 10:00 summer time, and its
    // text shows the appointment's clock time.
    tick(&scheduler, local(MADRID, "2027-03-28", "10:00")).await;
    let sent = messages_of(&app, &spring);
    let body = &sent.last().unwrap().1.3;
    assert!(
        body.contains("29/03/2027") && body.contains("10:00"),
        "{body}"
    );
}

async fn cancelling_withdraws_pending_notices_cancels_unsent_ones_and_queues_a_cancellation_notice(
    backend: Backend,
) {
    let (app, scheduler) = start(backend).await;
    clinic(&app).await;
    let lid = book(&app, "2027-03-10", "10:00", &[]).await;
    tick(&scheduler, Utc::now()).await;
    // The 72h reminder is queued (and, with no worker here, not sent yet).
    tick(&scheduler, local(MADRID, "2027-03-07", "10:00")).await;
    assert_eq!(state_of(&app, &lid, "reminder", H72), "queued");
    let reply = app
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
    let report = tick(&scheduler, local(MADRID, "2027-03-07", "11:00")).await;
    assert_eq!(
        report.dispatched.queued, 1,
        "the cancellation notice: {report:?}"
    );
    assert_eq!(state_of(&app, &lid, "reminder", H24), "withdrawn");
    assert_eq!(state_of(&app, &lid, "reminder", H72), "withdrawn");
    assert_eq!(state_of(&app, &lid, "confirmation", 0), "withdrawn");
    assert_eq!(state_of(&app, &lid, "cancellation", 0), "queued");
    let sent = messages_of(&app, &lid);
    let statuses: Vec<(&str, &str)> = sent
        .iter()
        .map(|(k, (_, _, _, _, status))| (k.as_str(), status.as_str()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("confirmation", "CANCELLED"),
            ("reminder", "CANCELLED"),
            ("cancellation", "QUEUED")
        ]
    );
    let body = &sent[2].1.3;
    assert!(
        body.contains("anulada") && body.contains("10/03/2027"),
        "{body}"
    );
    assert!(
        !body.contains("/a/"),
        "no link to a cancelled appointment: {body}"
    );
    // Later ticks do nothing more: the withdrawn reminder's time passes quietly.
    let later = tick(&scheduler, local(MADRID, "2027-03-09", "10:00")).await;
    assert_eq!(later, TickReport::default());
}

async fn the_channel_follows_communication_preferences_and_contact_data_and_the_language_falls_back(
    backend: Backend,
) {
    let (app, scheduler) = start(backend).await;
    clinic(&app).await;
    // (extra booking fields, expected (channel, recipient) or none)
    type Case<'a> = (Vec<(&'a str, &'a str)>, Option<(&'a str, &'a str)>);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![("COMMUNICATION_PREFERENCES", "110")],
            Some(("SMS", PHONE)),
        ),
        (
            vec![("COMMUNICATION_PREFERENCES", "010")],
            Some(("EMAIL", EMAIL)),
        ),
        (
            vec![("USER_MOBILE_PHONE", ""), ("USER_ID_NUMBER", "X2")],
            Some(("EMAIL", EMAIL)),
        ),
        (
            vec![
                ("COMMUNICATION_PREFERENCES", "001"),
                ("USER_ID_NUMBER", "X3"),
            ],
            None,
        ),
    ];
    let mut times = ["09:00", "10:00", "11:00", "12:00"].into_iter();
    for (extra, expected) in cases {
        let lid = book(&app, "2027-03-10", times.next().unwrap(), &extra).await;
        tick(&scheduler, Utc::now()).await;
        let sent = messages_of(&app, &lid);
        match expected {
            Some((channel, to)) => {
                let (c, t, subject, body, _) = &sent[0].1;
                assert_eq!((c.as_str(), t.as_str()), (channel, to), "{extra:?}");
                if channel == "EMAIL" {
                    assert!(
                        subject.as_deref().unwrap().contains("10/03/2027"),
                        "{subject:?}"
                    );
                    assert!(body.starts_with("Estimado/a Zoë:"), "{body}");
                }
            }
            None => {
                assert!(sent.is_empty(), "{sent:?}");
                let notice = &notices_of(&app, &lid)[0];
                assert_eq!(notice.3, "skipped");
                assert!(notice.4.as_deref().unwrap().contains("001"), "{notice:?}");
            }
        }
    }
    // A patient in a language without templates (de-AT) is written in the fallback (en).
    let lid = book(
        &app,
        "2027-03-11",
        "09:00",
        &[("USER_LANGUAGE", "de-AT"), ("USER_ID_NUMBER", "X4")],
    )
    .await;
    tick(&scheduler, Utc::now()).await;
    let body = &messages_of(&app, &lid)[0].1.3;
    assert!(
        body.contains("appointment with Zoë Peña on 11/03/2027 at 09:00"),
        "{body}"
    );
}

async fn the_appointment_page_confirms_and_cancels_and_says_when_a_link_is_used_forged_or_expired(
    backend: Backend,
) {
    let (app, scheduler) = start(backend).await;
    clinic(&app).await;
    let lid = book(&app, "2027-03-10", "10:00", &[]).await;
    tick(&scheduler, Utc::now()).await;
    let link = |body: &str| {
        let at = body.find(&format!("{}/a/", app.address)).expect("a link");
        body[at..].split_whitespace().next().unwrap().to_string()
    };
    let first = link(&messages_of(&app, &lid)[0].1.3);

    let page = app.http.get(&first).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("10/03/2027") && html.contains("10:00"),
        "{html}"
    );
    assert!(
        html.contains("Zoë Peña") && html.contains("value=\"confirm\""),
        "{html}"
    );
    assert!(html.contains("lang=\"es\""), "{html}");

    let since = Utc::now() - Duration::seconds(1);
    let confirmed = post_action(&app, &first, "confirm").await;
    assert_eq!(confirmed.status(), 200);
    let html = confirmed.text().await.unwrap();
    assert!(html.contains("queda confirmada"), "{html}");
    let check = app
        .soap(
            &Auth::admin(),
            "checkAppointment",
            &fields_xml(&[("APP_LID", &lid)]),
        )
        .await;
    assert_eq!(
        check.field("STATUS").as_deref(),
        Some("APPROVED"),
        "{}",
        check.body
    );
    // The clinic system sees the change when it polls (changes settle for 2 s before they show).
    tokio::time::sleep(StdDuration::from_millis(2100)).await;
    let polled = app
        .soap(
            &Auth::admin(),
            "getAppointments",
            &fields_xml(&[("LAST_REQUEST_TIMESTAMP", &since.to_rfc3339())]),
        )
        .await;
    assert_eq!(
        polled.fields("APP_LID"),
        vec![lid.clone()],
        "{}",
        polled.body
    );
    assert_eq!(polled.field("STATUS").as_deref(), Some("APPROVED"));

    // The same link again: used.
    let again = app
        .http
        .get(&first)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        again.contains("id=\"used\"") && !again.contains("<form"),
        "{again}"
    );
    let posted = post_action(&app, &first, "cancel").await;
    assert!(posted.text().await.unwrap().contains("ya se ha usado"));

    // The next message's link cancels: CANCELLED by USER, the slot is free again.
    tick(&scheduler, local(MADRID, "2027-03-07", "10:00")).await;
    let second = link(&messages_of(&app, &lid)[1].1.3);
    assert_ne!(first, second);
    let html = app
        .http
        .get(&second)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !html.contains("value=\"confirm\"") && html.contains("value=\"cancel\""),
        "{html}"
    );
    assert!(!offered(&app, "2027-03-10", "10:00").await);
    let cancelled = post_action(&app, &second, "cancel").await;
    assert!(cancelled.text().await.unwrap().contains("ha sido anulada"));
    assert!(offered(&app, "2027-03-10", "10:00").await);
    let check = app
        .soap(
            &Auth::admin(),
            "checkAppointment",
            &fields_xml(&[("APP_LID", &lid)]),
        )
        .await;
    assert_eq!(check.field("STATUS").as_deref(), Some("CANCELLED by USER"));
    let rebooked = book(&app, "2027-03-10", "10:00", &[("USER_ID_NUMBER", "OTHER1")]).await;
    assert_ne!(rebooked, lid);

    // Forged, damaged and expired links get a clear page and change nothing.
    let token = second.rsplit('/').next().unwrap();
    let mut damaged = token.to_string();
    damaged.replace_range(10..11, if &token[10..11] == "A" { "B" } else { "A" });
    for bad in [
        format!("{}/a/{damaged}", app.address),
        format!("{}/a/nonsense", app.address),
    ] {
        let page = app.http.get(&bad).send().await.unwrap();
        assert_eq!(page.status(), 404);
        assert!(page.text().await.unwrap().contains("not valid"));
        let page = post_action(&app, &bad, "cancel").await;
        assert_eq!(page.status(), 404);
    }
    let expired = LinkToken {
        notice_id: uuid::Uuid::now_v7(),
        expires_at: Utc::now() - Duration::minutes(1),
    }
    .sign(&app.secret_key);
    let page = app.get(&format!("/a/{expired}")).await;
    assert_eq!(page.status(), 410);
    assert!(page.text().await.unwrap().contains("expired"));
    let unknown = post_action(&app, &second, "delete-everything").await;
    assert_eq!(unknown.status(), 400);
}

async fn the_real_scheduler_loop_queues_a_confirmation_without_being_called(backend: Backend) {
    let (app, _) = start_with(backend, |s| s.scheduler_interval = Some("1s".into())).await;
    clinic(&app).await;
    let lid = book(&app, "2027-03-10", "10:00", &[]).await;
    let deadline = std::time::Instant::now() + StdDuration::from_secs(20);
    loop {
        if kinds(&messages_of(&app, &lid)) == ["confirmation"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no confirmation within 20 s"
        );
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
    assert_eq!(state_of(&app, &lid, "reminder", H24), "planned");
}

const MO_SECRET: &str = "mo-secret-0123456789";

async fn mo(app: &TestApp, secret: &str, form: &[(&str, &str)]) -> (u16, String) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let response = app
        .http
        .post(format!("{}/hooks/jasmin/mo?secret={secret}", app.address))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn reply(app: &TestApp, id: &str, text: &str) {
    let (status, body) = mo(
        app,
        MO_SECRET,
        &[
            ("id", id),
            ("from", "34600111222"),
            ("to", "5000"),
            ("coding", "0"),
            ("content", text),
        ],
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "ACK/Jasmin"), "{text}");
}

/// The bodies of the SMS answers queued to replies, oldest first.
fn answers(app: &TestApp) -> Vec<String> {
    let mut conn = app.pool.get().unwrap();
    messages::table
        .filter(messages::owner.eq("rendez:memo"))
        .filter(messages::legacy_id.like("reply:%"))
        .order(messages::created_at.asc())
        .select(messages::body)
        .load(&mut conn)
        .unwrap()
}

async fn status_of(app: &TestApp, lid: &str) -> String {
    app.soap(
        &Auth::admin(),
        "checkAppointment",
        &fields_xml(&[("APP_LID", lid)]),
    )
    .await
    .field("STATUS")
    .unwrap()
}

async fn sms_replies_through_jasmin_confirm_cancel_stop_start_and_get_help_once(backend: Backend) {
    let (app, scheduler) =
        start_with(backend, |s| s.jasmin_mo_secret = Some(MO_SECRET.into())).await;
    clinic(&app).await;
    let first = book(&app, "2027-03-10", "10:00", &[]).await;
    let second = book(&app, "2027-03-12", "10:00", &[]).await;
    tick(&scheduler, Utc::now()).await;

    // "Sí" confirms the next upcoming messaged appointment, and the patient is thanked.
    reply(&app, "m1", "Sí").await;
    assert_eq!(status_of(&app, &first).await, "APPROVED");
    assert_eq!(status_of(&app, &second).await, "PENDING");
    let thanks = answers(&app);
    assert_eq!(thanks.len(), 1);
    assert!(
        thanks[0].contains("confirmada") && thanks[0].contains("10/03/2027"),
        "{thanks:?}"
    );
    // The provider retrying the same message changes nothing.
    reply(&app, "m1", "Sí").await;
    assert_eq!(answers(&app).len(), 1);

    // "2" cancels it (by the user, freeing the slot); the next "1" confirms the other one.
    reply(&app, "m2", "2").await;
    assert_eq!(status_of(&app, &first).await, "CANCELLED by USER");
    book(
        &app,
        "2027-03-10",
        "10:00",
        &[("USER_ID_NUMBER", "SLOT-FREE")],
    )
    .await;
    reply(&app, "m3", "1").await;
    assert_eq!(status_of(&app, &second).await, "APPROVED");
    let report = tick(&scheduler, Utc::now()).await;
    assert_eq!(
        state_of(&app, &first, "cancellation", 0),
        "queued",
        "{report:?}"
    );

    // Anything else gets the help text, once an hour at most.
    reply(&app, "m4", "¿A qué hora era?").await;
    reply(&app, "m5", "hola??").await;
    let all = answers(&app);
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all[2].contains("Responda 1 para confirmar"), "{all:?}");

    // STOP: no SMS any more (the next reminder goes by email); START: SMS again, and a word.
    reply(&app, "m6", "STOP").await;
    assert_eq!(answers(&app).len(), 3, "no answer to STOP");
    tick(&scheduler, local(MADRID, "2027-03-09", "10:00")).await;
    let sent = messages_of(&app, &second);
    assert_eq!(sent.last().unwrap().1.0, "EMAIL", "{sent:?}");
    reply(&app, "m7", "start").await;
    let all = answers(&app);
    assert_eq!(all.len(), 4, "{all:?}");
    assert!(all[3].contains("Volverá a recibir"), "{all:?}");
    tick(&scheduler, local(MADRID, "2027-03-11", "10:00")).await;
    let sent = messages_of(&app, &second);
    assert_eq!(sent.last().unwrap().1.0, "SMS", "{sent:?}");

    // Refused: a wrong secret, a missing field, a number that is none.
    let (status, _) = mo(
        &app,
        "wrong-secret-0123456789",
        &[("id", "x"), ("from", "34600111222"), ("content", "2")],
    )
    .await;
    assert_eq!(status, 403);
    let (status, text) = mo(
        &app,
        MO_SECRET,
        &[("from", "34600111222"), ("content", "2")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(text.contains("id and from"), "{text}");
    let (status, text) = mo(
        &app,
        MO_SECRET,
        &[("id", "m9"), ("from", "nobody"), ("content", "2")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(text.contains("from"), "{text}");
    assert_eq!(status_of(&app, &second).await, "APPROVED");

    // Without a configured secret, the webhook is closed.
    let (other, _) = start(backend).await;
    let (status, text) = mo(
        &other,
        MO_SECRET,
        &[("id", "x"), ("from", "34600111222"), ("content", "2")],
    )
    .await;
    assert_eq!(status, 403);
    assert!(text.contains("RENDEZ_JASMIN_MO_SECRET"), "{text}");
}

async fn schedulers_of_two_processes_ticking_at_once_queue_each_notice_once(backend: Backend) {
    let (app, scheduler) = start(backend).await;
    clinic(&app).await;
    let mut lids = Vec::new();
    for hour in 8..20 {
        lids.push(
            book(
                &app,
                "2027-03-10",
                &format!("{hour:02}:00"),
                &[("USER_ID_NUMBER", &format!("P{hour}"))],
            )
            .await,
        );
    }
    // A second process: its own server and connection pool on the same database.
    let mut settings = test_settings(&app.db);
    settings.secret_key = Some(app.secret_key.to_base64());
    settings.scheduler_interval = Some("1h".into());
    let config = settings.clone().resolve().unwrap();
    let other = spawn_app_on(app.db.clone(), settings).await;
    let second = Scheduler {
        pool: other.pool.clone(),
        config: Arc::new(config.memo),
        key: other.secret_key.clone(),
        public_url: other.address.clone(),
    };
    for now in [
        Utc::now(),
        local(MADRID, "2027-03-07", "20:00"),
        local(MADRID, "2027-03-09", "20:00"),
    ] {
        let ticks: Vec<_> = (0..4)
            .map(|i| {
                let s = if i % 2 == 0 {
                    scheduler.clone()
                } else {
                    second.clone()
                };
                tokio::task::spawn_blocking(move || s.tick(now))
            })
            .collect();
        for t in ticks {
            t.await.unwrap().expect("every tick succeeds");
        }
        // The next tick, soon after: a notice that the concurrent ticks passed over while
        // another held its row (they skip locked rows rather than wait) is sent then, as a
        // serving process's next tick would; nothing already queued is queued again.
        let next = scheduler.clone();
        tokio::task::spawn_blocking(move || next.tick(now))
            .await
            .unwrap()
            .expect("the next tick succeeds");
    }
    for lid in &lids {
        assert_eq!(
            kinds(&messages_of(&app, lid)),
            ["confirmation", "reminder", "reminder"],
            "{lid}: {:?}",
            notices_of(&app, lid)
        );
    }
    let mut conn = app.pool.get().unwrap();
    let queued: i64 = messages::table
        .filter(messages::owner.eq("rendez:memo"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(queued, 3 * lids.len() as i64);
}

/// Runs tests/browser/appointment-page.js (playwright-core driving /usr/bin/chromium), installed
/// by `.ci/run`; where it is missing this test says so and passes, unless
/// RENDEZ_REQUIRE_BROWSER=1 (CI) demands it.
async fn in_chromium(
    url: &str,
    action: &str,
) -> Option<std::collections::BTreeMap<String, String>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let installed = dir.join("node_modules/playwright-core").is_dir()
        && std::path::Path::new("/usr/bin/chromium").exists();
    if !installed {
        assert!(
            std::env::var("RENDEZ_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "RENDEZ_REQUIRE_BROWSER=1 but tests/browser/node_modules or /usr/bin/chromium is missing"
        );
        eprintln!(
            "SKIPPED: playwright-core or chromium is not installed (cd tests/browser && npm ci)"
        );
        return None;
    }
    let output = tokio::time::timeout(
        StdDuration::from_secs(90),
        tokio::process::Command::new("node")
            .arg("appointment-page.js")
            .arg(url)
            .arg(action)
            .current_dir(&dir)
            .output(),
    )
    .await
    .expect("the browser finishes within 90 s")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(
        stdout
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

#[actix_web::test]
async fn in_headless_chromium_without_javascript_the_page_shows_the_center_clock_and_confirms_then_cancels()
 {
    let (app, scheduler) = start(Backend::Sqlite).await;
    clinic(&app).await;
    // 29 March 2027, the day after Madrid's spring change: 09:30 local is 07:30 UTC.
    let lid = book(&app, "2027-03-29", "09:30", &[]).await;
    tick(&scheduler, Utc::now()).await;
    tick(&scheduler, local(MADRID, "2027-03-26", "09:30")).await;
    let links: Vec<String> = messages_of(&app, &lid)
        .iter()
        .map(|(_, (_, _, _, body, _))| {
            let at = body.find(&format!("{}/a/", app.address)).expect("a link");
            body[at..].split_whitespace().next().unwrap().to_string()
        })
        .collect();
    assert_eq!(links.len(), 2);
    let Some(seen) = in_chromium(&links[0], "confirm").await else {
        return;
    };
    let at = |key: &str| seen.get(key).map(String::as_str).unwrap_or("(missing)");
    assert_eq!(at("before.status"), "200", "{seen:?}");
    assert_eq!(at("before.date"), "29/03/2027", "{seen:?}");
    assert_eq!(at("before.time"), "09:30", "{seen:?}");
    assert_eq!(at("before.buttons"), "confirm,cancel", "{seen:?}");
    assert_eq!(
        at("after.message"),
        "Gracias: su cita queda confirmada.",
        "{seen:?}"
    );
    assert_eq!(at("after.state"), "confirmada", "{seen:?}");
    assert_eq!(at("after.buttons"), "", "a used link: {seen:?}");
    assert_eq!(at("console"), "", "no CSP or other errors: {seen:?}");
    assert_eq!(status_of(&app, &lid).await, "APPROVED");

    let seen = in_chromium(&links[1], "cancel").await.unwrap();
    let at = |key: &str| seen.get(key).map(String::as_str).unwrap_or("(missing)");
    assert_eq!(at("before.buttons"), "cancel", "{seen:?}");
    assert_eq!(at("after.message"), "Su cita ha sido anulada.", "{seen:?}");
    assert_eq!(at("after.state"), "anulada", "{seen:?}");
    assert_eq!(status_of(&app, &lid).await, "CANCELLED by USER");
}

async fn with_rendez_sms_gsm7_the_confirmation_sms_is_written_in_gsm7(backend: Backend) {
    use rendez::domain::messages::{SmsEncoding, sms_encoding};
    let mut bodies = Vec::new();
    for gsm7 in [false, true] {
        let (app, scheduler) = start_with(backend, |s| s.sms_gsm7 = Some(gsm7)).await;
        clinic(&app).await;
        let lid = book(&app, "2027-03-10", "10:00", &[("USER_FIRST_NAME", "Zoë")]).await;
        tick(&scheduler, Utc::now()).await;
        let sms: Vec<String> = messages_of(&app, &lid)
            .into_iter()
            .filter(|(_, (channel, ..))| channel == "SMS")
            .map(|(_, (_, _, _, body, _))| body)
            .collect();
        assert_eq!(sms.len(), 1, "one confirmation by SMS: {sms:?}");
        bodies.push(sms[0].clone());
    }
    assert_eq!(
        sms_encoding(&bodies[0]).0,
        SmsEncoding::Ucs2,
        "{}",
        bodies[0]
    );
    assert!(bodies[0].contains("Zoë"), "{}", bodies[0]);
    assert_eq!(
        sms_encoding(&bodies[1]).0,
        SmsEncoding::Gsm7,
        "{}",
        bodies[1]
    );
    assert!(bodies[1].contains("Zoe,"), "{}", bodies[1]);
}
