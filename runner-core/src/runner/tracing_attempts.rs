//! Writes and stores the trace of each attempt.

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::{Runner, RunnerOptions};
use crate::Error;
use crate::config::TraceTarget;
use crate::trace::{AttemptHeader, AttemptTrace, StepRecorder, TraceSink, TraceStore};

impl Runner {
    /// Writes the attempt's trace, then loads every waiting trace file
    /// through the trace pipeline or, without one, prunes `traces/` to
    /// `max_trace_files`. Failures are logged and added to the trace
    /// warnings, never returned, because the attempt's data may be committed.
    pub(super) async fn record_attempt(
        &mut self,
        description: &'static str,
        attempt: u32,
        started_at: DateTime<Utc>,
        recorder: &StepRecorder,
        success: bool,
    ) {
        let (keep, config_keys) = match self.options.lock() {
            Ok(options) => (TraceKeeping::of(&options), options.resolved_config_keys.clone()),
            Err(_) => (TraceKeeping::of(&RunnerOptions::default()), Vec::new()),
        };
        let pipeline_name = self.pipeline_name();
        let header = AttemptHeader {
            pipeline_name: &pipeline_name,
            description,
            attempt,
            started_at,
            resolved_config_keys: &config_keys,
        };
        let trace = AttemptTrace::finish(header, recorder.recorded(), success);

        let traces = self.traces.clone();
        let sink = if keep.enabled { self.trace_sink.clone() } else { None };
        let warnings = self
            .offload(move || write_and_store(&traces, &trace, keep, sink))
            .await
            .unwrap_or_else(|error| vec![format!("the trace task of attempt {attempt} failed: {error}")]);
        self.trace_warnings.extend(warnings);
    }
}

/// Writes the trace of a run whose destination failed to open before the
/// first attempt: one failed step, named by the error or else `sync`, with
/// the error chain. With `store_trace_info`, `sink` loads it at once, as
/// after an attempt. Returns one message per trace failure, already logged.
///
/// NOTE: the pipeline is not open, so this runs without its lock. A run that
/// holds the lock may write and prune `traces/` at the same time.
pub(crate) fn record_failed_open(
    working_dir: &Path,
    pipeline_name: &str,
    options: &RunnerOptions,
    sink: Option<TraceSink>,
    started_at: DateTime<Utc>,
    error: &Error,
) -> Vec<String> {
    if let Err(create_error) = std::fs::create_dir_all(working_dir) {
        let create_error = Error::io("create folder", working_dir, create_error);
        tracing::warn!(error = %create_error, "cannot write the trace of the failed destination open");
        return vec![format!("the trace of the failed run was not written: {create_error}")];
    }

    let recorder = StepRecorder::new();
    recorder.record_unattributed(error, super::policy::STEP_OF_UNATTRIBUTED_ERRORS);
    let header = AttemptHeader {
        pipeline_name,
        description: "run",
        attempt: 1,
        started_at,
        resolved_config_keys: &options.resolved_config_keys,
    };
    let trace = AttemptTrace::finish(header, recorder.recorded(), false);

    let keep = TraceKeeping::of(options);
    let sink = sink.filter(|_| keep.enabled).map(|sink| Arc::new(Mutex::new(sink)));
    write_and_store(&TraceStore::new(working_dir), &trace, keep, sink)
}

/// Handling of trace files after they are written.
#[derive(Clone, Copy)]
struct TraceKeeping {
    /// `store_trace_info` is on.
    enabled: bool,
    /// Files kept without a trace pipeline; at least 1.
    max_files: usize,
}

impl TraceKeeping {
    fn of(options: &RunnerOptions) -> Self {
        TraceKeeping {
            enabled: options.store_trace_info != TraceTarget::Off,
            max_files: usize::try_from(options.max_trace_files.max(1)).unwrap_or(usize::MAX),
        }
    }
}

/// Writes `trace` to `last_trace.json` and `traces/`, then loads the waiting
/// trace files through `sink` or, without one, prunes `traces/`. Returns one
/// message per write or load failure.
fn write_and_store(traces: &TraceStore, trace: &AttemptTrace, keep: TraceKeeping, sink: Option<Arc<Mutex<TraceSink>>>) -> Vec<String> {
    let mut warnings = Vec::new();
    let transaction_id = trace.transaction_id.as_str();

    if let Err(error) = traces.write_last(trace) {
        tracing::warn!(transaction_id, error = %error, "cannot write the last trace");
        warnings.push(format!("trace {transaction_id} was not written: {error}"));
    }

    match traces.write(trace) {
        Ok(path) => tracing::debug!(transaction_id, path = %path.display(), "wrote trace file"),
        Err(error) => {
            tracing::warn!(transaction_id, error = %error, "cannot write the trace file");
            warnings.push(format!("trace file of {transaction_id} was not written: {error}"));
        }
    }

    let Some(sink) = sink else {
        if keep.enabled {
            tracing::warn!(
                folder = %traces.folder().display(),
                "store_trace_info is on but the runner has no trace pipeline; only the newest trace files stay in the folder"
            );
        }
        prune(traces, keep.max_files);
        return warnings;
    };
    let result = match sink.lock() {
        Ok(mut sink) => sink.store(traces),
        Err(_) => Err(crate::Error::Internal("the trace pipeline lock was poisoned by a panic".to_owned())),
    };

    match result {
        Ok(stored) => tracing::info!(files = stored.files, "traces loaded and their files deleted"),
        Err(error) => {
            tracing::warn!(
                transaction_id,
                folder = %traces.folder().display(),
                error = %error,
                "loading traces failed; the trace files stay in the folder and load with the next store"
            );
            warnings.push(format!(
                "traces were not loaded and stay in `{}`: {error}",
                traces.folder().display()
            ));
        }
    }
    warnings
}

/// Deletes the oldest trace files beyond `max_files`. A failure is only
/// logged: no trace is lost, and the next attempt prunes again.
fn prune(traces: &TraceStore, max_files: usize) {
    match traces.prune(max_files) {
        Ok(removed) if !removed.is_empty() => {
            tracing::debug!(removed = removed.len(), max_files, "deleted the oldest trace files");
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(folder = %traces.folder().display(), error = %error, "cannot delete old trace files");
        }
    }
}
