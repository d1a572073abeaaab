//! Test results at rest: sealed rows, their content in chunks, and their history
//! (`result_events`). Values arrive sealed and hashed from the edge; what needs a key here
//! (comparing an ID number, opening content inside the download transaction) gets the keyring.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use subtle::ConstantTimeEq;

use super::DbConnection;
use super::schema::{patients, result_events, test_result_chunks, test_results};
use crate::crypto::keyring::{Keyring, OpenError, Sealed, content_aad, filename_aad};
use crate::db::memo::results_ready::{self, AvailableResult, ResultsNotice, ResultsNotifier};
use crate::domain::access::CenterScope;
use crate::domain::messages::Channel;
use crate::domain::patient::{PatientFields, PatientKeys};
use crate::domain::results::{CodeCounters, CodeState, LOCK_WINDOW, ResultStatus, Retention};

/// Content is stored in pieces of this size, each its own row: every statement stays under
/// MariaDB's default `max_allowed_packet` whatever the file's size.
pub const CHUNK_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = test_results)]
#[cfg_attr(feature = "sqlite", diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "mysql", diesel(check_for_backend(diesel::mysql::Mysql)))]
pub struct ResultRow {
    pub id: String,
    pub lid: String,
    pub status: String,
    pub client_id: String,
    pub center_lid: Option<String>,
    pub patient_id: Option<String>,
    pub user_lid: Option<String>,
    pub file_type: String,
    pub key_id: String,
    pub filename_sealed: Option<Vec<u8>>,
    pub code_hash: String,
    pub id_number_hash: String,
    pub content_nonce: Option<Vec<u8>>,
    pub content_size: Option<i64>,
    pub content_chunks: i32,
    pub available_at: NaiveDateTime,
    pub first_downloaded_at: Option<NaiveDateTime>,
    pub purged_at: Option<NaiveDateTime>,
    pub cancelled_at: Option<NaiveDateTime>,
    pub window_start: Option<NaiveDateTime>,
    pub window_failures: i32,
    pub failures_total: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl ResultRow {
    pub fn status(&self) -> ResultStatus {
        ResultStatus::from_stored(&self.status)
    }

    /// Valid and not purged: the content is there to be read.
    pub fn is_available(&self) -> bool {
        self.status() == ResultStatus::Valid && self.purged_at.is_none()
    }

    fn counters(&self) -> CodeCounters {
        CodeCounters {
            window_start: self.window_start,
            window_failures: self.window_failures,
            failures_total: self.failures_total,
        }
    }

    fn visible_to(&self, scope: &CenterScope) -> bool {
        match scope {
            CenterScope::All => true,
            CenterScope::Only(_) => self.center_lid.as_deref().is_some_and(|c| scope.allows(c)),
        }
    }

    fn content_seal(&self) -> Option<Sealed> {
        let nonce = self.content_nonce.as_deref()?.try_into().ok()?;
        Some(Sealed {
            key_id: self.key_id.clone(),
            nonce,
        })
    }
}

/// A result ready to be written: sealed and hashed by the caller under the current key.
pub struct SealedResult {
    pub lid: String,
    pub key_id: String,
    pub code_hash: String,
    /// The code's hash under every configured key, to find another live result with it.
    pub code_hashes: Vec<String>,
    pub id_number_hash: String,
    pub filename_sealed: Option<Vec<u8>>,
    pub file_type: String,
    pub center_lid: Option<String>,
    pub patient_keys: PatientKeys,
    pub patient_fields: PatientFields,
    pub content_nonce: [u8; 12],
    pub content_size: usize,
    /// The sealed content (ciphertext and tag).
    pub content: Vec<u8>,
}

/// Who writes, and with which reach.
pub struct Writer<'a> {
    pub client_id: &'a str,
    pub client_name: &'a str,
    pub scope: &'a CenterScope,
    pub now: NaiveDateTime,
    /// Tells the patient when a result becomes available; `None`: nobody is told.
    pub notifier: Option<&'a ResultsNotifier<'a>>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// Stored; `replaced` when the LID existed. `became_available` marks the moment the patient
    /// should hear that a result is ready (a new result, or one that was cancelled or purged).
    Stored {
        replaced: bool,
        became_available: bool,
        patient_id: Option<String>,
    },
    Cancelled,
    /// The item is refused; the text is for the caller.
    Refused(String),
}

struct NewEvent<'a> {
    result_id: Option<&'a str>,
    event: &'static str,
    outcome: &'static str,
    counts_as_failure: bool,
    address: Option<&'a str>,
    actor: Option<&'a str>,
    at: NaiveDateTime,
}

fn record(conn: &mut DbConnection, e: NewEvent<'_>) -> QueryResult<()> {
    diesel::insert_into(result_events::table)
        .values((
            result_events::id.eq(uuid::Uuid::now_v7().to_string()),
            result_events::result_id.eq(e.result_id),
            result_events::at.eq(e.at),
            result_events::event.eq(e.event),
            result_events::outcome.eq(e.outcome),
            result_events::counts_as_failure.eq(e.counts_as_failure),
            result_events::address.eq(e.address),
            result_events::actor.eq(e.actor),
        ))
        .execute(conn)
        .map(|_| ())
}

/// A push over the LID of a result the client cannot see. Storing a new result under that LID
/// would overwrite it, so the push is refused; the answer says only that the LID is taken,
/// never whose it is or where.
fn lid_taken(lid: &str) -> PushOutcome {
    PushOutcome::Refused(format!(
        "DOWNLOAD_LID '{lid}' is already in use: give the result another DOWNLOAD_LID"
    ))
}

/// Cancelling a result that does not exist, or that the client cannot see: one answer for
/// both, so that a refusal never tells that another center's result exists.
fn nothing_to_cancel(lid: &str) -> PushOutcome {
    PushOutcome::Refused(format!(
        "DOWNLOAD_LID '{lid}' is unknown: there is no result to cancel"
    ))
}

fn write_chunks(conn: &mut DbConnection, result_id: &str, sealed: &[u8]) -> QueryResult<()> {
    for (seq, piece) in sealed.chunks(CHUNK_BYTES).enumerate() {
        diesel::insert_into(test_result_chunks::table)
            .values((
                test_result_chunks::result_id.eq(result_id),
                test_result_chunks::seq.eq(seq as i32),
                test_result_chunks::data.eq(piece),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn drop_chunks(conn: &mut DbConnection, result_id: &str) -> QueryResult<usize> {
    diesel::delete(test_result_chunks::table.filter(test_result_chunks::result_id.eq(result_id)))
        .execute(conn)
}

/// Stores a result, or replaces the one with the same LID (a replacement is a re-issue: new
/// code, counters reset, available again), in one transaction, run again after a conflict or a
/// twin push of the same LID that committed first (the next run sees it).
pub fn store(
    conn: &mut DbConnection,
    result: &SealedResult,
    writer: &Writer<'_>,
) -> QueryResult<PushOutcome> {
    super::tx::retrying(conn, |conn| {
        let existing = lock_test_result_by_lid(conn, &result.lid)?;
        if let Some(row) = &existing
            && !row.visible_to(writer.scope)
        {
            return Ok(lid_taken(&result.lid));
        }
        if let Some(center) = &result.center_lid {
            use super::schema::centers;
            let known: i64 = centers::table
                .filter(centers::lid.eq(center))
                .filter(centers::active.eq(true))
                .count()
                .get_result(conn)?;
            if known == 0 {
                return Ok(PushOutcome::Refused(format!(
                    "LOCATION_LID '{center}' is not a known center"
                )));
            }
        }
        let clash: i64 = test_results::table
            .filter(test_results::code_hash.eq_any(&result.code_hashes))
            .filter(test_results::lid.ne(&result.lid))
            .filter(test_results::status.eq(ResultStatus::Valid.as_str()))
            .filter(test_results::purged_at.is_null())
            .count()
            .get_result(conn)?;
        if clash > 0 {
            return Ok(PushOutcome::Refused(
                "DOWNLOAD_CODE is already the code of another available result: give each result its own code"
                    .into(),
            ));
        }
        // As for a booking: a client limited to some centers does not take over the contact
        // data of a patient it may not change; the results notice goes to the stored ones.
        let patient = super::booking::patients::match_or_create_for(
            conn,
            &result.patient_keys,
            &result.patient_fields,
            writer.now,
            &super::booking::patients::Editor::Client {
                id: writer.client_id,
                scope: writer.scope,
            },
        )?
        .patient;
        let user_lid = result.patient_keys.lid.as_ref().map(|l| l.as_str());
        let id = match &existing {
            Some(row) => row.id.clone(),
            None => uuid::Uuid::now_v7().to_string(),
        };
        let became_available = existing.as_ref().is_none_or(|row| !row.is_available());
        if existing.is_some() {
            drop_chunks(conn, &id)?;
        }
        let chunks = result.content.len().div_ceil(CHUNK_BYTES) as i32;
        let values = (
            test_results::status.eq(ResultStatus::Valid.as_str()),
            test_results::client_id.eq(writer.client_id),
            test_results::center_lid.eq(&result.center_lid),
            test_results::patient_id.eq(Some(&patient.id)),
            test_results::user_lid.eq(user_lid),
            test_results::file_type.eq(&result.file_type),
            test_results::key_id.eq(&result.key_id),
            test_results::filename_sealed.eq(&result.filename_sealed),
            test_results::code_hash.eq(&result.code_hash),
            test_results::id_number_hash.eq(&result.id_number_hash),
            test_results::content_nonce.eq(Some(&result.content_nonce[..])),
            test_results::content_size.eq(Some(result.content_size as i64)),
            test_results::content_chunks.eq(chunks),
            test_results::available_at.eq(writer.now),
            test_results::first_downloaded_at.eq(None::<NaiveDateTime>),
            test_results::purged_at.eq(None::<NaiveDateTime>),
            test_results::cancelled_at.eq(None::<NaiveDateTime>),
            test_results::window_start.eq(None::<NaiveDateTime>),
            test_results::window_failures.eq(0),
            test_results::failures_total.eq(0),
            test_results::updated_at.eq(writer.now),
        );
        if existing.is_some() {
            diesel::update(test_results::table.find(&id))
                .set(values)
                .execute(conn)?;
        } else {
            diesel::insert_into(test_results::table)
                .values((
                    test_results::id.eq(&id),
                    test_results::lid.eq(&result.lid),
                    test_results::created_at.eq(writer.now),
                    values,
                ))
                .execute(conn)?;
        }
        // After the row: the chunks reference it.
        write_chunks(conn, &id, &result.content)?;
        record(
            conn,
            NewEvent {
                result_id: Some(&id),
                event: if existing.is_some() {
                    "replaced"
                } else {
                    "stored"
                },
                outcome: "ok",
                counts_as_failure: false,
                address: None,
                actor: Some(writer.client_name),
                at: writer.now,
            },
        )?;
        if became_available && let Some(notifier) = writer.notifier {
            notify(conn, notifier, &id, &patient.id, result, writer.now)?;
        }
        Ok(PushOutcome::Stored {
            replaced: existing.is_some(),
            became_available,
            patient_id: Some(patient.id),
        })
    })
}

/// Queues "your results are ready" and records in the result's history how the patient is told.
fn notify(
    conn: &mut DbConnection,
    notifier: &ResultsNotifier<'_>,
    result_id: &str,
    patient_id: &str,
    result: &SealedResult,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let notice = results_ready::queue(
        conn,
        notifier,
        &AvailableResult {
            id: result_id,
            patient_id,
            center_lid: result.center_lid.as_deref(),
            available_at: now,
        },
    )?;
    let outcome = match &notice {
        ResultsNotice::Queued {
            channel: Channel::Email,
            ..
        } => "email",
        ResultsNotice::Queued { .. } => "sms",
        // The reason speaks of the patient's preferences and opt-out: not for the log.
        ResultsNotice::Nowhere(_) => {
            log::info!(
                "test result {}: no channel to tell the patient it is ready (their \
                 COMMUNICATION_PREFERENCES, contact data and STOP, and the configured providers)",
                result.lid
            );
            "no_channel"
        }
    };
    record(
        conn,
        NewEvent {
            result_id: Some(result_id),
            event: "notice",
            outcome,
            counts_as_failure: false,
            address: None,
            actor: None,
            at: now,
        },
    )
}

/// Withdraws a result: its content is deleted at once, its code stops working, the metadata
/// and history stay. Cancelling a cancelled result is a success that changes nothing. Run again
/// after a conflict, as [`store`] is.
pub fn cancel(conn: &mut DbConnection, lid: &str, writer: &Writer<'_>) -> QueryResult<PushOutcome> {
    super::tx::retrying(conn, |conn| {
        let Some(row) =
            lock_test_result_by_lid(conn, lid)?.filter(|row| row.visible_to(writer.scope))
        else {
            return Ok(nothing_to_cancel(lid));
        };
        if row.status() == ResultStatus::Cancelled {
            return Ok(PushOutcome::Cancelled);
        }
        drop_chunks(conn, &row.id)?;
        diesel::update(test_results::table.find(&row.id))
            .set((
                test_results::status.eq(ResultStatus::Cancelled.as_str()),
                test_results::cancelled_at.eq(Some(writer.now)),
                test_results::content_nonce.eq(None::<Vec<u8>>),
                test_results::content_chunks.eq(0),
                test_results::updated_at.eq(writer.now),
            ))
            .execute(conn)?;
        record(
            conn,
            NewEvent {
                result_id: Some(&row.id),
                event: "cancelled",
                outcome: "ok",
                counts_as_failure: false,
                address: None,
                actor: Some(writer.client_name),
                at: writer.now,
            },
        )?;
        Ok(PushOutcome::Cancelled)
    })
}

/// A result as getTestResultsList shows it (no content, no code).
#[derive(Debug, Clone)]
pub struct ResultInfo {
    pub row: ResultRow,
    pub user_tid: Option<String>,
    pub user_id_number: Option<String>,
    pub user_mobile_phone: Option<String>,
    pub user_email: Option<String>,
}

pub enum PatientRef<'a> {
    Lid(&'a str),
    Tid(&'a str),
}

pub const LIST_LIMIT: i64 = 1000;

/// A result with its patient's tid, ID number, mobile phone and email.
type ListRow = (
    ResultRow,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A patient's results made available on or after `since` (UTC day), oldest first, within the
/// caller's centers.
pub fn list(
    conn: &mut DbConnection,
    patient: PatientRef<'_>,
    since: Option<NaiveDate>,
    scope: &CenterScope,
) -> QueryResult<Vec<ResultInfo>> {
    let mut query = test_results::table
        .left_join(patients::table)
        .select((
            ResultRow::as_select(),
            patients::tid.nullable(),
            patients::id_number.nullable(),
            patients::mobile_phone.nullable(),
            patients::email.nullable(),
        ))
        .order((test_results::available_at.asc(), test_results::lid.asc()))
        .limit(LIST_LIMIT)
        .into_boxed();
    query = match patient {
        PatientRef::Lid(lid) => query.filter(test_results::user_lid.eq(lid.to_string())),
        PatientRef::Tid(tid) => query.filter(patients::tid.eq(tid.to_string())),
    };
    if let Some(day) = since {
        query = query.filter(test_results::available_at.ge(day.and_hms_opt(0, 0, 0).unwrap()));
    }
    if let CenterScope::Only(centers) = scope {
        query = query.filter(test_results::center_lid.eq_any(centers.clone()));
    }
    let rows: Vec<ListRow> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(row, tid, id_number, mobile, email)| ResultInfo {
            row,
            user_tid: tid,
            user_id_number: id_number,
            user_mobile_phone: mobile,
            user_email: email,
        })
        .collect())
}

/// What getTestResultContent finds.
pub enum ContentRead {
    /// The content, opened.
    Available {
        content: Vec<u8>,
    },
    Cancelled,
    Purged,
    Unknown,
    /// The content does not open (a key missing from the configuration, or tampering).
    Unreadable(OpenError),
}

impl ContentRead {
    /// How the read is recorded in the result's history.
    pub fn outcome(&self) -> &'static str {
        match self {
            ContentRead::Available { .. } => "ok",
            ContentRead::Unreadable(_) => "unreadable",
            _ => "unavailable",
        }
    }
}

/// One getTestResultContent to serve: the result asked for and the caller's reach.
pub struct ContentLookup<'a> {
    pub lid: &'a str,
    pub scope: &'a CenterScope,
    pub keyring: &'a Keyring,
}

/// Reads and opens, in one read transaction and in order, the content that `lookups` ask for
/// (the batch of `app::results::read_log`), until about `max_bytes` of content is read: returns
/// what was found for that prefix of `lookups` (never empty when `lookups` is not), each with
/// the result's id, `None` when there is no read to record. The caller records the reads (see
/// [`record_reads`]) before any content leaves.
pub fn read_contents(
    conn: &mut DbConnection,
    lookups: &[ContentLookup<'_>],
    max_bytes: usize,
) -> QueryResult<Vec<(ContentRead, Option<String>)>> {
    conn.transaction(|conn| {
        // One query finds the rows of the whole batch (often the same LID many times).
        let lids: Vec<&str> = lookups.iter().map(|l| l.lid).collect();
        let rows: Vec<ResultRow> = test_results::table
            .filter(test_results::lid.eq_any(&lids))
            .select(ResultRow::as_select())
            .load(conn)?;
        let mut found = Vec::with_capacity(lookups.len());
        let mut bytes = 0;
        for lookup in lookups {
            if bytes >= max_bytes {
                break;
            }
            let Some(row) = rows
                .iter()
                .find(|r| r.lid == lookup.lid)
                .filter(|r| r.visible_to(lookup.scope))
            else {
                found.push((ContentRead::Unknown, None));
                continue;
            };
            let read = if row.is_available() {
                let mut buffer = load_chunks(conn, row)?;
                bytes += buffer.len();
                match open_content(lookup.keyring, row, &mut buffer) {
                    Ok(()) => ContentRead::Available { content: buffer },
                    Err(e) => ContentRead::Unreadable(e),
                }
            } else if row.status() == ResultStatus::Cancelled {
                ContentRead::Cancelled
            } else {
                ContentRead::Purged
            };
            found.push((read, Some(row.id.clone())));
        }
        Ok(found)
    })
}

/// One read of a result's content over SOAP, as its history row.
#[derive(Debug, Clone)]
pub struct ReadEvent {
    pub result_id: String,
    pub outcome: &'static str,
    pub address: Option<String>,
    pub actor: String,
    pub at: NaiveDateTime,
}

/// Writes the history rows of SOAP reads, in one transaction.
pub fn record_reads(conn: &mut DbConnection, reads: &[ReadEvent]) -> QueryResult<()> {
    super::tx::write(conn, |conn| {
        for read in reads {
            record(
                conn,
                NewEvent {
                    result_id: Some(&read.result_id),
                    event: "read",
                    outcome: read.outcome,
                    counts_as_failure: false,
                    address: read.address.as_deref(),
                    actor: Some(&read.actor),
                    at: read.at,
                },
            )?;
        }
        Ok(())
    })
}

/// The sealed content of a row, assembled from its chunks into one buffer with room for the
/// tag to be dropped in place.
fn load_chunks(conn: &mut DbConnection, row: &ResultRow) -> QueryResult<Vec<u8>> {
    let size = row.content_size.unwrap_or(0).max(0) as usize;
    let mut buffer: Vec<u8> = Vec::with_capacity(size + crate::crypto::keyring::TAG_LEN);
    // One query per chunk: the pieces are appended as they come, never held twice.
    for seq in 0..row.content_chunks {
        let piece: Vec<u8> = test_result_chunks::table
            .filter(test_result_chunks::result_id.eq(&row.id))
            .filter(test_result_chunks::seq.eq(seq))
            .select(test_result_chunks::data)
            .first(conn)?;
        if buffer.is_empty() && row.content_chunks == 1 {
            return Ok(piece);
        }
        buffer.extend_from_slice(&piece);
    }
    Ok(buffer)
}

fn open_content(keyring: &Keyring, row: &ResultRow, buffer: &mut Vec<u8>) -> Result<(), OpenError> {
    let sealed = row
        .content_seal()
        .ok_or_else(|| OpenError::Corrupt(row.key_id.clone()))?;
    keyring.open_in_place(&sealed, &content_aad(&row.lid), buffer)
}

/// A download attempt on the patient page.
pub struct Attempt<'a> {
    /// The typed code's keyed hash under every configured key.
    pub code_hashes: &'a [String],
    /// The typed ID number, normalised (compared through its keyed hash).
    pub id_number: &'a str,
    pub address: &'a str,
    pub address_limit: u32,
    pub global_limit: u32,
    pub now: NaiveDateTime,
}

/// Why an attempt was refused: for the history and the log, never for the patient, who sees
/// one refusal for all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    RateLimited,
    UnknownCode,
    WrongIdNumber,
    Locked,
    Blocked,
    Unavailable,
    Unreadable,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::RateLimited => "rate_limited",
            Refusal::UnknownCode => "unknown_code",
            Refusal::WrongIdNumber => "wrong_id_number",
            Refusal::Locked => "locked",
            Refusal::Blocked => "blocked",
            Refusal::Unavailable => "unavailable",
            Refusal::Unreadable => "unreadable",
        }
    }

    /// Attempts that count against the per-address and global limits: guesses. A refusal for a
    /// limit is not one (or the limit would never lift while someone keeps knocking), nor is a
    /// right pair for a withdrawn result, nor our own failure to open it.
    fn is_failure(self) -> bool {
        matches!(
            self,
            Refusal::UnknownCode | Refusal::WrongIdNumber | Refusal::Locked | Refusal::Blocked
        )
    }
}

#[derive(Debug)]
pub enum DownloadOutcome {
    Granted {
        lid: String,
        file_type: String,
        file_name: Option<String>,
        content: Vec<u8>,
    },
    Refused {
        refusal: Refusal,
        lid: Option<String>,
    },
}

/// Judges download attempts and records them, in order and in one write transaction (the
/// batch of `app::results::download_desk`), until about `max_bytes` of content is granted: returns
/// the outcomes of that prefix of `attempts` (never empty when `attempts` is not). The limits
/// and the per-code counters are read and updated together, so several processes sharing the
/// database count the same failures, and each attempt sees the ones before it.
///
/// The per-address count is exact across processes: each attempt first locks its address's
/// row (`result_address_guards`), so attempts from one address are judged one after the
/// other everywhere, and on MySQL the transaction reads what is committed at each statement
/// (READ COMMITTED), so the count made under that lock includes the failures of the attempt
/// that held it before. SQLite's write transaction already excludes every other writer.
pub fn attempt_downloads(
    conn: &mut DbConnection,
    attempts: &[(Attempt<'_>, &Keyring)],
    max_bytes: usize,
) -> QueryResult<Vec<DownloadOutcome>> {
    // Run again after a conflict; a unique clash is no twin's work here, it is reported.
    super::tx::write_reading_committed(conn, |conn| {
        let mut outcomes = Vec::with_capacity(attempts.len());
        let mut bytes = 0;
        for (attempt, keyring) in attempts {
            if bytes >= max_bytes {
                break;
            }
            let outcome = judge(conn, attempt, keyring)?;
            if let DownloadOutcome::Granted { content, .. } = &outcome {
                bytes += content.len();
            }
            outcomes.push(outcome);
        }
        Ok(outcomes)
    })
}

/// What a typed ID number is compared with: the result's stored hash under its key, or, for
/// a code that matches no result, a stand-in that nothing matches. Both go through
/// [`IdCheck::verify`] and the same counter update, so that an unknown code costs what a known
/// code with a wrong ID number costs and the time taken does not tell whether a code exists.
struct IdCheck<'a> {
    /// The row whose counters a wrong ID number moves (the stand-in's matches no row).
    result_id: &'a str,
    key_id: &'a str,
    expected_hash: &'a str,
    counters: CodeCounters,
}

/// No result has this id: ids are UUIDs.
const NO_RESULT_ID: &str = "-";

/// As long as a real hash (64 hex digits), so the comparison runs in full, and never equal to
/// one (not hex).
const NO_HASH: &str = "----------------------------------------------------------------";

impl<'a> IdCheck<'a> {
    fn of(row: Option<&'a ResultRow>, keyring: &'a Keyring) -> IdCheck<'a> {
        match row {
            Some(row) => IdCheck {
                result_id: &row.id,
                key_id: &row.key_id,
                expected_hash: &row.id_number_hash,
                counters: row.counters(),
            },
            None => IdCheck {
                result_id: NO_RESULT_ID,
                key_id: keyring.current_id(),
                expected_hash: NO_HASH,
                counters: CodeCounters::default(),
            },
        }
    }

    /// The keyed hash of the typed ID number under the key, compared in constant time.
    fn verify(&self, keyring: &Keyring, id_number: &str) -> bool {
        let typed = keyring
            .lookup_hash(
                self.key_id,
                crate::domain::results::ID_NUMBER_PURPOSE,
                id_number,
            )
            .unwrap_or_default();
        typed.as_bytes().ct_eq(self.expected_hash.as_bytes()).into()
    }

    /// Writes the code's counters after the comparison: one more wrong ID number when it did
    /// not match and the code was open, else as they were. The statement runs whatever the
    /// outcome (for the stand-in it changes no row), so that neither the code's existence nor,
    /// for a locked code, the rightness of the ID number shows in the time taken.
    fn write_counters(
        &self,
        conn: &mut DbConnection,
        matched: bool,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        let after = if !matched && self.counters.state(now) == CodeState::Open {
            self.counters.after_failure(now)
        } else {
            self.counters
        };
        diesel::update(test_results::table.find(self.result_id))
            .set((
                test_results::window_start.eq(after.window_start),
                test_results::window_failures.eq(after.window_failures),
                test_results::failures_total.eq(after.failures_total),
            ))
            .execute(conn)
            .map(|_| ())
    }
}

/// Judges one download attempt and records it, inside the caller's write transaction.
///
/// Limits: failures from the attempt's address in the last [`LOCK_WINDOW`] up to
/// `address_limit`; once the failures from every address together reach `global_limit`, one
/// per address. Past the limit an attempt is refused unjudged. The global limit never refuses
/// a first attempt from an address: a patient with the right code and ID number still gets
/// the file while someone floods the page from many addresses.
fn judge(
    conn: &mut DbConnection,
    attempt: &Attempt<'_>,
    keyring: &Keyring,
) -> QueryResult<DownloadOutcome> {
    // The address first (see `attempt_downloads`), then the results with this code (MySQL: a
    // locking read, so their counters are the latest).
    lock_result_address(conn, attempt.address, attempt.now)?;
    let candidates = lock_test_results_by_code(conn, attempt.code_hashes)?;
    let since = attempt.now - LOCK_WINDOW;
    let from_address: i64 = result_events::table
        .filter(result_events::address.eq(attempt.address))
        .filter(result_events::counts_as_failure.eq(true))
        .filter(result_events::at.ge(since))
        .count()
        .get_result(conn)?;
    let everywhere: i64 = result_events::table
        .filter(result_events::counts_as_failure.eq(true))
        .filter(result_events::at.ge(since))
        .count()
        .get_result(conn)?;
    // Prefer the available result when a code was reused after an older one ended.
    let row = candidates
        .into_iter()
        .max_by_key(|r| (r.is_available(), r.available_at));
    let refuse = |conn: &mut DbConnection, refusal: Refusal, row: Option<&ResultRow>| {
        record(
            conn,
            NewEvent {
                result_id: row.map(|r| r.id.as_str()),
                event: "download",
                outcome: refusal.as_str(),
                counts_as_failure: refusal.is_failure(),
                address: Some(attempt.address),
                actor: None,
                at: attempt.now,
            },
        )?;
        Ok(DownloadOutcome::Refused {
            refusal,
            lid: row.map(|r| r.lid.clone()),
        })
    };
    let global_reached = everywhere >= i64::from(attempt.global_limit);
    if global_reached && everywhere == i64::from(attempt.global_limit) {
        log::warn!(
            "results page: {everywhere} failed download attempts in 15 minutes from all \
             addresses together (RENDEZ_RESULTS_GLOBAL_LIMIT): each address now gets one"
        );
    }
    let address_limit = if global_reached {
        1
    } else {
        i64::from(attempt.address_limit)
    };
    if from_address >= address_limit {
        return refuse(conn, Refusal::RateLimited, row.as_ref());
    }
    // The same verification whether the code is known, locked or unknown (see `IdCheck`).
    let check = IdCheck::of(row.as_ref(), keyring);
    let matches = check.verify(keyring, attempt.id_number);
    check.write_counters(conn, matches, attempt.now)?;
    let state = check.counters.state(attempt.now);
    let Some(row) = row else {
        return refuse(conn, Refusal::UnknownCode, None);
    };
    match state {
        CodeState::Blocked => return refuse(conn, Refusal::Blocked, Some(&row)),
        CodeState::Locked => return refuse(conn, Refusal::Locked, Some(&row)),
        CodeState::Open => {}
    }
    if !matches {
        return refuse(conn, Refusal::WrongIdNumber, Some(&row));
    }
    if !row.is_available() {
        return refuse(conn, Refusal::Unavailable, Some(&row));
    }
    let mut content = load_chunks(conn, &row)?;
    if let Err(e) = open_content(keyring, &row, &mut content) {
        log::error!("result {}: the content does not open: {e}", row.lid);
        return refuse(conn, Refusal::Unreadable, Some(&row));
    }
    let file_name = row.filename_sealed.as_deref().and_then(|blob| {
        keyring
            .open_small(&row.key_id, &filename_aad(&row.lid), blob)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
    });
    if row.first_downloaded_at.is_none() {
        diesel::update(test_results::table.find(&row.id))
            .set(test_results::first_downloaded_at.eq(Some(attempt.now)))
            .execute(conn)?;
    }
    record(
        conn,
        NewEvent {
            result_id: Some(&row.id),
            event: "download",
            outcome: "ok",
            counts_as_failure: false,
            address: Some(attempt.address),
            actor: None,
            at: attempt.now,
        },
    )?;
    Ok(DownloadOutcome::Granted {
        lid: row.lid,
        file_type: row.file_type,
        file_name,
        content,
    })
}

/// Deletes the content of results past their retention (keeping metadata and history); at
/// most `batch` results per call. Returns how many were purged.
pub fn purge_due(
    conn: &mut DbConnection,
    retention: &Retention,
    now: NaiveDateTime,
    batch: i64,
) -> QueryResult<usize> {
    let (available_cutoff, downloaded_cutoff) = retention.cutoffs(now);
    let lids: Vec<String> = test_results::table
        .filter(test_results::content_chunks.gt(0))
        .filter(
            test_results::available_at
                .le(available_cutoff)
                .or(test_results::first_downloaded_at.le(downloaded_cutoff)),
        )
        .select(test_results::lid)
        .limit(batch)
        .load(conn)?;
    let mut purged = 0;
    for lid in lids {
        let done = super::tx::write(conn, |conn| {
            let Some(row) = lock_test_result_by_lid(conn, &lid)? else {
                return Ok::<_, diesel::result::Error>(false);
            };
            // Checked again under the lock: a re-issue may have come in meanwhile.
            let still_due = row.content_chunks > 0
                && (row.available_at <= available_cutoff
                    || row
                        .first_downloaded_at
                        .is_some_and(|d| d <= downloaded_cutoff));
            if !still_due {
                return Ok(false);
            }
            drop_chunks(conn, &row.id)?;
            diesel::update(test_results::table.find(&row.id))
                .set((
                    test_results::purged_at.eq(Some(now)),
                    test_results::content_nonce.eq(None::<Vec<u8>>),
                    test_results::content_chunks.eq(0),
                    test_results::updated_at.eq(now),
                ))
                .execute(conn)?;
            record(
                conn,
                NewEvent {
                    result_id: Some(&row.id),
                    event: "purged",
                    outcome: "ok",
                    counts_as_failure: false,
                    address: None,
                    actor: None,
                    at: now,
                },
            )?;
            Ok(true)
        })?;
        if done {
            purged += 1;
        }
    }
    Ok(purged)
}

/// Deletes the address guards no attempt has touched for a lock window (they only order
/// attempts; the counts live in the history). Returns how many were deleted.
pub fn forget_idle_address_guards(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    use super::schema::result_address_guards as guards;
    diesel::delete(guards::table.filter(guards::touched_at.lt(now - LOCK_WINDOW))).execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = result_events)]
#[cfg_attr(feature = "sqlite", diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "mysql", diesel(check_for_backend(diesel::mysql::Mysql)))]
pub struct EventRow {
    pub at: NaiveDateTime,
    pub event: String,
    pub outcome: String,
    pub address: Option<String>,
    pub actor: Option<String>,
}

/// A result and its history, oldest event first (`rendez results audit`).
pub fn audit(
    conn: &mut DbConnection,
    lid: &str,
) -> QueryResult<Option<(ResultRow, Vec<EventRow>)>> {
    let Some(row) = test_results::table
        .filter(test_results::lid.eq(lid))
        .select(ResultRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let events = result_events::table
        .filter(result_events::result_id.eq(&row.id))
        .order((result_events::at.asc(), result_events::id.asc()))
        .select(EventRow::as_select())
        .load(conn)?;
    Ok(Some((row, events)))
}

/// Key ids that sealed content still held but that `keyring` does not know: that content
/// cannot be read until the key is configured again.
pub fn missing_key_ids(conn: &mut DbConnection, keyring: &Keyring) -> QueryResult<Vec<String>> {
    let used: Vec<String> = test_results::table
        .filter(test_results::content_chunks.gt(0))
        .select(test_results::key_id)
        .distinct()
        .load(conn)?;
    let known: Vec<&str> = keyring.key_ids().collect();
    Ok(used
        .into_iter()
        .filter(|id| !known.contains(&id.as_str()))
        .collect())
}

/// Reads a test result by LID and locks its row until the transaction ends (same rules as
/// [`crate::db::booking::locks::lock_resource`]: MySQL `FOR UPDATE`, which also reads the latest committed row; SQLite is
/// already the only writer).
pub fn lock_test_result_by_lid(
    conn: &mut DbConnection,
    lid: &str,
) -> diesel::QueryResult<Option<crate::db::results::ResultRow>> {
    use crate::db::results::ResultRow;
    use crate::db::schema::test_results;
    use diesel::prelude::*;
    // `as_select` is typed per backend, so each arm builds its own query.
    let query = || test_results::table.filter(test_results::lid.eq(lid));
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query().select(ResultRow::as_select()).first(c).optional(),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query()
            .select(ResultRow::as_select())
            .for_update()
            .first(c)
            .optional(),
    }
}

/// Reads and locks the test results whose code hash is one of `hashes` (a download attempt's
/// first read, so that its counters are the latest on MySQL).
pub fn lock_test_results_by_code(
    conn: &mut DbConnection,
    hashes: &[String],
) -> diesel::QueryResult<Vec<crate::db::results::ResultRow>> {
    use crate::db::results::ResultRow;
    use crate::db::schema::test_results;
    use diesel::prelude::*;
    let query = || test_results::table.filter(test_results::code_hash.eq_any(hashes));
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query().select(ResultRow::as_select()).load(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query().select(ResultRow::as_select()).for_update().load(c),
    }
}

/// Locks the patient page's guard row of an address until the transaction ends, creating it
/// when it is new: an upsert, which on MySQL (`ON DUPLICATE KEY UPDATE`) takes the row's
/// exclusive lock at once, so that attempts from one address queue on it instead of meeting
/// in a deadlock (a plain `INSERT IGNORE` then `FOR UPDATE` takes a shared lock first). SQLite's
/// write transaction already excludes every other writer; the same upsert keeps `touched_at`.
pub fn lock_result_address(
    conn: &mut DbConnection,
    address: &str,
    now: chrono::NaiveDateTime,
) -> diesel::QueryResult<()> {
    use crate::db::schema::result_address_guards as guards;
    use diesel::prelude::*;
    let insert = diesel::insert_into(guards::table)
        .values((guards::address.eq(address), guards::touched_at.eq(now)));
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => insert
            .on_conflict(guards::address)
            .do_update()
            .set(guards::touched_at.eq(now))
            .execute(c),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => insert
            .on_conflict(diesel::dsl::DuplicatedKeys)
            .do_update()
            .set(guards::touched_at.eq(now))
            .execute(c),
    }
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unknown code's ID number goes through the same keyed hash and a full-length
    /// constant-time comparison as a known code's, and matches nothing.
    #[test]
    fn an_unknown_code_runs_the_same_verification_against_a_stand_in() {
        let keyring =
            Keyring::parse(&crate::crypto::keyring::generate_key_text("k1"), None).unwrap();
        let stand_in = IdCheck::of(None, &keyring);
        let real_hash =
            keyring.current_lookup_hash(crate::domain::results::ID_NUMBER_PURPOSE, "12345678Z");
        assert_eq!(stand_in.key_id, keyring.current_id());
        assert_eq!(stand_in.expected_hash.len(), real_hash.len());
        assert!(!stand_in.verify(&keyring, "12345678Z"));
        assert!(!stand_in.verify(&keyring, ""));
        let known = IdCheck {
            result_id: "r",
            key_id: keyring.current_id(),
            expected_hash: &real_hash,
            counters: CodeCounters::default(),
        };
        assert!(known.verify(&keyring, "12345678Z"));
        assert!(!known.verify(&keyring, "12345678Y"));
    }
}
