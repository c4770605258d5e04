//! The tables that dlt adds to every schema: `_dlt_version`, `_dlt_loads` and
//! `_dlt_pipeline_state`.
//!
//! Their column lists and descriptions are part of the schema hash, so they
//! are written here exactly as dlt 1.31 stores them, column order included.

use serde_json::{Value, json};

use super::{Column, DataType, Table};

/// Name of the table that records each stored schema version.
pub const VERSION_TABLE: &str = "_dlt_version";

/// Name of the table that records each completed load.
pub const LOADS_TABLE: &str = "_dlt_loads";

/// Name of the table that stores the pipeline state.
pub const PIPELINE_STATE_TABLE: &str = "_dlt_pipeline_state";

/// Prefix of the names of all dlt tables and columns.
pub const DLT_PREFIX: &str = "_dlt";

/// Returns the `_dlt_version` table as dlt 1.31 creates it.
pub fn version_table() -> Table {
    let columns = [
        required(
            "version",
            DataType::Bigint,
            "Numeric version of the schema, incremented on each schema change",
        ),
        required(
            "engine_version",
            DataType::Bigint,
            "Version of the dlt schema engine that created this schema",
        ),
        required(
            "inserted_at",
            DataType::Timestamp,
            "Timestamp when this schema version was stored",
        ),
        required("schema_name", DataType::Text, "Name of the schema"),
        required(
            "version_hash",
            DataType::Text,
            "Unique hash of the schema content, used to detect changes",
        ),
        required(
            "schema",
            DataType::Text,
            "JSON representation of the complete schema definition",
        ),
    ];
    dlt_table(
        VERSION_TABLE,
        "skip",
        Some("Created by DLT. Tracks schema updates"),
        columns,
    )
}

/// Returns the `_dlt_loads` table as dlt 1.31 creates it.
pub fn loads_table() -> Table {
    let mut load_id = required(
        "load_id",
        DataType::Text,
        "Unique identifier of the load operation",
    );
    load_id.precision = Some(64);

    let columns = [
        load_id,
        optional(
            "schema_name",
            DataType::Text,
            "Name of the schema associated with this load",
        ),
        required(
            "status",
            DataType::Bigint,
            "Status of the load operation (0 = success)",
        ),
        required(
            "inserted_at",
            DataType::Timestamp,
            "Timestamp when the load was completed",
        ),
        optional(
            "schema_version_hash",
            DataType::Text,
            "Hash of the schema version used during this load",
        ),
    ];
    dlt_table(
        LOADS_TABLE,
        "skip",
        Some("Created by DLT. Tracks completed loads"),
        columns,
    )
}

/// Returns the `_dlt_pipeline_state` table in the form a dlt 1.31 schema
/// contains after the first state was loaded.
///
/// dlt reaches this form in two steps: extract adds the first seven columns
/// with `write_disposition: append` and `file_format: preferred` (and no
/// table description), and normalize then appends `_dlt_id` and sets
/// `x-normalizer.seen-data`. This function returns the result of both.
pub fn pipeline_state_table() -> Table {
    let mut load_id = required(
        "_dlt_load_id",
        DataType::Text,
        "Load identifier linking this row to its load operation",
    );
    load_id.precision = Some(64);

    let mut row_id = Column::new("_dlt_id", DataType::Text);
    row_id.nullable = false;
    row_id.unique = Some(true);
    row_id.row_key = Some(true);

    let columns = [
        required(
            "version",
            DataType::Bigint,
            "Numeric version of the pipeline state",
        ),
        required(
            "engine_version",
            DataType::Bigint,
            "Version of the dlt state engine",
        ),
        required(
            "pipeline_name",
            DataType::Text,
            "Name of the pipeline this state belongs to",
        ),
        required(
            "state",
            DataType::Text,
            "Compressed JSON representation of the pipeline state",
        ),
        required(
            "created_at",
            DataType::Timestamp,
            "Timestamp when this state was created",
        ),
        optional(
            "version_hash",
            DataType::Text,
            "Hash of the state content, used to detect changes",
        ),
        load_id,
        row_id,
    ];
    let mut table = dlt_table(PIPELINE_STATE_TABLE, "append", None, columns);
    table.file_format = Some("preferred".to_owned());
    table.x_normalizer = Some(json!({"seen-data": true}));
    table
}

/// Returns the default `settings` of a new dlt 1.31 schema.
pub fn default_settings() -> Value {
    json!({
        "detections": ["iso_timestamp"],
        "default_hints": {
            "not_null": ["_dlt_id", "_dlt_root_id", "_dlt_parent_id", "_dlt_list_idx", "_dlt_load_id"],
            "parent_key": ["_dlt_parent_id"],
            "root_key": ["_dlt_root_id"],
            "unique": ["_dlt_id"],
            "row_key": ["_dlt_id"]
        }
    })
}

/// Returns the default `normalizers` of a new dlt 1.31 schema.
pub fn default_normalizers() -> Value {
    json!({
        "names": "snake_case",
        "json": {"module": "dlt.common.normalizers.json.relational"}
    })
}

fn dlt_table<const N: usize>(
    name: &str,
    write_disposition: &str,
    description: Option<&str>,
    columns: [Column; N],
) -> Table {
    let mut table = Table::new(name);
    table.columns = columns
        .into_iter()
        .map(|column| (column.name.clone(), column))
        .collect();
    table.write_disposition = Some(write_disposition.to_owned());
    table.resource = Some(name.to_owned());
    table.description = description.map(str::to_owned);
    table
}

fn required(name: &str, data_type: DataType, description: &str) -> Column {
    let mut column = optional(name, data_type, description);
    column.nullable = false;
    column
}

fn optional(name: &str, data_type: DataType, description: &str) -> Column {
    let mut column = Column::new(name, data_type);
    column.description = Some(description.to_owned());
    column
}
