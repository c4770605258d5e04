//! The runner: retries, steps, terminal errors, pending data, finalize and
//! clean-folder runs, against the fault-injecting DuckDB plugin and a clock
//! that records waits instead of sleeping.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{count_rows, duckdb_config, plugin_file};
use retry_policies::{Backoff, Fixed, NoRetry};
use runner_core::destination::DestinationHandle;
use runner_core::error::{Step, TerminalError};
use runner_core::extract::{ItemProducer, Resource, ResourceOutput, Source};
use runner_core::plugins::load_destination_library;
use runner_core::runner::RecordingClock;
use runner_core::{Error, Pipeline, PipelineOptions, Runner, RunnerOptions};
use serde_json::{Value, json};

const PIPELINE: &str = "runner_test";

struct Setup {
    folder: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        Setup {
            folder: tempfile::tempdir().unwrap(),
        }
    }

    fn database(&self) -> PathBuf {
        self.folder.path().join("runner.duckdb")
    }

    fn counter(&self) -> PathBuf {
        self.folder.path().join("calls.txt")
    }

    /// Opens a pipeline whose destination fails the first `fail_loads` loads.
    fn pipeline(&self, fail_loads: u64, category: &str) -> Pipeline {
        let library = load_destination_library(&plugin_file("destination_faulty")).unwrap();
        let mut config = duckdb_config(&self.database(), PIPELINE, self.folder.path());
        config["fail_loads"] = json!(fail_loads);
        config["fail_category"] = json!(category);
        config["counter_file"] = json!(self.counter());
        let destination = DestinationHandle::from_library("faulty", &library, &config).unwrap();
        let options = PipelineOptions::new(PIPELINE)
            .with_pipelines_dir(self.folder.path().join("pipelines"))
            .with_dataset_name("ds");
        Pipeline::new(options, destination).unwrap()
    }

    fn working_dir(&self) -> PathBuf {
        self.folder.path().join("pipelines").join(PIPELINE)
    }

    fn calls(&self) -> u64 {
        std::fs::read_to_string(self.counter())
            .map(|text| text.trim().parse().unwrap())
            .unwrap_or(0)
    }

    fn connection(&self) -> duckdb::Connection {
        duckdb::Connection::open(self.database()).unwrap()
    }

    fn load_ids(&self) -> Vec<String> {
        let connection = self.connection();
        let mut statement = connection.prepare("SELECT load_id FROM ds._dlt_loads ORDER BY load_id").unwrap();
        statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
    }
}

fn rows(ids: std::ops::RangeInclusive<i64>) -> impl FnMut() -> runner_core::Result<Source> + Send + 'static {
    move || {
        let items: Vec<Value> = ids.clone().map(|id| json!({"id": id, "name": format!("n{id}")})).collect();
        Ok(Source::new("numbers", vec![Resource::from_rows("numbers", items)]))
    }
}

/// Returns the source of [`rows`] that also records the thread reading it.
fn rows_recording_thread(
    ids: std::ops::RangeInclusive<i64>,
    thread: Arc<Mutex<Option<ThreadId>>>,
) -> impl FnMut() -> runner_core::Result<Source> + Send + 'static {
    let mut source = rows(ids);
    move || {
        *thread.lock().unwrap() = Some(std::thread::current().id());
        source()
    }
}

fn loaded_package_ids(working_dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(working_dir.join("load/loaded"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn load_failing_twice_then_succeeding_loads_once() {
    let setup = Setup::new();
    let clock = Arc::new(RecordingClock::new());
    let options = RunnerOptions::default().with_retry_policy(Box::new(Fixed {
        max_attempts: 3,
        delay: Duration::from_secs(2),
    }));
    let mut runner = Runner::new(setup.pipeline(2, "transient"), options).with_clock(clock.clone());

    let outcome = runner.run_blocking(rows(1..=10)).unwrap();

    let info = outcome.run.unwrap();
    assert_eq!(setup.calls(), 3, "two failed loads and one success");
    assert_eq!(count_rows(&setup.connection(), "ds.numbers"), 10);
    assert_eq!(setup.load_ids(), loaded_package_ids(&setup.working_dir()), "one package, loaded once");
    assert_eq!(setup.load_ids().len(), 1);
    assert_eq!(info.packages[0].load_id, setup.load_ids()[0], "the first attempt's load id");
    assert_eq!(clock.waits(), vec![Duration::from_secs(2); 2]);
}

#[test]
fn exhausted_attempts_keep_package_pending() {
    let setup = Setup::new();
    let clock = Arc::new(RecordingClock::new());
    let options = RunnerOptions::default().with_retry_policy(Box::new(Fixed {
        max_attempts: 3,
        delay: Duration::ZERO,
    }));
    let mut runner = Runner::new(setup.pipeline(100, "transient"), options).with_clock(clock);

    let error = runner.run_blocking(rows(1..=5)).unwrap_err();

    assert!(error.to_string().contains("injected failure 3 of 100"), "last error expected: {error}");
    assert_eq!(error.step(), Some(Step::Load));
    assert_eq!(setup.calls(), 3);
    let pipeline = runner.into_pipeline();
    assert!(pipeline.has_pending_data().unwrap());
    let tables: i64 = setup
        .connection()
        .query_row(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ds' AND table_name = '_dlt_loads'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0, "nothing committed");
}

#[test]
fn terminal_destination_error_is_tried_once() {
    let setup = Setup::new();
    let clock = Arc::new(RecordingClock::new());
    let options = RunnerOptions::default().with_retry_policy(Box::new(Fixed {
        max_attempts: 5,
        delay: Duration::ZERO,
    }));
    let mut runner = Runner::new(setup.pipeline(1, "terminal"), options).with_clock(clock.clone());

    let error = runner.run_blocking(rows(1..=5)).unwrap_err();

    assert_eq!(error.category(), plugin_sdk::ErrorCategory::Terminal);
    assert_eq!(setup.calls(), 1);
    assert!(clock.waits().is_empty());
}

/// An error type of the user's own, which wraps another error.
#[derive(Debug)]
struct UserError(Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the user's wrapper")
    }
}

impl std::error::Error for UserError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

/// Produces an error chain `Resource` → `UserError` → `UserError` → `TerminalError`,
/// counting its calls.
struct FailingProducer {
    calls: Arc<AtomicU32>,
    terminal: bool,
}

impl ItemProducer for FailingProducer {
    fn produce(&mut self, _output: &mut ResourceOutput<'_>) -> runner_core::Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let innermost: Box<dyn std::error::Error + Send + Sync> = if self.terminal {
            Box::new(TerminalError::new("the API rejected the token"))
        } else {
            Box::new(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset"))
        };
        let middle = UserError(Box::new(UserError(innermost)));
        Err(Error::Resource {
            resource: "flaky".to_owned(),
            source: Box::new(middle),
        })
    }
}

fn failing_source(calls: Arc<AtomicU32>, terminal: bool) -> impl FnMut() -> runner_core::Result<Source> + Send + 'static {
    move || {
        let producer = FailingProducer {
            calls: Arc::clone(&calls),
            terminal,
        };
        Ok(Source::single(Resource::from_producer("flaky", Box::new(producer))))
    }
}

#[test]
fn terminal_error_three_levels_deep_is_tried_once() {
    let setup = Setup::new();
    let calls = Arc::new(AtomicU32::new(0));
    let options = RunnerOptions::default()
        .with_retry_policy(Box::new(Fixed {
            max_attempts: 5,
            delay: Duration::ZERO,
        }))
        .with_retry_pipeline_steps([Step::Extract, Step::Normalize, Step::Load]);
    let mut runner = Runner::new(setup.pipeline(0, "transient"), options).with_clock(Arc::new(RecordingClock::new()));

    let error = runner.run_blocking(failing_source(Arc::clone(&calls), true)).unwrap_err();

    assert_eq!(error.category(), plugin_sdk::ErrorCategory::Terminal, "{error}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn transient_extract_error_is_retried_when_step_listed() {
    let setup = Setup::new();
    let calls = Arc::new(AtomicU32::new(0));
    let options = RunnerOptions::default()
        .with_retry_policy(Box::new(Fixed {
            max_attempts: 3,
            delay: Duration::ZERO,
        }))
        .with_retry_pipeline_steps([Step::Extract, Step::Load]);
    let mut runner = Runner::new(setup.pipeline(0, "transient"), options).with_clock(Arc::new(RecordingClock::new()));

    let error = runner.run_blocking(failing_source(Arc::clone(&calls), false)).unwrap_err();

    assert_eq!(error.step(), Some(Step::Extract));
    assert_eq!(calls.load(Ordering::SeqCst), 3, "the source is read again on each attempt");
}

#[test]
fn failing_step_outside_retry_steps_is_tried_once() {
    let setup = Setup::new();
    let calls = Arc::new(AtomicU32::new(0));
    let options = RunnerOptions::default().with_retry_policy(Box::new(Fixed {
        max_attempts: 5,
        delay: Duration::ZERO,
    }));
    let mut runner = Runner::new(setup.pipeline(0, "transient"), options).with_clock(Arc::new(RecordingClock::new()));

    let error = runner.run_blocking(failing_source(Arc::clone(&calls), false)).unwrap_err();

    assert_eq!(error.category(), plugin_sdk::ErrorCategory::Transient, "{error}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn blocking_run_uses_calling_thread() {
    let setup = Setup::new();
    let thread = Arc::new(Mutex::new(None));
    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default());

    runner.run_blocking(rows_recording_thread(1..=3, Arc::clone(&thread))).unwrap();

    assert_eq!(*thread.lock().unwrap(), Some(std::thread::current().id()));
    assert_eq!(count_rows(&setup.connection(), "ds.numbers"), 3);
}

#[test]
fn async_run_uses_blocking_pool() {
    let setup = Setup::new();
    let thread = Arc::new(Mutex::new(None));
    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    runtime.block_on(runner.run(rows_recording_thread(1..=3, Arc::clone(&thread)))).unwrap();

    let source_thread = thread.lock().unwrap().expect("the source was read");
    assert_ne!(source_thread, std::thread::current().id(), "the caller's runtime thread stays free");
    assert_eq!(count_rows(&setup.connection(), "ds.numbers"), 3);

    // The blocking form afterwards runs on the calling thread again.
    runner.run_blocking(rows_recording_thread(4..=5, Arc::clone(&thread))).unwrap();
    assert_eq!(*thread.lock().unwrap(), Some(std::thread::current().id()));
}

#[test]
fn step_end_hook_sees_failed_steps_too() {
    let setup = Setup::new();
    let mut pipeline = setup.pipeline(1, "transient");
    let ended = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&ended);
    pipeline.set_step_end_hook(Arc::new(move |step| seen.lock().unwrap().push(step)));
    let options = RunnerOptions::default().with_retry_policy(Box::new(Fixed {
        max_attempts: 2,
        delay: Duration::from_secs(1),
    }));
    let mut runner = Runner::new(pipeline, options).with_clock(Arc::new(RecordingClock::new()));

    runner.run_blocking(rows(1..=3)).unwrap();

    // The second attempt starts again from normalize, after the failed load.
    let steps = [Step::Sync, Step::Extract, Step::Normalize, Step::Load, Step::Normalize, Step::Load];
    assert_eq!(*ended.lock().unwrap(), steps);
    assert_eq!(count_rows(&setup.connection(), "ds.numbers"), 3);
}

#[test]
fn blocking_run_panic_is_internal_error() {
    let setup = Setup::new();
    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default());

    let error = runner
        .run_blocking(|| -> runner_core::Result<Source> { panic!("source exploded") })
        .unwrap_err();

    assert!(matches!(error, Error::Internal(_)), "{error:?}");
    assert!(error.to_string().contains("source exploded"), "{error}");
}

fn waits_of(policy: Box<dyn plugin_sdk::RetryPolicy>, attempts_failing: u64) -> (Vec<Duration>, u64) {
    let setup = Setup::new();
    let clock = Arc::new(RecordingClock::new());
    let options = RunnerOptions::default().with_retry_policy(policy);
    let mut runner = Runner::new(setup.pipeline(attempts_failing, "transient"), options).with_clock(clock.clone());
    let _ = runner.run_blocking(rows(1..=2));
    (clock.waits(), setup.calls())
}

#[test]
fn backoff_waits_follow_formula() {
    let policy = Backoff {
        max_attempts: 5,
        multiplier: 2.0,
        min: Duration::from_secs(1),
        max: Duration::from_secs(10),
        jitter: Duration::ZERO,
    };

    let (waits, calls) = waits_of(Box::new(policy), 100);

    let seconds: Vec<f64> = waits.iter().map(Duration::as_secs_f64).collect();
    assert_eq!(seconds, vec![2.0, 4.0, 8.0, 10.0]);
    assert_eq!(calls, 5);
}

#[test]
fn backoff_defaults_follow_formula() {
    let (waits, _) = waits_of(Box::new(Backoff::default()), 100);

    let seconds: Vec<f64> = waits.iter().map(Duration::as_secs_f64).collect();
    assert_eq!(seconds, vec![4.0, 4.0, 8.0, 10.0]);
}

#[test]
fn fixed_waits_its_delay() {
    let policy = Fixed {
        max_attempts: 3,
        delay: Duration::from_millis(1500),
    };

    let (waits, calls) = waits_of(Box::new(policy), 100);

    assert_eq!(waits, vec![Duration::from_millis(1500); 2]);
    assert_eq!(calls, 3);
}

#[test]
fn no_retry_tries_once() {
    let (waits, calls) = waits_of(Box::new(NoRetry), 100);

    assert!(waits.is_empty());
    assert_eq!(calls, 1);
}

#[test]
fn pending_data_on_fresh_dataset_is_loaded() {
    let setup = Setup::new();

    // An earlier process extracted and normalized, then died before load;
    // the dataset does not exist yet.
    let pending_load_id = {
        let mut pipeline = setup.pipeline(0, "transient");
        let load_id = pipeline.extract(rows(1..=3)().unwrap()).unwrap().unwrap();
        pipeline.normalize().unwrap();
        load_id
    };

    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default());
    let outcome = runner.run_blocking(rows(4..=6)).unwrap();

    let pending = outcome.pending.expect("pending data reported");
    assert_eq!(pending.packages[0].load_id, pending_load_id);
    assert!(outcome.run.is_some());
    assert_eq!(count_rows(&setup.connection(), "ds.numbers"), 6);
    assert_eq!(setup.load_ids().len(), 2);
}

#[test]
fn finalize_with_nothing_pending_reports_nothing() {
    let setup = Setup::new();
    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default());

    let outcome = runner.finalize_blocking().unwrap();

    assert!(outcome.is_none());
}

#[test]
fn finalize_loads_pending_package() {
    let setup = Setup::new();
    {
        let mut pipeline = setup.pipeline(0, "transient");
        pipeline.extract(rows(1..=4)().unwrap()).unwrap();
    }

    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default());
    let info = runner.finalize_blocking().unwrap().expect("pending package loaded");

    assert_eq!(info.packages.len(), 1);
    assert_eq!(count_rows(&setup.connection(), "ds.numbers"), 4);
}

#[test]
fn finalize_with_clean_folder_is_refused() {
    let setup = Setup::new();
    {
        let mut pipeline = setup.pipeline(0, "transient");
        pipeline.extract(rows(1..=4)().unwrap()).unwrap();
    }
    let options = RunnerOptions::default().with_run_from_clean_folder(true);
    let mut runner = Runner::new(setup.pipeline(0, "transient"), options);

    let error = runner.finalize_blocking().unwrap_err();

    assert_eq!(error.category(), plugin_sdk::ErrorCategory::Config);
    assert!(error.to_string().contains("run_from_clean_folder"), "{error}");
    assert!(runner.into_pipeline().has_pending_data().unwrap(), "pending data untouched");
}

fn events(ids: std::ops::RangeInclusive<i64>) -> impl FnMut() -> runner_core::Result<Source> + Send + 'static {
    move || {
        let items: Vec<Value> = ids
            .clone()
            .map(|id| json!({"id": id, "updated_at": format!("2024-05-01T{id:02}:00:00+00:00")}))
            .collect();
        let resource = Resource::from_rows("events", items)
            .with_primary_key(["id"])
            .with_incremental("updated_at", Some(json!("2024-01-01T00:00:00+00:00")));
        Ok(Source::new("events", vec![resource]))
    }
}

#[test]
fn clean_folder_run_restores_cursor() {
    let setup = Setup::new();
    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default());
    runner.run_blocking(events(1..=3)).unwrap();
    drop(runner);

    let marker = setup.working_dir().join("marker.txt");
    std::fs::write(&marker, "local file").unwrap();
    let options = RunnerOptions::default().with_run_from_clean_folder(true);
    let mut runner = Runner::new(setup.pipeline(0, "transient"), options);
    let outcome = runner.run_blocking(events(1..=5)).unwrap();

    assert!(!marker.exists(), "the working directory was deleted");
    let info = outcome.run.expect("new rows loaded");
    assert_eq!(info.rows_per_table().get("events"), Some(&2));
    let connection = setup.connection();
    assert_eq!(count_rows(&connection, "ds.events"), 5);
    let distinct: i64 = connection
        .query_row("SELECT count(DISTINCT id) FROM ds.events", [], |row| row.get(0))
        .unwrap();
    assert_eq!(distinct, 5, "no duplicates");
}

#[test]
fn incremental_without_clean_folder_skips_loaded_rows() {
    let setup = Setup::new();
    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default());
    runner.run_blocking(events(1..=3)).unwrap();
    let outcome = runner.run_blocking(events(2..=4)).unwrap();

    assert_eq!(outcome.run.unwrap().rows_per_table().get("events"), Some(&1));
    assert_eq!(count_rows(&setup.connection(), "ds.events"), 4);
}

/// A DuckDB destination linked into the test, with injected faults:
/// `load_package` panics while `panics` is set, and with `garbage_state`
/// the stored state is no state blob.
struct LinkedDuckDb {
    inner: Box<dyn plugin_sdk::Destination>,
    panics: Arc<std::sync::atomic::AtomicBool>,
    garbage_state: bool,
}

impl plugin_sdk::Destination for LinkedDuckDb {
    fn load_package(&mut self, request: &plugin_sdk::protocol::LoadRequest) -> Result<plugin_sdk::protocol::LoadReport, plugin_sdk::PluginError> {
        if self.panics.load(Ordering::SeqCst) {
            panic!("linked destination bug");
        }
        self.inner.load_package(request)
    }

    fn fetch_state(&mut self, request: &plugin_sdk::protocol::StateRequest) -> Result<Option<plugin_sdk::protocol::StoredState>, plugin_sdk::PluginError> {
        let stored = self.inner.fetch_state(request)?;
        if !self.garbage_state {
            return Ok(stored);
        }
        Ok(stored.map(|stored| plugin_sdk::protocol::StoredState {
            state: "garbage".to_owned(),
            ..stored
        }))
    }

    fn fetch_schema(&mut self, request: &plugin_sdk::protocol::SchemaRequest) -> Result<Option<plugin_sdk::protocol::SchemaVersion>, plugin_sdk::PluginError> {
        self.inner.fetch_schema(request)
    }

    fn is_load_committed(&mut self, request: &plugin_sdk::protocol::LoadStatusRequest) -> Result<bool, plugin_sdk::PluginError> {
        self.inner.is_load_committed(request)
    }
}

impl Setup {
    /// Opens a pipeline whose DuckDB destination is linked through `LinkedDuckDb`.
    fn linked_pipeline(&self, panics: &Arc<std::sync::atomic::AtomicBool>, garbage_state: bool) -> Pipeline {
        use plugin_sdk::DestinationFactory;

        let config = duckdb_config(&self.database(), PIPELINE, self.folder.path());
        let client = LinkedDuckDb {
            inner: destination_duckdb::DuckDbDestinationFactory::open(&config).unwrap(),
            panics: Arc::clone(panics),
            garbage_state,
        };
        let capabilities = destination_duckdb::DuckDbDestinationFactory::capabilities();
        let destination = DestinationHandle::new("warehouse", "duckdb", capabilities, Box::new(client));
        let options = PipelineOptions::new(PIPELINE)
            .with_pipelines_dir(self.folder.path().join("pipelines"))
            .with_dataset_name("ds");
        Pipeline::new(options, destination).unwrap()
    }
}

#[test]
fn linked_destination_panic_keeps_runner() {
    let setup = Setup::new();
    let panics = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut runner = Runner::new(setup.linked_pipeline(&panics, false), RunnerOptions::default());

    let error = runner.run_blocking(rows(1..=3)).unwrap_err();

    let message = error.to_string();
    assert!(message.contains("the destination panicked in `load_package`: linked destination bug"), "{message}");
    assert!(message.contains(PIPELINE), "{message}");
    assert_eq!(error.step(), Some(Step::Load), "{error:?}");
    assert!(format!("{error:?}").contains("load_id: \"17"), "the error carries the load id: {error:?}");

    panics.store(false, Ordering::SeqCst);
    runner.finalize_blocking().unwrap();
    assert_eq!(count_rows(&duckdb::Connection::open(setup.database()).unwrap(), "ds.numbers"), 3);
}

/// Produces nothing and panics.
struct PanickingProducer;

impl ItemProducer for PanickingProducer {
    fn produce(&mut self, _output: &mut ResourceOutput<'_>) -> runner_core::Result<()> {
        panic!("resource bug");
    }
}

#[test]
fn source_panic_keeps_runner() {
    let setup = Setup::new();
    let mut runner = Runner::new(setup.pipeline(0, "transient"), RunnerOptions::default());

    let error = runner
        .run_blocking(|| Ok(Source::single(Resource::from_producer("numbers", Box::new(PanickingProducer)))))
        .unwrap_err();

    assert!(error.to_string().contains(&format!("pipeline `{PIPELINE}` panicked: resource bug")), "{error}");
    runner.run_blocking(rows(1..=2)).unwrap();
    assert_eq!(count_rows(&duckdb::Connection::open(setup.database()).unwrap(), "ds.numbers"), 2);
}

#[test]
fn unreadable_stored_state_is_terminal() {
    let setup = Setup::new();
    let no_panic = Arc::new(std::sync::atomic::AtomicBool::new(false));
    setup.linked_pipeline(&no_panic, false).run(rows(1..=2)().unwrap()).unwrap();
    std::fs::remove_dir_all(setup.working_dir()).unwrap();

    let error = setup.linked_pipeline(&no_panic, true).sync().unwrap_err();

    assert_eq!(error.category(), plugin_sdk::ErrorCategory::Terminal, "{error}");
    let message = error.to_string();
    assert!(message.contains("destination `warehouse` failed to read the stored pipeline state"), "{message}");
    assert!(message.contains("cannot be read"), "{message}");
}

#[test]
fn hinted_columns_follow_data_order() {
    let setup = Setup::new();
    let mut pipeline = setup.pipeline(0, "transient");
    let rows = vec![json!({"id": 1, "name": "a", "ts": 10}), json!({"id": 2, "name": "b", "ts": 20})];
    let resource = Resource::from_rows("events", rows)
        .with_incremental("ts", None)
        .with_primary_key(["name"])
        .with_write_disposition(runner_core::extract::WriteDisposition::Merge);

    pipeline.run(Source::single(resource)).unwrap();

    let connection = duckdb::Connection::open(setup.database()).unwrap();
    let sql = "SELECT column_name FROM information_schema.columns \
               WHERE table_schema = 'ds' AND table_name = 'events' ORDER BY ordinal_position";
    let mut statement = connection.prepare(sql).unwrap();
    let columns: Vec<String> = statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(columns, ["id", "name", "ts", "_dlt_load_id", "_dlt_id"]);
}

#[test]
fn max_items_limits_rows_and_batches() {
    let setup = Setup::new();
    let mut pipeline = setup.pipeline(0, "transient");
    let rows: Vec<Value> = (1..=10).map(|id| json!({"id": id})).collect();
    let batch = || {
        let ids: arrow::array::ArrayRef = Arc::new(arrow::array::Int64Array::from(vec![1, 2, 3, 4]));
        arrow::record_batch::RecordBatch::try_from_iter([("id", ids)]).unwrap()
    };
    let source = Source::new(
        "limited",
        vec![
            Resource::from_rows("rows", rows),
            Resource::from_batches("batches", vec![batch(), batch()]),
        ],
    )
    .with_max_items(5);

    pipeline.run(source).unwrap();

    let connection = duckdb::Connection::open(setup.database()).unwrap();
    assert_eq!(count_rows(&connection, "ds.rows"), 5);
    assert_eq!(count_rows(&connection, "ds.batches"), 5);
}
