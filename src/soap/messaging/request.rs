//! Reads the canonical `updateMessages` payload with quick-xml instead of yaserde: it is the
//! gateway's hot operation (hundreds of messages per call), and xml-rs inside yaserde copies and
//! checks every character several times over. The answer is written by hand for the same reason.

use quick_xml::Reader;
use quick_xml::escape::escape;
use quick_xml::events::Event;

use yaserde::{YaDeserialize, YaSerialize};

use crate::domain::FieldSource;
use crate::error::Error;
use crate::soap::wire::request_item;

request_item!(MessageItem {
    legacy_id: "LEGACY_ID",
    channel: "CHANNEL",
    to: "TO",
    from: "FROM",
    subject: "SUBJECT",
    body: "BODY",
    send_at: "SEND_AT",
    expires_at: "EXPIRES_AT",
});

/// One item of the answer (`MESSAGE_RESULT`), written by [`render`].
#[derive(Debug, Default)]
pub struct MessageResultItem {
    pub legacy_id: Option<String>,
    pub result: String,
    pub message_id: Option<String>,
    pub error_message: Option<String>,
    pub segments: Option<u32>,
}

const OPERATION: &str = "updateMessages";
const ITEM: &str = "MESSAGE";

/// One MESSAGE as sent, and the first field it gave twice (refused rather than letting one
/// silently win).
#[derive(Debug, Default)]
pub struct RawMessage {
    pub item: MessageItem,
    pub repeated: Option<&'static str>,
}

fn slot<'a>(
    item: &'a mut MessageItem,
    name: &str,
) -> Option<(&'static str, &'a mut Option<String>)> {
    Some(match name {
        "LEGACY_ID" => ("LEGACY_ID", &mut item.legacy_id),
        "CHANNEL" => ("CHANNEL", &mut item.channel),
        "TO" => ("TO", &mut item.to),
        "FROM" => ("FROM", &mut item.from),
        "SUBJECT" => ("SUBJECT", &mut item.subject),
        "BODY" => ("BODY", &mut item.body),
        "SEND_AT" => ("SEND_AT", &mut item.send_at),
        "EXPIRES_AT" => ("EXPIRES_AT", &mut item.expires_at),
        _ => return None,
    })
}

fn not_well_formed(e: impl std::fmt::Display) -> Error {
    Error::client(format!("{OPERATION}: the request is not well-formed: {e}"))
}

fn reference_char(r: &quick_xml::events::BytesRef<'_>) -> Result<char, Error> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c),
            _ => Err(Error::client(format!(
                "{OPERATION}: the character reference &{}; is not a valid character",
                r.as_ref()
            ))),
        };
    }
    match r.as_ref() {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other => Err(Error::client(format!(
            "{OPERATION} uses the undeclared entity &{other};"
        ))),
    }
}

/// The MESSAGE items of a canonical `<updateMessages>` payload, in order, stopping with a
/// Client fault once there are more than `max_items`.
pub fn parse(payload: &str, max_items: usize) -> Result<Vec<RawMessage>, Error> {
    let mut reader = Reader::from_str(payload);
    let mut items: Vec<RawMessage> = Vec::new();
    // 0: outside, 1: in the operation, 2: in a MESSAGE, 3: in one of its fields.
    let mut depth = 0usize;
    // The field being read: its name and its text so far (`None`: an ignored element).
    let mut field: Option<(&'static str, String)> = None;
    let mut in_field = false;
    loop {
        let event = reader.read_event().map_err(not_well_formed)?;
        let (start, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::Text(t) => {
                if let Some((_, text)) = field.as_mut() {
                    text.push_str(&t.xml10_content());
                }
                continue;
            }
            Event::CData(t) => {
                if let Some((_, text)) = field.as_mut() {
                    text.push_str(&t.into_inner());
                }
                continue;
            }
            Event::GeneralRef(r) => {
                let c = reference_char(&r)?;
                if let Some((_, text)) = field.as_mut() {
                    text.push(c);
                }
                continue;
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 2 && in_field {
                    in_field = false;
                    if let (Some((name, text)), Some(last)) = (field.take(), items.last_mut()) {
                        store(last, name, text);
                    }
                }
                continue;
            }
            Event::Eof => return Ok(items),
            _ => continue,
        };
        let local = start.local_name();
        let name: &str = local.as_ref();
        match depth {
            0 => {}
            1 if name == ITEM => {
                if items.len() == max_items {
                    return Err(Error::client(format!(
                        "{OPERATION}: more than {max_items} MESSAGE items; at most {max_items} per call"
                    )));
                }
                items.push(RawMessage::default());
            }
            1 => {
                return Err(Error::client(format!(
                    "{OPERATION}: unexpected element {name}; the items are MESSAGE"
                )));
            }
            2 => {
                let current = items.last_mut().expect("inside an item");
                let known = slot(&mut current.item, name).map(|(n, _)| n);
                field = known.map(|n| (n, String::new()));
                in_field = !empty;
                if empty && let Some((n, text)) = field.take() {
                    store(current, n, text);
                }
            }
            _ => {
                let inside = field.as_ref().map_or(name, |(n, _)| n);
                return Err(Error::client(format!(
                    "{OPERATION}: the field {inside} must hold text, not elements"
                )));
            }
        }
        if !empty {
            depth += 1;
        }
    }
}

fn store(raw: &mut RawMessage, name: &'static str, text: String) {
    let Some((name, value)) = slot(&mut raw.item, name) else {
        return;
    };
    if value.is_some() {
        raw.repeated.get_or_insert(name);
    } else {
        *value = Some(text);
    }
}

/// The children of `updateMessagesResponse`, as the yaserde types would write them.
pub fn render(results: &[MessageResultItem]) -> String {
    let mut out = String::with_capacity(results.len() * 160);
    let element = |out: &mut String, tag: &str, text: &str| {
        out.push('<');
        out.push_str(tag);
        out.push('>');
        out.push_str(&escape(text));
        out.push_str("</");
        out.push_str(tag);
        out.push('>');
    };
    for result in results {
        out.push_str("<MESSAGE_RESULT>");
        if let Some(legacy_id) = &result.legacy_id {
            element(&mut out, "LEGACY_ID", legacy_id);
        }
        element(&mut out, "RESULT", &result.result);
        if let Some(id) = &result.message_id {
            element(&mut out, "MESSAGE_ID", id);
        }
        if let Some(message) = &result.error_message {
            element(&mut out, "ERROR_MESSAGE", message);
        }
        if let Some(segments) = result.segments {
            element(&mut out, "SEGMENTS", &segments.to_string());
        }
        out.push_str("</MESSAGE_RESULT>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FieldSource;

    #[test]
    fn items_and_their_fields_are_read_in_order() {
        let payload = "<updateMessages><MESSAGE><LEGACY_ID>a-1</LEGACY_ID><CHANNEL>SMS</CHANNEL>\
            <TO> +34600111222 </TO><BODY>Caf&#233; &amp; t&eacute;</BODY><OTHER>x</OTHER></MESSAGE>\
            <MESSAGE/><MESSAGE><LEGACY_ID>a-2</LEGACY_ID><SUBJECT/><BODY>&lt;b&gt; ok</BODY></MESSAGE>\
            </updateMessages>";
        let err = parse(payload, 10).unwrap_err();
        assert!(
            err.to_string().contains("undeclared entity &eacute;"),
            "{err}"
        );
        let payload = payload.replace("&eacute;", "&#233;");
        let items = parse(&payload, 10).unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].item.field("LEGACY_ID"), Some("a-1"));
        assert_eq!(items[0].item.field("TO"), Some("+34600111222"));
        assert_eq!(items[0].item.field("BODY"), Some("Café & té"));
        assert_eq!(items[1].item.field("LEGACY_ID"), None);
        assert_eq!(items[2].item.field("SUBJECT"), None);
        assert_eq!(items[2].item.field("BODY"), Some("<b> ok"));
        assert!(items.iter().all(|i| i.repeated.is_none()));
    }

    #[test]
    fn an_empty_operation_has_no_items() {
        assert!(parse("<updateMessages/>", 10).unwrap().is_empty());
        assert!(
            parse("<updateMessages></updateMessages>", 10)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_field_given_twice_is_noticed_and_the_first_kept() {
        let payload = "<updateMessages><MESSAGE><TO>+34600111222</TO><TO>+34600333444</TO>\
            </MESSAGE></updateMessages>";
        let items = parse(payload, 10).unwrap();
        assert_eq!(items[0].repeated, Some("TO"));
        assert_eq!(items[0].item.field("TO"), Some("+34600111222"));
    }

    #[test]
    fn structure_errors_name_the_element() {
        let err = parse("<updateMessages><ROW/></updateMessages>", 10).unwrap_err();
        assert!(err.to_string().contains("unexpected element ROW"), "{err}");
        let err = parse(
            "<updateMessages><MESSAGE><BODY><b>x</b></BODY></MESSAGE></updateMessages>",
            10,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("field BODY must hold text"),
            "{err}"
        );
        let err = parse("<updateMessages><MESSAGE><BODY>x</MESSAGE>", 10).unwrap_err();
        assert!(err.to_string().contains("not well-formed"), "{err}");
        let err = parse(
            "<updateMessages><MESSAGE><BODY>&#0;</BODY></MESSAGE></updateMessages>",
            10,
        )
        .unwrap_err();
        assert!(err.to_string().contains("not a valid character"), "{err}");
    }

    #[test]
    fn too_many_items_are_refused_before_the_rest_is_read() {
        let payload = format!(
            "<updateMessages>{}</updateMessages>",
            "<MESSAGE/>".repeat(4)
        );
        assert_eq!(parse(&payload, 4).unwrap().len(), 4);
        let err = parse(&payload, 3).unwrap_err();
        assert!(err.to_string().contains("at most 3 per call"), "{err}");
    }

    #[test]
    fn the_answer_is_escaped_and_leaves_out_what_is_absent() {
        let shown = render(&[
            MessageResultItem {
                legacy_id: Some("a<1".into()),
                result: "OK".into(),
                message_id: Some("m1".into()),
                error_message: None,
                segments: Some(2),
            },
            MessageResultItem {
                legacy_id: None,
                result: "ERROR".into(),
                message_id: None,
                error_message: Some("MESSAGE 2: TO: \"x\" & y".into()),
                segments: None,
            },
        ]);
        assert_eq!(
            shown,
            "<MESSAGE_RESULT><LEGACY_ID>a&lt;1</LEGACY_ID><RESULT>OK</RESULT><MESSAGE_ID>m1</MESSAGE_ID>\
             <SEGMENTS>2</SEGMENTS></MESSAGE_RESULT><MESSAGE_RESULT><RESULT>ERROR</RESULT>\
             <ERROR_MESSAGE>MESSAGE 2: TO: &quot;x&quot; &amp; y</ERROR_MESSAGE></MESSAGE_RESULT>"
        );
    }
}
