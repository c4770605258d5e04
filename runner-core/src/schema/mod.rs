//! The dlt schema document: tables, columns, hints, versions and hashes.
//!
//! The document is kept in dlt's "stored" (full) form, engine version 11, so
//! that it can be written to `schemas/<name>.schema.json`, to a package's
//! `schema.json` and to `_dlt_version.schema` exactly as dlt 1.31 writes it,
//! and read back from any of them. Keys this crate does not model are kept in
//! `extra` maps so that a schema written by Python dlt survives a round trip
//! unchanged (and keeps its hash).

pub mod contract;
mod data_type;
mod dlt_tables;
mod document;
mod hash;
pub mod json_text;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use contract::{ContractMode, SCHEMA_CONTRACT_HINT, SchemaContract};
pub use data_type::DataType;
pub use dlt_tables::{
    DLT_PREFIX, LOADS_TABLE, PIPELINE_STATE_TABLE, VERSION_TABLE, default_normalizers,
    default_settings, loads_table, pipeline_state_table, version_table,
};
pub use hash::document_hash;

/// The schema engine version this crate reads and writes.
pub const ENGINE_VERSION: u64 = 11;

/// Maximum number of entries kept in `previous_hashes`.
pub const MAX_PREVIOUS_HASHES: usize = 10;

/// Tables or columns by name, in schema order. Normalize looks names up
/// several times per value, so the map uses foldhash rather than SipHash:
/// names come from the data, and a crafted collision only slows a run down.
pub type NameMap<V> = IndexMap<String, V, foldhash::fast::RandomState>;

/// A dlt schema in stored form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    pub version: u64,
    pub version_hash: String,
    pub engine_version: u64,
    pub name: String,
    pub tables: NameMap<Table>,
    pub settings: Value,
    pub normalizers: Value,
    #[serde(default)]
    pub previous_hashes: Vec<String>,
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

/// One table of a schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub columns: NameMap<Column>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_format: Option<String>,
    /// `x-normalizer` hints such as `{"seen-data": true}`.
    #[serde(rename = "x-normalizer", default, skip_serializing_if = "Option::is_none")]
    pub x_normalizer: Option<Value>,
    /// Other table keys (`schema_contract`, `x-merge-strategy`, ...), kept verbatim.
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

/// One column of a table, with its type and hints.
///
/// Boolean hints are `None` when unset: dlt omits them from the document,
/// and the schema hash covers exactly the keys present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<DataType>,
    #[serde(default = "default_nullable")]
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_key: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_key: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_key: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_key: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<bool>,
    /// Other column keys (`partition`, `x-*`, ...), kept verbatim.
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
    /// True when the stored document had no `nullable` key, as dlt writes
    /// columns declared only by resource hints. Such a column is written
    /// back without the key while `nullable` stays true, so its hash is
    /// unchanged. [`Schema::from_json`] sets it, and the `to_*_json` methods
    /// and [`Schema::compute_hash`] read it. Plain serde ignores it.
    #[serde(skip)]
    pub nullable_omitted: bool,
}

fn default_nullable() -> bool {
    true
}

impl Column {
    /// Creates a nullable column of `data_type` with no hints.
    pub fn new(name: impl Into<String>, data_type: DataType) -> Self {
        Column {
            name: name.into(),
            data_type: Some(data_type),
            nullable: true,
            precision: None,
            scale: None,
            timezone: None,
            description: None,
            primary_key: None,
            merge_key: None,
            unique: None,
            row_key: None,
            parent_key: None,
            root_key: None,
            variant: None,
            incremental: None,
            extra: IndexMap::new(),
            nullable_omitted: false,
        }
    }

    /// Returns true when the column has a data type, so it can be created in a destination.
    pub fn is_complete(&self) -> bool {
        self.data_type.is_some()
    }
}

impl Table {
    /// Creates an empty table with no hints.
    pub fn new(name: impl Into<String>) -> Self {
        Table {
            name: name.into(),
            columns: NameMap::default(),
            write_disposition: None,
            resource: None,
            parent: None,
            description: None,
            file_format: None,
            x_normalizer: None,
            extra: IndexMap::new(),
        }
    }

    /// Returns true when the normalizer has written rows for this table.
    pub fn has_seen_data(&self) -> bool {
        self.x_normalizer
            .as_ref()
            .and_then(|hints| hints.get("seen-data"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// Marks the table as having received rows (`x-normalizer.seen-data`).
    pub fn mark_seen_data(&mut self) {
        let hints = self.x_normalizer.get_or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(map) = hints {
            map.insert("seen-data".to_owned(), Value::Bool(true));
        }
    }
}
