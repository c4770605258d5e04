//! Writes and stores the trace of each attempt.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::Runner;
use crate::config::TraceTarget;
use crate::trace::{AttemptHeader, AttemptTrace, StepRecorder, TraceSink, TraceStore};

impl Runner {
    /// Writes the attempt's trace and, with `store_trace_info`, loads every
    /// waiting trace file. Failures are logged and added to the trace
    /// warnings, never returned, because the attempt's data may be committed.
    pub(super) async fn record_attempt(
        &mut self,
        description: &'static str,
        attempt: u32,
        started_at: DateTime<Utc>,
        recorder: &StepRecorder,
        success: bool,
    ) {
        let (enabled, config_keys) = match self.options.lock() {
            Ok(options) => (options.store_trace_info != TraceTarget::Off, options.resolved_config_keys.clone()),
            Err(_) => (false, Vec::new()),
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
        let sink = if enabled { self.trace_sink.clone() } else { None };
        let task = tokio::task::spawn_blocking(move || write_and_store(&traces, &trace, enabled, sink));
        let warnings = task
            .await
            .unwrap_or_else(|error| vec![format!("the trace task of attempt {attempt} failed: {error}")]);
        self.trace_warnings.extend(warnings);
    }
}

/// Returns one message per failure.
fn write_and_store(traces: &TraceStore, trace: &AttemptTrace, enabled: bool, sink: Option<Arc<Mutex<TraceSink>>>) -> Vec<String> {
    let mut warnings = Vec::new();
    let transaction_id = trace.transaction_id.as_str();

    if let Err(error) = traces.write_last(trace) {
        tracing::warn!(transaction_id, error = %error, "cannot write the last trace");
        warnings.push(format!("trace {transaction_id} was not written: {error}"));
    }
    if !enabled {
        return warnings;
    }

    match traces.write(trace) {
        Ok(path) => tracing::debug!(transaction_id, path = %path.display(), "wrote trace file"),
        Err(error) => {
            tracing::warn!(transaction_id, error = %error, "cannot write the trace file; this attempt's trace is not stored");
            warnings.push(format!("trace {transaction_id} was not written: {error}"));
        }
    }

    let Some(sink) = sink else {
        tracing::warn!(
            folder = %traces.folder().display(),
            "store_trace_info is on but the runner has no trace pipeline; trace files stay in the folder"
        );
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
