//! Records the steps of one attempt with their timings, results and errors.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;
use plugin_sdk::PluginError;

use super::model::{ExceptionTrace, StepInfo, StepTrace, category_name, format_time, step_name};
use crate::error::{Step, TerminalError};
use crate::{Error, Result};

/// Collects [`StepTrace`]s; cheap to clone, so an attempt running on the
/// blocking pool and the runner share one.
#[derive(Clone, Default)]
pub struct StepRecorder {
    recorded: Arc<Mutex<RecordedSteps>>,
}

/// The sync step and the other steps of one attempt.
#[derive(Debug, Clone, Default)]
pub struct RecordedSteps {
    pub sync: Option<StepTrace>,
    pub steps: Vec<StepTrace>,
}

impl RecordedSteps {
    fn has_failure(&self) -> bool {
        self.sync.iter().chain(self.steps.iter()).any(|step| !step.success)
    }
}

impl StepRecorder {
    pub fn new() -> Self {
        StepRecorder::default()
    }

    /// Runs `body` as step `step`, recording its timing and, through `info`,
    /// what it did; an error is recorded with its chain and returned.
    pub fn step<T>(&self, step: Step, body: impl FnOnce() -> Result<T>, info: impl FnOnce(&T) -> StepInfo) -> Result<T> {
        let started_at = Utc::now();
        let started = Instant::now();
        let result = body();

        let (step_info, exceptions) = match &result {
            Ok(value) => (Some(info(value)), Vec::new()),
            Err(error) => (None, exception_chain(error)),
        };
        self.push(step, StepTrace {
            step: step_name(step),
            started_at: format_time(started_at),
            finished_at: format_time(Utc::now()),
            duration_seconds: started.elapsed().as_secs_f64(),
            success: result.is_ok(),
            step_info,
            exceptions,
        });
        result
    }

    /// Records an error that no step recorded (for example one raised while
    /// discarding scratch folders), as a failed step of zero duration named
    /// by [`Error::step`] or `fallback`.
    pub fn record_unattributed(&self, error: &Error, fallback: Step) {
        if self.recorded().has_failure() {
            return;
        }
        let step = error.step().unwrap_or(fallback);
        let now = format_time(Utc::now());
        self.push(step, StepTrace {
            step: step_name(step),
            started_at: now.clone(),
            finished_at: now,
            duration_seconds: 0.0,
            success: false,
            step_info: None,
            exceptions: exception_chain(error),
        });
    }

    /// Returns the steps recorded so far, in order.
    pub fn recorded(&self) -> RecordedSteps {
        self.recorded.lock().map(|recorded| recorded.clone()).unwrap_or_default()
    }

    /// Stores a sync in its own slot (a later sync replaces it) and any
    /// other step at the end of the list.
    fn push(&self, step: Step, trace: StepTrace) {
        let Ok(mut recorded) = self.recorded.lock() else { return };
        match step {
            Step::Sync => recorded.sync = Some(trace),
            _ => recorded.steps.push(trace),
        }
    }
}

/// Returns `error` and its causes, outermost first.
///
/// The outermost entry carries the category of the whole error, which
/// accounts for terminal causes anywhere in the chain; each cause carries its own.
pub fn exception_chain(error: &Error) -> Vec<ExceptionTrace> {
    let overall = error.category();
    let mut chain = vec![ExceptionTrace {
        message: error.to_string(),
        exception_type: engine_type_name(error),
        category: Some(category_name(overall)),
        is_terminal: overall.is_terminal(),
    }];

    let mut next = std::error::Error::source(error);
    while let Some(cause) = next {
        chain.push(describe_cause(cause));
        next = cause.source();
    }
    chain
}

fn describe_cause(cause: &(dyn std::error::Error + 'static)) -> ExceptionTrace {
    // `Error::InStep` stores its cause as `Box<Error>`, which is a type of its own for `downcast_ref`.
    let engine_error = cause
        .downcast_ref::<Error>()
        .or_else(|| cause.downcast_ref::<Box<Error>>().map(|boxed| &**boxed));
    let (exception_type, category) = if let Some(error) = engine_error {
        (engine_type_name(error), Some(error.own_category()))
    } else if let Some(error) = cause.downcast_ref::<PluginError>() {
        ("plugin_sdk::PluginError".to_owned(), Some(error.category))
    } else if cause.is::<TerminalError>() {
        ("runner_core::error::TerminalError".to_owned(), Some(crate::error::ErrorCategory::Terminal))
    } else if cause.is::<std::io::Error>() {
        ("std::io::Error".to_owned(), None)
    } else {
        // A resource's own error type cannot be named through `dyn Error`.
        ("unknown".to_owned(), None)
    };

    ExceptionTrace {
        message: cause.to_string(),
        exception_type,
        is_terminal: category.is_some_and(|category| category.is_terminal()),
        category: category.map(category_name),
    }
}

fn engine_type_name(error: &Error) -> String {
    let variant = match error {
        Error::Config { .. } => "Config",
        Error::Io { .. } => "Io",
        Error::InvalidData { .. } => "InvalidData",
        Error::Normalize { .. } => "Normalize",
        Error::ContractViolation { .. } => "ContractViolation",
        Error::Package { .. } => "Package",
        Error::Plugin(_) => "Plugin",
        Error::Destination { .. } => "Destination",
        Error::DestinationCall { .. } => "DestinationCall",
        Error::Source { .. } => "Source",
        Error::Arrow { .. } => "Arrow",
        Error::Locked { .. } => "Locked",
        Error::Resource { .. } => "Resource",
        Error::InStep { .. } => "InStep",
        Error::Internal(_) => "Internal",
    };
    format!("runner_core::Error::{variant}")
}
