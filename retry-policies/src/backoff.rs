//! The `backoff` policy: exponentially growing waits between `min` and `max`.

use std::time::Duration;

use plugin_sdk::{ErrorCategory, PluginError, RetryDecision, RetryPolicy};
use rand::Rng;
use serde_json::Value;

use crate::parameters::Parameters;

/// Retries with exponential backoff.
///
/// The wait after failed attempt `n` (1-based) is
/// `clamp(multiplier * 2^(n-1), min, max)` seconds, the formula of
/// `wait_exponential` in tenacity 9.2.1, which dlt+ uses. A random duration in `[0, jitter]` is
/// then added, so with jitter a wait can exceed `max` by up to `jitter`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Total attempts, the first one included. A value of 0 counts as 1.
    pub max_attempts: u32,
    /// Seconds waited after the first failed attempt, before clamping. Each
    /// further failure doubles it.
    pub multiplier: f64,
    /// Shortest wait, jitter not included.
    pub min: Duration,
    /// Longest wait, jitter not included. When `min` exceeds `max`, `min` wins.
    pub max: Duration,
    /// Upper bound of the random duration added to each wait. Zero makes the
    /// waits deterministic.
    pub jitter: Duration,
}

impl Backoff {
    /// Attempts when the mapping has no `max_attempts`.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
    /// Multiplier in seconds when the mapping has no `multiplier`.
    pub const DEFAULT_MULTIPLIER: f64 = 2.0;
    /// Shortest wait when the mapping has no `min`.
    pub const DEFAULT_MIN: Duration = Duration::from_secs(4);
    /// Longest wait when the mapping has no `max`.
    pub const DEFAULT_MAX: Duration = Duration::from_secs(10);

    /// Builds the policy from a `retry_policy` mapping with the optional keys
    /// `max_attempts` (default 5), `multiplier` (default 2), `min` and `max`
    /// (seconds, default 4 and 10) and `jitter` (seconds, default 0).
    pub fn from_parameters(parameters: &Value) -> Result<Self, PluginError> {
        let mut parameters = Parameters::new("backoff", parameters)?;

        let max_attempts = parameters.max_attempts("max_attempts", Self::DEFAULT_MAX_ATTEMPTS)?;
        let multiplier = parameters.non_negative("multiplier", Self::DEFAULT_MULTIPLIER)?;
        let min = parameters.seconds("min", Self::DEFAULT_MIN)?;
        let max = parameters.seconds("max", Self::DEFAULT_MAX)?;
        let jitter = parameters.seconds("jitter", Duration::ZERO)?;

        parameters.reject_unused(&["max_attempts", "multiplier", "min", "max", "jitter"])?;
        Self::check_min_not_above_max(min, max)?;

        Ok(Backoff {
            max_attempts,
            multiplier,
            min,
            max,
            jitter,
        })
    }

    /// Computes the wait after failed attempt `attempt` (1-based) without
    /// jitter. Attempt 0 is treated as attempt 1.
    pub fn exponential_wait(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1);

        // 0 * 2^exponent is NaN once 2^exponent overflows to infinity, so a
        // zero multiplier (or a NaN or negative one from a struct literal)
        // waits 0 s before clamping.
        let seconds = if self.multiplier.is_nan() || self.multiplier <= 0.0 {
            0.0
        } else {
            self.multiplier * 2f64.powf(f64::from(exponent))
        };

        // Infinite or huge waits saturate and are then cut to `max`.
        let unclamped = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);

        // `Ord::clamp` panics when min > max, which a struct literal can set.
        unclamped.min(self.max).max(self.min)
    }

    fn check_min_not_above_max(min: Duration, max: Duration) -> Result<(), PluginError> {
        if min <= max {
            return Ok(());
        }

        Err(PluginError::config(format!(
            "invalid retry_policy keys `min` and `max` for policy \"backoff\": min is {} s, which \
             exceeds max {} s (max is {} s when not set). Set min to at most max.",
            min.as_secs_f64(),
            max.as_secs_f64(),
            Self::DEFAULT_MAX.as_secs_f64()
        )))
    }

    fn random_jitter(&self) -> Duration {
        if self.jitter.is_zero() {
            return Duration::ZERO;
        }

        let fraction: f64 = rand::thread_rng().gen_range(0.0..=1.0);
        self.jitter.mul_f64(fraction)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            multiplier: Self::DEFAULT_MULTIPLIER,
            min: Self::DEFAULT_MIN,
            max: Self::DEFAULT_MAX,
            jitter: Duration::ZERO,
        }
    }
}

impl RetryPolicy for Backoff {
    fn max_attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    fn after_failure(&mut self, attempt: u32, category: ErrorCategory) -> RetryDecision {
        if category.is_terminal() || attempt >= self.max_attempts() {
            return RetryDecision::Stop;
        }

        let wait = self
            .exponential_wait(attempt)
            .saturating_add(self.random_jitter());
        RetryDecision::RetryAfter(wait)
    }
}
