//! Two-way interoperability with Python dlt 1.31 on the filesystem
//! destination, in a local folder and in a SeaweedFS S3 bucket.
//!
//! The `dlt` binary and Python dlt take turns on the same pipeline: a `files`
//! source `events` (table `events`) with an incremental cursor `updated_at`.
//! Each side restores the state from the bucket and loads only the newer
//! rows, and the data files of table `events` then hold every id once. Each
//! case runs with one `loader_file_format`: Parquet, JSON Lines or CSV.
//!
//! The interpreter is `$DLT_TEST_PYTHON`, or `/var/tmp/dlt-rs/venv/bin/python`,
//! with dlt 1.31, pyarrow and s3fs installed (scripts/setup-python.sh). The
//! S3 tests start SeaweedFS with scripts/start-seaweedfs.sh unless
//! `DLT_TEST_S3_ENDPOINT` names a server. The tests fail when either is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TestProject, assert_success};
use serde_json::{Value, json};

const DEFAULT_PYTHON: &str = "/var/tmp/dlt-rs/venv/bin/python";
const PIPELINE: &str = "interop_events";

/// Loads or reads pipeline `interop_events` in Python dlt. Mode `first` loads
/// the events file, and mode `continue` restores the pipeline from the bucket
/// before it loads and reports the restored hashes. Both load in the given
/// `loader_file_format`. Mode `read` only reads the data files of table
/// `events`, in any of the formats. Every mode prints one `RESULT:` line of
/// JSON with the rows as sorted `[id, _dlt_load_id]` pairs.
const SCRIPT: &str = r#"
import csv, gzip, io, json, os, sys
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
import dlt
import fsspec
import pyarrow.parquet as pq

mode, bucket_url, credentials_json, pipelines_dir, data_file, pipeline_name, dataset, file_format = sys.argv[1:9]
credentials = json.loads(credentials_json) if credentials_json else None

def read_rows():
    if credentials:
        fs = fsspec.filesystem(
            "s3",
            key=credentials["aws_access_key_id"],
            secret=credentials["aws_secret_access_key"],
            client_kwargs={"endpoint_url": credentials["endpoint_url"]},
        )
        folder = bucket_url.removeprefix("s3://") + f"/{dataset}/events"
    else:
        fs = fsspec.filesystem("file")
        folder = os.path.join(bucket_url, dataset, "events")
    files = sorted(fs.glob(folder + "/*"))
    rows = []
    for path in files:
        if path.endswith(".parquet"):
            table = pq.read_table(path, filesystem=fs, columns=["id", "_dlt_load_id"])
            rows.extend(zip(table.column("id").to_pylist(), table.column("_dlt_load_id").to_pylist()))
            continue
        data = fs.cat_file(path)
        text = (gzip.decompress(data) if path.endswith(".gz") else data).decode("utf-8")
        if ".jsonl" in path:
            records = [json.loads(line) for line in text.splitlines()]
        else:
            records = list(csv.DictReader(io.StringIO(text)))
        rows.extend((int(record["id"]), record["_dlt_load_id"]) for record in records)
    return sorted(rows), [os.path.basename(path) for path in files]

result = {}
if mode != "read":
    @dlt.source(name="events")
    def events_source():
        @dlt.resource(name="events", primary_key="id")
        def events(updated_at=dlt.sources.incremental("updated_at", initial_value="2024-01-01T00:00:00Z")):
            with open(data_file) as lines:
                for line in lines:
                    yield json.loads(line)
        return events

    pipeline = dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=dlt.destinations.filesystem(bucket_url=bucket_url, credentials=credentials),
        dataset_name=dataset,
        pipelines_dir=pipelines_dir,
    )
    if mode == "continue":
        pipeline.sync_destination()
        result["restored_state_hash"] = pipeline.state.get("_version_hash")
        result["restored_state_version"] = pipeline.state.get("_state_version")
        result["restored_schemas"] = {name: s.version_hash for name, s in pipeline.schemas.items()}
    info = pipeline.run(events_source(), loader_file_format=file_format)
    result["load_ids"] = info.loads_ids

rows, files = read_rows()
result["rows"] = rows
result["files"] = files
print("RESULT:" + json.dumps(result), flush=True)
# Leave without the interpreter's shutdown: after reading from S3, a native
# thread of pyarrow or s3fs sometimes aborted it with "terminate called
# without an active exception", after the result above was complete.
os._exit(0)
"#;

/// The data file format of one test case, and how it is chosen.
struct Format {
    /// The `loader_file_format` value.
    name: &'static str,
    /// The extension of the data files, such as `jsonl.gz`.
    extension: &'static str,
    /// Set in dlt.yml when true, else with `DESTINATION__LAKE__LOADER_FILE_FORMAT`.
    in_dlt_yml: bool,
}

impl Format {
    const PARQUET: Format = Format { name: "parquet", extension: "parquet", in_dlt_yml: true };
    const JSONL_GZIP: Format = Format { name: "jsonl", extension: "jsonl.gz", in_dlt_yml: true };
    const CSV_GZIP: Format = Format { name: "csv", extension: "csv.gz", in_dlt_yml: true };
    /// Chosen with environment variables only, as dlt users do.
    const JSONL_PLAIN_FROM_ENV: Format = Format { name: "jsonl", extension: "jsonl", in_dlt_yml: false };

    /// Returns the variables that the runner and Python dlt get.
    fn environment(&self) -> Vec<(&'static str, &'static str)> {
        let mut env = Vec::new();
        if !self.in_dlt_yml {
            env.push(("DESTINATION__LAKE__LOADER_FILE_FORMAT", self.name));
        }
        if self.name != "parquet" && !self.extension.ends_with(".gz") {
            env.push(("NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION", "true"));
        }
        env
    }
}

/// Where a test's dataset lives: a bucket URL and, for S3, its credentials.
struct Bucket {
    url: String,
    credentials: Option<Value>,
}

impl Bucket {
    fn local(project: &TestProject) -> Self {
        let folder = project.path().join("bucket");
        std::fs::create_dir_all(&folder).unwrap();
        Bucket {
            url: folder.display().to_string(),
            credentials: None,
        }
    }

    fn s3(test: &str) -> Self {
        let server = common::s3::server();
        Bucket {
            url: server.bucket_url(test),
            credentials: Some(server.credentials()),
        }
    }
}

fn python() -> PathBuf {
    let python = std::env::var("DLT_TEST_PYTHON").unwrap_or_else(|_| DEFAULT_PYTHON.to_owned());
    let path = PathBuf::from(python);
    assert!(
        path.exists(),
        "Python dlt interop tests need a Python with dlt 1.31, pyarrow and s3fs at {}; \
         run scripts/setup-python.sh or set DLT_TEST_PYTHON",
        path.display()
    );
    path
}

/// Creates a project that loads `data/events.jsonl` into `bucket`, dataset `dataset`.
fn project_for(bucket: impl FnOnce(&TestProject) -> Bucket, dataset: &str, format: &Format) -> (TestProject, Bucket) {
    let project = TestProject::new("");
    let bucket = bucket(&project);
    // JSON is valid YAML flow syntax, so the credentials mapping is written as JSON.
    let credentials = match &bucket.credentials {
        Some(credentials) => format!("\n    credentials: {credentials}"),
        None => String::new(),
    };
    let file_format = match format.in_dlt_yml {
        true => format!("\n    loader_file_format: {}", format.name),
        false => String::new(),
    };
    let dlt_yml = format!(
        "sources:
  events:
    type: files
    path: data/events.jsonl
    table_name: events
    primary_key: id
    incremental: {{cursor_path: updated_at, initial_value: \"2024-01-01T00:00:00Z\"}}
destinations:
  lake:
    type: filesystem
    bucket_url: \"{url}\"{credentials}{file_format}
pipelines:
  {PIPELINE}:
    source: events
    destination: lake
    dataset_name: {dataset}
",
        url = bucket.url
    );
    std::fs::write(project.path().join("dlt.yml"), dlt_yml).unwrap();
    (project, bucket)
}

/// Writes events `1..=last` to `data/events.jsonl`, one day apart.
fn write_events(project: &TestProject, last: u32) {
    let lines: Vec<String> = (1..=last)
        .map(|id| format!("{{\"id\": {id}, \"name\": \"event-{id}\", \"updated_at\": \"2024-02-{id:02}T00:00:00Z\"}}"))
        .collect();
    project.write_data("events.jsonl", &(lines.join("\n") + "\n"));
}

/// Runs the Python script in `mode` and returns its result object.
fn run_python(project: &TestProject, bucket: &Bucket, dataset: &str, format: &Format, mode: &str) -> Value {
    let script = project.path().join("interop.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let credentials = bucket.credentials.as_ref().map(Value::to_string).unwrap_or_default();
    let output = Command::new(python())
        .arg(&script)
        .arg(mode)
        .arg(&bucket.url)
        .arg(credentials)
        .arg(project.path().join("python-pipelines"))
        .arg(project.path().join("data/events.jsonl"))
        .arg(PIPELINE)
        .arg(dataset)
        .arg(format.name)
        .env("RUNTIME__DLTHUB_TELEMETRY", "false")
        .envs(format.environment())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "Python dlt failed in mode {mode}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULT:"))
        .unwrap_or_else(|| panic!("no RESULT line in:\n{stdout}"));
    serde_json::from_str(line).unwrap()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Returns the ids of all rows, sorted as the script sorts the rows.
fn ids(result: &Value) -> Vec<i64> {
    rows(result).into_iter().map(|(id, _)| id).collect()
}

/// Returns the ids of the rows that load `load_id` wrote.
fn ids_of_load(result: &Value, load_id: &str) -> Vec<i64> {
    rows(result)
        .into_iter()
        .filter(|(_, row_load_id)| row_load_id == load_id)
        .map(|(id, _)| id)
        .collect()
}

fn rows(result: &Value) -> Vec<(i64, String)> {
    let rows = result["rows"].as_array().unwrap_or_else(|| panic!("no rows in {result}"));
    rows.iter()
        .map(|row| (row[0].as_i64().unwrap(), row[1].as_str().unwrap().to_owned()))
        .collect()
}

/// Asserts that each data file of table `events` is named
/// `<load_id>.<file_id>.<extension>`, dlt's default layout, after a load of its rows.
fn assert_file_names(result: &Value, format: &Format) {
    let load_ids: Vec<String> = rows(result).into_iter().map(|(_, load_id)| load_id).collect();
    let files = result["files"].as_array().unwrap_or_else(|| panic!("no files in {result}"));
    for file in files {
        let name = file.as_str().unwrap();
        let stem = name
            .strip_suffix(&format!(".{}", format.extension))
            .unwrap_or_else(|| panic!("{name} does not end with .{}", format.extension));
        let (load_id, file_id) = stem.rsplit_once('.').unwrap_or_else(|| panic!("no file id in {name}"));
        assert!(load_ids.iter().any(|id| id == load_id), "{name} starts with no load id of {load_ids:?}");
        assert!(!file_id.is_empty(), "empty file id in {name}");
    }
}

fn distinct(mut ids: Vec<i64>) -> Vec<i64> {
    ids.dedup();
    ids
}

fn last_load_id(result: &Value) -> String {
    let load_ids = result["load_ids"].as_array().unwrap_or_else(|| panic!("no load_ids in {result}"));
    let last = load_ids.last().unwrap_or_else(|| panic!("Python loaded no package: {result}"));
    last.as_str().unwrap().to_owned()
}

/// Our runner loads events 1..3, then Python restores the pipeline from the
/// bucket and loads events 4 and 5 only.
fn check_python_continues_ours(project: &TestProject, bucket: &Bucket, dataset: &str, format: &Format) {
    write_events(project, 3);
    assert_success(&project.dlt_with_env(&["pipeline", PIPELINE, "run"], &format.environment()));
    let working_dir = project.data_dir().join("pipelines").join(PIPELINE);
    let state = read_json(&working_dir.join("state.json"));
    let schema = read_json(&working_dir.join("schemas/events.schema.json"));

    write_events(project, 5);
    let result = run_python(project, bucket, dataset, format, "continue");

    assert_eq!(result["restored_state_hash"], state["_version_hash"], "restored state hash");
    assert_eq!(result["restored_state_version"], state["_state_version"], "restored state version");
    assert_eq!(result["restored_schemas"]["events"], schema["version_hash"], "restored schema hash");
    assert_eq!(ids_of_load(&result, &last_load_id(&result)), [4, 5], "rows of Python's load");
    assert_eq!(ids(&result).len(), 5, "row count in {:?}", result["files"]);
    assert_eq!(distinct(ids(&result)), [1, 2, 3, 4, 5], "distinct ids in {:?}", result["files"]);
    assert_file_names(&result, format);
}

/// Python loads events 1..3, then our runner, with no working directory,
/// restores Python's state from the bucket and loads events 4 and 5 only.
fn check_ours_continues_python(project: &TestProject, bucket: &Bucket, dataset: &str, format: &Format) {
    write_events(project, 3);
    let first = run_python(project, bucket, dataset, format, "first");
    let python_load_id = last_load_id(&first);
    assert_eq!(ids(&first), [1, 2, 3], "Python's rows");

    write_events(project, 5);
    assert_success(&project.dlt_with_env(&["pipeline", PIPELINE, "run"], &format.environment()));
    let result = run_python(project, bucket, dataset, format, "read");

    let ours: Vec<i64> = rows(&result)
        .into_iter()
        .filter(|(_, load_id)| *load_id != python_load_id)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ours, [4, 5], "rows of our load");
    assert_eq!(ids(&result).len(), 5, "row count in {:?}", result["files"]);
    assert_eq!(distinct(ids(&result)), [1, 2, 3, 4, 5], "distinct ids in {:?}", result["files"]);
    assert_file_names(&result, format);
    let working_dir = project.data_dir().join("pipelines").join(PIPELINE);
    let state = read_json(&working_dir.join("state.json"));
    let cursor = &state["sources"]["events"]["resources"]["events"]["incremental"]["updated_at"]["last_value"];
    assert_eq!(cursor, &json!("2024-02-05T00:00:00Z"), "cursor after our run");
}

#[test]
fn python_continues_our_local_dataset() {
    let dataset = "events_ours_then_python";
    let (project, bucket) = project_for(Bucket::local, dataset, &Format::PARQUET);
    check_python_continues_ours(&project, &bucket, dataset, &Format::PARQUET);
}

#[test]
fn ours_continues_python_local_dataset() {
    let dataset = "events_python_then_ours";
    let (project, bucket) = project_for(Bucket::local, dataset, &Format::PARQUET);
    check_ours_continues_python(&project, &bucket, dataset, &Format::PARQUET);
}

#[test]
fn python_continues_our_s3_dataset() {
    let dataset = "events_ours_then_python";
    let (project, bucket) = project_for(|_| Bucket::s3("python-continues-ours"), dataset, &Format::PARQUET);
    check_python_continues_ours(&project, &bucket, dataset, &Format::PARQUET);
}

#[test]
fn ours_continues_python_s3_dataset() {
    let dataset = "events_python_then_ours";
    let (project, bucket) = project_for(|_| Bucket::s3("ours-continues-python"), dataset, &Format::PARQUET);
    check_ours_continues_python(&project, &bucket, dataset, &Format::PARQUET);
}

#[test]
fn python_continues_our_local_jsonl() {
    let dataset = "jsonl_ours_then_python";
    let (project, bucket) = project_for(Bucket::local, dataset, &Format::JSONL_GZIP);
    check_python_continues_ours(&project, &bucket, dataset, &Format::JSONL_GZIP);
}

#[test]
fn ours_continues_python_local_jsonl() {
    let dataset = "jsonl_python_then_ours";
    let (project, bucket) = project_for(Bucket::local, dataset, &Format::JSONL_GZIP);
    check_ours_continues_python(&project, &bucket, dataset, &Format::JSONL_GZIP);
}

#[test]
fn python_continues_our_local_csv() {
    let dataset = "csv_ours_then_python";
    let (project, bucket) = project_for(Bucket::local, dataset, &Format::CSV_GZIP);
    check_python_continues_ours(&project, &bucket, dataset, &Format::CSV_GZIP);
}

#[test]
fn ours_continues_python_local_csv() {
    let dataset = "csv_python_then_ours";
    let (project, bucket) = project_for(Bucket::local, dataset, &Format::CSV_GZIP);
    check_ours_continues_python(&project, &bucket, dataset, &Format::CSV_GZIP);
}

#[test]
fn python_continues_our_s3_plain_jsonl() {
    let dataset = "jsonl_ours_then_python";
    let format = Format::JSONL_PLAIN_FROM_ENV;
    let (project, bucket) = project_for(|_| Bucket::s3("python-continues-ours-jsonl"), dataset, &format);
    check_python_continues_ours(&project, &bucket, dataset, &format);
}

#[test]
fn ours_continues_python_s3_plain_jsonl() {
    let dataset = "jsonl_python_then_ours";
    let format = Format::JSONL_PLAIN_FROM_ENV;
    let (project, bucket) = project_for(|_| Bucket::s3("ours-continues-python-jsonl"), dataset, &format);
    check_ours_continues_python(&project, &bucket, dataset, &format);
}

#[test]
fn unknown_format_is_config_error() {
    let (project, _bucket) = project_for(Bucket::local, "unused", &Format::PARQUET);
    write_events(&project, 1);

    let output = project.dlt_with_env(
        &["pipeline", PIPELINE, "run"],
        &[("DESTINATION__LAKE__LOADER_FILE_FORMAT", "xml")],
    );

    assert!(!output.status.success(), "a run with an unknown format must fail");
    let message = common::stderr(&output);
    assert!(message.contains("`loader_file_format` \"xml\""), "{message}");
    assert!(message.contains("parquet, jsonl, csv"), "{message}");
}
