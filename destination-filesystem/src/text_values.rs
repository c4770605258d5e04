//! Text forms of single values, as Python dlt 1.31 writes them: JSON Lines
//! through orjson, CSV through Python's `str()` and `repr()`.

/// The notation a float is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FloatStyle {
    /// orjson 3: plain notation for decimal exponents -5 to 15, else
    /// `1e+20` or `1e-7` without zero padding. NaN and infinities are `null`.
    Orjson,
    /// Python's `repr(float)`: plain notation for decimal exponents -4 to 15,
    /// else `1e+20` or `1e-07` with at least two exponent digits.
    PythonRepr,
}

/// Formats `value` with the shortest digits that read back to it.
pub(crate) fn format_float(value: f64, style: FloatStyle) -> String {
    if !value.is_finite() {
        return match style {
            FloatStyle::Orjson => "null".to_owned(),
            FloatStyle::PythonRepr if value.is_nan() => "nan".to_owned(),
            FloatStyle::PythonRepr if value > 0.0 => "inf".to_owned(),
            FloatStyle::PythonRepr => "-inf".to_owned(),
        };
    }

    // `{:e}` writes the shortest round-trip digits as `d.ddde<exponent>`.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').expect("`{:e}` always writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes an integer exponent");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();

    let lowest_plain = match style {
        FloatStyle::Orjson => -5,
        FloatStyle::PythonRepr => -4,
    };
    let body = if (lowest_plain..16).contains(&exponent) {
        plain_notation(&digits, exponent)
    } else {
        exponent_notation(&digits, exponent, style)
    };

    let sign = if value.is_sign_negative() { "-" } else { "" };
    format!("{sign}{body}")
}

/// Lays out `d1.d2d3... × 10^exponent` in plain notation, such as `123.45`,
/// with `.0` after whole numbers.
fn plain_notation(digits: &str, exponent: i32) -> String {
    if exponent < 0 {
        let zeros = "0".repeat((-exponent - 1) as usize);
        return format!("0.{zeros}{digits}");
    }

    let whole_len = exponent as usize + 1;
    if digits.len() <= whole_len {
        let zeros = "0".repeat(whole_len - digits.len());
        format!("{digits}{zeros}.0")
    } else {
        format!("{}.{}", &digits[..whole_len], &digits[whole_len..])
    }
}

fn exponent_notation(digits: &str, exponent: i32, style: FloatStyle) -> String {
    let (first, rest) = digits.split_at(1);
    let mantissa = if rest.is_empty() {
        first.to_owned()
    } else {
        format!("{first}.{rest}")
    };
    let sign = if exponent < 0 { '-' } else { '+' };
    let magnitude = exponent.unsigned_abs();
    match style {
        FloatStyle::Orjson => format!("{mantissa}e{sign}{magnitude}"),
        FloatStyle::PythonRepr => format!("{mantissa}e{sign}{magnitude:02}"),
    }
}

/// Returns a decimal's text without trailing fraction zeros: `12.345000000`
/// becomes `12.345` and `7.000000000` becomes `7`.
///
/// dlt writes `str(Decimal)` of the value it received, which keeps the
/// input's digits. Parquet stores the column's fixed scale instead, and
/// trimming matches dlt for the usual inputs (JSON numbers and integers).
/// NOTE: a `Decimal("12.30")` input is written `12.30` by dlt and `12.3` here.
pub(crate) fn trim_decimal(text: &str) -> &str {
    if !text.contains('.') {
        return text;
    }
    text.trim_end_matches('0').trim_end_matches('.')
}

/// Formats microseconds since the Unix epoch as Python's `isoformat(sep)`:
/// the fraction only when it is not zero, and `+00:00` for time zone aware
/// columns. Returns `None` outside the years chrono can represent.
pub(crate) fn format_timestamp(micros: i64, separator: char, aware: bool) -> Option<String> {
    let time = chrono::DateTime::from_timestamp_micros(micros)?;
    let mut text = time.format("%Y-%m-%d").to_string();
    text.push(separator);
    text.push_str(&time.format("%H:%M:%S").to_string());
    push_fraction(&mut text, time.timestamp_subsec_micros());
    if aware {
        text.push_str("+00:00");
    }
    Some(text)
}

/// Formats days since the Unix epoch as `YYYY-MM-DD`.
pub(crate) fn format_date(days: i32) -> Option<String> {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    let date = epoch.checked_add_signed(chrono::TimeDelta::days(i64::from(days)))?;
    Some(date.format("%Y-%m-%d").to_string())
}

/// Formats microseconds since midnight as Python's `time.isoformat()`:
/// `HH:MM:SS`, with `.ffffff` when the fraction is not zero.
pub(crate) fn format_time(micros: i64) -> Option<String> {
    let seconds = u32::try_from(micros.div_euclid(1_000_000)).ok()?;
    let fraction = micros.rem_euclid(1_000_000) as u32;
    let time = chrono::NaiveTime::from_num_seconds_from_midnight_opt(seconds, 0)?;
    let mut text = time.format("%H:%M:%S").to_string();
    push_fraction(&mut text, fraction);
    Some(text)
}

fn push_fraction(text: &mut String, micros: u32) {
    if micros != 0 {
        text.push_str(&format!(".{micros:06}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected strings were printed by orjson 3 (`dlt.common.json.dumps`) and
    /// Python 3's `csv` module in the dlt 1.31 environment.
    #[test]
    fn floats_like_python() {
        let cases = [
            (0.5, "0.5", "0.5"),
            (1.0, "1.0", "1.0"),
            (100.0, "100.0", "100.0"),
            (1e20, "1e+20", "1e+20"),
            (1e16, "1e+16", "1e+16"),
            (1e15, "1000000000000000.0", "1000000000000000.0"),
            (123_456_789_012_345_680.0, "1.2345678901234568e+17", "1.2345678901234568e+17"),
            (1_234_567_890_123_456.8, "1234567890123456.8", "1234567890123456.8"),
            (1e-7, "1e-7", "1e-07"),
            (1e-6, "1e-6", "1e-06"),
            (1e-5, "0.00001", "1e-05"),
            (0.0001, "0.0001", "0.0001"),
            (-0.0, "-0.0", "-0.0"),
            (0.1 + 0.2, "0.30000000000000004", "0.30000000000000004"),
            (2.5e-300, "2.5e-300", "2.5e-300"),
            (f64::MAX, "1.7976931348623157e+308", "1.7976931348623157e+308"),
        ];
        for (value, orjson, repr) in cases {
            assert_eq!(format_float(value, FloatStyle::Orjson), orjson, "orjson of {value:e}");
            assert_eq!(format_float(value, FloatStyle::PythonRepr), repr, "repr of {value:e}");
        }
    }

    #[test]
    fn non_finite_floats() {
        assert_eq!(format_float(f64::NAN, FloatStyle::Orjson), "null");
        assert_eq!(format_float(f64::NAN, FloatStyle::PythonRepr), "nan");
        assert_eq!(format_float(f64::NEG_INFINITY, FloatStyle::PythonRepr), "-inf");
    }

    #[test]
    fn decimals_trimmed() {
        assert_eq!(trim_decimal("12.345000000"), "12.345");
        assert_eq!(trim_decimal("7.000000000"), "7");
        assert_eq!(trim_decimal("-0.500"), "-0.5");
        assert_eq!(trim_decimal("1200"), "1200");
    }

    #[test]
    fn timestamps_like_isoformat() {
        let micros = 1_704_164_645_123_456;
        assert_eq!(format_timestamp(micros, 'T', true).unwrap(), "2024-01-02T03:04:05.123456+00:00");
        assert_eq!(format_timestamp(micros, ' ', true).unwrap(), "2024-01-02 03:04:05.123456+00:00");
        assert_eq!(format_timestamp(1_704_164_645_000_000, 'T', false).unwrap(), "2024-01-02T03:04:05");
        assert_eq!(format_timestamp(1_704_164_645_001_000, 'T', true).unwrap(), "2024-01-02T03:04:05.001000+00:00");
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(format_date(19_724).unwrap(), "2024-01-02");
        assert_eq!(format_time(11_045_000_000).unwrap(), "03:04:05");
        assert_eq!(format_time(3_723_000_004).unwrap(), "01:02:03.000004");
    }
}
