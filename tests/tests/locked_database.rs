//! A DuckDB database file held open by another process, through the `dlt`
//! binary: the load fails as a transient "locked" error that names the file,
//! and the retry policy loads the package once the other process lets go.
//!
//! The other process is `hold-duckdb`, a helper binary of this crate that
//! links the same DuckDB 1.5.6 library as the destination.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

use common::{TestProject, count_rows, dlt_binary, stderr};

/// Creates a project that loads three rows into `warehouse.duckdb`.
fn project(run_config: &str) -> TestProject {
    let project = TestProject::new(&format!(
        "\
sources:
  events:
    type: files
    path: data/events.jsonl
    table_name: events
destinations:
  warehouse:
    type: duckdb
    credentials: warehouse.duckdb
pipelines:
  p:
    source: events
    destination: warehouse
    dataset_name: ds
{run_config}"
    ));
    project.write_data("events.jsonl", "{\"id\": 1}\n{\"id\": 2}\n{\"id\": 3}\n");
    project
}

/// A `hold-duckdb` process that has the database file open.
struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Holder {
    /// Starts the helper and returns once it reports that it has the file open.
    fn start(database: &Path) -> Holder {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hold-duckdb"))
            .arg(database)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();

        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "holding", "hold-duckdb did not take the file");

        let stdin = child.stdin.take();
        Holder { child, stdin }
    }

    /// Closes the helper's standard input, which makes it close the database
    /// and exit, and waits for the exit.
    fn release(&mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "hold-duckdb failed: {status}");
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            self.release();
        }
    }
}

#[test]
fn locked_database_is_retried_until_released() {
    // A run reads the stored state first (the sync step), so that is where
    // the lock shows, and sync must be retried too. One second between
    // attempts gives the helper time to exit after the test closes its
    // input; more attempts only make the test tolerate a slow machine.
    let project = project(
        "    run_config:\n      retry_policy: {type: fixed, max_attempts: 10, delay: 1}\n      retry_pipeline_steps: [sync, load]\n",
    );
    let database = project.path().join("warehouse.duckdb");
    let mut holder = Holder::start(&database);

    let mut dlt = Command::new(dlt_binary())
        .arg("--project")
        .arg(project.path())
        .args(["pipeline", "p", "run"])
        .env("DLT_DATA_DIR", project.data_dir())
        .env_remove("DLT_PLUGIN_DIR")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();

    // The first failed attempt is logged before the retry wait; the holder
    // lets go as soon as it appears.
    let mut failed_attempts = Vec::new();
    let mut log = String::new();
    let mut lines = BufReader::new(dlt.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("attempt failed") {
            failed_attempts.push(line);
            holder.release();
            break;
        }
    }
    for line in lines {
        log.push_str(&line.unwrap());
        log.push('\n');
    }
    let mut stdout = String::new();
    dlt.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    let status = dlt.wait().unwrap();

    assert!(status.success(), "dlt failed with {status}\nstdout:\n{stdout}\nstderr:\n{log}");
    let first_failure = failed_attempts.first().unwrap_or_else(|| panic!("no failed attempt logged:\n{log}"));
    assert!(first_failure.contains("category=transient"), "{first_failure}");
    assert!(first_failure.contains("is locked"), "{first_failure}");
    assert!(first_failure.contains(&database.display().to_string()), "the locked file is named: {first_failure}");
    assert!(!log.to_lowercase().contains("credentials"), "a lock is not a credentials problem:\n{log}");

    let connection = project.duckdb("warehouse.duckdb");
    assert_eq!(count_rows(&connection, "ds.events"), 3);
    assert_eq!(count_rows(&connection, "ds._dlt_loads"), 1);
}

#[test]
fn locked_database_without_retries_fails() {
    let project = project("");
    let database = project.path().join("warehouse.duckdb");
    let holder = Holder::start(&database);
    let spill_folder = project.path().join("warehouse.duckdb.tmp");
    std::fs::create_dir(&spill_folder).unwrap();

    let output = project.dlt(&["pipeline", "p", "run"]);
    drop(holder);

    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "a transient failure exits with 3:\n{message}");
    assert!(message.contains("is locked because another process has it open"), "{message}");
    assert!(message.contains(&database.display().to_string()), "the locked file is named:\n{message}");
    assert!(!message.to_lowercase().contains("credentials"), "a lock is not a credentials problem:\n{message}");

    let trace = std::fs::read_to_string(project.data_dir().join("pipelines/p/last_trace.json")).unwrap();
    let trace: serde_json::Value = serde_json::from_str(&trace).unwrap();
    // The state is read before extraction, so the sync step is the one that fails.
    let failed = &trace["sync"];
    assert_eq!(failed["success"], false, "{trace}");
    let categories: Vec<&str> = failed["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|exception| exception["category"].as_str())
        .collect();
    assert!(categories.contains(&"transient"), "{failed}");
    assert!(failed["exceptions"].to_string().contains("is locked"), "{failed}");

    let tables: i64 = project
        .duckdb("warehouse.duckdb")
        .query_row("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ds'", [], |row| row.get(0))
        .unwrap();
    assert_eq!(tables, 0, "nothing is loaded");
    // The holder could spill into its empty folder next, so a run that could
    // not attach the file leaves the folder alone.
    assert!(spill_folder.is_dir(), "the holder's spill folder was removed");
}
