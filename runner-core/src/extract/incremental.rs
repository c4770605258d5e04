//! Incremental loading: only rows whose cursor moved past the last value
//! kept in the pipeline state are extracted.
//!
//! The state lives where dlt keeps it, under
//! `sources.<source>.resources.<resource>.incremental.<cursor_path>`, with
//! dlt's keys `initial_value`, `last_value`, `unique_hashes` and
//! `start_value`, so a Python dlt pipeline of the same name continues from
//! the same cursor. The cursor only grows (dlt's `max`): a row whose cursor
//! is below the value at the start of the run is skipped, and a row whose
//! cursor equals it is skipped when its key hash is in `unique_hashes`.

use std::cmp::Ordering;
use std::collections::HashSet;

use arrow::record_batch::RecordBatch;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use serde_json::{Map, Value, json};
use sha3::Shake128;
use sha3::digest::{ExtendableOutput, Update, XofReader};

use super::resource::ItemSink;
use crate::schema::json_text::to_compact_string;
use crate::typed_json::{TypedValue, decode_str, parse_datetime_iso};
use crate::error::TerminalError;
use crate::{Error, Result};

/// An incremental cursor on a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Incremental {
    /// Field holding the cursor; a dotted path (`meta.updated_at`) reaches into objects.
    pub cursor_path: String,
    /// Rows below this value are skipped on the first run.
    pub initial_value: Option<Value>,
}

/// The cursor state of one run: where it started and how far it got.
pub(crate) struct CursorState {
    cursor_path: String,
    primary_key: Vec<String>,
    initial_value: Option<Value>,
    start_value: Option<Value>,
    start_hashes: HashSet<String>,
    last_value: Option<Value>,
    last_hashes: Vec<String>,
    /// Name of the start value in errors: the stored last value or `initial_value`.
    start_name: &'static str,
    /// True once a row has moved `last_value` past the start value.
    last_from_row: bool,
    resource: String,
    rows_seen: u64,
}

impl CursorState {
    /// Reads the cursor from the resource state (or the initial value).
    pub(crate) fn from_state(resource: &str, incremental: &Incremental, primary_key: &[String], state: &Map<String, Value>) -> Self {
        let stored = state
            .get("incremental")
            .and_then(|all| all.get(&incremental.cursor_path))
            .and_then(Value::as_object);

        let stored_last = stored
            .and_then(|cursor| cursor.get("last_value"))
            .filter(|value| !value.is_null())
            .cloned();
        let start_name = if stored_last.is_some() { "the stored last value" } else { INITIAL_VALUE };
        let start_value = stored_last.or_else(|| incremental.initial_value.clone());
        let start_hashes: HashSet<String> = stored
            .and_then(|cursor| cursor.get("unique_hashes"))
            .and_then(Value::as_array)
            .map(|hashes| hashes.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let initial_value = stored
            .and_then(|cursor| cursor.get("initial_value"))
            .cloned()
            .or_else(|| incremental.initial_value.clone());

        CursorState {
            cursor_path: incremental.cursor_path.clone(),
            primary_key: primary_key.to_vec(),
            initial_value,
            last_value: start_value.clone(),
            last_hashes: start_hashes.iter().cloned().collect(),
            start_value,
            start_hashes,
            start_name,
            last_from_row: false,
            resource: resource.to_owned(),
            rows_seen: 0,
        }
    }

    /// Returns whether `row` is new, and advances the cursor if so.
    fn accept(&mut self, row: &Value) -> Result<bool> {
        self.rows_seen += 1;
        let cursor = lookup(row, &self.cursor_path).filter(|value| !value.is_null()).ok_or_else(|| {
            // The row itself is left out of the message: it may hold personal data.
            self.data_error(
                "the row has no value there, and every row needs one; check that `cursor_path` names a field of the rows"
                    .to_owned(),
            )
        })?;

        let hash = self.row_hash(row);
        if let Some(start) = &self.start_value {
            match compare(cursor, start, self.start_name).map_err(|message| self.data_error(message))? {
                Ordering::Less => return Ok(false),
                Ordering::Equal if self.start_hashes.contains(&hash) => return Ok(false),
                _ => {}
            }
        }

        let ordering = match &self.last_value {
            Some(last) => {
                let against = if self.last_from_row { "the value of an earlier row" } else { self.start_name };
                compare(cursor, last, against).map_err(|message| self.data_error(message))?
            }
            None => Ordering::Greater,
        };
        match ordering {
            Ordering::Greater => {
                self.last_value = Some(cursor.clone());
                self.last_hashes = vec![hash];
                self.last_from_row = true;
            }
            Ordering::Equal => {
                if !self.last_hashes.contains(&hash) {
                    self.last_hashes.push(hash);
                }
            }
            Ordering::Less => {}
        }
        Ok(true)
    }

    /// Builds the terminal error of the current row, which is counted across
    /// the resource's input files.
    fn data_error(&self, message: String) -> Error {
        Error::Resource {
            resource: self.resource.clone(),
            source: Box::new(TerminalError::new(format!(
                "incremental cursor `{}`, row {} of the resource: {message}",
                self.cursor_path, self.rows_seen
            ))),
        }
    }

    /// The dedup hash dlt keeps for rows at the last value: of the primary
    /// key when there is one, of the whole row otherwise.
    fn row_hash(&self, row: &Value) -> String {
        let keyed = match self.primary_key.as_slice() {
            [] => row.clone(),
            [single] => lookup(row, single).cloned().unwrap_or(Value::Null),
            many => Value::Array(many.iter().map(|key| lookup(row, key).cloned().unwrap_or(Value::Null)).collect()),
        };
        let text = to_compact_string(&keyed, true);

        let mut hasher = Shake128::default();
        hasher.update(text.as_bytes());
        let mut digest = [0u8; 9];
        hasher.finalize_xof().read(&mut digest);
        STANDARD_NO_PAD.encode(digest)
    }

    /// Writes the cursor back into the resource state.
    pub(crate) fn store(&self, state: &mut Map<String, Value>) {
        let all = state.entry("incremental").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(all) = all {
            all.insert(
                self.cursor_path.clone(),
                json!({
                    "initial_value": self.initial_value,
                    "last_value": self.last_value,
                    "unique_hashes": self.last_hashes,
                    "start_value": self.start_value,
                }),
            );
        }
    }
}

/// Passes on only the rows that are new for the cursor.
pub(crate) struct IncrementalSink<'a> {
    pub inner: &'a mut dyn ItemSink,
    pub cursor: &'a mut CursorState,
    pub skipped: u64,
}

impl ItemSink for IncrementalSink<'_> {
    fn push_row(&mut self, row: Value) -> Result<()> {
        if self.cursor.accept(&row)? {
            self.inner.push_row(row)
        } else {
            self.skipped += 1;
            Ok(())
        }
    }

    fn push_batch(&mut self, _batch: RecordBatch) -> Result<()> {
        // NOTE: cursors over Arrow input (Parquet files) are not filtered yet.
        Err(Error::config(format!(
            "resource `{}`: an incremental cursor is not supported for Arrow or Parquet input yet; remove `incremental` or use JSON, JSON Lines or CSV",
            self.cursor.resource
        )))
    }
}

/// Name of the configured start value in errors.
const INITIAL_VALUE: &str = "`initial_value`";

fn lookup<'v>(row: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(row, |value, key| value.get(key))
}

/// Orders two cursor values: numbers numerically, datetimes (ISO text or
/// dlt typed values) by instant, other text by code point. `against`
/// describes `right` in the error.
fn compare(left: &Value, right: &Value, against: &str) -> std::result::Result<Ordering, String> {
    if let (Some(a), Some(b)) = (left.as_f64(), right.as_f64()) {
        return Ok(a.partial_cmp(&b).unwrap_or(Ordering::Equal));
    }
    if let (Value::String(a), Value::String(b)) = (left, right) {
        if let (Some(a), Some(b)) = (as_instant(a), as_instant(b)) {
            return Ok(a.cmp(&b));
        }
        return Ok(a.cmp(b));
    }
    let fix = if against == INITIAL_VALUE { "in every row and in `initial_value`" } else { "in every row" };
    Err(format!(
        "the cursor value is {}, which cannot be compared with {against}, which is {}; give the cursor one type {fix}",
        plugin_sdk::protocol::json_type_name(left),
        plugin_sdk::protocol::json_type_name(right),
    ))
}

fn as_instant(text: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    match decode_str(text) {
        Some(TypedValue::DateTime(value)) => Some(value),
        Some(_) => None,
        None => parse_datetime_iso(text),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cursor(initial_value: Option<Value>) -> CursorState {
        let incremental = Incremental {
            cursor_path: "ts".to_owned(),
            initial_value,
        };
        CursorState::from_state("events", &incremental, &[], &Map::new())
    }

    #[test]
    fn missing_cursor_names_row() {
        let mut state = cursor(None);
        state.accept(&json!({"ts": 1})).unwrap();

        let error = state.accept(&json!({"id": 2})).unwrap_err().to_string();

        assert!(error.contains("incremental cursor `ts`, row 2 of the resource"), "{error}");
        assert!(error.contains("check that `cursor_path` names a field"), "{error}");
    }

    #[test]
    fn type_change_between_rows_named() {
        let mut state = cursor(None);
        state.accept(&json!({"ts": 5})).unwrap();

        let error = state.accept(&json!({"ts": "later"})).unwrap_err().to_string();

        assert!(error.contains("row 2"), "{error}");
        assert!(
            error.contains("the cursor value is a string, which cannot be compared with the value of an earlier row, which is a number"),
            "{error}"
        );
        assert!(!error.contains("initial_value"), "{error}");
    }

    #[test]
    fn type_change_against_initial_value_named() {
        let mut state = cursor(Some(json!("2024-01-01")));

        let error = state.accept(&json!({"ts": 5})).unwrap_err().to_string();

        assert!(error.contains("compared with `initial_value`, which is a string"), "{error}");
        assert!(error.contains("in every row and in `initial_value`"), "{error}");
    }
}
