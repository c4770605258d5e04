//! Names and contents of dlt's own files in a filesystem dataset, as Python
//! dlt 1.31 writes them.
//!
//! Each is one compact JSON object without a trailing newline, with keys in
//! dlt's order (serde_json keeps insertion order in this workspace):
//!
//! ```text
//! <dataset>/init                                                  {"initial_version":2,"current_version":2}
//! <dataset>/_dlt_loads/<schema>__<load_id>.jsonl                  {"load_id","schema_name","status":0,"inserted_at","schema_version_hash"}
//! <dataset>/_dlt_version/<schema>__<time>__<hex>.jsonl            {"version_hash","schema_name","version","engine_version","inserted_at","schema"}
//! <dataset>/_dlt_pipeline_state/<pipeline>__<load_id>__<hex>.jsonl {"version","engine_version","pipeline_name","state","created_at","version_hash","_dlt_load_id"}
//! ```
//!
//! In both the version and the state file names, `<hex>` is the lowercase hex
//! of the base64-decoded schema version hash. `<time>` is the Unix time in
//! seconds when the version file was written.

use base64::Engine;
use plugin_sdk::PluginError;
use serde_json::json;

/// Folder of load records.
pub const LOADS_FOLDER: &str = "_dlt_loads";
/// Folder of stored schema versions.
pub const VERSION_FOLDER: &str = "_dlt_version";
/// Folder (and table) of pipeline states.
pub const STATE_FOLDER: &str = "_dlt_pipeline_state";
/// The dataset marker file.
pub const INIT_FILE: &str = "init";
/// Content of the dataset marker. Version 2 means that compressed data files
/// carry a `.gz` extension.
pub const INIT_CONTENT: &str = r#"{"initial_version":2,"current_version":2}"#;

/// Extension of every dlt file.
const JSONL: &str = ".jsonl";
/// Separator of the parts of a dlt file name.
const SEPARATOR: &str = "__";

/// One row of `_dlt_pipeline_state`, as it is stored in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRecord {
    pub version: i64,
    pub engine_version: i64,
    pub pipeline_name: String,
    /// base64 of the zlib-compressed typed-JSON state.
    pub state: String,
    /// ISO 8601 in UTC, as Python's `datetime.isoformat()` writes it.
    pub created_at: String,
    pub version_hash: Option<String>,
    pub load_id: String,
}

/// Returns the path of a file in a dataset.
pub fn dataset_path(dataset: &str, relative: &str) -> String {
    format!("{dataset}/{relative}")
}

/// Returns the lowercase hex of a base64 schema version hash.
///
/// Returns a `Terminal` error when the hash is not base64, because dlt could
/// not name or read the files either.
pub fn hash_hex(version_hash: &str) -> Result<String, PluginError> {
    base64::engine::general_purpose::STANDARD
        .decode(version_hash)
        .map(hex::encode)
        .map_err(|error| {
            PluginError::terminal(format!(
                "schema version hash {version_hash:?} is not base64, so the dataset files cannot be named"
            ))
            .with_source(&error)
        })
}

/// Returns `_dlt_loads/<schema>__<load_id>.jsonl`.
pub fn load_record_name(schema_name: &str, load_id: &str) -> String {
    format!("{LOADS_FOLDER}/{schema_name}{SEPARATOR}{load_id}{JSONL}")
}

/// Returns the content of a `_dlt_loads` file. `status` is always 0, the
/// only value dlt writes.
pub fn load_record(load_id: &str, schema_name: &str, inserted_at: &str, schema_version_hash: &str) -> String {
    json!({
        "load_id": load_id,
        "schema_name": schema_name,
        "status": 0,
        "inserted_at": inserted_at,
        "schema_version_hash": schema_version_hash,
    })
    .to_string()
}

/// Returns `_dlt_version/<schema>__<time>__<hex>.jsonl`.
pub fn version_file_name(schema_name: &str, time: &str, hash_hex: &str) -> String {
    format!("{VERSION_FOLDER}/{schema_name}{SEPARATOR}{time}{SEPARATOR}{hash_hex}{JSONL}")
}

/// Returns the content of a `_dlt_version` file; `schema_json` is stored as a
/// JSON string, not as a nested object.
pub fn version_record(
    version_hash: &str,
    schema_name: &str,
    version: u64,
    engine_version: u64,
    inserted_at: &str,
    schema_json: &str,
) -> String {
    json!({
        "version_hash": version_hash,
        "schema_name": schema_name,
        "version": version,
        "engine_version": engine_version,
        "inserted_at": inserted_at,
        "schema": schema_json,
    })
    .to_string()
}

/// Returns `_dlt_pipeline_state/<pipeline>__<load_id>__<hex>.jsonl`.
pub fn state_file_name(pipeline_name: &str, load_id: &str, schema_hash_hex: &str) -> String {
    format!("{STATE_FOLDER}/{pipeline_name}{SEPARATOR}{load_id}{SEPARATOR}{schema_hash_hex}{JSONL}")
}

/// Returns the content of a state file.
pub fn state_record(record: &StateRecord) -> String {
    json!({
        "version": record.version,
        "engine_version": record.engine_version,
        "pipeline_name": record.pipeline_name,
        "state": record.state,
        "created_at": record.created_at,
        "version_hash": record.version_hash,
        "_dlt_load_id": record.load_id,
    })
    .to_string()
}

/// Parses a state file's content; `None` when it is not a complete record,
/// such as a file truncated by a crash.
pub fn parse_state_record(content: &[u8]) -> Option<StateRecord> {
    let value: serde_json::Value = serde_json::from_slice(content).ok()?;
    let text = |key: &str| value.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
    Some(StateRecord {
        version: value.get("version")?.as_i64()?,
        engine_version: value.get("engine_version")?.as_i64()?,
        pipeline_name: text("pipeline_name")?,
        state: text("state")?,
        created_at: text("created_at")?,
        version_hash: text("version_hash"),
        load_id: text("_dlt_load_id")?,
    })
}

/// Splits a file name `<name>__<middle>__<hash>.jsonl` on its last two
/// separators, as dlt does, so `<name>` may itself contain `__`.
pub fn split_three(file_name: &str) -> Option<(&str, &str, &str)> {
    let stem = file_name.strip_suffix(JSONL)?;
    let (rest, hash) = stem.rsplit_once(SEPARATOR)?;
    let (name, middle) = rest.rsplit_once(SEPARATOR)?;
    (!name.is_empty() && !middle.is_empty()).then_some((name, middle, hash))
}

/// Splits a load record name `<schema>__<load_id>.jsonl` into its parts.
pub fn split_load_record(file_name: &str) -> Option<(&str, &str)> {
    let stem = file_name.strip_suffix(JSONL)?;
    let (schema, load_id) = stem.rsplit_once(SEPARATOR)?;
    (!schema.is_empty() && !load_id.is_empty()).then_some((schema, load_id))
}

/// Returns the last segment of a `/`-separated path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Returns a sort key for load ids and version times: the numeric value,
/// then the text, as dlt compares them with `float()`.
pub fn numeric_order(value: &str) -> (f64, &str) {
    (value.parse().unwrap_or(f64::NEG_INFINITY), value)
}

/// Formats microseconds since the Unix epoch as Python's
/// `datetime.isoformat()` of an aware UTC datetime: the fraction is left out
/// when it is zero.
pub fn iso_timestamp(micros: i64) -> String {
    let Some(time) = chrono::DateTime::from_timestamp_micros(micros) else {
        return String::new();
    };
    let seconds = time.format("%Y-%m-%dT%H:%M:%S");
    match time.timestamp_subsec_micros() {
        0 => format!("{seconds}+00:00"),
        fraction => format!("{seconds}.{fraction:06}+00:00"),
    }
}

/// Returns the current time as [`iso_timestamp`] formats it.
pub fn iso_now() -> String {
    iso_timestamp(chrono::Utc::now().timestamp_micros())
}

/// Returns the current Unix time in seconds as Python's `str(time.time())`
/// writes it: the shortest round-trip decimal, with at least one fraction
/// digit.
pub fn unix_time_now() -> String {
    let seconds = chrono::Utc::now().timestamp_micros() as f64 / 1_000_000.0;
    let text = seconds.to_string();
    if text.contains('.') { text } else { format!("{text}.0") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_hex_decodes_base64() {
        let hex = hash_hex("NakqlNHJ9/Q1n8Kt79uqtrTp0Q09rmsH91TTe4x2Wxo=").expect("valid base64");
        assert_eq!(hex, "35a92a94d1c9f7f4359fc2adefdbaab6b4e9d10d3dae6b07f754d37b8c765b1a");
    }

    #[test]
    fn load_record_matches_dlt() {
        let record = load_record("1.5", "shop", "2024-01-02T03:04:05.123456+00:00", "aGFzaA==");
        assert_eq!(
            record,
            r#"{"load_id":"1.5","schema_name":"shop","status":0,"inserted_at":"2024-01-02T03:04:05.123456+00:00","schema_version_hash":"aGFzaA=="}"#
        );
    }

    #[test]
    fn state_record_round_trips() {
        let record = StateRecord {
            version: 3,
            engine_version: 4,
            pipeline_name: "p".to_owned(),
            state: "eNqrVkpUsjKsBQAIKgIJ".to_owned(),
            created_at: "2024-01-02T03:04:05+00:00".to_owned(),
            version_hash: Some("h".to_owned()),
            load_id: "1.5".to_owned(),
        };
        let content = state_record(&record);
        assert!(content.starts_with(r#"{"version":3,"engine_version":4,"pipeline_name":"p","state":"#), "{content}");
        assert_eq!(parse_state_record(content.as_bytes()), Some(record));
    }

    #[test]
    fn truncated_state_ignored() {
        assert_eq!(parse_state_record(br#"{"version":3,"engine_ver"#), None);
    }

    #[test]
    fn split_uses_last_separators() {
        assert_eq!(split_three("my__pipe__1.5__abcd.jsonl"), Some(("my__pipe", "1.5", "abcd")));
        assert_eq!(split_three("pipe__abcd.jsonl"), None);
        assert_eq!(split_load_record("shop__1.5.jsonl"), Some(("shop", "1.5")));
    }

    #[test]
    fn iso_timestamp_like_python() {
        assert_eq!(iso_timestamp(1_704_164_645_123_456), "2024-01-02T03:04:05.123456+00:00");
        assert_eq!(iso_timestamp(1_704_164_645_000_000), "2024-01-02T03:04:05+00:00");
    }

    #[test]
    fn unix_time_has_fraction() {
        assert!(unix_time_now().contains('.'));
    }
}
