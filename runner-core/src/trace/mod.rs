//! Traces of runner attempts: what ran, how long each step took, what it
//! loaded and why it failed.
//!
//! After each attempt of a run or finalize, the runner writes the attempt's
//! [`AttemptTrace`] to `last_trace.json` and to
//! `traces/<transaction_id>_attempt_<N>_trace.json` in the working
//! directory. With `store_trace_info` on, it loads every trace file through
//! a trace pipeline ([`TraceSink`]) and deletes files only after their
//! package committed. Without a trace pipeline, it keeps the newest
//! `max_trace_files` files. See `docs/trace.md` for the JSON layout and the
//! tables.

pub mod model;
pub mod pipeline;
pub mod recorder;
pub mod store;

use chrono::{DateTime, Utc};
use rand::RngCore;

pub use model::{AttemptTrace, ExceptionTrace, ExecutionContext, PackageTrace, StepInfo, StepTrace, TRACE_FORMAT_VERSION};
pub use pipeline::{StoredTraces, TracePipelineFactory, TraceSink, trace_table_name};
pub use recorder::{RecordedSteps, StepRecorder, exception_chain};
pub use store::{LAST_TRACE_FILE, TRACES_FOLDER, TraceStore};

/// Prefix of the default trace pipeline's name and dataset.
pub const TRACE_PIPELINE_PREFIX: &str = "_trace_";

/// Creates a transaction id: 32 lowercase hex characters from 16 random bytes.
pub fn new_transaction_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Identity and timing of one attempt, combined with its steps into an [`AttemptTrace`].
pub struct AttemptHeader<'a> {
    pub pipeline_name: &'a str,
    pub description: &'a str,
    pub attempt: u32,
    pub started_at: DateTime<Utc>,
    pub resolved_config_keys: &'a [String],
}

impl AttemptTrace {
    /// Builds the trace of an attempt that ends now.
    pub fn finish(header: AttemptHeader<'_>, recorded: RecordedSteps, success: bool) -> Self {
        AttemptTrace {
            transaction_id: new_transaction_id(),
            pipeline_name: header.pipeline_name.to_owned(),
            description: header.description.to_owned(),
            attempt: header.attempt,
            success,
            execution_context: ExecutionContext::current(),
            started_at: model::format_time(header.started_at),
            finished_at: model::format_time(Utc::now()),
            sync: recorded.sync,
            steps: recorded.steps,
            resolved_config_keys: header.resolved_config_keys.to_vec(),
            engine_version: TRACE_FORMAT_VERSION,
        }
    }
}

/// Returns the dotted key paths of a JSON configuration below `prefix`,
/// leaves only, without any value. Keys starting with `_` (the runner's own
/// context) are skipped.
pub fn config_key_paths(prefix: &str, config: &serde_json::Value) -> Vec<String> {
    let mut keys = Vec::new();
    collect_keys(prefix, config, &mut keys);
    keys
}

fn collect_keys(prefix: &str, value: &serde_json::Value, keys: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                if key.starts_with('_') {
                    continue;
                }
                collect_keys(&format!("{prefix}.{key}"), child, keys);
            }
        }
        _ => keys.push(prefix.to_owned()),
    }
}

#[cfg(test)]
mod tests;
