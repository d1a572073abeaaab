//! Test results: intake and reading over SOAP, what is at rest, the patient page with its
//! limits, the body limit of updateTestResults, and the browser download.

mod at_rest;
mod body_limit;
mod browser;
mod intake;
mod limits;
mod page;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use diesel::prelude::*;
use rendez::config::Settings;
use rendez::crypto::keyring::generate_key_text;
use rendez::db::schema::test_results;

use crate::helpers::{Auth, Backend, Reply, TestApp, TestDatabase, spawn_app_on, test_settings};

pub const LAB: &str = "lab";
pub const LAB_PASSWORD: &str = "lab-password-1234";

/// A test result as the clinic system pushes it.
#[derive(Clone, Debug)]
pub struct Item {
    pub lid: String,
    pub code: String,
    pub id_number: String,
    pub file_name: Option<String>,
    pub file_type: String,
    pub content: Vec<u8>,
    pub user_lid: Option<String>,
    pub extra: Vec<(String, String)>,
}

impl Item {
    pub fn new(lid: &str, code: &str, id_number: &str, content: &[u8]) -> Item {
        Item {
            lid: lid.into(),
            code: code.into(),
            id_number: id_number.into(),
            file_name: Some(format!("{lid}-análisis.pdf")),
            file_type: "pdf".into(),
            content: content.to_vec(),
            user_lid: Some(format!("P-{lid}")),
            extra: Vec::new(),
        }
    }

    pub fn with(mut self, field: &str, value: &str) -> Item {
        self.extra.push((field.into(), value.into()));
        self
    }

    pub fn xml(&self) -> String {
        let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
        let mut out = format!(
            "<TEST_RESULT><DOWNLOAD_LID>{}</DOWNLOAD_LID><DOWNLOAD_CODE>{}</DOWNLOAD_CODE><USER_ID_NUMBER>{}</USER_ID_NUMBER><DOWNLOAD_TYPE>{}</DOWNLOAD_TYPE>",
            esc(&self.lid),
            esc(&self.code),
            esc(&self.id_number),
            esc(&self.file_type)
        );
        if let Some(name) = &self.file_name {
            out.push_str(&format!(
                "<DOWNLOAD_FILENAME>{}</DOWNLOAD_FILENAME>",
                esc(name)
            ));
        }
        if let Some(user) = &self.user_lid {
            out.push_str(&format!("<USER_LID>{}</USER_LID>", esc(user)));
        }
        for (field, value) in &self.extra {
            out.push_str(&format!("<{field}>{}</{field}>", esc(value)));
        }
        out.push_str(&format!(
            "<DOWNLOAD_CONTENT>{}</DOWNLOAD_CONTENT></TEST_RESULT>",
            BASE64.encode(&self.content)
        ));
        out
    }
}

pub fn lab() -> Auth {
    Auth::basic(LAB, LAB_PASSWORD)
}

/// Settings with a results key (`k1`) and the given changes.
pub fn results_settings(db: &TestDatabase, change: impl FnOnce(&mut Settings)) -> Settings {
    let mut settings = test_settings(db);
    settings.results_key = Some(generate_key_text("k1"));
    change(&mut settings);
    settings
}

/// A server with results configured and a `lab` client that has only the results role.
pub async fn spawn_results_app(backend: Backend) -> TestApp {
    spawn_results_app_with(backend, |_| {}).await
}

pub async fn spawn_results_app_with(
    backend: Backend,
    change: impl FnOnce(&mut Settings),
) -> TestApp {
    // The server's log, shown for a failing test (captured otherwise).
    let _ = env_logger::builder().is_test(true).try_init();
    let db = Arc::new(TestDatabase::new(backend));
    let settings = results_settings(&db, change);
    let app = spawn_app_on(db, settings).await;
    app.add_client(LAB, LAB_PASSWORD, "results", "", false);
    app
}

impl TestApp {
    pub async fn push_results(&self, auth: &Auth, items: &[Item]) -> Reply {
        let inner: String = items.iter().map(Item::xml).collect();
        self.soap(auth, "updateTestResults", &inner).await
    }

    /// Pushes one item and checks that it was stored.
    pub async fn push_ok(&self, item: &Item) {
        let reply = self.push_results(&lab(), std::slice::from_ref(item)).await;
        reply.assert_ok();
        assert_eq!(
            reply.field("RESULT").as_deref(),
            Some("OK"),
            "{}",
            reply.body
        );
    }

    pub async fn cancel_result(&self, lid: &str) -> Reply {
        let inner = format!(
            "<TEST_RESULT><DOWNLOAD_LID>{lid}</DOWNLOAD_LID><STATUS>Cancelled</STATUS></TEST_RESULT>"
        );
        self.soap(&lab(), "updateTestResults", &inner).await
    }

    pub async fn result_content(&self, auth: &Auth, lid: &str) -> Reply {
        self.soap(
            auth,
            "getTestResultContent",
            &format!("<DOWNLOAD_LID>{lid}</DOWNLOAD_LID>"),
        )
        .await
    }

    /// Posts the patient form, optionally as if from `address` (servers that trust
    /// X-Forwarded-For).
    pub async fn download(
        &self,
        code: &str,
        id_number: &str,
        address: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/results", self.address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form_body(code, id_number));
        if let Some(address) = address {
            request = request.header("X-Forwarded-For", address);
        }
        request.send().await.expect("the server answers")
    }

    /// Runs SQL-free changes on a stored result (moving its clock back, say).
    pub fn update_result<F>(&self, lid: &str, change: F)
    where
        F: FnOnce(&mut rendez::db::DbConnection, &str) -> QueryResult<usize>,
    {
        let mut conn = self.pool.get().unwrap();
        let changed = change(&mut conn, lid).unwrap();
        assert_eq!(changed, 1, "one result {lid} changed");
    }

    pub fn stored_key_id(&self, lid: &str) -> String {
        let mut conn = self.pool.get().unwrap();
        test_results::table
            .filter(test_results::lid.eq(lid))
            .select(test_results::key_id)
            .first(&mut conn)
            .unwrap()
    }
}

/// The bytes a getTestResultContent reply carried.
pub fn decoded_content(reply: &Reply) -> Option<Vec<u8>> {
    reply
        .field("DOWNLOAD_CONTENT")
        .map(|text| BASE64.decode(text.trim()).expect("base64 content"))
}

/// Bytes that exercise every value, with a marker in the middle.
pub fn sample_content(marker: &str, size: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 256) as u8).collect();
    let middle = size / 2;
    bytes.splice(middle..middle, marker.bytes());
    bytes
}

/// The body a browser posts for the patient form.
pub fn form_body(code: &str, id_number: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("code", code)
        .append_pair("id_number", id_number)
        .finish()
}

/// Compares bytes without printing megabytes when they differ.
#[track_caller]
pub fn assert_same_bytes(actual: Option<&[u8]>, expected: &[u8]) {
    let Some(actual) = actual else {
        panic!("no content where {} bytes were expected", expected.len());
    };
    if actual != expected {
        let first = actual.iter().zip(expected).position(|(a, b)| a != b);
        panic!(
            "{} bytes where {} were expected; first difference at {first:?}",
            actual.len(),
            expected.len()
        );
    }
}
