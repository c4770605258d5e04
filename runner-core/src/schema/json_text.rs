//! JSON text exactly as dlt 1.31 writes it through orjson 3.x.
//!
//! dlt hashes schemas and states over orjson output, so the bytes matter:
//! - strings keep non-ASCII characters; `"`, `\`, `\n`, `\r`, `\t`, `\b`,
//!   `\f` are escaped by name and other characters below U+0020 as `\u00xx`;
//! - floats use the shortest text that round-trips, in positional notation
//!   when the decimal exponent is in -5..=15 (`0.00001`, `1000000000000000.0`)
//!   and in scientific notation otherwise (`1e-6`, `1.5e+16`), which differs
//!   from Python's `json` for exponents -5 (`1e-05`) and below (`1e-07`);
//! - NaN and infinities are written as `null`;
//! - sorted keys compare as Unicode code points (byte order of UTF-8);
//! - the pretty form indents by 2 spaces, writes `"key": value`, and writes
//!   empty containers as `{}` and `[]`, with no trailing newline.

use std::fmt::Write;

use serde_json::{Map, Number, Value};

/// Serializes `value` as compact JSON. With `sort_keys`, object keys are
/// sorted at every level; otherwise they keep their insertion order.
pub fn to_compact_string(value: &Value, sort_keys: bool) -> String {
    let mut out = String::new();
    write_compact(&mut out, value, sort_keys);
    out
}

/// Serializes `value` as JSON indented by 2 spaces, keys in insertion order.
pub fn to_pretty_string(value: &Value) -> String {
    let mut out = String::new();
    write_pretty(&mut out, value, 0);
    out
}

fn write_compact(out: &mut String, value: &Value, sort_keys: bool) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_compact(out, item, sort_keys);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (index, (key, item)) in ordered_entries(map, sort_keys).into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_compact(out, item, sort_keys);
            }
            out.push('}');
        }
        scalar => write_scalar(out, scalar),
    }
}

fn write_pretty(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                push_newline_indent(out, depth + 1);
                write_pretty(out, item, depth + 1);
            }
            push_newline_indent(out, depth);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                push_newline_indent(out, depth + 1);
                write_string(out, key);
                out.push_str(": ");
                write_pretty(out, item, depth + 1);
            }
            push_newline_indent(out, depth);
            out.push('}');
        }
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
        scalar => write_scalar(out, scalar),
    }
}

fn push_newline_indent(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn ordered_entries(map: &Map<String, Value>, sort_keys: bool) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    if sort_keys {
        // Rust compares `str` by UTF-8 bytes, which is code point order.
        entries.sort_by(|left, right| left.0.cmp(right.0));
    }
    entries
}

fn write_scalar(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(out, number),
        Value::String(text) => write_string(out, text),
        Value::Array(_) | Value::Object(_) => unreachable!("containers are written by the callers"),
    }
}

fn write_number(out: &mut String, number: &Number) {
    if let Some(integer) = number.as_i64() {
        write!(out, "{integer}").expect("writing to a String cannot fail");
    } else if let Some(integer) = number.as_u64() {
        write!(out, "{integer}").expect("writing to a String cannot fail");
    } else if let Some(float) = number.as_f64() {
        out.push_str(&format_float(float));
    }
}

/// Formats a float as orjson does (see the module documentation).
pub fn format_float(value: f64) -> String {
    if !value.is_finite() {
        return "null".to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .to_owned();
    }

    // `{:e}` gives the shortest round-trip digits, e.g. `-1.2345e-7`.
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` output contains `e`");
    let exponent: i32 = exponent.parse().expect("`{:e}` exponent is an integer");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(unsigned) => ("-", unsigned),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();

    let body = if (-5..16).contains(&exponent) {
        positional(&digits, exponent)
    } else {
        scientific_text(&digits, exponent)
    };
    format!("{sign}{body}")
}

/// `digits` are the significant digits d1 d2 ... with the value
/// d1.d2... × 10^exponent.
fn positional(digits: &str, exponent: i32) -> String {
    if exponent < 0 {
        let zeros = "0".repeat((-exponent - 1) as usize);
        return format!("0.{zeros}{digits}");
    }

    let integer_length = exponent as usize + 1;
    if digits.len() <= integer_length {
        let zeros = "0".repeat(integer_length - digits.len());
        format!("{digits}{zeros}.0")
    } else {
        format!(
            "{}.{}",
            &digits[..integer_length],
            &digits[integer_length..]
        )
    }
}

fn scientific_text(digits: &str, exponent: i32) -> String {
    let exponent_sign = if exponent < 0 { "-" } else { "+" };
    let magnitude = exponent.unsigned_abs();
    if digits.len() == 1 {
        format!("{digits}e{exponent_sign}{magnitude}")
    } else {
        format!(
            "{}.{}e{exponent_sign}{magnitude}",
            &digits[..1],
            &digits[1..]
        )
    }
}

fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                write!(out, "\\u{:04x}", c as u32).expect("writing to a String cannot fail");
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Expected texts below are orjson 3.13 output (dlt's JSON backend).

    #[test]
    fn float_positional_range() {
        let cases = [
            (1e-4, "0.0001"),
            (1e-5, "0.00001"),
            (1.5e-5, "0.000015"),
            (2.5e-5, "0.000025"),
            (0.1, "0.1"),
            (1.0, "1.0"),
            (123.456, "123.456"),
            (12345678.9, "12345678.9"),
            (1e15, "1000000000000000.0"),
            (9999999999999998.0, "9999999999999998.0"),
            (1000000000000000.5, "1000000000000000.5"),
            (-0.0, "-0.0"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_float(value), expected, "value {value:e}");
        }
    }

    #[test]
    fn float_scientific_range() {
        let cases = [
            (1e-6, "1e-6"),
            (1.5e-6, "1.5e-6"),
            (-1.5e-7, "-1.5e-7"),
            (1.0000000000000002e-7, "1.0000000000000002e-7"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1.2345678901234568e20, "1.2345678901234568e+20"),
            (1.23e22, "1.23e+22"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_float(value), expected, "value {value:e}");
        }
    }

    #[test]
    fn float_nan_is_null() {
        assert_eq!(format_float(f64::NAN), "null");
    }

    #[test]
    fn string_escapes() {
        let text = to_compact_string(
            &json!("a\u{7f}\u{1}\u{1f}\u{1b}\u{2028}\u{e9}\"\\/\n\t\u{8}\u{c}"),
            false,
        );
        assert_eq!(
            text,
            "\"a\u{7f}\\u0001\\u001f\\u001b\u{2028}\u{e9}\\\"\\\\/\\n\\t\\b\\f\""
        );
    }

    #[test]
    fn compact_sorted_by_code_point() {
        let value = json!({"b": 1, "a": {"d": 1, "c": 2}, "\u{e9}": 1, "z": 1, "Z": 2, "\u{1f600}": 1, "\u{ffff}": 2});
        let expected = "{\"Z\":2,\"a\":{\"c\":2,\"d\":1},\"b\":1,\"z\":1,\"\u{e9}\":1,\"\u{ffff}\":2,\"\u{1f600}\":1}";
        assert_eq!(to_compact_string(&value, true), expected);
    }

    #[test]
    fn compact_keeps_insertion_order() {
        let value = json!({"b": [1, 2.5, null, true], "a": {}});
        assert_eq!(
            to_compact_string(&value, false),
            r#"{"b":[1,2.5,null,true],"a":{}}"#
        );
    }

    #[test]
    fn pretty_layout() {
        let value = json!({"a": 1, "b": [1, {"x": []}], "c": {}, "d": []});
        let expected = "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    {\n      \"x\": []\n    }\n  ],\n  \"c\": {},\n  \"d\": []\n}";
        assert_eq!(to_pretty_string(&value), expected);
    }

    #[test]
    fn large_integers() {
        let value = json!([9223372036854775807i64, 18446744073709551615u64, -5]);
        assert_eq!(
            to_compact_string(&value, false),
            "[9223372036854775807,18446744073709551615,-5]"
        );
    }
}
