//! Interoperability with Python dlt 1.31.
//!
//! Python dlt writes a reference dataset with `destination="filesystem"`.
//! The test loads the same schema, state row and Parquet files through this
//! destination into a second bucket, compares the two datasets file by file,
//! and lets Python dlt restore the pipeline from the second bucket with
//! `sync_destination()`.
//!
//! The interpreter is `$DLT_TEST_PYTHON`, or `/var/tmp/dlt-rs/venv/bin/python`;
//! it must have dlt 1.31 and pyarrow installed. The test fails when it is
//! missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use common::{list_files, write_parquet};
use destination_filesystem::{FilesystemConfig, FilesystemDestination};
use plugin_sdk::Destination;
use plugin_sdk::protocol::{LoadJob, LoadRequest, SchemaVersion, TableSpec};
use serde_json::Value;

const DEFAULT_PYTHON: &str = "/var/tmp/dlt-rs/venv/bin/python";

/// Writes (mode `reference`) or restores (mode `restore`) pipeline
/// `interop` on a bucket and prints the state and schema hashes.
const SCRIPT: &str = r#"
import json, os, sys
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
import dlt

mode, bucket, pipelines_dir = sys.argv[1:4]

@dlt.resource(name="items", write_disposition="append")
def items(cursor=dlt.sources.incremental("id", initial_value=0)):
    for i in range(1, 4):
        yield {"id": i, "name": f"n{i}", "tags": ["a", "b"]}

pipeline = dlt.pipeline(
    "interop",
    destination=dlt.destinations.filesystem(bucket_url=bucket),
    dataset_name="ds",
    pipelines_dir=pipelines_dir,
)
if mode == "reference":
    pipeline.run(items(), loader_file_format="parquet")
else:
    pipeline.sync_destination()

result = {
    "state_hash": pipeline.state.get("_version_hash"),
    "state_version": pipeline.state.get("_state_version"),
    "schemas": {name: schema.version_hash for name, schema in pipeline.schemas.items()},
}
print("RESULT:" + json.dumps(result))
"#;

fn python() -> PathBuf {
    let python = std::env::var("DLT_TEST_PYTHON").unwrap_or_else(|_| DEFAULT_PYTHON.to_owned());
    let path = PathBuf::from(python);
    assert!(
        path.exists(),
        "Python dlt interop tests need a Python with dlt 1.31 and pyarrow at {}. Create it with \
         `python3 -m venv /var/tmp/dlt-rs/venv && /var/tmp/dlt-rs/venv/bin/pip install dlt==1.31.0 pyarrow`, \
         or set DLT_TEST_PYTHON",
        path.display()
    );
    path
}

/// Runs the script and returns its result object.
fn run_script(work: &Path, mode: &str, bucket: &Path) -> Value {
    let script = work.join("interop.py");
    std::fs::write(&script, SCRIPT).expect("write script");
    let pipelines = work.join(format!("pipelines-{mode}"));
    let output = Command::new(python())
        .arg(&script)
        .arg(mode)
        .arg(bucket)
        .arg(&pipelines)
        .env("RUNTIME__DLTHUB_TELEMETRY", "false")
        .output()
        .expect("run Python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "Python dlt ({mode}) failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULT:"))
        .unwrap_or_else(|| panic!("no result line in:\n{stdout}"));
    serde_json::from_str(line).expect("result JSON")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read JSON file")).expect("parse JSON file")
}

fn keys(value: &Value) -> Vec<String> {
    value.as_object().expect("JSON object").keys().cloned().collect()
}

/// Returns the single file in `folder`.
fn only_file(folder: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(folder)
        .expect("read folder")
        .map(|entry| entry.expect("folder entry").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// Writes the state row of a dlt state file as a `_dlt_pipeline_state` job.
fn state_job(state: &Value, dir: &Path) -> LoadJob {
    let text = |key: &str| state[key].as_str().expect("state text field").to_owned();
    let created_at = chrono::DateTime::parse_from_rfc3339(&text("created_at")).expect("created_at is ISO 8601");
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("version", Arc::new(Int64Array::from(vec![state["version"].as_i64().expect("version")]))),
        ("engine_version", Arc::new(Int64Array::from(vec![state["engine_version"].as_i64().expect("engine")]))),
        ("pipeline_name", Arc::new(StringArray::from(vec![text("pipeline_name")]))),
        ("state", Arc::new(StringArray::from(vec![text("state")]))),
        (
            "created_at",
            Arc::new(TimestampMicrosecondArray::from(vec![created_at.timestamp_micros()]).with_timezone("UTC")),
        ),
        ("version_hash", Arc::new(StringArray::from(vec![text("version_hash")]))),
        ("_dlt_load_id", Arc::new(StringArray::from(vec![text("_dlt_load_id")]))),
        ("_dlt_id", Arc::new(StringArray::from(vec!["state-row"]))),
    ];
    let path = dir.join("_dlt_pipeline_state.aaaaaaaaaa.0.parquet");
    write_parquet(&path, &RecordBatch::try_from_iter(columns).expect("state batch"));
    common::job("_dlt_pipeline_state", &path, 1)
}

/// Builds the load request that reproduces the reference dataset `ds`.
fn reference_request(reference: &Path, jobs_dir: &Path) -> LoadRequest {
    let dataset = reference.join("ds");
    let load_file = only_file(&dataset.join("_dlt_loads"));
    let load = read_json(&load_file);
    let load_id = load["load_id"].as_str().expect("load_id").to_owned();

    let version = read_json(&only_file(&dataset.join("_dlt_version")));
    let schema = SchemaVersion {
        name: version["schema_name"].as_str().expect("schema_name").to_owned(),
        version: version["version"].as_u64().expect("version"),
        engine_version: version["engine_version"].as_u64().expect("engine_version"),
        version_hash: version["version_hash"].as_str().expect("version_hash").to_owned(),
        schema_json: version["schema"].as_str().expect("schema").to_owned(),
    };

    let state = read_json(&only_file(&dataset.join("_dlt_pipeline_state")));
    let mut jobs = vec![state_job(&state, jobs_dir)];
    let mut tables = Vec::new();
    for path in list_files(&dataset) {
        let Some((table, file)) = path.split_once('/') else {
            continue;
        };
        if table.starts_with("_dlt") {
            continue;
        }
        let file_id = file.split('.').nth(2).expect("file id in data file name");
        let job_file = jobs_dir.join(format!("{table}.{file_id}.0.parquet"));
        std::fs::copy(dataset.join(&path), &job_file).expect("copy data file");
        jobs.push(common::job(table, &job_file, 0));
        tables.push(TableSpec {
            name: table.to_owned(),
            write_disposition: "append".to_owned(),
            parent: None,
            columns: Vec::new(),
            ..TableSpec::default()
        });
    }

    LoadRequest {
        pipeline_name: "interop".to_owned(),
        load_id,
        dataset_name: "ds".to_owned(),
        schema,
        tables,
        truncate_tables: Vec::new(),
        jobs,
    }
}

/// Replaces the time in `_dlt_version/<schema>__<time>__<hex>.jsonl`.
fn without_version_time(path: &str) -> String {
    match path.strip_prefix("ds/_dlt_version/") {
        Some(name) => {
            let (schema, rest) = name.split_once("__").expect("schema name");
            let (_, hash) = rest.rsplit_once("__").expect("hash");
            format!("ds/_dlt_version/{schema}__<time>__{hash}")
        }
        None => path.to_owned(),
    }
}

#[test]
fn dataset_matches_and_restores() {
    let work = tempfile::tempdir().expect("create work folder");
    let reference = work.path().join("reference");
    let ours = work.path().join("ours");
    let jobs_dir = work.path().join("jobs");
    std::fs::create_dir_all(&jobs_dir).expect("create job folder");

    let written = run_script(work.path(), "reference", &reference);
    let request = reference_request(&reference, &jobs_dir);
    let mut destination = FilesystemDestination::new(FilesystemConfig::local(&ours)).expect("open destination");
    destination.load_package(&request).expect("load reference package");

    let reference_files: Vec<String> = list_files(&reference).iter().map(|path| without_version_time(path)).collect();
    let our_files: Vec<String> = list_files(&ours).iter().map(|path| without_version_time(path)).collect();
    assert_eq!(our_files, reference_files);

    for path in list_files(&reference) {
        let ours_path = list_files(&ours)
            .into_iter()
            .find(|candidate| without_version_time(candidate) == without_version_time(&path))
            .expect("same file in our dataset");
        let reference_bytes = std::fs::read(reference.join(&path)).expect("read reference file");
        let our_bytes = std::fs::read(ours.join(&ours_path)).expect("read our file");
        if path.starts_with("ds/_dlt_loads/") || path.starts_with("ds/_dlt_version/") {
            let reference_json: Value = serde_json::from_slice(&reference_bytes).expect("reference JSON");
            let our_json: Value = serde_json::from_slice(&our_bytes).expect("our JSON");
            assert_eq!(keys(&our_json), keys(&reference_json), "keys of {path}");
            for key in keys(&reference_json).iter().filter(|key| key.as_str() != "inserted_at") {
                assert_eq!(our_json[key], reference_json[key], "{key} of {path}");
            }
            assert!(!our_bytes.ends_with(b"\n"), "{path} must not end with a newline");
        } else {
            assert!(our_bytes == reference_bytes, "{path} differs from the file dlt wrote");
        }
    }

    let restored = run_script(work.path(), "restore", &ours);
    assert_eq!(restored["state_hash"], written["state_hash"]);
    assert_eq!(restored["state_version"], written["state_version"]);
    assert_eq!(restored["schemas"], written["schemas"]);
}
