//! The overview's numbers in each center's own time and its delivery rate per provider:
//! "today" and "this week" run from the center's local midnight (a center in Madrid and one in
//! Auckland, appointments at 00:30 and 23:30 local, a day when the clocks go back), the
//! appointment list's day filter reads the same way, and an operator of one center sees
//! neither another center's counts nor the shared delivery numbers. The delivery rate comes
//! from real sends to a fake Twilio and its signed status reports, and each number links to
//! the message list that lists exactly those messages.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use rendez::db::schema::{appointments, messages};

use super::{Browser, Page, add_operator, fields_xml, ok, start};
use crate::backend_tests;
use crate::helpers::{Auth, Backend, TestApp};
use crate::messaging::support::{
    FakeProvider, PARTNER, PARTNER_PASSWORD, TWILIO_TOKEN, accept, sms, twilio_settings,
    wait_for_status,
};

backend_tests!(
    each_center_counts_today_and_this_week_from_its_own_local_midnight,
    the_overview_shows_the_delivery_rate_per_provider_and_links_to_the_messages_behind_it,
);

const MADRID: Tz = chrono_tz::Europe::Madrid;
const AUCKLAND: Tz = chrono_tz::Pacific::Auckland;

/// The rows of a table (by id) as text cells, tags stripped.
fn cells(page: &Page, id: &str) -> Vec<Vec<String>> {
    let start = page
        .body
        .find(&format!(r#"<table id="{id}">"#))
        .unwrap_or_else(|| panic!("a table '{id}': {}", page.body));
    let table = &page.body[start..start + page.body[start..].find("</table>").unwrap()];
    table
        .split("<tr>")
        .skip(2)
        .map(|row| {
            row.split("<td>")
                .skip(1)
                .map(|cell| {
                    let cell = &cell[..cell.find("</td>").unwrap_or(cell.len())];
                    let mut text = String::new();
                    let mut in_tag = false;
                    for c in cell.chars() {
                        match c {
                            '<' => in_tag = true,
                            '>' => in_tag = false,
                            c if !in_tag => text.push(c),
                            _ => {}
                        }
                    }
                    text
                })
                .collect()
        })
        .collect()
}

/// The link of a cell (the first `href` in the row after `after`), unescaped.
fn link_after(row_html: &str, after: &str) -> String {
    let at = row_html.find(after).expect("the row has the marker");
    let rest = &row_html[at..];
    let href = &rest[rest.find("href=\"").unwrap() + 6..];
    href[..href.find('"').unwrap()].replace("&amp;", "&")
}

/// The HTML of the first row of table `id` that contains every one of `texts`.
fn row_html<'a>(page: &'a Page, id: &str, texts: &[&str]) -> &'a str {
    let start = page.body.find(&format!(r#"<table id="{id}">"#)).unwrap();
    let table = &page.body[start..start + page.body[start..].find("</table>").unwrap()];
    table
        .split("<tr>")
        .find(|row| texts.iter().all(|t| row.contains(t)))
        .unwrap_or_else(|| panic!("a row with {texts:?}: {table}"))
}

/// Two centers, CM in Madrid (clinician RM) and CA in Auckland (RA), open all day.
async fn madrid_and_auckland(app: &TestApp) {
    let rows: Vec<Vec<(&str, &str)>> = vec![
        vec![
            ("ACTIVITY_LID", "A30"),
            ("ACTIVITY_NAME", "Consulta"),
            ("ACTIVITY_DURATION", "30"),
        ],
        vec![
            ("LOCATION_LID", "CM"),
            ("LOCATION_NAME", "Centro Madrid"),
            ("LOCATION_TIMEZONE", "Europe/Madrid"),
        ],
        vec![
            ("LOCATION_LID", "CA"),
            ("LOCATION_NAME", "Auckland Clinic"),
            ("LOCATION_TIMEZONE", "Pacific/Auckland"),
        ],
        vec![
            ("RESOURCE_LID", "RM"),
            ("RESOURCE_FIRST_NAME", "Doc"),
            ("RESOURCE_SECOND_NAME", "Madrid"),
            ("LOCATION_LID", "CM"),
            ("ACTIVITY_LID", "A30"),
        ],
        vec![
            ("RESOURCE_LID", "RA"),
            ("RESOURCE_FIRST_NAME", "Doc"),
            ("RESOURCE_SECOND_NAME", "Auckland"),
            ("LOCATION_LID", "CA"),
            ("ACTIVITY_LID", "A30"),
        ],
    ];
    let rows: Vec<&[(&str, &str)]> = rows.iter().map(|r| r.as_slice()).collect();
    ok(app.push_key_entities(&rows, false).await);
    for (center, resource) in [("CM", "RM"), ("CA", "RA")] {
        let availability = fields_xml(&[
            ("AVAILABILITY_LID", &format!("AV-{center}")),
            ("RESOURCE_LID", resource),
            ("LOCATION_LID", center),
            ("R_START_TIME", "00:00"),
            ("R_END_TIME", "24:00"),
        ]);
        ok(app
            .soap(
                &Auth::admin(),
                "updateAvailabilities",
                &format!("<AVAILABILITY>{availability}</AVAILABILITY>"),
            )
            .await);
    }
}

/// Books an appointment with `resource` through SOAP (in the free days ahead), then moves it
/// to start at `local` on `tz`'s clock (a real instant the test chose). Returns its LID.
async fn appointment_at(
    app: &TestApp,
    resource: &str,
    n: usize,
    tz: Tz,
    local: NaiveDateTime,
) -> String {
    let day = (Utc::now() + Duration::days(5))
        .format("%Y-%m-%d")
        .to_string();
    let time = format!("{:02}:{:02}", 8 + n / 2, (n % 2) * 30);
    let first = format!("Paciente{n}");
    let phone = format!("+346001110{n:02}");
    let reply = app
        .soap(
            &Auth::admin(),
            "addAppointment",
            &fields_xml(&[
                ("ACTIVITY_LID", "A30"),
                ("RESOURCE_LID", resource),
                ("APP_DATE", &day),
                ("APP_START_TIME", &time),
                ("USER_FIRST_NAME", &first),
                ("USER_SECOND_NAME", resource),
                ("USER_MOBILE_PHONE", &phone),
                ("USER_LANGUAGE", "es"),
            ]),
        )
        .await;
    reply.assert_ok();
    assert_eq!(
        reply.field("ADD_RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    let lid = reply.field("APP_LID").unwrap();
    let start = tz
        .from_local_datetime(&local)
        .earliest()
        .expect("the test's local times exist")
        .naive_utc();
    let mut conn = app.pool.get().unwrap();
    diesel::update(appointments::table.filter(appointments::lid.eq(&lid)))
        .set((
            appointments::start_at.eq(start),
            appointments::end_at.eq(start + Duration::minutes(30)),
        ))
        .execute(&mut conn)
        .unwrap();
    lid
}

fn at(day: NaiveDate, h: u32, m: u32) -> NaiveDateTime {
    day.and_hms_opt(h, m, 0).unwrap()
}

fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

fn status_of(app: &TestApp, lid: &str) -> String {
    let mut conn = app.pool.get().unwrap();
    appointments::table
        .filter(appointments::lid.eq(lid))
        .select(appointments::status)
        .first(&mut conn)
        .unwrap()
}

async fn each_center_counts_today_and_this_week_from_its_own_local_midnight(backend: Backend) {
    let app = start(backend, |_| {}).await;
    madrid_and_auckland(&app).await;
    let now: DateTime<Utc> = Utc::now();
    // (lid, local day) of every appointment, per center.
    let mut placed: Vec<(&str, String, NaiveDate)> = Vec::new();
    let mut n = 0;
    for (center, resource, tz) in [("CM", "RM", MADRID), ("CA", "RA", AUCKLAND)] {
        let today = now.with_timezone(&tz).date_naive();
        let one = Duration::days(1);
        // 00:30 local is the evening before in UTC (Madrid) or midday before (Auckland); 23:30
        // local of the day before and 00:30 of the day after sit just outside today.
        for local in [
            at(today, 0, 30),
            at(today, 23, 30),
            at(today - one, 23, 30),
            at(today + one, 0, 30),
        ] {
            let lid = appointment_at(&app, resource, n, tz, local).await;
            n += 1;
            placed.push((center, lid, local.date()));
        }
    }
    add_operator(&app, "root", "booking,messaging", &["CM", "CA"], &[]);
    let root = Browser::signed_in(&app, "root").await;
    let overview = root.get("/console/overview").await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    let rows = cells(&overview, "centers");
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (center, tz) in [("CM", MADRID), ("CA", AUCKLAND)] {
        let today = now.with_timezone(&tz).date_naive();
        let monday = monday_of(today);
        let mine: Vec<&(&str, String, NaiveDate)> =
            placed.iter().filter(|p| p.0 == center).collect();
        let expected_week = mine
            .iter()
            .filter(|p| p.2 >= monday && p.2 < monday + Duration::days(7))
            .count();
        let expected_unconfirmed = mine
            .iter()
            .filter(|p| p.2 == today + Duration::days(1) && status_of(&app, &p.1) == "PENDING")
            .count();
        let row = rows
            .iter()
            .find(|r| r[0].contains(&format!("({center})")))
            .unwrap_or_else(|| panic!("{center}: {rows:?}"));
        assert!(row[1].starts_with(&today.to_string()), "{center}: {row:?}");
        assert!(row[1].contains(tz.name()), "{row:?}");
        assert_eq!(
            row[2], "2",
            "{center}: today is 00:30 and 23:30 local: {row:?}"
        );
        assert_eq!(
            row[3],
            expected_week.to_string(),
            "{center} this week: {row:?}"
        );
        assert_eq!(
            row[5],
            expected_unconfirmed.to_string(),
            "{center}: {row:?}"
        );
    }

    // The links behind "today" list those two, in the center's clock.
    for (center, tz) in [("CM", MADRID), ("CA", AUCKLAND)] {
        let today = now.with_timezone(&tz).date_naive();
        let html = row_html(&overview, "centers", &[&format!("({center})")]);
        let href = link_after(html, "local-day");
        assert!(href.contains("date=today"), "{href}");
        let list = root.get(&href).await;
        assert_eq!(list.status, 200, "{}", list.body);
        for (c, lid, day) in &placed {
            let listed = list.body.contains(&format!(">{lid}<"));
            assert_eq!(
                listed,
                *c == center && *day == today,
                "{center} {lid} on {day}: {}",
                list.body
            );
        }
        assert!(
            list.body
                .contains(&format!("{} 00:30 {}", today, tz.name())),
            "{}",
            list.body
        );
    }
    // Without a center, "today" is each center's own today.
    let list = root.get("/console/appointments?date=today").await;
    assert!(list.body.contains(r#"id="day""#), "{}", list.body);
    for (center, lid, day) in &placed {
        let tz = if *center == "CM" { MADRID } else { AUCKLAND };
        assert_eq!(
            list.body.contains(&format!(">{lid}<")),
            *day == now.with_timezone(&tz).date_naive(),
            "{lid}: {}",
            list.body
        );
    }

    // A day when Madrid's clocks go back (25 hours, 2026-10-25): midnight is at 22:00 UTC the
    // day before and the next at 23:00 UTC; a fixed offset would get one end wrong.
    let change = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
    let inside_first = appointment_at(&app, "RM", n, MADRID, at(change, 0, 30)).await;
    let inside_last = appointment_at(&app, "RM", n + 1, MADRID, at(change, 23, 30)).await;
    let before = appointment_at(
        &app,
        "RM",
        n + 2,
        MADRID,
        at(change - Duration::days(1), 23, 30),
    )
    .await;
    let after = appointment_at(
        &app,
        "RM",
        n + 3,
        MADRID,
        at(change + Duration::days(1), 0, 30),
    )
    .await;
    let list = root
        .get("/console/appointments?center=CM&date=2026-10-25")
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    for (lid, expected) in [
        (&inside_first, true),
        (&inside_last, true),
        (&before, false),
        (&after, false),
    ] {
        assert_eq!(
            list.body.contains(&format!(">{lid}<")),
            expected,
            "{lid}: {}",
            list.body
        );
    }
    assert!(
        list.body.contains(r#"value="2026-10-25""#),
        "the form keeps the day"
    );
    let bad = root.get("/console/appointments?date=25/10/2026").await;
    assert_eq!(bad.status, 400, "{}", bad.body);

    // An operator of Madrid only: Auckland's counts and appointments are not there, even asked
    // for by name, and neither are the shared delivery numbers.
    add_operator(&app, "maria", "booking,messaging", &["CM"], &[]);
    let maria = Browser::signed_in(&app, "maria").await;
    let hers = maria.get("/console/overview").await;
    let rows = cells(&hers, "centers");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0][0].contains("(CM)"));
    assert!(!hers.body.contains("Auckland"), "{}", hers.body);
    assert!(!hers.body.contains(r#"id="delivery""#));
    let theirs = maria
        .get("/console/appointments?center=CA&date=today")
        .await;
    assert_eq!(theirs.status, 200);
    for (center, lid, _) in &placed {
        if *center == "CA" {
            assert!(
                !theirs.body.contains(&format!(">{lid}<")),
                "{}",
                theirs.body
            );
        }
    }
}

async fn the_overview_shows_the_delivery_rate_per_provider_and_links_to_the_messages_behind_it(
    backend: Backend,
) {
    let provider = FakeProvider::start().await;
    let app = start(backend, |s| twilio_settings(s, &provider.url)).await;
    app.add_client(PARTNER, PARTNER_PASSWORD, "messaging", "", false);
    madrid_and_auckland(&app).await;
    let items: Vec<Vec<(&str, &str)>> = vec![
        sms("r-1", "+34600222001", "Hola"),
        sms("r-2", "+34600222002", "Hola"),
        sms("r-3", "+34600222003", "Hola"),
        sms("r-4", "+34600222004", "Hola"),
        sms("r-5", "+34600222005", "Hola"),
    ];
    let refs: Vec<&[(&str, &str)]> = items.iter().map(|i| i.as_slice()).collect();
    let ids = accept(&app, &refs).await;
    for id in &ids {
        wait_for_status(&app.pool, id, "SENT", std::time::Duration::from_secs(20)).await;
    }
    let sid_of = |id: &str| -> String {
        let mut conn = app.pool.get().unwrap();
        messages::table
            .find(id)
            .select(messages::provider_id.assume_not_null())
            .first(&mut conn)
            .unwrap()
    };
    // Twilio's signed reports: three delivered, one undelivered, one without a report yet.
    for (id, status) in [
        (&ids[0], "delivered"),
        (&ids[1], "delivered"),
        (&ids[2], "delivered"),
        (&ids[3], "undelivered"),
    ] {
        let url = format!("{}/hooks/twilio/status", app.address);
        let params = vec![
            ("MessageSid".to_string(), sid_of(id)),
            ("MessageStatus".to_string(), status.to_string()),
        ];
        let signature = rendez::messaging::twilio::signature(TWILIO_TOKEN, &url, &params);
        let answer = app
            .http
            .post(&url)
            .header("X-Twilio-Signature", signature)
            .form(&params)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
    }
    // One delivered message was sent three days ago: in the week's numbers, not the day's.
    let mut conn = app.pool.get().unwrap();
    diesel::update(messages::table.find(&ids[2]))
        .set(messages::sent_at.eq(Some((Utc::now() - Duration::days(3)).naive_utc())))
        .execute(&mut conn)
        .unwrap();
    drop(conn);

    add_operator(&app, "root", "booking,messaging", &["CM", "CA"], &[]);
    let root = Browser::signed_in(&app, "root").await;
    let overview = root.get("/console/overview").await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    let rows = cells(&overview, "delivery");
    let day = rows
        .iter()
        .find(|r| r[0] == "last 24 hours" && r[1] == "twilio" && r[2] == "SMS")
        .unwrap_or_else(|| panic!("{rows:?}"));
    // Sent, delivered, failed, no report yet, rate (2 of 3 reported).
    assert_eq!(&day[3..], ["4", "2", "1", "1", "66.7 %"], "{rows:?}");
    let week = rows
        .iter()
        .find(|r| r[0] == "last 7 days" && r[1] == "twilio")
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(&week[3..], ["5", "3", "1", "1", "75.0 %"], "{rows:?}");

    // Each number links to the messages behind it, and to no other.
    let html = row_html(&overview, "delivery", &["last 24 hours", "twilio"]);
    let expected: [(&str, Vec<&String>); 4] = [
        ("state=DELIVERED", vec![&ids[0], &ids[1]]),
        ("state=FAILED", vec![&ids[3]]),
        ("state=SENT", vec![&ids[4]]),
        ("sent_since=", vec![&ids[0], &ids[1], &ids[3], &ids[4]]),
    ];
    let links: Vec<String> = html
        .split("href=\"")
        .skip(1)
        .map(|h| h[..h.find('"').unwrap()].replace("&amp;", "&"))
        .collect();
    assert_eq!(links.len(), 4, "{html}");
    for (marker, listed) in expected {
        let href = if marker == "sent_since=" {
            links.iter().find(|l| !l.contains("state=")).unwrap()
        } else {
            links.iter().find(|l| l.contains(marker)).unwrap()
        };
        assert!(href.contains("provider=twilio"), "{href}");
        let list = root.get(href).await;
        assert_eq!(list.status, 200, "{}", list.body);
        for id in &ids {
            assert_eq!(
                list.body.contains(&format!(">{id}<")),
                listed.contains(&id),
                "{href}: {id}: {}",
                list.body
            );
        }
    }
    let wrong = root.get("/console/messages?sent_since=yesterday").await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);

    // An operator of one center sees no provider's numbers (messages belong to no center).
    add_operator(&app, "maria", "booking,messaging", &["CM"], &[]);
    let maria = Browser::signed_in(&app, "maria").await;
    let hers = maria.get("/console/overview").await;
    assert_eq!(hers.status, 200);
    assert!(!hers.body.contains(r#"id="delivery""#), "{}", hers.body);
    assert!(!hers.body.contains("twilio"), "{}", hers.body);
}
