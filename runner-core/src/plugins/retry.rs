use std::path::Path;
use std::time::Duration;

use abi_stable::std_types::{RResult, RStr};
use plugin_sdk::ffi::{FfiRetryPolicyBox, RetryPolicyModule_Ref};
use plugin_sdk::{ErrorCategory, RetryDecision, RetryPolicy};
use serde_json::Value;

use super::{PluginKind, PluginLoadError, PluginSearch, host_services, library_error};
use crate::{Error, Result};

/// Loads the retry policy plugin for `type_name` (file `libretry_<type>.so`)
/// and creates the policy from its `dlt.yml` parameters.
pub fn open_retry_policy_plugin(search: &PluginSearch, type_name: &str, parameters: &Value) -> Result<Box<dyn RetryPolicy>> {
    let path = search.find(PluginKind::RetryPolicy, type_name)?;
    let module = load_retry_module(&path)?;

    let offered: Vec<String> = (module.policy_types())().into_iter().map(|name| name.into_string()).collect();
    if !offered.iter().any(|name| name == type_name) {
        return Err(Error::config(format!(
            "retry policy plugin `{}` does not provide type `{type_name}`; it provides: {}",
            path.display(),
            offered.join(", ")
        )));
    }

    let text = serde_json::to_string(parameters).map_err(|e| Error::Internal(e.to_string()))?;
    match (module.new_policy())(RStr::from_str(type_name), RStr::from_str(&text), host_services()) {
        RResult::ROk(policy) => Ok(Box::new(PluginRetryPolicy { inner: policy })),
        RResult::RErr(error) => Err(Error::config(format!("retry policy `{type_name}`: {error}"))),
    }
}

fn load_retry_module(path: &Path) -> Result<RetryPolicyModule_Ref, PluginLoadError> {
    let kind = PluginKind::RetryPolicy;
    let header = super::open_library(path, kind)?;
    super::check_abi_version::<RetryPolicyModule_Ref>(path, kind, header)?;
    let module = header
        .init_root_module::<RetryPolicyModule_Ref>()
        .map_err(|error| library_error(path, kind, error))?;
    tracing::info!(path = %path.display(), "loaded retry policy plugin");
    Ok(module)
}

/// A retry policy living in a plugin library.
struct PluginRetryPolicy {
    inner: FfiRetryPolicyBox,
}

impl RetryPolicy for PluginRetryPolicy {
    fn max_attempts(&self) -> u32 {
        self.inner.max_attempts()
    }

    fn after_failure(&mut self, attempt: u32, category: ErrorCategory) -> RetryDecision {
        let decision = self.inner.after_failure(attempt, category);
        if decision.retry {
            RetryDecision::RetryAfter(Duration::from_millis(decision.wait_ms))
        } else {
            RetryDecision::Stop
        }
    }
}
