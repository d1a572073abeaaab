//! Reads the canonical `updateTestResults` payload with quick-xml instead of yaserde: a result
//! may carry tens of MiB of base64, which is decoded here straight from the payload text into
//! one buffer (xml-rs inside yaserde would copy it character by character into yet another
//! string first).

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use quick_xml::Reader;
use quick_xml::events::Event;

use crate::domain::FieldSource;
use crate::domain::values::{FieldError, FieldResult};
use crate::error::Error;

/// The fields of a TEST_RESULT besides DOWNLOAD_CONTENT; anything else is ignored.
const FIELDS: [&str; 11] = [
    "DOWNLOAD_LID",
    "DOWNLOAD_CODE",
    "DOWNLOAD_FILENAME",
    "DOWNLOAD_TYPE",
    "USER_LID",
    "USER_ID_NUMBER",
    "USER_MOBILE_PHONE",
    "USER_EMAIL",
    "STATUS",
    "LOCATION_LID",
    "COMMUNICATION_PREFERENCES",
];
const CONTENT: &str = "DOWNLOAD_CONTENT";
const ITEM: &str = "TEST_RESULT";
/// base64 text is gathered into groups of this many characters before decoding.
const GROUP: usize = 64 * 1024;

const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One TEST_RESULT as sent: its text fields and its decoded content (or why not).
#[derive(Debug)]
pub struct RawTestResult {
    fields: Vec<(&'static str, String)>,
    pub content: FieldResult<Option<Vec<u8>>>,
    /// A field given twice: refused rather than letting one silently win.
    pub repeated: Option<&'static str>,
}

impl FieldSource for RawTestResult {
    fn field(&self, name: &'static str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// Base64 text in, bytes out, whitespace (line breaks of base64 writers) skipped, stopping
/// as soon as the decoded size passes `limit`.
struct Base64Sink {
    group: Vec<u8>,
    out: Vec<u8>,
    limit: usize,
    error: Option<String>,
}

impl Base64Sink {
    fn new(limit: usize) -> Self {
        Base64Sink {
            group: Vec::with_capacity(GROUP),
            out: Vec::new(),
            limit,
            error: None,
        }
    }

    fn feed(&mut self, text: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if self.out.is_empty() {
            self.out.reserve((text.len() / 4 * 3).min(self.limit + 3));
        }
        for &b in text {
            if b.is_ascii_whitespace() {
                continue;
            }
            self.group.push(b);
            if self.group.len() == GROUP {
                self.flush();
                if self.error.is_some() {
                    return;
                }
            }
        }
    }

    fn flush(&mut self) {
        if self.group.is_empty() || self.error.is_some() {
            return;
        }
        if self.out.len() + self.group.len() / 4 * 3 > self.limit + 3 {
            self.error = Some(format!(
                "DOWNLOAD_CONTENT is larger than the limit of {} bytes (RENDEZ_RESULTS_MAX_SIZE)",
                self.limit
            ));
            return;
        }
        if let Err(e) = ENGINE.decode_vec(&self.group, &mut self.out) {
            self.error = Some(format!("DOWNLOAD_CONTENT is not base64: {e}"));
        }
        self.group.clear();
    }

    fn finish(mut self) -> FieldResult<Option<Vec<u8>>> {
        self.flush();
        if let Some(message) = self.error {
            return Err(FieldError::new("DOWNLOAD_CONTENT", message));
        }
        if self.out.len() > self.limit {
            return Err(FieldError::new(
                "DOWNLOAD_CONTENT",
                format!(
                    "DOWNLOAD_CONTENT is larger than the limit of {} bytes (RENDEZ_RESULTS_MAX_SIZE)",
                    self.limit
                ),
            ));
        }
        Ok(Some(self.out))
    }
}

fn not_well_formed(e: impl std::fmt::Display) -> Error {
    Error::client(format!(
        "updateTestResults: the request is not well-formed: {e}"
    ))
}

fn reference_char(r: &quick_xml::events::BytesRef<'_>) -> Result<char, Error> {
    if r.is_char_ref()
        && let Ok(Some(c)) = r.resolve_char_ref()
    {
        return Ok(c);
    }
    match r.as_ref() {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other => Err(Error::client(format!(
            "updateTestResults uses the undeclared entity &{other};"
        ))),
    }
}

/// What the reader is inside of.
enum Field {
    None,
    Text(&'static str, String),
    Content(Base64Sink),
    Ignored,
}

/// The TEST_RESULT items of a canonical `<updateTestResults>` payload, in order.
pub fn parse(payload: &str, max_content: usize) -> Result<Vec<RawTestResult>, Error> {
    let mut reader = Reader::from_str(payload);
    let mut items = Vec::new();
    // 0: outside, 1: in the operation, 2: in a TEST_RESULT, 3: in one of its fields.
    let mut depth = 0usize;
    let mut item: Option<RawTestResult> = None;
    let mut field = Field::None;
    loop {
        let event = reader.read_event().map_err(not_well_formed)?;
        let (start, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::Text(t) => {
                match &mut field {
                    Field::Content(sink) => sink.feed(t.as_ref().as_bytes()),
                    Field::Text(_, text) => text.push_str(&t.xml10_content()),
                    _ => {}
                }
                continue;
            }
            Event::GeneralRef(r) => {
                let c = reference_char(&r)?;
                match &mut field {
                    Field::Content(_) if c.is_ascii_whitespace() => {}
                    Field::Content(sink) => {
                        sink.error.get_or_insert_with(|| {
                            "DOWNLOAD_CONTENT is not base64: it holds a character reference"
                                .to_string()
                        });
                    }
                    Field::Text(_, text) => text.push(c),
                    _ => {}
                }
                continue;
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                match depth {
                    2 => close_field(
                        item.as_mut().expect("inside an item"),
                        std::mem::replace(&mut field, Field::None),
                    ),
                    1 => items.extend(item.take()),
                    _ => {}
                }
                continue;
            }
            Event::Eof => return Ok(items),
            _ => continue,
        };
        let name = start.local_name().as_ref().to_string();
        match depth {
            0 => {}
            1 if name == ITEM => {
                let new = RawTestResult {
                    fields: Vec::new(),
                    content: Ok(None),
                    repeated: None,
                };
                if empty {
                    items.push(new);
                } else {
                    item = Some(new);
                }
            }
            1 => {
                return Err(Error::client(format!(
                    "updateTestResults: unexpected element {name}; the items are TEST_RESULT"
                )));
            }
            2 => {
                let current = item.as_mut().expect("inside an item");
                let known = FIELDS
                    .iter()
                    .copied()
                    .find(|f| *f == name)
                    .or((name == CONTENT).then_some(CONTENT));
                if let Some(n) = known {
                    let seen = current.fields.iter().any(|(f, _)| *f == n)
                        || (n == CONTENT && !matches!(current.content, Ok(None)));
                    if seen {
                        current.repeated.get_or_insert(n);
                    }
                }
                field = match known {
                    Some(CONTENT) => Field::Content(Base64Sink::new(max_content)),
                    Some(n) => Field::Text(n, String::new()),
                    None => Field::Ignored,
                };
                if empty {
                    close_field(current, std::mem::replace(&mut field, Field::None));
                }
            }
            _ => {
                return Err(Error::client(format!(
                    "updateTestResults: the field {} must hold text, not elements",
                    name_of_field(&field).unwrap_or(&name)
                )));
            }
        }
        if !empty {
            depth += 1;
        }
    }
}

fn name_of_field(field: &Field) -> Option<&str> {
    match field {
        Field::Text(name, _) => Some(name),
        Field::Content(_) => Some(CONTENT),
        _ => None,
    }
}

fn close_field(item: &mut RawTestResult, field: Field) {
    match field {
        Field::Text(name, text) => {
            if !item.fields.iter().any(|(n, _)| *n == name) {
                item.fields.push((name, text));
            }
        }
        Field::Content(sink) => {
            if matches!(item.content, Ok(None)) {
                item.content = sink.finish();
            }
        }
        Field::None | Field::Ignored => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_fields_and_wrapped_base64_are_read() {
        let payload = "<updateTestResults><TEST_RESULT><DOWNLOAD_LID>L1</DOWNLOAD_LID>\
            <DOWNLOAD_FILENAME>a &amp; b.pdf</DOWNLOAD_FILENAME>\
            <DOWNLOAD_CONTENT>aGVs\nbG8g&#13;&#10;d29y bGQ=</DOWNLOAD_CONTENT><OTHER>x</OTHER>\
            </TEST_RESULT><TEST_RESULT><DOWNLOAD_LID>L2</DOWNLOAD_LID><DOWNLOAD_CONTENT/></TEST_RESULT>\
            </updateTestResults>";
        let items = parse(payload, 1024).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].field("DOWNLOAD_LID"), Some("L1"));
        assert_eq!(items[0].field("DOWNLOAD_FILENAME"), Some("a & b.pdf"));
        assert_eq!(
            items[0].content.as_ref().unwrap().as_deref(),
            Some(&b"hello world"[..])
        );
        assert_eq!(items[1].field("DOWNLOAD_LID"), Some("L2"));
        assert_eq!(
            items[1].content.as_ref().unwrap().as_deref(),
            Some(&b""[..])
        );
        assert!(items[0].repeated.is_none());
    }

    #[test]
    fn bad_or_oversized_content_is_the_items_error() {
        let payload = "<updateTestResults><TEST_RESULT><DOWNLOAD_CONTENT>@@@@</DOWNLOAD_CONTENT></TEST_RESULT>\
            <TEST_RESULT><DOWNLOAD_CONTENT>QUFBQUFBQUFB</DOWNLOAD_CONTENT></TEST_RESULT></updateTestResults>";
        let items = parse(payload, 4).unwrap();
        let first = items[0].content.as_ref().unwrap_err();
        assert!(first.message.contains("not base64"), "{first}");
        let second = items[1].content.as_ref().unwrap_err();
        assert!(second.message.contains("larger than the limit"), "{second}");
    }

    #[test]
    fn a_repeated_field_is_noticed() {
        let payload = "<updateTestResults><TEST_RESULT><DOWNLOAD_LID>A</DOWNLOAD_LID>\
            <DOWNLOAD_LID>B</DOWNLOAD_LID></TEST_RESULT></updateTestResults>";
        let items = parse(payload, 4).unwrap();
        assert_eq!(items[0].repeated, Some("DOWNLOAD_LID"));
        assert_eq!(items[0].field("DOWNLOAD_LID"), Some("A"));
    }

    #[test]
    fn structure_errors_name_the_element() {
        let err = parse("<updateTestResults><ROW/></updateTestResults>", 4).unwrap_err();
        assert!(err.to_string().contains("unexpected element ROW"), "{err}");
        let err = parse(
            "<updateTestResults><TEST_RESULT><DOWNLOAD_LID><x/></DOWNLOAD_LID></TEST_RESULT></updateTestResults>",
            4,
        )
        .unwrap_err();
        assert!(err.to_string().contains("must hold text"), "{err}");
    }
}
