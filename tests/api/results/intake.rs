//! updateTestResults, getTestResultsList and getTestResultContent over SOAP: storing, replacing,
//! cancelling, per-item errors, roles and centers, and a server without a results key.

use std::sync::Arc;

use diesel::prelude::*;
use rendez::db::schema::{test_result_chunks, test_results};

use super::{
    Item, LAB, LAB_PASSWORD, decoded_content, lab, sample_content, spawn_results_app,
    spawn_results_app_with,
};
use crate::backend_tests;
use crate::helpers::{Auth, Backend, TestDatabase, spawn_app_on, test_settings};

backend_tests!(
    a_pushed_result_is_read_back_byte_for_byte_and_listed_without_its_code,
    pushing_the_same_download_lid_again_replaces_the_file_and_the_code,
    a_cancelled_result_answers_cancelled_without_content_and_its_content_is_deleted,
    bad_items_are_reported_by_number_and_field_and_the_good_ones_are_kept,
    a_weak_code_is_stored_with_a_warning,
    only_clients_with_the_results_role_and_the_results_center_reach_a_result,
    the_list_needs_a_patient_and_filters_by_start_date,
    without_a_results_key_the_operations_and_the_page_say_results_are_not_configured,
);

async fn a_pushed_result_is_read_back_byte_for_byte_and_listed_without_its_code(backend: Backend) {
    let app = spawn_results_app(backend).await;
    let content = sample_content("hemoglobin", 70_000);
    let item = Item::new("R-1", "K7QX-2M9P-4T", "12345678Z", &content)
        .with("USER_MOBILE_PHONE", "+34 600 11 22 33")
        .with("USER_EMAIL", "Zoe.Pena@Example.org");
    app.push_ok(&item).await;

    let reply = app.result_content(&lab(), "R-1").await;
    reply.assert_ok();
    assert_eq!(reply.field("STATUS").as_deref(), Some("Valid"));
    super::assert_same_bytes(decoded_content(&reply).as_deref(), &content);
    assert!(reply.field("ERROR_MESSAGE").is_none(), "{}", reply.body);

    let list = app
        .soap(&lab(), "getTestResultsList", "<USER_LID>P-R-1</USER_LID>")
        .await;
    list.assert_ok();
    assert_eq!(list.fields("DOWNLOAD_LID"), vec!["R-1"]);
    assert_eq!(
        list.field("DOWNLOAD_FILENAME").as_deref(),
        Some("R-1-análisis.pdf")
    );
    assert_eq!(list.field("DOWNLOAD_TYPE").as_deref(), Some("pdf"));
    assert_eq!(list.field("STATUS").as_deref(), Some("Valid"));
    assert_eq!(list.field("USER_ID_NUMBER").as_deref(), Some("12345678Z"));
    assert_eq!(
        list.field("USER_MOBILE_PHONE").as_deref(),
        Some("+34600112233")
    );
    assert_eq!(
        list.field("USER_EMAIL").as_deref(),
        Some("zoe.pena@example.org")
    );
    assert!(
        list.field("DOWNLOAD_CODE").is_none(),
        "codes are never answered"
    );
    assert!(!list.body.contains("K7QX"), "{}", list.body);
    assert!(list.field("DOWNLOAD_CONTENT").is_none());

    // The same list through the id Rendez gave the patient.
    let tid = list.field("USER_TID").expect("a USER_TID");
    let by_tid = app
        .soap(
            &lab(),
            "getTestResultsList",
            &format!("<USER_TID>{tid}</USER_TID>"),
        )
        .await;
    assert_eq!(by_tid.fields("DOWNLOAD_LID"), vec!["R-1"]);

    // SOAP 1.2 reads the same.
    let reply12 = app
        .soap12(
            &lab(),
            "getTestResultContent",
            "<DOWNLOAD_LID>R-1</DOWNLOAD_LID>",
        )
        .await;
    reply12.assert_ok();
    super::assert_same_bytes(decoded_content(&reply12).as_deref(), &content);
}

async fn pushing_the_same_download_lid_again_replaces_the_file_and_the_code(backend: Backend) {
    let app = spawn_results_app(backend).await;
    app.push_ok(&Item::new(
        "R-2",
        "FIRSTCODE7Q2X",
        "X1234567",
        b"first version",
    ))
    .await;
    let mut second = Item::new("R-2", "SECONDCODE9K4M", "X1234567", b"second, corrected");
    second.file_name = Some("corrected.pdf".into());
    app.push_ok(&second).await;

    let reply = app.result_content(&lab(), "R-2").await;
    assert_eq!(
        decoded_content(&reply).as_deref(),
        Some(&b"second, corrected"[..])
    );
    let list = app
        .soap(&lab(), "getTestResultsList", "<USER_LID>P-R-2</USER_LID>")
        .await;
    assert_eq!(
        list.fields("DOWNLOAD_LID"),
        vec!["R-2"],
        "replaced, not added"
    );
    assert_eq!(
        list.field("DOWNLOAD_FILENAME").as_deref(),
        Some("corrected.pdf")
    );

    let old = app.download("FIRSTCODE7Q2X", "X1234567", None).await;
    assert_eq!(old.status(), 403, "the old code no longer works");
    let new = app.download("SECONDCODE9K4M", "X1234567", None).await;
    assert_eq!(new.status(), 200);
    assert_eq!(new.bytes().await.unwrap().as_ref(), b"second, corrected");
}

async fn a_cancelled_result_answers_cancelled_without_content_and_its_content_is_deleted(
    backend: Backend,
) {
    let app = spawn_results_app(backend).await;
    app.push_ok(&Item::new(
        "R-3",
        "CANCELME7Q2XK",
        "Y7654321",
        b"to be withdrawn",
    ))
    .await;
    let reply = app.cancel_result("R-3").await;
    reply.assert_ok();
    assert_eq!(
        reply.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        reply.body
    );
    // Cancelling again is harmless.
    let again = app.cancel_result("R-3").await;
    assert_eq!(
        again.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        again.body
    );

    let content = app.result_content(&lab(), "R-3").await;
    content.assert_ok();
    assert_eq!(content.field("STATUS").as_deref(), Some("Cancelled"));
    assert!(
        content.field("DOWNLOAD_CONTENT").is_none(),
        "{}",
        content.body
    );
    assert!(
        content
            .field("ERROR_MESSAGE")
            .unwrap()
            .contains("cancelled")
    );
    let list = app
        .soap(&lab(), "getTestResultsList", "<USER_LID>P-R-3</USER_LID>")
        .await;
    assert_eq!(list.field("STATUS").as_deref(), Some("Cancelled"));

    let mut conn = app.pool.get().unwrap();
    let id: String = test_results::table
        .filter(test_results::lid.eq("R-3"))
        .select(test_results::id)
        .first(&mut conn)
        .unwrap();
    let chunks: i64 = test_result_chunks::table
        .filter(test_result_chunks::result_id.eq(&id))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(chunks, 0, "the content is deleted at once");
    drop(conn);
    let page = app.download("CANCELME7Q2XK", "Y7654321", None).await;
    assert_eq!(page.status(), 403);

    let unknown = app.cancel_result("NO-SUCH").await;
    assert_eq!(unknown.field("RESULT").as_deref(), Some("ERROR"));
    assert!(
        unknown
            .field("ERROR_MESSAGE")
            .unwrap()
            .contains("DOWNLOAD_LID 'NO-SUCH' is unknown"),
        "{}",
        unknown.body
    );
}

async fn bad_items_are_reported_by_number_and_field_and_the_good_ones_are_kept(backend: Backend) {
    let app = spawn_results_app_with(backend, |s| s.results_max_size = Some("2KiB".into())).await;
    let mut no_code = Item::new("B-1", "", "1", b"x");
    no_code.code = String::new();
    let mut bad_type = Item::new("B-3", "Q7XK2M9PT4", "1", b"x");
    bad_type.file_type = "p d f".into();
    let too_big = Item::new("B-4", "Q7XK2M9PT5", "1", &vec![1u8; 3000]);
    let good = Item::new("B-5", "Q7XK2M9PT6", "1", b"fine");
    let mut no_content = Item::new("B-6", "Q7XK2M9PT7", "1", b"");
    no_content.content = Vec::new();
    let mut inner: String = [no_code, bad_type, too_big, good, no_content]
        .iter()
        .map(Item::xml)
        .collect();
    // Item 2 carries content that is not base64; item 7 names a status that does not exist;
    // item 8 names a center that does not exist.
    inner = inner.replacen(
        "<TEST_RESULT><DOWNLOAD_LID>B-3",
        "<TEST_RESULT><DOWNLOAD_LID>B-2</DOWNLOAD_LID><DOWNLOAD_CODE>Q7XK2M9PT3</DOWNLOAD_CODE><USER_ID_NUMBER>1</USER_ID_NUMBER><DOWNLOAD_TYPE>pdf</DOWNLOAD_TYPE><DOWNLOAD_CONTENT>@@not base64@@</DOWNLOAD_CONTENT></TEST_RESULT><TEST_RESULT><DOWNLOAD_LID>B-3",
        1,
    );
    inner.push_str(
        "<TEST_RESULT><DOWNLOAD_LID>B-7</DOWNLOAD_LID><STATUS>Lost</STATUS></TEST_RESULT>",
    );
    inner.push_str(
        &Item::new("B-8", "Q7XK2M9PT8", "1", b"x")
            .with("LOCATION_LID", "NOWHERE")
            .xml(),
    );
    let reply = app.soap(&lab(), "updateTestResults", &inner).await;
    reply.assert_ok();
    let results = reply.fields("RESULT");
    let messages = reply.fields("ERROR_MESSAGE");
    assert_eq!(
        results,
        vec![
            "ERROR", "ERROR", "ERROR", "ERROR", "OK", "ERROR", "ERROR", "ERROR"
        ],
        "{}",
        reply.body
    );
    let expect = [
        ("TEST_RESULT 1", "DOWNLOAD_CODE"),
        ("TEST_RESULT 2", "DOWNLOAD_CONTENT is not base64"),
        ("TEST_RESULT 3", "DOWNLOAD_TYPE"),
        ("TEST_RESULT 4", "larger than the limit of 2048 bytes"),
        ("TEST_RESULT 6", "DOWNLOAD_CONTENT is required"),
        ("TEST_RESULT 7", "STATUS 'Lost'"),
        (
            "TEST_RESULT 8",
            "LOCATION_LID 'NOWHERE' is not a known center",
        ),
    ];
    assert_eq!(messages.len(), expect.len(), "{}", reply.body);
    for (message, (number, text)) in messages.iter().zip(expect) {
        assert!(
            message.starts_with(number) && message.contains(text),
            "{message:?} lacks {number} / {text}"
        );
    }
    let good = app.result_content(&lab(), "B-5").await;
    assert_eq!(decoded_content(&good).as_deref(), Some(&b"fine"[..]));
    let refused = app.result_content(&lab(), "B-4").await;
    assert!(
        refused
            .field("ERROR_MESSAGE")
            .unwrap()
            .contains("unknown DOWNLOAD_LID")
    );

    // An element that is not a TEST_RESULT is a fault naming it.
    let fault = app
        .soap(&lab(), "updateTestResults", "<ROW><X>1</X></ROW>")
        .await;
    fault.assert_fault("Client", "unexpected element ROW");
}

async fn a_weak_code_is_stored_with_a_warning(backend: Backend) {
    let app = spawn_results_app(backend).await;
    let reply = app
        .push_results(
            &lab(),
            &[
                Item::new("W-1", "123456", "1", b"x"),
                Item::new("W-2", "K7QX2M9P4TZ8", "2", b"y"),
            ],
        )
        .await;
    assert_eq!(reply.fields("RESULT"), vec!["OK", "OK"], "{}", reply.body);
    let warnings = reply.fields("WARNING");
    assert_eq!(warnings.len(), 1, "{}", reply.body);
    assert!(
        warnings[0].contains("DOWNLOAD_CODE is weak"),
        "{warnings:?}"
    );
    assert!(!warnings[0].contains("123456"), "the code is not echoed");
}

async fn only_clients_with_the_results_role_and_the_results_center_reach_a_result(
    backend: Backend,
) {
    let app = spawn_results_app(backend).await;
    app.seed_basic_clinic().await;
    app.push_key_entities(
        &[&[
            ("LOCATION_LID", "C2"),
            ("LOCATION_NAME", "Centro Dos"),
            ("LOCATION_TIMEZONE", "Europe/Madrid"),
        ]],
        false,
    )
    .await
    .assert_ok();
    app.add_client("booker", "booker-password-123", "booking", "", false);
    app.add_client("lab-c1", "lab-c1-password-123", "results", "C1", false);
    let booker = Auth::basic("booker", "booker-password-123");
    let lab_c1 = Auth::basic("lab-c1", "lab-c1-password-123");

    for (operation, inner) in [
        (
            "updateTestResults",
            Item::new("Z-1", "Q7XK2M9PT1", "1", b"x").xml(),
        ),
        (
            "getTestResultsList",
            "<USER_LID>P-Z-1</USER_LID>".to_string(),
        ),
        (
            "getTestResultContent",
            "<DOWNLOAD_LID>Z-1</DOWNLOAD_LID>".to_string(),
        ),
    ] {
        let reply = app.soap(&booker, operation, &inner).await;
        reply.assert_fault("Client", "lacks the role 'results'");
    }

    let at_c2 = Item::new("C2-1", "Q7XK2M9PT2", "1", b"c2 data").with("LOCATION_LID", "C2");
    app.push_ok(&at_c2).await;
    let denied = app
        .push_results(&lab_c1, std::slice::from_ref(&at_c2))
        .await;
    denied.assert_fault("Client", "may not act on center 'C2'");
    let no_center = app
        .push_results(&lab_c1, &[Item::new("C1-0", "Q7XK2M9PT3", "1", b"x")])
        .await;
    assert!(
        no_center
            .field("ERROR_MESSAGE")
            .unwrap()
            .contains("LOCATION_LID is required"),
        "{}",
        no_center.body
    );
    let at_c1 = app
        .push_results(
            &lab_c1,
            &[Item::new("C1-1", "Q7XK2M9PT4", "1", b"c1 data").with("LOCATION_LID", "C1")],
        )
        .await;
    assert_eq!(
        at_c1.field("RESULT").as_deref(),
        Some("OK"),
        "{}",
        at_c1.body
    );

    // A result at another center looks unknown to a client limited to C1, and cannot be
    // overwritten by it.
    let hidden = app.result_content(&lab_c1, "C2-1").await;
    assert!(decoded_content(&hidden).is_none());
    assert!(
        hidden
            .field("ERROR_MESSAGE")
            .unwrap()
            .contains("unknown DOWNLOAD_LID 'C2-1'")
    );
    let list = app
        .soap(&lab_c1, "getTestResultsList", "<USER_LID>P-C2-1</USER_LID>")
        .await;
    assert!(list.fields("DOWNLOAD_LID").is_empty(), "{}", list.body);
    let seen = app.result_content(&lab_c1, "C1-1").await;
    assert_eq!(decoded_content(&seen).as_deref(), Some(&b"c1 data"[..]));
    let cancel_other = app
        .soap(
            &lab_c1,
            "updateTestResults",
            "<TEST_RESULT><DOWNLOAD_LID>C2-1</DOWNLOAD_LID><STATUS>Cancelled</STATUS></TEST_RESULT>",
        )
        .await;
    // Answered as an unknown LID is (see center_scope.rs).
    assert!(
        cancel_other
            .field("ERROR_MESSAGE")
            .unwrap()
            .contains("DOWNLOAD_LID 'C2-1' is unknown"),
        "{}",
        cancel_other.body
    );
    let still = app.result_content(&lab(), "C2-1").await;
    assert_eq!(decoded_content(&still).as_deref(), Some(&b"c2 data"[..]));
    let _ = (LAB, LAB_PASSWORD);
}

async fn the_list_needs_a_patient_and_filters_by_start_date(backend: Backend) {
    let app = spawn_results_app(backend).await;
    app.push_ok(&Item::new("L-1", "Q7XK2M9PTA", "1", b"x"))
        .await;
    let missing = app.soap(&lab(), "getTestResultsList", "").await;
    missing.assert_fault("Client", "give USER_LID or USER_TID");
    let bad_tid = app
        .soap(
            &lab(),
            "getTestResultsList",
            "<USER_TID>not-an-id</USER_TID>",
        )
        .await;
    bad_tid.assert_fault("Client", "USER_TID 'not-an-id'");
    let bad_date = app
        .soap(
            &lab(),
            "getTestResultsList",
            "<USER_LID>P-L-1</USER_LID><RESULT_START_DATE>31/02/2026</RESULT_START_DATE>",
        )
        .await;
    bad_date.assert_fault("Client", "RESULT_START_DATE");
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%d/%m/%Y");
    let future = app
        .soap(
            &lab(),
            "getTestResultsList",
            &format!("<USER_LID>P-L-1</USER_LID><RESULT_START_DATE>{tomorrow}</RESULT_START_DATE>"),
        )
        .await;
    future.assert_ok();
    assert!(future.fields("DOWNLOAD_LID").is_empty(), "{}", future.body);
    let today = chrono::Utc::now().format("%Y-%m-%d");
    let current = app
        .soap(
            &lab(),
            "getTestResultsList",
            &format!("<USER_LID>P-L-1</USER_LID><RESULT_START_DATE>{today}</RESULT_START_DATE>"),
        )
        .await;
    assert_eq!(current.fields("DOWNLOAD_LID"), vec!["L-1"]);
    let no_lid = app.soap(&lab(), "getTestResultContent", "").await;
    no_lid.assert_fault("Client", "DOWNLOAD_LID is required");
}

async fn without_a_results_key_the_operations_and_the_page_say_results_are_not_configured(
    backend: Backend,
) {
    let db = Arc::new(TestDatabase::new(backend));
    let app = spawn_app_on(db.clone(), test_settings(&db)).await;
    for (operation, inner) in [
        (
            "updateTestResults",
            Item::new("N-1", "Q7XK2M9PT1", "1", b"x").xml(),
        ),
        ("getTestResultsList", "<USER_LID>P</USER_LID>".to_string()),
        (
            "getTestResultContent",
            "<DOWNLOAD_LID>N-1</DOWNLOAD_LID>".to_string(),
        ),
    ] {
        let reply = app.soap(&Auth::admin(), operation, &inner).await;
        reply.assert_fault("Server", "test results are not configured");
    }
    for response in [
        app.get("/results").await,
        app.http
            .post(format!("{}/results", app.address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(super::form_body("A", "B"))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(response.status(), 503);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Test results are not available")
        );
    }
    let mut conn = app.pool.get().unwrap();
    let stored: i64 = test_results::table.count().get_result(&mut conn).unwrap();
    assert_eq!(stored, 0);
}
