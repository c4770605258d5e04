//! Write disposition `merge` end to end: a `runner_core::Pipeline` with the
//! linked DuckDB destination, JSON rows with nested lists.

mod common;

use std::path::PathBuf;

use destination_duckdb::DuckDbDestinationFactory;
use runner_core::destination::DestinationHandle;
use runner_core::extract::{MergeStrategy, Resource, Source, WriteDisposition};
use runner_core::{Pipeline, PipelineOptions};
use serde_json::{Value, json};

use common::duckdb_config;

const PIPELINE: &str = "merge_test";

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
        self.folder.path().join("merge.duckdb")
    }

    fn pipeline(&self) -> Pipeline {
        let config = duckdb_config(&self.database(), PIPELINE, self.folder.path());
        let destination = DestinationHandle::linked::<DuckDbDestinationFactory>("warehouse", &config).unwrap();
        let options = PipelineOptions::new(PIPELINE)
            .with_pipelines_dir(self.folder.path().join("pipelines"))
            .with_dataset_name("ds");
        Pipeline::new(options, destination).unwrap()
    }

    fn strings(&self, sql: &str) -> Vec<String> {
        let connection = duckdb::Connection::open(self.database()).unwrap();
        let mut statement = connection.prepare(sql).unwrap();
        statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
    }
}

/// Builds source `shop` with resource `items`, merged on `id`.
fn items(rows: Vec<Value>, strategy: Option<MergeStrategy>) -> Source {
    let mut resource = Resource::from_rows("items", rows)
        .with_write_disposition(WriteDisposition::Merge)
        .with_primary_key(["id"]);
    if let Some(strategy) = strategy {
        resource = resource.with_merge_strategy(strategy);
    }
    Source::new("shop", vec![resource])
}

fn run_1() -> Vec<Value> {
    vec![
        json!({"id": 1, "name": "A", "kids": [{"n": 1}, {"n": 2}]}),
        json!({"id": 2, "name": "B", "kids": [{"n": 3}]}),
    ]
}

fn run_2() -> Vec<Value> {
    vec![
        json!({"id": 2, "name": "B2", "kids": [{"n": 30}]}),
        json!({"id": 3, "name": "C"}),
    ]
}

const ROOTS: &str = "SELECT id || ',' || name FROM ds.items ORDER BY id";
const KIDS: &str = "SELECT i.id || ',' || k.n FROM ds.items__kids k JOIN ds.items i ON k._dlt_root_id = i._dlt_id ORDER BY k.n";

#[test]
fn merge_replaces_rows_and_children() {
    let setup = Setup::new();
    let mut pipeline = setup.pipeline();
    pipeline.run(items(run_1(), None)).unwrap();
    pipeline.run(items(run_2(), None)).unwrap();

    assert_eq!(setup.strings(ROOTS), ["1,A", "2,B2", "3,C"]);
    assert_eq!(setup.strings(KIDS), ["1,1", "1,2", "2,30"]);
    assert_eq!(setup.strings("SELECT CAST(count(*) AS VARCHAR) FROM ds.items__kids"), ["3"]);
}

#[test]
fn merge_duplicate_last_wins() {
    let setup = Setup::new();
    let mut pipeline = setup.pipeline();
    let rows = vec![
        json!({"id": 1, "name": "first", "kids": [{"n": 1}]}),
        json!({"id": 1, "name": "last", "kids": [{"n": 2}]}),
    ];
    pipeline.run(items(rows, None)).unwrap();

    assert_eq!(setup.strings(ROOTS), ["1,last"]);
    assert_eq!(setup.strings(KIDS), ["1,2"]);
}

#[test]
fn merge_corrupt_child_job_rolls_back() {
    let setup = Setup::new();
    let mut pipeline = setup.pipeline();
    pipeline.run(items(run_1(), None)).unwrap();

    let load_id = pipeline.extract(items(run_2(), None)).unwrap().expect("package extracted");
    pipeline.normalize().unwrap();
    let jobs = pipeline.working_dir().join("load/normalized").join(&load_id).join("new_jobs");
    let kids_job = std::fs::read_dir(&jobs)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.file_name().unwrap().to_string_lossy().starts_with("items__kids."))
        .expect("nested job file");
    std::fs::write(&kids_job, b"not parquet").unwrap();
    let result = pipeline.load();

    assert!(result.is_err(), "load of a corrupt job succeeded");
    assert_eq!(setup.strings(ROOTS), ["1,A", "2,B"]);
    assert_eq!(setup.strings(KIDS), ["1,1", "1,2", "2,3"]);
    let recorded = setup.strings(&format!("SELECT load_id FROM ds._dlt_loads WHERE load_id = '{load_id}'"));
    assert!(recorded.is_empty(), "failed load recorded: {recorded:?}");
}

#[test]
fn upsert_keeps_root_id() {
    let setup = Setup::new();
    let mut pipeline = setup.pipeline();
    let upsert = Some(MergeStrategy::Upsert);
    pipeline.run(items(vec![json!({"id": 1, "name": "A"})], upsert)).unwrap();
    pipeline.run(items(vec![json!({"id": 1, "name": "A2"})], upsert)).unwrap();

    assert_eq!(setup.strings(ROOTS), ["1,A2"]);
    assert_eq!(setup.strings("SELECT _dlt_id FROM ds.items"), ["z5jIxXIbUnmbKw"]);
}

#[test]
fn upsert_replaces_children() {
    let setup = Setup::new();
    let mut pipeline = setup.pipeline();
    let upsert = Some(MergeStrategy::Upsert);
    pipeline.run(items(run_1(), upsert)).unwrap();
    pipeline.run(items(run_2(), upsert)).unwrap();

    assert_eq!(setup.strings(ROOTS), ["1,A", "2,B2", "3,C"]);
    assert_eq!(setup.strings(KIDS), ["1,1", "1,2", "2,30"]);
}

#[test]
fn merge_staging_dropped() {
    let setup = Setup::new();
    let mut pipeline = setup.pipeline();
    pipeline.run(items(run_1(), None)).unwrap();

    let staged = setup.strings("SELECT table_name FROM information_schema.tables WHERE table_schema = 'ds_staging'");
    assert!(staged.is_empty(), "staging tables left: {staged:?}");
}

#[test]
fn merge_without_key_rejected() {
    let setup = Setup::new();
    let mut pipeline = setup.pipeline();
    let resource = Resource::from_rows("items", vec![json!({"id": 1})]).with_write_disposition(WriteDisposition::Merge);

    let error = pipeline.run(Source::new("shop", vec![resource])).unwrap_err();

    assert!(error.to_string().contains("table `items`"), "{error}");
}

#[test]
fn merge_last_wins_across_rotated_files() {
    let setup = Setup::new();
    let mut pipeline = setup.pipeline();

    // The second half adds a column after the first batch was written, so
    // normalize starts a second file for the table; its rows must win.
    let ids = 0..20_000;
    let mut rows: Vec<Value> = ids.clone().map(|id| json!({"id": id, "v": "first"})).collect();
    rows.extend(ids.map(|id| json!({"id": id, "v": "last", "extra": 1})));
    pipeline.run(items(rows, None)).unwrap();

    let values = setup.strings("SELECT DISTINCT v FROM ds.items");
    assert_eq!(values, ["last"]);
    assert_eq!(setup.strings("SELECT count(*)::VARCHAR FROM ds.items"), ["20000"]);
}

#[test]
fn misspelt_primary_key_fails_normalize() {
    let setup = Setup::new();
    let mut pipeline = setup.pipeline();
    let resource = Resource::from_rows("items", run_1())
        .with_write_disposition(WriteDisposition::Merge)
        .with_primary_key(["idd"]);

    let error = pipeline.run(Source::new("shop", vec![resource])).unwrap_err();

    let message = error.to_string();
    assert!(message.contains("normalize"), "{message}");
    assert!(message.contains("primary_key column `idd` is in no row"), "{message}");
    assert!(message.contains("the rows have columns id, name"), "{message}");
    assert!(!setup.database().exists() || setup.strings("SELECT table_name FROM duckdb_tables() WHERE table_name = 'items'").is_empty());
}

#[test]
fn fixed_primary_key_replaces_misspelt_one() {
    let setup = Setup::new();
    let mut pipeline = setup.pipeline();
    let resource = |key: &str| {
        Resource::from_rows("items", run_1())
            .with_write_disposition(WriteDisposition::Merge)
            .with_primary_key([key])
    };
    pipeline.run(Source::new("shop", vec![resource("idd")])).unwrap_err();
    pipeline.drop_pending_packages().unwrap();

    pipeline.run(Source::new("shop", vec![resource("id")])).unwrap();

    assert_eq!(setup.strings(ROOTS), ["1,A", "2,B"]);
}
