//! The patient page: the form, the download, one refusal for every failure, the per-code
//! lockout and the per-address and global limits.

use diesel::prelude::*;
use rendez::db::schema::test_results;

use super::{Item, results_settings, spawn_results_app_with};
use crate::backend_tests;
use crate::helpers::{Backend, TestApp, spawn_app_on};

backend_tests!(
    the_form_is_plain_accessible_html_that_is_never_cached,
    a_correct_pair_downloads_the_file_with_its_name_and_type,
    every_failure_gets_the_same_refusal,
    five_wrong_id_numbers_lock_the_code_for_fifteen_minutes_even_for_the_right_one,
    twenty_wrong_id_numbers_stop_the_code_until_the_clinic_pushes_it_again,
    an_address_that_guesses_too_often_is_refused_even_with_a_right_pair,
    the_global_limit_lets_a_right_pair_through_and_pauses_an_address_after_one_failure,
    two_servers_on_one_database_count_the_same_wrong_attempts,
    the_page_speaks_the_language_the_browser_asks_for,
);

async fn app_behind_proxy(backend: Backend) -> TestApp {
    spawn_results_app_with(backend, |s| s.trust_forwarded_for = Some(true)).await
}

async fn the_form_is_plain_accessible_html_that_is_never_cached(backend: Backend) {
    let app = app_behind_proxy(backend).await;
    let response = app.get("/results").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert!(header("content-type").starts_with("text/html"));
    assert_eq!(header("cache-control"), "no-store");
    let csp = header("content-security-policy");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("form-action 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("script-src"), "no script is allowed: {csp}");
    let html = response.text().await.unwrap();
    for needle in [
        "<html lang=\"en\">",
        "<h1>",
        "<label for=\"code\">",
        "<input id=\"code\" name=\"code\"",
        "<label for=\"id_number\">",
        "<input id=\"id_number\" name=\"id_number\"",
        "<form method=\"post\" action=\"/results\"",
        "<button type=\"submit\">",
    ] {
        assert!(html.contains(needle), "the page lacks {needle}: {html}");
    }
    assert!(!html.contains("<script"), "no JavaScript");
    let empty = app.download("", "", None).await;
    assert_eq!(empty.status(), 400);
    assert!(empty.text().await.unwrap().contains("Enter both"));
}

async fn a_correct_pair_downloads_the_file_with_its_name_and_type(backend: Backend) {
    let app = app_behind_proxy(backend).await;
    let content: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let mut item = Item::new("PG-1", "Q7XK-2M9P-4T", "12.345.678-Z", &content);
    item.file_name = Some("../Análisis \"sangre\".pdf".into());
    app.push_ok(&item).await;
    // As a patient may type them: lower case, spaces, other punctuation.
    let response = app.download(" q7xk 2m9p 4t ", "12345678z", None).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(header("content-type"), "application/pdf");
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(header("content-security-policy").contains("sandbox"));
    let disposition = header("content-disposition");
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(
        disposition.contains("filename=\"An_lisis sangre.pdf\""),
        "{disposition}"
    );
    assert!(
        disposition.contains("filename*=UTF-8''An%C3%A1lisis%20sangre.pdf"),
        "{disposition}"
    );
    super::assert_same_bytes(Some(response.bytes().await.unwrap().as_ref()), &content);

    // A type that could run in a browser goes out as bytes to save.
    let mut html = Item::new("PG-2", "Q7XK2M9P4TH", "9", b"<script>alert(1)</script>");
    html.file_type = "html".into();
    html.file_name = None;
    app.push_ok(&html).await;
    let response = app.download("Q7XK2M9P4TH", "9", None).await;
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("result-PG-2.html")
    );
}

async fn every_failure_gets_the_same_refusal(backend: Backend) {
    let app = app_behind_proxy(backend).await;
    app.push_ok(&Item::new("PG-3", "SAMEREFUSAL7Q", "555", b"x"))
        .await;
    app.push_ok(&Item::new("PG-4", "CANCELLED7Q2X", "666", b"y"))
        .await;
    app.cancel_result("PG-4").await.assert_ok();
    let mut bodies = Vec::new();
    for (code, id, address) in [
        ("NO-SUCH-CODE-1", "555", "192.0.2.1"),
        ("SAMEREFUSAL7Q", "554", "192.0.2.2"),
        ("CANCELLED7Q2X", "666", "192.0.2.3"),
        ("x".repeat(60).as_str(), "555", "192.0.2.4"),
    ]
    .map(|(c, i, a)| (c.to_string(), i, a))
    {
        let response = app.download(&code, id, Some(address)).await;
        assert_eq!(response.status(), 403, "{code}");
        bodies.push(response.text().await.unwrap());
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "one refusal for all"
    );
    assert!(bodies[0].contains("role=\"alert\""));
}

fn set_counters(app: &TestApp, lid: &str, window_minutes_ago: i64, window: i32, total: i32) {
    let start = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(window_minutes_ago);
    app.update_result(lid, |conn, lid| {
        diesel::update(test_results::table.filter(test_results::lid.eq(lid)))
            .set((
                test_results::window_start.eq(Some(start)),
                test_results::window_failures.eq(window),
                test_results::failures_total.eq(total),
            ))
            .execute(conn)
    });
}

async fn five_wrong_id_numbers_lock_the_code_for_fifteen_minutes_even_for_the_right_one(
    backend: Backend,
) {
    let app = app_behind_proxy(backend).await;
    app.push_ok(&Item::new("LK-1", "LOCKME7Q2XK9", "777", b"locked file"))
        .await;
    let locked = r#"rendez_result_downloads_total{outcome="locked"}"#;
    let granted = r#"rendez_result_downloads_total{outcome="granted"}"#;
    let before = crate::helpers::scrape(&app).await;
    for n in 0..5 {
        let wrong = app
            .download(
                "LOCKME7Q2XK9",
                &format!("70{n}"),
                Some(&format!("198.51.100.{n}")),
            )
            .await;
        assert_eq!(wrong.status(), 403);
    }
    let right = app
        .download("LOCKME7Q2XK9", "777", Some("198.51.100.50"))
        .await;
    assert_eq!(right.status(), 403, "locked even for the right ID number");
    let after = crate::helpers::scrape(&app).await;
    use crate::helpers::sample;
    assert!(
        sample(&after, locked) >= sample(&before, locked) + 1.0,
        "{after}"
    );
    // Sixteen minutes later the window has passed.
    set_counters(&app, "LK-1", 16, 5, 5);
    let right = app
        .download("LOCKME7Q2XK9", "777", Some("198.51.100.51"))
        .await;
    assert_eq!(right.status(), 200);
    assert_eq!(right.bytes().await.unwrap().as_ref(), b"locked file");
    let last = crate::helpers::scrape(&app).await;
    assert!(
        sample(&last, granted) >= sample(&after, granted) + 1.0,
        "{last}"
    );
}

async fn twenty_wrong_id_numbers_stop_the_code_until_the_clinic_pushes_it_again(backend: Backend) {
    let app = app_behind_proxy(backend).await;
    let item = Item::new("LK-2", "BLOCKME7Q2XK", "888", b"blocked file");
    app.push_ok(&item).await;
    set_counters(&app, "LK-2", 60, 0, 19);
    let twentieth = app
        .download("BLOCKME7Q2XK", "000", Some("203.0.113.20"))
        .await;
    assert_eq!(twentieth.status(), 403);
    set_counters(&app, "LK-2", 600, 0, 20);
    let right = app
        .download("BLOCKME7Q2XK", "888", Some("203.0.113.21"))
        .await;
    assert_eq!(right.status(), 403, "stopped, whatever the window");
    app.push_ok(&item).await;
    let right = app
        .download("BLOCKME7Q2XK", "888", Some("203.0.113.22"))
        .await;
    assert_eq!(right.status(), 200, "re-issued by the clinic");
}

async fn an_address_that_guesses_too_often_is_refused_even_with_a_right_pair(backend: Backend) {
    let app = spawn_results_app_with(backend, |s| {
        s.trust_forwarded_for = Some(true);
        s.results_address_limit = Some(3);
    })
    .await;
    app.push_ok(&Item::new("AD-1", "ADDRESSED7Q2X", "999", b"file"))
        .await;
    for n in 0..3 {
        let guess = app
            .download(&format!("GUESS{n}XYZ"), "999", Some("192.0.2.66"))
            .await;
        assert_eq!(guess.status(), 403);
    }
    let right = app
        .download("ADDRESSED7Q2X", "999", Some("192.0.2.66"))
        .await;
    assert_eq!(right.status(), 403, "the guessing address is paused");
    let elsewhere = app
        .download("ADDRESSED7Q2X", "999", Some("192.0.2.67"))
        .await;
    assert_eq!(elsewhere.status(), 200, "another address is not");
}

async fn the_global_limit_lets_a_right_pair_through_and_pauses_an_address_after_one_failure(
    backend: Backend,
) {
    let app = spawn_results_app_with(backend, |s| {
        s.trust_forwarded_for = Some(true);
        s.results_global_limit = Some(4);
    })
    .await;
    app.push_ok(&Item::new("GL-1", "GLOBALLY7Q2XK", "111", b"file"))
        .await;
    for n in 0..4 {
        let guess = app
            .download(
                &format!("GUESS{n}XYZ"),
                "111",
                Some(&format!("192.0.2.{}", 100 + n)),
            )
            .await;
        assert_eq!(guess.status(), 403);
    }
    // The global limit is reached: nobody is locked out with the right pair...
    let right = app
        .download("GLOBALLY7Q2XK", "111", Some("192.0.2.200"))
        .await;
    assert_eq!(right.status(), 200, "a right pair still downloads");
    assert_eq!(right.bytes().await.unwrap().as_ref(), b"file");
    // ...and a wrong attempt is refused and pauses its address, even for the right pair.
    let wrong = app
        .download("GLOBALLY7Q2XK", "112", Some("192.0.2.201"))
        .await;
    assert_eq!(wrong.status(), 403);
    let after = app
        .download("GLOBALLY7Q2XK", "111", Some("192.0.2.201"))
        .await;
    assert_eq!(
        after.status(),
        403,
        "one failure per address while the limit holds"
    );
}

async fn two_servers_on_one_database_count_the_same_wrong_attempts(backend: Backend) {
    let db = std::sync::Arc::new(crate::helpers::TestDatabase::new(backend));
    let settings = results_settings(&db, |s| s.trust_forwarded_for = Some(true));
    let first = spawn_app_on(db.clone(), settings.clone()).await;
    first.add_client(super::LAB, super::LAB_PASSWORD, "results", "", false);
    // A second process: same database, same results key, its own memory.
    let second = spawn_app_on(db, settings).await;
    first
        .push_ok(&Item::new("TWO-1", "TWOSERVERS7Q2", "4242", b"shared"))
        .await;
    for n in 0..5 {
        let server = if n % 2 == 0 { &first } else { &second };
        let wrong = server
            .download(
                "TWOSERVERS7Q2",
                &format!("99{n}"),
                Some(&format!("203.0.113.{}", 60 + n)),
            )
            .await;
        assert_eq!(wrong.status(), 403);
    }
    for server in [&first, &second] {
        let right = server
            .download("TWOSERVERS7Q2", "4242", Some("203.0.113.99"))
            .await;
        assert_eq!(right.status(), 403, "locked on every server");
    }
}

async fn the_page_speaks_the_language_the_browser_asks_for(backend: Backend) {
    let app = app_behind_proxy(backend).await;
    let get = |language: &'static str| {
        app.http
            .get(format!("{}/results", app.address))
            .header("Accept-Language", language)
            .send()
    };
    for (asked, lang, title) in [
        ("es-ES,es;q=0.9,en;q=0.8", "es", "Descargue sus resultados"),
        (
            "fr-FR, en;q=0.5, es;q=0.4",
            "en",
            "Download your test results",
        ),
        ("en;q=0.3, es-MX;q=0.7", "es", "Descargue sus resultados"),
        ("de, *;q=0.1", "en", "Download your test results"),
    ] {
        let response = get(asked).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-language"], lang, "{asked}");
        assert_eq!(response.headers()["vary"], "Accept-Language");
        let html = response.text().await.unwrap();
        assert!(
            html.contains(&format!("<html lang=\"{lang}\">")),
            "{asked}: {html}"
        );
        assert!(html.contains(title), "{asked}: {html}");
    }
    // A refusal in Spanish, as generic as in English.
    let refused = app
        .http
        .post(format!("{}/results", app.address))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept-Language", "es")
        .body(crate::results::form_body("NOSUCHCODE123", "000"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let html = refused.text().await.unwrap();
    assert!(html.contains("no corresponden a un resultado"), "{html}");
}
