//! `run_config` through the `dlt` binary: retries, exit codes, custom retry
//! policy plugins, `sync`, `drop-pending-packages` and the pipeline lock.

mod common;

use std::fs;

use common::{TestProject, assert_success, count_rows, plugin_file, stderr, stdout};

/// Creates a project whose destination fails its first `fail_loads` loads.
fn project(fail_loads: u64, category: &str, run_config: &str) -> TestProject {
    let project = TestProject::new("");
    let yml = format!(
        "\
sources:
  events:
    type: files
    path: data/events.jsonl
    table_name: events
    incremental: {{cursor_path: id, initial_value: 0}}
destinations:
  flaky:
    type: faulty
    credentials: warehouse.duckdb
    fail_loads: {fail_loads}
    fail_category: {category}
    counter_file: {counter}
pipelines:
  p:
    source: events
    destination: flaky
    dataset_name: ds
{run_config}",
        counter = project.path().join("calls.txt").display(),
    );
    fs::write(project.path().join("dlt.yml"), yml).unwrap();
    project.write_data("events.jsonl", "{\"id\": 1}\n{\"id\": 2}\n{\"id\": 3}\n");
    project
}

fn calls(project: &TestProject) -> u64 {
    fs::read_to_string(project.path().join("calls.txt"))
        .map(|text| text.trim().parse().unwrap())
        .unwrap_or(0)
}

const FIXED_THREE: &str = "    run_config:\n      retry_policy: {type: fixed, max_attempts: 3}\n";

#[test]
fn retried_load_succeeds_once() {
    let project = project(2, "transient", FIXED_THREE);

    let output = project.dlt(&["pipeline", "p", "run"]);

    assert_success(&output);
    assert_eq!(calls(&project), 3);
    let connection = project.duckdb("warehouse.duckdb");
    assert_eq!(count_rows(&connection, "ds.events"), 3);
    assert_eq!(count_rows(&connection, "ds._dlt_loads"), 1);
}

#[test]
fn exhausted_retries_exit_3_and_keep_data() {
    let project = project(10, "transient", FIXED_THREE);

    let output = project.dlt(&["pipeline", "p", "run"]);

    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("injected failure 3 of 10"), "{}", stderr(&output));
    assert!(stderr(&output).contains("/new_jobs`)"), "names the folder of the waiting jobs: {}", stderr(&output));
    let pending = project.data_dir().join("pipelines/p/load/normalized");
    assert_eq!(fs::read_dir(pending).unwrap().count(), 1, "the package stays pending");
}

#[test]
fn terminal_error_exits_4_after_one_attempt() {
    let project = project(1, "terminal", FIXED_THREE);

    let output = project.dlt(&["pipeline", "p", "run"]);

    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert_eq!(calls(&project), 1);
    assert!(stderr(&output).contains("drop-pending-packages"), "{}", stderr(&output));
}

#[test]
fn invalid_run_config_leaves_no_folder() {
    let project = project(0, "transient", "    run_config:\n      retry_policy: {type: fixed, max_attempts: 0}\n");

    let output = project.dlt(&["pipeline", "p", "run"]);

    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("max_attempts"), "{message}");
    assert!(message.contains(":20:"), "line of the value expected: {message}");
    assert!(!project.data_dir().exists(), "nothing may be created on disk");
}

#[test]
fn unknown_policy_type_leaves_no_folder() {
    let project = project(0, "transient", "    run_config:\n      retry_policy: {type: nosuch}\n");

    let output = project.dlt(&["pipeline", "p", "run"]);

    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("retry_nosuch"), "{}", stderr(&output));
    assert!(!project.data_dir().exists());
}

#[test]
fn custom_policy_plugin_selected_by_type() {
    let project = project(2, "transient", "    run_config:\n      retry_policy: {type: linear, max_attempts: 3, step: 0}\n");
    let plugins = project.path().join("plugins");
    fs::create_dir_all(&plugins).unwrap();
    let library = plugin_file("retry_linear");
    fs::copy(&library, plugins.join(library.file_name().unwrap())).unwrap();

    let output = project.dlt(&["-v", "pipeline", "p", "run"]);

    assert_success(&output);
    assert_eq!(calls(&project), 3);
    assert!(stderr(&output).contains("retry policy plugin"), "the log names the plugin: {}", stderr(&output));
}

#[test]
fn sync_restores_state_and_run_continues_cursor() {
    let project = project(0, "transient", "");
    assert_success(&project.dlt(&["pipeline", "p", "run"]));

    let output = project.dlt(&["pipeline", "p", "sync"]);

    assert_success(&output);
    assert!(stdout(&output).contains("restored state"), "{}", stdout(&output));
    assert!(project.data_dir().join("pipelines/p/state.json").exists());
    project.write_data("events.jsonl", "{\"id\": 2}\n{\"id\": 3}\n{\"id\": 4}\n");
    assert_success(&project.dlt(&["pipeline", "p", "run"]));
    assert_eq!(count_rows(&project.duckdb("warehouse.duckdb"), "ds.events"), 4);
}

#[test]
fn drop_pending_packages_unblocks_pipeline() {
    let project = project(1, "terminal", "");
    assert_eq!(project.dlt(&["pipeline", "p", "run"]).status.code(), Some(4));

    let output = project.dlt(&["pipeline", "p", "drop-pending-packages"]);

    assert_success(&output);
    assert!(stdout(&output).contains("dropped 1 pending package"), "{}", stdout(&output));
    let output = project.dlt(&["pipeline", "p", "run"]);
    assert_success(&output);
    assert_eq!(
        count_rows(&project.duckdb("warehouse.duckdb"), "ds.events"),
        3,
        "the rewound cursor loads the dropped rows again"
    );
}

#[test]
fn second_run_while_locked_is_refused() {
    let project = project(0, "transient", "");
    let lock_path = project.data_dir().join("pipelines").join("p.lock");
    let _held = runner_core::storage::PipelineLock::acquire(&lock_path, "p").unwrap();

    let output = project.dlt(&["pipeline", "p", "run"]);

    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("already running"), "{message}");
    assert!(message.contains(&std::process::id().to_string()), "holder pid expected: {message}");
    assert!(message.contains("p.lock"), "{message}");
}
