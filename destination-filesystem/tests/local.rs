//! Loads into a local folder (a temporary directory), checked on disk.

mod common;

use std::path::{Path, PathBuf};

use common::scenarios::{self, BucketView};
use common::*;
use destination_filesystem::{FilesystemConfig, FilesystemDestination};
use plugin_sdk::{Destination, ErrorCategory};
use serde_json::json;
use tempfile::TempDir;

/// A bucket folder and a folder for job files, both temporary.
struct Fixture {
    jobs: TempDir,
    bucket: TempDir,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            jobs: tempfile::tempdir().expect("create job folder"),
            bucket: tempfile::tempdir().expect("create bucket folder"),
        }
    }

    fn destination(&self) -> FilesystemDestination {
        FilesystemDestination::new(FilesystemConfig::local(self.bucket.path())).expect("open destination")
    }

    fn destination_with(&self, settings: serde_json::Value) -> FilesystemDestination {
        let mut config = json!({"type": "filesystem", "bucket_url": self.bucket.path()});
        for (key, value) in settings.as_object().expect("settings mapping") {
            config[key] = value.clone();
        }
        FilesystemDestination::from_json(&config).expect("open destination")
    }

    fn dir(&self) -> &Path {
        self.jobs.path()
    }
}

impl BucketView for Fixture {
    fn files(&self) -> Vec<String> {
        list_files(self.bucket.path())
    }

    fn read(&self, path: &str) -> Vec<u8> {
        std::fs::read(self.bucket.path().join(path)).expect("read bucket file")
    }

    fn write(&self, path: &str, content: &[u8]) {
        let path = self.bucket.path().join(path);
        std::fs::create_dir_all(path.parent().expect("file has a folder")).expect("create folder");
        std::fs::write(path, content).expect("write bucket file");
    }
}

#[test]
fn layout_matches_dlt() {
    let fixture = Fixture::new();
    scenarios::layout_matches_dlt(&mut fixture.destination(), &fixture, fixture.dir());
}

#[test]
fn replace_keeps_only_new() {
    let fixture = Fixture::new();
    scenarios::replace_keeps_only_new(&mut fixture.destination(), &fixture, fixture.dir());
}

#[test]
fn replace_keeps_digit_file_ids() {
    let fixture = Fixture::new();
    let mut destination = fixture.destination_with(json!({"loader_file_format": "jsonl"}));
    scenarios::replace_keeps_digit_file_ids(&mut destination, &fixture, fixture.dir());
}

#[test]
fn replace_keeps_own_files_of_any_layout() {
    // Without a separator between load id and file id, the names of this
    // load's files also read as other load ids.
    let fixture = Fixture::new();
    let settings = json!({"loader_file_format": "jsonl", "layout": "{table_name}/{load_id}{file_id}.{ext}"});
    let mut destination = fixture.destination_with(settings);

    scenarios::replace_keeps_digit_file_ids(&mut destination, &fixture, fixture.dir());
}

#[test]
fn committed_package_skipped() {
    let fixture = Fixture::new();
    scenarios::committed_package_skipped(&mut fixture.destination(), &fixture, fixture.dir());
}

#[test]
fn retry_overwrites_files() {
    let fixture = Fixture::new();
    scenarios::retry_overwrites_files(&mut fixture.destination(), &fixture, fixture.dir());
}

#[test]
fn state_requires_committed_load() {
    let fixture = Fixture::new();
    scenarios::state_requires_committed_load(&mut fixture.destination(), &fixture, fixture.dir());
}

#[test]
fn schema_requires_committed_load() {
    let fixture = Fixture::new();
    scenarios::schema_requires_committed_load(&mut fixture.destination(), &fixture, fixture.dir());
}

#[test]
fn empty_bucket_has_nothing() {
    let fixture = Fixture::new();
    scenarios::empty_bucket_has_nothing(&mut fixture.destination());
}

#[test]
fn missing_folder_not_created_by_reads() {
    let fixture = Fixture::new();
    let folder = fixture.bucket.path().join("not-yet");
    let mut destination = FilesystemDestination::new(FilesystemConfig::local(&folder)).expect("open destination");
    scenarios::empty_bucket_has_nothing(&mut destination);
    assert!(!folder.exists(), "reads must not create the bucket folder");
}

#[test]
fn schema_name_layout() {
    let fixture = Fixture::new();
    let mut destination =
        fixture.destination_with(json!({"layout": "{schema_name}/{table_name}/{load_id}.{file_id}.{ext}"}));
    let first = users_file(fixture.dir(), "1111111111", "1700000001.1", &[1]);
    let second = users_file(fixture.dir(), "2222222222", "1700000002.2", &[2]);

    for (load_id, file) in [("1700000001.1", &first), ("1700000002.2", &second)] {
        let package = request(load_id, vec![table("users", "replace", None)], &["users"], vec![job("users", file, 1)]);
        destination.load_package(&package).expect("load package");
    }

    let users: Vec<String> = fixture.files().into_iter().filter(|path| path.contains("/users/")).collect();
    assert_eq!(users, ["ds/shop/users/1700000002.2.2222222222.parquet"]);
}

#[test]
fn merge_rejected() {
    let fixture = Fixture::new();
    let users = users_file(fixture.dir(), "3333333333", "1700000001.1", &[1]);
    let package = request("1700000001.1", vec![table("users", "merge", None)], &[], vec![job("users", &users, 1)]);

    let error = fixture.destination().load_package(&package).expect_err("merge is not supported");

    assert_eq!(error.category, ErrorCategory::Config);
    assert!(error.message().contains("`merge`"), "{error}");
    assert!(error.message().contains("users"), "{error}");
    assert!(fixture.files().is_empty(), "nothing may be written: {:?}", fixture.files());
}

#[test]
fn old_state_files_pruned() {
    let fixture = Fixture::new();
    let mut destination = fixture.destination_with(json!({"max_state_files": 2}));

    for version in 1..=4_i64 {
        let load_id = format!("170000000{version}.5");
        let state = state_file(fixture.dir(), &format!("{version:010}"), &load_id, PIPELINE, version);
        let package = request(&load_id, vec![], &[], vec![job("_dlt_pipeline_state", &state, 1)]);
        destination.load_package(&package).expect("load state package");
    }

    let states: Vec<String> = fixture
        .files()
        .into_iter()
        .filter(|path| path.starts_with("ds/_dlt_pipeline_state/"))
        .collect();
    let expected: Vec<String> = ["1700000003.5", "1700000004.5"]
        .iter()
        .map(|load_id| format!("ds/_dlt_pipeline_state/p__{load_id}__{HASH_1_HEX}.jsonl"))
        .collect();
    assert_eq!(states, expected);
}

#[test]
fn empty_init_repaired() {
    let fixture = Fixture::new();
    fixture.write("ds/init", b"");
    let users = users_file(fixture.dir(), "4444444444", "1700000001.1", &[1]);
    let package = request("1700000001.1", vec![table("users", "append", None)], &[], vec![job("users", &users, 1)]);

    fixture.destination().load_package(&package).expect("load package");

    assert_eq!(fixture.read("ds/init"), br#"{"initial_version":2,"current_version":2}"#);
}

#[test]
fn memory_bucket_round_trip() {
    let dir = tempfile::tempdir().expect("create job folder");
    let mut destination =
        FilesystemDestination::from_json(&json!({"bucket_url": "memory://lake"})).expect("open destination");
    let users = users_file(dir.path(), "5555555555", "1700000001.1", &[1]);
    let package = request("1700000001.1", vec![table("users", "append", None)], &[], vec![job("users", &users, 1)]);

    let report = destination.load_package(&package).expect("load package");

    assert!(report.applied);
    assert_eq!(report.rows_per_table, [("users".to_owned(), 1)]);
    let status = plugin_sdk::protocol::LoadStatusRequest {
        dataset_name: DATASET.to_owned(),
        load_id: "1700000001.1".to_owned(),
    };
    assert!(destination.is_load_committed(&status).expect("status"));
}

#[test]
fn parquet_rows_preserved() {
    let fixture = Fixture::new();
    let users = users_file(fixture.dir(), "6666666666", "1700000001.1", &[1, 2, 3, 4]);
    let package = request("1700000001.1", vec![table("users", "append", None)], &[], vec![job("users", &users, 4)]);

    fixture.destination().load_package(&package).expect("load package");

    let stored: Vec<PathBuf> = fixture
        .files()
        .iter()
        .filter(|path| path.ends_with(".parquet"))
        .map(|path| fixture.bucket.path().join(path))
        .collect();
    assert_eq!(parquet_rows(&stored), 4);
}

#[test]
fn jsonl_gzip_files() {
    let fixture = Fixture::new();
    let mut destination = fixture.destination_with(json!({"loader_file_format": "jsonl"}));
    scenarios::text_format_files(&mut destination, &fixture, fixture.dir(), "jsonl.gz");
}

#[test]
fn jsonl_plain_files() {
    let fixture = Fixture::new();
    let runner = json!({"pipeline_name": PIPELINE, "project_dir": "", "working_dir": "", "disable_compression": true});
    let mut destination = fixture.destination_with(json!({"loader_file_format": "jsonl", "_runner": runner}));
    scenarios::text_format_files(&mut destination, &fixture, fixture.dir(), "jsonl");
}

#[test]
fn csv_gzip_files() {
    let fixture = Fixture::new();
    let mut destination = fixture.destination_with(json!({"loader_file_format": "csv"}));
    scenarios::text_format_files(&mut destination, &fixture, fixture.dir(), "csv.gz");
}

#[test]
fn csv_plain_files() {
    let fixture = Fixture::new();
    let runner = json!({"pipeline_name": PIPELINE, "project_dir": "", "working_dir": "", "disable_compression": true});
    let mut destination = fixture.destination_with(json!({"loader_file_format": "csv", "_runner": runner}));
    scenarios::text_format_files(&mut destination, &fixture, fixture.dir(), "csv");
}

#[test]
fn unknown_format_rejected() {
    let fixture = Fixture::new();
    let config = json!({"type": "filesystem", "bucket_url": fixture.bucket.path(), "loader_file_format": "insert_values"});

    let error = FilesystemDestination::from_json(&config).expect_err("insert_values is not a filesystem format");

    assert_eq!(error.category, ErrorCategory::Config);
    assert!(error.message().contains("\"insert_values\""), "{error}");
    assert!(error.message().contains("parquet, jsonl, csv"), "{error}");
}
