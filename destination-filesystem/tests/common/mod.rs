//! Helpers shared by the integration tests: Parquet job files written with
//! arrow, load requests, and listings of a local bucket.

#![allow(dead_code)] // Each test binary uses a different subset.

pub mod scenarios;
pub mod s3;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use parquet::arrow::ArrowWriter;
use plugin_sdk::protocol::{ColumnSpec, LoadJob, LoadRequest, SchemaVersion, TableSpec};

pub const DATASET: &str = "ds";
pub const PIPELINE: &str = "p";
pub const SCHEMA: &str = "shop";

/// Real dlt schema hashes (base64 of 32 bytes) and their hex forms.
pub const HASH_1: &str = "NakqlNHJ9/Q1n8Kt79uqtrTp0Q09rmsH91TTe4x2Wxo=";
pub const HASH_1_HEX: &str = "35a92a94d1c9f7f4359fc2adefdbaab6b4e9d10d3dae6b07f754d37b8c765b1a";
pub const HASH_2: &str = "2PkVYXlNwn/DkfYTUjuysGkuUIpIvBTQvtwzLaxZwWM=";

/// A dlt state blob: base64 of zlib-compressed `{"a":1}`.
pub const STATE_BLOB: &str = "eNqrVkpUsjKsBQAIKgIJ";

/// Writes `batch` to a Parquet file at `path`.
pub fn write_parquet(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).expect("create Parquet file");
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).expect("open Parquet writer");
    writer.write(batch).expect("write Parquet batch");
    writer.close().expect("close Parquet writer");
}

/// Writes a `users` job file with ids `ids` and returns its path. The file
/// name follows the runner's job names: `users.<file_id>.0.parquet`.
pub fn users_file(dir: &Path, file_id: &str, load_id: &str, ids: &[i64]) -> PathBuf {
    let names: Vec<String> = ids.iter().map(|id| format!("user-{id}")).collect();
    let dlt_ids: Vec<String> = ids.iter().map(|id| format!("id-{id}")).collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from(ids.to_vec()))),
        ("name", Arc::new(StringArray::from(names))),
        ("_dlt_load_id", Arc::new(StringArray::from(vec![load_id; ids.len()]))),
        ("_dlt_id", Arc::new(StringArray::from(dlt_ids))),
    ];
    let batch = RecordBatch::try_from_iter(columns).expect("build users batch");
    let path = dir.join(format!("users.{file_id}.0.parquet"));
    write_parquet(&path, &batch);
    path
}

/// Writes a `_dlt_pipeline_state` job file with one row and returns its path.
pub fn state_file(dir: &Path, file_id: &str, load_id: &str, pipeline: &str, version: i64) -> PathBuf {
    let created_at = TimestampMicrosecondArray::from(vec![1_704_164_645_123_456_i64]).with_timezone("UTC");
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("version", Arc::new(Int64Array::from(vec![version]))),
        ("engine_version", Arc::new(Int64Array::from(vec![4_i64]))),
        ("pipeline_name", Arc::new(StringArray::from(vec![pipeline]))),
        ("state", Arc::new(StringArray::from(vec![STATE_BLOB]))),
        ("created_at", Arc::new(created_at)),
        ("version_hash", Arc::new(StringArray::from(vec![format!("state-hash-{version}")]))),
        ("_dlt_load_id", Arc::new(StringArray::from(vec![load_id]))),
        ("_dlt_id", Arc::new(StringArray::from(vec!["state-row"]))),
    ];
    let batch = RecordBatch::try_from_iter(columns).expect("build state batch");
    let path = dir.join(format!("_dlt_pipeline_state.{file_id}.0.parquet"));
    write_parquet(&path, &batch);
    path
}

/// Returns the load job for a file named `<table>.<file_id>.<retry>.parquet`.
pub fn job(table_name: &str, file_path: &Path, row_count: u64) -> LoadJob {
    let file_name = file_path.file_name().unwrap().to_string_lossy().into_owned();
    let parts: Vec<&str> = file_name.split('.').collect();
    LoadJob {
        job_id: format!("{}.{}.{}", parts[0], parts[1], parts[3]),
        table_name: table_name.to_owned(),
        file_path: file_path.display().to_string(),
        file_format: "parquet".to_owned(),
        row_count,
    }
}

pub fn column(name: &str, data_type: &str, nullable: bool) -> ColumnSpec {
    ColumnSpec {
        name: name.to_owned(),
        data_type: data_type.to_owned(),
        nullable,
        precision: None,
        scale: None,
        timezone: None,
        ..ColumnSpec::default()
    }
}

pub fn table(name: &str, write_disposition: &str, parent: Option<&str>) -> TableSpec {
    TableSpec {
        name: name.to_owned(),
        write_disposition: write_disposition.to_owned(),
        parent: parent.map(str::to_owned),
        columns: vec![column("id", "bigint", false), column("_dlt_id", "text", false)],
        ..TableSpec::default()
    }
}

pub fn schema(version: u64, version_hash: &str) -> SchemaVersion {
    SchemaVersion {
        name: SCHEMA.to_owned(),
        version,
        engine_version: 11,
        version_hash: version_hash.to_owned(),
        schema_json: format!("{{\"version\":{version},\"version_hash\":\"{version_hash}\",\"name\":\"{SCHEMA}\"}}"),
    }
}

pub fn request(load_id: &str, tables: Vec<TableSpec>, truncate: &[&str], jobs: Vec<LoadJob>) -> LoadRequest {
    LoadRequest {
        pipeline_name: PIPELINE.to_owned(),
        load_id: load_id.to_owned(),
        dataset_name: DATASET.to_owned(),
        schema: schema(1, HASH_1),
        tables,
        truncate_tables: truncate.iter().map(|name| (*name).to_owned()).collect(),
        jobs,
    }
}

/// Returns the paths of all files below `root`, relative to it, sorted.
pub fn list_files(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("read folder entry").path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let relative = path.strip_prefix(root).expect("path below root");
                files.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    files
}

/// Returns the number of rows in all Parquet files of `paths`.
pub fn parquet_rows(paths: &[PathBuf]) -> usize {
    paths
        .iter()
        .map(|path| {
            let file = std::fs::File::open(path).expect("open Parquet file");
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|builder| builder.build())
                .expect("read Parquet file");
            reader.map(|batch| batch.expect("read batch").num_rows()).sum::<usize>()
        })
        .sum()
}
