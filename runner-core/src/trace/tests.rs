use std::fs;

use serde_json::json;

use super::*;
use crate::Error;
use crate::error::Step;

fn sample_trace(attempt: u32) -> AttemptTrace {
    let header = AttemptHeader {
        pipeline_name: "p",
        description: "run",
        attempt,
        started_at: chrono::Utc::now(),
        resolved_config_keys: &[],
    };
    AttemptTrace::finish(header, RecordedSteps::default(), true)
}

#[test]
fn transaction_ids_differ() {
    assert_ne!(new_transaction_id(), new_transaction_id());
}

#[test]
fn transaction_id_is_32_hex() {
    let id = new_transaction_id();
    assert_eq!(id.len(), 32);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
}

#[test]
fn config_keys_omit_values() {
    let config = json!({"type": "duckdb", "credentials": {"database": "w.duckdb", "password": "s3cret"}, "_runner": {"x": 1}});

    let keys = config_key_paths("destinations.w", &config);

    assert_eq!(keys, ["destinations.w.type", "destinations.w.credentials.database", "destinations.w.credentials.password"]);
    assert!(!format!("{keys:?}").contains("s3cret"));
}

#[test]
fn store_writes_attempt_file_name() {
    let folder = tempfile::tempdir().unwrap();
    let store = TraceStore::new(folder.path());
    let trace = sample_trace(2);

    let path = store.write(&trace).unwrap();

    let expected = format!("{}_attempt_2_trace.json", trace.transaction_id);
    assert_eq!(path.file_name().unwrap().to_str().unwrap(), expected);
}

#[test]
fn store_ignores_stray_files() {
    let folder = tempfile::tempdir().unwrap();
    let store = TraceStore::new(folder.path());
    store.write(&sample_trace(1)).unwrap();
    fs::write(store.folder().join("notes.txt"), "not a trace").unwrap();

    let traces = store.unpackaged_traces().unwrap();

    assert_eq!(traces.len(), 1);
}

#[test]
fn marker_hides_packaged_files() {
    let folder = tempfile::tempdir().unwrap();
    let store = TraceStore::new(folder.path());
    let path = store.write(&sample_trace(1)).unwrap();

    store.write_marker("123.4", &[path.clone()]).unwrap();

    assert!(store.unpackaged_traces().unwrap().is_empty());
    assert!(store.has_pending().unwrap());
    store.remove_packaged(&store.markers().unwrap()[0]).unwrap();
    assert!(!path.exists());
    assert!(!store.has_pending().unwrap());
}

/// Writes a trace whose `started_at` is `second` seconds into a fixed minute.
fn write_trace_started_at(store: &TraceStore, second: u32) -> std::path::PathBuf {
    let mut trace = sample_trace(1);
    trace.started_at = format!("2026-12-05T01:00:{second:02}.000000Z");
    store.write(&trace).unwrap()
}

#[test]
fn interrupted_write_removed() {
    let folder = tempfile::tempdir().unwrap();
    let store = TraceStore::new(folder.path());
    let trace = write_trace_started_at(&store, 10);
    let traces_folder = trace.parent().unwrap().to_owned();
    let interrupted = traces_folder.join(".9b23cd6b9c84b25c.tmp");
    std::fs::write(&interrupted, b"{\"partial\"").unwrap();
    let other = traces_folder.join("notes.tmp");
    std::fs::write(&other, b"kept").unwrap();

    store.remove_interrupted_writes().unwrap();

    assert!(!interrupted.exists());
    assert!(trace.exists());
    assert!(other.exists());
}

#[test]
fn prune_keeps_newest_files() {
    let folder = tempfile::tempdir().unwrap();
    let store = TraceStore::new(folder.path());
    let newest = write_trace_started_at(&store, 30);
    let oldest = write_trace_started_at(&store, 10);
    let middle = write_trace_started_at(&store, 20);

    let removed = store.prune(2).unwrap();

    assert_eq!(removed, [oldest.clone()]);
    assert!(!oldest.exists());
    assert!(middle.exists());
    assert!(newest.exists());
}

#[test]
fn prune_leaves_other_files() {
    let folder = tempfile::tempdir().unwrap();
    let store = TraceStore::new(folder.path());
    let packaged = write_trace_started_at(&store, 10);
    store.write_marker("123.4", &[packaged]).unwrap();
    write_trace_started_at(&store, 20);
    fs::write(store.folder().join("notes.txt"), "not a trace").unwrap();
    fs::write(store.folder().join("old_trace.json.bak"), "not a trace").unwrap();

    store.prune(1).unwrap();

    let mut names: Vec<String> = fs::read_dir(store.folder())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.contains(&".package_123.4.json".to_owned()), "{names:?}");
    assert!(names.contains(&"notes.txt".to_owned()), "{names:?}");
    assert!(names.contains(&"old_trace.json.bak".to_owned()), "{names:?}");
}

#[test]
fn prune_counts_broken_file_as_oldest() {
    let folder = tempfile::tempdir().unwrap();
    let store = TraceStore::new(folder.path());
    let newest = write_trace_started_at(&store, 10);
    let broken = store.folder().join("broken_attempt_1_trace.json");
    fs::write(&broken, "{not json").unwrap();

    let removed = store.prune(1).unwrap();

    assert_eq!(removed, [broken]);
    assert!(newest.exists());
}

#[test]
fn last_trace_round_trips() {
    let folder = tempfile::tempdir().unwrap();
    let store = TraceStore::new(folder.path());
    let trace = sample_trace(1);

    store.write_last(&trace).unwrap();

    assert_eq!(store.read_last().unwrap(), Some(trace));
}

#[test]
fn chain_lists_causes_outermost_first() {
    let inner = Error::io("read", "/tmp/x", std::io::Error::other("disk gone"));
    let error = inner.in_step(Step::Extract, "p");

    let chain = exception_chain(&error);

    let types: Vec<&str> = chain.iter().map(|entry| entry.exception_type.as_str()).collect();
    assert_eq!(types, ["runner_core::Error::InStep", "runner_core::Error::Io", "std::io::Error"]);
}

#[test]
fn recorder_keeps_sync_apart() {
    let recorder = StepRecorder::new();

    recorder.step(Step::Sync, || Ok(()), |_| StepInfo::default()).unwrap();
    recorder.step(Step::Extract, || Ok(()), |_| StepInfo::default()).unwrap();

    let recorded = recorder.recorded();
    assert!(recorded.sync.is_some());
    assert_eq!(recorded.steps.len(), 1);
}

#[test]
fn unattributed_error_recorded_once() {
    let recorder = StepRecorder::new();
    let error = Error::config("bad");

    let result: crate::Result<()> = recorder.step(Step::Load, || Err(Error::config("bad")), |_| StepInfo::default());
    recorder.record_unattributed(&error, Step::Sync);

    assert!(result.is_err());
    assert_eq!(recorder.recorded().steps.len(), 1);
    assert!(recorder.recorded().sync.is_none());
}
