//! Integers beyond 64 bits in JSON input.
//!
//! serde_json (without `arbitrary_precision`) reads an integer literal
//! outside the i64 and u64 ranges as the nearest f64, which would load
//! silently rounded into a DOUBLE column. Such a float is at least 2^64 or at
//! most -2^63, so only a row that contains a float that large is checked
//! against its input text. Other rows cost one walk over the parsed value.
//! The text decides, because `1e20` is a float literal and loads as double.

use std::io::{BufRead, Bytes};

use serde_json::Value;

/// The smallest positive f64 that a rounded u64-overflowing literal becomes.
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
/// The largest negative f64 that a rounded i64-underflowing literal becomes.
const MINUS_TWO_POW_63: f64 = -9_223_372_036_854_775_808.0;

/// Returns true when `value` contains a float that may be a rounded integer
/// literal beyond 64 bits.
pub(super) fn has_large_float(value: &Value) -> bool {
    find_float(value, is_large_float, &mut Vec::new())
}

/// Returns true when `float` may be a rounded integer literal beyond 64 bits.
pub(crate) fn is_large_float(float: f64) -> bool {
    float >= TWO_POW_64 || float <= MINUS_TWO_POW_63
}

/// Returns the path (`a.b`) of the first float in `value` equal to the
/// literal's rounded value; `None` when there is none.
pub(super) fn path_of_literal(value: &Value, literal: &str) -> Option<String> {
    let target: f64 = literal.parse().ok()?;
    let mut path = Vec::new();
    find_float(value, |float| float == target, &mut path).then(|| path.join("."))
}

fn find_float<'v>(value: &'v Value, matches: impl Fn(f64) -> bool + Copy, path: &mut Vec<&'v str>) -> bool {
    match value {
        Value::Number(number) => number.is_f64() && number.as_f64().is_some_and(matches),
        Value::Object(map) => map.iter().any(|(key, item)| {
            path.push(key);
            let found = find_float(item, matches, path);
            if !found {
                path.pop();
            }
            found
        }),
        // Items of a list go to a nested table; the path names the list.
        Value::Array(items) => items.iter().any(|item| find_float(item, matches, path)),
        _ => false,
    }
}

/// An integer literal of the input that fits neither i64 nor u64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BigInteger {
    /// The literal as written, such as `-99999999999999999999999`.
    pub literal: String,
    /// The 1-based line of the literal within the scanned text.
    pub line: u64,
}

/// The arrangement of top-level values in the scanned text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// One JSON array: its elements are the values, counted from 0.
    Array,
    /// A sequence of top-level values (JSON Lines, or concatenated JSON).
    Values,
}

/// Scans JSON text once, front to back, for integer literals beyond 64 bits
/// and the index of the top-level value each one sits in.
///
/// The text must be valid JSON up to the values asked for. That is true
/// because the caller asks only about values serde_json has parsed.
pub(super) struct BigIntegerScanner<R: BufRead> {
    bytes: std::iter::Peekable<Bytes<R>>,
    layout: Layout,
    depth: u32,
    value_index: usize,
    line: u64,
    /// A literal found beyond the value asked about last, kept for later.
    pending: Option<(usize, BigInteger)>,
    done: bool,
}

impl<R: BufRead> BigIntegerScanner<R> {
    pub fn new(reader: R, layout: Layout) -> Self {
        BigIntegerScanner {
            bytes: reader.bytes().peekable(),
            layout,
            depth: 0,
            value_index: 0,
            line: 1,
            pending: None,
            done: false,
        }
    }

    /// Returns the first integer literal beyond 64 bits in top-level value
    /// `index`. Calls must ask for the same or increasing indexes.
    pub fn find_in_value(&mut self, index: usize) -> Option<BigInteger> {
        loop {
            if let Some((found_index, _)) = &self.pending {
                if *found_index > index {
                    return None;
                }
                let (found_index, found) = self.pending.take()?;
                if found_index == index {
                    return Some(found);
                }
                continue;
            }
            if self.done {
                return None;
            }
            self.pending = self.next_big_integer();
        }
    }

    /// Advances to the next integer literal beyond 64 bits.
    fn next_big_integer(&mut self) -> Option<(usize, BigInteger)> {
        while let Some(byte) = self.next_byte() {
            match byte {
                b'\n' => self.line += 1,
                b'"' => {
                    self.skip_string();
                    self.end_scalar();
                }
                b'[' | b'{' => self.depth += 1,
                b']' | b'}' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.layout == Layout::Values && self.depth == 0 {
                        self.value_index += 1;
                    }
                }
                b',' if self.layout == Layout::Array && self.depth == 1 => self.value_index += 1,
                b'-' | b'0'..=b'9' => {
                    let index = self.value_index;
                    let literal = self.read_number(byte);
                    self.end_scalar();
                    if is_big_integer(&literal) {
                        let line = self.line;
                        return Some((index, BigInteger { literal, line }));
                    }
                }
                b'a'..=b'z' => {
                    while self.bytes.next_if(|next| next.as_ref().is_ok_and(u8::is_ascii_lowercase)).is_some() {}
                    self.end_scalar();
                }
                _ => {}
            }
        }
        self.done = true;
        None
    }

    fn next_byte(&mut self) -> Option<u8> {
        match self.bytes.next() {
            Some(Ok(byte)) => Some(byte),
            // A read error ends the scan; the caller's own read reports it.
            Some(Err(_)) | None => None,
        }
    }

    /// Counts a scalar at the top level of a value sequence as a value.
    fn end_scalar(&mut self) {
        if self.layout == Layout::Values && self.depth == 0 {
            self.value_index += 1;
        }
    }

    fn skip_string(&mut self) {
        while let Some(byte) = self.next_byte() {
            match byte {
                b'\\' => {
                    self.next_byte();
                }
                b'"' => return,
                _ => {}
            }
        }
    }

    fn read_number(&mut self, first: u8) -> String {
        let mut literal = String::from(first as char);
        while let Some(Ok(byte)) = self
            .bytes
            .next_if(|next| next.as_ref().is_ok_and(|byte| matches!(byte, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')))
        {
            literal.push(byte as char);
        }
        literal
    }
}

/// Returns true for an integer literal (no fraction, no exponent) that fits
/// neither i64 nor u64.
fn is_big_integer(literal: &str) -> bool {
    let is_integer = !literal.contains(['.', 'e', 'E']);
    is_integer && literal.parse::<i64>().is_err() && literal.parse::<u64>().is_err()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn scanner(text: &str, layout: Layout) -> BigIntegerScanner<&[u8]> {
        BigIntegerScanner::new(text.as_bytes(), layout)
    }

    #[test]
    fn literal_path_names_nested_field() {
        let row = json!({"id": 1, "f": 1e30, "a": {"b": -99999999999999999999999.0}, "c": 2});
        assert!(has_large_float(&row));
        assert_eq!(path_of_literal(&row, "-99999999999999999999999").as_deref(), Some("a.b"));
    }

    #[test]
    fn small_numbers_are_not_large() {
        let row = json!({"i": i64::MIN, "u": u64::MAX, "f": 1.5e18, "list": [1, 2.5]});
        assert!(!has_large_float(&row));
    }

    #[test]
    fn scanner_finds_literal_in_its_array_element() {
        let text = "[\n {\"big\": 1e30},\n {\"s\": \"99999999999999999999999\", \"big\": -99999999999999999999999}\n]";
        let mut scanner = scanner(text, Layout::Array);

        assert_eq!(scanner.find_in_value(0), None, "1e30 is a float literal");
        let found = scanner.find_in_value(1).unwrap();
        assert_eq!(found.literal, "-99999999999999999999999");
        assert_eq!(found.line, 3);
    }

    #[test]
    fn scanner_keeps_later_literal_for_later_value() {
        let text = "[[1], {\"a\": [18446744073709551616]}]";
        let mut scanner = scanner(text, Layout::Array);

        assert_eq!(scanner.find_in_value(0), None);
        assert_eq!(scanner.find_in_value(1).unwrap().literal, "18446744073709551616");
        assert_eq!(scanner.find_in_value(2), None);
    }

    #[test]
    fn scanner_counts_top_level_values() {
        let text = "{\"a\": \"x\\\"1\"} 7 true \"s\" {\"b\": 123456789012345678901234}";
        let mut scanner = scanner(text, Layout::Values);

        assert_eq!(scanner.find_in_value(3), None);
        assert_eq!(scanner.find_in_value(4).unwrap().literal, "123456789012345678901234");
    }

    #[test]
    fn range_limits_are_not_big() {
        assert!(!is_big_integer("-9223372036854775808"));
        assert!(!is_big_integer("18446744073709551615"));
        assert!(is_big_integer("-9223372036854775809"));
        assert!(is_big_integer("18446744073709551616"));
        assert!(!is_big_integer("184467440737095516160.0"));
    }
}
