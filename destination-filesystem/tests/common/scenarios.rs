//! Checks that run the same way against a local folder and SeaweedFS. Each
//! takes a fresh destination and a view of the same bucket for inspection.

use plugin_sdk::protocol::{LoadStatusRequest, SchemaRequest, StateRequest};
use plugin_sdk::{Destination, ErrorCategory};

use super::*;

const LOAD_1: &str = "1700000001.000001";
const LOAD_2: &str = "1700000002.000002";
const LOAD_3: &str = "1700000003.000003";

/// Reads and changes the bucket behind a destination, for checks and for
/// forging files of failed attempts. Paths are relative to the bucket URL.
pub trait BucketView {
    fn files(&self) -> Vec<String>;
    fn read(&self, path: &str) -> Vec<u8>;
    fn write(&self, path: &str, content: &[u8]);
}

fn read_text(view: &dyn BucketView, path: &str) -> String {
    String::from_utf8(view.read(path)).expect("dlt files are UTF-8")
}

fn files_under(view: &dyn BucketView, folder: &str) -> Vec<String> {
    view.files().into_iter().filter(|path| path.starts_with(folder)).collect()
}

fn load_users_and_state(destination: &mut dyn Destination, dir: &Path, load_id: &str, version: i64) {
    let users = users_file(dir, &format!("aaaa{version:06}"), load_id, &[1, 2, 3]);
    let state = state_file(dir, &format!("bbbb{version:06}"), load_id, PIPELINE, version);
    let package = request(
        load_id,
        vec![table("users", "append", None)],
        &[],
        vec![job("users", &users, 3), job("_dlt_pipeline_state", &state, 1)],
    );
    let report = destination.load_package(&package).expect("load package");
    assert!(report.applied, "package {load_id} must be applied");
}

/// Checks that file names and `_dlt_*` contents follow dlt's filesystem layout.
pub fn layout_matches_dlt(destination: &mut dyn Destination, view: &dyn BucketView, dir: &Path) {
    load_users_and_state(destination, dir, LOAD_1, 1);
    let files = view.files();

    let version_files = files_under(view, "ds/_dlt_version/");
    assert_eq!(version_files.len(), 1, "{files:?}");
    let version_name = version_files[0].trim_start_matches("ds/_dlt_version/");
    assert!(version_name.starts_with("shop__17"), "{version_name}");
    assert!(version_name.ends_with(&format!("__{HASH_1_HEX}.jsonl")), "{version_name}");

    let expected = vec![
        format!("ds/_dlt_loads/shop__{LOAD_1}.jsonl"),
        format!("ds/_dlt_pipeline_state/p__{LOAD_1}__{HASH_1_HEX}.jsonl"),
        version_files[0].clone(),
        "ds/init".to_owned(),
        format!("ds/users/{LOAD_1}.aaaa000001.parquet"),
    ];
    assert_eq!(files, expected);

    assert_eq!(read_text(view, "ds/init"), r#"{"initial_version":2,"current_version":2}"#);

    let users = view.read(&format!("ds/users/{LOAD_1}.aaaa000001.parquet"));
    let source = std::fs::read(dir.join("users.aaaa000001.0.parquet")).expect("read job file");
    assert!(users == source, "data file must be a copy of the job file");

    let state = read_text(view, &format!("ds/_dlt_pipeline_state/p__{LOAD_1}__{HASH_1_HEX}.jsonl"));
    let expected_state = format!(
        r#"{{"version":1,"engine_version":4,"pipeline_name":"p","state":"{STATE_BLOB}","created_at":"2024-01-02T03:04:05.123456+00:00","version_hash":"state-hash-1","_dlt_load_id":"{LOAD_1}"}}"#
    );
    assert_eq!(state, expected_state);

    let load = read_text(view, &format!("ds/_dlt_loads/shop__{LOAD_1}.jsonl"));
    let prefix = format!(r#"{{"load_id":"{LOAD_1}","schema_name":"shop","status":0,"inserted_at":""#);
    assert!(load.starts_with(&prefix), "{load}");
    assert!(load.ends_with(&format!(r#"+00:00","schema_version_hash":"{HASH_1}"}}"#)), "{load}");

    let version: serde_json::Value = serde_json::from_slice(&view.read(&version_files[0])).expect("version JSON");
    let keys: Vec<&str> = version.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys, ["version_hash", "schema_name", "version", "engine_version", "inserted_at", "schema"]);
    assert_eq!(version["schema"], serde_json::Value::String(schema(1, HASH_1).schema_json));
}

/// Checks that `replace` leaves only the new files of the root and its nested table.
pub fn replace_keeps_only_new(destination: &mut dyn Destination, view: &dyn BucketView, dir: &Path) {
    let tables = || vec![table("users", "replace", None), table("users__tags", "replace", Some("users"))];
    for (load_id, suffix) in [(LOAD_1, "01"), (LOAD_2, "02")] {
        let users = users_file(dir, &format!("cccccccc{suffix}"), load_id, &[1, 2]);
        let tags_source = users_file(dir, &format!("dddddddd{suffix}"), load_id, &[7]);
        let tags = dir.join(format!("users__tags.dddddddd{suffix}.0.parquet"));
        std::fs::rename(&tags_source, &tags).expect("rename nested job file");
        let package = request(
            load_id,
            tables(),
            &["users", "users__tags"],
            vec![job("users", &users, 2), job("users__tags", &tags, 1)],
        );
        destination.load_package(&package).expect("load replace package");
    }

    let users = files_under(view, "ds/users/");
    assert_eq!(users, [format!("ds/users/{LOAD_2}.cccccccc02.parquet")]);
    let tags = files_under(view, "ds/users__tags/");
    assert_eq!(tags, [format!("ds/users__tags/{LOAD_2}.dddddddd02.parquet")]);
}

/// Checks that `replace` keeps the new files when the file ids are all
/// digits and the extension has a dot (`jsonl.gz`), so that a file name
/// also reads as a longer load id followed by another file id.
pub fn replace_keeps_digit_file_ids(destination: &mut dyn Destination, view: &dyn BucketView, dir: &Path) {
    for (load_id, file_id) in [(LOAD_1, "0000000101"), (LOAD_2, "0000000202")] {
        let users = users_file(dir, file_id, load_id, &[1, 2]);
        let package = request(load_id, vec![table("users", "replace", None)], &["users"], vec![job("users", &users, 2)]);
        destination.load_package(&package).expect("load replace package");
    }

    let users = files_under(view, "ds/users/");
    assert_eq!(users.len(), 1, "{users:?}");
    assert!(users[0].starts_with(&format!("ds/users/{LOAD_2}")), "{users:?}");
    assert!(users[0].ends_with("0000000202.jsonl.gz"), "{users:?}");
}

/// Checks that a package whose `_dlt_loads` file exists is not written again.
pub fn committed_package_skipped(destination: &mut dyn Destination, view: &dyn BucketView, dir: &Path) {
    let users = users_file(dir, "eeeeeeeeee", LOAD_1, &[1]);
    let package = request(LOAD_1, vec![table("users", "append", None)], &[], vec![job("users", &users, 1)]);
    destination.load_package(&package).expect("first attempt");
    let before = view.files();

    let report = destination.load_package(&package).expect("second attempt");

    assert!(!report.applied, "a committed package must not be applied again");
    assert_eq!(view.files(), before);
}

/// Checks that a retry after a failed attempt overwrites that attempt's data files.
pub fn retry_overwrites_files(destination: &mut dyn Destination, view: &dyn BucketView, dir: &Path) {
    let users = users_file(dir, "ffffffffff", LOAD_1, &[1, 2]);
    let broken_state = dir.join("_dlt_pipeline_state.0000000000.0.parquet");
    std::fs::write(&broken_state, b"not parquet").expect("write broken job file");
    let failing = request(
        LOAD_1,
        vec![table("users", "append", None)],
        &[],
        vec![job("users", &users, 2), job("_dlt_pipeline_state", &broken_state, 1)],
    );
    let error = destination.load_package(&failing).expect_err("a broken state file fails the package");
    assert_eq!(error.category, ErrorCategory::Terminal);
    let status = LoadStatusRequest {
        dataset_name: DATASET.to_owned(),
        load_id: LOAD_1.to_owned(),
    };
    assert!(!destination.is_load_committed(&status).expect("status"), "failed package must not commit");

    let state = state_file(dir, "0000000000", LOAD_1, PIPELINE, 1);
    let retry = request(
        LOAD_1,
        vec![table("users", "append", None)],
        &[],
        vec![job("users", &users, 2), job("_dlt_pipeline_state", &state, 1)],
    );
    destination.load_package(&retry).expect("retry");

    assert_eq!(files_under(view, "ds/users/"), [format!("ds/users/{LOAD_1}.ffffffffff.parquet")]);
    assert!(destination.is_load_committed(&status).expect("status"), "retry must commit");
}

/// Checks that only state files of committed loads count and broken ones are skipped.
pub fn state_requires_committed_load(destination: &mut dyn Destination, view: &dyn BucketView, dir: &Path) {
    load_users_and_state(destination, dir, LOAD_1, 1);
    load_users_and_state(destination, dir, LOAD_2, 2);
    let forged = format!(
        r#"{{"version":9,"engine_version":4,"pipeline_name":"p","state":"x","created_at":"2024-01-01T00:00:00+00:00","version_hash":"h","_dlt_load_id":"{LOAD_3}"}}"#
    );
    view.write(&format!("ds/_dlt_pipeline_state/p__{LOAD_3}__{HASH_1_HEX}.jsonl"), forged.as_bytes());
    view.write("ds/_dlt_pipeline_state/p__1700000004.4__00.jsonl", br#"{"version":10,"engi"#);
    view.write("ds/_dlt_loads/shop__1700000004.4.jsonl", b"{}");

    let state = destination
        .fetch_state(&StateRequest {
            dataset_name: DATASET.to_owned(),
            pipeline_name: PIPELINE.to_owned(),
        })
        .expect("fetch state")
        .expect("a committed state exists");

    assert_eq!(state.version, 2);
    assert_eq!(state.load_id, LOAD_2);
    assert_eq!(state.state, STATE_BLOB);
    assert_eq!(state.created_at, "2024-01-02T03:04:05.123456+00:00");
}

/// Checks that the newest schema version with a committed load is returned.
pub fn schema_requires_committed_load(destination: &mut dyn Destination, view: &dyn BucketView, dir: &Path) {
    load_users_and_state(destination, dir, LOAD_1, 1);
    let forged = r#"{"version_hash":"x","schema_name":"shop","version":7,"engine_version":11,"inserted_at":"2024-01-01T00:00:00+00:00","schema":"{}"}"#;
    view.write("ds/_dlt_version/shop__1999999999.5__00ff.jsonl", forged.as_bytes());

    let stored = destination
        .fetch_schema(&SchemaRequest {
            dataset_name: DATASET.to_owned(),
            schema_name: SCHEMA.to_owned(),
        })
        .expect("fetch schema")
        .expect("a committed schema exists");

    assert_eq!(stored.version_hash, HASH_1);
    assert_eq!(stored.version, 1);
    assert_eq!(stored.schema_json, schema(1, HASH_1).schema_json);
}

/// Checks that an empty bucket has no state, no schema and no committed loads.
pub fn empty_bucket_has_nothing(destination: &mut dyn Destination) {
    let state = destination
        .fetch_state(&StateRequest {
            dataset_name: DATASET.to_owned(),
            pipeline_name: PIPELINE.to_owned(),
        })
        .expect("fetch state");
    assert!(state.is_none());
    let schema = destination
        .fetch_schema(&SchemaRequest {
            dataset_name: DATASET.to_owned(),
            schema_name: SCHEMA.to_owned(),
        })
        .expect("fetch schema");
    assert!(schema.is_none());
}

/// Returns the content of a data file, decompressed when its name ends in
/// `.gz`. Checks the gzip header fields that Python's `gzip.open` writes.
pub fn data_file_text(view: &dyn BucketView, path: &str) -> String {
    let bytes = view.read(path);
    if !path.ends_with(".gz") {
        return String::from_utf8(bytes).expect("data file is UTF-8");
    }

    assert_eq!(&bytes[..4], [0x1f, 0x8b, 8, 8], "gzip magic, deflate and FNAME flag of {path}");
    assert_eq!(&bytes[8..10], [2, 255], "gzip XFL (level 9) and OS (unknown) of {path}");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(bytes.as_slice()), &mut text)
        .expect("data file is gzip with UTF-8 inside");
    text
}

/// Checks the names and contents of JSON Lines or CSV data files, and that
/// `replace` and state restore work with them.
pub fn text_format_files(destination: &mut dyn Destination, view: &dyn BucketView, dir: &Path, ext: &str) {
    for (load_id, version) in [(LOAD_1, 1), (LOAD_2, 2)] {
        let users = users_file(dir, &format!("ffffff{version:04}"), load_id, &[1, 2]);
        let state = state_file(dir, &format!("abab{version:06}"), load_id, PIPELINE, version);
        let package = request(
            load_id,
            vec![table("users", "replace", None)],
            &["users"],
            vec![job("users", &users, 2), job("_dlt_pipeline_state", &state, 1)],
        );
        destination.load_package(&package).expect("load package");
    }

    let data_file = format!("ds/users/{LOAD_2}.ffffff0002.{ext}");
    assert_eq!(files_under(view, "ds/users/"), std::slice::from_ref(&data_file));
    assert_eq!(
        files_under(view, "ds/_dlt_pipeline_state/"),
        [LOAD_1, LOAD_2].map(|load_id| format!("ds/_dlt_pipeline_state/p__{load_id}__{HASH_1_HEX}.jsonl"))
    );

    let expected = if ext.starts_with("csv") {
        format!(
            "\"id\",\"name\",\"_dlt_load_id\",\"_dlt_id\"\n1,\"user-1\",\"{LOAD_2}\",\"id-1\"\n2,\"user-2\",\"{LOAD_2}\",\"id-2\"\n"
        )
    } else {
        format!(
            "{{\"id\":1,\"name\":\"user-1\",\"_dlt_load_id\":\"{LOAD_2}\",\"_dlt_id\":\"id-1\"}}\n\
             {{\"id\":2,\"name\":\"user-2\",\"_dlt_load_id\":\"{LOAD_2}\",\"_dlt_id\":\"id-2\"}}\n"
        )
    };
    assert_eq!(data_file_text(view, &data_file), expected);

    let state_request = StateRequest {
        dataset_name: DATASET.to_owned(),
        pipeline_name: PIPELINE.to_owned(),
    };
    let state = destination.fetch_state(&state_request).expect("fetch state").expect("state stored");
    assert_eq!(state.version, 2);
    assert_eq!(state.load_id, LOAD_2);
}
