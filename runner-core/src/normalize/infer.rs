//! Type inference, ISO timestamp detection and coercion of single values,
//! following the dispatch table of dlt 1.31 (`coerce_value`).

use std::borrow::Cow;
use std::rc::Rc;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use serde_json::Value;

use super::json::JsonValue;

use crate::schema::DataType;
use crate::typed_json::{TypedValue, decode_str};

/// First and last Private Use Area characters that mark a typed JSON value.
const TYPED_PREFIX_FIRST: char = '\u{F026}';
const TYPED_PREFIX_LAST: char = '\u{F02D}';

/// One input value after flattening, before coercion.
#[derive(Debug, Clone)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    /// Any JSON integer. `i128` holds both `i64` and `u64` so values beyond
    /// `i64` are kept exactly until a column type decides what they become.
    Int(i128),
    Float(f64),
    Text(Cow<'a, str>),
    Typed(TypedValue),
    /// An object or list kept inline because the nesting budget ran out.
    Json(&'a JsonValue<'a>),
    /// The `_dlt_id` of a nested row, hashed later (see [`Cell::PendingRowId`]).
    PendingRowId { parent_id: String, table: Rc<str>, index: usize },
}

impl<'a> Scalar<'a> {
    /// Converts a JSON value, decoding typed JSON strings.
    pub(crate) fn from_json(value: &'a JsonValue<'a>) -> Scalar<'a> {
        match value {
            JsonValue::Null => Scalar::Null,
            JsonValue::Bool(b) => Scalar::Bool(*b),
            JsonValue::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Scalar::Int(i as i128)
                } else if let Some(u) = n.as_u64() {
                    Scalar::Int(u as i128)
                } else {
                    Scalar::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            JsonValue::String(s) => match s.chars().next() {
                Some(c) if (TYPED_PREFIX_FIRST..=TYPED_PREFIX_LAST).contains(&c) => match decode_str(s) {
                    Some(typed) => Scalar::Typed(typed),
                    None => Scalar::Text(Cow::Borrowed(s)),
                },
                _ => Scalar::Text(Cow::Borrowed(s)),
            },
            JsonValue::Array(_) | JsonValue::Object(_) => Scalar::Json(value),
        }
    }

    /// Returns the dlt type of the value itself (dlt's `py_type_to_sc_type`),
    /// which names variant columns.
    pub(crate) fn value_type(&self) -> DataType {
        match self {
            Scalar::Null | Scalar::Text(_) | Scalar::PendingRowId { .. } => DataType::Text,
            Scalar::Bool(_) => DataType::Bool,
            Scalar::Int(_) => DataType::Bigint,
            Scalar::Float(_) => DataType::Double,
            Scalar::Json(_) => DataType::Json,
            Scalar::Typed(typed) => match typed {
                TypedValue::Decimal(_) => DataType::Decimal,
                TypedValue::DateTime(_) => DataType::Timestamp,
                TypedValue::Date(_) => DataType::Date,
                TypedValue::Time(_) => DataType::Time,
                TypedValue::Uuid(_) => DataType::Text,
                TypedValue::HexBytes(_) | TypedValue::Bytes(_) => DataType::Binary,
                TypedValue::Wei(_) => DataType::Wei,
            },
        }
    }

    /// Infers the type of a new column from its first value. Only the
    /// `iso_timestamp` detection is applied, as in dlt's default settings.
    pub(crate) fn infer_type(&self) -> DataType {
        if let Scalar::Text(text) = self
            && parse_iso_datetime(text, false).is_some()
        {
            return DataType::Timestamp;
        }
        self.value_type()
    }
}

/// A value coerced to its column type, ready for a column builder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell<'a> {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(Cow<'a, str>),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    Date(NaiveDate),
    /// Microseconds since midnight.
    Time(i64),
    Binary(Cow<'a, [u8]>),
    /// Decimal text (`-12.345`, `1E+2`); the builder scales it to the column.
    Decimal(Cow<'a, str>),
    /// Compact JSON text.
    Json(String),
    /// The `_dlt_id` of a nested row of the buffer's table, to be hashed from
    /// its parent's id and list index when the batch is encoded. SHAKE-128
    /// took about a third of the normalizer thread's instructions. The
    /// encoder thread has time to spare, and without it the batch hashes
    /// four ids at a time.
    PendingRowId { parent_id: String, index: usize },
}

impl Cell<'_> {
    /// Returns the length of a text, JSON or binary value, 0 for others.
    pub(crate) fn variable_bytes(&self) -> usize {
        match self {
            Cell::Text(text) | Cell::Decimal(text) => text.len(),
            Cell::Json(text) => text.len(),
            Cell::Binary(bytes) => bytes.len(),
            _ => 0,
        }
    }
}

/// Why a value could not be coerced.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CoerceError {
    /// The value does not fit the type; dlt stores it in a variant column.
    Incompatible,
    /// An integer beyond the `bigint` (int64) range. dlt keeps `bigint`
    /// and the destination rejects the value, so this fails the row.
    OutOfRange(String),
}

type Coerced<'a> = Result<Cell<'a>, CoerceError>;

/// Coerces `value` into a column of type `to`.
pub(crate) fn coerce<'a>(to: DataType, value: &Scalar<'a>) -> Coerced<'a> {
    if let Scalar::PendingRowId { parent_id, index, .. } = value {
        return match to {
            DataType::Text => Ok(Cell::PendingRowId {
                parent_id: parent_id.clone(),
                index: *index,
            }),
            _ => Err(CoerceError::Incompatible),
        };
    }
    match to {
        DataType::Text => Ok(Cell::Text(to_text(value))),
        DataType::Bigint => to_bigint(value),
        DataType::Double => to_double(value),
        DataType::Bool => to_bool(value),
        DataType::Decimal | DataType::Wei => to_decimal(value),
        DataType::Timestamp => to_timestamp(value),
        DataType::Date => to_date(value),
        DataType::Time => to_time(value),
        DataType::Binary => to_binary(value),
        DataType::Json => to_json(value),
    }
}

/// Coerces like [`coerce`], but moves text and pending row ids into the
/// cell instead of copying them. On failure, the value comes back with the
/// error.
pub(crate) fn coerce_owned<'a>(to: DataType, value: Scalar<'a>) -> Result<Cell<'a>, (CoerceError, Scalar<'a>)> {
    match (to, value) {
        (DataType::Text, Scalar::Text(text)) => Ok(Cell::Text(text)),
        (DataType::Text, Scalar::PendingRowId { parent_id, index, .. }) => Ok(Cell::PendingRowId { parent_id, index }),
        (to, value) => coerce(to, &value).map_err(|error| (error, value)),
    }
}

/// Renders a value as dlt stores it in a `text` column (Python `str`, or
/// `isoformat` for dates and times, base64 for bytes, JSON for objects).
pub(crate) fn to_text<'a>(value: &Scalar<'a>) -> Cow<'a, str> {
    match value {
        Scalar::Text(text) => text.clone(),
        Scalar::Null => Cow::Borrowed(""),
        Scalar::Bool(true) => Cow::Borrowed("True"),
        Scalar::Bool(false) => Cow::Borrowed("False"),
        Scalar::Int(i) => Cow::Owned(i.to_string()),
        Scalar::Float(f) => Cow::Owned(python_float_repr(*f)),
        Scalar::Json(json) => Cow::Owned(json.to_string()),
        Scalar::PendingRowId { parent_id, table, index } => {
            Cow::Owned(crate::load_id::nested_row_id(parent_id, table, *index))
        }
        Scalar::Typed(typed) => Cow::Owned(match typed {
            TypedValue::Decimal(s) | TypedValue::Wei(s) | TypedValue::Uuid(s) => s.clone(),
            TypedValue::DateTime(dt) => datetime_isoformat(dt),
            TypedValue::Date(d) => d.format("%Y-%m-%d").to_string(),
            TypedValue::Time(t) => time_isoformat(t),
            TypedValue::HexBytes(b) | TypedValue::Bytes(b) => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(b)
            }
        }),
    }
}

fn to_bigint<'a>(value: &Scalar<'a>) -> Coerced<'a> {
    let wide = match value {
        Scalar::Int(i) => *i,
        Scalar::Float(f) if f.is_finite() && f.fract() == 0.0 => {
            if f.abs() >= 2f64.powi(127) {
                return Err(CoerceError::OutOfRange(python_float_repr(*f)));
            }
            *f as i128
        }
        Scalar::Text(text) => parse_int_text(text).ok_or(CoerceError::Incompatible)?,
        Scalar::Typed(TypedValue::Decimal(s) | TypedValue::Wei(s)) => {
            let (int, frac_zero) = split_decimal_integral(s).ok_or(CoerceError::Incompatible)?;
            if !frac_zero {
                return Err(CoerceError::Incompatible);
            }
            int
        }
        _ => return Err(CoerceError::Incompatible),
    };

    i64::try_from(wide)
        .map(Cell::Int)
        .map_err(|_| CoerceError::OutOfRange(wide.to_string()))
}

fn to_double<'a>(value: &Scalar<'a>) -> Coerced<'a> {
    match value {
        Scalar::Float(f) => Ok(Cell::Float(*f)),
        Scalar::Int(i) => Ok(Cell::Float(*i as f64)),
        Scalar::Text(text) => {
            let trimmed = text.trim();
            if let Some(hex) = trimmed.strip_prefix("0x") {
                return u128::from_str_radix(hex, 16)
                    .map(|v| Cell::Float(v as f64))
                    .map_err(|_| CoerceError::Incompatible);
            }
            trimmed.parse::<f64>().map(Cell::Float).map_err(|_| CoerceError::Incompatible)
        }
        Scalar::Typed(TypedValue::Decimal(s) | TypedValue::Wei(s)) => {
            s.trim().parse::<f64>().map(Cell::Float).map_err(|_| CoerceError::Incompatible)
        }
        _ => Err(CoerceError::Incompatible),
    }
}

fn to_bool<'a>(value: &Scalar<'a>) -> Coerced<'a> {
    match value {
        Scalar::Bool(b) => Ok(Cell::Bool(*b)),
        Scalar::Int(i) => Ok(Cell::Bool(*i != 0)),
        Scalar::Float(f) => Ok(Cell::Bool(*f != 0.0)),
        // dlt's `str2bool`.
        Scalar::Text(text) => match text.to_lowercase().as_str() {
            "yes" | "true" | "t" | "y" | "1" => Ok(Cell::Bool(true)),
            "no" | "false" | "f" | "n" | "0" => Ok(Cell::Bool(false)),
            _ => Err(CoerceError::Incompatible),
        },
        Scalar::Typed(TypedValue::Decimal(s) | TypedValue::Wei(s)) => {
            let parsed: f64 = s.trim().parse().map_err(|_| CoerceError::Incompatible)?;
            Ok(Cell::Bool(parsed != 0.0))
        }
        _ => Err(CoerceError::Incompatible),
    }
}

/// Coerces into `decimal` or `wei`. Precision and scale are checked by the
/// column builder, which knows them.
fn to_decimal<'a>(value: &Scalar<'a>) -> Coerced<'a> {
    match value {
        Scalar::Typed(TypedValue::Decimal(s) | TypedValue::Wei(s)) => Ok(Cell::Decimal(Cow::Owned(s.clone()))),
        Scalar::Int(i) => Ok(Cell::Decimal(Cow::Owned(i.to_string()))),
        Scalar::Float(f) if f.is_finite() => Ok(Cell::Decimal(Cow::Owned(python_float_repr(*f)))),
        Scalar::Text(text) => {
            let trimmed = text.trim();
            if let Some(hex) = trimmed.strip_prefix("0x") {
                return u128::from_str_radix(hex, 16)
                    .map(|v| Cell::Decimal(Cow::Owned(v.to_string())))
                    .map_err(|_| CoerceError::Incompatible);
            }
            if is_decimal_text(trimmed) {
                Ok(Cell::Decimal(Cow::Owned(trimmed.to_owned())))
            } else {
                Err(CoerceError::Incompatible)
            }
        }
        _ => Err(CoerceError::Incompatible),
    }
}

fn to_timestamp<'a>(value: &Scalar<'a>) -> Coerced<'a> {
    match value {
        Scalar::Typed(TypedValue::DateTime(dt)) => Ok(Cell::Timestamp(dt.timestamp_micros())),
        Scalar::Typed(TypedValue::Date(d)) => Ok(Cell::Timestamp(midnight_micros(*d))),
        Scalar::Text(text) => parse_iso_datetime(text, true)
            .map(Cell::Timestamp)
            .ok_or(CoerceError::Incompatible),
        Scalar::Int(i) => i64::try_from(*i)
            .ok()
            .and_then(|s| s.checked_mul(1_000_000))
            .map(Cell::Timestamp)
            .ok_or(CoerceError::Incompatible),
        Scalar::Float(f) if f.is_finite() && f.abs() < 1e13 => Ok(Cell::Timestamp((f * 1e6).round() as i64)),
        _ => Err(CoerceError::Incompatible),
    }
}

fn to_date<'a>(value: &Scalar<'a>) -> Coerced<'a> {
    match value {
        Scalar::Typed(TypedValue::Date(d)) => Ok(Cell::Date(*d)),
        Scalar::Typed(TypedValue::DateTime(dt)) => Ok(Cell::Date(dt.naive_utc().date())),
        Scalar::Text(text) => {
            if let Ok(d) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
                return Ok(Cell::Date(d));
            }
            let micros = parse_iso_datetime(text, true).ok_or(CoerceError::Incompatible)?;
            micros_to_date(micros).map(Cell::Date).ok_or(CoerceError::Incompatible)
        }
        Scalar::Int(i) => i64::try_from(*i)
            .ok()
            .and_then(|s| s.checked_mul(1_000_000))
            .and_then(micros_to_date)
            .map(Cell::Date)
            .ok_or(CoerceError::Incompatible),
        Scalar::Float(f) if f.is_finite() && f.abs() < 1e13 => micros_to_date((f * 1e6) as i64)
            .map(Cell::Date)
            .ok_or(CoerceError::Incompatible),
        _ => Err(CoerceError::Incompatible),
    }
}

fn to_time<'a>(value: &Scalar<'a>) -> Coerced<'a> {
    match value {
        Scalar::Typed(TypedValue::Time(t)) => Ok(Cell::Time(time_micros(t))),
        Scalar::Text(text) => parse_time(text.trim()).map(|t| Cell::Time(time_micros(&t))).ok_or(CoerceError::Incompatible),
        _ => Err(CoerceError::Incompatible),
    }
}

fn to_binary<'a>(value: &Scalar<'a>) -> Coerced<'a> {
    use base64::Engine;

    match value {
        Scalar::Typed(TypedValue::HexBytes(b) | TypedValue::Bytes(b)) => Ok(Cell::Binary(Cow::Owned(b.clone()))),
        Scalar::Text(text) => {
            if let Some(hex_digits) = text.strip_prefix("0x") {
                return hex::decode(hex_digits)
                    .map(|b| Cell::Binary(Cow::Owned(b)))
                    .map_err(|_| CoerceError::Incompatible);
            }
            base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map(|b| Cell::Binary(Cow::Owned(b)))
                .map_err(|_| CoerceError::Incompatible)
        }
        // dlt writes a non-negative int as its minimal little-endian bytes.
        Scalar::Int(i) if *i >= 0 => {
            let bytes = i.to_le_bytes();
            let used = 16 - (i.leading_zeros() as usize / 8);
            Ok(Cell::Binary(Cow::Owned(bytes[..used].to_vec())))
        }
        _ => Err(CoerceError::Incompatible),
    }
}

fn to_json<'a>(value: &Scalar<'a>) -> Coerced<'a> {
    match value {
        Scalar::Json(json) => Ok(Cell::Json(json.to_string())),
        Scalar::Text(text) => serde_json::from_str::<Value>(text)
            .map(|parsed| Cell::Json(parsed.to_string()))
            .map_err(|_| CoerceError::Incompatible),
        _ => Err(CoerceError::Incompatible),
    }
}

/// Parses Python `int()` text: optional sign, digits, or a `0x` hex prefix.
fn parse_int_text(text: &str) -> Option<i128> {
    let trimmed = text.trim();
    if let Some(hex) = trimmed.strip_prefix("0x") {
        return i128::from_str_radix(hex, 16).ok();
    }
    if trimmed.is_empty() || trimmed.contains('_') {
        return None;
    }
    trimmed.parse::<i128>().ok()
}

/// Returns true for text that Python's `Decimal()` accepts as a finite number.
fn is_decimal_text(text: &str) -> bool {
    split_decimal_parts(text).is_some()
}

/// Splits decimal text into sign, integer digits, fraction digits and exponent.
pub(crate) fn split_decimal_parts(text: &str) -> Option<(bool, &str, &str, i32)> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], unsigned[at + 1..].parse::<i32>().ok()?),
        None => (unsigned, 0),
    };
    let (int_digits, frac_digits) = match mantissa.find('.') {
        Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
        None => (mantissa, ""),
    };

    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_digits.is_empty() && frac_digits.is_empty()) || !all_digits(int_digits) || !all_digits(frac_digits) {
        return None;
    }
    Some((negative, int_digits, frac_digits, exponent))
}

/// Returns the integer value of decimal text and whether its fraction is zero.
fn split_decimal_integral(text: &str) -> Option<(i128, bool)> {
    let (negative, int_digits, frac_digits, exponent) = split_decimal_parts(text.trim())?;
    let digits: String = format!("{int_digits}{frac_digits}");
    let point = int_digits.len() as i64 + exponent as i64;
    if point < 0 {
        return Some((0, digits.bytes().all(|b| b == b'0')));
    }

    let point = point as usize;
    let (int_part, frac_part) = if point >= digits.len() {
        (format!("{digits}{}", "0".repeat(point - digits.len())), String::new())
    } else {
        (digits[..point].to_owned(), digits[point..].to_owned())
    };
    let magnitude: i128 = if int_part.is_empty() { 0 } else { int_part.parse().ok()? };
    let value = if negative { -magnitude } else { magnitude };
    Some((value, frac_part.bytes().all(|b| b == b'0')))
}

/// Formats a float as Python's `repr` does: shortest round-trip digits,
/// exponent form below 1e-4 and from 1e16 on (`1e+16`, `1.5e-07`).
pub(crate) fn python_float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf".to_owned() } else { "-inf".to_owned() };
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0.0".to_owned() } else { "0.0".to_owned() };
    }

    // `{:e}` gives the shortest round-trip digits, e.g. `1.5e-7`.
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };

    if !(-4..16).contains(&exponent) {
        let (head, tail) = digits.split_at(1);
        let fraction = if tail.is_empty() { String::new() } else { format!(".{tail}") };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{head}{fraction}e{exp_sign}{:02}", exponent.abs());
    }

    let point = exponent + 1;
    if point <= 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-point) as usize));
    }
    let point = point as usize;
    if point >= digits.len() {
        format!("{sign}{digits}{}.0", "0".repeat(point - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
}

/// Formats a datetime as Python's `isoformat`: microseconds only when non-zero.
fn datetime_isoformat(dt: &DateTime<FixedOffset>) -> String {
    let naive = dt.naive_local();
    let offset = dt.offset().local_minus_utc();
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.abs();
    format!(
        "{}T{}{sign}{:02}:{:02}",
        naive.date().format("%Y-%m-%d"),
        time_isoformat(&naive.time()),
        offset / 3600,
        (offset % 3600) / 60
    )
}

fn time_isoformat(time: &NaiveTime) -> String {
    let micros = time.nanosecond() / 1000;
    if micros == 0 {
        time.format("%H:%M:%S").to_string()
    } else {
        format!("{}.{micros:06}", time.format("%H:%M:%S"))
    }
}

fn midnight_micros(date: NaiveDate) -> i64 {
    date.and_time(NaiveTime::MIN).and_utc().timestamp_micros()
}

fn micros_to_date(micros: i64) -> Option<NaiveDate> {
    DateTime::from_timestamp_micros(micros).map(|dt| dt.date_naive())
}

fn time_micros(time: &NaiveTime) -> i64 {
    time.num_seconds_from_midnight() as i64 * 1_000_000 + (time.nanosecond() / 1000) as i64
}

/// Parses an ISO 8601 datetime and returns microseconds since the epoch in
/// UTC. Naive values are taken as UTC, as dlt does.
///
/// Accepted: `YYYY-MM-DD` or `YYYYMMDD`, then `T` or one space, then `HH`,
/// `HH:MM`, `HH:MM:SS` or the basic forms `HHMM`/`HHMMSS`, an optional
/// fraction after `.` or `,` (truncated to microseconds) and an optional `Z`,
/// `±HH`, `±HH:MM` or `±HHMM` offset. With `allow_date_only`, a bare date is
/// midnight, as dlt's coercion (not its detection) accepts.
///
/// NOTE: pendulum (used by dlt) also accepts ordinal (`2024-001`) and week
/// dates (`2024-W01-1`) and a bare year in coercion; those are rejected here.
pub(crate) fn parse_iso_datetime(text: &str, allow_date_only: bool) -> Option<i64> {
    let bytes = text.as_bytes();
    let (date, rest) = parse_date_part(bytes)?;

    if rest.is_empty() {
        return allow_date_only.then(|| midnight_micros(date));
    }
    if rest[0] != b'T' && rest[0] != b' ' {
        return None;
    }

    let (time, rest) = parse_time_part(&rest[1..])?;
    let offset_seconds = parse_offset(rest)?;
    let naive = NaiveDateTime::new(date, time);
    let micros = naive.and_utc().timestamp_micros();
    Some(micros - offset_seconds as i64 * 1_000_000)
}

fn parse_date_part(bytes: &[u8]) -> Option<(NaiveDate, &[u8])> {
    let (year, month, day, used) = if bytes.len() >= 10 && bytes[4] == b'-' && bytes[7] == b'-' {
        (digits(&bytes[0..4])?, digits(&bytes[5..7])?, digits(&bytes[8..10])?, 10)
    } else if bytes.len() >= 8 && bytes[..8].iter().all(u8::is_ascii_digit) {
        (digits(&bytes[0..4])?, digits(&bytes[4..6])?, digits(&bytes[6..8])?, 8)
    } else {
        return None;
    };
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    Some((date, &bytes[used..]))
}

fn parse_time_part(bytes: &[u8]) -> Option<(NaiveTime, &[u8])> {
    let hour = digits(bytes.get(0..2)?)?;
    let mut rest = &bytes[2..];
    let mut minute = 0;
    let mut second = 0;
    let mut micros = 0;

    // Extended (`HH:MM:SS`) or basic (`HHMMSS`) form, decided by the first separator.
    let extended = rest.first() == Some(&b':');
    let take_two = |rest: &mut &[u8]| -> Option<Option<u32>> {
        let current: &[u8] = rest;
        let body = if extended {
            match current.first() {
                Some(b':') => &current[1..],
                _ => return Some(None),
            }
        } else {
            current
        };
        match body.get(0..2) {
            Some(pair) if pair.iter().all(u8::is_ascii_digit) => {
                *rest = &body[2..];
                Some(Some(digits(pair)?))
            }
            _ if extended => None,
            _ => Some(None),
        }
    };
    if let Some(value) = take_two(&mut rest)? {
        minute = value;
        if let Some(value) = take_two(&mut rest)? {
            second = value;
            if let Some(&sep) = rest.first()
                && (sep == b'.' || sep == b',')
            {
                let length = rest[1..].iter().take_while(|byte| byte.is_ascii_digit()).count();
                if length == 0 {
                    return None;
                }
                let micro_digits = length.min(6);
                micros = digits(&rest[1..1 + micro_digits])? * 10u32.pow((6 - micro_digits) as u32);
                rest = &rest[1 + length..];
            }
        }
    }

    let time = NaiveTime::from_hms_micro_opt(hour, minute, second, micros)?;
    Some((time, rest))
}

/// Parses a UTC offset suffix into seconds east of UTC; empty means UTC.
fn parse_offset(bytes: &[u8]) -> Option<i32> {
    match bytes {
        [] | [b'Z'] => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (hours, minutes) = match rest.len() {
                2 => (digits(rest)?, 0),
                4 => (digits(&rest[0..2])?, digits(&rest[2..4])?),
                5 if rest[2] == b':' => (digits(&rest[0..2])?, digits(&rest[3..5])?),
                _ => return None,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = (hours * 3600 + minutes * 60) as i32;
            Some(if *sign == b'-' { -seconds } else { seconds })
        }
        _ => None,
    }
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    let (time, rest) = parse_time_part(text.as_bytes())?;
    rest.is_empty().then_some(time)
}

/// Reads ASCII digits as a number; `None` for no digits, another byte, or
/// a value beyond `u32`.
fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u32, |value, byte| {
        let digit = byte.checked_sub(b'0').filter(|digit| *digit <= 9)?;
        value.checked_mul(10)?.checked_add(u32::from(digit))
    })
}

/// Returns the days since 1970-01-01, the Arrow `date32` value of a date.
pub(crate) fn days_since_epoch(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - NaiveDate::from_ymd_opt(1970, 1, 1).map_or(719_163, |d| d.num_days_from_ce())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Scalar<'_> {
        Scalar::Text(Cow::Borrowed(s))
    }

    #[test]
    fn detects_iso_timestamps() {
        for accepted in [
            "2024-01-02T03:04:05Z",
            "2024-01-02T03:04:05",
            "2024-01-02 03:04:05",
            "20240102T030405",
            "2024-01-02T03:04",
            "2024-01-02T03:04:05+0200",
            "2024-01-02T03",
            "2024-01-02T03:04:05,5",
            "2024-01-02T03:04:05.123456789Z",
        ] {
            assert_eq!(text(accepted).infer_type(), DataType::Timestamp, "{accepted}");
        }
    }

    #[test]
    fn rejects_non_timestamps() {
        for rejected in [
            "2024-01-02",
            "2024",
            "03:04:05",
            "Tue, 02 Jan 2024 03:04:05 GMT",
            "2024-1-2T3:4:5",
            "1700000000",
            "2024-01-02t03:04:05",
            "2024-02-30T01:01:01",
            " 2024-01-02T03:04:05",
            "2024-01-02T03:04:05.Z",
            "2024-01-02T24:00:00",
            "",
        ] {
            assert_eq!(text(rejected).infer_type(), DataType::Text, "{rejected}");
        }
    }

    #[test]
    fn timestamp_offset_to_utc() {
        let expected = NaiveDate::from_ymd_opt(2024, 2, 3)
            .and_then(|d| d.and_hms_opt(2, 5, 6))
            .map(|dt| dt.and_utc().timestamp_micros());
        assert_eq!(parse_iso_datetime("2024-02-03T04:05:06+02:00", false), expected);
    }

    #[test]
    fn fraction_truncated_to_micros() {
        let micros = parse_iso_datetime("1970-01-01T00:00:00.1234567", false);
        assert_eq!(micros, Some(123_456));
    }

    #[test]
    fn short_fraction_padded_to_micros() {
        assert_eq!(parse_iso_datetime("1970-01-01T00:00:00.5", false), Some(500_000));
        assert_eq!(parse_iso_datetime("1970-01-01T00:00:00,05Z", false), Some(50_000));
        assert_eq!(parse_iso_datetime("1970-01-01T00:00:00.000001", false), Some(1));
        assert_eq!(parse_iso_datetime("1970-01-01T00:00:01.999999+00:00", false), Some(1_999_999));
    }

    #[test]
    fn float_repr_like_python() {
        let cases = [
            (1.5, "1.5"),
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (123456789012345.0, "123456789012345.0"),
            (-2.5, "-2.5"),
        ];
        for (value, expected) in cases {
            assert_eq!(python_float_repr(value), expected);
        }
    }

    #[test]
    fn text_forms_of_values() {
        assert_eq!(to_text(&Scalar::Int(10)), "10");
        assert_eq!(to_text(&Scalar::Bool(true)), "True");
        assert_eq!(to_text(&Scalar::Float(1.5)), "1.5");
    }

    #[test]
    fn bigint_from_integral_double() {
        assert_eq!(coerce(DataType::Bigint, &Scalar::Float(3.0)), Ok(Cell::Int(3)));
    }

    #[test]
    fn bigint_rejects_fraction() {
        assert_eq!(coerce(DataType::Bigint, &Scalar::Float(3.5)), Err(CoerceError::Incompatible));
    }

    #[test]
    fn bigint_rejects_bool() {
        assert_eq!(coerce(DataType::Bigint, &Scalar::Bool(true)), Err(CoerceError::Incompatible));
    }

    #[test]
    fn bigint_overflow_is_out_of_range() {
        let big = Scalar::Int(i64::MAX as i128 + 6);
        assert!(matches!(coerce(DataType::Bigint, &big), Err(CoerceError::OutOfRange(_))));
    }

    #[test]
    fn text_to_bool_uses_str2bool() {
        assert_eq!(coerce(DataType::Bool, &text("yes")), Ok(Cell::Bool(true)));
        assert_eq!(coerce(DataType::Bool, &text("N")), Ok(Cell::Bool(false)));
        assert_eq!(coerce(DataType::Bool, &text("maybe")), Err(CoerceError::Incompatible));
    }

    #[test]
    fn text_to_numbers_accept_hex() {
        assert_eq!(coerce(DataType::Bigint, &text(" 0x1f ")), Ok(Cell::Int(31)));
        assert_eq!(coerce(DataType::Double, &text("0x10")), Ok(Cell::Float(16.0)));
    }

    #[test]
    fn double_from_bigint() {
        assert_eq!(coerce(DataType::Double, &Scalar::Int(1)), Ok(Cell::Float(1.0)));
    }

    #[test]
    fn decimal_integral_split() {
        assert_eq!(split_decimal_integral("7.000"), Some((7, true)));
        assert_eq!(split_decimal_integral("1E+2"), Some((100, true)));
        assert_eq!(split_decimal_integral("-1.5"), Some((-1, false)));
    }

    #[test]
    fn epoch_day_one() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 2).map(days_since_epoch);
        assert_eq!(epoch, Some(1));
    }
}
