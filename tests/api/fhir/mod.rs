//! The FHIR R4 edge (`/fhir`), black-box: a real server on port 0, real HTTP, the clinic's
//! master data pushed over SOAP (the OpenVPMS tests' seed clinic), on SQLite and MariaDB.
//! Ids are found through the API by identifier, never assumed.

use serde_json::Value;

use crate::helpers::TestApp;
use crate::openvpms::{PORTAL, PORTAL_PASSWORD};

mod access;
mod appointments;
mod bulk_publish;
mod errors;
mod hierarchy;
mod ihe;
mod metadata;
mod paging;
mod reads;
mod services;
mod slots;
mod tokens;
mod validator;
mod writes;

pub const CENTER_LID: &str = "urn:rendez:center-lid";
pub const RESOURCE_LID: &str = "urn:rendez:resource-lid";
pub const ACTIVITY_LID: &str = "urn:rendez:activity-lid";

/// An answer as the wire carried it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub www_authenticate: Option<String>,
    pub allow: Option<String>,
    pub etag: Option<String>,
    pub location: Option<String>,
    pub body: String,
}

impl Answer {
    #[track_caller]
    pub fn parsed(&self) -> Value {
        assert!(
            self.content_type.starts_with("application/fhir+json"),
            "content type {:?} for {}",
            self.content_type,
            self.body
        );
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// An OperationOutcome with this status whose diagnostics contain `text`.
    #[track_caller]
    pub fn assert_outcome(&self, status: u16, text: &str) -> Value {
        assert_eq!(self.status, status, "expected {status}: {}", self.body);
        let outcome = self.parsed();
        assert_eq!(outcome["resourceType"], "OperationOutcome", "{outcome}");
        let issue = &outcome["issue"][0];
        assert_eq!(issue["severity"], "error", "{outcome}");
        assert!(
            issue["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{outcome}"
        );
        let diagnostics = issue["diagnostics"].as_str().unwrap_or_default();
        assert!(
            diagnostics.contains(text),
            "diagnostics {diagnostics:?} should contain {text:?}"
        );
        outcome
    }
}

/// A client of the FHIR edge: an account (or none) and extra headers.
#[derive(Clone)]
pub struct Fhir<'a> {
    pub app: &'a TestApp,
    pub credentials: Option<(String, String)>,
    pub headers: Vec<(String, String)>,
}

/// The portal account of the OpenVPMS tests (role `booking`, every center).
pub fn fhir(app: &TestApp) -> Fhir<'_> {
    Fhir {
        app,
        credentials: Some((PORTAL.into(), PORTAL_PASSWORD.into())),
        headers: Vec::new(),
    }
}

impl<'a> Fhir<'a> {
    pub fn as_client(&self, user: &str, password: &str) -> Fhir<'a> {
        Fhir {
            credentials: Some((user.into(), password.into())),
            ..self.clone()
        }
    }

    pub fn anonymous(&self) -> Fhir<'a> {
        Fhir {
            credentials: None,
            ..self.clone()
        }
    }

    pub fn with_header(&self, name: &str, value: &str) -> Fhir<'a> {
        let mut headers = self.headers.clone();
        headers.push((name.into(), value.into()));
        Fhir {
            headers,
            ..self.clone()
        }
    }

    /// `path` under `/fhir/`, or an absolute URL (a `next` link).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}/fhir/{path}", self.app.address)
        }
    }

    /// Sends a request; never a 500.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let mut request = match &self.credentials {
            Some((user, password)) => request.basic_auth(user, Some(password)),
            None => request,
        };
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("the server answers");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header("content-type").unwrap_or_default();
        let www_authenticate = header("www-authenticate");
        let allow = header("allow");
        let etag = header("etag");
        let location = header("location");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        assert_ne!(status, 500, "never a 500: {body}");
        Answer {
            status,
            content_type,
            www_authenticate,
            allow,
            etag,
            location,
            body,
        }
    }

    /// A request with a JSON body of this content type.
    pub async fn write(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: &Value,
    ) -> Answer {
        self.send(
            self.app
                .http
                .request(method, self.url(path))
                .header("Content-Type", content_type)
                .body(body.to_string()),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.write(reqwest::Method::PUT, path, "application/fhir+json", body)
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.write(reqwest::Method::POST, path, "application/fhir+json", body)
            .await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Answer {
        self.write(
            reqwest::Method::PATCH,
            path,
            "application/json-patch+json",
            body,
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(self.app.http.delete(self.url(path))).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.app.http.get(self.url(path))).await
    }

    /// A resource or Bundle answered with 200.
    pub async fn json(&self, path: &str) -> Value {
        let answer = self.get(path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        answer.parsed()
    }

    /// A searchset Bundle.
    pub async fn search(&self, path: &str) -> Value {
        let bundle = self.json(path).await;
        assert_eq!(bundle["resourceType"], "Bundle", "{bundle}");
        assert_eq!(bundle["type"], "searchset", "{bundle}");
        bundle
    }

    /// The ids a search answers, in order.
    pub async fn ids(&self, path: &str) -> Vec<String> {
        entry_ids(&self.search(path).await)
    }

    /// The id of the one resource of `kind` with this LID identifier.
    pub async fn id_of(&self, kind: &str, system: &str, lid: &str) -> String {
        let ids = self
            .ids(&format!(
                "{kind}?identifier={}",
                urlencoding(&format!("{system}|{lid}"))
            ))
            .await;
        assert_eq!(ids.len(), 1, "one {kind} with {system}|{lid}: {ids:?}");
        ids[0].clone()
    }
}

pub fn entry_ids(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| e["resource"]["id"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The URL of a Bundle link (`self`, `next`).
pub fn link(bundle: &Value, relation: &str) -> Option<String> {
    bundle["link"].as_array()?.iter().find_map(|l| {
        (l["relation"] == relation).then(|| l["url"].as_str().unwrap_or_default().to_string())
    })
}

pub fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The seed clinic's ids, found by identifier.
pub struct Ids {
    pub main: String,
    pub branch: String,
    pub turner: String,
    pub barton: String,
    pub appt: String,
    pub standard: String,
    pub long: String,
    /// Schedules (= PractitionerRoles): Turner at Main, at Branch; the appointment schedule.
    pub turner_main: String,
    pub turner_branch: String,
    pub appt_main: String,
}

pub async fn ids(f: &Fhir<'_>) -> Ids {
    let main = f.id_of("Location", CENTER_LID, "MAIN").await;
    let branch = f.id_of("Location", CENTER_LID, "BRANCH").await;
    let turner = f.id_of("Practitioner", RESOURCE_LID, "DR-TURNER").await;
    let barton = f.id_of("Practitioner", RESOURCE_LID, "DR-BARTON").await;
    let appt = f.id_of("Practitioner", RESOURCE_LID, "SCH-APPT").await;
    let standard = f.id_of("HealthcareService", ACTIVITY_LID, "STD").await;
    let long = f.id_of("HealthcareService", ACTIVITY_LID, "LONG").await;
    let role = |practitioner: &str, location: &str| {
        format!(
            "PractitionerRole?practitioner=Practitioner/{practitioner}&location=Location/{location}"
        )
    };
    let one = |ids: Vec<String>| {
        assert_eq!(ids.len(), 1, "{ids:?}");
        ids[0].clone()
    };
    let turner_main = one(f.ids(&role(&turner, &main)).await);
    let turner_branch = one(f.ids(&role(&turner, &branch)).await);
    let appt_main = one(f.ids(&role(&appt, &main)).await);
    Ids {
        main,
        branch,
        turner,
        barton,
        appt,
        standard,
        long,
        turner_main,
        turner_branch,
        appt_main,
    }
}
