use std::fmt;

use abi_stable::StableAbi;
use abi_stable::std_types::{RString, RVec};

/// Whose fault an error is, and so whether retrying can help.
///
/// The runner's retry logic reads this: `Config` and `Terminal` errors are
/// never retried, `Transient` errors are retried when the failing step is
/// configured for retries, and `Internal` errors are bugs that are reported
/// and, like transient ones, may be retried.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCategory {
    /// Missing or invalid configuration or credentials. The user must act.
    Config = 0,
    /// A failure that may go away on its own: network, locks, timeouts.
    Transient = 1,
    /// A failure that will repeat with the same input, such as a rejected value.
    Terminal = 2,
    /// A bug in the runner or a plugin, such as a panic.
    Internal = 3,
}

impl ErrorCategory {
    /// Returns the lowercase name used in logs, traces and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCategory::Config => "config",
            ErrorCategory::Transient => "transient",
            ErrorCategory::Terminal => "terminal",
            ErrorCategory::Internal => "internal",
        }
    }

    /// Returns true for categories that no retry can fix.
    pub fn is_terminal(self) -> bool {
        matches!(self, ErrorCategory::Config | ErrorCategory::Terminal)
    }
}

impl fmt::Display for ErrorCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error returned by a plugin, with its category and cause chain.
///
/// The same type crosses the FFI boundary, so its fields are ABI-stable:
/// `causes` holds the messages of the underlying errors, outermost first.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct PluginError {
    pub category: ErrorCategory,
    pub message: RString,
    pub causes: RVec<RString>,
}

impl PluginError {
    pub fn new(category: ErrorCategory, message: impl Into<String>) -> Self {
        PluginError {
            category,
            message: RString::from(message.into()),
            causes: RVec::new(),
        }
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorCategory::Config, message)
    }

    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(ErrorCategory::Transient, message)
    }

    pub fn terminal(message: impl Into<String>) -> Self {
        Self::new(ErrorCategory::Terminal, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCategory::Internal, message)
    }

    /// Appends the messages of `source` and its own sources to the cause chain.
    pub fn with_source(mut self, source: &(dyn std::error::Error + 'static)) -> Self {
        let mut next = Some(source);
        while let Some(error) = next {
            self.causes.push(RString::from(error.to_string()));
            next = error.source();
        }
        self
    }

    /// Appends one message to the cause chain.
    pub fn with_cause(mut self, cause: impl Into<String>) -> Self {
        self.causes.push(RString::from(cause.into()));
        self
    }

    pub fn message(&self) -> &str {
        self.message.as_str()
    }

    pub fn causes(&self) -> impl Iterator<Item = &str> {
        self.causes.iter().map(|cause| cause.as_str())
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for cause in self.causes.iter() {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PluginError {}
