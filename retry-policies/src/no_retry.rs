//! The `none` policy: a single attempt.

use plugin_sdk::{ErrorCategory, PluginError, RetryDecision, RetryPolicy};
use serde_json::Value;

use crate::parameters::Parameters;

/// Runs once and never retries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoRetry;

impl NoRetry {
    /// Builds the policy from a `retry_policy` mapping, which may contain only `type`.
    pub fn from_parameters(parameters: &Value) -> Result<Self, PluginError> {
        Parameters::new("none", parameters)?.reject_unused(&[])?;
        Ok(NoRetry)
    }
}

impl RetryPolicy for NoRetry {
    fn max_attempts(&self) -> u32 {
        1
    }

    fn after_failure(&mut self, _attempt: u32, _category: ErrorCategory) -> RetryDecision {
        RetryDecision::Stop
    }
}
