//! dlt's bookkeeping tables, with the columns dlt 1.31 creates.

use plugin_sdk::protocol::{ColumnSpec, TableSpec};

/// One row per committed load package, always with status 0.
pub const LOADS_TABLE: &str = "_dlt_loads";

/// One row per stored schema version.
pub const VERSION_TABLE: &str = "_dlt_version";

/// Pipeline state rows, loaded like data from the package's jobs.
pub const PIPELINE_STATE_TABLE: &str = "_dlt_pipeline_state";

fn column(name: &str, data_type: &str, nullable: bool) -> ColumnSpec {
    ColumnSpec {
        name: name.to_string(),
        data_type: data_type.to_string(),
        nullable,
        precision: None,
        scale: None,
        timezone: None,
        ..ColumnSpec::default()
    }
}

/// Returns the `_dlt_loads` table as dlt defines it.
pub fn loads_table() -> TableSpec {
    TableSpec {
        name: LOADS_TABLE.to_string(),
        write_disposition: "skip".to_string(),
        parent: None,
        columns: vec![
            column("load_id", "text", false),
            column("schema_name", "text", true),
            column("status", "bigint", false),
            column("inserted_at", "timestamp", false),
            column("schema_version_hash", "text", true),
        ],
        ..TableSpec::default()
    }
}

/// Returns the `_dlt_version` table as dlt defines it.
pub fn version_table() -> TableSpec {
    TableSpec {
        name: VERSION_TABLE.to_string(),
        write_disposition: "skip".to_string(),
        parent: None,
        columns: vec![
            column("version", "bigint", false),
            column("engine_version", "bigint", false),
            column("inserted_at", "timestamp", false),
            column("schema_name", "text", false),
            column("version_hash", "text", false),
            column("schema", "text", false),
        ],
        ..TableSpec::default()
    }
}
