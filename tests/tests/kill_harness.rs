//! Kill test: `dlt pipeline <name> run` is killed with SIGKILL at a random
//! moment, run again until it succeeds, and the DuckDB dataset must then contain
//! every expected row exactly once.
//!
//! Each write disposition gets its own test. A trial starts from a copy of a
//! project whose table already contains one committed batch of `ROWS_PER_BATCH`
//! rows (each with a nested list of two tags), changes the input file, starts
//! the run and kills it. Half of the trials kill after a delay drawn uniformly
//! from zero to the duration of an uninterrupted run of the same project. The
//! other half kill shortly after the first package folder appears in
//! `normalize/extracted`, `load/normalized` or `load/loaded`, because the
//! state write, the load and the trace store take too little of the run for
//! a uniform delay to hit them often. So the kill lands during extract,
//! normalize, the load, the state write or the trace store, or after the run
//! ended. Then the run is repeated, at most `MAX_RERUNS` times, until it
//! exits with 0. The checks after that:
//!
//! * the root table contains exactly the expected `(id, value)` pairs, so no row
//!   is missing or duplicated, and the committed batch is untouched where the
//!   disposition keeps it;
//! * the nested table has two rows per root row and no orphans;
//! * every row's `_dlt_load_id` is in `_dlt_loads`, no load id appears twice,
//!   and the load ids are exactly the packages in `load/loaded`;
//! * no package or scratch folder is left pending, and with
//!   `store_trace_info` no trace file either;
//! * with `store_trace_info`, no attempt trace is stored twice.
//!
//! The expected rows per disposition (`N` is `ROWS_PER_BATCH`):
//!
//! * `append`: batch 0 has ids `0..N` and stays in `data/`; batch 1 adds ids
//!   `N..2N`. The source is incremental on `id`, because without a cursor a
//!   rerun after a kill that followed the extract loads the pending package
//!   and then reads the file again, which duplicates appended rows by design
//!   (as in Python dlt). Expected: ids `0..2N`.
//! * `replace`: batch 1 (ids `N..2N`) replaces batch 0. Expected: ids `N..2N`.
//! * `merge` on primary key `id`: batch 1 has ids `N/2..N/2+N`, half of them
//!   already stored. Expected: ids `0..N/2` from batch 0 and ids
//!   `N/2..N/2+N` from batch 1.
//!
//! About half of the trials turn on `run_config.store_trace_info`, so that
//! kills also land in the trace store.
//!
//! Environment variables:
//!
//! * `DLT_KILL_TRIALS`: trials per disposition (default 3).
//! * `DLT_KILL_SEED`: seed of the kill triggers and trace settings (default: taken
//!   from the clock). Each test prints the seed, and every assertion message
//!   contains it. To replay a failure:
//!
//!   ```sh
//!   DLT_KILL_SEED=<seed> DLT_KILL_TRIALS=<n> cargo test -p tests --test kill_harness -- --nocapture
//!   ```
//!
//! NOTE: a seed fixes the triggers and delays, not the kill points, because
//! the run's speed varies with the machine's load. A replay hits similar
//! points, not necessarily the same ones.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{count_rows, dlt_binary, file_names, folder_names};

/// Rows per input file. A debug-build run of one batch takes 2 to 4 s on two
/// busy cores (measured), long enough for kills to land at different points.
const ROWS_PER_BATCH: i64 = 20_000;
/// Reruns after a kill before the trial fails.
const MAX_RERUNS: usize = 3;
const DEFAULT_TRIALS: usize = 3;
const PIPELINE: &str = "kill";
const TRACE_PIPELINE: &str = "_trace_kill";
const DATASET: &str = "ds";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    Append,
    Replace,
    Merge,
}

impl Disposition {
    fn name(self) -> &'static str {
        match self {
            Disposition::Append => "append",
            Disposition::Replace => "replace",
            Disposition::Merge => "merge",
        }
    }

    /// Returns the source keys this disposition adds to `dlt.yml`.
    fn source_keys(self) -> &'static str {
        match self {
            Disposition::Append => "    primary_key: id\n    incremental: {cursor_path: id}\n",
            Disposition::Replace => "",
            Disposition::Merge => "    primary_key: id\n",
        }
    }

    /// Returns the ids of the batch that each trial loads.
    fn trial_ids(self) -> std::ops::Range<i64> {
        match self {
            Disposition::Append | Disposition::Replace => ROWS_PER_BATCH..2 * ROWS_PER_BATCH,
            Disposition::Merge => ROWS_PER_BATCH / 2..ROWS_PER_BATCH / 2 + ROWS_PER_BATCH,
        }
    }

    /// Returns whether batch 0 stays in `data/` for the trial run.
    fn keeps_first_file(self) -> bool {
        self == Disposition::Append
    }

    /// Returns the `(id, value)` rows the root table must contain after a trial, sorted by id.
    fn expected_rows(self) -> Vec<(i64, String)> {
        let first = |id: i64| (id, batch_value(0));
        let second = |id: i64| (id, batch_value(1));
        match self {
            Disposition::Append => (0..ROWS_PER_BATCH).map(first).chain(self.trial_ids().map(second)).collect(),
            Disposition::Replace => self.trial_ids().map(second).collect(),
            Disposition::Merge => (0..ROWS_PER_BATCH / 2).map(first).chain(self.trial_ids().map(second)).collect(),
        }
    }
}

fn batch_value(batch: u32) -> String {
    format!("batch {batch}")
}

/// SplitMix64: a small seeded generator, so that a seed replays the same kill triggers.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Returns a duration drawn uniformly from `0..max`.
    fn duration_below(&mut self, max: Duration) -> Duration {
        let fraction = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        max.mul_f64(fraction)
    }

    fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
}

/// Stages whose first package folder can trigger a kill.
#[derive(Debug, Clone, Copy)]
enum WatchedStage {
    /// `normalize/extracted`: the kill lands in the state write or early in normalize.
    Extracted,
    /// `load/normalized`: the kill lands in the load jobs.
    Normalized,
    /// A new folder in `load/loaded`: the kill lands in the trace store or after the run.
    Loaded,
}

impl WatchedStage {
    fn folder(self) -> &'static str {
        match self {
            WatchedStage::Extracted => "normalize/extracted",
            WatchedStage::Normalized => "load/normalized",
            WatchedStage::Loaded => "load/loaded",
        }
    }

    fn is_reached(self, working_dir: &Path, loaded_before: usize) -> bool {
        let packages = folder_names(&working_dir.join(self.folder())).len();
        match self {
            WatchedStage::Extracted | WatchedStage::Normalized => packages > 0,
            WatchedStage::Loaded => packages > loaded_before,
        }
    }
}

/// When a trial kills the run. A delay drawn over the whole run mostly hits
/// extract and normalize, which take most of the time, so half of the
/// trials wait for a stage folder instead and kill shortly after it appears.
#[derive(Debug, Clone, Copy)]
enum KillTrigger {
    /// A delay after the start.
    Delay(Duration),
    /// A delay after the first package folder appears in a stage.
    AfterStage { stage: WatchedStage, delay: Duration },
}

impl KillTrigger {
    /// Draws a trigger. Every call takes the same number of values from `rng`,
    /// so that a seed replays every trial's trigger. Without traces nothing
    /// follows the load, so the trigger for `load/loaded` becomes one for
    /// `load/normalized`.
    fn draw(rng: &mut SplitMix64, uninterrupted: Duration, store_traces: bool) -> Self {
        let choice = rng.next_u64() % 6;
        let delay = rng.duration_below(uninterrupted);
        let short_delay = rng.duration_below(Duration::from_millis(150));
        match choice {
            0..=2 => KillTrigger::Delay(delay),
            3 => KillTrigger::AfterStage { stage: WatchedStage::Extracted, delay: short_delay / 5 },
            5 if store_traces => KillTrigger::AfterStage { stage: WatchedStage::Loaded, delay: short_delay * 2 },
            _ => KillTrigger::AfterStage { stage: WatchedStage::Normalized, delay: short_delay },
        }
    }

    /// Waits until the kill is due, the child exits, or `timeout` passes
    /// without the watched stage appearing.
    fn wait(self, child: &mut std::process::Child, working_dir: &Path, loaded_before: usize, timeout: Duration) {
        match self {
            KillTrigger::Delay(delay) => std::thread::sleep(delay),
            KillTrigger::AfterStage { stage, delay } => {
                let started = Instant::now();
                while started.elapsed() < timeout {
                    if child.try_wait().unwrap().is_some() || stage.is_reached(working_dir, loaded_before) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::thread::sleep(delay);
            }
        }
    }
}

impl std::fmt::Display for KillTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KillTrigger::Delay(delay) => write!(f, "{} ms after the start", delay.as_millis()),
            KillTrigger::AfterStage { stage, delay } => {
                write!(f, "{} ms after the first package in {}", delay.as_millis(), stage.folder())
            }
        }
    }
}

/// Reads the seed from `DLT_KILL_SEED`, or takes one from the clock. The
/// tests of one process share it, so one printed seed replays them all.
fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(read_seed)
}

fn read_seed() -> u64 {
    match std::env::var("DLT_KILL_SEED") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("DLT_KILL_SEED must be an unsigned 64-bit integer, got `{text}`")),
        Err(_) => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
            now.as_nanos() as u64
        }
    }
}

fn trial_count() -> usize {
    match std::env::var("DLT_KILL_TRIALS") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("DLT_KILL_TRIALS must be a non-negative integer, got `{text}`")),
        Err(_) => DEFAULT_TRIALS,
    }
}

fn dlt_yml(disposition: Disposition, store_traces: bool) -> String {
    let run_config = if store_traces {
        "    run_config: {store_trace_info: true}\n"
    } else {
        ""
    };
    format!(
        "\
sources:
  items:
    type: files
    path: data/*.jsonl
    format: jsonl
    table_name: items
    write_disposition: {disposition}
{keys}destinations:
  warehouse:
    type: duckdb
    credentials: warehouse.duckdb
pipelines:
  {PIPELINE}:
    source: items
    destination: warehouse
    dataset_name: {DATASET}
{run_config}",
        disposition = disposition.name(),
        keys = disposition.source_keys(),
    )
}

fn write_batch(project: &Path, batch: u32, ids: std::ops::Range<i64>) {
    let value = batch_value(batch);
    let mut text = String::with_capacity(ids.clone().count() * 48);
    for id in ids {
        writeln!(text, r#"{{"id": {id}, "value": "{value}", "tags": ["a", "b"]}}"#).unwrap();
    }
    fs::write(project.join("data").join(format!("batch_{batch}.jsonl")), text).unwrap();
}

fn dlt_command(project: &Path) -> Command {
    let mut command = Command::new(dlt_binary());
    command
        .arg("--project")
        .arg(project)
        .args(["pipeline", PIPELINE, "run"])
        .env("DLT_DATA_DIR", project.join("dltdata"))
        .env_remove("DLT_PLUGIN_DIR")
        .env_remove("RUST_LOG");
    command
}

fn run_dlt(project: &Path) -> Output {
    dlt_command(project).output().unwrap()
}

fn describe_output(output: &Output) -> String {
    format!(
        "exit code {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Package folders of one working directory, by stage.
#[derive(Debug, Default)]
struct WorkingDirContents {
    extract_scratch: Vec<String>,
    extracted: Vec<String>,
    normalize_scratch: Vec<String>,
    normalized: Vec<String>,
    loaded: Vec<String>,
    trace_files: Vec<String>,
}

impl WorkingDirContents {
    /// Reads `working_dir`. Trace files count only with `store_traces`:
    /// without a trace pipeline, `traces/` keeps them by design.
    fn read(working_dir: &Path, store_traces: bool) -> Self {
        let extract_scratch = folder_names(&working_dir.join("normalize"))
            .into_iter()
            .filter(|name| name != "extracted")
            .collect();
        WorkingDirContents {
            extract_scratch,
            extracted: folder_names(&working_dir.join("normalize/extracted")),
            normalize_scratch: folder_names(&working_dir.join("load/new")),
            normalized: folder_names(&working_dir.join("load/normalized")),
            loaded: folder_names(&working_dir.join("load/loaded")),
            trace_files: if store_traces { file_names(&working_dir.join("traces")) } else { Vec::new() },
        }
    }

    fn pending(&self) -> Vec<&String> {
        self.extract_scratch
            .iter()
            .chain(&self.extracted)
            .chain(&self.normalize_scratch)
            .chain(&self.normalized)
            .chain(&self.trace_files)
            .collect()
    }
}

/// Names the stage the killed run was in, judged from what it left on disk.
fn stage_after_kill(project: &Path, loaded_before: usize, store_traces: bool) -> &'static str {
    let pipelines = project.join("dltdata/pipelines");
    let main = WorkingDirContents::read(&pipelines.join(PIPELINE), store_traces);
    let traces = WorkingDirContents::read(&pipelines.join(TRACE_PIPELINE), store_traces);

    if !main.normalize_scratch.is_empty() {
        "normalize"
    } else if !main.normalized.is_empty() {
        "load"
    } else if !main.extracted.is_empty() {
        "between extract and normalize"
    } else if !main.extract_scratch.is_empty() {
        "extract"
    } else if main.loaded.len() > loaded_before {
        let trace_pending = !traces.extracted.is_empty() || !traces.normalized.is_empty() || !traces.normalize_scratch.is_empty();
        if trace_pending || !main.trace_files.is_empty() {
            "trace store"
        } else {
            "after load"
        }
    } else {
        "start-up"
    }
}

fn strings(connection: &duckdb::Connection, sql: &str) -> Vec<String> {
    let mut statement = connection.prepare(sql).unwrap();
    statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
}

fn scalar(connection: &duckdb::Connection, sql: &str) -> i64 {
    connection.query_row(sql, [], |row| row.get(0)).unwrap()
}

fn table_exists(connection: &duckdb::Connection, schema: &str, table: &str) -> bool {
    let sql = format!("SELECT count(*) FROM information_schema.tables WHERE table_schema = '{schema}' AND table_name = '{table}'");
    scalar(connection, &sql) > 0
}

/// Checks the dataset and the working directories after a successful rerun.
/// `context` names the seed and trial in every message.
fn check_exactly_once(project: &Path, disposition: Disposition, store_traces: bool, context: &str) {
    let connection = duckdb::Connection::open(project.join("warehouse.duckdb")).unwrap();
    let expected = disposition.expected_rows();

    let total = count_rows(&connection, "ds.items");
    let distinct = scalar(&connection, "SELECT count(DISTINCT id) FROM ds.items");
    assert_eq!(distinct, expected.len() as i64, "{context}: distinct ids in ds.items");
    assert_eq!(total, distinct, "{context}: ds.items holds {} duplicate rows", total - distinct);

    let mut statement = connection.prepare("SELECT id, value FROM ds.items ORDER BY id").unwrap();
    let rows: Vec<(i64, String)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let stored: BTreeSet<&(i64, String)> = rows.iter().collect();
    let expected_set: BTreeSet<&(i64, String)> = expected.iter().collect();
    let missing: Vec<_> = expected_set.difference(&stored).take(5).collect();
    let unexpected: Vec<_> = stored.difference(&expected_set).take(5).collect();
    assert!(missing.is_empty(), "{context}: rows missing from ds.items, first ones: {missing:?}");
    assert!(unexpected.is_empty(), "{context}: unexpected rows in ds.items, first ones: {unexpected:?}");

    let tags = count_rows(&connection, "ds.items__tags");
    assert_eq!(tags, 2 * expected.len() as i64, "{context}: rows in ds.items__tags");
    let orphans = scalar(
        &connection,
        "SELECT count(*) FROM ds.items__tags t LEFT JOIN ds.items i ON t._dlt_parent_id = i._dlt_id WHERE i._dlt_id IS NULL",
    );
    assert_eq!(orphans, 0, "{context}: nested rows without a parent in ds.items__tags");

    let load_ids = strings(&connection, "SELECT load_id FROM ds._dlt_loads ORDER BY load_id");
    let unique_load_ids: BTreeSet<&String> = load_ids.iter().collect();
    assert_eq!(unique_load_ids.len(), load_ids.len(), "{context}: a load id appears twice in ds._dlt_loads: {load_ids:?}");
    let unknown_loads = scalar(
        &connection,
        "SELECT count(*) FROM ds.items WHERE _dlt_load_id NOT IN (SELECT load_id FROM ds._dlt_loads)",
    );
    assert_eq!(unknown_loads, 0, "{context}: rows of ds.items whose load id is not in ds._dlt_loads");

    let pipelines = project.join("dltdata/pipelines");
    let main = WorkingDirContents::read(&pipelines.join(PIPELINE), store_traces);
    let loaded: BTreeSet<&String> = main.loaded.iter().collect();
    assert_eq!(loaded, unique_load_ids, "{context}: packages in load/loaded against ds._dlt_loads");
    assert!(main.pending().is_empty(), "{context}: left pending in the working directory: {main:?}");

    let traces = WorkingDirContents::read(&pipelines.join(TRACE_PIPELINE), store_traces);
    assert!(traces.pending().is_empty(), "{context}: left pending in the trace pipeline's working directory: {traces:?}");
    if table_exists(&connection, "_trace_ds", "kill_trace") {
        let traces_total = count_rows(&connection, "_trace_ds.kill_trace");
        let traces_distinct = scalar(
            &connection,
            "SELECT count(*) FROM (SELECT DISTINCT transaction_id, attempt, description FROM _trace_ds.kill_trace)",
        );
        assert_eq!(traces_total, traces_distinct, "{context}: attempt traces stored twice in _trace_ds.kill_trace");
        let trace_loads = strings(&connection, "SELECT load_id FROM _trace_ds._dlt_loads");
        let unique_trace_loads: BTreeSet<&String> = trace_loads.iter().collect();
        assert_eq!(unique_trace_loads.len(), trace_loads.len(), "{context}: a load id appears twice in _trace_ds._dlt_loads");
    }
}

/// Creates the project every trial of `disposition` copies: batch 0 loaded
/// and committed by an uninterrupted run.
fn preloaded_project(disposition: Disposition) -> tempfile::TempDir {
    let template = tempfile::tempdir().unwrap();
    fs::create_dir_all(template.path().join("data")).unwrap();
    fs::write(template.path().join("dlt.yml"), dlt_yml(disposition, false)).unwrap();
    write_batch(template.path(), 0, 0..ROWS_PER_BATCH);

    let output = run_dlt(template.path());
    assert!(output.status.success(), "preloading batch 0 failed: {}", describe_output(&output));
    template
}

/// Copies `template` and puts batch 1 in place for the trial run.
fn trial_project(template: &Path, disposition: Disposition, store_traces: bool) -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    copy_dir(template, project.path());
    fs::write(project.path().join("dlt.yml"), dlt_yml(disposition, store_traces)).unwrap();
    if !disposition.keeps_first_file() {
        fs::remove_file(project.path().join("data/batch_0.jsonl")).unwrap();
    }
    write_batch(project.path(), 1, disposition.trial_ids());
    project
}

/// Times an uninterrupted trial run and checks its result.
fn measure_run(template: &Path, disposition: Disposition, store_traces: bool, context: &str) -> Duration {
    let project = trial_project(template, disposition, store_traces);
    let started = Instant::now();
    let output = run_dlt(project.path());
    let elapsed = started.elapsed();
    assert!(output.status.success(), "{context}: uninterrupted run failed: {}", describe_output(&output));
    check_exactly_once(project.path(), disposition, store_traces, context);
    elapsed
}

fn run_kill_trials(disposition: Disposition) {
    let seed = seed();
    let trials = trial_count();
    // Each disposition draws from its own stream, so that the tests may run
    // in any order and in parallel.
    let mut rng = SplitMix64(seed ^ (disposition as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F));
    let name = disposition.name();
    eprintln!("kill harness {name}: DLT_KILL_SEED={seed} DLT_KILL_TRIALS={trials}");

    let template = preloaded_project(disposition);
    let loaded_before = WorkingDirContents::read(&template.path().join("dltdata/pipelines").join(PIPELINE), false)
        .loaded
        .len();
    let measured = [false, true].map(|store_traces| {
        let context = format!("seed {seed}, {name}, uninterrupted run, store_trace_info {store_traces}");
        measure_run(template.path(), disposition, store_traces, &context)
    });
    eprintln!(
        "kill harness {name}: uninterrupted run takes {:.2} s, {:.2} s with traces",
        measured[0].as_secs_f64(),
        measured[1].as_secs_f64()
    );

    let mut stages: BTreeMap<&str, usize> = BTreeMap::new();
    for trial in 0..trials {
        let store_traces = rng.coin();
        let uninterrupted = measured[usize::from(store_traces)];
        let trigger = KillTrigger::draw(&mut rng, uninterrupted, store_traces);
        let context = format!("seed {seed}, {name}, trial {trial}, kill {trigger}, store_trace_info {store_traces}");
        let project = trial_project(template.path(), disposition, store_traces);

        let mut child = dlt_command(project.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let working_dir = project.path().join("dltdata/pipelines").join(PIPELINE);
        trigger.wait(&mut child, &working_dir, loaded_before, 3 * uninterrupted);
        let finished_first = child.try_wait().unwrap().is_some();
        // `Child::kill` sends SIGKILL on Unix.
        if !finished_first {
            child.kill().unwrap();
        }
        let status = child.wait().unwrap();
        let stage = if finished_first {
            "none, the run finished first"
        } else {
            stage_after_kill(project.path(), loaded_before, store_traces)
        };
        eprintln!("kill harness {context}: stage at the kill: {stage} ({status})");
        *stages.entry(stage).or_default() += 1;

        let mut reruns = 0;
        loop {
            reruns += 1;
            let output = run_dlt(project.path());
            if output.status.success() {
                break;
            }
            assert!(
                reruns < MAX_RERUNS,
                "{context}: the run still fails after {reruns} reruns: {}",
                describe_output(&output)
            );
            eprintln!("kill harness {context}: rerun {reruns} failed: {}", describe_output(&output));
        }
        check_exactly_once(project.path(), disposition, store_traces, &context);
    }
    eprintln!("kill harness {name}: {trials} trials passed; kills by stage: {stages:?}");
}

#[test]
fn killed_append_loads_once() {
    run_kill_trials(Disposition::Append);
}

#[test]
fn killed_replace_loads_once() {
    run_kill_trials(Disposition::Replace);
}

#[test]
fn killed_merge_loads_once() {
    run_kill_trials(Disposition::Merge);
}
