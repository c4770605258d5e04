//! JSON documents exchanged between the runner and its plugins.
//!
//! Every type here is serialized with `serde_json` before it crosses the FFI
//! boundary. New fields are added with `#[serde(default)]` so that a plugin
//! built against an older protocol keeps working within one ABI version.

use serde::{Deserialize, Serialize};

/// Static facts about a plugin library, reported before it is opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// The type name users write in `dlt.yml`, such as `duckdb`.
    pub name: String,
    /// The plugin crate's own version.
    pub version: String,
    /// The plugin SDK (ABI) version the library was built against.
    pub abi_version: String,
    pub description: String,
}

/// A destination's capabilities, from which the runner plans load packages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationCapabilities {
    /// Load file format the runner should write, such as `parquet`.
    pub preferred_loader_file_format: String,
    pub supported_loader_file_formats: Vec<String>,
    /// Write dispositions this destination implements: `append`, `replace`, `merge`.
    pub supported_write_dispositions: Vec<String>,
    /// Maximum identifier length in characters; `None` means no limit.
    #[serde(default)]
    pub max_identifier_length: Option<usize>,
    /// True when a whole load package commits atomically, so a package is
    /// applied either completely or not at all.
    #[serde(default)]
    pub atomic_packages: bool,
}

/// The column hints a destination needs to create, migrate or merge a table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSpec {
    pub name: String,
    /// dlt data type: `text`, `double`, `bool`, `timestamp`, `bigint`,
    /// `binary`, `json`, `decimal`, `wei`, `date` or `time`.
    pub data_type: String,
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
    /// `Some(false)` for timestamps stored without a time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<bool>,
    /// Part of the primary key: `merge` replaces stored rows with the same key.
    #[serde(default, skip_serializing_if = "is_false")]
    pub primary_key: bool,
    /// Part of the merge key: `merge` deletes stored rows with the same key
    /// before it inserts the package's rows.
    #[serde(default, skip_serializing_if = "is_false")]
    pub merge_key: bool,
    /// The root key of a nested table (`_dlt_root_id`): the `_dlt_id` of the
    /// root row it belongs to.
    #[serde(default, skip_serializing_if = "is_false")]
    pub root_key: bool,
    /// The row key (`_dlt_id`) that identifies a row.
    #[serde(default, skip_serializing_if = "is_false")]
    pub row_key: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// One table of the package's schema, with every column known so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSpec {
    pub name: String,
    pub write_disposition: String,
    /// Merge strategy of a `merge` root table: `delete-insert` (the default
    /// when `None`) or `upsert`. Nested tables carry their root's strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_strategy: Option<String>,
    /// Parent table for nested (child) tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub columns: Vec<ColumnSpec>,
}

/// One load job: a file of rows for one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadJob {
    /// Job id as dlt names it: `<table>.<file_id>.<ext>`.
    pub job_id: String,
    pub table_name: String,
    /// Absolute path of the job file on the runner's machine.
    pub file_path: String,
    /// `parquet` for every job the runner writes today.
    pub file_format: String,
    /// Number of rows in the file.
    pub row_count: u64,
}

/// The schema as stored in `_dlt_version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaVersion {
    pub name: String,
    pub version: u64,
    pub engine_version: u64,
    pub version_hash: String,
    /// The full schema document as compact JSON, exactly as dlt stores it.
    pub schema_json: String,
}

/// Loads one normalized load package.
///
/// A destination with `atomic_packages` applies all of it in one transaction:
/// schema migration, truncation of `truncate_tables`, every job, and finally
/// the `_dlt_loads` row with status 0. If `_dlt_loads` already holds
/// `load_id`, the package was committed before and nothing is applied again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadRequest {
    pub pipeline_name: String,
    pub load_id: String,
    /// Dataset name after normalization (a DuckDB schema, a bucket folder).
    pub dataset_name: String,
    pub schema: SchemaVersion,
    /// Tables that must exist with at least these columns before loading.
    pub tables: Vec<TableSpec>,
    /// Tables emptied before the jobs run (write disposition `replace`).
    #[serde(default)]
    pub truncate_tables: Vec<String>,
    pub jobs: Vec<LoadJob>,
}

/// A destination's report after a package committed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadReport {
    /// False when the package had been committed by an earlier attempt.
    pub applied: bool,
    /// Rows written per table, in the order the jobs ran.
    #[serde(default)]
    pub rows_per_table: Vec<(String, u64)>,
}

/// Asks for the newest committed pipeline state of `pipeline_name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRequest {
    pub dataset_name: String,
    pub pipeline_name: String,
}

/// A `_dlt_pipeline_state` row, with `state` still compressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredState {
    pub version: i64,
    pub engine_version: i64,
    pub pipeline_name: String,
    /// base64 of the zlib-compressed typed-JSON state, as dlt writes it.
    pub state: String,
    /// ISO 8601 timestamp in UTC.
    pub created_at: String,
    pub version_hash: Option<String>,
    pub load_id: String,
}

/// Asks for the newest stored version of schema `schema_name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaRequest {
    pub dataset_name: String,
    pub schema_name: String,
}

/// Asks whether the package `load_id` is recorded in `_dlt_loads`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadStatusRequest {
    pub dataset_name: String,
    pub load_id: String,
}

/// Settings the runner adds to every plugin's configuration under `_runner`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerContext {
    pub pipeline_name: String,
    /// Folder of `dlt.yml`, or the current directory; relative paths in the
    /// configuration resolve against it.
    pub project_dir: String,
    /// The pipeline's working directory.
    pub working_dir: String,
    /// True when text data files (JSON Lines, CSV) must be written without
    /// gzip, from dlt's `NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION` or
    /// `DATA_WRITER__DISABLE_COMPRESSION` variable.
    #[serde(default)]
    pub disable_compression: bool,
}

/// Returns a short English name of a JSON value's type, for configuration
/// errors such as "`credentials` must be a string, got a number".
pub fn json_type_name(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a mapping",
    }
}
