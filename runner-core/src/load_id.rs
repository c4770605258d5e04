//! Load ids, job file ids and row ids (`_dlt_id`) in dlt 1.31's formats.
//!
//! A load id is the Unix time in seconds as Python's `str(float)` renders it,
//! for example `1796413222.43807`. dlt processes packages in ascending string
//! order of load id and picks the newest state by the largest load id, so each
//! new id must be strictly greater than the previous one.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use rand::RngCore;

use crate::shake128::{Backend, shake128, shake128_many};

/// Number of bytes in a row id (`_dlt_id`): 14 base64 characters.
const ROW_ID_BYTES: usize = 10;

/// Number of base64 characters in a row id, without padding.
const ROW_ID_CHARS: usize = 14;

/// Job file ids handed out by this process so far; see [`new_file_id`].
static FILE_SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// Creates a load id from the current time, strictly greater than `previous`
/// when one is given.
///
/// When the clock has not moved past `previous` (same tick, or a clock set
/// back), the id is `previous` nudged to the next representable `f64`, as
/// dlt's `increasing_precise_time` does. A `previous` that is not a number is
/// ignored.
pub fn new_load_id(previous: Option<&str>) -> String {
    let now = unix_time_seconds();
    let previous = previous.and_then(|text| text.trim().parse::<f64>().ok());

    let seconds = match previous {
        Some(last) if now <= last => next_up(last),
        _ => now,
    };
    format_python_float(seconds)
}

/// Renders `value` as Python's `str(float)` does for values in the range of
/// Unix timestamps: the shortest text that round-trips, always with a
/// fractional part (`1796413222.0`, not `1796413222`).
// NOTE: Python switches to exponent notation at 1e16 and below 1e-4. Load ids
// stay far inside that range, so that branch is not implemented.
pub fn format_python_float(value: f64) -> String {
    let mut text = format!("{value}");
    if value.is_finite() && !text.contains('.') {
        text.push_str(".0");
    }
    text
}

/// Creates a job file id: 10 lowercase hex characters, as in dlt, made of
/// this process's next sequence number (8) and a random byte (2).
///
/// Job files are read and loaded in file name order, so a table's files must
/// sort in the order they were written. A merge keeps the last row of a key,
/// and with random ids a file rotated after a new column could load before
/// the older one. A package's files are all written by one process (an
/// interrupted stage is redone from scratch).
///
/// NOTE: after 2^32 files in one process the sequence wraps and the order
/// breaks.
pub fn new_file_id() -> String {
    let sequence = FILE_SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let random = rand::thread_rng().next_u32() as u8;
    format!("{sequence:08x}{random:02x}")
}

/// Creates a random root row id: 10 random bytes in standard base64 without
/// padding (14 characters that may include `+` and `/`).
pub fn new_row_id() -> String {
    let mut bytes = [0u8; ROW_ID_BYTES];
    rand::thread_rng().fill_bytes(&mut bytes);
    STANDARD_NO_PAD.encode(bytes)
}

/// Computes the deterministic `_dlt_id` of a nested row: SHAKE-128 over
/// `"<parent_id>_<table>_<index>"`, 10 bytes, base64 without padding.
pub fn nested_row_id(parent_id: &str, table: &str, index: usize) -> String {
    // Two underscores and at most 20 digits of a 64-bit index.
    let mut input = Vec::with_capacity(parent_id.len() + table.len() + 2 + 20);
    push_nested_row_input(&mut input, parent_id, table, index);
    shake_base64(&input)
}

/// Computes the `_dlt_id` of each nested row of `table`, given as parent
/// row id and list index, in the order of `rows`.
///
/// The ids equal [`nested_row_id`]'s. Inputs shorter than SHAKE-128's
/// 168-byte block are hashed four at a time when the CPU has AVX2.
pub fn nested_row_ids<'a>(
    table: &str,
    rows: impl IntoIterator<Item = (&'a str, usize)>,
) -> Vec<RowIdText> {
    nested_row_ids_with(Backend::detect(), table, rows)
}

fn nested_row_ids_with<'a>(
    backend: Backend,
    table: &str,
    rows: impl IntoIterator<Item = (&'a str, usize)>,
) -> Vec<RowIdText> {
    // All inputs share one buffer, so a batch allocates a few vectors
    // rather than one per row.
    let mut text = Vec::new();
    let mut ends = Vec::new();
    for (parent_id, index) in rows {
        push_nested_row_input(&mut text, parent_id, table, index);
        ends.push(text.len());
    }

    let mut inputs = Vec::with_capacity(ends.len());
    let mut start = 0;
    for end in ends {
        inputs.push(&text[start..end]);
        start = end;
    }

    shake128_many::<ROW_ID_BYTES>(backend, &inputs)
        .iter()
        .map(RowIdText::from_digest)
        .collect()
}

/// Appends the SHAKE-128 input of a nested row id, `"<parent_id>_<table>_<index>"`.
fn push_nested_row_input(input: &mut Vec<u8>, parent_id: &str, table: &str, index: usize) {
    // Joined by hand: `format!` cost as much as a fifth of the hash itself.
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = index;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }

    input.extend_from_slice(parent_id.as_bytes());
    input.push(b'_');
    input.extend_from_slice(table.as_bytes());
    input.push(b'_');
    input.extend_from_slice(&digits[start..]);
}

/// Computes the root `_dlt_id` used by the `upsert`, `insert-only` and `cdc`
/// merge strategies: SHAKE-128 over `key_json`, 10 bytes, base64 without
/// padding.
///
/// `key_json` must be the compact JSON of `{key column: value}` with sorted
/// keys, as dlt writes it (`{"id":1}` gives `z5jIxXIbUnmbKw`).
pub fn key_hash_row_id(key_json: &str) -> String {
    shake_base64(key_json.as_bytes())
}

fn shake_base64(input: &[u8]) -> String {
    STANDARD_NO_PAD.encode(shake128::<ROW_ID_BYTES>(input))
}

/// A row id (`_dlt_id`) stored inline: 14 base64 characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowIdText([u8; ROW_ID_CHARS]);

impl RowIdText {
    fn from_digest(digest: &[u8; ROW_ID_BYTES]) -> Self {
        let mut text = [0u8; ROW_ID_CHARS];
        let written = STANDARD_NO_PAD
            .encode_slice(digest, &mut text)
            .expect("the base64 of 10 bytes is 14 characters");
        debug_assert_eq!(written, ROW_ID_CHARS);
        RowIdText(text)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("base64 is ASCII")
    }
}

/// Returns the current Unix time in seconds, computed from nanoseconds as
/// CPython's `time.time()` does (one division of the integer nanosecond count).
fn unix_time_seconds() -> f64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    since_epoch.as_nanos() as f64 / 1e9
}

/// Returns the smallest `f64` greater than a finite, non-negative `value`
/// (Python's `math.nextafter(value, math.inf)` for the timestamps used here).
fn next_up(value: f64) -> f64 {
    if value.is_nan() || value == f64::INFINITY {
        return value;
    }
    if value == 0.0 {
        return f64::from_bits(1);
    }

    let bits = value.to_bits();
    let next_bits = if value > 0.0 { bits + 1 } else { bits - 1 };
    f64::from_bits(next_bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_float_integral() {
        assert_eq!(format_python_float(1796413222.0), "1796413222.0");
    }

    #[test]
    fn python_float_shortest() {
        assert_eq!(format_python_float(1796413222.43807), "1796413222.43807");
        assert_eq!(
            format_python_float(1796413223.4008563),
            "1796413223.4008563"
        );
    }

    #[test]
    fn load_id_has_fraction() {
        let id = new_load_id(None);
        assert!(id.contains('.'), "load id {id} has no fractional part");
        assert!(id.parse::<f64>().is_ok(), "load id {id} is not a number");
    }

    #[test]
    fn load_id_after_future_previous() {
        // A previous id far in the future forces the nudge to the next f64.
        let previous = "4102444800.5";
        let next = new_load_id(Some(previous));
        assert_eq!(next, "4102444800.5000005");
        assert!(next.as_str() > previous);
    }

    #[test]
    fn load_id_increases_in_loop() {
        let mut previous = new_load_id(None);
        for _ in 0..1000 {
            let next = new_load_id(Some(&previous));
            assert!(
                next.parse::<f64>().unwrap() > previous.parse::<f64>().unwrap(),
                "{next} <= {previous}"
            );
            previous = next;
        }
    }

    #[test]
    fn next_up_is_adjacent() {
        assert_eq!(next_up(1.0), 1.0000000000000002);
    }

    #[test]
    fn file_id_shape() {
        let id = new_file_id();
        assert_eq!(id.len(), 10);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
            "{id}"
        );
    }

    #[test]
    fn file_ids_sort_in_creation_order() {
        let ids: Vec<String> = (0..300).map(|_| new_file_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn row_id_shape() {
        let id = new_row_id();
        assert_eq!(id.len(), 14);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/'),
            "{id}"
        );
    }

    #[test]
    fn nested_row_id_matches_dlt() {
        assert_eq!(
            nested_row_id("L78eLfZY52D5FQ", "users__tags", 0),
            "M0RMfDthx0Z6yw"
        );
    }

    #[test]
    fn nested_row_id_hashes_decimal_index() {
        for index in [7, 10, 1234, usize::MAX] {
            let expected = shake_base64(format!("p_t_{index}").as_bytes());
            assert_eq!(nested_row_id("p", "t", index), expected, "index {index}");
        }
    }

    #[test]
    fn nested_row_ids_match_dlt() {
        let rows = [("L78eLfZY52D5FQ", 0); 5];
        for id in nested_row_ids("users__tags", rows) {
            assert_eq!(id.as_str(), "M0RMfDthx0Z6yw");
        }
    }

    #[test]
    fn nested_row_ids_match_single() {
        // Parent ids of 14 characters as dlt makes them, plus long ones, and
        // a table name long enough to push every input past one block.
        let parents: Vec<String> = (0..23)
            .map(|n| match n % 3 {
                0 => new_row_id(),
                1 => format!("parent-{n}-{}", "x".repeat(n * 7)),
                _ => String::new(),
            })
            .collect();
        let long_table = format!("events__{}", "nested_".repeat(24));

        for table in ["t", "users__tags", long_table.as_str()] {
            for count in [0, 1, 3, 4, 5, 8, 11, 23] {
                let rows: Vec<(&str, usize)> = parents[..count]
                    .iter()
                    .enumerate()
                    .map(|(index, parent)| (parent.as_str(), index * 1009))
                    .collect();
                let expected: Vec<String> = rows
                    .iter()
                    .map(|&(parent, index)| nested_row_id(parent, table, index))
                    .collect();

                for backend in crate::shake128::available_backends() {
                    let ids: Vec<String> =
                        nested_row_ids_with(backend, table, rows.iter().copied())
                            .iter()
                            .map(|id| id.as_str().to_owned())
                            .collect();
                    assert_eq!(
                        ids,
                        expected,
                        "{backend:?}, table of {} bytes, {count} rows",
                        table.len()
                    );
                }
            }
        }
    }

    #[test]
    fn key_hash_matches_dlt() {
        assert_eq!(key_hash_row_id(r#"{"id":1}"#), "z5jIxXIbUnmbKw");
    }
}
