//! Messages handed to the gateway: their channel and status, how an SMS body splits into
//! segments, and the parsing of an `updateMessages` item into a value that cannot be wrong.

use std::fmt;

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

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Characters of the extension table: each takes an escape septet plus its own.
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{000C}";

/// The encoding a body needs and its length in septets (GSM-7) or UTF-16 units (UCS-2).
pub fn sms_encoding(body: &str) -> (SmsEncoding, usize) {
    let mut septets = 0;
    for c in body.chars() {
        if GSM7_BASIC.contains(c) {
            septets += 1;
        } else if GSM7_EXTENSION.contains(c) {
            septets += 2;
        } else {
            return (SmsEncoding::Ucs2, body.encode_utf16().count());
        }
    }
    (SmsEncoding::Gsm7, septets)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
