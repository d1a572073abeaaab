//! Time stamps as the API writes them, `yyyy-MM-dd'T'HH:mm:ss.SSSXXX` on a location's clock
//! (`Z` when the offset is zero), and the free/busy ranges built from them: the API's hot path.
//! A week of slots is hundreds of time stamps per answer, nearly all on a few local days and
//! under one offset, so the writer remembers the zone's offset over a span where it cannot
//! change, and the text of the date and of the offset from one time stamp to the next: a time
//! stamp then costs a few divisions and one copy of 24 to 29 bytes.

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::domain::freebusy::Range;

/// No zone changes its offset twice within this span, so equal offsets at both ends hold
/// throughout.
const STEADY_SPAN: i64 = 6 * 3600;

/// The longest time stamp, `2019-02-15T09:00:00.000+11:00`, and the shortest, `...000Z`.
const LONGEST: usize = 29;
const SHORTEST: usize = 24;

/// A zone's offset, remembered over a span where it is known not to change.
struct Offsets {
    tz: Tz,
    /// Unix seconds over which `offset` holds (empty when `from > until`).
    from: i64,
    until: i64,
    offset: i32,
}

impl Offsets {
    fn new(tz: Tz) -> Offsets {
        Offsets {
            tz,
            from: 1,
            until: 0,
            offset: 0,
        }
    }

    fn lookup(&self, unix: i64) -> i32 {
        DateTime::from_timestamp(unix, 0).map_or(0, |t| {
            self.tz
                .offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc()
        })
    }

    fn at(&mut self, unix: i64) -> i32 {
        if self.from <= unix && unix <= self.until {
            return self.offset;
        }
        let offset = self.lookup(unix);
        if self.lookup(unix + STEADY_SPAN) == offset {
            (self.from, self.until, self.offset) = (unix, unix + STEADY_SPAN, offset);
        }
        offset
    }
}

const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// The two last decimal digits of `value`.
fn two(value: i64) -> [u8; 2] {
    let i = (value.rem_euclid(100) * 2) as usize;
    [PAIRS[i], PAIRS[i + 1]]
}

/// Writes time stamps on one zone's clock.
pub struct TimeWriter {
    offsets: Offsets,
    /// The last instant written and its text (its first `last_len` bytes): a slot ends where
    /// the next one starts.
    last: Option<DateTime<Utc>>,
    last_text: [u8; LONGEST],
    last_len: usize,
    /// The local day (days since 1970-01-01) whose text `date` holds.
    day: Option<i64>,
    date: [u8; 10],
    /// The offset whose text `zone` holds (its first `zone_len` bytes).
    zone_offset: Option<i32>,
    zone: [u8; 6],
    zone_len: usize,
}

impl TimeWriter {
    pub fn new(tz: Tz) -> TimeWriter {
        TimeWriter {
            offsets: Offsets::new(tz),
            last: None,
            last_text: [0; LONGEST],
            last_len: 0,
            day: None,
            date: [0; 10],
            zone_offset: None,
            zone: [0; 6],
            zone_len: 0,
        }
    }

    /// Appends the text of `at`.
    pub fn write(&mut self, at: DateTime<Utc>, out: &mut Vec<u8>) {
        if self.last != Some(at) {
            self.last_len = self.render(at);
            self.last = Some(at);
        }
        // Copies of a fixed length compile to a few moves; one of a variable length is a call.
        if self.last_len == LONGEST {
            out.extend_from_slice(&self.last_text);
        } else {
            out.extend_from_slice(&self.last_text[..SHORTEST]);
        }
    }

    /// Writes the text of `at` into `last_text`; answers its length.
    fn render(&mut self, at: DateTime<Utc>) -> usize {
        let unix = at.timestamp();
        let offset = self.offsets.at(unix);
        // As `timestamp_millis`: a leap second's extra millis carry into the next second.
        let local_ms =
            unix * 1000 + i64::from(at.timestamp_subsec_millis()) + i64::from(offset) * 1000;
        let secs = local_ms.div_euclid(1000);
        let millis = local_ms.rem_euclid(1000);
        let day = secs.div_euclid(86_400);
        let of_day = secs.rem_euclid(86_400);
        if self.day != Some(day) {
            self.date = date_text(day);
            self.day = Some(day);
        }
        if self.zone_offset != Some(offset) {
            (self.zone, self.zone_len) = zone_text(offset);
            self.zone_offset = Some(offset);
        }
        let text = &mut self.last_text;
        text[..10].copy_from_slice(&self.date);
        text[10] = b'T';
        text[11..13].copy_from_slice(&two(of_day / 3600));
        text[13] = b':';
        text[14..16].copy_from_slice(&two(of_day / 60 % 60));
        text[16] = b':';
        text[17..19].copy_from_slice(&two(of_day % 60));
        text[19] = b'.';
        text[20] = b'0' + (millis / 100) as u8;
        text[21..23].copy_from_slice(&two(millis));
        text[23..].copy_from_slice(&self.zone);
        23 + self.zone_len
    }
}

/// `yyyy-MM-dd` of a day count from 1970-01-01, the year held to 0..=9999.
fn date_text(days: i64) -> [u8; 10] {
    let (year, month, day) = civil_from_days(days);
    let year = year.clamp(0, 9999);
    let mut text = [b'-'; 10];
    text[0..2].copy_from_slice(&two(year / 100));
    text[2..4].copy_from_slice(&two(year));
    text[5..7].copy_from_slice(&two(month));
    text[8..10].copy_from_slice(&two(day));
    text
}

/// `Z`, or `+HH:MM` / `-HH:MM`.
fn zone_text(offset: i32) -> ([u8; 6], usize) {
    if offset == 0 {
        return ([b'Z', 0, 0, 0, 0, 0], 1);
    }
    let minutes = i64::from(offset.abs() / 60);
    let mut text = [b':'; 6];
    text[0] = if offset < 0 { b'-' } else { b'+' };
    text[1..3].copy_from_slice(&two(minutes / 60));
    text[4..6].copy_from_slice(&two(minutes % 60));
    (text, 6)
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The text of one time stamp.
pub fn time_text(tz: Tz, at: DateTime<Utc>) -> String {
    let mut out = Vec::with_capacity(LONGEST);
    TimeWriter::new(tz).write(at, &mut out);
    // Only ASCII digits and punctuation were written.
    String::from_utf8(out).unwrap_or_default()
}

/// `[{"start":..,"end":..(,"schedule":n)}, ...]` appended to `out`.
pub fn ranges_json(tz: Tz, ranges: &[Range], schedule: Option<i64>, out: &mut Vec<u8>) {
    let tail = schedule.map(|s| format!(",\"schedule\":{s}}}"));
    let tail_len = tail.as_ref().map_or(1, String::len);
    out.reserve(ranges.len() * (2 * LONGEST + 20 + tail_len) + 2);
    let mut writer = TimeWriter::new(tz);
    out.push(b'[');
    for (i, range) in ranges.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"start\":\"");
        writer.write(range.start, out);
        out.extend_from_slice(b"\",\"end\":\"");
        writer.write(range.end, out);
        out.push(b'"');
        match &tail {
            Some(tail) => out.extend_from_slice(tail.as_bytes()),
            None => out.push(b'}'),
        }
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// What chrono writes, in the API's form.
    fn chrono_text(tz: Tz, at: DateTime<Utc>) -> String {
        let expected = at
            .with_timezone(&tz)
            .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
            .to_string();
        expected
            .strip_suffix("+00:00")
            .map_or(expected.clone(), |e| format!("{e}Z"))
    }

    #[test]
    fn times_carry_the_zone_offset_and_z_for_utc() {
        let at = utc("2019-02-14T22:00:00Z");
        assert_eq!(
            time_text(chrono_tz::Australia::Sydney, at),
            "2019-02-15T09:00:00.000+11:00"
        );
        assert_eq!(time_text(Tz::UTC, at), "2019-02-14T22:00:00.000Z");
        assert_eq!(
            time_text(chrono_tz::America::St_Johns, at),
            "2019-02-14T18:30:00.000-03:30"
        );
    }

    #[test]
    fn the_digit_writer_agrees_with_chrono_over_centuries_and_zones() {
        let zones = [
            chrono_tz::Europe::Madrid,
            chrono_tz::Australia::Sydney,
            chrono_tz::America::St_Johns,
            Tz::UTC,
        ];
        let mut at = utc("1950-01-01T00:00:00.123Z");
        while at.timestamp() < 4_200_000_000 {
            for tz in zones {
                assert_eq!(time_text(tz, at), chrono_text(tz, at));
            }
            at += chrono::Duration::seconds(7_654_321);
        }
    }

    /// One writer through many stamps (what it remembers must never leak from one to the
    /// next): quarter hours through both clock changes of a year, back now and then, the
    /// same instant twice, offsets changing within a day.
    #[test]
    fn a_writer_reused_over_many_stamps_agrees_with_chrono() {
        for tz in [
            chrono_tz::Europe::Madrid,
            chrono_tz::Australia::Sydney,
            chrono_tz::America::St_Johns,
            Tz::UTC,
        ] {
            let mut writer = TimeWriter::new(tz);
            let mut at = utc("2026-01-01T00:00:00Z");
            let mut written = Vec::new();
            let mut expected = String::new();
            let mut step = 0i64;
            while at < utc("2027-01-01T00:00:00Z") {
                writer.write(at, &mut written);
                expected.push_str(&chrono_text(tz, at));
                if step % 5 == 0 {
                    writer.write(at, &mut written);
                    expected.push_str(&chrono_text(tz, at));
                }
                // Mostly forward by a quarter hour, now and then half a day back.
                step += 1;
                at += if step % 97 == 0 {
                    chrono::Duration::hours(-12)
                } else {
                    chrono::Duration::minutes(15) + chrono::Duration::milliseconds(step % 3)
                };
            }
            assert_eq!(String::from_utf8(written).unwrap(), expected, "{tz}");
        }
    }

    #[test]
    fn ranges_are_written_as_the_reference_does() {
        let tz = chrono_tz::Australia::Sydney;
        let ranges = [
            Range::new(utc("2019-02-14T22:00:00Z"), utc("2019-02-14T22:15:00Z")),
            Range::new(utc("2019-02-14T22:15:00Z"), utc("2019-02-14T22:30:00Z")),
        ];
        let mut out = Vec::new();
        ranges_json(tz, &ranges, None, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"[{"start":"2019-02-15T09:00:00.000+11:00","end":"2019-02-15T09:15:00.000+11:00"},{"start":"2019-02-15T09:15:00.000+11:00","end":"2019-02-15T09:30:00.000+11:00"}]"#
        );
        let mut out = b"x".to_vec();
        ranges_json(tz, &ranges[..1], Some(7), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"x[{"start":"2019-02-15T09:00:00.000+11:00","end":"2019-02-15T09:15:00.000+11:00","schedule":7}]"#
        );
        let mut out = Vec::new();
        ranges_json(tz, &[], None, &mut out);
        assert_eq!(out, b"[]");
    }
}
