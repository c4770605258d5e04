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
    run_python(work, SCRIPT, &[mode], bucket, &[])
}

/// Runs `script` with `args`, the bucket and a pipelines folder named after
/// the first argument, and returns the object it prints after `RESULT:`.
fn run_python(work: &Path, script: &str, args: &[&str], bucket: &Path, env: &[(&str, &str)]) -> Value {
    let mode = args.join("-");
    let script_path = work.join(format!("{mode}.py"));
    std::fs::write(&script_path, script).expect("write script");
    let pipelines = work.join(format!("pipelines-{mode}-{}", bucket.file_name().unwrap().to_string_lossy()));
    let output = Command::new(python())
        .arg(&script_path)
        .args(args)
        .arg(bucket)
        .arg(&pipelines)
        .env("RUNTIME__DLTHUB_TELEMETRY", "false")
        .envs(env.iter().copied())
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

/// Returns the load id and the schema of the single load in `dataset`.
fn reference_load(dataset: &Path) -> (String, SchemaVersion) {
    let load = read_json(&only_file(&dataset.join("_dlt_loads")));
    let load_id = load["load_id"].as_str().expect("load_id").to_owned();

    let version = read_json(&only_file(&dataset.join("_dlt_version")));
    let schema = SchemaVersion {
        name: version["schema_name"].as_str().expect("schema_name").to_owned(),
        version: version["version"].as_u64().expect("version"),
        engine_version: version["engine_version"].as_u64().expect("engine_version"),
        version_hash: version["version_hash"].as_str().expect("version_hash").to_owned(),
        schema_json: version["schema"].as_str().expect("schema").to_owned(),
    };
    (load_id, schema)
}

/// Builds the load request that reproduces the reference dataset `ds`.
fn reference_request(reference: &Path, jobs_dir: &Path) -> LoadRequest {
    let dataset = reference.join("ds");
    let (load_id, schema) = reference_load(&dataset);

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

/// Writes (mode `write`) or restores (mode `restore`) pipeline `interop`
/// with `loader_file_format` set to the second argument, then prints the
/// state and schema hashes and the rows of `items` read through dlt's
/// filesystem SQL client.
///
/// The rows carry their own `_dlt_id`, which dlt keeps, so that the test can
/// build the same rows as a Parquet job file. `max_table_nesting=0` makes
/// `meta` a `json` column in place.
const TEXT_SCRIPT: &str = r#"
import datetime, decimal, json, os, sys
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
import dlt

mode, file_format, bucket, pipelines_dir = sys.argv[1:5]

ROWS = [
    {"id": 1, "name": "a,b \"q\"\ttab", "amount": decimal.Decimal("12.345"), "ratio": 0.5, "flag": True,
     "ts": datetime.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.timezone.utc),
     "day": datetime.date(2024, 1, 2), "t": datetime.time(3, 4, 5), "blob": b"\x01hi",
     "meta": {"k": 1, "z": [1, 2]}, "big": 2**40, "empty": "", "uni": "h\u00e9llo", "_dlt_id": "row-1"},
    {"id": 2, "name": None, "amount": decimal.Decimal("7"), "ratio": 1e20, "flag": False,
     "ts": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc), "day": None,
     "t": datetime.time(1, 2, 3, 4), "blob": None, "meta": None, "big": None, "empty": None, "uni": None,
     "_dlt_id": "row-2"},
]

@dlt.resource(name="items", max_table_nesting=0)
def items(cursor=dlt.sources.incremental("id", initial_value=0)):
    yield [row for row in ROWS if row["id"] > cursor.start_value]

pipeline = dlt.pipeline(
    "interop",
    destination=dlt.destinations.filesystem(bucket_url=bucket),
    dataset_name="ds",
    pipelines_dir=pipelines_dir,
)
if mode == "write":
    pipeline.run(items(), loader_file_format=file_format)
else:
    pipeline.sync_destination()

# `pipeline.dataset()` raises a TypeError inside sqlglot 30 with dlt 1.31,
# so the rows are read through the SQL client.
with pipeline.sql_client() as client:
    rows = client.execute_sql("SELECT * FROM items ORDER BY id")
cursor = pipeline.state["sources"]["interop"]["resources"]["items"]["incremental"]["id"]["last_value"]
print("RESULT:" + json.dumps({
    "state_hash": pipeline.state.get("_version_hash"),
    "schemas": {name: schema.version_hash for name, schema in pipeline.schemas.items()},
    "cursor": cursor,
    "rows": [[str(value) for value in row] for row in rows],
}))
"#;

/// Writes the rows of `TEXT_SCRIPT` as the runner's Parquet job file of
/// table `items`, with the Arrow types the runner's normalizer uses.
fn items_job(dir: &Path, file_id: &str, load_id: &str) -> LoadJob {
    use arrow::array::{
        BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Time64MicrosecondArray,
    };

    let decimals = Decimal128Array::from(vec![12_345_000_000_i128, 7_000_000_000])
        .with_precision_and_scale(38, 9)
        .expect("valid decimal type");
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from(vec![1_i64, 2]))),
        ("name", Arc::new(StringArray::from(vec![Some("a,b \"q\"\ttab"), None]))),
        ("amount", Arc::new(decimals)),
        ("ratio", Arc::new(Float64Array::from(vec![0.5, 1e20]))),
        ("flag", Arc::new(BooleanArray::from(vec![true, false]))),
        (
            "ts",
            Arc::new(
                TimestampMicrosecondArray::from(vec![1_704_164_645_123_456_i64, 1_704_164_645_000_000]).with_timezone("UTC"),
            ),
        ),
        ("day", Arc::new(Date32Array::from(vec![Some(19_724), None]))),
        ("t", Arc::new(Time64MicrosecondArray::from(vec![11_045_000_000_i64, 3_723_000_004]))),
        ("blob", Arc::new(BinaryArray::from(vec![Some(b"\x01hi".as_slice()), None]))),
        ("meta", Arc::new(StringArray::from(vec![Some(r#"{"k":1,"z":[1,2]}"#), None]))),
        ("big", Arc::new(Int64Array::from(vec![Some(1_i64 << 40), None]))),
        ("empty", Arc::new(StringArray::from(vec![Some(""), None]))),
        ("uni", Arc::new(StringArray::from(vec![Some("h\u{e9}llo"), None]))),
        ("_dlt_id", Arc::new(StringArray::from(vec!["row-1", "row-2"]))),
        ("_dlt_load_id", Arc::new(StringArray::from(vec![load_id, load_id]))),
    ];
    let path = dir.join(format!("items.{file_id}.0.parquet"));
    write_parquet(&path, &RecordBatch::try_from_iter(columns).expect("items batch"));
    common::job("items", &path, 2)
}

/// Builds the load request that reproduces a reference dataset written by
/// `TEXT_SCRIPT`, with `items` as a Parquet job file.
fn text_reference_request(reference: &Path, jobs_dir: &Path) -> LoadRequest {
    let dataset = reference.join("ds");
    let (load_id, schema) = reference_load(&dataset);

    let items_file = only_file(&dataset.join("items"));
    let items_name = items_file.file_name().expect("file name").to_string_lossy().into_owned();
    let file_id = items_name.split('.').nth(2).expect("file id in data file name");
    let state = read_json(&only_file(&dataset.join("_dlt_pipeline_state")));
    let jobs = vec![state_job(&state, jobs_dir), items_job(jobs_dir, file_id, &load_id)];
    let tables = vec![TableSpec {
        name: "items".to_owned(),
        write_disposition: "append".to_owned(),
        columns: vec![common::column("meta", "json", true)],
        ..TableSpec::default()
    }];

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

/// Returns the data file of `items` in `bucket`, relative to it.
fn items_data_file(bucket: &Path) -> String {
    let files: Vec<String> = list_files(bucket).into_iter().filter(|path| path.starts_with("ds/items/")).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// Returns a data file's content, decompressed when it ends in `.gz`, and
/// the gzip header without its time (bytes 4 to 7).
fn data_file_parts(path: &Path) -> (String, Vec<u8>) {
    let bytes = std::fs::read(path).expect("read data file");
    if path.extension().is_none_or(|ext| ext != "gz") {
        return (String::from_utf8(bytes).expect("UTF-8 data file"), Vec::new());
    }

    let name_end = 10 + bytes[10..].iter().position(|byte| *byte == 0).expect("gzip FNAME ends with NUL");
    let mut header = bytes[..4].to_vec();
    header.extend_from_slice(&bytes[8..=name_end]);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(bytes.as_slice()), &mut text)
        .expect("gzip data file with UTF-8 inside");
    (text, header)
}

/// Loads the same rows as Python dlt in `file_format` and compares the
/// datasets; Python dlt then restores from ours and reads the rows back,
/// and this destination restores state and schema from the one dlt wrote.
fn text_dataset_matches(file_format: &str, disable_compression: bool) {
    let work = tempfile::tempdir().expect("create work folder");
    let reference = work.path().join("reference");
    let ours = work.path().join("ours");
    let jobs_dir = work.path().join("jobs");
    std::fs::create_dir_all(&jobs_dir).expect("create job folder");
    let compression = if disable_compression { "true" } else { "false" };
    let env = [("NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION", compression)];

    let written = run_python(work.path(), TEXT_SCRIPT, &["write", file_format], &reference, &env);
    let request = text_reference_request(&reference, &jobs_dir);
    let runner = serde_json::json!({
        "pipeline_name": "interop",
        "project_dir": work.path(),
        "working_dir": work.path(),
        "disable_compression": disable_compression,
    });
    let config = serde_json::json!({"bucket_url": ours, "loader_file_format": file_format, "_runner": runner});
    let mut destination = FilesystemDestination::from_json(&config).expect("open destination");
    destination.load_package(&request).expect("load reference package");

    let reference_files: Vec<String> = list_files(&reference).iter().map(|path| without_version_time(path)).collect();
    let our_files: Vec<String> = list_files(&ours).iter().map(|path| without_version_time(path)).collect();
    assert_eq!(our_files, reference_files);

    let (reference_text, reference_header) = data_file_parts(&reference.join(items_data_file(&reference)));
    let (our_text, our_header) = data_file_parts(&ours.join(items_data_file(&ours)));
    assert_eq!(our_text, reference_text, "content of the {file_format} data file");
    assert_eq!(our_header, reference_header, "gzip header of the {file_format} data file");

    let restored = run_python(work.path(), TEXT_SCRIPT, &["restore", file_format], &ours, &[]);
    assert_eq!(restored["rows"], written["rows"]);
    assert_eq!(restored["state_hash"], written["state_hash"]);
    assert_eq!(restored["schemas"], written["schemas"]);
    assert_eq!(restored["cursor"], 2);

    let mut on_reference = FilesystemDestination::new(FilesystemConfig::local(&reference)).expect("open destination");
    let state_request = plugin_sdk::protocol::StateRequest {
        dataset_name: "ds".to_owned(),
        pipeline_name: "interop".to_owned(),
    };
    let state = on_reference.fetch_state(&state_request).expect("fetch state").expect("state in dlt's dataset");
    assert_eq!(state.load_id, request.load_id);
    let schema_request = plugin_sdk::protocol::SchemaRequest {
        dataset_name: "ds".to_owned(),
        schema_name: request.schema.name.clone(),
    };
    let schema = on_reference.fetch_schema(&schema_request).expect("fetch schema").expect("schema in dlt's dataset");
    assert_eq!(schema.version_hash, request.schema.version_hash);
}

#[test]
fn jsonl_gzip_matches_dlt() {
    text_dataset_matches("jsonl", false);
}

#[test]
fn jsonl_plain_matches_dlt() {
    text_dataset_matches("jsonl", true);
}

#[test]
fn csv_gzip_matches_dlt() {
    text_dataset_matches("csv", false);
}

#[test]
fn csv_plain_matches_dlt() {
    text_dataset_matches("csv", true);
}
