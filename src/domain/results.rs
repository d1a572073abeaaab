//! Test results as the clinic system sends them, and the rules that protect them: download
//! codes and ID numbers normalised before they are hashed, a rough entropy estimate of codes,
//! safe file names, the per-code lockout and the retention periods. No XML, no SQL.

use chrono::{Duration, NaiveDateTime};

use super::patient::{PatientFields, PatientKeys};
use super::values::{FieldError, FieldResult, FieldSource, Lid, required, required_lid};

pub const CODE_MAX_CHARS: usize = 50;
pub const ID_NUMBER_MAX_CHARS: usize = 50;
pub const FILE_NAME_MAX_CHARS: usize = 255;
/// Wrong ID numbers allowed per code within one [`LOCK_WINDOW`].
pub const MAX_WINDOW_FAILURES: i32 = 5;
/// Wrong ID numbers after which a code stops working until the clinic pushes it again.
pub const MAX_TOTAL_FAILURES: i32 = 20;
pub const LOCK_WINDOW: Duration = Duration::minutes(15);
/// Purposes of the keyed hashes, so that a code and an ID number never hash alike.
pub const CODE_PURPOSE: &str = "download code";
pub const ID_NUMBER_PURPOSE: &str = "id number";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultStatus {
    Valid,
    Cancelled,
}

impl ResultStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultStatus::Valid => "Valid",
            ResultStatus::Cancelled => "Cancelled",
        }
    }

    pub fn from_stored(text: &str) -> ResultStatus {
        if text == "Cancelled" {
            ResultStatus::Cancelled
        } else {
            ResultStatus::Valid
        }
    }
}

/// A download code, normalised as a patient may type it: spaces and hyphens dropped, upper
/// case. Codes are compared only through their keyed hashes.
#[derive(Clone, PartialEq, Eq)]
pub struct DownloadCode(String);

impl DownloadCode {
    pub fn parse(raw: &str) -> Result<DownloadCode, String> {
        let code: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_uppercase)
            .collect();
        if code.is_empty() {
            return Err("is empty".into());
        }
        if code.chars().count() > CODE_MAX_CHARS {
            return Err(format!("is longer than {CODE_MAX_CHARS} characters"));
        }
        if code.chars().any(char::is_control) {
            return Err("contains a control character".into());
        }
        Ok(DownloadCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A rough estimate of the bits of entropy of a code the clinic made: each character adds
    /// log2 of the alphabet its classes suggest, except one that repeats the previous character
    /// or continues a run (`1234`, `ABCD`, `9876`), which adds one bit. Meant to catch weak
    /// codes (short, one class, repeats, runs), not to grade strong ones.
    pub fn entropy_bits(&self) -> f64 {
        let chars: Vec<char> = self.0.chars().collect();
        let mut alphabet = 0u32;
        if chars.iter().any(|c| c.is_ascii_digit()) {
            alphabet += 10;
        }
        if chars.iter().any(|c| c.is_alphabetic()) {
            alphabet += 26;
        }
        if chars.iter().any(|c| !c.is_alphanumeric()) {
            alphabet += 32;
        }
        let per_char = f64::from(alphabet.max(2)).log2();
        let mut bits = 0.0;
        for (i, c) in chars.iter().enumerate() {
            let predictable = i > 0 && {
                let step = *c as i64 - chars[i - 1] as i64;
                let same_step = i < 2 || step == chars[i - 1] as i64 - chars[i - 2] as i64;
                step == 0 || (step.abs() == 1 && same_step)
            };
            bits += if predictable { 1.0 } else { per_char };
        }
        bits
    }
}

impl std::fmt::Debug for DownloadCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DownloadCode(***)")
    }
}

/// An ID number as compared for downloads: letters and digits only, upper case, so that
/// `12345678-z` and `12345678Z` are the same person.
pub fn normalize_id_number(raw: &str) -> Result<String, String> {
    if raw.chars().count() > ID_NUMBER_MAX_CHARS * 2 {
        return Err(format!("is longer than {ID_NUMBER_MAX_CHARS} characters"));
    }
    let number: String = raw
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect();
    if number.is_empty() {
        return Err("has no letters or digits".into());
    }
    if number.chars().count() > ID_NUMBER_MAX_CHARS {
        return Err(format!("is longer than {ID_NUMBER_MAX_CHARS} characters"));
    }
    Ok(number)
}

/// A file extension such as `pdf`: 1 to 10 letters or digits, lower case, without the dot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileType(String);

impl FileType {
    pub fn parse(raw: &str) -> Result<FileType, String> {
        let ext = raw.trim().trim_start_matches('.').to_ascii_lowercase();
        if ext.is_empty() || ext.len() > 10 || !ext.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!(
                "'{raw}' is not a file extension (1 to 10 letters or digits, e.g. pdf)"
            ));
        }
        Ok(FileType(ext))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(text: &str) -> FileType {
        FileType(text.to_string())
    }
}

/// The name a downloaded file gets: the clinic's name without any path, quotes or control
/// characters, ending in the result's extension; `result-LID.ext` when nothing usable is left.
pub fn safe_file_name(name: Option<&str>, lid: &str, file_type: &FileType) -> String {
    let base = name
        .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(""))
        .unwrap_or("");
    let mut cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !"\"';:*?<>|%".contains(*c))
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .chars()
        .take(120)
        .collect();
    if cleaned.trim().is_empty() {
        let lid: String = lid
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        cleaned = format!("result-{lid}");
    }
    let suffix = format!(".{}", file_type.as_str());
    if !cleaned.to_ascii_lowercase().ends_with(&suffix) {
        cleaned.push_str(&suffix);
    }
    cleaned
}

/// One TEST_RESULT of updateTestResults, parsed.
#[derive(Debug)]
pub enum TestResultPush {
    Store(Box<NewTestResult>),
    Cancel { lid: Lid },
}

impl TestResultPush {
    pub fn lid(&self) -> &Lid {
        match self {
            TestResultPush::Store(r) => &r.lid,
            TestResultPush::Cancel { lid } => lid,
        }
    }
}

#[derive(Debug)]
pub struct NewTestResult {
    pub lid: Lid,
    pub code: DownloadCode,
    pub id_number: String,
    pub file_name: Option<String>,
    pub file_type: FileType,
    pub center: Option<Lid>,
    pub patient_keys: PatientKeys,
    pub patient_fields: PatientFields,
    pub content: Vec<u8>,
}

/// Reads a TEST_RESULT item. `content` is DOWNLOAD_CONTENT already decoded by the edge (or why
/// it could not be).
pub fn parse_item(
    src: &impl FieldSource,
    content: FieldResult<Option<Vec<u8>>>,
    default_country: Option<&str>,
) -> FieldResult<TestResultPush> {
    let lid = required_lid(src, "DOWNLOAD_LID")?;
    let status = match src.field("STATUS") {
        None => ResultStatus::Valid,
        Some(s) if s.eq_ignore_ascii_case("valid") => ResultStatus::Valid,
        Some(s) if s.eq_ignore_ascii_case("cancelled") || s.eq_ignore_ascii_case("canceled") => {
            ResultStatus::Cancelled
        }
        Some(s) => {
            return Err(FieldError::new(
                "STATUS",
                format!("STATUS '{s}' must be Valid or Cancelled"),
            ));
        }
    };
    if status == ResultStatus::Cancelled {
        return Ok(TestResultPush::Cancel { lid });
    }
    let code = DownloadCode::parse(required(src, "DOWNLOAD_CODE")?)
        .map_err(|e| FieldError::new("DOWNLOAD_CODE", format!("DOWNLOAD_CODE {e}")))?;
    let id_number = normalize_id_number(required(src, "USER_ID_NUMBER")?)
        .map_err(|e| FieldError::new("USER_ID_NUMBER", format!("USER_ID_NUMBER {e}")))?;
    let file_type = FileType::parse(required(src, "DOWNLOAD_TYPE")?)
        .map_err(|e| FieldError::new("DOWNLOAD_TYPE", format!("DOWNLOAD_TYPE {e}")))?;
    let file_name = super::values::text(src, "DOWNLOAD_FILENAME", FILE_NAME_MAX_CHARS)?;
    let center = super::values::lid(src, "LOCATION_LID")?;
    let patient_keys = PatientKeys::parse(src)?;
    let patient_fields = PatientFields::parse(src, default_country)?;
    let content = match content? {
        Some(bytes) if !bytes.is_empty() => bytes,
        _ => {
            return Err(FieldError::new(
                "DOWNLOAD_CONTENT",
                "DOWNLOAD_CONTENT is required for a Valid result (base64 of the file)",
            ));
        }
    };
    Ok(TestResultPush::Store(Box::new(NewTestResult {
        lid,
        code,
        id_number,
        file_name,
        file_type,
        center,
        patient_keys,
        patient_fields,
        content,
    })))
}

/// The per-code counters of wrong ID numbers, as stored on the result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CodeCounters {
    pub window_start: Option<NaiveDateTime>,
    pub window_failures: i32,
    pub failures_total: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeState {
    Open,
    /// Too many wrong ID numbers in the current window: refused even with the right one.
    Locked,
    /// Too many wrong ID numbers in total: refused until the clinic pushes the result again.
    Blocked,
}

impl CodeCounters {
    fn window_open(&self, now: NaiveDateTime) -> bool {
        self.window_start
            .is_some_and(|start| now < start + LOCK_WINDOW)
    }

    pub fn state(&self, now: NaiveDateTime) -> CodeState {
        if self.failures_total >= MAX_TOTAL_FAILURES {
            CodeState::Blocked
        } else if self.window_open(now) && self.window_failures >= MAX_WINDOW_FAILURES {
            CodeState::Locked
        } else {
            CodeState::Open
        }
    }

    /// The counters after one more wrong ID number at `now`; a window starts at the first
    /// failure after the previous one ended.
    pub fn after_failure(&self, now: NaiveDateTime) -> CodeCounters {
        let (window_start, window_failures) = if self.window_open(now) {
            (self.window_start, self.window_failures + 1)
        } else {
            (Some(now), 1)
        };
        CodeCounters {
            window_start,
            window_failures,
            failures_total: self.failures_total + 1,
        }
    }
}

/// How long content is kept: after its first download, and after it was made available;
/// whichever comes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub after_download: Duration,
    pub after_available: Duration,
}

impl Retention {
    /// Content made available at or before the first cutoff, or first downloaded at or before
    /// the second, is due for purging at `now`.
    pub fn cutoffs(&self, now: NaiveDateTime) -> (NaiveDateTime, NaiveDateTime) {
        (now - self.after_available, now - self.after_download)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + minute * 60, 0)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn codes_are_normalised_as_a_patient_types_them() {
        let code = DownloadCode::parse(" ab3k-9x7q ").unwrap();
        assert_eq!(code.as_str(), "AB3K9X7Q");
        assert!(DownloadCode::parse(" - ").is_err());
        assert!(DownloadCode::parse(&"A".repeat(51)).is_err());
        assert_eq!(format!("{code:?}"), "DownloadCode(***)");
    }

    #[test]
    fn weak_codes_score_low_and_random_codes_high() {
        let bits = |s: &str| DownloadCode::parse(s).unwrap().entropy_bits();
        assert!(bits("123456") < 12.0, "{}", bits("123456"));
        assert!(bits("000000000000") < 16.0);
        assert!(bits("ABCDEFGH") < 14.0);
        assert!(bits("K7QX2M9P4T") > 50.0, "{}", bits("K7QX2M9P4T"));
        assert!(bits("48213977") > 20.0 && bits("48213977") < 30.0);
    }

    #[test]
    fn id_numbers_keep_only_letters_and_digits() {
        assert_eq!(normalize_id_number(" 12.345.678-z ").unwrap(), "12345678Z");
        assert!(normalize_id_number("--").is_err());
    }

    #[test]
    fn file_names_lose_paths_and_gain_the_extension() {
        let pdf = FileType::parse(".PDF").unwrap();
        assert_eq!(pdf.as_str(), "pdf");
        assert_eq!(
            safe_file_name(Some("../../etc/\"análisis\".pdf"), "L1", &pdf),
            "análisis.pdf"
        );
        assert_eq!(
            safe_file_name(Some("C:\\x\\blood"), "L1", &pdf),
            "blood.pdf"
        );
        assert_eq!(safe_file_name(None, "L/1 2", &pdf), "result-L_1_2.pdf");
        assert_eq!(safe_file_name(Some("..."), "L1", &pdf), "result-L1.pdf");
        assert!(FileType::parse("p d f").is_err());
        assert!(FileType::parse("").is_err());
    }

    #[test]
    fn five_wrong_ids_lock_a_code_for_the_window_and_twenty_block_it() {
        let mut counters = CodeCounters::default();
        for _ in 0..5 {
            assert_eq!(counters.state(at(1)), CodeState::Open);
            counters = counters.after_failure(at(1));
        }
        assert_eq!(counters.state(at(2)), CodeState::Locked);
        assert_eq!(counters.state(at(16)), CodeState::Open);
        let mut minute = 16;
        while counters.failures_total < MAX_TOTAL_FAILURES {
            counters = counters.after_failure(at(minute));
            if counters.window_failures == MAX_WINDOW_FAILURES {
                minute += 16;
            }
        }
        assert_eq!(counters.state(at(minute + 1000)), CodeState::Blocked);
    }

    #[test]
    fn a_failure_after_the_window_starts_a_new_one() {
        let counters = CodeCounters::default()
            .after_failure(at(0))
            .after_failure(at(20));
        assert_eq!(counters.window_start, Some(at(20)));
        assert_eq!(counters.window_failures, 1);
        assert_eq!(counters.failures_total, 2);
    }
}
