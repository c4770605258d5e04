//! dlt typed JSON: non-JSON values as strings with a Private Use Area prefix.
//!
//! dlt 1.31 writes decimals, datetimes, dates, times, UUIDs, hex bytes, bytes
//! and wei as JSON strings whose first character marks the type (U+F026 to
//! U+F02D). `state.json`, the state blob in `_dlt_pipeline_state`,
//! `load_package_state.json` and extracted `typed-jsonl` files use it. A
//! string whose marker payload does not parse stays a plain string, as in
//! dlt's decoder.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{
    DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike,
};

/// Marker of a decimal (`str(Decimal)`).
pub const DECIMAL_MARKER: char = '\u{f026}';
/// Marker of a datetime (Python `isoformat()`).
pub const DATETIME_MARKER: char = '\u{f027}';
/// Marker of a date (`YYYY-MM-DD`).
pub const DATE_MARKER: char = '\u{f028}';
/// Marker of a UUID (hyphenated lowercase hex).
pub const UUID_MARKER: char = '\u{f029}';
/// Marker of hex bytes (`0x` and lowercase hex).
pub const HEXBYTES_MARKER: char = '\u{f02a}';
/// Marker of bytes (standard base64 with padding).
pub const BYTES_MARKER: char = '\u{f02b}';
/// Marker of a wei amount (an integer decimal).
pub const WEI_MARKER: char = '\u{f02c}';
/// Marker of a time of day (Python `isoformat()`).
pub const TIME_MARKER: char = '\u{f02d}';

/// A value that plain JSON cannot carry, as dlt's typed JSON encodes it.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedValue {
    /// Decimal text as Python's `str(Decimal)` writes it, kept verbatim.
    Decimal(String),
    /// An aware datetime. A naive datetime in the input is read as UTC.
    DateTime(DateTime<FixedOffset>),
    Date(NaiveDate),
    /// UUID in canonical form: lowercase hex with hyphens.
    Uuid(String),
    HexBytes(Vec<u8>),
    Bytes(Vec<u8>),
    /// Wei amount text, kept verbatim.
    Wei(String),
    /// Time of day with microsecond precision.
    Time(NaiveTime),
}

/// Decodes a typed JSON string; returns `None` for a plain string.
///
/// A string counts as typed when its first character is one of the eight
/// markers, at least one character follows, and the rest parses as that type.
/// Otherwise dlt keeps the string as it is, and so does this function.
pub fn decode_str(s: &str) -> Option<TypedValue> {
    let mut chars = s.chars();
    let marker = chars.next()?;
    let payload = chars.as_str();
    if payload.is_empty() {
        return None;
    }

    match marker {
        DECIMAL_MARKER => {
            is_python_decimal(payload).then(|| TypedValue::Decimal(payload.to_owned()))
        }
        DATETIME_MARKER => parse_datetime_iso(payload).map(TypedValue::DateTime),
        DATE_MARKER => parse_date_iso(payload).map(TypedValue::Date),
        UUID_MARKER => parse_uuid(payload).map(TypedValue::Uuid),
        HEXBYTES_MARKER => parse_hex_bytes(payload).map(TypedValue::HexBytes),
        BYTES_MARKER => parse_base64_lenient(payload).map(TypedValue::Bytes),
        WEI_MARKER => is_python_decimal(payload).then(|| TypedValue::Wei(payload.to_owned())),
        TIME_MARKER => parse_time_iso(payload).map(TypedValue::Time),
        _ => None,
    }
}

/// Encodes a value as a typed JSON string (marker plus text).
///
/// dlt 1.31 itself writes UUIDs as plain strings (orjson serializes them
/// before dlt's encoder is called), but reads the U+F029 form written here.
pub fn encode(value: &TypedValue) -> String {
    let (marker, text) = match value {
        TypedValue::Decimal(text) => (DECIMAL_MARKER, text.clone()),
        TypedValue::DateTime(dt) => (DATETIME_MARKER, format_datetime_iso(dt)),
        TypedValue::Date(date) => (DATE_MARKER, format_date_iso(date)),
        TypedValue::Uuid(text) => (UUID_MARKER, text.clone()),
        TypedValue::HexBytes(bytes) => (HEXBYTES_MARKER, format_hex_bytes(bytes)),
        TypedValue::Bytes(bytes) => (BYTES_MARKER, STANDARD.encode(bytes)),
        TypedValue::Wei(text) => (WEI_MARKER, text.clone()),
        TypedValue::Time(time) => (TIME_MARKER, format_time_iso(time)),
    };

    let mut encoded = String::with_capacity(text.len() + 3);
    encoded.push(marker);
    encoded.push_str(&text);
    encoded
}

/// Formats an aware datetime as Python's `datetime.isoformat()`:
/// `YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM`. Microseconds appear only when
/// non-zero, UTC is `+00:00`, and nanoseconds below one microsecond are
/// truncated because Python datetimes have no finer precision.
pub fn format_datetime_iso<Tz: TimeZone>(dt: &DateTime<Tz>) -> String {
    let offset_seconds = dt.offset().fix().local_minus_utc();
    let local = dt.naive_local();
    let mut text = format_naive_datetime_iso(&local);
    text.push_str(&format_utc_offset(offset_seconds));
    text
}

/// Formats a naive datetime as Python's `isoformat()` does (no offset).
pub fn format_naive_datetime_iso(dt: &NaiveDateTime) -> String {
    format!(
        "{}T{}",
        format_date_iso(&dt.date()),
        format_time_iso(&dt.time())
    )
}

/// Formats a date as `YYYY-MM-DD`.
pub fn format_date_iso(date: &NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Formats a time as Python's `time.isoformat()`: `HH:MM:SS[.ffffff]`.
pub fn format_time_iso(time: &NaiveTime) -> String {
    // chrono stores a leap second as nanoseconds >= 1e9; Python has none.
    let micros = (time.nanosecond() % 1_000_000_000) / 1_000;
    let mut text = format!(
        "{:02}:{:02}:{:02}",
        time.hour(),
        time.minute(),
        time.second()
    );
    if micros != 0 {
        text.push_str(&format!(".{micros:06}"));
    }
    text
}

/// Parses an ISO 8601 datetime as Python 3.11's `datetime.fromisoformat`
/// accepts it, plus a trailing `Z`. A value without offset is taken as UTC.
// NOTE: the ISO week date forms (`2024-W01-1`) that Python also accepts are
// rejected here.
pub fn parse_datetime_iso(text: &str) -> Option<DateTime<FixedOffset>> {
    let (date_text, rest) = split_date_part(text)?;
    let date = parse_date_iso(date_text)?;
    if rest.is_empty() {
        let midnight = date.and_hms_opt(0, 0, 0)?;
        return utc_offset(0)?.from_local_datetime(&midnight).single();
    }

    // Any single character may separate date and time in Python 3.11.
    let mut rest_chars = rest.chars();
    rest_chars.next()?;
    let (time_text, offset_seconds) = split_offset(rest_chars.as_str())?;
    let time = parse_time_iso(time_text)?;

    let offset = utc_offset(offset_seconds.unwrap_or(0))?;
    offset.from_local_datetime(&date.and_time(time)).single()
}

/// Parses `YYYY-MM-DD` or `YYYYMMDD`.
pub fn parse_date_iso(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let (year, month, day) = match bytes.len() {
        10 if bytes[4] == b'-' && bytes[7] == b'-' => (&text[0..4], &text[5..7], &text[8..10]),
        8 => (&text[0..4], &text[4..6], &text[6..8]),
        _ => return None,
    };
    NaiveDate::from_ymd_opt(
        parse_digits(year)? as i32,
        parse_digits(month)?,
        parse_digits(day)?,
    )
}

/// Parses a time as Python 3.11's `time.fromisoformat` accepts it without an
/// offset: `HH`, `HH:MM`, `HH:MM:SS`, `HH:MM:SS.f` (1 or more fraction digits,
/// truncated to microseconds) and the same without colons.
// NOTE: Python also accepts an offset on a time (an aware time). NaiveTime
// cannot carry it, so such input is rejected and stays a plain string.
pub fn parse_time_iso(text: &str) -> Option<NaiveTime> {
    let (clock, fraction) = match text.find(['.', ',']) {
        Some(index) => (&text[..index], Some(&text[index + 1..])),
        None => (text, None),
    };

    let fields: Vec<&str> = if clock.contains(':') {
        clock.split(':').collect()
    } else {
        clock
            .as_bytes()
            .chunks(2)
            .map(|pair| std::str::from_utf8(pair).unwrap_or(""))
            .collect()
    };
    if fields.is_empty() || fields.len() > 3 || fields.iter().any(|field| field.len() != 2) {
        return None;
    }

    let hour = parse_digits(fields[0])?;
    let minute = fields.get(1).map_or(Some(0), |field| parse_digits(field))?;
    let second = fields.get(2).map_or(Some(0), |field| parse_digits(field))?;

    // A fraction is only valid after seconds.
    let micros = match fraction {
        Some(digits) if fields.len() == 3 => parse_fraction_micros(digits)?,
        Some(_) => return None,
        None => 0,
    };
    NaiveTime::from_hms_micro_opt(hour, minute, second, micros)
}

/// Splits the date part from the rest: 10 characters in the extended form
/// (`YYYY-MM-DD`), 8 in the basic form (`YYYYMMDD`).
fn split_date_part(text: &str) -> Option<(&str, &str)> {
    let date_length = if text.as_bytes().get(4) == Some(&b'-') {
        10
    } else {
        8
    };
    if text.len() < date_length || !text.is_char_boundary(date_length) {
        return None;
    }
    Some(text.split_at(date_length))
}

/// Splits a time text from its UTC offset (`Z`, `+HH`, `+HH:MM`, `+HHMM`,
/// `+HH:MM:SS[.ffffff]`), returning the offset in seconds.
fn split_offset(text: &str) -> Option<(&str, Option<i32>)> {
    if let Some(time) = text.strip_suffix('Z') {
        return Some((time, Some(0)));
    }
    let Some(index) = text.find(['+', '-']) else {
        return Some((text, None));
    };

    let (time, offset) = text.split_at(index);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let offset = parse_time_iso(&offset[1..])?;
    if offset.nanosecond() != 0 {
        // FixedOffset has whole-second resolution only.
        return None;
    }
    Some((time, Some(sign * offset.num_seconds_from_midnight() as i32)))
}

fn utc_offset(seconds: i32) -> Option<FixedOffset> {
    FixedOffset::east_opt(seconds)
}

fn format_utc_offset(offset_seconds: i32) -> String {
    let sign = if offset_seconds < 0 { '-' } else { '+' };
    let total = offset_seconds.unsigned_abs();
    let (hours, minutes, seconds) = (total / 3600, total % 3600 / 60, total % 60);
    if seconds == 0 {
        format!("{sign}{hours:02}:{minutes:02}")
    } else {
        format!("{sign}{hours:02}:{minutes:02}:{seconds:02}")
    }
}

fn parse_digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Converts fraction digits to microseconds, truncating past six digits.
fn parse_fraction_micros(digits: &str) -> Option<u32> {
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let mut padded: String = digits.chars().take(6).collect();
    while padded.len() < 6 {
        padded.push('0');
    }
    padded.parse().ok()
}

/// Returns true for text that Python's `Decimal(text)` accepts: an optional
/// sign, digits with an optional point and exponent, or NaN and infinity
/// names. Surrounding whitespace and `_` between digits are accepted as well.
fn is_python_decimal(text: &str) -> bool {
    let text = text.trim();
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let lower = unsigned.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity") {
        return true;
    }
    if let Some(payload) = lower
        .strip_prefix("snan")
        .or_else(|| lower.strip_prefix("nan"))
    {
        return payload.bytes().all(|byte| byte.is_ascii_digit());
    }

    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(index) => (&unsigned[..index], Some(&unsigned[index + 1..])),
        None => (unsigned, None),
    };
    let (integer, fraction) = match mantissa.split_once('.') {
        Some((integer, fraction)) => (integer, fraction),
        None => (mantissa, ""),
    };

    let has_digits = integer.bytes().any(|byte| byte.is_ascii_digit())
        || fraction.bytes().any(|byte| byte.is_ascii_digit());
    let exponent_valid = exponent.is_none_or(|exponent| {
        let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        is_digit_group(digits)
    });
    has_digits
        && (integer.is_empty() || is_digit_group(integer))
        && (fraction.is_empty() || is_digit_group(fraction))
        && exponent_valid
}

/// Digits, with single `_` allowed between them (Python numeric literals).
fn is_digit_group(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('_')
        && !text.ends_with('_')
        && !text.contains("__")
        && text
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte == b'_')
}

/// Parses a UUID as Python's `UUID(text)` does (braces, `urn:uuid:` and
/// hyphens are optional) and returns its canonical form.
fn parse_uuid(text: &str) -> Option<String> {
    let text = text.strip_prefix("urn:uuid:").unwrap_or(text);
    let text = text.trim_matches(['{', '}']);
    let hex: String = text.chars().filter(|&c| c != '-').collect();
    if hex.len() != 32 || !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }

    let hex = hex.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

fn format_hex_bytes(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(2 + bytes.len() * 2);
    text.push_str("0x");
    for byte in bytes {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// Parses hex with an optional `0x` or `0X` prefix. Whitespace may separate
/// byte pairs, as in Python's `bytes.fromhex`.
fn parse_hex_bytes(text: &str) -> Option<Vec<u8>> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let mut bytes = Vec::with_capacity(digits.len() / 2);
    let mut chars = digits.chars();

    while let Some(first) = chars.next() {
        if first.is_ascii_whitespace() {
            continue;
        }
        let second = chars.next()?;
        let high = first.to_digit(16)?;
        let low = second.to_digit(16)?;
        bytes.push((high * 16 + low) as u8);
    }
    Some(bytes)
}

/// Decodes standard base64 like Python's `base64.b64decode` without
/// `validate`: characters outside the alphabet are dropped first, then the
/// padding must be correct.
fn parse_base64_lenient(text: &str) -> Option<Vec<u8>> {
    let filtered: String = text
        .chars()
        .filter(|&c| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=')
        .collect();
    STANDARD.decode(filtered).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, micro: u32) -> DateTime<FixedOffset> {
        let naive = NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_micro_opt(h, mi, s, micro)
            .unwrap();
        FixedOffset::east_opt(0)
            .unwrap()
            .from_local_datetime(&naive)
            .unwrap()
    }

    // Expected strings below are dlt 1.31 `json.typed_dumps` output.

    #[test]
    fn datetime_without_micros() {
        let value = TypedValue::DateTime(utc(2024, 1, 2, 3, 4, 5, 0));
        assert_eq!(encode(&value), "\u{f027}2024-01-02T03:04:05+00:00");
    }

    #[test]
    fn datetime_with_micros() {
        let value = TypedValue::DateTime(utc(2024, 5, 1, 4, 0, 0, 123456));
        assert_eq!(encode(&value), "\u{f027}2024-05-01T04:00:00.123456+00:00");
    }

    #[test]
    fn datetime_negative_offset() {
        let dt = DateTime::parse_from_rfc3339("2024-02-03T04:05:06.5-05:30").unwrap();
        assert_eq!(format_datetime_iso(&dt), "2024-02-03T04:05:06.500000-05:30");
    }

    #[test]
    fn datetime_utc_type() {
        let dt = chrono::Utc
            .with_ymd_and_hms(2026, 12, 4, 19, 40, 23)
            .unwrap();
        assert_eq!(format_datetime_iso(&dt), "2026-12-04T19:40:23+00:00");
    }

    #[test]
    fn datetime_round_trip() {
        let text = "\u{f027}2024-05-01T04:00:00.123456+00:00";
        let decoded = decode_str(text).expect("typed datetime");
        assert_eq!(encode(&decoded), text);
    }

    #[test]
    fn datetime_accepts_z_and_basic_forms() {
        let expected = utc(2024, 1, 2, 3, 4, 5, 0);
        assert_eq!(parse_datetime_iso("2024-01-02T03:04:05Z"), Some(expected));
        assert_eq!(parse_datetime_iso("20240102T030405"), Some(expected));
        assert_eq!(
            parse_datetime_iso("2024-01-02 03:04:05+0000"),
            Some(expected)
        );
        assert_eq!(
            parse_datetime_iso("2024-01-02T03:04:05.000000+00:00"),
            Some(expected)
        );
    }

    #[test]
    fn datetime_offset_kept() {
        let parsed = parse_datetime_iso("2024-02-03T04:05:06+02:00").unwrap();
        assert_eq!(parsed.offset().local_minus_utc(), 7200);
        assert_eq!(format_datetime_iso(&parsed), "2024-02-03T04:05:06+02:00");
    }

    #[test]
    fn datetime_date_only_is_midnight() {
        assert_eq!(
            parse_datetime_iso("2024-01-02"),
            Some(utc(2024, 1, 2, 0, 0, 0, 0))
        );
    }

    #[test]
    fn datetime_invalid_is_plain() {
        assert_eq!(decode_str("\u{f027}not a date"), None);
        assert_eq!(decode_str("\u{f027}2024-13-01T00:00:00"), None);
    }

    #[test]
    fn date_round_trip() {
        let value = decode_str("\u{f028}1990-05-17").unwrap();
        assert_eq!(
            value,
            TypedValue::Date(NaiveDate::from_ymd_opt(1990, 5, 17).unwrap())
        );
        assert_eq!(encode(&value), "\u{f028}1990-05-17");
    }

    #[test]
    fn time_formats() {
        let plain = NaiveTime::from_hms_opt(1, 2, 3).unwrap();
        let fraction = NaiveTime::from_hms_micro_opt(1, 2, 3, 500).unwrap();
        assert_eq!(encode(&TypedValue::Time(plain)), "\u{f02d}01:02:03");
        assert_eq!(
            encode(&TypedValue::Time(fraction)),
            "\u{f02d}01:02:03.000500"
        );
    }

    #[test]
    fn time_decodes_short_forms() {
        assert_eq!(parse_time_iso("01:02"), NaiveTime::from_hms_opt(1, 2, 0));
        assert_eq!(parse_time_iso("010203"), NaiveTime::from_hms_opt(1, 2, 3));
        assert_eq!(
            parse_time_iso("01:02:03.1234567"),
            NaiveTime::from_hms_micro_opt(1, 2, 3, 123456)
        );
        assert_eq!(parse_time_iso("01:02.5"), None);
    }

    #[test]
    fn decimal_kept_verbatim() {
        assert_eq!(
            decode_str("\u{f026}12.3450"),
            Some(TypedValue::Decimal("12.3450".into()))
        );
        assert_eq!(
            decode_str("\u{f026}1E+3"),
            Some(TypedValue::Decimal("1E+3".into()))
        );
        assert_eq!(
            decode_str("\u{f026}-Infinity"),
            Some(TypedValue::Decimal("-Infinity".into()))
        );
    }

    #[test]
    fn decimal_invalid_is_plain() {
        assert_eq!(decode_str("\u{f026}12.3.4"), None);
        assert_eq!(decode_str("\u{f026}abc"), None);
        assert_eq!(decode_str("\u{f026}1e"), None);
    }

    #[test]
    fn wei_round_trip() {
        let text = "\u{f02c}1000000000000000000000000000000";
        assert_eq!(encode(&decode_str(text).unwrap()), text);
    }

    #[test]
    fn bytes_round_trip() {
        let value = decode_str("\u{f02b}AAFoaQ==").unwrap();
        assert_eq!(value, TypedValue::Bytes(b"\x00\x01hi".to_vec()));
        assert_eq!(encode(&value), "\u{f02b}AAFoaQ==");
    }

    #[test]
    fn bytes_bad_padding_is_plain() {
        assert_eq!(decode_str("\u{f02b}AAFoaQ"), None);
    }

    #[test]
    fn hex_bytes_round_trip() {
        let value = decode_str("\u{f02a}0x01ab").unwrap();
        assert_eq!(value, TypedValue::HexBytes(vec![0x01, 0xab]));
        assert_eq!(encode(&value), "\u{f02a}0x01ab");
    }

    #[test]
    fn hex_bytes_without_prefix() {
        assert_eq!(
            decode_str("\u{f02a}01AB"),
            Some(TypedValue::HexBytes(vec![0x01, 0xab]))
        );
        assert_eq!(decode_str("\u{f02a}0x1"), None);
    }

    #[test]
    fn uuid_canonical() {
        let value = decode_str("\u{f029}{00000000-0000-0000-0000-00000000000A}").unwrap();
        assert_eq!(
            value,
            TypedValue::Uuid("00000000-0000-0000-0000-00000000000a".into())
        );
        assert_eq!(
            encode(&value),
            "\u{f029}00000000-0000-0000-0000-00000000000a"
        );
    }

    #[test]
    fn plain_strings() {
        assert_eq!(decode_str("hello"), None);
        assert_eq!(decode_str(""), None);
        assert_eq!(
            decode_str("\u{f027}"),
            None,
            "a marker alone stays a string"
        );
        assert_eq!(
            decode_str("\u{f02e}x"),
            None,
            "U+F02E is outside the decoded range"
        );
    }
}
