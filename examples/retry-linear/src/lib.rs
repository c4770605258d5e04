//! An example retry policy plugin, selected in `dlt.yml` by its type name:
//!
//! ```yaml
//! run_config:
//!   retry_policy: {type: linear, max_attempts: 4, step: 1.5}
//!   retry_pipeline_steps: [load]
//! ```
//!
//! The wait after failed attempt `n` is `n * step` seconds. Build it with
//! `cargo build -p retry-linear` and put `libretry_linear.so` in the
//! project's `plugins/` folder, next to `dlt`, or in `$DLT_PLUGIN_DIR`.

use std::time::Duration;

use plugin_sdk::protocol::PluginInfo;
use plugin_sdk::{ErrorCategory, PluginError, RetryDecision, RetryPolicy, RetryPolicyFactory};
use serde_json::Value;

/// Waits `attempt * step` after each failure, for at most `max_attempts` attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    pub max_attempts: u32,
    pub step: Duration,
}

impl RetryPolicy for Linear {
    fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    fn after_failure(&mut self, attempt: u32, category: ErrorCategory) -> RetryDecision {
        if attempt >= self.max_attempts || category.is_terminal() {
            return RetryDecision::Stop;
        }
        RetryDecision::RetryAfter(self.step * attempt)
    }
}

/// The plugin's factory: one policy type, `linear`.
pub struct LinearPolicyFactory;

impl RetryPolicyFactory for LinearPolicyFactory {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "linear".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            abi_version: plugin_sdk::ABI_VERSION.to_owned(),
            description: "Example retry policy with linearly growing waits".to_owned(),
        }
    }

    fn policy_types() -> Vec<String> {
        vec!["linear".to_owned()]
    }

    fn new_policy(type_name: &str, parameters: &Value) -> Result<Box<dyn RetryPolicy>, PluginError> {
        if type_name != "linear" {
            return Err(PluginError::config(format!("unknown retry policy type `{type_name}`; this plugin provides `linear`")));
        }
        let Some(entries) = parameters.as_object() else {
            return Err(PluginError::config("retry_policy must be a mapping"));
        };
        if let Some(unknown) = entries.keys().find(|key| !["type", "max_attempts", "step"].contains(&key.as_str())) {
            return Err(PluginError::config(format!(
                "unknown key `{unknown}` in retry_policy of type linear; accepted keys are max_attempts and step"
            )));
        }

        let max_attempts = match entries.get("max_attempts") {
            None => 3,
            Some(value) => value
                .as_u64()
                .filter(|attempts| (1..=u64::from(u32::MAX)).contains(attempts))
                .ok_or_else(|| PluginError::config(format!("invalid max_attempts {value}: use a whole number of at least 1")))?
                as u32,
        };
        let step = match entries.get("step") {
            None => 1.0,
            Some(value) => value
                .as_f64()
                .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
                .ok_or_else(|| PluginError::config(format!("invalid step {value}: use a number of seconds, 0 or more")))?,
        };

        Ok(Box::new(Linear {
            max_attempts,
            step: Duration::from_secs_f64(step),
        }))
    }
}

plugin_sdk::export_retry_policy_plugin!(LinearPolicyFactory);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_linearly() {
        let mut policy = LinearPolicyFactory::new_policy("linear", &serde_json::json!({"max_attempts": 4, "step": 2})).unwrap();

        let waits: Vec<RetryDecision> = (1..=4).map(|attempt| policy.after_failure(attempt, ErrorCategory::Transient)).collect();

        assert_eq!(waits[0], RetryDecision::RetryAfter(Duration::from_secs(2)));
        assert_eq!(waits[1], RetryDecision::RetryAfter(Duration::from_secs(4)));
        assert_eq!(waits[2], RetryDecision::RetryAfter(Duration::from_secs(6)));
        assert_eq!(waits[3], RetryDecision::Stop);
    }

    #[test]
    fn unknown_key_is_config_error() {
        let error = LinearPolicyFactory::new_policy("linear", &serde_json::json!({"stepp": 1})).err().unwrap();
        assert_eq!(error.category, ErrorCategory::Config);
        assert!(error.message().contains("stepp"));
    }
}
