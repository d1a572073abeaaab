//! Results operations (role `results`): updateTestResults, getTestResultsList,
//! getTestResultContent. Every byte of a result is health data: content and file names are
//! sealed before they reach the database, codes and ID numbers are only hashed, and logs name
//! results by DOWNLOAD_LID alone.

pub mod intake;
mod wire;

use std::sync::Arc;

use chrono::Utc;
use quick_xml::escape::escape;

use self::intake::RawTestResult;
use self::wire::{
    GetTestResultContent, GetTestResultsList, GetTestResultsListResponse, TestResultInfoItem,
    TestResultResultItem, UpdateTestResultsResponse,
};
use super::{Operation, SoapVersion, parse_payload, render_children, write_envelope};
use crate::auth::AuthenticatedClient;
use crate::db::memo::results_ready::ResultsNotifier;
use crate::db::results::{ContentRead, PatientRef, PushOutcome, SealedResult, Writer};
use crate::db::{self, dialect};
use crate::domain::FieldSource;
use crate::domain::results::{
    CODE_PURPOSE, ID_NUMBER_PURPOSE, NewTestResult, ResultStatus, TestResultPush, parse_item,
};
use crate::domain::values::{date, lid};
use crate::error::Error;
use crate::results::read_log::ContentRequest;
use crate::results::{Keyring, content_aad, filename_aad};
use crate::state::AppState;

/// How often a write that met a deadlock or a concurrent insert of the same LID is run again.
const ATTEMPTS: usize = 3;

pub async fn update_test_results(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: String,
) -> Result<String, Error> {
    let config = &state.config.results;
    let keyring = config.keyring()?.clone();
    let raw_items = intake::parse(&payload, config.max_size)?;
    // The payload may be tens of MiB: gone before the items are sealed and stored.
    drop(payload);
    for (index, raw) in raw_items.iter().enumerate() {
        if let Some(center) = raw.field("LOCATION_LID")
            && !client.centers.allows(center)
        {
            return Err(Error::Forbidden(format!(
                "client '{}' may not act on center '{center}' (TEST_RESULT {})",
                client.name,
                index + 1
            )));
        }
    }
    let mut answers = Vec::with_capacity(raw_items.len());
    for (index, raw) in raw_items.into_iter().enumerate() {
        let answer = push_one(state, client, &keyring, index + 1, raw).await?;
        answers.push(answer);
    }
    render_children(&UpdateTestResultsResponse { items: answers })
}

async fn push_one(
    state: &AppState,
    client: &AuthenticatedClient,
    keyring: &Arc<Keyring>,
    number: usize,
    mut raw: RawTestResult,
) -> Result<TestResultResultItem, Error> {
    let download_lid = raw.field("DOWNLOAD_LID").map(str::to_string);
    let refuse = |message: String| TestResultResultItem {
        download_lid: download_lid.clone(),
        result: "ERROR".into(),
        error_message: Some(format!("TEST_RESULT {number}: {message}")),
        warning: None,
    };
    if let Some(field) = raw.repeated {
        return Ok(refuse(format!("{field} is given more than once")));
    }
    let content = std::mem::replace(&mut raw.content, Ok(None));
    let push = match parse_item(&raw, content, state.config.default_country.as_deref()) {
        Ok(push) => push,
        Err(e) => return Ok(refuse(e.message)),
    };
    let mut warning = None;
    if let TestResultPush::Store(item) = &push {
        if item.center.is_none() && client.centers.is_limited() {
            return Ok(refuse(
                "LOCATION_LID is required from a client limited to some centers".into(),
            ));
        }
        let bits = item.code.entropy_bits();
        let minimum = state.config.results.min_code_bits;
        if bits < f64::from(minimum) {
            log::warn!(
                "test result {}: its download code has about {bits:.0} bits of entropy, below RENDEZ_RESULTS_MIN_CODE_BITS ({minimum})",
                item.lid
            );
            warning = Some(format!(
                "DOWNLOAD_CODE is weak: about {bits:.0} bits of entropy, below the minimum of {minimum}; use longer random codes"
            ));
        }
    }
    let lid_text = push.lid().to_string();
    let (client_id, client_name, scope) = (
        client.id.clone(),
        client.name.clone(),
        client.centers.clone(),
    );
    let keyring = keyring.clone();
    let (memo, public_url) = (state.config.clone(), state.public_url.clone());
    let outcome = state
        .with_db(move |conn| {
            let notifier = ResultsNotifier {
                config: &memo.memo,
                public_url: &public_url,
                valid_for: memo.results.retention.after_available,
            };
            // Sealed in place: the plaintext buffer becomes the ciphertext.
            let sealed = match push {
                TestResultPush::Store(item) => Some(seal(&keyring, *item)),
                TestResultPush::Cancel { .. } => None,
            };
            let mut tries = 0;
            loop {
                tries += 1;
                let writer = Writer {
                    client_id: &client_id,
                    client_name: &client_name,
                    scope: &scope,
                    now: Utc::now().naive_utc(),
                    notifier: Some(&notifier),
                };
                let result = match &sealed {
                    Some(sealed) => db::results::store(conn, sealed, &writer),
                    None => db::results::cancel(conn, &lid_text, &writer),
                };
                match result {
                    Err(e)
                        if tries < ATTEMPTS
                            && (dialect::is_retryable(&e) || dialect::is_unique_violation(&e)) =>
                    {
                        continue;
                    }
                    other => return other,
                }
            }
        })
        .await?;
    let lid_shown = download_lid.clone().unwrap_or_default();
    Ok(match outcome {
        PushOutcome::Stored { replaced, .. } => {
            log::info!(
                "test result {lid_shown} {} by client {}",
                if replaced { "replaced" } else { "stored" },
                client.name
            );
            TestResultResultItem {
                download_lid,
                result: "OK".into(),
                error_message: None,
                warning,
            }
        }
        PushOutcome::Cancelled => {
            log::info!(
                "test result {lid_shown} cancelled by client {}",
                client.name
            );
            TestResultResultItem {
                download_lid,
                result: "OK".into(),
                error_message: None,
                warning: None,
            }
        }
        PushOutcome::Refused(message) => refuse(message),
    })
}

/// Seals a parsed result under the current key: content and file name encrypted, code and ID
/// number hashed.
fn seal(keyring: &Keyring, item: NewTestResult) -> SealedResult {
    let lid = item.lid.as_str();
    let mut content = item.content;
    let content_size = content.len();
    let sealed = keyring.seal_in_place(&content_aad(lid), &mut content);
    let filename_sealed = item
        .file_name
        .as_ref()
        .map(|name| keyring.seal_small(&filename_aad(lid), name.as_bytes()).1);
    SealedResult {
        lid: lid.to_string(),
        key_id: sealed.key_id,
        code_hash: keyring.current_lookup_hash(CODE_PURPOSE, item.code.as_str()),
        code_hashes: keyring.all_lookup_hashes(CODE_PURPOSE, item.code.as_str()),
        id_number_hash: keyring.current_lookup_hash(ID_NUMBER_PURPOSE, &item.id_number),
        filename_sealed,
        file_type: item.file_type.as_str().to_string(),
        center_lid: item.center.as_ref().map(|c| c.to_string()),
        patient_keys: item.patient_keys,
        patient_fields: item.patient_fields,
        content_nonce: sealed.nonce,
        content_size,
        content,
    }
}

pub async fn get_test_results_list(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: &str,
) -> Result<String, Error> {
    let operation = Operation::GetTestResultsList;
    let keyring = state.config.results.keyring()?.clone();
    let raw: GetTestResultsList = parse_payload(operation, payload)?;
    let fault = |e: crate::domain::FieldError| Error::client(format!("{operation}: {e}"));
    let user_lid = lid(&raw, "USER_LID").map_err(fault)?;
    let user_tid = match raw.field("USER_TID") {
        Some(t) if uuid::Uuid::parse_str(t).is_ok() => Some(t.to_ascii_lowercase()),
        Some(t) => {
            return Err(Error::client(format!(
                "{operation}: USER_TID '{t}' is not an id Rendez gave"
            )));
        }
        None => None,
    };
    let since = date(&raw, "RESULT_START_DATE").map_err(fault)?;
    if user_lid.is_none() && user_tid.is_none() {
        return Err(Error::client(format!(
            "{operation}: give USER_LID or USER_TID"
        )));
    }
    let scope = client.centers.clone();
    let items = state
        .with_db(move |conn| {
            let patient = match (&user_lid, &user_tid) {
                (Some(l), _) => PatientRef::Lid(l.as_str()),
                (None, Some(t)) => PatientRef::Tid(t),
                (None, None) => unreachable!("checked above"),
            };
            let found = db::results::list(conn, patient, since, &scope)?;
            Ok(found
                .into_iter()
                .map(|info| list_item(&keyring, info))
                .collect())
        })
        .await?;
    render_children(&GetTestResultsListResponse { items })
}

fn list_item(keyring: &Keyring, info: db::results::ResultInfo) -> TestResultInfoItem {
    let row = &info.row;
    let download_filename = row.filename_sealed.as_deref().and_then(|blob| {
        match keyring.open_small(&row.key_id, &filename_aad(&row.lid), blob) {
            Ok(bytes) => String::from_utf8(bytes).ok(),
            Err(e) => {
                log::error!("test result {}: the file name does not open: {e}", row.lid);
                None
            }
        }
    });
    TestResultInfoItem {
        download_lid: row.lid.clone(),
        download_filename,
        download_type: row.file_type.clone(),
        user_lid: row.user_lid.clone(),
        user_tid: info.user_tid,
        user_id_number: info.user_id_number,
        user_mobile_phone: info.user_mobile_phone,
        user_email: info.user_email,
        status: if row.is_available() {
            ResultStatus::Valid.as_str().into()
        } else {
            ResultStatus::Cancelled.as_str().into()
        },
        location_lid: row.center_lid.clone(),
    }
}

pub async fn get_test_result_content(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: &str,
    address: String,
    version: SoapVersion,
) -> Result<Vec<u8>, Error> {
    let operation = Operation::GetTestResultContent;
    let keyring = state.config.results.keyring()?.clone();
    let raw: GetTestResultContent = parse_payload(operation, payload)?;
    let download_lid = crate::domain::values::required_lid(&raw, "DOWNLOAD_LID")
        .map_err(|e| Error::client(format!("{operation}: {e}")))?;
    // Read, opened and recorded in the result's history by the reader thread: nothing is
    // answered before the read is recorded.
    let read = state
        .result_reads
        .read(ContentRequest {
            lid: download_lid.as_str().to_string(),
            scope: client.centers.clone(),
            keyring,
            address: Some(address),
            actor: client.name.clone(),
        })
        .await?;
    let lid = download_lid.as_str();
    let (content, status, message) = match read {
        ContentRead::Available { content } => (Some(content), ResultStatus::Valid, None),
        ContentRead::Cancelled => (
            None,
            ResultStatus::Cancelled,
            Some("the result was cancelled by the clinic".to_string()),
        ),
        ContentRead::Purged => (
            None,
            ResultStatus::Cancelled,
            Some("the content was deleted at the end of its retention period".to_string()),
        ),
        ContentRead::Unknown => (
            None,
            ResultStatus::Cancelled,
            Some(format!("unknown DOWNLOAD_LID '{lid}'")),
        ),
        ContentRead::Unreadable(e) => {
            return Err(Error::Internal(format!("test result {lid}: {e}")));
        }
    };
    Ok(content_envelope(
        version,
        lid,
        content.as_deref(),
        status,
        message.as_deref(),
    ))
}

/// The whole answer, written by hand into one buffer of the right size: the content may be
/// tens of MiB, so its base64 is encoded straight into the envelope, never into a String of
/// its own that would be copied again.
fn content_envelope(
    version: SoapVersion,
    lid: &str,
    content: Option<&[u8]>,
    status: ResultStatus,
    message: Option<&str>,
) -> Vec<u8> {
    let lid = escape(lid);
    let message = message.map(escape);
    let encoded_len = content.map_or(0, |c| base64_simd::STANDARD.encoded_length(c.len()));
    // The elements' tags fit in the 128 bytes.
    let children_len = 128 + lid.len() + encoded_len + message.as_ref().map_or(0, |m| m.len());
    write_envelope(
        version,
        Operation::GetTestResultContent,
        children_len,
        |out| {
            out.extend_from_slice(b"<DOWNLOAD_LID>");
            out.extend_from_slice(lid.as_bytes());
            out.extend_from_slice(b"</DOWNLOAD_LID>");
            if let Some(bytes) = content {
                out.extend_from_slice(b"<DOWNLOAD_CONTENT>");
                // base64-simd: the scalar encoder of the base64 crate was the largest cost
                // left (~13% of the server's time at 64 KiB), several times this one's.
                let start = out.len();
                out.resize(start + encoded_len, 0);
                let written = base64_simd::STANDARD
                    .encode(bytes, base64_simd::AsOut::as_out(&mut out[start..]))
                    .len();
                debug_assert_eq!(written, encoded_len);
                out.extend_from_slice(b"</DOWNLOAD_CONTENT>");
            }
            out.extend_from_slice(b"<STATUS>");
            out.extend_from_slice(status.as_str().as_bytes());
            out.extend_from_slice(b"</STATUS>");
            if let Some(message) = &message {
                out.extend_from_slice(b"<ERROR_MESSAGE>");
                out.extend_from_slice(message.as_bytes());
                out.extend_from_slice(b"</ERROR_MESSAGE>");
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    #[test]
    fn the_content_is_written_as_standard_padded_base64_inside_the_envelope() {
        for len in [0, 1, 2, 3, 4, 5, 31, 32, 33, 47, 48, 49, 1000, 65536] {
            let content: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let answer = content_envelope(
                SoapVersion::V11,
                "LID<1>",
                Some(&content),
                ResultStatus::Valid,
                None,
            );
            let text = String::from_utf8(answer).unwrap();
            let expected = base64::engine::general_purpose::STANDARD.encode(&content);
            assert!(
                text.contains(&format!(
                    "<DOWNLOAD_LID>LID&lt;1&gt;</DOWNLOAD_LID><DOWNLOAD_CONTENT>{expected}</DOWNLOAD_CONTENT><STATUS>"
                )),
                "length {len}: {text}"
            );
            assert!(text.ends_with("</soap:Body></soap:Envelope>"));
        }
    }
}
