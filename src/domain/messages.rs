//! Messages handed to the gateway: their channel and status, how an SMS body splits into
//! segments, and the parsing of an `updateMessages` item into a value that cannot be wrong.

use std::fmt;

use chrono::{DateTime, Duration, Utc};

use super::patient::{normalize_email, normalize_phone};
use super::values::{FieldError, FieldResult, FieldSource, required, text, timestamp};

/// How a message travels. Open to more (e.g. a call to the clinic system's own web service).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Channel {
    Sms,
    Email,
    /// A call to the clinic system's own CancelAppointment web service (seed A.4.2), queued by
    /// Rendez itself when a patient cancels; never requested through updateMessages.
    ClinicCancel,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Sms, Channel::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "SMS",
            Channel::Email => "EMAIL",
            Channel::ClinicCancel => "CLINIC",
        }
    }

    pub fn parse(raw: &str) -> Option<Channel> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(raw.trim()))
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a message is in its life. The order of [`MessageStatus::rank`] is the only direction a
/// message moves in: a late or repeated delivery report never moves it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageStatus {
    Queued,
    Sending,
    Sent,
    Delivered,
    Failed,
    Expired,
    Cancelled,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 7] = [
        MessageStatus::Queued,
        MessageStatus::Sending,
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Failed,
        MessageStatus::Expired,
        MessageStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "QUEUED",
            MessageStatus::Sending => "SENDING",
            MessageStatus::Sent => "SENT",
            MessageStatus::Delivered => "DELIVERED",
            MessageStatus::Failed => "FAILED",
            MessageStatus::Expired => "EXPIRED",
            MessageStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(raw: &str) -> Option<MessageStatus> {
        MessageStatus::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(raw.trim()))
    }

    /// Final states rank highest; a report may only move a message to a higher rank.
    pub fn rank(self) -> u8 {
        match self {
            MessageStatus::Queued => 0,
            MessageStatus::Sending => 1,
            MessageStatus::Sent => 2,
            MessageStatus::Delivered
            | MessageStatus::Failed
            | MessageStatus::Expired
            | MessageStatus::Cancelled => 3,
        }
    }

    pub fn is_final(self) -> bool {
        self.rank() == 3
    }
}

impl fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an SMS body is encoded on the air, which decides how many characters fit a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmsEncoding {
    /// The GSM 03.38 7-bit alphabet: 160 septets alone, 153 per part of a long message.
    Gsm7,
    /// UCS-2 (UTF-16 code units): 70 alone, 67 per part.
    Ucs2,
}

/// The most segments an SMS may take (Twilio's limit is 1,600 characters; 10 segments keep
/// every provider and handset happy, and cost stays predictable).
pub const SMS_MAX_SEGMENTS: u32 = 10;
pub const EMAIL_BODY_MAX_CHARS: usize = 100_000;
pub const SUBJECT_MAX_CHARS: usize = 255;
pub const LEGACY_ID_MAX_CHARS: usize = 100;

/// The characters of the GSM 03.38 basic table outside ASCII (`$`, `@` and `_` are ASCII).
const GSM7_BASIC_NON_ASCII: &str = "£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà";
/// Characters of the extension table: each takes an escape septet plus its own.
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{000C}";

/// Septets a character takes in GSM-7, or `None` when it has no GSM-7 form.
fn gsm7_septets(c: char) -> Option<usize> {
    if GSM7_EXTENSION.contains(c) {
        return Some(2);
    }
    if c.is_ascii() {
        // Printable ASCII is in the basic table but for the backtick; of the controls, only
        // line feed and carriage return.
        return match c {
            '`' => None,
            '\n' | '\r' => Some(1),
            c if c.is_ascii_control() => None,
            _ => Some(1),
        };
    }
    GSM7_BASIC_NON_ASCII.contains(c).then_some(1)
}

/// The encoding a body needs and its length in septets (GSM-7) or UTF-16 units (UCS-2).
pub fn sms_encoding(body: &str) -> (SmsEncoding, usize) {
    let mut septets = 0;
    for c in body.chars() {
        match gsm7_septets(c) {
            Some(n) => septets += n,
            None => return (SmsEncoding::Ucs2, body.encode_utf16().count()),
        }
    }
    (SmsEncoding::Gsm7, septets)
}

/// The text with every character outside GSM-7 replaced by its nearest GSM-7 form (accents
/// dropped where the letter has no GSM-7 form, typographic quotes and dashes made plain, `?`
/// for what has none), so that an SMS is sent in 160-character segments instead of 70.
pub fn to_gsm7(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if gsm7_septets(c).is_some() {
            out.push(c);
            continue;
        }
        match c {
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{2032}' | '`' => out.push('\''),
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{00AB}' | '\u{00BB}' => out.push('"'),
            '\u{2013}' | '\u{2014}' | '\u{2212}' => out.push('-'),
            '\u{2026}' => out.push_str("..."),
            '\u{00A0}' | '\u{2009}' | '\u{202F}' | '\t' => out.push(' '),
            '\u{0141}' => out.push('L'),
            '\u{0142}' => out.push('l'),
            '\u{00D0}' | '\u{0110}' => out.push('D'),
            '\u{00F0}' | '\u{0111}' => out.push('d'),
            '\u{00DE}' => out.push_str("Th"),
            '\u{00FE}' => out.push_str("th"),
            '\u{0152}' => out.push_str("OE"),
            '\u{0153}' => out.push_str("oe"),
            _ => {
                // The letter without its accents, when that letter is GSM-7 (á -> a, Ç stays).
                let base: String = c
                    .nfd()
                    .filter(|d| !unicode_normalization::char::is_combining_mark(*d))
                    .collect();
                if !base.is_empty() && base.chars().all(|b| gsm7_septets(b).is_some()) {
                    out.push_str(&base);
                } else {
                    out.push('?');
                }
            }
        }
    }
    out
}

/// How many SMS segments the body takes.
pub fn sms_segments(body: &str) -> u32 {
    let (encoding, units) = sms_encoding(body);
    let (single, part) = match encoding {
        SmsEncoding::Gsm7 => (160, 153),
        SmsEncoding::Ucs2 => (70, 67),
    };
    if units <= single {
        1
    } else {
        units.div_ceil(part) as u32
    }
}

/// How far ahead SEND_AT may lie: further is almost surely a wrong date.
pub const SEND_AT_MAX_AHEAD_DAYS: i64 = 366;

/// An `updateMessages` item, parsed: everything here is known to be sendable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRequest {
    pub legacy_id: String,
    pub channel: Channel,
    /// E.164 for SMS, a lower-cased address for email.
    pub to: String,
    /// SMS: an E.164 number or an alphanumeric sender id; email: the Reply-To address.
    pub from: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    /// SMS only.
    pub segments: Option<u32>,
    pub send_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The legacy id: the sender's idempotency key, required so that a retried call sends nothing
/// twice.
pub fn legacy_id(src: &impl FieldSource) -> FieldResult<String> {
    let raw = required(src, "LEGACY_ID")?;
    if raw.chars().count() > LEGACY_ID_MAX_CHARS {
        return Err(FieldError::new(
            "LEGACY_ID",
            format!("LEGACY_ID is longer than {LEGACY_ID_MAX_CHARS} characters"),
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(FieldError::new(
            "LEGACY_ID",
            "LEGACY_ID contains a control character",
        ));
    }
    Ok(raw.to_string())
}

/// An SMS sender: a phone number, or an alphanumeric id of 1 to 11 letters, digits and spaces
/// with at least one letter (what networks accept).
fn sms_sender(raw: &str, default_country: Option<&str>) -> Result<String, String> {
    let alphanumeric = raw.chars().count() <= 11
        && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
        && raw.chars().any(|c| c.is_ascii_alphabetic());
    if alphanumeric {
        return Ok(raw.to_string());
    }
    normalize_phone(raw, default_country).map_err(|e| {
        format!("{e}; a sender is a phone number or 1 to 11 letters, digits and spaces")
    })
}

impl MessageRequest {
    pub fn parse(
        src: &impl FieldSource,
        default_country: Option<&str>,
        now: DateTime<Utc>,
    ) -> FieldResult<MessageRequest> {
        let legacy_id = legacy_id(src)?;
        let channel_raw = required(src, "CHANNEL")?;
        let channel = Channel::parse(channel_raw).ok_or_else(|| {
            FieldError::new(
                "CHANNEL",
                format!("CHANNEL '{channel_raw}' must be SMS or EMAIL"),
            )
        })?;
        let to_raw = required(src, "TO")?;
        let field_error =
            |field: &'static str| move |e: String| FieldError::new(field, format!("{field}: {e}"));
        let to = match channel {
            Channel::Sms => normalize_phone(to_raw, default_country).map_err(field_error("TO"))?,
            Channel::Email => normalize_email(to_raw).map_err(field_error("TO"))?,
            Channel::ClinicCancel => unreachable!("Channel::parse yields SMS or EMAIL only"),
        };
        let from = src
            .field("FROM")
            .map(|raw| match channel {
                Channel::Sms => sms_sender(raw, default_country).map_err(field_error("FROM")),
                Channel::Email => normalize_email(raw).map_err(field_error("FROM")),
                Channel::ClinicCancel => unreachable!("Channel::parse yields SMS or EMAIL only"),
            })
            .transpose()?;
        let subject = text(src, "SUBJECT", SUBJECT_MAX_CHARS)?;
        if subject.is_some() && channel != Channel::Email {
            return Err(FieldError::new(
                "SUBJECT",
                "SUBJECT applies to EMAIL messages only",
            ));
        }
        let body = required(src, "BODY")?.to_string();
        if body
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(FieldError::new(
                "BODY",
                "BODY contains a control character other than a line break or tab",
            ));
        }
        let segments = match channel {
            Channel::Sms => {
                let segments = sms_segments(&body);
                if segments > SMS_MAX_SEGMENTS {
                    let (encoding, units) = sms_encoding(&body);
                    let unit = match encoding {
                        SmsEncoding::Gsm7 => "GSM-7 characters",
                        SmsEncoding::Ucs2 => "UCS-2 characters (the text is not all GSM-7)",
                    };
                    return Err(FieldError::new(
                        "BODY",
                        format!(
                            "BODY is {units} {unit}, {segments} SMS segments; at most {SMS_MAX_SEGMENTS} are sent"
                        ),
                    ));
                }
                Some(segments)
            }
            Channel::Email => {
                if body.chars().count() > EMAIL_BODY_MAX_CHARS {
                    return Err(FieldError::new(
                        "BODY",
                        format!("BODY is longer than {EMAIL_BODY_MAX_CHARS} characters"),
                    ));
                }
                None
            }
            Channel::ClinicCancel => unreachable!("Channel::parse yields SMS or EMAIL only"),
        };
        let send_at = timestamp(src, "SEND_AT")?;
        if send_at.is_some_and(|t| t > now + Duration::days(SEND_AT_MAX_AHEAD_DAYS)) {
            return Err(FieldError::new(
                "SEND_AT",
                format!("SEND_AT is more than {SEND_AT_MAX_AHEAD_DAYS} days ahead"),
            ));
        }
        let expires_at = timestamp(src, "EXPIRES_AT")?;
        if let Some(expires) = expires_at {
            if expires <= now {
                return Err(FieldError::new("EXPIRES_AT", "EXPIRES_AT is in the past"));
            }
            if send_at.is_some_and(|s| expires <= s) {
                return Err(FieldError::new(
                    "EXPIRES_AT",
                    "EXPIRES_AT is not after SEND_AT",
                ));
            }
        }
        Ok(MessageRequest {
            legacy_id,
            channel,
            to,
            from,
            subject,
            body,
            segments,
            send_at,
            expires_at,
        })
    }
}

/// A `searchMessages` request, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageQuery {
    pub legacy_id: Option<String>,
    pub message_id: Option<String>,
    /// Normalised like the stored recipients when it reads as a phone or an address.
    pub to: Option<String>,
    pub status: Option<MessageStatus>,
    pub channel: Option<Channel>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub page: u32,
    pub page_size: u32,
}

pub const PAGE_SIZE_DEFAULT: u32 = 100;
pub const PAGE_SIZE_MAX: u32 = 1000;

/// A timestamp, or a date meaning its start (UTC).
fn instant(src: &impl FieldSource, field: &'static str) -> FieldResult<Option<DateTime<Utc>>> {
    if let Some(date) = src.field(field).and_then(super::values::parse_date) {
        return Ok(Some(
            date.and_hms_opt(0, 0, 0)
                .expect("midnight exists")
                .and_utc(),
        ));
    }
    timestamp(src, field)
}

fn number(
    src: &impl FieldSource,
    field: &'static str,
    min: u32,
    max: u32,
) -> FieldResult<Option<u32>> {
    src.field(field)
        .map(|raw| match raw.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(FieldError::new(
                field,
                format!("{field} '{raw}' must be a whole number from {min} to {max}"),
            )),
        })
        .transpose()
}

impl MessageQuery {
    pub fn parse(
        src: &impl FieldSource,
        default_country: Option<&str>,
    ) -> FieldResult<MessageQuery> {
        let status = src
            .field("STATUS")
            .map(|raw| {
                MessageStatus::parse(raw).ok_or_else(|| {
                    FieldError::new(
                        "STATUS",
                        format!("STATUS '{raw}' must be one of QUEUED, SENDING, SENT, DELIVERED, FAILED, EXPIRED, CANCELLED"),
                    )
                })
            })
            .transpose()?;
        let channel = src
            .field("CHANNEL")
            .map(|raw| {
                Channel::parse(raw).ok_or_else(|| {
                    FieldError::new("CHANNEL", format!("CHANNEL '{raw}' must be SMS or EMAIL"))
                })
            })
            .transpose()?;
        let to = src.field("TO").map(|raw| {
            normalize_phone(raw, default_country)
                .or_else(|_| normalize_email(raw))
                .unwrap_or_else(|_| raw.to_string())
        });
        let from = instant(src, "FROM_DATE")?;
        let until = instant(src, "TO_DATE")?;
        if let (Some(from), Some(until)) = (from, until)
            && until < from
        {
            return Err(FieldError::new("TO_DATE", "TO_DATE is before FROM_DATE"));
        }
        Ok(MessageQuery {
            legacy_id: src.field("LEGACY_ID").map(str::to_string),
            message_id: src.field("MESSAGE_ID").map(str::to_ascii_lowercase),
            to,
            status,
            channel,
            from,
            until,
            page: number(src, "PAGE", 1, 1_000_000)?.unwrap_or(1),
            page_size: number(src, "PAGE_SIZE", 1, PAGE_SIZE_MAX)?.unwrap_or(PAGE_SIZE_DEFAULT),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Item(Vec<(&'static str, &'static str)>);

    impl FieldSource for Item {
        fn field(&self, name: &'static str) -> Option<&str> {
            self.0
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.trim())
                .filter(|v| !v.is_empty())
        }
    }

    fn parse(fields: &[(&'static str, &'static str)]) -> FieldResult<MessageRequest> {
        let mut all = vec![
            ("LEGACY_ID", "m-1"),
            ("CHANNEL", "SMS"),
            ("TO", "+34 600 111 222"),
            ("BODY", "Hola"),
        ];
        for (name, value) in fields {
            all.retain(|(n, _)| n != name);
            all.push((name, value));
        }
        MessageRequest::parse(&Item(all), None, Utc::now())
    }

    #[test]
    fn a_good_sms_is_normalised_and_counted() {
        let m = parse(&[("FROM", "Clinica")]).unwrap();
        assert_eq!(m.to, "+34600111222");
        assert_eq!(m.segments, Some(1));
        assert_eq!(m.from.as_deref(), Some("Clinica"));
        let m = parse(&[
            ("CHANNEL", "email"),
            ("TO", "Zoe@Example.org"),
            ("SUBJECT", "Cita"),
        ])
        .unwrap();
        assert_eq!(
            (m.channel, m.to.as_str(), m.segments),
            (Channel::Email, "zoe@example.org", None)
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let field = |fields: &[(&'static str, &'static str)]| parse(fields).unwrap_err().field;
        assert_eq!(field(&[("LEGACY_ID", "")]), "LEGACY_ID");
        assert_eq!(field(&[("CHANNEL", "FAX")]), "CHANNEL");
        assert_eq!(field(&[("TO", "not a phone")]), "TO");
        assert_eq!(field(&[("CHANNEL", "EMAIL"), ("TO", "+34600111222")]), "TO");
        assert_eq!(field(&[("BODY", " ")]), "BODY");
        assert_eq!(field(&[("SUBJECT", "only for email")]), "SUBJECT");
        assert_eq!(field(&[("FROM", "A sender that is far too long")]), "FROM");
        assert_eq!(field(&[("SEND_AT", "tomorrow")]), "SEND_AT");
        assert_eq!(field(&[("SEND_AT", "2999-01-01T00:00:00Z")]), "SEND_AT");
        assert_eq!(
            field(&[("EXPIRES_AT", "2001-01-01T00:00:00Z")]),
            "EXPIRES_AT"
        );
        assert_eq!(
            field(&[
                ("SEND_AT", "2099-01-02T00:00:00Z"),
                ("EXPIRES_AT", "2099-01-01T00:00:00Z")
            ]),
            "SEND_AT"
        );
        let long: &'static str = Box::leak("x".repeat(1531).into_boxed_str());
        let error = parse(&[("BODY", long)]).unwrap_err();
        assert!(
            error.message.contains("11 SMS segments"),
            "{}",
            error.message
        );
    }

    #[test]
    fn plain_text_fits_160_characters_in_one_segment() {
        assert_eq!(sms_segments(&"a".repeat(160)), 1);
        assert_eq!(sms_segments(&"a".repeat(161)), 2);
        assert_eq!(sms_segments(&"a".repeat(306)), 2);
        assert_eq!(sms_segments(&"a".repeat(307)), 3);
        assert_eq!(sms_segments(""), 1);
    }

    #[test]
    fn extension_characters_count_twice() {
        assert_eq!(sms_encoding("€[]"), (SmsEncoding::Gsm7, 6));
        assert_eq!(sms_segments(&"€".repeat(80)), 1);
        assert_eq!(sms_segments(&"€".repeat(81)), 2);
    }

    #[test]
    fn every_printable_ascii_character_but_the_backtick_is_gsm7() {
        let ascii: String = (' '..='~').filter(|c| *c != '`').collect();
        assert_eq!(sms_encoding(&ascii).0, SmsEncoding::Gsm7);
        // Eight of them are in the extension table and take two septets.
        assert_eq!(sms_encoding(&ascii).1, ascii.len() + 8);
        assert_eq!(sms_encoding("`").0, SmsEncoding::Ucs2);
        assert_eq!(sms_encoding("a\u{7}b").0, SmsEncoding::Ucs2);
        assert_eq!(sms_encoding("Peña\r\nÑoño, ¿sí?").0, SmsEncoding::Ucs2);
        assert_eq!(sms_encoding("Peña\r\nÑoño, ¿Qué?").0, SmsEncoding::Gsm7);
    }

    #[test]
    fn a_character_outside_gsm7_switches_the_body_to_ucs2() {
        assert_eq!(sms_encoding("Łukasz").0, SmsEncoding::Ucs2);
        assert_eq!(sms_encoding("Peña, Zoë?").0, SmsEncoding::Ucs2);
        assert_eq!(sms_encoding("Pe\u{f1}a").0, SmsEncoding::Gsm7);
        assert_eq!(sms_segments(&"ł".repeat(70)), 1);
        assert_eq!(sms_segments(&"ł".repeat(71)), 2);
        // An emoji is two UTF-16 units.
        assert_eq!(sms_encoding("😀"), (SmsEncoding::Ucs2, 2));
    }

    #[test]
    fn statuses_only_rank_forward_to_a_final_state() {
        assert!(MessageStatus::Delivered.rank() > MessageStatus::Sent.rank());
        assert!(MessageStatus::Sent.rank() > MessageStatus::Sending.rank());
        assert!(MessageStatus::Failed.is_final());
        assert!(!MessageStatus::Sent.is_final());
        assert_eq!(
            MessageStatus::parse("delivered"),
            Some(MessageStatus::Delivered)
        );
        assert_eq!(Channel::parse(" sms "), Some(Channel::Sms));
        assert_eq!(Channel::parse("fax"), None);
    }

    #[test]
    fn to_gsm7_keeps_gsm7_letters_drops_other_accents_and_plains_typography() {
        assert_eq!(to_gsm7("Peña é à ñ Ü Zoë"), "Peña é à ñ Ü Zoe");
        assert_eq!(
            to_gsm7("Łukasz García Núñez: «sí» – ok… ’"),
            "Lukasz Garcia Nuñez: \"si\" - ok... '"
        );
        assert_eq!(to_gsm7("東京"), "??");
        let spanish = "Clínica Peña: su cita con la Dra. Núñez es el 10/03/2027 a las 10:00. Confirme en https://citas.example.org/a/abc o responda 1 para confirmar, 2 para anular.";
        assert_eq!(sms_encoding(spanish).0, SmsEncoding::Ucs2);
        assert_eq!(sms_encoding(&to_gsm7(spanish)).0, SmsEncoding::Gsm7);
        assert!(sms_segments(&to_gsm7(spanish)) < sms_segments(spanish));
    }
}
