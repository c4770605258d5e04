//! Runs `dlt` on every bad input of `tests/corpus` and checks the outcome
//! that the case's `expected.json` describes.
//!
//! Each case folder contains a project (`dlt.yml`, `data/`, optionally
//! `plugins/`) and `expected.json`:
//!
//! * `description`: what the input is and why the outcome is right.
//! * `exit_code`: the exit code of `dlt --project <case> pipeline corpus run`.
//! * `stderr_contains`, `stderr_not_contains`: fragments of the error output.
//!   A panic message or a backtrace hint fails every case.
//! * `preload`: load the valid dataset of `_preload` (table
//!   `corpus.committed`) into the same DuckDB file first.
//! * `tables`: row counts after the run, keyed `dataset.table`, with `null`
//!   for a table that must not exist.
//! * `values`: SQL queries mapped to the text of the first column of their
//!   first row after the run.
//! * `known_gap`: a product bug not fixed yet, so the outcome is printed but
//!   not asserted.
//!
//! A case with a `seed/` folder first runs its pipeline with `seed/` as its
//! `data/` folder, so a write disposition meets a table that already exists.
//! After a failed run every table that existed before must hold the same
//! rows, and after any run `corpus.committed` must.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const PIPELINE: &str = "corpus";
const DATABASE: &str = "warehouse.duckdb";
const PRELOAD_FOLDER: &str = "_preload";
const MINIMUM_CASES: usize = 40;

fn corpus_dir() -> PathBuf {
    common::repo_root().join("tests/corpus")
}

/// Returns the case folders, sorted by name, without `_preload`.
fn case_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(corpus_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .filter(|path| !path.file_name().unwrap().to_string_lossy().starts_with('_'))
        .collect();
    dirs.sort();
    dirs
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

fn run_dlt(project: &Path, pipeline: &str, data_dir: &Path) -> Output {
    Command::new(common::dlt_binary())
        .arg("--project")
        .arg(project)
        .args(["pipeline", pipeline, "run"])
        .env("DLT_DATA_DIR", data_dir)
        .env_remove("DLT_PLUGIN_DIR")
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

fn describe(output: &Output) -> String {
    format!(
        "exit code {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        common::stdout(output),
        common::stderr(output)
    )
}

/// Returns the rows of every user table in the database, keyed
/// `dataset.table`, each table as its sorted rows cast to text. The map is
/// empty when the file does not exist.
fn snapshot(database: &Path) -> BTreeMap<String, String> {
    let mut tables = BTreeMap::new();
    if !database.is_file() {
        return tables;
    }
    let connection = duckdb::Connection::open(database).unwrap();
    let names: Vec<(String, String)> = connection
        .prepare(
            "SELECT table_schema, table_name FROM information_schema.tables \
             WHERE table_catalog = current_database() AND table_name NOT LIKE '\\_dlt\\_%' ESCAPE '\\'",
        )
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (schema, table) in names {
        let query = format!(
            "SELECT coalesce(string_agg(CAST(t AS VARCHAR), chr(10) ORDER BY CAST(t AS VARCHAR)), '') FROM {}.{} t",
            quote(&schema),
            quote(&table)
        );
        let rows: String = connection.query_row(&query, [], |row| row.get(0)).unwrap();
        tables.insert(format!("{schema}.{table}"), rows);
    }
    tables
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Returns the number of rows of `dataset.table`, or `None` when it does not exist.
fn row_count(database: &Path, qualified: &str) -> Option<i64> {
    if !database.is_file() {
        return None;
    }
    let (dataset, table) = qualified.split_once('.').expect("table keys are `dataset.table`");
    let connection = duckdb::Connection::open(database).unwrap();
    let exists: i64 = connection
        .query_row(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [dataset, table],
            |row| row.get(0),
        )
        .unwrap();
    if exists == 0 {
        return None;
    }
    let query = format!("SELECT count(*) FROM {}.{}", quote(dataset), quote(table));
    Some(connection.query_row(&query, [], |row| row.get(0)).unwrap())
}

fn strings(expected: &Value, key: &str) -> Vec<String> {
    expected
        .get(key)
        .and_then(Value::as_array)
        .map(|items| items.iter().map(|item| item.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// Runs one case and returns what differs from its expected outcome.
fn check_case(case_dir: &Path, expected: &Value) -> Vec<String> {
    let temp = tempfile::tempdir().unwrap();
    let project = temp.path().join("project");
    let data_dir = temp.path().join("dltdata");
    let database = project.join(DATABASE);
    copy_dir(case_dir, &project);
    let mut problems = Vec::new();

    if expected.get("preload").and_then(Value::as_bool).unwrap_or(false) {
        let preload = project.join(PRELOAD_FOLDER);
        copy_dir(&corpus_dir().join(PRELOAD_FOLDER), &preload);
        let output = run_dlt(&preload, "preload", &data_dir);
        if !output.status.success() {
            return vec![format!("preloading `_preload` failed: {}", describe(&output))];
        }
    }

    let seed = project.join("seed");
    if seed.is_dir() {
        let data = project.join("data");
        let held_back = temp.path().join("case-data");
        fs::rename(&data, &held_back).unwrap();
        copy_dir(&seed, &data);
        let output = run_dlt(&project, PIPELINE, &data_dir);
        if !output.status.success() {
            return vec![format!("seeding from `seed/` failed: {}", describe(&output))];
        }
        fs::remove_dir_all(&data).unwrap();
        fs::rename(&held_back, &data).unwrap();
    }

    let before = snapshot(&database);
    let output = run_dlt(&project, PIPELINE, &data_dir);
    let stderr = common::stderr(&output);

    let expected_code = expected["exit_code"].as_i64().expect("`exit_code` is a number") as i32;
    if output.status.code() != Some(expected_code) {
        problems.push(format!("expected exit code {expected_code}, got {:?}", output.status.code()));
    }
    for fragment in strings(expected, "stderr_contains") {
        if !stderr.contains(&fragment) {
            problems.push(format!("stderr does not contain `{fragment}`"));
        }
    }
    let mut forbidden = strings(expected, "stderr_not_contains");
    forbidden.extend(["panicked".to_owned(), "RUST_BACKTRACE".to_owned()]);
    for fragment in forbidden {
        if stderr.contains(&fragment) {
            problems.push(format!("stderr contains `{fragment}`"));
        }
    }

    let after = snapshot(&database);
    for (table, rows) in &before {
        let must_be_unchanged = !output.status.success() || table.ends_with(".committed");
        if must_be_unchanged && after.get(table) != Some(rows) {
            problems.push(format!("committed table `{table}` changed: before\n{rows}\nafter\n{:?}", after.get(table)));
        }
    }

    if let Some(tables) = expected.get("tables").and_then(Value::as_object) {
        for (table, count) in tables {
            let actual = row_count(&database, table);
            if actual != count.as_i64() {
                problems.push(format!("table `{table}`: expected {count} rows, got {actual:?}"));
            }
        }
    }

    if let Some(values) = expected.get("values").and_then(Value::as_object) {
        let connection = duckdb::Connection::open(&database).unwrap();
        for (query, value) in values {
            let actual: Result<Option<String>, _> = connection.query_row(query, [], |row| row.get(0));
            match actual {
                Ok(actual) if actual.as_deref() == value.as_str() => {}
                other => problems.push(format!("`{query}`: expected {value}, got {other:?}")),
            }
        }
    }

    if !problems.is_empty() {
        problems.push(describe(&output));
    }
    problems
}

fn read_expected(case_dir: &Path) -> Value {
    let path = case_dir.join("expected.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("invalid JSON in {}: {e}", path.display()))
}

#[test]
fn corpus_has_enough_cases() {
    let cases = case_dirs();
    assert!(
        cases.len() >= MINIMUM_CASES,
        "the corpus has {} cases, fewer than {MINIMUM_CASES}",
        cases.len()
    );
    for case in &cases {
        assert!(
            case.join("expected.json").is_file(),
            "corpus case `{}` has no expected.json",
            case.display()
        );
    }
}

#[test]
fn corpus_cases_match_expected() {
    let mut failures = Vec::new();
    for case_dir in case_dirs() {
        let name = case_dir.file_name().unwrap().to_string_lossy().into_owned();
        let expected = read_expected(&case_dir);
        let problems = check_case(&case_dir, &expected);

        if let Some(gap) = expected.get("known_gap").and_then(Value::as_str) {
            eprintln!("corpus case `{name}` is a known gap ({gap}); not asserted:\n{}", problems.join("\n"));
            continue;
        }
        if !problems.is_empty() {
            failures.push(format!("corpus case `{name}`:\n  {}", problems.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{} corpus cases failed:\n\n{}", failures.len(), failures.join("\n\n"));
}
