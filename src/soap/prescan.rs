//! The first look at a request body, before anything typed parses it: one linear pass with
//! quick-xml that refuses what could hurt the parsers behind it (DOCTYPE and entity
//! declarations, deep nesting, attribute floods) and anything that is not well-formed XML.

use quick_xml::Reader;
use quick_xml::events::Event;

/// Far deeper than any Rendez request (Envelope/Body/operation/item/field is 5 levels), far
/// shallower than what makes xml-rs (inside yaserde) slow or a recursive parser overflow.
pub const MAX_DEPTH: usize = 32;
const MAX_ATTRIBUTES: usize = 64;
const TEXT_OUTSIDE_ROOT: &str =
    "the request is not well-formed XML: it has text outside its root element";
const PREDEFINED_ENTITIES: [&str; 5] = ["lt", "gt", "amp", "apos", "quot"];

/// Ok when `xml` is one well-formed element tree without a DOCTYPE and at most `MAX_DEPTH`
/// deep; otherwise the reason, phrased for the caller.
pub fn check(xml: &str) -> Result<(), String> {
    let mut reader = Reader::from_str(xml);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    config.allow_unmatched_ends = false;
    config.allow_dangling_amp = false;
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|e| {
            format!("the request is not well-formed XML (near byte {position}): {e}")
        })?;
        match event {
            Event::DocType(_) => {
                return Err("DOCTYPE and entity declarations are not allowed in a request".into());
            }
            Event::Start(start) | Event::Empty(start) if depth >= MAX_DEPTH => {
                let _ = start;
                return Err(format!(
                    "the request nests elements deeper than {MAX_DEPTH} levels"
                ));
            }
            Event::Start(start) => {
                check_attributes(&start)?;
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
            }
            Event::Empty(start) => {
                check_attributes(&start)?;
                if depth == 0 {
                    roots += 1;
                }
            }
            Event::End(_) => depth -= 1,
            Event::Text(text) if depth == 0 && !text.xml10_content().trim().is_empty() => {
                return Err(TEXT_OUTSIDE_ROOT.into());
            }
            Event::CData(_) if depth == 0 => {
                return Err(TEXT_OUTSIDE_ROOT.into());
            }
            Event::GeneralRef(reference) => {
                if depth == 0 {
                    return Err(TEXT_OUTSIDE_ROOT.into());
                }
                if reference.is_char_ref() {
                    match reference.resolve_char_ref() {
                        Ok(Some(c)) if is_xml_char(c) => {}
                        _ => {
                            return Err(format!(
                                "the request has an invalid character reference &{};",
                                reference.into_inner()
                            ));
                        }
                    }
                } else {
                    let name = reference.into_inner();
                    if !PREDEFINED_ENTITIES.contains(&name.as_ref()) {
                        return Err(format!(
                            "the request uses the undeclared entity &{name}; (entities are not allowed)"
                        ));
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        if roots > 1 {
            return Err("the request has more than one root element".into());
        }
    }
    if depth != 0 {
        return Err("the request is not well-formed XML: it ends inside an element".into());
    }
    if roots == 0 {
        return Err("the request body holds no XML element".into());
    }
    Ok(())
}

/// Ok(true) when the start of a body (cut anywhere) already shows `operation` of the Rendez
/// namespace as the first element of a SOAP Body. Used to let one operation's body grow past
/// the default limit; the whole body still goes through [`check`] once it has arrived. A
/// DOCTYPE met on the way is refused at once, with the same words as [`check`].
pub fn names_operation(prefix: &[u8], operation: &str) -> Result<bool, String> {
    use quick_xml::NsReader;
    use quick_xml::name::ResolveResult;
    let soap = |ns: &ResolveResult<'_>| {
        matches!(ns, ResolveResult::Bound(n)
            if n.as_ref() == crate::soap::SoapVersion::V11.namespace()
                || n.as_ref() == crate::soap::SoapVersion::V12.namespace())
    };
    let mut reader = NsReader::from_reader(prefix);
    let mut depth = 0usize;
    let mut in_body = false;
    loop {
        let (ns, start, empty) = match reader.read_resolved_event() {
            Ok((ns, Event::Start(e))) => (ns, e, false),
            Ok((ns, Event::Empty(e))) => (ns, e, true),
            Ok((_, Event::End(_))) => {
                depth = depth.saturating_sub(1);
                in_body &= depth >= 2;
                continue;
            }
            Ok((_, Event::DocType(_))) => {
                return Err("DOCTYPE and entity declarations are not allowed in a request".into());
            }
            Ok((_, Event::Eof)) | Err(_) => return Ok(false),
            Ok(_) => continue,
        };
        if depth >= MAX_DEPTH {
            return Ok(false);
        }
        let local = start.local_name();
        if depth == 2 && in_body {
            return Ok(
                matches!(ns, ResolveResult::Bound(n) if n.as_ref() == crate::soap::RENDEZ_NS)
                    && local.as_ref() == operation,
            );
        }
        if depth == 1 && local.as_ref() == "Body" && soap(&ns) {
            in_body = !empty;
        }
        if !empty {
            depth += 1;
        }
    }
}

fn check_attributes(start: &quick_xml::events::BytesStart<'_>) -> Result<(), String> {
    for (count, attribute) in start.attributes().with_checks(true).enumerate() {
        if count >= MAX_ATTRIBUTES {
            return Err(format!(
                "an element of the request has more than {MAX_ATTRIBUTES} attributes"
            ));
        }
        attribute.map_err(|e| format!("the request is not well-formed XML: {e}"))?;
    }
    Ok(())
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_plain_document_passes() {
        check(r#"<?xml version="1.0"?><a x="1"><b>t &amp; &#233;</b><c/></a>"#).unwrap();
    }

    #[test]
    fn a_doctype_is_refused() {
        let billion_laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>"#;
        assert!(check(billion_laughs).unwrap_err().contains("DOCTYPE"));
    }

    #[test]
    fn an_undeclared_entity_is_refused() {
        assert!(check("<a>&xxe;</a>").unwrap_err().contains("&xxe;"));
        assert!(
            check("<a>&#0;</a>")
                .unwrap_err()
                .contains("character reference")
        );
    }

    #[test]
    fn deep_nesting_is_refused_quickly() {
        let deep = "<a>".repeat(100_000) + &"</a>".repeat(100_000);
        let started = Instant::now();
        assert!(check(&deep).unwrap_err().contains("deeper than"));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn the_operation_is_seen_in_the_start_of_a_body() {
        let head = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:r="urn:rendez:soap:v1"><s:Header><x>1</x></s:Header><s:Body><r:updateTestResults><TEST_RESULT><DOWNLOAD_CONTENT>QUFB"#;
        assert_eq!(
            names_operation(head.as_bytes(), "updateTestResults"),
            Ok(true)
        );
        assert_eq!(names_operation(head.as_bytes(), "getCenters"), Ok(false));
        let other_ns = head.replace("urn:rendez:soap:v1", "urn:other");
        assert_eq!(
            names_operation(other_ns.as_bytes(), "updateTestResults"),
            Ok(false)
        );
        let not_yet = &head[..60];
        assert_eq!(
            names_operation(not_yet.as_bytes(), "updateTestResults"),
            Ok(false)
        );
        let doctype = format!("<!DOCTYPE x [<!ENTITY a 'b'>]>{head}");
        assert!(names_operation(doctype.as_bytes(), "updateTestResults").is_err());
    }

    #[test]
    fn broken_documents_are_refused() {
        assert!(check("<a><b></a>").is_err());
        assert!(check("<a>").is_err());
        assert!(check("<a/><b/>").is_err());
        assert!(check("just text").is_err());
        assert!(check("").is_err());
        assert!(check(r#"<a x="1" x="2"/>"#).is_err());
    }
}
