//! Pipeline state: `state.json`, its hash and its compressed form.
//!
//! The state is a typed JSON document (see [`crate::typed_json`]) kept as an
//! ordered map, so that values this crate does not model (source state,
//! incremental cursors, keys added by newer dlt versions) survive unchanged.
//! The `_local` section stays on this machine: it is never hashed, compressed
//! or sent to a destination.

use std::fs;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use rand::RngCore;
use serde_json::{Map, Value};
use sha3::{Digest, Sha3_256};

use crate::schema::json_text::to_compact_string;
use crate::typed_json::{TypedValue, encode};
use crate::{Error, Result};

/// State engine version of dlt 1.31.
pub const STATE_ENGINE_VERSION: u64 = 4;

/// Keys that the state hash leaves out.
const UNHASHED_KEYS: [&str; 4] = [
    "_local",
    "_state_version",
    "_state_engine_version",
    "_version_hash",
];

const LOCAL: &str = "_local";
const STATE_VERSION: &str = "_state_version";
const ENGINE_VERSION: &str = "_state_engine_version";
const VERSION_HASH: &str = "_version_hash";
const LAST_EXTRACTED_HASH: &str = "_last_extracted_hash";
const LAST_EXTRACTED_AT: &str = "_last_extracted_at";

/// zlib level of the state blob, as dlt compresses it.
const BLOB_COMPRESSION_LEVEL: u32 = 9;

/// The pipeline state document.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineState {
    document: Map<String, Value>,
}

impl PipelineState {
    /// Creates the state that dlt 1.31 has at the end of a pipeline's first
    /// run that stored no source or resource state.
    ///
    /// dlt hashes the state once when the pipeline is created (version 0,
    /// before a schema exists) and again after the default schema was added,
    /// so a first run ends at `_state_version` 1. This function repeats both
    /// steps, so the version and hash match dlt's. `destination_name` is
    /// null, which dlt writes when the destination has its default name.
    /// `_local.initial_cwd` is the current working directory.
    // NOTE: dlt's top-level key order varies between processes (it iterates a
    // Python set). The order here is the one a `pipeline.run()` wrote in a
    // test run. Readers do not depend on it and the hash sorts keys.
    pub fn new(
        pipeline_name: &str,
        dataset_name: &str,
        default_schema_name: &str,
        destination_type: &str,
    ) -> Self {
        let initial_cwd = std::env::current_dir()
            .map(|path| path.to_string_lossy().into_owned())
            .unwrap_or_default();

        let mut local = Map::new();
        local.insert("first_run".to_owned(), Value::Bool(true));
        local.insert("_dev_mode".to_owned(), Value::Bool(false));
        local.insert("initial_cwd".to_owned(), Value::String(initial_cwd));
        local.insert("last_run_context".to_owned(), Value::Null);

        let mut document = Map::new();
        document.insert(STATE_VERSION.to_owned(), Value::from(0));
        document.insert(ENGINE_VERSION.to_owned(), Value::from(STATE_ENGINE_VERSION));
        document.insert(LOCAL.to_owned(), Value::Object(local));
        document.insert("schema_names".to_owned(), Value::Array(Vec::new()));
        document.insert("default_schema_name".to_owned(), Value::Null);
        document.insert("dataset_name".to_owned(), Value::from(dataset_name));
        document.insert("pipeline_name".to_owned(), Value::from(pipeline_name));
        document.insert("destination_type".to_owned(), Value::from(destination_type));
        document.insert("destination_name".to_owned(), Value::Null);
        let mut state = PipelineState { document };

        // Hash as at pipeline creation, then add the schema and hash again.
        state.bump_version();
        state.document.insert(
            "schema_names".to_owned(),
            Value::from(vec![default_schema_name]),
        );
        state.document.insert(
            "default_schema_name".to_owned(),
            Value::from(default_schema_name),
        );
        state.bump_version();
        state
    }

    /// Wraps a state document, for example one restored from a destination.
    pub fn from_map(document: Map<String, Value>) -> Self {
        PipelineState { document }
    }

    /// Returns the state document.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.document
    }

    /// Returns the state document for changes. Call [`Self::bump_version`]
    /// after changing it.
    pub fn as_map_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.document
    }

    /// Reads `state.json`; returns `None` when the file does not exist.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be read, and [`Error::Config`] when
    /// it is not a JSON object or comes from another state engine version.
    pub fn load(path: &Path) -> Result<Option<Self>> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(Error::io("read pipeline state", path, error)),
        };

        let state = Self::from_json(&text).map_err(|error| {
            Error::config(format!(
                "invalid pipeline state file `{}`: {error}",
                path.display()
            ))
        })?;
        Ok(Some(state))
    }

    /// Writes `state.json` atomically: the text goes to a temporary file in
    /// the same folder, which is then renamed over `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when writing or renaming fails.
    pub fn save(&self, path: &Path) -> Result<()> {
        let folder = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let temp_path = folder.join(format!("{}.tmp", random_hex(8)));

        let write_result = write_synced(&temp_path, self.to_json().as_bytes());
        if let Err(error) = write_result {
            // Best effort: the temporary file is garbage either way.
            let _ = fs::remove_file(&temp_path);
            return Err(Error::io("write pipeline state", &temp_path, error));
        }

        fs::rename(&temp_path, path).map_err(|error| {
            let _ = fs::remove_file(&temp_path);
            Error::io("replace pipeline state", path, error)
        })
    }

    /// Serializes the whole state, `_local` included, as dlt writes
    /// `state.json`: compact typed JSON in key order, no trailing newline.
    pub fn to_json(&self) -> String {
        to_compact_string(&Value::Object(self.document.clone()), false)
    }

    /// Parses a state document from typed JSON text.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the text is not a JSON object or its
    /// `_state_engine_version` is not 4.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text)
            .map_err(|error| Error::config(format!("pipeline state is not valid JSON: {error}")))?;
        let Value::Object(document) = value else {
            return Err(Error::config("pipeline state is not a JSON object"));
        };

        let engine_version = document.get(ENGINE_VERSION).and_then(Value::as_u64);
        if engine_version != Some(STATE_ENGINE_VERSION) {
            return Err(Error::config(format!(
                "pipeline state has `{ENGINE_VERSION}` {}, but only {STATE_ENGINE_VERSION} (dlt 1.31) is supported; \
                 run the pipeline once with dlt 1.31 to migrate it",
                engine_version.map_or_else(|| "missing".to_owned(), |version| version.to_string())
            )));
        }
        Ok(PipelineState { document })
    }

    /// Computes the state hash as dlt does: SHA3-256 over the compact,
    /// key-sorted typed JSON of the state without `_local`,
    /// `_state_version`, `_state_engine_version` and `_version_hash`, in
    /// standard base64 with padding.
    pub fn compute_hash(&self) -> String {
        let hashed: Map<String, Value> = self
            .document
            .iter()
            .filter(|(key, _)| !UNHASHED_KEYS.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();

        let digest = Sha3_256::digest(to_compact_string(&Value::Object(hashed), true).as_bytes());
        STANDARD.encode(digest)
    }

    /// Recomputes the hash and increments `_state_version` when it differs
    /// from `_version_hash`. Returns true when `_version_hash` changed.
    ///
    /// The first hash (no `_version_hash` yet) is stored without a bump, as
    /// dlt does.
    pub fn bump_version(&mut self) -> bool {
        let hash = self.compute_hash();
        let previous = self.version_hash().map(str::to_owned);
        if previous.as_deref() == Some(hash.as_str()) {
            return false;
        }

        if previous.is_some() {
            let version = self.version() + 1;
            self.document
                .insert(STATE_VERSION.to_owned(), Value::from(version));
        }
        self.document
            .insert(VERSION_HASH.to_owned(), Value::String(hash));
        true
    }

    /// Encodes the state for the `state` column of `_dlt_pipeline_state`: the
    /// state without `_local` as compact typed JSON in key order, compressed
    /// with zlib (level 9, with header), in standard base64 with padding.
    pub fn to_blob(&self) -> String {
        let json = to_compact_string(&Value::Object(self.without_local()), false);

        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::new(BLOB_COMPRESSION_LEVEL));
        encoder
            .write_all(json.as_bytes())
            .expect("compressing into memory cannot fail");
        let compressed = encoder
            .finish()
            .expect("compressing into memory cannot fail");

        STANDARD.encode(compressed)
    }

    /// Decodes a `state` column value. Text that is not strict base64 is
    /// parsed as plain typed JSON, as dlt does for older rows.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when valid base64 does not hold zlib data, or the
    /// decoded text is not a state document.
    pub fn from_blob(text: &str) -> Result<Self> {
        let Ok(compressed) = STANDARD.decode(text.trim()) else {
            return Self::from_json(text);
        };

        let mut json = String::new();
        std::io::Read::read_to_string(&mut ZlibDecoder::new(compressed.as_slice()), &mut json)
            .map_err(|error| {
                Error::config(format!(
                    "pipeline state blob is not valid zlib data: {error}"
                ))
            })?;
        Self::from_json(&json)
    }

    /// Returns true when the current `_version_hash` has not been extracted
    /// yet (it differs from `_local._last_extracted_hash`). An unchanged state
    /// writes no new `_dlt_pipeline_state` row.
    pub fn needs_extract(&self) -> bool {
        let extracted = self
            .local()
            .and_then(|local| local.get(LAST_EXTRACTED_HASH))
            .and_then(Value::as_str);
        extracted != self.version_hash()
    }

    /// Records that the current `_version_hash` was extracted at `at`: sets
    /// `_local._last_extracted_hash` and `_local._last_extracted_at` (a typed
    /// datetime). Call it after [`Self::bump_version`].
    pub fn mark_extracted(&mut self, at: DateTime<Utc>) {
        let hash = self.version_hash().map_or(Value::Null, Value::from);
        let extracted_at = encode(&TypedValue::DateTime(at.fixed_offset()));

        let local = self.local_mut();
        local.insert(LAST_EXTRACTED_AT.to_owned(), Value::String(extracted_at));
        local.insert(LAST_EXTRACTED_HASH.to_owned(), hash);
    }

    /// Returns the `_local` section for changes, creating it when missing.
    pub fn local_mut(&mut self) -> &mut Map<String, Value> {
        object_entry(&mut self.document, LOCAL)
    }

    /// Returns the `_local` section.
    pub fn local(&self) -> Option<&Map<String, Value>> {
        self.document.get(LOCAL).and_then(Value::as_object)
    }

    /// Returns the state of a source (`sources.<source>`), creating it when
    /// missing.
    pub fn source_state_mut(&mut self, source: &str) -> &mut Map<String, Value> {
        let sources = object_entry(&mut self.document, "sources");
        object_entry(sources, source)
    }

    /// Returns the state of a resource
    /// (`sources.<source>.resources.<resource>`), creating it when missing.
    pub fn resource_state_mut(&mut self, source: &str, resource: &str) -> &mut Map<String, Value> {
        let resources = object_entry(self.source_state_mut(source), "resources");
        object_entry(resources, resource)
    }

    /// Returns the state of a resource, if it exists.
    pub fn resource_state(&self, source: &str, resource: &str) -> Option<&Map<String, Value>> {
        self.document
            .get("sources")?
            .get(source)?
            .get("resources")?
            .get(resource)?
            .as_object()
    }

    /// Returns `pipeline_name`, or an empty string when it is missing.
    pub fn pipeline_name(&self) -> &str {
        self.string_field("pipeline_name").unwrap_or_default()
    }

    /// Returns `dataset_name`; dlt stores null for a pipeline without one.
    pub fn dataset_name(&self) -> Option<&str> {
        self.string_field("dataset_name")
    }

    /// Returns `default_schema_name`.
    pub fn default_schema_name(&self) -> Option<&str> {
        self.string_field("default_schema_name")
    }

    /// Returns `destination_type`, for example `dlt.destinations.duckdb`.
    pub fn destination_type(&self) -> Option<&str> {
        self.string_field("destination_type")
    }

    /// Returns `schema_names`, sorted as dlt stores them.
    pub fn schema_names(&self) -> Vec<String> {
        self.document
            .get("schema_names")
            .and_then(Value::as_array)
            .map(|names| {
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Returns `_state_version` (0 when missing).
    pub fn version(&self) -> u64 {
        self.document
            .get(STATE_VERSION)
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    /// Returns `_version_hash`, if the state has been hashed.
    pub fn version_hash(&self) -> Option<&str> {
        self.string_field(VERSION_HASH)
    }

    fn string_field(&self, key: &str) -> Option<&str> {
        self.document.get(key).and_then(Value::as_str)
    }

    fn without_local(&self) -> Map<String, Value> {
        self.document
            .iter()
            .filter(|(key, _)| key.as_str() != LOCAL)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }
}

/// Returns the object under `key`, inserting an empty one when the key is
/// missing. A value that is not an object is replaced, with a warning.
fn object_entry<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        tracing::warn!(key, found = %entry, "pipeline state value is not an object; replacing it with an empty object");
        *entry = Value::Object(Map::new());
    }
    entry
        .as_object_mut()
        .expect("the entry was just made an object")
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn random_hex(byte_count: usize) -> String {
    let mut bytes = vec![0u8; byte_count];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// `state.json` written by dlt 1.31 after one `pipeline.run()` of an
    /// incremental resource with a datetime cursor (`_local` paths shortened).
    const DLT_STATE_JSON: &str = concat!(
        r#"{"_state_version":1,"_state_engine_version":4,"_local":{"first_run":false,"_dev_mode":false,"initial_cwd":"/w","#,
        r#""last_run_context":{"settings_dir":"/w/.dlt","local_dir":"/w","run_dir":"/w","uri":"file:///w"},"#,
        "\"_last_extracted_at\":\"\u{f027}2026-12-04T22:14:12.411739+00:00\",",
        r#""_last_extracted_hash":"8kQ2fWKocHQdP0QWfxdOSQzqQgW3E0etCew1e1ApP04="},"#,
        r#""schema_names":["nested_p"],"default_schema_name":"nested_p","dataset_name":"ds","pipeline_name":"nested_p","#,
        r#""destination_type":"dlt.destinations.duckdb","destination_name":null,"#,
        r#""_version_hash":"8kQ2fWKocHQdP0QWfxdOSQzqQgW3E0etCew1e1ApP04=","#,
        r#""sources":{"nested_p":{"resources":{"users":{"incremental":{"updated_at":{"#,
        "\"initial_value\":\"\u{f027}2024-01-01T00:00:00+00:00\",",
        "\"last_value\":\"\u{f027}2024-05-01T04:00:00.123456+00:00\",",
        r#""unique_hashes":["Tp44cKMYfAuJ"],"#,
        "\"start_value\":\"\u{f027}2024-01-01T00:00:00+00:00\"}}}}}}}"
    );

    /// The `state` column that dlt loaded into `_dlt_pipeline_state` for
    /// [`DLT_STATE_JSON`].
    const DLT_STATE_BLOB: &str = "eNqNUdtKAzEQ/Ze8Wkt2m4os+FBEEIvYxUIRkRA3s21omqabSb0h+Dd+nr/g7K61i/pgGMJw5sycOcwLkwEVgtxCFczasSzp7SBwc+M6FdFjoVjASkmnVhBYdsscBAQtPbvrMQ2lihZlh8OyPYMIClUA3FV0IMwbD7ZW+YNOqXEKSVvik29aLPY7cOjrWCz1/Q9yO8pFa8nK1/ZyocKCJhwv87ScjdfFea4nPJ+Vj/rqOn/e5PPZ4IwDnsJDAsnIT7g4obFhHauitvqy34zyCjqFGEiiTowrKliBQ2Ub3JNh6lDYFg0aZeVW2Vhb+Xh7T3kqDnlCMeU8a+Kg+UnYqoC/ucOGK1puP0kHYnj03RKd2URojLbHmXohivHlTTmKF/WB6KoV/m+B1/Z9ApTztiA=";

    const DLT_STATE_HASH: &str = "8kQ2fWKocHQdP0QWfxdOSQzqQgW3E0etCew1e1ApP04=";

    fn dlt_state() -> PipelineState {
        PipelineState::from_json(DLT_STATE_JSON).expect("dlt state parses")
    }

    #[test]
    fn hash_matches_dlt() {
        assert_eq!(dlt_state().compute_hash(), DLT_STATE_HASH);
    }

    #[test]
    fn blob_matches_dlt() {
        assert_eq!(dlt_state().to_blob(), DLT_STATE_BLOB);
    }

    #[test]
    fn blob_decodes_dlt_row() {
        let decoded = PipelineState::from_blob(DLT_STATE_BLOB).unwrap();
        let mut expected = dlt_state();
        expected.as_map_mut().shift_remove("_local");
        assert_eq!(decoded, expected);
    }

    #[test]
    fn blob_round_trip_keeps_hash() {
        let state = dlt_state();
        let decoded = PipelineState::from_blob(&state.to_blob()).unwrap();
        assert_eq!(decoded.compute_hash(), DLT_STATE_HASH);
        assert!(decoded.local().is_none());
    }

    #[test]
    fn blob_falls_back_to_json() {
        let plain = r#"{"_state_version":3,"_state_engine_version":4,"pipeline_name":"p"}"#;
        let state = PipelineState::from_blob(plain).unwrap();
        assert_eq!(state.version(), 3);
        assert_eq!(state.pipeline_name(), "p");
    }

    #[test]
    fn blob_rejects_bad_zlib() {
        assert!(PipelineState::from_blob("AAAA").is_err());
    }

    #[test]
    fn json_matches_dlt_bytes() {
        assert_eq!(dlt_state().to_json(), DLT_STATE_JSON);
    }

    #[test]
    fn new_matches_dlt_first_run() {
        // dlt 1.31 `state.json` after `extract()` + `normalize()` of a stateless resource.
        let state = PipelineState::new("ext_p", "ds", "ext_p", "dlt.destinations.duckdb");
        assert_eq!(state.version(), 1);
        assert_eq!(
            state.version_hash(),
            Some("dEZ8uIOEkxtLZx5T42y+dHTZDhoJxEV14OVEUC+HmNU=")
        );
        assert!(state.needs_extract());
    }

    #[test]
    fn new_key_order() {
        let state = PipelineState::new("p", "ds", "p", "dlt.destinations.duckdb");
        let keys: Vec<&str> = state.as_map().keys().map(String::as_str).collect();
        let expected = [
            "_state_version",
            "_state_engine_version",
            "_local",
            "schema_names",
            "default_schema_name",
            "dataset_name",
            "pipeline_name",
            "destination_type",
            "destination_name",
            "_version_hash",
        ];
        assert_eq!(keys, expected);
    }

    #[test]
    fn accessors() {
        let state = dlt_state();
        assert_eq!(state.pipeline_name(), "nested_p");
        assert_eq!(state.dataset_name(), Some("ds"));
        assert_eq!(state.default_schema_name(), Some("nested_p"));
        assert_eq!(state.destination_type(), Some("dlt.destinations.duckdb"));
        assert_eq!(state.schema_names(), vec!["nested_p".to_owned()]);
        assert_eq!(state.version(), 1);
        assert_eq!(state.version_hash(), Some(DLT_STATE_HASH));
    }

    #[test]
    fn bump_first_hash_keeps_version() {
        let mut state = dlt_state();
        state.as_map_mut().shift_remove("_version_hash");
        assert!(state.bump_version());
        assert_eq!(state.version(), 1);
        assert_eq!(state.version_hash(), Some(DLT_STATE_HASH));
    }

    #[test]
    fn bump_unchanged() {
        let mut state = dlt_state();
        assert!(!state.bump_version());
        assert_eq!(state.version(), 1);
    }

    #[test]
    fn bump_ignores_local() {
        let mut state = dlt_state();
        state
            .local_mut()
            .insert("first_run".to_owned(), Value::Bool(true));
        assert!(!state.bump_version());
    }

    #[test]
    fn bump_after_resource_change() {
        let mut state = dlt_state();
        state
            .resource_state_mut("nested_p", "users")
            .insert("seen".to_owned(), Value::from(1));
        assert!(state.bump_version());
        assert_eq!(state.version(), 2);
        assert_ne!(state.version_hash(), Some(DLT_STATE_HASH));
    }

    #[test]
    fn extract_tracking() {
        let mut state = dlt_state();
        assert!(!state.needs_extract());

        state
            .resource_state_mut("nested_p", "users")
            .insert("seen".to_owned(), Value::from(1));
        state.bump_version();
        assert!(state.needs_extract());

        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        state.mark_extracted(at);
        assert!(!state.needs_extract());
        assert_eq!(
            state.local().unwrap()["_last_extracted_at"],
            "\u{f027}2026-01-02T03:04:05+00:00"
        );
    }

    #[test]
    fn resource_state_path() {
        let mut state = PipelineState::new("p", "ds", "p", "dlt.destinations.duckdb");
        assert!(state.resource_state("src", "res").is_none());

        state
            .resource_state_mut("src", "res")
            .insert("k".to_owned(), Value::from("v"));
        assert_eq!(state.resource_state("src", "res").unwrap()["k"], "v");
        assert_eq!(
            state.as_map()["sources"]["src"]["resources"]["res"]["k"],
            "v"
        );
    }

    #[test]
    fn resource_state_reads_dlt_cursor() {
        let state = dlt_state();
        let users = state.resource_state("nested_p", "users").unwrap();
        let last_value = users["incremental"]["updated_at"]["last_value"]
            .as_str()
            .unwrap();
        let decoded = crate::typed_json::decode_str(last_value);
        assert!(
            matches!(decoded, Some(TypedValue::DateTime(_))),
            "{last_value}"
        );
    }

    #[test]
    fn save_and_load() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("state.json");
        let state = dlt_state();

        state.save(&path).unwrap();
        let loaded = PipelineState::load(&path)
            .unwrap()
            .expect("state file exists");
        assert_eq!(loaded, state);
        assert_eq!(fs::read_to_string(&path).unwrap(), DLT_STATE_JSON);

        let leftovers = fs::read_dir(folder.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn load_missing_file() {
        let folder = tempfile::tempdir().unwrap();
        assert!(
            PipelineState::load(&folder.path().join("state.json"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn load_rejects_old_engine() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("state.json");
        fs::write(&path, r#"{"_state_version":1,"_state_engine_version":3}"#).unwrap();
        let error = PipelineState::load(&path).unwrap_err();
        assert!(
            error.to_string().contains("_state_engine_version"),
            "{error}"
        );
    }
}
