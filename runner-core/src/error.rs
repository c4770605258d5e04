//! Errors of the engine, each with the ids a user needs and a category that
//! retry logic reads.

use std::path::PathBuf;

pub use plugin_sdk::ErrorCategory;
use plugin_sdk::PluginError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The pipeline step an error happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Sync,
    Extract,
    Normalize,
    Load,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Sync => "sync",
            Step::Extract => "extract",
            Step::Normalize => "normalize",
            Step::Load => "load",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An engine error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid or missing configuration. The message names the key and the fix.
    #[error("{message}")]
    Config { message: String },

    /// A file or folder operation failed.
    #[error("{action} `{}` failed: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Input data that cannot be read or normalized.
    #[error("invalid data in `{}`{}: {message}", path.display(), line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    InvalidData {
        path: PathBuf,
        line: Option<u64>,
        message: String,
    },

    /// A value or row that the normalizer rejects (for example a variant of a variant).
    #[error("cannot normalize table `{table}`: {message}")]
    Normalize { table: String, message: String },

    /// A row breaks a `freeze` schema contract. `column` and `data_type` are
    /// `None` when a whole new table is rejected.
    #[error(
        "schema contract `{entity}: freeze` rejects data in table `{table}`{}{}: {message}",
        column.as_ref().map(|c| format!(", column `{c}`")).unwrap_or_default(),
        data_type.as_ref().map(|t| format!(", value of type {t}")).unwrap_or_default()
    )]
    ContractViolation {
        table: String,
        column: Option<String>,
        /// dlt data type of the offending value.
        data_type: Option<String>,
        /// The contract entity: `tables`, `columns` or `data_type`.
        entity: &'static str,
        message: String,
    },

    /// A load package on disk is not in the expected shape.
    #[error("load package `{load_id}` is damaged: {message}")]
    Package { load_id: String, message: String },

    /// A plugin library could not be found or loaded.
    #[error(transparent)]
    Plugin(#[from] crate::plugins::PluginLoadError),

    /// A destination reported an error while loading a package.
    /// `pending_jobs` is the folder where the package's job files wait for
    /// the next run: a path in `source` may name the folder they were in
    /// during the load.
    #[error(
        "destination `{destination}` failed to load package `{load_id}`: {source} (its job files now wait in `{}`)",
        pending_jobs.display()
    )]
    Destination {
        pipeline: String,
        destination: String,
        load_id: String,
        pending_jobs: PathBuf,
        #[source]
        source: PluginError,
    },

    /// A destination reported an error outside of a package load.
    #[error("destination `{destination}` failed to {action}: {source}")]
    DestinationCall {
        destination: String,
        action: &'static str,
        #[source]
        source: PluginError,
    },

    /// A source plugin reported an error.
    #[error("source `{source_name}` failed to {action}: {error}")]
    Source {
        source_name: String,
        action: &'static str,
        #[source]
        error: PluginError,
    },

    /// An error while writing or reading Parquet or Arrow data.
    #[error("{action} failed for `{}`: {message}", path.display())]
    Arrow {
        action: &'static str,
        path: PathBuf,
        message: String,
    },

    /// Another process runs the same pipeline.
    #[error("pipeline `{pipeline}` is already running{}: lock `{}` is held; wait for that run to finish", holder_pid.map(|pid| format!(" in process {pid}")).unwrap_or_default(), path.display())]
    Locked {
        pipeline: String,
        path: PathBuf,
        holder_pid: Option<u32>,
    },

    /// A resource failed while producing its items.
    #[error("resource `{resource}` failed: {source}")]
    Resource {
        resource: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A failure inside one step of a pipeline.
    #[error("{step} step of pipeline `{pipeline}` failed: {source}")]
    InStep {
        step: Step,
        pipeline: String,
        #[source]
        source: Box<Error>,
    },

    /// Any other failure that is a bug in the runner.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config { message: message.into() }
    }

    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Returns whose fault the error is; see [`ErrorCategory`].
    ///
    /// A terminal category anywhere in the cause chain wins: an error that
    /// wraps a configuration or terminal error cannot be fixed by retrying,
    /// however deep the terminal cause sits.
    pub fn category(&self) -> ErrorCategory {
        let own = self.own_category();
        if own.is_terminal() {
            return own;
        }

        let mut next = std::error::Error::source(self);
        while let Some(cause) = next {
            let category = if let Some(error) = cause.downcast_ref::<Error>() {
                Some(error.own_category())
            } else if let Some(error) = cause.downcast_ref::<PluginError>() {
                Some(error.category)
            } else if cause.is::<TerminalError>() {
                Some(ErrorCategory::Terminal)
            } else {
                None
            };
            if let Some(category) = category.filter(|category| category.is_terminal()) {
                return category;
            }
            next = cause.source();
        }
        own
    }

    /// Returns the category of this error alone, without its causes.
    pub(crate) fn own_category(&self) -> ErrorCategory {
        match self {
            Error::Config { .. } => ErrorCategory::Config,
            Error::Io { source, .. } => io_category(source),
            Error::InvalidData { .. } | Error::Normalize { .. } => ErrorCategory::Terminal,
            Error::ContractViolation { .. } => ErrorCategory::Terminal,
            Error::Package { .. } => ErrorCategory::Terminal,
            Error::Plugin(_) => ErrorCategory::Config,
            Error::Destination { source, .. } | Error::DestinationCall { source, .. } => source.category,
            Error::Source { error, .. } => error.category,
            Error::Arrow { .. } => ErrorCategory::Terminal,
            Error::Locked { .. } => ErrorCategory::Transient,
            Error::Resource { source, .. } => {
                if source.is::<TerminalError>() {
                    ErrorCategory::Terminal
                } else if let Some(error) = source.downcast_ref::<Error>() {
                    error.category()
                } else {
                    ErrorCategory::Transient
                }
            }
            Error::InStep { source, .. } => source.category(),
            Error::Internal(_) => ErrorCategory::Internal,
        }
    }

    /// Returns the pipeline step the error happened in, when known.
    pub fn step(&self) -> Option<Step> {
        match self {
            Error::InStep { step, .. } => Some(*step),
            _ => None,
        }
    }

    /// Wraps the error with the step and pipeline it happened in, unless it
    /// already carries a step.
    pub fn in_step(self, step: Step, pipeline: &str) -> Error {
        match self {
            Error::InStep { .. } => self,
            other => Error::InStep {
                step,
                pipeline: pipeline.to_owned(),
                source: Box::new(other),
            },
        }
    }
}

/// Marks an error as terminal. A resource wraps its error in this type to
/// show the runner that retrying cannot help.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TerminalError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TerminalError {
    pub fn new(message: impl Into<String>) -> Self {
        TerminalError {
            message: message.into(),
            source: None,
        }
    }

    pub fn with_source(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        TerminalError {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

fn io_category(error: &std::io::Error) -> ErrorCategory {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::NotFound | ErrorKind::PermissionDenied | ErrorKind::InvalidInput => ErrorCategory::Config,
        // A file name too long for the filesystem (a table name from deeply
        // nested lists) fails the same way on every retry.
        ErrorKind::InvalidData | ErrorKind::UnexpectedEof | ErrorKind::InvalidFilename => ErrorCategory::Terminal,
        _ => ErrorCategory::Transient,
    }
}
