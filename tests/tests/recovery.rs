//! Crash recovery and atomic loads through the Rust API, against real DuckDB files.

mod common;

use std::fs;
use std::path::Path;

use common::{count_rows, duckdb_config, folder_names};
use destination_duckdb::DuckDbDestinationFactory;
use runner_core::destination::DestinationHandle;
use runner_core::extract::{Resource, Source, WriteDisposition};
use runner_core::{Pipeline, PipelineOptions};
use serde_json::{Value, json};

fn open_pipeline(folder: &Path) -> Pipeline {
    let config = duckdb_config(&folder.join("test.duckdb"), "recovery", folder);
    let destination = DestinationHandle::linked::<DuckDbDestinationFactory>("duckdb", &config).unwrap();
    let options = PipelineOptions::new("recovery")
        .with_pipelines_dir(folder.join("pipelines"))
        .with_dataset_name("ds");
    Pipeline::new(options, destination).unwrap()
}

fn items(ids: std::ops::Range<i64>, disposition: WriteDisposition) -> Source {
    let rows: Vec<Value> = ids.map(|id| json!({"id": id, "tags": ["x", "y"]})).collect();
    Source::new("items_source", vec![Resource::from_rows("items", rows).with_write_disposition(disposition)])
}

fn loads(folder: &Path) -> Vec<String> {
    let connection = duckdb::Connection::open(folder.join("test.duckdb")).unwrap();
    let mut statement = connection.prepare("SELECT load_id FROM ds._dlt_loads ORDER BY load_id").unwrap();
    statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
}

fn normalized_package(folder: &Path) -> std::path::PathBuf {
    let normalized = folder.join("pipelines/recovery/load/normalized");
    let mut packages: Vec<_> = fs::read_dir(&normalized).unwrap().map(|entry| entry.unwrap().path()).collect();
    assert_eq!(packages.len(), 1, "expected one normalized package in {}", normalized.display());
    packages.pop().unwrap()
}

#[test]
fn package_between_normalize_and_load_completes_once() {
    let folder = tempfile::tempdir().unwrap();

    // First process: extract and normalize, then "crash" before load.
    let load_id = {
        let mut pipeline = open_pipeline(folder.path());
        let load_id = pipeline.extract(items(0..10, WriteDisposition::Append)).unwrap().unwrap();
        pipeline.normalize().unwrap();
        load_id
    };

    // Second process: a new run finds the pending package and loads it first.
    let mut pipeline = open_pipeline(folder.path());
    assert!(pipeline.has_pending_data().unwrap());
    let info = pipeline.run(items(10..15, WriteDisposition::Append)).unwrap();

    assert_eq!(info.pending_packages, 1);
    assert_eq!(info.packages[0].load_id, load_id, "pending package keeps its load id");
    let connection = duckdb::Connection::open(folder.path().join("test.duckdb")).unwrap();
    assert_eq!(count_rows(&connection, "ds.items"), 15);
    assert_eq!(count_rows(&connection, "ds.items__tags"), 30);
    assert_eq!(loads(folder.path()).len(), 2);
    assert!(loads(folder.path()).contains(&load_id));
}

#[test]
fn package_committed_before_rename_is_not_applied_twice() {
    let folder = tempfile::tempdir().unwrap();
    let mut pipeline = open_pipeline(folder.path());
    pipeline.run(items(0..5, WriteDisposition::Append)).unwrap();

    // Simulate a crash after the destination committed but before the
    // package folder moved to `loaded`: move it back.
    let loaded = folder.path().join("pipelines/recovery/load/loaded");
    let package = fs::read_dir(&loaded).unwrap().next().unwrap().unwrap().path();
    let load_id = package.file_name().unwrap().to_owned();
    let target = folder.path().join("pipelines/recovery/load/normalized").join(&load_id);
    fs::rename(&package, &target).unwrap();
    for job in fs::read_dir(target.join("completed_jobs")).unwrap() {
        let job = job.unwrap().path();
        fs::rename(&job, target.join("started_jobs").join(job.file_name().unwrap())).unwrap();
    }
    fs::remove_file(target.join("package_completed.json")).unwrap();

    let info = pipeline.finalize().unwrap();

    assert_eq!(info.packages.len(), 1);
    assert!(!info.packages[0].applied);
    let connection = duckdb::Connection::open(folder.path().join("test.duckdb")).unwrap();
    assert_eq!(count_rows(&connection, "ds.items"), 5);
    assert_eq!(loads(folder.path()).len(), 1);
}

#[test]
fn failed_replace_keeps_old_rows() {
    let folder = tempfile::tempdir().unwrap();
    let mut pipeline = open_pipeline(folder.path());
    pipeline.run(items(0..4, WriteDisposition::Replace)).unwrap();

    // The second load's file for the nested table is damaged after
    // normalize, so the load fails midway through the package.
    pipeline.extract(items(100..102, WriteDisposition::Replace)).unwrap();
    pipeline.normalize().unwrap();
    let package = normalized_package(folder.path());
    let nested_job = fs::read_dir(package.join("new_jobs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.file_name().unwrap().to_string_lossy().starts_with("items__tags."))
        .unwrap();
    fs::write(&nested_job, b"not a parquet file").unwrap();

    let error = pipeline.load().unwrap_err();

    assert!(error.to_string().contains("items__tags"), "{error}");
    let connection = duckdb::Connection::open(folder.path().join("test.duckdb")).unwrap();
    let ids: i64 = connection.query_row("SELECT sum(id) FROM ds.items", [], |row| row.get(0)).unwrap();
    assert_eq!(count_rows(&connection, "ds.items"), 4);
    assert_eq!(ids, 6, "the old rows 0..4 must survive");
    assert_eq!(count_rows(&connection, "ds.items__tags"), 8);
    assert_eq!(loads(folder.path()).len(), 1, "the failed package must not be recorded");
    assert!(pipeline.has_pending_data().unwrap(), "the failed package stays pending");
}

#[test]
fn empty_source_creates_no_package_after_first_run() {
    let folder = tempfile::tempdir().unwrap();
    let mut pipeline = open_pipeline(folder.path());
    pipeline.run(items(0..3, WriteDisposition::Append)).unwrap();

    let info = pipeline.run(items(0..0, WriteDisposition::Append)).unwrap();

    assert!(info.is_empty(), "{info}");
    assert_eq!(loads(folder.path()).len(), 1);
}

#[test]
fn normalized_extract_folder_is_deleted() {
    let folder = tempfile::tempdir().unwrap();
    let normalize_dir = folder.path().join("pipelines/recovery/normalize");

    // Dropped after normalize, as by a process that stops before the load.
    {
        let mut pipeline = open_pipeline(folder.path());
        pipeline.extract(items(0..10, WriteDisposition::Append)).unwrap();
        pipeline.normalize().unwrap();
        assert!(folder_names(&normalize_dir.join("extracted")).is_empty(), "the package left its stage");
    }
    assert_eq!(folder_names(&normalize_dir), ["extracted"]);

    let mut pipeline = open_pipeline(folder.path());
    pipeline.run(items(10..20, WriteDisposition::Append)).unwrap();
    assert_eq!(folder_names(&normalize_dir), ["extracted"]);
    assert!(folder_names(&normalize_dir.join("extracted")).is_empty());
    assert_eq!(loads(folder.path()).len(), 2);
}

#[test]
fn retired_folder_of_stopped_process_is_discarded() {
    let folder = tempfile::tempdir().unwrap();
    let mut pipeline = open_pipeline(folder.path());
    pipeline.run(items(0..5, WriteDisposition::Append)).unwrap();
    drop(pipeline);

    // A process killed while it deleted a normalized package's extract.
    let retired = folder.path().join("pipelines/recovery/normalize/0123456789abcdef");
    fs::create_dir_all(&retired).unwrap();
    fs::write(retired.join("items.1234567890.0.typed-jsonl"), "{\"id\": 99}\n").unwrap();

    let mut pipeline = open_pipeline(folder.path());
    pipeline.run(items(5..10, WriteDisposition::Append)).unwrap();

    assert!(!retired.exists());
    let connection = duckdb::Connection::open(folder.path().join("test.duckdb")).unwrap();
    assert_eq!(count_rows(&connection, "ds.items"), 10);
}

/// Returns the job files of `table` in the `new_jobs` folder of `package`.
fn new_jobs_of(package: &Path, table: &str) -> Vec<std::path::PathBuf> {
    let prefix = format!("{table}.");
    fs::read_dir(package.join("new_jobs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().unwrap().to_string_lossy().starts_with(&prefix))
        .collect()
}

#[test]
fn missing_job_file_fails_load() {
    let folder = tempfile::tempdir().unwrap();
    let mut pipeline = open_pipeline(folder.path());
    pipeline.run(items(0..5, WriteDisposition::Append)).unwrap();
    pipeline.extract(items(5..10, WriteDisposition::Append)).unwrap();
    pipeline.normalize().unwrap();
    let package = normalized_package(folder.path());
    let tags_job = new_jobs_of(&package, "items__tags").pop().unwrap();
    fs::remove_file(&tags_job).unwrap();

    let error = pipeline.load().unwrap_err();

    let message = error.to_string();
    let job_id = tags_job.file_name().unwrap().to_string_lossy().replace(".0.parquet", ".parquet");
    assert!(message.contains(&format!("job file `{job_id}` of the package's")), "{message}");
    assert!(message.contains("new_jobs, started_jobs, completed_jobs"), "{message}");
    assert_eq!(error.category(), plugin_sdk::ErrorCategory::Terminal);
    assert_eq!(loads(folder.path()).len(), 1, "the damaged package must not load");

    pipeline.drop_pending_packages().unwrap();
    pipeline.run(items(5..10, WriteDisposition::Append)).unwrap();
    let connection = duckdb::Connection::open(folder.path().join("test.duckdb")).unwrap();
    assert_eq!(count_rows(&connection, "ds.items"), 10);
    assert_eq!(count_rows(&connection, "ds.items__tags"), 20);
}

#[test]
fn started_job_counts_as_present() {
    let folder = tempfile::tempdir().unwrap();
    let mut pipeline = open_pipeline(folder.path());
    pipeline.extract(items(0..5, WriteDisposition::Append)).unwrap();
    pipeline.normalize().unwrap();
    let package = normalized_package(folder.path());
    // A crash during an earlier load attempt leaves jobs in `started_jobs`.
    let tags_job = new_jobs_of(&package, "items__tags").pop().unwrap();
    fs::rename(&tags_job, package.join("started_jobs").join(tags_job.file_name().unwrap())).unwrap();

    pipeline.load().unwrap();

    let connection = duckdb::Connection::open(folder.path().join("test.duckdb")).unwrap();
    assert_eq!(count_rows(&connection, "ds.items__tags"), 10);
}

#[test]
fn missing_extracted_job_fails_normalize() {
    let folder = tempfile::tempdir().unwrap();
    let mut pipeline = open_pipeline(folder.path());
    pipeline.extract(items(0..5, WriteDisposition::Append)).unwrap();
    let extracted = folder.path().join("pipelines/recovery/normalize/extracted");
    let package = fs::read_dir(&extracted).unwrap().next().unwrap().unwrap().path();
    let job = new_jobs_of(&package, "items").pop().unwrap();
    fs::remove_file(&job).unwrap();

    let error = pipeline.normalize().unwrap_err();

    assert!(error.to_string().contains("are missing from new_jobs"), "{error}");
    assert!(package.exists(), "the extracted package stays pending");
}

#[test]
fn hidden_temporary_file_ignored() {
    let folder = tempfile::tempdir().unwrap();
    let mut pipeline = open_pipeline(folder.path());
    pipeline.extract(items(0..5, WriteDisposition::Append)).unwrap();
    pipeline.normalize().unwrap();
    let package = normalized_package(folder.path());
    // A destination plugin killed while converting a job leaves such a file.
    fs::write(package.join("started_jobs/.items.0123456789.parquet.x1y2.tmp"), b"partial").unwrap();

    pipeline.load().unwrap();

    let connection = duckdb::Connection::open(folder.path().join("test.duckdb")).unwrap();
    assert_eq!(count_rows(&connection, "ds.items"), 5);
}

#[test]
fn unlisted_or_second_job_file_fails_load() {
    let cases: [(&str, fn(&Path)); 3] = [
        ("is not in the package's `job_list.json`", |package| {
            let job = new_jobs_of(package, "items").pop().unwrap();
            fs::copy(&job, package.join("new_jobs/items.9999999999.0.parquet")).unwrap();
        }),
        ("has more than one file in the package", |package| {
            let job = new_jobs_of(package, "items").pop().unwrap();
            let retried = job.file_name().unwrap().to_string_lossy().replace(".0.parquet", ".1.parquet");
            fs::copy(&job, package.join("started_jobs").join(retried)).unwrap();
        }),
        ("lists no jobs", |package| fs::write(package.join("job_list.json"), r#"{"jobs":[]}"#).unwrap()),
    ];
    for (expected, damage) in cases {
        let folder = tempfile::tempdir().unwrap();
        let mut pipeline = open_pipeline(folder.path());
        pipeline.extract(items(0..5, WriteDisposition::Append)).unwrap();
        pipeline.normalize().unwrap();
        damage(&normalized_package(folder.path()));

        let error = pipeline.load().unwrap_err();

        assert!(error.to_string().contains(expected), "{expected}: {error}");
        assert!(!folder.path().join("test.duckdb").exists() || loads(folder.path()).is_empty(), "{expected}: loaded");
    }
}
