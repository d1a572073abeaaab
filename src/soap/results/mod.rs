//! Results operations (role `results`): updateTestResults, getTestResultsList,
//! getTestResultContent: parsed here, done by `app::results` (which seals, hashes and records),
//! answered here. The content's base64 is written straight into the answer's envelope.

pub mod intake;
mod wire;

use quick_xml::escape::escape;

use self::intake::RawTestResult;
use self::wire::{
    GetTestResultContent, GetTestResultsList, GetTestResultsListResponse, TestResultInfoItem,
    TestResultResultItem, UpdateTestResultsResponse,
};
use super::{Operation, SoapVersion, parse_payload, render_children, write_envelope};
use crate::app;
use crate::app::results::{ContentRead, Patient, PushOutcome};
use crate::auth::AuthenticatedClient;
use crate::domain::FieldSource;
use crate::domain::results::{ResultStatus, parse_item};
use crate::domain::values::{date, lid};
use crate::error::Error;
use crate::state::AppState;

pub async fn update_test_results(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: String,
) -> Result<String, Error> {
    app::results::require_configured(state)?;
    let raw_items = intake::parse(&payload, state.config.results.max_size)?;
    // The payload may be tens of MiB: gone before the items are sealed and stored.
    drop(payload);
    // Items as sent, so that one that does not parse is judged too.
    for (index, raw) in raw_items.iter().enumerate() {
        app::results::require_item_center(client, index + 1, raw.field("LOCATION_LID"))?;
    }
    let mut answers = Vec::with_capacity(raw_items.len());
    for (index, raw) in raw_items.into_iter().enumerate() {
        let answer = push_one(state, client, index + 1, raw).await?;
        answers.push(answer);
    }
    render_children(&UpdateTestResultsResponse { items: answers })
}

async fn push_one(
    state: &AppState,
    client: &AuthenticatedClient,
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
    let pushed = app::results::push(state, client, number, push).await?;
    Ok(match pushed.outcome {
        PushOutcome::Stored { .. } | PushOutcome::Cancelled => TestResultResultItem {
            download_lid,
            result: "OK".into(),
            error_message: None,
            warning: pushed.warning,
        },
        PushOutcome::Refused(message) => refuse(message),
    })
}

pub async fn get_test_results_list(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: &str,
) -> Result<String, Error> {
    let operation = Operation::GetTestResultsList;
    app::results::require_configured(state)?;
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
    let patient = match (user_lid, user_tid) {
        (Some(l), _) => Patient::Lid(l.as_str().to_string()),
        (None, Some(t)) => Patient::Tid(t),
        (None, None) => {
            return Err(Error::client(format!(
                "{operation}: give USER_LID or USER_TID"
            )));
        }
    };
    let items = app::results::list(state, client, patient, since)
        .await?
        .into_iter()
        .map(|r| TestResultInfoItem {
            download_lid: r.lid,
            download_filename: r.file_name,
            download_type: r.file_type,
            user_lid: r.user_lid,
            user_tid: r.user_tid,
            user_id_number: r.user_id_number,
            user_mobile_phone: r.user_mobile_phone,
            user_email: r.user_email,
            status: r.status.as_str().into(),
            location_lid: r.center_lid,
        })
        .collect();
    render_children(&GetTestResultsListResponse { items })
}

pub async fn get_test_result_content(
    state: &AppState,
    client: &AuthenticatedClient,
    payload: &str,
    address: String,
    version: SoapVersion,
) -> Result<Vec<u8>, Error> {
    let operation = Operation::GetTestResultContent;
    app::results::require_configured(state)?;
    let raw: GetTestResultContent = parse_payload(operation, payload)?;
    let download_lid = crate::domain::values::required_lid(&raw, "DOWNLOAD_LID")
        .map_err(|e| Error::client(format!("{operation}: {e}")))?;
    let lid = download_lid.as_str();
    let read = app::results::read_content(state, client, lid.to_string(), address).await?;
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
