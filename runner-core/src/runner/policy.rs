//! The retry decision for a failed attempt, and policies built from `dlt.yml`.

use std::time::Duration;

use plugin_sdk::{RetryDecision, RetryPolicy, RetryPolicyFactory};
use retry_policies::BuiltinPolicies;

use crate::config::RetryPolicyConfig;
use crate::error::Step;
use crate::plugins::{PluginSearch, open_retry_policy_plugin};
use crate::{Error, Result};

/// The step given to errors that happen outside any step, such as opening
/// the working directory or discarding scratch folders. They count as `sync`
/// failures (the preparation before extract), so they are retried only when
/// `sync` is listed.
pub const STEP_OF_UNATTRIBUTED_ERRORS: Step = Step::Sync;

/// The reason the runner stopped after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The error is a configuration or terminal error; retrying cannot help.
    Terminal,
    /// The failing step is not in `retry_pipeline_steps`.
    StepNotRetried(Step),
    /// The policy allows no more attempts.
    Exhausted,
}

/// The runner's next move after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    RetryAfter(Duration),
    Stop(StopReason),
}

/// Decides what follows failed attempt `attempt` (1-based) that raised `error`.
pub fn decide(error: &Error, attempt: u32, retry_steps: &[Step], policy: &mut dyn RetryPolicy) -> Verdict {
    let category = error.category();
    if category.is_terminal() {
        return Verdict::Stop(StopReason::Terminal);
    }

    let step = error.step().unwrap_or(STEP_OF_UNATTRIBUTED_ERRORS);
    if !retry_steps.contains(&step) {
        return Verdict::Stop(StopReason::StepNotRetried(step));
    }

    match policy.after_failure(attempt, category) {
        RetryDecision::RetryAfter(wait) => Verdict::RetryAfter(wait),
        RetryDecision::Stop => Verdict::Stop(StopReason::Exhausted),
    }
}

/// Creates the policy a `retry_policy` entry describes: `none`, `fixed` and
/// `backoff` from the built-in policies, any other type from a plugin library
/// `libretry_<type>.so` found by `search`.
pub fn policy_from_config(config: &RetryPolicyConfig, search: &PluginSearch) -> Result<Box<dyn RetryPolicy>> {
    let parameters = config.to_parameters();
    match config {
        RetryPolicyConfig::Custom { type_name, .. } => {
            open_retry_policy_plugin(search, type_name, &parameters).map_err(|error| match near_builtin(type_name) {
                // A type one typo away from a built-in one is most likely that typo.
                Some(builtin) if matches!(error, Error::Plugin(_)) => Error::config(format!(
                    "unknown retry policy type `{type_name}`; did you mean `{builtin}`? ({error})"
                )),
                _ => error,
            })
        }
        builtin => BuiltinPolicies::new_policy(builtin.type_name(), &parameters)
            .map_err(|error| Error::config(format!("invalid retry_policy: {error}"))),
    }
}

/// Returns the built-in policy type within two edits of `type_name`, if any.
fn near_builtin(type_name: &str) -> Option<&'static str> {
    ["none", "fixed", "backoff"]
        .into_iter()
        .find(|builtin| strsim::levenshtein(builtin, type_name) <= 2)
}
