//! The `fixed` policy: a set number of attempts with the same delay between them.

use std::time::Duration;

use plugin_sdk::{ErrorCategory, PluginError, RetryDecision, RetryPolicy};
use serde_json::Value;

use crate::parameters::Parameters;

/// Retries up to `max_attempts` attempts in all, waiting `delay` after each failure.
///
/// dlt+ accepts `type: fixed` but never waits between attempts. Without a
/// `delay` key this policy behaves the same; with one it waits that long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fixed {
    /// Total attempts, the first one included. A value of 0 counts as 1.
    pub max_attempts: u32,
    /// Wait after every failed attempt.
    pub delay: Duration,
}

impl Fixed {
    /// Attempts when the mapping has no `max_attempts`.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

    /// Builds the policy from a `retry_policy` mapping with the optional keys
    /// `max_attempts` (default 3) and `delay` (seconds, default 0).
    pub fn from_parameters(parameters: &Value) -> Result<Self, PluginError> {
        let mut parameters = Parameters::new("fixed", parameters)?;

        let max_attempts = parameters.max_attempts("max_attempts", Self::DEFAULT_MAX_ATTEMPTS)?;
        let delay = parameters.seconds("delay", Duration::ZERO)?;

        parameters.reject_unused(&["max_attempts", "delay"])?;
        Ok(Fixed {
            max_attempts,
            delay,
        })
    }
}

impl Default for Fixed {
    fn default() -> Self {
        Fixed {
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            delay: Duration::ZERO,
        }
    }
}

impl RetryPolicy for Fixed {
    fn max_attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    fn after_failure(&mut self, attempt: u32, category: ErrorCategory) -> RetryDecision {
        if category.is_terminal() || attempt >= self.max_attempts() {
            return RetryDecision::Stop;
        }
        RetryDecision::RetryAfter(self.delay)
    }
}
