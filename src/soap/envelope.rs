//! Unwraps a SOAP envelope with quick-xml: the version, the WS-Security UsernameToken, and the
//! operation element, which is handed on as a canonical string (local names only, no
//! attributes or namespaces) for yaserde to type. The body has passed [`super::prescan`].

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use super::{RENDEZ_NS, SoapVersion};
use crate::error::Error;

const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordType {
    Text,
    Digest,
}

/// A WS-Security UsernameToken as sent; checking it is the authenticator's job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsernameToken {
    pub username: String,
    pub password: String,
    pub password_type: Option<PasswordType>,
    pub nonce: Option<String>,
    pub created: Option<String>,
}

#[derive(Debug)]
pub struct RequestEnvelope {
    pub version: SoapVersion,
    pub token: Option<UsernameToken>,
    /// The local name of the Body's first element (in the Rendez namespace).
    pub operation: String,
    /// That element, canonical: `<operation><FIELD>text</FIELD>...</operation>`.
    pub payload: String,
}

type Reader<'a> = NsReader<&'a [u8]>;

pub fn parse(xml: &str) -> Result<RequestEnvelope, Error> {
    let mut head = open(xml)?;
    let version = head.version;
    let token = head.token.take();
    let (operation, payload) = head.read_operation()?;
    Ok(RequestEnvelope {
        version,
        token,
        operation,
        payload,
    })
}

/// An envelope read up to the start of its Body: the version and the credentials are known,
/// the operation is not read yet (a large body is then not copied before its caller is known).
pub struct EnvelopeHead<'a> {
    reader: Reader<'a>,
    pub version: SoapVersion,
    pub token: Option<UsernameToken>,
}

/// Reads the envelope up to the start of its Body. `xml` may be only the start of a body that
/// is still arriving: what comes after the Body's start tag is not looked at.
pub fn open(xml: &str) -> Result<EnvelopeHead<'_>, Error> {
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let version = loop {
        match next(&mut reader)? {
            (ns, Event::Start(e)) => break envelope_version(&ns, &e)?,
            (ns, Event::Empty(e)) => {
                envelope_version(&ns, &e)?;
                return Err(Error::client("the SOAP Envelope is empty"));
            }
            (_, Event::Eof) => return Err(Error::client("the request holds no SOAP Envelope")),
            _ => {}
        }
    };
    let soap_ns = version.namespace();
    let mut token = None;
    let mut headers = 0;
    loop {
        match next(&mut reader)? {
            (ns, Event::Start(e) | Event::Empty(e))
                if is(&ns, soap_ns) && e.local_name().as_ref() == "Header" && headers > 0 =>
            {
                return Err(Error::client("the SOAP Envelope has more than one Header"));
            }
            (ns, Event::Start(e)) if is(&ns, soap_ns) && e.local_name().as_ref() == "Header" => {
                headers += 1;
                token = read_header(&mut reader, version)?;
            }
            (ns, Event::Empty(e)) if is(&ns, soap_ns) && e.local_name().as_ref() == "Header" => {
                headers += 1;
            }
            (ns, Event::Start(e)) if is(&ns, soap_ns) && e.local_name().as_ref() == "Body" => {
                return Ok(EnvelopeHead {
                    reader,
                    version,
                    token,
                });
            }
            (ns, Event::Empty(e)) if is(&ns, soap_ns) && e.local_name().as_ref() == "Body" => {
                return Err(Error::client(
                    "the SOAP Body is empty: it must hold one operation element",
                ));
            }
            (_, Event::Start(e)) | (_, Event::Empty(e)) => {
                return Err(Error::client(format!(
                    "unexpected element {} in the SOAP Envelope; expected Header or Body",
                    e.local_name().as_ref()
                )));
            }
            (_, Event::End(_)) | (_, Event::Eof) => {
                return Err(Error::client("the SOAP Envelope has no Body"));
            }
            _ => {}
        }
    }
}

impl EnvelopeHead<'_> {
    /// Reads the Body: the operation's local name and its canonical copy; nothing but the end
    /// of the Envelope may follow the Body.
    pub fn read_operation(mut self) -> Result<(String, String), Error> {
        let operation = read_body(&mut self.reader)?;
        loop {
            match next(&mut self.reader)? {
                (_, Event::Start(e) | Event::Empty(e)) => {
                    let local = e.local_name();
                    return Err(Error::client(match local.as_ref() {
                        "Body" => "the SOAP Envelope has more than one Body".to_string(),
                        "Header" => "the SOAP Header must come before the Body".to_string(),
                        other => format!(
                            "unexpected element {other} after the SOAP Body; the Body must be the last element of the Envelope"
                        ),
                    }));
                }
                (_, Event::Text(t)) if !t.xml10_content().trim().is_empty() => {
                    return Err(Error::client(
                        "unexpected text after the SOAP Body; the Body must be the last element of the Envelope",
                    ));
                }
                (_, Event::CData(_) | Event::GeneralRef(_)) => {
                    return Err(Error::client(
                        "unexpected text after the SOAP Body; the Body must be the last element of the Envelope",
                    ));
                }
                (_, Event::End(_) | Event::Eof) => return Ok(operation),
                _ => {}
            }
        }
    }
}

fn next<'a>(reader: &mut Reader<'a>) -> Result<(Option<String>, Event<'a>), Error> {
    let (resolved, event) = reader
        .read_resolved_event()
        .map_err(|e| Error::client(format!("the request is not well-formed XML: {e}")))?;
    let ns = match resolved {
        ResolveResult::Bound(ns) => Some(ns.as_ref().to_string()),
        ResolveResult::Unbound => None,
        ResolveResult::Unknown(prefix) => {
            return Err(Error::client(format!(
                "the namespace prefix '{prefix}' is not declared"
            )));
        }
    };
    Ok((ns, event))
}

fn is(ns: &Option<String>, expected: &str) -> bool {
    ns.as_deref() == Some(expected)
}

fn envelope_version(ns: &Option<String>, e: &BytesStart<'_>) -> Result<SoapVersion, Error> {
    let local = e.local_name();
    if local.as_ref() == "Envelope" {
        if is(ns, SoapVersion::V11.namespace()) {
            return Ok(SoapVersion::V11);
        }
        if is(ns, SoapVersion::V12.namespace()) {
            return Ok(SoapVersion::V12);
        }
    }
    if local.as_ref() == "Envelope" {
        return Err(Error::VersionMismatch(format!(
            "VersionMismatch: the Envelope is in namespace '{}'; Rendez speaks SOAP 1.1 ({}) and SOAP 1.2 ({})",
            ns.as_deref().unwrap_or(""),
            SoapVersion::V11.namespace(),
            SoapVersion::V12.namespace()
        )));
    }
    Err(Error::client(format!(
        "not a SOAP request: the root element is {} in namespace '{}', expected a SOAP 1.1 or 1.2 Envelope",
        local.as_ref(),
        ns.as_deref().unwrap_or("")
    )))
}

/// Reads the Header up to its end; returns the UsernameToken of a WS-Security header, if any.
/// A header block other than WS-Security marked `mustUnderstand` (and meant for us) is refused.
fn read_header(
    reader: &mut Reader<'_>,
    version: SoapVersion,
) -> Result<Option<UsernameToken>, Error> {
    let mut token: Option<UsernameToken> = None;
    let mut path: Vec<String> = Vec::new();
    let mut field: Option<&'static str> = None;
    let mut text = String::new();
    loop {
        let (ns, event) = next(reader)?;
        if let Event::Start(e) | Event::Empty(e) = &event
            && path.is_empty()
            && !(e.local_name().as_ref() == "Security" && is(&ns, WSSE_NS))
            && must_understand(reader, e, version)
        {
            return Err(Error::MustUnderstand {
                namespace: ns.unwrap_or_default(),
                local: e.local_name().as_ref().to_string(),
            });
        }
        match event {
            Event::Start(e) => {
                let local = e.local_name().as_ref().to_string();
                let in_token = path.len() == 2 && path[1] == "UsernameToken";
                if path.is_empty() && local == "Security" && is(&ns, WSSE_NS) {
                    path.push(local);
                } else if path.len() == 1
                    && path[0] == "Security"
                    && local == "UsernameToken"
                    && is(&ns, WSSE_NS)
                {
                    token = Some(UsernameToken::default());
                    path.push(local);
                } else if in_token {
                    field = match (local.as_str(), ns.as_deref()) {
                        ("Username", Some(WSSE_NS)) => Some("Username"),
                        ("Password", Some(WSSE_NS)) => {
                            if let Some(t) = token.as_mut() {
                                t.password_type = Some(password_type(&e)?);
                            }
                            Some("Password")
                        }
                        ("Nonce", Some(WSSE_NS)) => {
                            check_nonce_encoding(&e)?;
                            Some("Nonce")
                        }
                        ("Created", Some(WSU_NS)) => Some("Created"),
                        _ => None,
                    };
                    text.clear();
                    path.push(local);
                } else {
                    path.push(local);
                }
            }
            Event::Empty(e)
                if path.len() == 2
                    && path[1] == "UsernameToken"
                    && e.local_name().as_ref() == "Password" =>
            {
                if let Some(t) = token.as_mut() {
                    t.password_type = Some(password_type(&e)?);
                }
            }
            Event::Text(t) if field.is_some() => text.push_str(&t.xml10_content()),
            Event::CData(t) if field.is_some() => text.push_str(&t.into_inner()),
            Event::GeneralRef(r) if field.is_some() => text.push(resolve_reference(&r)?),
            Event::End(_) => {
                if path.is_empty() {
                    return Ok(token);
                }
                if path.len() == 3
                    && let (Some(name), Some(t)) = (field.take(), token.as_mut())
                {
                    let value = text.trim().to_string();
                    match name {
                        "Username" => t.username = value,
                        "Password" => t.password = value,
                        "Nonce" => t.nonce = Some(value),
                        _ => t.created = Some(value),
                    }
                }
                path.pop();
            }
            Event::Eof => return Err(Error::client("the SOAP Header is not closed")),
            _ => {}
        }
    }
}

/// Whether a header block is marked `mustUnderstand` (`1`, or `true` in SOAP 1.2) and is meant
/// for this node: no `actor` (SOAP 1.1) / `role` (SOAP 1.2), or the next / ultimate receiver.
fn must_understand(reader: &Reader<'_>, e: &BytesStart<'_>, version: SoapVersion) -> bool {
    let soap_ns = version.namespace();
    let mut marked = false;
    let mut for_us = true;
    for attribute in e.attributes().flatten() {
        let (ns, local) = reader.resolver().resolve_attribute(attribute.key);
        if !matches!(ns, ResolveResult::Bound(n) if n.as_ref() == soap_ns) {
            continue;
        }
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .unwrap_or_default();
        let value = value.trim();
        match local.as_ref() {
            "mustUnderstand" => marked = value == "1" || value.eq_ignore_ascii_case("true"),
            "actor" if version == SoapVersion::V11 => {
                for_us = value == "http://schemas.xmlsoap.org/soap/actor/next"
            }
            "role" if version == SoapVersion::V12 => {
                for_us = matches!(
                    value,
                    "http://www.w3.org/2003/05/soap-envelope/role/next"
                        | "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"
                )
            }
            _ => {}
        }
    }
    marked && for_us
}

fn password_type(e: &BytesStart<'_>) -> Result<PasswordType, Error> {
    for attribute in e.attributes().flatten() {
        if attribute.key.local_name().as_ref() == "Type" {
            let value = attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .unwrap_or_default();
            return if value.ends_with("#PasswordDigest") {
                Ok(PasswordType::Digest)
            } else if value.ends_with("#PasswordText") || value.is_empty() {
                Ok(PasswordType::Text)
            } else {
                Err(Error::Unauthenticated(format!(
                    "unsupported Password Type '{value}'; use PasswordText or PasswordDigest"
                )))
            };
        }
    }
    Ok(PasswordType::Text)
}

fn check_nonce_encoding(e: &BytesStart<'_>) -> Result<(), Error> {
    for attribute in e.attributes().flatten() {
        if attribute.key.local_name().as_ref() == "EncodingType" {
            let value = attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .unwrap_or_default();
            if !value.ends_with("#Base64Binary") {
                return Err(Error::Unauthenticated(format!(
                    "unsupported Nonce EncodingType '{value}'; the nonce must be Base64Binary"
                )));
            }
        }
    }
    Ok(())
}

fn resolve_reference(r: &quick_xml::events::BytesRef<'_>) -> Result<char, Error> {
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
            "the request uses the undeclared entity &{other};"
        ))),
    }
}

/// Reads the Body: its first element is the operation, copied out canonically.
fn read_body(reader: &mut Reader<'_>) -> Result<(String, String), Error> {
    let (ns, start, empty) = loop {
        match next(reader)? {
            (ns, Event::Start(e)) => break (ns, e, false),
            (ns, Event::Empty(e)) => break (ns, e, true),
            (_, Event::End(_)) | (_, Event::Eof) => {
                return Err(Error::client(
                    "the SOAP Body is empty: it must hold one operation element",
                ));
            }
            (_, Event::Text(t)) if !t.xml10_content().trim().is_empty() => {
                return Err(Error::client(
                    "the SOAP Body holds text where an operation element belongs",
                ));
            }
            _ => {}
        }
    };
    let operation = start.local_name().as_ref().to_string();
    if !is(&ns, RENDEZ_NS) {
        return Err(Error::client(format!(
            "the operation element {operation} must be in the namespace {RENDEZ_NS}, not '{}'",
            ns.as_deref().unwrap_or("")
        )));
    }
    let mut payload = String::with_capacity(reader.get_ref().len());
    payload.push('<');
    payload.push_str(&operation);
    if empty {
        payload.push_str("/>");
    } else {
        payload.push('>');
        copy_children(reader, &mut payload)?;
        payload.push_str("</");
        payload.push_str(&operation);
        payload.push('>');
    }
    loop {
        match next(reader)? {
            (_, Event::Start(e)) | (_, Event::Empty(e)) => {
                return Err(Error::client(format!(
                    "the SOAP Body holds more than one element ({operation}, then {})",
                    e.local_name().as_ref()
                )));
            }
            (_, Event::End(_)) | (_, Event::Eof) => return Ok((operation, payload)),
            _ => {}
        }
    }
}

/// Copies the children of the element just opened, up to its end, keeping local names and
/// text. Fields may be unqualified or in the Rendez namespace; any other namespace is refused.
fn copy_children(reader: &mut Reader<'_>, out: &mut String) -> Result<(), Error> {
    let mut depth = 0usize;
    loop {
        let (ns, event) = next(reader)?;
        match event {
            Event::Start(e) | Event::Empty(e) if ns.is_some() && !is(&ns, RENDEZ_NS) => {
                return Err(Error::client(format!(
                    "the field {} is in the foreign namespace '{}'; fields are unqualified or in {RENDEZ_NS}",
                    e.local_name().as_ref(),
                    ns.unwrap_or_default()
                )));
            }
            Event::Start(e) => {
                depth += 1;
                out.push('<');
                out.push_str(e.local_name().as_ref());
                out.push('>');
            }
            Event::Empty(e) => {
                out.push('<');
                out.push_str(e.local_name().as_ref());
                out.push_str("/>");
            }
            Event::End(e) => {
                if depth == 0 {
                    return Ok(());
                }
                depth -= 1;
                out.push_str("</");
                out.push_str(e.local_name().as_ref());
                out.push('>');
            }
            Event::Text(t) => out.push_str(&t.into_inner()),
            Event::GeneralRef(r) => {
                out.push('&');
                out.push_str(&r.into_inner());
                out.push(';');
            }
            Event::CData(t) => {
                out.push_str(&quick_xml::escape::escape(t.into_inner()));
            }
            Event::Eof => {
                return Err(Error::client(
                    "the request ends inside the operation element",
                ));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";

    fn envelope(header: &str, body: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="{SOAP11}" xmlns:r="urn:rendez:soap:v1"><s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"#
        )
    }

    #[test]
    fn the_operation_is_copied_out_with_local_names() {
        let xml = envelope(
            "",
            r#"<r:getCenters><r:X>a &amp; b</r:X><Y><![CDATA[<c>]]></Y><Z/></r:getCenters>"#,
        );
        let env = parse(&xml).unwrap();
        assert_eq!(env.version, SoapVersion::V11);
        assert_eq!(env.operation, "getCenters");
        assert_eq!(
            env.payload,
            "<getCenters><X>a &amp; b</X><Y>&lt;c&gt;</Y><Z/></getCenters>"
        );
        assert!(env.token.is_none());
    }

    #[test]
    fn a_username_token_is_read() {
        let header = format!(
            r#"<wsse:Security xmlns:wsse="{WSSE_NS}" xmlns:wsu="{WSU_NS}"><wsse:UsernameToken><wsse:Username>clinic</wsse:Username><wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">ZGln</wsse:Password><wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">bm9uY2U=</wsse:Nonce><wsu:Created>2026-11-22T10:00:00Z</wsu:Created></wsse:UsernameToken></wsse:Security>"#
        );
        let env = parse(&envelope(&header, "<r:getCenters/>")).unwrap();
        let token = env.token.unwrap();
        assert_eq!(token.username, "clinic");
        assert_eq!(token.password, "ZGln");
        assert_eq!(token.password_type, Some(PasswordType::Digest));
        assert_eq!(token.nonce.as_deref(), Some("bm9uY2U="));
        assert_eq!(token.created.as_deref(), Some("2026-11-22T10:00:00Z"));
        assert_eq!(env.payload, "<getCenters/>");
    }

    #[test]
    fn an_operation_outside_the_rendez_namespace_is_refused() {
        let xml = format!(
            r#"<s:Envelope xmlns:s="{SOAP11}"><s:Body><getCenters/></s:Body></s:Envelope>"#
        );
        assert!(
            parse(&xml)
                .unwrap_err()
                .to_string()
                .contains("must be in the namespace")
        );
    }

    #[test]
    fn a_non_soap_root_is_refused() {
        assert!(
            parse("<getCenters/>")
                .unwrap_err()
                .to_string()
                .contains("not a SOAP request")
        );
        // An Envelope outside the SOAP namespaces is another version of SOAP.
        assert!(matches!(
            parse("<Envelope/>").unwrap_err(),
            Error::VersionMismatch(_)
        ));
    }

    #[test]
    fn foreign_fields_are_refused() {
        let xml = envelope(
            "",
            r#"<r:getCenters><x:A xmlns:x="urn:other">1</x:A></r:getCenters>"#,
        );
        assert!(
            parse(&xml)
                .unwrap_err()
                .to_string()
                .contains("foreign namespace")
        );
    }
}
