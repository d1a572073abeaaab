//! Test-result use cases: the clinic pushes (or withdraws) results, a client lists a patient's
//! and reads one's content, and a patient downloads one on the results page with the code the
//! clinic gave. Every byte of a result is health data: content and file names are sealed here,
//! before they reach the database, codes and ID numbers are only hashed, and logs name results
//! by DOWNLOAD_LID alone.

pub mod download_desk;
pub mod read_log;
pub mod retention;

use std::sync::Arc;

use chrono::{NaiveDate, Utc};

use super::{Caller, Core, require};
use crate::db::DbConnection;
use crate::db::memo::results_ready::ResultsNotifier;
use crate::db::results::{self, PatientRef, SealedResult, Writer};
use crate::domain::access::Role;
use crate::domain::results::{
    CODE_PURPOSE, DownloadCode, ID_NUMBER_PURPOSE, NewTestResult, ResultStatus, TestResultPush,
    normalize_id_number,
};
use crate::error::Error;
use crate::results::{Keyring, content_aad, filename_aad};
use download_desk::AttemptRequest;
use read_log::ContentRequest;

pub use crate::db::results::{
    ContentRead, DownloadOutcome, EventRow, PushOutcome, Refusal, ResultRow,
};

/// Results need a key (`RENDEZ_RESULTS_KEY`); without one every results use case answers
/// `NotConfigured`. An edge may ask first, before it reads a request.
pub fn require_configured(core: &Core) -> Result<(), Error> {
    keyring(core).map(|_| ())
}

fn keyring(core: &Core) -> Result<Arc<Keyring>, Error> {
    core.config.results.keyring().cloned()
}

/// A caller limited to some centers may push only results of those; `item` numbers the results
/// of one push from 1. An edge checks the items as sent, before parsing; [`push`] checks again
/// what it is given.
pub fn require_item_center(
    caller: &Caller,
    item: usize,
    center: Option<&str>,
) -> Result<(), Error> {
    match center {
        Some(center) if !caller.centers.allows(center) => Err(Error::Forbidden(format!(
            "client '{}' may not act on center '{center}' (TEST_RESULT {item})",
            caller.name
        ))),
        _ => Ok(()),
    }
}

/// What came of one pushed result, and a warning for the clinic (a weak download code).
#[derive(Debug)]
pub struct Pushed {
    pub outcome: PushOutcome,
    pub warning: Option<String>,
}

/// Stores (sealed) or withdraws one result, item `item` of a push. A result that becomes
/// available is announced to its patient (see the memo's results notice) in the same
/// transaction.
pub async fn push(
    core: &Core,
    caller: &Caller,
    item: usize,
    push: TestResultPush,
) -> Result<Pushed, Error> {
    require(caller, Role::Results, "updateTestResults")?;
    let keyring = keyring(core)?;
    let mut warning = None;
    if let TestResultPush::Store(result) = &push {
        require_item_center(caller, item, result.center.as_ref().map(|c| c.as_str()))?;
        if result.center.is_none() && caller.centers.is_limited() {
            return Ok(Pushed {
                outcome: PushOutcome::Refused(
                    "LOCATION_LID is required from a client limited to some centers".into(),
                ),
                warning: None,
            });
        }
        let bits = result.code.entropy_bits();
        let minimum = core.config.results.min_code_bits;
        if bits < f64::from(minimum) {
            log::warn!(
                "test result {}: its download code has about {bits:.0} bits of entropy, below RENDEZ_RESULTS_MIN_CODE_BITS ({minimum})",
                result.lid
            );
            warning = Some(format!(
                "DOWNLOAD_CODE is weak: about {bits:.0} bits of entropy, below the minimum of {minimum}; use longer random codes"
            ));
        }
    }
    let lid = push.lid().to_string();
    let lid_for_db = lid.clone();
    let (client_id, client_name, scope) = (
        caller.id.clone(),
        caller.name.clone(),
        caller.centers.clone(),
    );
    let (config, public_url) = (core.config.clone(), core.public_url.clone());
    // Sealed once, on the blocking thread, though the work may run again.
    let mut push = Some(push);
    let mut sealed_once: Option<Option<SealedResult>> = None;
    let outcome = core
        .with_db(move |conn| {
            let notifier = ResultsNotifier {
                config: &config.memo,
                public_url: &public_url,
                valid_for: config.results.retention.after_available,
            };
            // Sealed in place: the plaintext buffer becomes the ciphertext.
            let sealed = sealed_once.get_or_insert_with(|| match push.take() {
                Some(TestResultPush::Store(result)) => Some(seal(&keyring, *result)),
                _ => None,
            });
            // Both run again after a conflict, or a twin push of the same LID that committed
            // first (see `db::tx`).
            let writer = Writer {
                client_id: &client_id,
                client_name: &client_name,
                scope: &scope,
                now: Utc::now().naive_utc(),
                notifier: Some(&notifier),
            };
            match sealed {
                Some(sealed) => results::store(conn, sealed, &writer),
                None => results::cancel(conn, &lid_for_db, &writer),
            }
        })
        .await?;
    match &outcome {
        PushOutcome::Stored { replaced, .. } => log::info!(
            "test result {lid} {} by client {}",
            if *replaced { "replaced" } else { "stored" },
            caller.name
        ),
        PushOutcome::Cancelled => {
            log::info!("test result {lid} cancelled by client {}", caller.name);
            warning = None;
        }
        PushOutcome::Refused(_) => {}
    }
    Ok(Pushed { outcome, warning })
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

/// Whose results to list: by the clinic's patient LID or by the id Rendez gave the patient.
#[derive(Clone, Debug)]
pub enum Patient {
    Lid(String),
    Tid(String),
}

/// A result as a list shows it: no content, no code; the file name opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedResult {
    pub lid: String,
    pub file_name: Option<String>,
    pub file_type: String,
    pub user_lid: Option<String>,
    pub user_tid: Option<String>,
    pub user_id_number: Option<String>,
    pub user_mobile_phone: Option<String>,
    pub user_email: Option<String>,
    /// `Cancelled` also for a result whose content was purged.
    pub status: ResultStatus,
    pub center_lid: Option<String>,
}

/// A patient's results made available on or after `since` (UTC day), oldest first, within the
/// caller's centers.
pub async fn list(
    core: &Core,
    caller: &Caller,
    patient: Patient,
    since: Option<NaiveDate>,
) -> Result<Vec<ListedResult>, Error> {
    require(caller, Role::Results, "getTestResultsList")?;
    let keyring = keyring(core)?;
    let scope = caller.view.clone();
    core.with_db(move |conn| {
        let patient = match &patient {
            Patient::Lid(lid) => PatientRef::Lid(lid),
            Patient::Tid(tid) => PatientRef::Tid(tid),
        };
        let found = results::list(conn, patient, since, &scope)?;
        Ok(found
            .into_iter()
            .map(|info| listed(&keyring, info))
            .collect())
    })
    .await
}

fn listed(keyring: &Keyring, info: results::ResultInfo) -> ListedResult {
    let row = info.row;
    let file_name = row.filename_sealed.as_deref().and_then(|blob| {
        match keyring.open_small(&row.key_id, &filename_aad(&row.lid), blob) {
            Ok(bytes) => String::from_utf8(bytes).ok(),
            Err(e) => {
                log::error!("test result {}: the file name does not open: {e}", row.lid);
                None
            }
        }
    });
    let status = if row.is_available() {
        ResultStatus::Valid
    } else {
        ResultStatus::Cancelled
    };
    ListedResult {
        status,
        file_name,
        lid: row.lid,
        file_type: row.file_type,
        user_lid: row.user_lid,
        user_tid: info.user_tid,
        user_id_number: info.user_id_number,
        user_mobile_phone: info.user_mobile_phone,
        user_email: info.user_email,
        center_lid: row.center_lid,
    }
}

/// A result's content, opened, for a caller who may see it (another center's result is as
/// unknown as a missing one). Recorded in the result's history before this returns: no
/// content leaves unrecorded. `address` is the caller's, for that history.
pub async fn read_content(
    core: &Core,
    caller: &Caller,
    lid: String,
    address: String,
) -> Result<ContentRead, Error> {
    require(caller, Role::Results, "getTestResultContent")?;
    let keyring = keyring(core)?;
    // Read, opened and recorded by the reader thread, in a batch with the reads arriving
    // meanwhile (see `read_log`).
    core.result_reads
        .read(ContentRequest {
            lid,
            scope: caller.view.clone(),
            keyring,
            address: Some(address),
            actor: caller.name.clone(),
        })
        .await
}

/// Whether the results page can serve downloads (a results key is configured).
pub fn downloads_open(core: &Core) -> bool {
    core.config.results.keyring.is_some()
}

/// A patient's download attempt on the results page, as typed.
#[derive(Clone, Debug)]
pub struct DownloadAttempt {
    pub code: String,
    pub id_number: String,
    /// The patient's address, for the per-address limit and the history.
    pub address: String,
}

/// Judges a download attempt: the content when the code and ID number match a result that can
/// be downloaded, else a refusal whose reason is for the log only (the patient sees one refusal
/// for all). Every attempt is recorded and counted against the limits, even one whose code
/// cannot be one.
pub async fn download(core: &Core, attempt: DownloadAttempt) -> Result<DownloadOutcome, Error> {
    let keyring = keyring(core)?;
    let code_hashes = DownloadCode::parse(&attempt.code)
        .map(|c| keyring.all_lookup_hashes(CODE_PURPOSE, c.as_str()))
        .unwrap_or_default();
    let id_number = normalize_id_number(&attempt.id_number).unwrap_or_default();
    let limits = &core.config.results;
    // Judged and recorded by the download desk's thread, in a batch with the attempts
    // arriving meanwhile; answered once committed.
    let outcome = core
        .downloads
        .attempt(AttemptRequest {
            code_hashes,
            id_number,
            address: attempt.address,
            address_limit: limits.address_limit,
            global_limit: limits.global_limit,
            now: Utc::now().naive_utc(),
            keyring,
        })
        .await;
    let counted = match &outcome {
        Ok(DownloadOutcome::Granted { .. }) => "granted",
        Ok(DownloadOutcome::Refused { refusal, .. }) => refusal.as_str(),
        Err(_) => "error",
    };
    crate::telemetry::RESULT_DOWNLOADS
        .with_label_values(&[counted])
        .inc();
    outcome
}

/// A result and its history, oldest event first, for the operator at the shell (`rendez
/// results audit`); `None` for an unknown DOWNLOAD_LID.
pub fn audit(
    conn: &mut DbConnection,
    lid: &str,
) -> Result<Option<(ResultRow, Vec<EventRow>)>, Error> {
    Ok(results::audit(conn, lid)?)
}
