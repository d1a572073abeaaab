//! A booking client limited to some centers must not take over the contact data of a patient it
//! does not know: booking for a patient known only at another center keeps the stored data, the
//! notices go to the stored phone and email, and the answer says so (CONTACTS_KEPT). The clinic's
//! own (unlimited) system, and a limited client whose center the patient visits, change them.

use diesel::prelude::*;
use rendez::db::schema::{messages, patients};

use super::{EMAIL, PHONE, fields_xml, kinds, messages_of, ok, start, start_with, tick};
use crate::backend_tests;
use crate::helpers::{Auth, Backend, Reply, TestApp};

backend_tests!(
    a_madrid_client_books_a_sydney_patient_with_the_stored_contacts_and_says_so,
    the_clinic_s_unlimited_system_changes_an_existing_patient_s_contacts,
    a_limited_client_changes_the_contacts_of_a_patient_who_visits_its_center,
    a_madrid_results_client_does_not_take_over_a_sydney_patient_s_contacts,
);

const PORTAL: &str = "portal-mad";
const PORTAL_PASSWORD: &str = "portal-password-123";
const NEW_PHONE: &str = "+34600999888";
const NEW_EMAIL: &str = "someone.else@example.org";

fn portal() -> Auth {
    Auth::basic(PORTAL, PORTAL_PASSWORD)
}

/// Centers MAD (Madrid) and SYD (Sydney), doctors RM at MAD and RS at SYD doing A30 round the
/// clock, and the booking client `portal-mad`, limited to MAD.
async fn two_centers(app: &TestApp) {
    let rows: &[&[(&str, &str)]] = &[
        &[
            ("LOCATION_LID", "MAD"),
            ("LOCATION_NAME", "Centro Madrid"),
            ("LOCATION_TIMEZONE", "Europe/Madrid"),
        ],
        &[
            ("LOCATION_LID", "SYD"),
            ("LOCATION_NAME", "Sydney Centre"),
            ("LOCATION_TIMEZONE", "Australia/Sydney"),
        ],
        &[
            ("ACTIVITY_LID", "A30"),
            ("ACTIVITY_NAME", "Consulta"),
            ("ACTIVITY_DURATION", "30"),
        ],
        &[
            ("RESOURCE_LID", "RM"),
            ("RESOURCE_FIRST_NAME", "Zoë"),
            ("RESOURCE_SECOND_NAME", "Peña"),
            ("LOCATION_LID", "MAD"),
            ("ACTIVITY_LID", "A30"),
        ],
        &[
            ("RESOURCE_LID", "RS"),
            ("RESOURCE_FIRST_NAME", "Ann"),
            ("RESOURCE_SECOND_NAME", "Lee"),
            ("LOCATION_LID", "SYD"),
            ("ACTIVITY_LID", "A30"),
        ],
    ];
    ok(app.push_key_entities(rows, false).await).await;
    for (lid, resource, center) in [("AV-M", "RM", "MAD"), ("AV-S", "RS", "SYD")] {
        let availability = fields_xml(&[
            ("AVAILABILITY_LID", lid),
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
            .await)
        .await;
    }
    app.add_client(PORTAL, PORTAL_PASSWORD, "booking", "MAD", false);
}

/// Books A30 with `resource` at `date` `time` as `auth`, with the patient fields given; asserts OK.
async fn book_as(
    app: &TestApp,
    auth: &Auth,
    resource: &str,
    date: &str,
    time: &str,
    patient: &[(&str, &str)],
) -> Reply {
    let mut params = vec![
        ("ACTIVITY_LID", "A30"),
        ("RESOURCE_LID", resource),
        ("APP_DATE", date),
        ("APP_START_TIME", time),
    ];
    params.extend_from_slice(patient);
    let reply = app.soap(auth, "addAppointment", &fields_xml(&params)).await;
    reply.assert_ok();
    assert_eq!(
        reply.field("ADD_RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    reply
}

/// The patient as first booked at SYD by the clinic's system.
fn original(user_lid: &str) -> Vec<(&str, &str)> {
    vec![
        ("USER_LID", user_lid),
        ("USER_FIRST_NAME", "Zoë"),
        ("USER_MOBILE_PHONE", PHONE),
        ("USER_EMAIL", EMAIL),
        ("USER_LANGUAGE", "es"),
    ]
}

/// Other contact data for the same patient.
fn takeover(user_lid: &str) -> Vec<(&str, &str)> {
    vec![
        ("USER_LID", user_lid),
        ("USER_FIRST_NAME", "Mallory"),
        ("USER_MOBILE_PHONE", NEW_PHONE),
        ("USER_EMAIL", NEW_EMAIL),
        ("USER_LANGUAGE", "en"),
    ]
}

/// (first name, mobile, email, language) as stored.
type Contacts = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn stored(app: &TestApp, user_lid: &str) -> Contacts {
    let mut conn = app.pool.get().unwrap();
    patients::table
        .filter(patients::lid.eq(user_lid))
        .select((
            patients::first_name,
            patients::mobile_phone,
            patients::email,
            patients::language,
        ))
        .first(&mut conn)
        .unwrap()
}

fn contacts(first: &str, phone: &str, email: &str, language: &str) -> Contacts {
    (
        Some(first.into()),
        Some(phone.into()),
        Some(email.into()),
        Some(language.into()),
    )
}

/// The booking in `reply` changed the patient's contacts to the new ones, said nothing of it,
/// and its confirmation goes to the new phone.
async fn assert_contacts_taken(
    app: &TestApp,
    scheduler: &rendez::memo::scheduler::Scheduler,
    reply: &Reply,
    user_lid: &str,
) {
    assert_eq!(reply.field("CONTACTS_KEPT"), None, "{}", reply.body);
    assert_eq!(
        stored(app, user_lid),
        contacts("Mallory", NEW_PHONE, NEW_EMAIL, "en")
    );
    tick(scheduler, chrono::Utc::now()).await;
    let sent = messages_of(app, &reply.field("APP_LID").unwrap());
    assert_eq!(kinds(&sent), ["confirmation"]);
    assert_eq!(
        (sent[0].1.0.as_str(), sent[0].1.1.as_str()),
        ("SMS", NEW_PHONE)
    );
}

/// Messages queued to the new phone or email, whoever queued them.
fn messages_to_new_contacts(app: &TestApp) -> i64 {
    let mut conn = app.pool.get().unwrap();
    messages::table
        .filter(messages::recipient.eq_any([NEW_PHONE, NEW_EMAIL]))
        .count()
        .get_result(&mut conn)
        .unwrap()
}

async fn a_madrid_client_books_a_sydney_patient_with_the_stored_contacts_and_says_so(
    backend: Backend,
) {
    let (app, scheduler) = start(backend).await;
    two_centers(&app).await;
    let first = book_as(
        &app,
        &Auth::admin(),
        "RS",
        "2027-03-10",
        "10:00",
        &original("P-SYD"),
    )
    .await;
    assert_eq!(first.field("CONTACTS_KEPT"), None, "{}", first.body);
    tick(&scheduler, chrono::Utc::now()).await;

    // The Madrid client books that patient in Madrid with other contact data: the booking is
    // made, with the stored data, and the answer says so; a retry answers the same.
    let mut request = takeover("P-SYD");
    request.push(("REQUEST_ID", "take-1"));
    let reply = book_as(&app, &portal(), "RM", "2027-03-11", "10:00", &request).await;
    assert_eq!(
        reply.field("CONTACTS_KEPT").as_deref(),
        Some("true"),
        "{}",
        reply.body
    );
    assert_eq!(reply.field("USER_LID").as_deref(), Some("P-SYD"));
    let retried = book_as(&app, &portal(), "RM", "2027-03-11", "10:00", &request).await;
    assert_eq!(retried.body, reply.body);
    let madrid = reply.field("APP_LID").unwrap();
    assert_eq!(stored(&app, "P-SYD"), contacts("Zoë", PHONE, EMAIL, "es"));

    // Its confirmation (center, doctor, date and the link) goes to the stored phone.
    tick(&scheduler, chrono::Utc::now()).await;
    let sent = messages_of(&app, &madrid);
    assert_eq!(kinds(&sent), ["confirmation"]);
    let (channel, to, _, body, _) = &sent[0].1;
    assert_eq!((channel.as_str(), to.as_str()), ("SMS", PHONE));
    assert!(body.contains("Centro Madrid"), "{body}");
    assert!(body.contains(&format!("{}/a/", app.address)), "{body}");
    assert_eq!(messages_to_new_contacts(&app), 0);

    // Its own booking does not make the patient the Madrid client's: a second try keeps them too.
    let again = book_as(
        &app,
        &portal(),
        "RM",
        "2027-03-12",
        "10:00",
        &takeover("P-SYD"),
    )
    .await;
    assert_eq!(again.field("CONTACTS_KEPT").as_deref(), Some("true"));
    assert_eq!(stored(&app, "P-SYD"), contacts("Zoë", PHONE, EMAIL, "es"));
    // Giving the stored data, or none, is no change: nothing to say.
    let same = book_as(
        &app,
        &portal(),
        "RM",
        "2027-03-13",
        "10:00",
        &original("P-SYD"),
    )
    .await;
    assert_eq!(same.field("CONTACTS_KEPT"), None, "{}", same.body);
    let bare = book_as(
        &app,
        &portal(),
        "RM",
        "2027-03-13",
        "11:00",
        &[("USER_LID", "P-SYD")],
    )
    .await;
    assert_eq!(bare.field("CONTACTS_KEPT"), None, "{}", bare.body);
    tick(&scheduler, chrono::Utc::now()).await;
    assert_eq!(messages_to_new_contacts(&app), 0);

    // A brand-new patient is created with what the Madrid client gives, and stays its own.
    let new = book_as(
        &app,
        &portal(),
        "RM",
        "2027-03-14",
        "10:00",
        &original("P-NEW"),
    )
    .await;
    assert_eq!(new.field("CONTACTS_KEPT"), None, "{}", new.body);
    assert_eq!(stored(&app, "P-NEW"), contacts("Zoë", PHONE, EMAIL, "es"));
    let moved = book_as(
        &app,
        &portal(),
        "RM",
        "2027-03-15",
        "10:00",
        &takeover("P-NEW"),
    )
    .await;
    assert_eq!(moved.field("CONTACTS_KEPT"), None, "{}", moved.body);
    assert_eq!(
        stored(&app, "P-NEW"),
        contacts("Mallory", NEW_PHONE, NEW_EMAIL, "en")
    );
}

async fn the_clinic_s_unlimited_system_changes_an_existing_patient_s_contacts(backend: Backend) {
    let (app, scheduler) = start(backend).await;
    two_centers(&app).await;
    book_as(
        &app,
        &Auth::admin(),
        "RS",
        "2027-03-10",
        "10:00",
        &original("P-SYD"),
    )
    .await;
    let reply = book_as(
        &app,
        &Auth::admin(),
        "RM",
        "2027-03-11",
        "10:00",
        &takeover("P-SYD"),
    )
    .await;
    assert_contacts_taken(&app, &scheduler, &reply, "P-SYD").await;
}

async fn a_limited_client_changes_the_contacts_of_a_patient_who_visits_its_center(
    backend: Backend,
) {
    let (app, scheduler) = start(backend).await;
    two_centers(&app).await;
    // Known in Sydney and, through the clinic's system, in Madrid (a cancelled visit counts).
    book_as(
        &app,
        &Auth::admin(),
        "RS",
        "2027-03-10",
        "10:00",
        &original("P-BOTH"),
    )
    .await;
    let madrid = book_as(
        &app,
        &Auth::admin(),
        "RM",
        "2027-03-10",
        "12:00",
        &[("USER_LID", "P-BOTH")],
    )
    .await;
    ok_deleted(
        &app.soap(
            &Auth::admin(),
            "deleteAppointment",
            &fields_xml(&[("APP_LID", &madrid.field("APP_LID").unwrap())]),
        )
        .await,
    );
    let reply = book_as(
        &app,
        &portal(),
        "RM",
        "2027-03-11",
        "10:00",
        &takeover("P-BOTH"),
    )
    .await;
    assert_contacts_taken(&app, &scheduler, &reply, "P-BOTH").await;
}

#[track_caller]
fn ok_deleted(reply: &Reply) {
    reply.assert_ok();
    assert_eq!(
        reply.field("DELETE_RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
}

async fn a_madrid_results_client_does_not_take_over_a_sydney_patient_s_contacts(backend: Backend) {
    let (app, _) = start_with(backend, |s| {
        s.results_key = Some(rendez::crypto::keyring::generate_key_text("k1"));
    })
    .await;
    two_centers(&app).await;
    book_as(
        &app,
        &Auth::admin(),
        "RS",
        "2027-03-10",
        "10:00",
        &original("P-SYD"),
    )
    .await;
    let lab = Auth::basic("lab-mad", "lab-mad-password-123");
    app.add_client("lab-mad", "lab-mad-password-123", "results", "MAD", false);

    // A Madrid lab's result for the Sydney patient, with other contact data: the result is
    // stored for the patient, whose contacts stay as they were.
    let mut item = crate::results::Item::new("R-MAD-1", "CODE-7Q4-XK2-PLM", "12345678Z", b"%PDF");
    item.user_lid = Some("P-SYD".into());
    let item = item
        .with("LOCATION_LID", "MAD")
        .with("USER_FIRST_NAME", "Mallory")
        .with("USER_MOBILE_PHONE", NEW_PHONE)
        .with("USER_EMAIL", NEW_EMAIL)
        .with("USER_LANGUAGE", "en");
    let reply = app.push_results(&lab, &[item]).await;
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    assert_eq!(stored(&app, "P-SYD"), contacts("Zoë", PHONE, EMAIL, "es"));
    assert_eq!(messages_to_new_contacts(&app), 0);

    // The clinic's unlimited lab may change them.
    app.add_client("lab-all", "lab-all-password-123", "results", "", false);
    let mut item = crate::results::Item::new("R-ALL-1", "CODE-9W2-RT5-ZZB", "12345678Z", b"%PDF");
    item.user_lid = Some("P-SYD".into());
    let item = item.with("USER_MOBILE_PHONE", NEW_PHONE);
    let reply = app
        .push_results(&Auth::basic("lab-all", "lab-all-password-123"), &[item])
        .await;
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    assert_eq!(
        stored(&app, "P-SYD"),
        contacts("Zoë", NEW_PHONE, EMAIL, "es")
    );
}
