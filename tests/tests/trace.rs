//! Trace storage: trace files, the trace pipeline, failures of the trace
//! destination, and secrets kept out of every output.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::{TestProject, assert_success, count_rows, duckdb_config, plugin_file, stderr, stdout};
use destination_duckdb::DuckDbDestinationFactory;
use retry_policies::Fixed;
use runner_core::destination::DestinationHandle;
use runner_core::extract::{Resource, Source};
use runner_core::plugins::load_destination_library;
use runner_core::runner::RecordingClock;
use runner_core::trace::AttemptTrace;
use runner_core::{Pipeline, PipelineOptions, Runner, RunnerOptions};
use serde_json::{Value, json};

const PIPELINE: &str = "traced";
const TRACE_PIPELINE: &str = "_trace_traced";

struct Setup {
    folder: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        Setup {
            folder: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.folder.path()
    }

    fn database(&self) -> PathBuf {
        self.path().join("warehouse.duckdb")
    }

    /// The main pipeline; its destination fails the first `fail_loads` loads.
    fn pipeline(&self, fail_loads: u64, category: &str) -> Pipeline {
        let library = load_destination_library(&plugin_file("destination_faulty")).unwrap();
        let mut config = duckdb_config(&self.database(), PIPELINE, self.path());
        config["fail_loads"] = json!(fail_loads);
        config["fail_category"] = json!(category);
        config["counter_file"] = json!(self.path().join("calls.txt"));
        let destination = DestinationHandle::from_library("faulty", &library, &config).unwrap();
        let options = PipelineOptions::new(PIPELINE)
            .with_pipelines_dir(self.path().join("pipelines"))
            .with_dataset_name("ds");
        Pipeline::new(options, destination).unwrap()
    }

    /// Opens a trace pipeline that loads into `database` without injected faults.
    fn trace_pipeline(&self, database: &Path) -> Pipeline {
        let config = duckdb_config(database, TRACE_PIPELINE, self.path());
        let destination = DestinationHandle::linked::<DuckDbDestinationFactory>("warehouse", &config).unwrap();
        let options = PipelineOptions::new(TRACE_PIPELINE)
            .with_pipelines_dir(self.path().join("pipelines"))
            .with_dataset_name("_trace_ds");
        Pipeline::new(options, destination).unwrap()
    }

    fn traces_dir(&self) -> PathBuf {
        self.working_dir().join("traces")
    }

    fn working_dir(&self) -> PathBuf {
        self.path().join("pipelines").join(PIPELINE)
    }

    fn last_trace(&self) -> AttemptTrace {
        serde_json::from_slice(&fs::read(self.working_dir().join("last_trace.json")).unwrap()).unwrap()
    }

    fn read_trace_file(&self, name: &str) -> AttemptTrace {
        serde_json::from_slice(&fs::read(self.traces_dir().join(name)).unwrap()).unwrap()
    }

    fn trace_files(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.traces_dir()) else { return Vec::new() };
        let mut names: Vec<String> = entries
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with("_trace.json"))
            .collect();
        names.sort();
        names
    }
}

fn rows() -> impl FnMut() -> runner_core::Result<Source> + Send + 'static {
    || {
        let items: Vec<Value> = (1..=5).map(|id| json!({"id": id})).collect();
        Ok(Source::new("numbers", vec![Resource::from_rows("numbers", items)]))
    }
}

fn strings(connection: &duckdb::Connection, sql: &str) -> Vec<String> {
    let mut statement = connection.prepare(sql).unwrap();
    statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
}

fn fixed(max_attempts: u32) -> RunnerOptions {
    RunnerOptions::default().with_retry_policy(Box::new(Fixed {
        max_attempts,
        delay: Duration::from_secs(1),
    }))
}

#[test]
fn successful_run_stores_steps_in_order() {
    let setup = Setup::new();
    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default())
        .with_trace_pipeline(setup.trace_pipeline(&setup.database()));

    let outcome = runner.run_blocking(rows()).unwrap();

    assert!(outcome.trace_warnings.is_empty(), "{:?}", outcome.trace_warnings);
    let connection = duckdb::Connection::open(setup.database()).unwrap();
    assert_eq!(count_rows(&connection, "_trace_ds.traced_trace"), 1);
    let steps = strings(&connection, "SELECT step FROM _trace_ds.traced_trace__steps ORDER BY _dlt_list_idx");
    assert_eq!(steps, ["extract", "normalize", "load"]);
    let sync = strings(&connection, "SELECT sync__step_info__sync_outcome FROM _trace_ds.traced_trace");
    assert_eq!(sync, ["nothing_stored"]);
    assert!(setup.trace_files().is_empty(), "loaded trace files are deleted");
}

#[test]
fn successful_run_records_rows_per_table() {
    let setup = Setup::new();
    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default())
        .with_trace_pipeline(setup.trace_pipeline(&setup.database()));

    runner.run_blocking(rows()).unwrap();

    let connection = duckdb::Connection::open(setup.database()).unwrap();
    let rows: i64 = connection
        .query_row(
            "SELECT row_count FROM _trace_ds.traced_trace__steps__step_info__packages__tables WHERE table_name = 'numbers'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(rows, 5);
}

#[test]
fn retried_load_stores_three_traces() {
    let setup = Setup::new();
    let trace_database = setup.path().join("traces.duckdb");
    let clock = Arc::new(RecordingClock::new());
    let mut runner = Runner::new(setup.pipeline(2, "transient"), fixed(3))
        .with_clock(clock)
        .with_trace_pipeline(setup.trace_pipeline(&trace_database));

    runner.run_blocking(rows()).unwrap();

    let connection = duckdb::Connection::open(&trace_database).unwrap();
    assert_eq!(count_rows(&connection, "_trace_ds.traced_trace"), 3);
    let ids = strings(&connection, "SELECT DISTINCT transaction_id FROM _trace_ds.traced_trace");
    assert_eq!(ids.len(), 3, "distinct transaction ids");
    let failed = strings(&connection, "SELECT transaction_id FROM _trace_ds.traced_trace WHERE NOT success");
    assert_eq!(failed.len(), 2);
    let attempts = strings(&connection, "SELECT CAST(attempt AS VARCHAR) FROM _trace_ds.traced_trace ORDER BY attempt");
    assert_eq!(attempts, ["1", "2", "3"]);
}

#[test]
fn terminal_failure_stores_exception_chain() {
    let setup = Setup::new();
    let trace_database = setup.path().join("traces.duckdb");
    let mut runner = Runner::new(setup.pipeline(1, "terminal"), fixed(3))
        .with_trace_pipeline(setup.trace_pipeline(&trace_database));

    let error = runner.run_blocking(rows()).unwrap_err();

    assert!(error.to_string().contains("injected failure"), "{error}");
    let connection = duckdb::Connection::open(&trace_database).unwrap();
    assert_eq!(count_rows(&connection, "_trace_ds.traced_trace"), 1);
    let failed = strings(&connection, "SELECT step FROM _trace_ds.traced_trace__steps WHERE NOT success");
    assert_eq!(failed, ["load"]);
    let types = strings(
        &connection,
        "SELECT exception_type FROM _trace_ds.traced_trace__steps__exceptions ORDER BY _dlt_list_idx",
    );
    assert_eq!(
        types,
        ["runner_core::Error::InStep", "runner_core::Error::Destination", "plugin_sdk::PluginError"]
    );
    let terminal = strings(
        &connection,
        "SELECT CAST(is_terminal AS VARCHAR) FROM _trace_ds.traced_trace__steps__exceptions ORDER BY _dlt_list_idx",
    );
    assert_eq!(terminal, ["true", "true", "true"]);
    let messages = strings(&connection, "SELECT message FROM _trace_ds.traced_trace__steps__exceptions");
    assert!(messages.iter().all(|message| message.contains("injected failure 1 of 1")), "{messages:?}");
}

#[test]
fn unreachable_trace_destination_keeps_files() {
    let setup = Setup::new();
    let trace_database = setup.path().join("missing").join("traces.duckdb");
    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default())
        .with_trace_pipeline(setup.trace_pipeline(&trace_database));

    let outcome = runner.run_blocking(rows()).unwrap();

    assert_eq!(outcome.trace_warnings.len(), 1, "{:?}", outcome.trace_warnings);
    assert!(outcome.trace_warnings[0].contains("traces were not loaded"), "{:?}", outcome.trace_warnings);
    assert!(outcome.run.is_some(), "the data run still succeeds");
    assert_eq!(count_rows(&duckdb::Connection::open(setup.database()).unwrap(), "ds.numbers"), 5);
    assert_eq!(setup.trace_files().len(), 1, "the trace file is kept");
}

#[test]
fn kept_traces_load_with_next_run() {
    let setup = Setup::new();
    let trace_database = setup.path().join("missing").join("traces.duckdb");
    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default())
        .with_trace_pipeline(setup.trace_pipeline(&trace_database));
    runner.run_blocking(rows()).unwrap();
    drop(runner);

    fs::create_dir(setup.path().join("missing")).unwrap();
    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default())
        .with_trace_pipeline(setup.trace_pipeline(&trace_database));
    let outcome = runner.run_blocking(rows()).unwrap();

    assert!(outcome.trace_warnings.is_empty(), "{:?}", outcome.trace_warnings);
    let connection = duckdb::Connection::open(&trace_database).unwrap();
    assert_eq!(count_rows(&connection, "_trace_ds.traced_trace"), 2, "each trace loads once");
    assert!(setup.trace_files().is_empty());
}

#[test]
fn stray_file_in_traces_is_kept() {
    let setup = Setup::new();
    fs::create_dir_all(setup.traces_dir()).unwrap();
    fs::write(setup.traces_dir().join("notes.txt"), "not a trace").unwrap();
    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default())
        .with_trace_pipeline(setup.trace_pipeline(&setup.database()));

    let outcome = runner.run_blocking(rows()).unwrap();

    assert!(outcome.trace_warnings.is_empty(), "{:?}", outcome.trace_warnings);
    assert!(setup.traces_dir().join("notes.txt").is_file());
    let connection = duckdb::Connection::open(setup.database()).unwrap();
    assert_eq!(count_rows(&connection, "_trace_ds.traced_trace"), 1);
}

#[test]
fn clean_folder_run_keeps_unloaded_traces() {
    let setup = Setup::new();
    let trace_database = setup.path().join("missing").join("traces.duckdb");
    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default())
        .with_trace_pipeline(setup.trace_pipeline(&trace_database));
    runner.run_blocking(rows()).unwrap();
    drop(runner);

    let options = RunnerOptions::default().with_run_from_clean_folder(true);
    let mut runner = Runner::new(setup.pipeline(0, "transient"), options)
        .with_trace_pipeline(setup.trace_pipeline(&trace_database));
    runner.run_blocking(rows()).unwrap();

    assert_eq!(setup.trace_files().len(), 2, "the first run's trace survives the wipe");
}

#[test]
fn terminal_failure_writes_last_trace() {
    let setup = Setup::new();
    let mut runner = Runner::new(setup.pipeline(1, "terminal"), RunnerOptions::default());

    runner.run_blocking(rows()).unwrap_err();

    let trace = setup.last_trace();
    assert!(!trace.success);
    assert_eq!(trace.failed_step().unwrap().step, "load");
    assert_eq!(setup.trace_files(), [trace_file_name(&trace)]);
    let file = setup.read_trace_file(&trace_file_name(&trace));
    assert_eq!(file, trace, "the trace file holds the attempt's trace");
    let exceptions = &file.failed_step().unwrap().exceptions;
    assert_eq!(exceptions.len(), 3, "{exceptions:?}");
    assert!(exceptions.iter().all(|exception| exception.is_terminal), "{exceptions:?}");
}

/// Returns the file name of `trace` in `traces/`.
fn trace_file_name(trace: &AttemptTrace) -> String {
    format!("{}_attempt_{}_trace.json", trace.transaction_id, trace.attempt)
}

#[test]
fn successful_run_writes_trace_file() {
    let setup = Setup::new();
    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default());

    runner.run_blocking(rows()).unwrap();

    let trace = setup.last_trace();
    assert!(trace.success);
    assert_eq!(setup.trace_files(), [trace_file_name(&trace)]);
}

#[test]
fn retried_run_writes_file_per_attempt() {
    let setup = Setup::new();
    let mut runner = Runner::new(setup.pipeline(2, "transient"), fixed(3)).with_clock(Arc::new(RecordingClock::new()));

    runner.run_blocking(rows()).unwrap();

    let files = setup.trace_files();
    assert_eq!(files.len(), 3, "{files:?}");
    let mut traces: Vec<AttemptTrace> = files.iter().map(|name| setup.read_trace_file(name)).collect();
    traces.sort_by_key(|trace| trace.attempt);
    let attempts: Vec<(u32, bool)> = traces.iter().map(|trace| (trace.attempt, trace.success)).collect();
    assert_eq!(attempts, [(1, false), (2, false), (3, true)]);
    for trace in &traces {
        assert!(files.contains(&trace_file_name(trace)), "{files:?} lacks attempt {}", trace.attempt);
    }
}

#[test]
fn finalize_writes_trace_file() {
    let setup = Setup::new();
    let mut runner = Runner::new(setup.pipeline(1, "terminal"), RunnerOptions::default());
    runner.run_blocking(rows()).unwrap_err();
    drop(runner);

    // The shared call counter lets the second destination's load succeed.
    let mut runner = Runner::new(setup.pipeline(1, "terminal"), RunnerOptions::default());
    let finalized = runner.finalize_blocking().unwrap();

    assert!(finalized.is_some(), "the failed package was pending");
    let trace = setup.last_trace();
    assert_eq!(trace.description, "finalize pending data");
    assert!(trace.success);
    let files = setup.trace_files();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.contains(&trace_file_name(&trace)), "{files:?}");
}

#[test]
fn trace_files_pruned_to_max() {
    let setup = Setup::new();
    fs::create_dir_all(setup.traces_dir()).unwrap();
    fs::write(setup.traces_dir().join("notes.txt"), "not a trace").unwrap();
    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default().with_max_trace_files(2));

    let mut newest = Vec::new();
    for _ in 0..4 {
        runner.run_blocking(rows()).unwrap();
        newest.push(trace_file_name(&setup.last_trace()));
    }

    let mut expected = newest[2..].to_vec();
    expected.sort();
    assert_eq!(setup.trace_files(), expected, "the two newest trace files stay");
    assert!(setup.traces_dir().join("notes.txt").is_file(), "a stray file is not deleted");
}

/// Runs the numbers source with `columns` set in every row.
fn rows_with(columns: Value) -> impl FnMut() -> runner_core::Result<Source> + Send + 'static {
    move || {
        let items: Vec<Value> = (1..=3)
            .map(|id| {
                let mut row = columns.clone();
                row["id"] = json!(id);
                row
            })
            .collect();
        Ok(Source::new("numbers", vec![Resource::from_rows("numbers", items)]))
    }
}

/// The schema changes of one stored trace, read back from the trace tables.
struct StoredSchemaChanges {
    tables_added: Vec<String>,
    /// `table.column data_type nullable`, in the order they were added.
    columns_added: Vec<String>,
    version_hashes_after: Vec<String>,
    migrated_tables: Vec<String>,
    loaded_schema_hashes: Vec<String>,
}

/// Returns `select` over the rows of child table `table` (alias `c`) of
/// `traced_trace__steps` for trace `id` and step `step`, in list order. The
/// table is joined to its parents through `_dlt_parent_id`.
fn step_child_values(connection: &duckdb::Connection, select: &str, table: &str, id: &str, step: &str) -> Vec<String> {
    let sql = format!(
        "SELECT {select} FROM _trace_ds.traced_trace t \
         JOIN _trace_ds.traced_trace__steps s ON s._dlt_parent_id = t._dlt_id \
         JOIN _trace_ds.traced_trace__steps__step_info__{table} c ON c._dlt_parent_id = s._dlt_id \
         WHERE t.transaction_id = '{id}' AND s.step = '{step}' ORDER BY c._dlt_list_idx"
    );
    strings(connection, &sql)
}

/// Returns `select` over list `list` (alias `l`) nested in child table
/// `table` (alias `c`) of `traced_trace__steps`, for trace `id` and step `step`.
fn step_grandchild_values(connection: &duckdb::Connection, select: &str, table: &str, list: &str, id: &str, step: &str) -> Vec<String> {
    let sql = format!(
        "SELECT {select} FROM _trace_ds.traced_trace t \
         JOIN _trace_ds.traced_trace__steps s ON s._dlt_parent_id = t._dlt_id \
         JOIN _trace_ds.traced_trace__steps__step_info__{table} c ON c._dlt_parent_id = s._dlt_id \
         JOIN _trace_ds.traced_trace__steps__step_info__{table}__{list} l ON l._dlt_parent_id = c._dlt_id \
         WHERE t.transaction_id = '{id}' AND s.step = '{step}' ORDER BY c._dlt_list_idx, l._dlt_list_idx"
    );
    strings(connection, &sql)
}

/// Reads the schema changes recorded by each trace in
/// `_trace_ds.traced_trace`, oldest first.
fn stored_schema_changes(connection: &duckdb::Connection) -> Vec<StoredSchemaChanges> {
    let ids = strings(connection, "SELECT transaction_id FROM _trace_ds.traced_trace ORDER BY started_at");
    let column = "l.table_name || '.' || l.column_name || ' ' || l.data_type || ' ' || CAST(l.nullable AS VARCHAR)";

    ids.iter()
        .map(|id| StoredSchemaChanges {
            tables_added: step_grandchild_values(connection, "l.value", "schema_changes", "tables_added", id, "normalize"),
            columns_added: step_grandchild_values(connection, column, "schema_changes", "columns_added", id, "normalize"),
            version_hashes_after: step_child_values(connection, "c.version_hash_after", "schema_changes", id, "normalize"),
            migrated_tables: step_grandchild_values(connection, "l.value", "packages", "migrated_tables", id, "load"),
            loaded_schema_hashes: step_child_values(connection, "c.schema_version_hash", "packages", id, "load"),
        })
        .collect()
}

#[test]
fn schema_changes_reach_trace_tables() {
    let setup = Setup::new();
    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default())
        .with_trace_pipeline(setup.trace_pipeline(&setup.database()));

    runner.run_blocking(rows_with(json!({}))).unwrap();
    runner.run_blocking(rows_with(json!({"name": "n"}))).unwrap();
    let third = runner.run_blocking(rows_with(json!({"name": "m"}))).unwrap();

    assert!(third.trace_warnings.is_empty(), "{:?}", third.trace_warnings);
    let connection = duckdb::Connection::open(setup.database()).unwrap();
    let runs = stored_schema_changes(&connection);
    assert_eq!(runs.len(), 3);

    let first = &runs[0];
    assert!(first.tables_added.contains(&"numbers".to_owned()), "{:?}", first.tables_added);
    assert!(first.columns_added.contains(&"numbers.id bigint true".to_owned()), "{:?}", first.columns_added);
    assert!(first.columns_added.contains(&"numbers._dlt_id text false".to_owned()), "{:?}", first.columns_added);
    assert!(first.migrated_tables.contains(&"numbers".to_owned()), "{:?}", first.migrated_tables);

    let second = &runs[1];
    assert_eq!(second.tables_added, Vec::<String>::new());
    assert_eq!(second.columns_added, ["numbers.name text true"]);
    assert_eq!(second.migrated_tables, ["numbers"]);
    assert_eq!(second.loaded_schema_hashes, second.version_hashes_after, "the load used the evolved schema");

    let third = &runs[2];
    assert_eq!(third.tables_added, Vec::<String>::new());
    assert_eq!(third.columns_added, Vec::<String>::new());
    assert_eq!(third.version_hashes_after, Vec::<String>::new(), "no schema change is recorded");
    assert_eq!(third.migrated_tables, Vec::<String>::new());
    assert_eq!(third.loaded_schema_hashes, second.version_hashes_after, "the third load reuses the second schema");

    let stored_hashes = strings(&connection, "SELECT version_hash FROM ds._dlt_version");
    assert!(
        stored_hashes.contains(&second.version_hashes_after[0]),
        "{stored_hashes:?} lacks the traced hash {:?}",
        second.version_hashes_after
    );
}

/// Creates a project whose destination takes `credentials` as a mapping,
/// so that a password can be set through the environment.
fn traced_project(fail_loads: u64, category: &str, run_config: &str) -> TestProject {
    let project = TestProject::new("");
    let yml = format!(
        "\
sources:
  events:
    type: files
    path: data/events.jsonl
    table_name: events
destinations:
  flaky:
    type: faulty
    credentials:
      database: warehouse.duckdb
    fail_loads: {fail_loads}
    fail_category: {category}
    counter_file: {counter}
pipelines:
  p:
    source: events
    destination: flaky
    dataset_name: ds
    run_config:
{run_config}",
        counter = project.path().join("calls.txt").display(),
    );
    fs::write(project.path().join("dlt.yml"), yml).unwrap();
    project.write_data("events.jsonl", "{\"id\": 1}\n{\"id\": 2}\n");
    project
}

#[test]
fn cli_stores_traces_in_same_destination() {
    let project = traced_project(0, "transient", "      store_trace_info: true\n");

    let output = project.dlt(&["pipeline", "p", "run"]);

    assert_success(&output);
    let connection = project.duckdb("warehouse.duckdb");
    assert_eq!(count_rows(&connection, "_trace_ds.p_trace"), 1);
    assert_eq!(count_rows(&connection, "_trace_ds.p_trace__steps"), 3);
    let keys = strings(&connection, "SELECT value FROM _trace_ds.p_trace__resolved_config_keys");
    assert!(keys.contains(&"destinations.flaky.credentials.database".to_owned()), "{keys:?}");
}

#[test]
fn cli_max_trace_files_prunes() {
    let project = traced_project(0, "transient", "      max_trace_files: 2\n");

    for _ in 0..3 {
        assert_success(&project.dlt(&["pipeline", "p", "run"]));
    }

    let traces = project.data_dir().join("pipelines/p/traces");
    let files: Vec<String> = file_names(&traces).into_iter().filter(|name| name.ends_with("_trace.json")).collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(count_rows(&project.duckdb("warehouse.duckdb"), "ds.events"), 6);
}

#[test]
fn cli_failed_destination_open_writes_trace() {
    let project = traced_project(0, "transient", "      max_trace_files: 5\n");
    let yml = fs::read_to_string(project.path().join("dlt.yml")).unwrap();
    fs::write(project.path().join("dlt.yml"), yml.replace("    fail_loads: 0\n", "    fail_open: true\n")).unwrap();

    let output = project.dlt(&["pipeline", "p", "run"]);

    assert_eq!(output.status.code(), Some(3), "a transient open failure: {}", stderr(&output));
    let working_dir = project.data_dir().join("pipelines/p");
    let trace: AttemptTrace = serde_json::from_slice(&fs::read(working_dir.join("last_trace.json")).unwrap()).unwrap();
    assert!(!trace.success);
    assert_eq!(trace.attempt, 1);
    let failed = trace.failed_step().unwrap();
    assert_eq!(failed.step, "sync");
    let types: Vec<&str> = failed.exceptions.iter().map(|exception| exception.exception_type.as_str()).collect();
    assert_eq!(types, ["runner_core::Error::DestinationCall", "plugin_sdk::PluginError"]);
    assert!(failed.exceptions[1].message.contains("injected failure while opening"), "{:?}", failed.exceptions);
    assert!(!failed.exceptions[0].is_terminal, "{:?}", failed.exceptions);
    assert_eq!(file_names(&working_dir.join("traces")), [trace_file_name(&trace)]);
}

#[test]
fn cli_trace_command_prints_last_trace() {
    let project = traced_project(0, "transient", "      store_trace_info: true\n");
    assert_success(&project.dlt(&["pipeline", "p", "run"]));

    let text = project.dlt(&["pipeline", "p", "trace"]);
    let json = project.dlt(&["pipeline", "p", "trace", "--json"]);

    assert_success(&text);
    assert!(stdout(&text).contains("run attempt 1 succeeded"), "{}", stdout(&text));
    assert!(stdout(&text).contains("events"), "{}", stdout(&text));
    assert!(stdout(&text).contains("new column events.id (bigint)"), "{}", stdout(&text));
    assert_success(&json);
    let trace: AttemptTrace = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(trace.pipeline_name, "p");
}

#[test]
fn cli_missing_trace_prints_no_hint() {
    let project = traced_project(0, "transient", "");

    let output = project.dlt(&["pipeline", "p", "trace"]);

    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("has no trace yet"), "{}", stderr(&output));
    assert!(!stderr(&output).contains("hint:"), "the run hints speak of extracted data: {}", stderr(&output));
}

#[test]
fn cli_trace_store_failure_exits_5() {
    let project = traced_project(0, "transient", "      store_trace_info: traces\n");
    let yml = fs::read_to_string(project.path().join("dlt.yml")).unwrap()
        + "  traces:\n    source: events\n    destination: tracedb\n    dataset_name: trace_data\n";
    let yml = yml.replace(
        "pipelines:\n",
        "  tracedb:\n    type: duckdb\n    credentials: missing/traces.duckdb\npipelines:\n",
    );
    fs::write(project.path().join("dlt.yml"), yml).unwrap();

    let output = project.dlt(&["pipeline", "p", "run"]);

    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    assert!(stderr(&output).contains("traces were not loaded"), "{}", stderr(&output));
    assert_eq!(count_rows(&project.duckdb("warehouse.duckdb"), "ds.events"), 2);
}

const CANARY: &str = "CANARY-7f3a91c2-secret-value";

/// Returns every file below `folder` whose bytes contain `needle`.
fn files_containing(folder: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![folder.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if fs::read(&path).unwrap().windows(needle.len()).any(|window| window == needle.as_bytes()) {
                found.push(path);
            }
        }
    }
    found
}

/// Returns every text value of every table of the database that contains `needle`.
fn database_values_containing(connection: &duckdb::Connection, needle: &str) -> Vec<String> {
    let columns: Vec<(String, String, String)> = {
        let mut statement = connection
            .prepare("SELECT table_schema, table_name, column_name FROM information_schema.columns WHERE data_type = 'VARCHAR'")
            .unwrap();
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let mut found = Vec::new();
    for (schema, table, column) in columns {
        let sql = format!("SELECT \"{column}\" FROM \"{schema}\".\"{table}\" WHERE contains(\"{column}\", '{needle}')");
        found.extend(strings(connection, &sql));
    }
    found
}

fn run_with_canary(project: &TestProject) -> std::process::Output {
    std::process::Command::new(common::dlt_binary())
        .args(["--project"])
        .arg(project.path())
        .args(["-vv", "pipeline", "p", "run"])
        .env("DLT_DATA_DIR", project.data_dir())
        .env("DESTINATIONS__FLAKY__CREDENTIALS__PASSWORD", CANARY)
        .env_remove("DLT_PLUGIN_DIR")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[test]
fn canary_secret_appears_nowhere() {
    let success = traced_project(0, "transient", "      store_trace_info: true\n");
    let failure = traced_project(1, "terminal", "      store_trace_info: true\n");

    let outputs = [run_with_canary(&success), run_with_canary(&failure)];
    let trace_outputs = [success.dlt(&["pipeline", "p", "trace", "--json"]), failure.dlt(&["pipeline", "p", "trace"])];

    assert_success(&outputs[0]);
    assert_eq!(outputs[1].status.code(), Some(4), "{}", stderr(&outputs[1]));
    let keys = stdout(&trace_outputs[0]);
    assert!(keys.contains("destinations.flaky.credentials.password"), "the key is traced: {keys}");
    for output in outputs.iter().chain(trace_outputs.iter()) {
        assert!(!stdout(output).contains(CANARY), "stdout: {}", stdout(output));
        assert!(!stderr(output).contains(CANARY), "stderr: {}", stderr(output));
    }
    for project in [&success, &failure] {
        assert_eq!(files_containing(project.path(), CANARY), Vec::<PathBuf>::new());
        assert_eq!(database_values_containing(&project.duckdb("warehouse.duckdb"), CANARY), Vec::<String>::new());
    }
}

/// Returns the names of the files in `folder`, or nothing when it is missing.
fn file_names(folder: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(folder) else { return Vec::new() };
    entries.map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

#[test]
fn cli_trace_pipeline_on_filesystem() {
    let project = traced_project(0, "transient", "      store_trace_info: traces\n");
    let bucket = project.path().join("bucket");
    fs::create_dir(&bucket).unwrap();
    let yml = fs::read_to_string(project.path().join("dlt.yml")).unwrap()
        + "  traces:\n    source: events\n    destination: lake\n    dataset_name: trace_data\n";
    let lake = format!("  lake:\n    type: filesystem\n    bucket_url: {}\npipelines:\n", bucket.display());
    fs::write(project.path().join("dlt.yml"), yml.replace("pipelines:\n", &lake)).unwrap();

    let output = project.dlt(&["pipeline", "p", "run"]);

    assert_success(&output);
    let dataset = bucket.join("trace_data");
    assert_eq!(file_names(&dataset.join("p_trace")).len(), 1, "one trace file in {}", dataset.display());
    assert_eq!(file_names(&dataset.join("p_trace__steps")).len(), 1);
    assert_eq!(file_names(&dataset.join("_dlt_loads")).len(), 1);
    assert!(file_names(&project.data_dir().join("pipelines/p/traces")).is_empty());
}

/// A kill between the trace package commit and its marker leaves the trace
/// file and a pending marker behind; the next store must not load it again.
#[test]
fn interrupted_trace_store_loads_trace_once() {
    let project = traced_project(0, "transient", "      store_trace_info: true\n");
    assert_success(&project.dlt(&["pipeline", "p", "run"]));
    let working_dir = project.data_dir().join("pipelines").join("p");
    let last: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(working_dir.join("last_trace.json")).unwrap()).unwrap();
    let transaction_id = last["transaction_id"].as_str().unwrap().to_owned();
    let file_name = format!("{transaction_id}_attempt_1_trace.json");
    fs::copy(working_dir.join("last_trace.json"), working_dir.join("traces").join(&file_name)).unwrap();
    let marker = serde_json::json!({"load_id": "pending", "files": [file_name], "pending_since": 0.0});
    fs::write(working_dir.join("traces").join(".package_pending.json"), marker.to_string()).unwrap();

    assert_success(&project.dlt(&["pipeline", "p", "run"]));

    let connection = project.duckdb("warehouse.duckdb");
    let rows = strings(&connection, "SELECT transaction_id FROM _trace_ds.p_trace");
    let distinct: std::collections::BTreeSet<&String> = rows.iter().collect();
    assert_eq!(rows.len(), distinct.len(), "a trace was stored twice: {rows:?}");
    assert!(!working_dir.join("traces").join(&file_name).exists(), "the claimed trace file is deleted");
}
