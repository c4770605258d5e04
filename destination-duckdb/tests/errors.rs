//! Error categories and messages, and opening through the plugin factory.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{DATASET, Fixture, PIPELINE, job, request, users_table};
use destination_duckdb::{DuckDbConfig, DuckDbDestination, DuckDbDestinationFactory};
use plugin_sdk::protocol::StateRequest;
use plugin_sdk::{Destination, DestinationFactory, ErrorCategory};

const LOAD_1: &str = "1700000001.000001";
const LOAD_2: &str = "1700000002.000002";

/// Environment variable that makes `hold_database_lock` lock the given file.
const HOLD_LOCK_VARIABLE: &str = "DESTINATION_DUCKDB_TEST_HOLD_LOCK";

/// Line the lock holder prints once it has the file open.
const LOCK_HELD: &str = "lock-held";

/// Child process of this test binary that keeps a database open, so that the
/// file is locked by another process. Dropping it kills the child by its PID.
struct LockHolder(Child);

impl LockHolder {
    fn start(database: &std::path::Path) -> Self {
        let executable = std::env::current_exe().expect("path of the test binary");
        let mut child = Command::new(executable)
            .args([
                "--exact",
                "hold_database_lock",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(HOLD_LOCK_VARIABLE, database)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the lock holder process");

        let stdout = child.stdout.take().expect("lock holder stdout");
        let holder = LockHolder(child);
        let ready = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains(LOCK_HELD));
        assert!(ready, "lock holder exited before it opened the database");
        holder
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Keeps the database named by `HOLD_LOCK_VARIABLE` open for 30 seconds. It
/// runs only as the child process of `locked_database_is_transient`.
#[test]
#[ignore = "helper process for locked_database_is_transient"]
fn hold_database_lock() {
    let Some(database) = std::env::var_os(HOLD_LOCK_VARIABLE) else {
        return;
    };
    let _connection = duckdb::Connection::open(&database).expect("open database to hold its lock");
    println!("{LOCK_HELD}");
    std::thread::sleep(Duration::from_secs(30));
}

#[test]
fn locked_database_is_transient() {
    let mut fixture = Fixture::new();
    let file = fixture.parquet("users.1", "SELECT 1 AS id, 'ann' AS name");
    fixture
        .destination
        .load_package(&request(
            LOAD_1,
            vec![users_table("append")],
            &[],
            vec![job("users", &file, 1)],
        ))
        .expect("first load");

    let holder = LockHolder::start(&fixture.database);
    let error = fixture
        .destination
        .load_package(&request(
            LOAD_2,
            vec![users_table("append")],
            &[],
            vec![job("users", &file, 1)],
        ))
        .expect_err("a locked database must fail the load");
    let state_error = fixture
        .destination
        .fetch_state(&StateRequest {
            dataset_name: DATASET.to_string(),
            pipeline_name: PIPELINE.to_string(),
        })
        .expect_err("a locked database must fail the state read");
    drop(holder);

    assert_eq!(error.category, ErrorCategory::Transient, "{error}");
    assert!(error.message().contains("locked"), "{error}");
    assert!(error.message().contains("another process"), "{error}");
    assert!(
        error
            .message()
            .contains(&fixture.database.display().to_string()),
        "{error}"
    );
    assert!(!error.message().contains("credential"), "{error}");
    assert_eq!(
        state_error.category,
        ErrorCategory::Transient,
        "{state_error}"
    );
}

#[test]
fn missing_folder_is_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("no-such-folder");
    let mut destination = DuckDbDestination::new(DuckDbConfig::new(folder.join("w.duckdb")));
    let file = dir.path().join("users.1.parquet");
    common::write_parquet(&file, "SELECT 1 AS id, 'ann' AS name");

    let error = destination
        .load_package(&request(
            LOAD_1,
            vec![users_table("append")],
            &[],
            vec![job("users", &file, 1)],
        ))
        .expect_err("missing folder");

    assert_eq!(error.category, ErrorCategory::Config, "{error}");
    assert!(
        error.message().contains(&folder.display().to_string()),
        "{error}"
    );
}

#[test]
fn unsupported_file_format_is_terminal() {
    let mut fixture = Fixture::new();
    let file = fixture.parquet("users.1", "SELECT 1 AS id, 'ann' AS name");
    let mut jsonl_job = job("users", &file, 1);
    jsonl_job.file_format = "jsonl".to_string();

    let error = fixture
        .destination
        .load_package(&request(
            LOAD_1,
            vec![users_table("append")],
            &[],
            vec![jsonl_job],
        ))
        .expect_err("jsonl is not supported");

    assert_eq!(error.category, ErrorCategory::Terminal, "{error}");
    assert!(error.message().contains("jsonl"), "{error}");
}

#[test]
fn factory_describes_plugin() {
    let info = DuckDbDestinationFactory::info();
    let capabilities = DuckDbDestinationFactory::capabilities();

    assert_eq!(info.name, "duckdb");
    assert_eq!(info.abi_version, plugin_sdk::ABI_VERSION);
    assert_eq!(capabilities.preferred_loader_file_format, "parquet");
    assert_eq!(capabilities.supported_loader_file_formats, ["parquet"]);
    assert_eq!(
        capabilities.supported_write_dispositions,
        ["append", "replace", "merge"]
    );
    assert_eq!(capabilities.max_identifier_length, None);
    assert!(capabilities.atomic_packages);
}

#[test]
fn factory_opens_project_relative_path() {
    let project = tempfile::tempdir().unwrap();
    let working_dir = project.path().join("wd");
    std::fs::create_dir(&working_dir).unwrap();
    let config = serde_json::json!({
        "type": "duckdb",
        "credentials": "warehouse.duckdb",
        "_runner": {
            "pipeline_name": PIPELINE,
            "project_dir": project.path(),
            "working_dir": working_dir,
        },
    });
    let file = project.path().join("users.1.parquet");
    common::write_parquet(&file, "SELECT 1 AS id, 'ann' AS name");

    let mut destination = DuckDbDestinationFactory::open(&config).expect("open destination");
    let report = destination
        .load_package(&request(
            LOAD_1,
            vec![users_table("append")],
            &[],
            vec![job("users", &file, 1)],
        ))
        .expect("load");

    assert!(report.applied);
    assert!(project.path().join("warehouse.duckdb").is_file());
}

#[test]
fn factory_rejects_unknown_key() {
    let config =
        serde_json::json!({"type": "duckdb", "credentials": "w.duckdb", "create_indexes": true});

    let error = DuckDbDestinationFactory::open(&config)
        .err()
        .expect("unknown key");

    assert_eq!(error.category, ErrorCategory::Config, "{error}");
    assert!(error.message().contains("create_indexes"), "{error}");
}
