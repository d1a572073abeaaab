//! A flat reader and writer for the operations whose request is a list of text fields and whose
//! answer is a list of items of text fields (the booking operations): one quick-xml pass over the
//! canonical operation element instead of yaserde's xml-rs, which cost most of a search's time.
//!
//! The canonical element comes from [`super::envelope`]: local names only, no attributes, text
//! still escaped. A field holding an element where text belongs is refused, naming the field;
//! fields the operation does not know are ignored, as yaserde does; a repeated field keeps its
//! last value.

use quick_xml::Reader;
use quick_xml::events::Event;

use super::Operation;
use crate::error::Error;

/// A request typed from its fields' text (see `request_item!` in [`super::wire`]).
pub trait FlatRequest: Default {
    /// Stores a field's text; `false` when the request has no field of that name.
    fn set(&mut self, tag: &str, value: String) -> bool;
}

/// Types the canonical operation element `<operation><FIELD>text</FIELD>...</operation>`.
pub(crate) fn parse_flat<T: FlatRequest>(operation: Operation, payload: &str) -> Result<T, Error> {
    let malformed =
        |detail: String| Error::client(format!("malformed {} request: {detail}", operation.name()));
    let mut reader = Reader::from_str(payload);
    reader.config_mut().check_end_names = true;
    let mut request = T::default();
    // The operation element itself.
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) => break,
            Ok(Event::Empty(_)) | Ok(Event::Eof) => return Ok(request),
            Ok(_) => {}
            Err(e) => return Err(malformed(e.to_string())),
        }
    }
    let mut field: Option<String> = None;
    let mut text = String::new();
    loop {
        let event = reader.read_event().map_err(|e| malformed(e.to_string()))?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                if let Some(outer) = &field {
                    return Err(malformed(format!(
                        "the field {outer} holds the element {name} where text belongs"
                    )));
                }
                text.clear();
                field = Some(name);
            }
            Event::Empty(e) => {
                if let Some(outer) = &field {
                    return Err(malformed(format!(
                        "the field {outer} holds the element {} where text belongs",
                        e.local_name().as_ref()
                    )));
                }
                let name = e.local_name().as_ref().to_string();
                request.set(&name, String::new());
            }
            Event::Text(t) if field.is_some() => {
                text.push_str(&t.xml10_content());
            }
            Event::GeneralRef(r) if field.is_some() => {
                text.push(resolve_reference(&r).map_err(malformed)?);
            }
            Event::CData(t) if field.is_some() => {
                text.push_str(&t.into_inner());
            }
            Event::End(_) => match field.take() {
                Some(name) => {
                    request.set(&name, std::mem::take(&mut text));
                }
                // The end of the operation element.
                None => return Ok(request),
            },
            Event::Eof => return Err(malformed("the operation element is not closed".into())),
            _ => {}
        }
    }
}

fn resolve_reference(r: &quick_xml::events::BytesRef<'_>) -> Result<char, String> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c),
            _ => Err("an invalid character reference".into()),
        };
    }
    match r.as_ref() {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other => Err(format!("the undeclared entity &{other};")),
    }
}

/// Writes answer elements straight into one string.
pub(crate) struct FlatWriter {
    out: String,
}

impl FlatWriter {
    pub fn with_capacity(capacity: usize) -> Self {
        FlatWriter {
            out: String::with_capacity(capacity),
        }
    }

    pub fn open(&mut self, tag: &str) {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
    }

    pub fn close(&mut self, tag: &str) {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
    }

    /// `<tag>text</tag>`, the text escaped.
    pub fn text(&mut self, tag: &str, value: &str) {
        self.open(tag);
        self.out.push_str(&quick_xml::escape::escape(value));
        self.close(tag);
    }

    /// Nothing at all for an absent value, as yaserde writes an `Option`.
    pub fn optional(&mut self, tag: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.text(tag, value);
        }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq)]
    struct Probe {
        a: Option<String>,
        b: Option<String>,
    }

    impl FlatRequest for Probe {
        fn set(&mut self, tag: &str, value: String) -> bool {
            match tag {
                "A" => self.a = Some(value),
                "B" => self.b = Some(value),
                _ => return false,
            }
            true
        }
    }

    fn parse(payload: &str) -> Result<Probe, Error> {
        parse_flat(Operation::SearchAvailabilities, payload)
    }

    #[test]
    fn fields_are_read_with_their_references_resolved() {
        let probe = parse("<op><A>x &amp; y &#233;</A><C>ignored</C><B/></op>").unwrap();
        assert_eq!(probe.a.as_deref(), Some("x & y é"));
        assert_eq!(probe.b.as_deref(), Some(""));
        assert_eq!(parse("<op/>").unwrap(), Probe::default());
        assert_eq!(parse("<op></op>").unwrap(), Probe::default());
    }

    #[test]
    fn a_repeated_field_keeps_its_last_value() {
        assert_eq!(
            parse("<op><A>1</A><A>2</A></op>").unwrap().a.as_deref(),
            Some("2")
        );
    }

    #[test]
    fn an_element_inside_a_field_is_refused_naming_the_field() {
        for payload in ["<op><A><X>1</X></A></op>", "<op><A><X/></A></op>"] {
            let message = parse(payload).unwrap_err().to_string();
            assert!(message.contains("searchAvailabilities"), "{message}");
            assert!(message.contains("field A"), "{message}");
        }
    }

    #[test]
    fn the_writer_escapes_text_and_omits_absent_values() {
        let mut w = FlatWriter::with_capacity(64);
        w.open("ITEM");
        w.text("A", "<x & y>");
        w.optional("B", None);
        w.optional("C", Some("c"));
        w.close("ITEM");
        assert_eq!(w.finish(), "<ITEM><A>&lt;x &amp; y&gt;</A><C>c</C></ITEM>");
    }
}
