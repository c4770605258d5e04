//! Reads a text column of an Arrow or Parquet input into a typed table
//! column by the coercion rules of text in JSON rows, so the same text
//! loads the same from either kind of input.
//!
//! Arrow's parsers differ from those rules both ways: they reject " 5" as
//! an integer and "1.5e1" as a decimal, and they read "tr", "ye" and "on"
//! as booleans. Booleans therefore always go through the coercion of JSON
//! rows. Other text that Arrow cannot parse is rewritten in a form that
//! Arrow parses, when that coercion accepts it. The strict cast that follows
//! still checks every rewritten value against the column's type.
//!
//! NOTE: text that Arrow parses is not compared with the coercion, so the
//! leap second `23:59:60Z`, which the coercion does not read as a time,
//! loads as the next day's `00:00:00`.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringBuilder};
use arrow::compute::CastOptions;
use arrow::datatypes::DataType as ArrowType;
use chrono::{DateTime, NaiveTime, SecondsFormat};

use super::arrow_input::{cast_in_utc, column_for};
use super::infer::{Cell, CoerceError, Scalar, coerce, parse_iso_datetime, split_decimal_parts};
use crate::schema::DataType;

/// Reads the text array `text` for a column of Arrow type `to`. Returns a
/// boolean array for a boolean column, and otherwise the text, rewritten
/// where Arrow could not parse it. The error names the first value that
/// the coercion rejects.
pub(super) fn read_text_for(text: &ArrayRef, to: &ArrowType) -> Result<ArrayRef, String> {
    let Some(data_type) = column_for("", "", to, true).ok().flatten().and_then(|column| column.data_type) else {
        return Ok(text.clone());
    };
    let values = text_values(text);

    if data_type == DataType::Bool {
        let booleans = values
            .iter()
            .map(|value| value.map(|value| read_bool(value)).transpose())
            .collect::<Result<BooleanArray, String>>()?;
        return Ok(Arc::new(booleans));
    }
    if !matches!(
        data_type,
        DataType::Bigint | DataType::Double | DataType::Decimal | DataType::Wei | DataType::Timestamp | DataType::Date | DataType::Time
    ) {
        return Ok(text.clone());
    }

    // Null after a lenient cast marks the text that Arrow cannot parse.
    let lenient = CastOptions {
        safe: true,
        ..Default::default()
    };
    let parsed = cast_in_utc(text, to, &lenient).map_err(|error| error.to_string())?;
    let unparsed = |row: usize| values[row].is_some() && parsed.is_null(row);
    if !(0..values.len()).any(unparsed) {
        return Ok(text.clone());
    }

    let mut rewritten = StringBuilder::with_capacity(values.len(), 0);
    for (row, value) in values.iter().enumerate() {
        match value {
            Some(value) if unparsed(row) => rewritten.append_value(parsable_text(data_type, value)?),
            Some(value) => rewritten.append_value(value),
            None => rewritten.append_null(),
        }
    }
    Ok(Arc::new(rewritten.finish()))
}

/// Returns the values of a `Utf8`, `LargeUtf8` or `Utf8View` array.
fn text_values(text: &ArrayRef) -> Vec<Option<&str>> {
    match text.data_type() {
        ArrowType::Utf8 => text.as_string::<i32>().iter().collect(),
        ArrowType::LargeUtf8 => text.as_string::<i64>().iter().collect(),
        ArrowType::Utf8View => text.as_string_view().iter().collect(),
        _ => Vec::new(),
    }
}

fn read_bool(value: &str) -> Result<bool, String> {
    match coerce(DataType::Bool, &Scalar::Text(Cow::Borrowed(value))) {
        Ok(Cell::Bool(boolean)) => Ok(boolean),
        _ => Err(format!(
            "the text \"{value}\" is not a bool, which is written true, false, t, f, yes, no, y, n, 1 or 0 in any case"
        )),
    }
}

/// Coerces one text as text in JSON rows is coerced and writes the result
/// in a form that Arrow's parser reads exactly.
fn parsable_text(data_type: DataType, value: &str) -> Result<String, String> {
    // The coercion of JSON rows takes the date of a timestamp. Here it is
    // written as the whole timestamp, so that the check after the cast
    // rejects a time of day that the date would drop.
    if data_type == DataType::Date
        && let Some(micros) = parse_iso_datetime(value.trim(), false)
    {
        return parsable_text(DataType::Timestamp, &timestamp_text(micros, value)?);
    }

    let cell = match coerce(data_type, &Scalar::Text(Cow::Borrowed(value))) {
        Ok(cell) => cell,
        Err(CoerceError::OutOfRange(_)) => return Err(format!("the text \"{value}\" is out of range for {data_type}")),
        Err(CoerceError::Incompatible) => return Err(format!("the text \"{value}\" is not a {data_type} value")),
    };

    let text = match cell {
        Cell::Int(integer) => integer.to_string(),
        // Rust writes the shortest text that reads back as the same double.
        Cell::Float(float) => float.to_string(),
        Cell::Decimal(decimal) => plain_decimal(&decimal).ok_or_else(|| format!("the text \"{value}\" is not a decimal"))?,
        Cell::Timestamp(micros) => timestamp_text(micros, value)?,
        Cell::Date(date) => date.format("%Y-%m-%d").to_string(),
        Cell::Time(micros) => time_text(micros).ok_or_else(|| format!("the text \"{value}\" is not a time of day"))?,
        _ => value.to_owned(),
    };
    Ok(text)
}

/// Writes a UTC timestamp of `micros` microseconds as RFC 3339 text.
fn timestamp_text(micros: i64, value: &str) -> Result<String, String> {
    DateTime::from_timestamp_micros(micros)
        .map(|timestamp| timestamp.to_rfc3339_opts(SecondsFormat::Micros, true))
        .ok_or_else(|| format!("the text \"{value}\" is out of range for timestamp"))
}

/// Writes decimal text such as `1.5e1` or `+.5` without an exponent or a
/// plus sign (`15`, `0.5`), because Arrow's decimal parser reads neither.
fn plain_decimal(text: &str) -> Option<String> {
    let (negative, int_digits, frac_digits, exponent) = split_decimal_parts(text.trim())?;
    let digits = format!("{int_digits}{frac_digits}");

    // The decimal point goes `point` digits from the left. It may fall
    // before the first digit or after the last one.
    let point = i64::try_from(int_digits.len()).ok()? + i64::from(exponent);
    let (int_part, frac_part) = if point <= 0 {
        let zeros = "0".repeat(usize::try_from(-point).ok()?);
        ("0".to_owned(), format!("{zeros}{digits}"))
    } else if point as usize >= digits.len() {
        let zeros = "0".repeat(point as usize - digits.len());
        (format!("{digits}{zeros}"), String::new())
    } else {
        let (int_part, frac_part) = digits.split_at(point as usize);
        (int_part.to_owned(), frac_part.to_owned())
    };

    let sign = if negative { "-" } else { "" };
    let int_part = if int_part.is_empty() { "0" } else { int_part.as_str() };
    if frac_part.is_empty() {
        Some(format!("{sign}{int_part}"))
    } else {
        Some(format!("{sign}{int_part}.{frac_part}"))
    }
}

fn time_text(micros: i64) -> Option<String> {
    let seconds = u32::try_from(micros.div_euclid(1_000_000)).ok()?;
    let nanos = u32::try_from(micros.rem_euclid(1_000_000) * 1_000).ok()?;
    let time = NaiveTime::from_num_seconds_from_midnight_opt(seconds, nanos)?;
    Some(time.format("%H:%M:%S%.6f").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decimal_moves_point() {
        assert_eq!(plain_decimal("1.5e1").as_deref(), Some("15"));
        assert_eq!(plain_decimal("1.5E-2").as_deref(), Some("0.015"));
        assert_eq!(plain_decimal("+.5").as_deref(), Some("0.5"));
        assert_eq!(plain_decimal("-12.345e2").as_deref(), Some("-1234.5"));
        assert_eq!(plain_decimal("7e3").as_deref(), Some("7000"));
        assert_eq!(plain_decimal("5.").as_deref(), Some("5"));
        assert_eq!(plain_decimal("abc"), None);
    }

    #[test]
    fn time_text_keeps_microseconds() {
        assert_eq!(time_text(3_723_000_004).as_deref(), Some("01:02:03.000004"));
        assert_eq!(time_text(86_400_000_000), None);
    }
}
