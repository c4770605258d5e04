//! Two-way interoperability with Python dlt 1.31 on one DuckDB file.
//!
//! The `dlt` binary and Python dlt take turns on the same pipeline: a `files`
//! source `events` (table `events`) with an incremental cursor `updated_at`.
//! Both keep the cursor at `sources.events.resources.events.incremental.updated_at`,
//! so each side continues where the other stopped: it restores the state from
//! the destination and loads only the newer rows.
//!
//! The interpreter is `$DLT_TEST_PYTHON`, or `/var/tmp/dlt-rs/venv/bin/python`,
//! with dlt 1.31 and duckdb installed. The tests fail when it is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TestProject, assert_success};
use serde_json::Value;

const DEFAULT_PYTHON: &str = "/var/tmp/dlt-rs/venv/bin/python";
const PIPELINE: &str = "interop_events";
const DATASET: &str = "events_data";
const DATABASE: &str = "warehouse.duckdb";

/// Mode `first` loads the events file; mode `continue` restores the pipeline
/// from the destination first and prints the restored hashes. Both print the
/// result as one `RESULT:` line of JSON.
const SCRIPT: &str = r#"
import json, os, sys
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
import dlt

mode, database, pipelines_dir, data_file, pipeline_name, dataset, disposition = sys.argv[1:8]

@dlt.source(name="events")
def events_source():
    @dlt.resource(name="events", primary_key="id", write_disposition=disposition)
    def events(updated_at=dlt.sources.incremental("updated_at", initial_value="2024-01-01T00:00:00Z")):
        with open(data_file) as lines:
            for line in lines:
                yield json.loads(line)
    return events

pipeline = dlt.pipeline(
    pipeline_name=pipeline_name,
    destination=dlt.destinations.duckdb(database),
    dataset_name=dataset,
    pipelines_dir=pipelines_dir,
)
result = {}
if mode == "continue":
    pipeline.sync_destination()
    result["restored_state_hash"] = pipeline.state.get("_version_hash")
    result["restored_state_version"] = pipeline.state.get("_state_version")
    result["restored_schemas"] = {name: s.version_hash for name, s in pipeline.schemas.items()}

info = pipeline.run(events_source())
with pipeline.sql_client() as client:
    rows = client.execute_sql(f'SELECT "id", "_dlt_load_id", "name" FROM "{dataset}"."events" ORDER BY "id"')
result["ids"] = [row[0] for row in rows]
result["names"] = [row[2] for row in rows]
result["last_load_ids"] = [row[0] for row in rows if row[1] == info.loads_ids[-1]] if info.loads_ids else []
result["state_hash"] = pipeline.state.get("_version_hash")
result["schemas"] = {name: s.version_hash for name, s in pipeline.schemas.items()}
print("RESULT:" + json.dumps(result))
"#;

fn python() -> PathBuf {
    let python = std::env::var("DLT_TEST_PYTHON").unwrap_or_else(|_| DEFAULT_PYTHON.to_owned());
    let path = PathBuf::from(python);
    assert!(
        path.exists(),
        "Python dlt interop tests need a Python with dlt 1.31 and duckdb at {}; \
         run scripts/setup-python.sh or set DLT_TEST_PYTHON",
        path.display()
    );
    path
}

fn project(write_disposition: &str) -> TestProject {
    TestProject::new(&format!(
        "sources:
  events:
    type: files
    path: data/events.jsonl
    table_name: events
    write_disposition: {write_disposition}
    primary_key: id
    incremental: {{cursor_path: updated_at, initial_value: \"2024-01-01T00:00:00Z\"}}
destinations:
  warehouse:
    type: duckdb
    credentials: {DATABASE}
pipelines:
  {PIPELINE}:
    source: events
    destination: warehouse
    dataset_name: {DATASET}
"
    ))
}

/// Writes events `1..=last` to `data/events.jsonl`, one day apart.
fn write_events(project: &TestProject, last: u32) {
    let ids: Vec<u32> = (1..=last).collect();
    write_events_of(project, &ids, 0, "v1");
}

/// Writes events `ids` named `<label><id>` with cursor day `id + day_offset`
/// of February 2024.
fn write_events_of(project: &TestProject, ids: &[u32], day_offset: u32, label: &str) {
    let lines: Vec<String> = ids
        .iter()
        .map(|id| {
            let day = id + day_offset;
            format!("{{\"id\": {id}, \"name\": \"{label}-{id}\", \"updated_at\": \"2024-02-{day:02}T00:00:00Z\"}}")
        })
        .collect();
    project.write_data("events.jsonl", &(lines.join("\n") + "\n"));
}

/// Runs the Python script in `mode` and returns its result object.
fn run_python(project: &TestProject, mode: &str, write_disposition: &str) -> Value {
    let script = project.path().join("interop.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let output = Command::new(python())
        .arg(&script)
        .arg(mode)
        .arg(project.path().join(DATABASE))
        .arg(project.path().join("python-pipelines"))
        .arg(project.path().join("data/events.jsonl"))
        .arg(PIPELINE)
        .arg(DATASET)
        .arg(write_disposition)
        .env("RUNTIME__DLTHUB_TELEMETRY", "false")
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

fn event_ids(project: &TestProject) -> Vec<i64> {
    let connection = project.duckdb(DATABASE);
    let mut statement = connection
        .prepare(&format!("SELECT \"id\" FROM \"{DATASET}\".\"events\" ORDER BY \"id\""))
        .unwrap();
    statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
}

#[test]
fn python_continues_our_pipeline() {
    let project = project("append");
    write_events(&project, 3);
    assert_success(&project.dlt(&["pipeline", PIPELINE, "run"]));
    let working_dir = project.data_dir().join("pipelines").join(PIPELINE);
    let state = read_json(&working_dir.join("state.json"));
    let schema = read_json(&working_dir.join("schemas/events.schema.json"));

    write_events(&project, 5);
    let result = run_python(&project, "continue", "append");

    assert_eq!(result["restored_state_hash"], state["_version_hash"], "state hash");
    assert_eq!(result["restored_state_version"], state["_state_version"], "state version");
    assert_eq!(result["restored_schemas"]["events"], schema["version_hash"], "schema hash");
    assert_eq!(result["last_load_ids"], serde_json::json!([4, 5]), "rows of Python's load");
    assert_eq!(result["ids"], serde_json::json!([1, 2, 3, 4, 5]), "all rows");
}

#[test]
fn ours_continues_python_pipeline() {
    let project = project("append");
    // Python's duckdb (2.x in the test venv) writes storage version 69, which
    // this build's DuckDB 1.5 cannot read. DuckDB keeps the storage version of
    // an existing file, so the file is created here first.
    drop(project.duckdb(DATABASE));
    write_events(&project, 3);
    let first = run_python(&project, "first", "append");
    assert_eq!(first["ids"], serde_json::json!([1, 2, 3]), "Python's rows");

    write_events(&project, 5);
    assert_success(&project.dlt(&["pipeline", PIPELINE, "run"]));

    assert_eq!(event_ids(&project), [1, 2, 3, 4, 5]);
    let working_dir = project.data_dir().join("pipelines").join(PIPELINE);
    let state = read_json(&working_dir.join("state.json"));
    let cursor = &state["sources"]["events"]["resources"]["events"]["incremental"]["updated_at"]["last_value"];
    assert_eq!(cursor, "2024-02-05T00:00:00Z", "cursor after our run");
}

#[test]
fn python_merges_into_our_pipeline() {
    let project = project("merge");
    write_events(&project, 3);
    assert_success(&project.dlt(&["pipeline", PIPELINE, "run"]));
    let working_dir = project.data_dir().join("pipelines").join(PIPELINE);
    let schema = read_json(&working_dir.join("schemas/events.schema.json"));

    // Events 2 and 3 come again with a later cursor and a new name.
    write_events_of(&project, &[2, 3, 4, 5], 10, "v2");
    let result = run_python(&project, "continue", "merge");

    assert_eq!(result["restored_schemas"]["events"], schema["version_hash"], "schema hash");
    assert_eq!(result["ids"], serde_json::json!([1, 2, 3, 4, 5]), "one row per id");
    assert_eq!(
        result["names"],
        serde_json::json!(["v1-1", "v2-2", "v2-3", "v2-4", "v2-5"]),
        "newest names"
    );
}

#[test]
fn ours_merges_into_python_pipeline() {
    let project = project("merge");
    drop(project.duckdb(DATABASE));
    write_events(&project, 3);
    run_python(&project, "first", "merge");
    // Python dlt keeps its staging table, which our merge must replace.
    let staged: i64 = project
        .duckdb(DATABASE)
        .query_row(
            &format!("SELECT count(*) FROM information_schema.tables WHERE table_schema = '{DATASET}_staging' AND table_name = 'events'"),
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(staged, 1, "staging table Python left");

    write_events_of(&project, &[2, 3, 4, 5], 10, "v2");
    assert_success(&project.dlt(&["pipeline", PIPELINE, "run"]));

    assert_eq!(event_ids(&project), [1, 2, 3, 4, 5]);
    let connection = project.duckdb(DATABASE);
    let mut statement = connection
        .prepare(&format!("SELECT \"name\" FROM \"{DATASET}\".\"events\" ORDER BY \"id\""))
        .unwrap();
    let names: Vec<String> = statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(names, ["v1-1", "v2-2", "v2-3", "v2-4", "v2-5"]);
    drop(statement);
    drop(connection);

    // Our merge dropped the staging table that Python dlt had recorded in the
    // staging dataset's `_dlt_version`; its next merge must create it again.
    write_events_of(&project, &[5, 6], 20, "v3");
    let again = run_python(&project, "first", "merge");
    assert_eq!(again["ids"], serde_json::json!([1, 2, 3, 4, 5, 6]), "one row per id after Python's second merge");
    assert_eq!(
        again["names"],
        serde_json::json!(["v1-1", "v2-2", "v2-3", "v2-4", "v3-5", "v3-6"]),
        "newest names after Python's second merge"
    );
}
