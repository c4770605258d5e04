//! Helpers shared by the integration tests: a destination on a database file
//! in a temporary folder, Parquet job files written by DuckDB, and requests.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::path::{Path, PathBuf};

use destination_duckdb::{DuckDbConfig, DuckDbDestination, SettingScope};
use duckdb::Connection;
use plugin_sdk::protocol::{ColumnSpec, LoadJob, LoadRequest, SchemaVersion, TableSpec};
use tempfile::TempDir;

pub const DATASET: &str = "ds";
pub const PIPELINE: &str = "p";

/// A destination writing to `<temporary folder>/warehouse.duckdb`.
pub struct Fixture {
    pub dir: TempDir,
    pub database: PathBuf,
    pub destination: DuckDbDestination,
}

impl Fixture {
    pub fn new() -> Self {
        Self::with_config(|database| DuckDbConfig::new(database))
    }

    /// Creates a fixture whose destination applies `SET GLOBAL name = value`
    /// for each of `settings`, in order.
    pub fn with_global_settings(settings: &[(&str, serde_json::Value)]) -> Self {
        Self::with_config(|database| {
            let mut config = DuckDbConfig::new(database);
            for (name, value) in settings {
                config = config
                    .with_setting(SettingScope::Global, name, value)
                    .unwrap_or_else(|error| panic!("invalid setting {name} = {value}: {error}"));
            }
            config
        })
    }

    fn with_config(config: impl FnOnce(&Path) -> DuckDbConfig) -> Self {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let database = dir.path().join("warehouse.duckdb");
        let destination = DuckDbDestination::new(config(&database));
        Fixture {
            dir,
            database,
            destination,
        }
    }

    /// Writes the rows of `select` to `<name>.parquet` and returns the path.
    pub fn parquet(&self, name: &str, select: &str) -> PathBuf {
        let path = self.dir.path().join(format!("{name}.parquet"));
        write_parquet(&path, select);
        path
    }

    /// Opens the database for checks. The destination keeps no connection open
    /// between calls, so this never conflicts with it.
    pub fn connection(&self) -> Connection {
        Connection::open(&self.database).expect("open database for checks")
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.connection()
            .query_row(sql, [], |row| row.get(0))
            .unwrap_or_else(|error| panic!("query {sql} failed: {error}"))
    }

    pub fn strings(&self, sql: &str) -> Vec<String> {
        let connection = self.connection();
        let mut statement = connection.prepare(sql).expect("prepare check query");
        statement
            .query_map([], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect())
            .unwrap_or_else(|error| panic!("query {sql} failed: {error}"))
    }
}

/// Writes the rows of `select` to a Parquet file with an in-memory DuckDB.
pub fn write_parquet(path: &Path, select: &str) {
    let connection = Connection::open_in_memory().expect("open in-memory DuckDB");
    let literal = path.display().to_string().replace('\'', "''");
    connection
        .execute_batch(&format!("COPY ({select}) TO '{literal}' (FORMAT parquet)"))
        .unwrap_or_else(|error| panic!("writing {} failed: {error}", path.display()));
}

pub fn column(name: &str, data_type: &str, nullable: bool) -> ColumnSpec {
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

pub fn with_precision(mut column: ColumnSpec, precision: u32) -> ColumnSpec {
    column.precision = Some(precision);
    column
}

pub fn table(name: &str, write_disposition: &str, columns: Vec<ColumnSpec>) -> TableSpec {
    TableSpec {
        name: name.to_string(),
        write_disposition: write_disposition.to_string(),
        parent: None,
        columns,
        ..TableSpec::default()
    }
}

pub fn job(table_name: &str, file_path: &Path, row_count: u64) -> LoadJob {
    let file_name = file_path.file_name().unwrap().to_string_lossy();
    LoadJob {
        job_id: format!("{table_name}.{file_name}"),
        table_name: table_name.to_string(),
        file_path: file_path.display().to_string(),
        file_format: "parquet".to_string(),
        row_count,
    }
}

pub fn schema(version: u64, version_hash: &str) -> SchemaVersion {
    SchemaVersion {
        name: "shop".to_string(),
        version,
        engine_version: 11,
        version_hash: version_hash.to_string(),
        schema_json: format!(
            "{{\"name\":\"shop\",\"version\":{version},\"version_hash\":\"{version_hash}\"}}"
        ),
    }
}

pub fn request(
    load_id: &str,
    tables: Vec<TableSpec>,
    truncate: &[&str],
    jobs: Vec<LoadJob>,
) -> LoadRequest {
    LoadRequest {
        pipeline_name: PIPELINE.to_string(),
        load_id: load_id.to_string(),
        dataset_name: DATASET.to_string(),
        schema: schema(1, "hash-1"),
        tables,
        truncate_tables: truncate.iter().map(|name| name.to_string()).collect(),
        jobs,
    }
}

/// Returns the `users` table: `id` bigint NOT NULL and `name` text.
pub fn users_table(write_disposition: &str) -> TableSpec {
    table(
        "users",
        write_disposition,
        vec![column("id", "bigint", false), column("name", "text", true)],
    )
}

/// Returns the `_dlt_pipeline_state` table with dlt's columns.
pub fn state_table() -> TableSpec {
    table(
        "_dlt_pipeline_state",
        "append",
        vec![
            column("version", "bigint", false),
            column("engine_version", "bigint", false),
            column("pipeline_name", "text", false),
            column("state", "text", false),
            column("created_at", "timestamp", false),
            column("version_hash", "text", true),
            column("_dlt_load_id", "text", false),
            column("_dlt_id", "text", false),
        ],
    )
}
