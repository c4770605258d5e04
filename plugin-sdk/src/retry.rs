//! The retry policy trait and its export to a plugin library.

use std::time::Duration;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RStr, RString, RVec};

use crate::ffi::{FfiRetryDecision, FfiRetryPolicy, FfiRetryPolicy_TO, FfiRetryPolicyBox, HostServices};
use crate::panic_guard::guard;
use crate::protocol::PluginInfo;
use crate::{ErrorCategory, PluginError};

/// A policy's decision after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Give up and report the last error.
    Stop,
    /// Try again after waiting this long.
    RetryAfter(Duration),
}

/// Decides whether and when a failed run is attempted again.
///
/// The runner never consults a policy for terminal errors (category `Config`
/// or `Terminal`) or for steps excluded from retries: those stop at once.
pub trait RetryPolicy: Send {
    /// Returns the total number of attempts, the first one included.
    fn max_attempts(&self) -> u32;

    /// Decides what follows failed attempt `attempt` (1-based).
    fn after_failure(&mut self, attempt: u32, category: ErrorCategory) -> RetryDecision;
}

/// Creates retry policies by `type` name; the unit a plugin library exports.
pub trait RetryPolicyFactory {
    fn info() -> PluginInfo;

    /// Returns the `type` names accepted by [`RetryPolicyFactory::new_policy`].
    fn policy_types() -> Vec<String>;

    /// Creates a policy from the `retry_policy` mapping of `dlt.yml` as JSON.
    fn new_policy(type_name: &str, parameters: &serde_json::Value) -> Result<Box<dyn RetryPolicy>, PluginError>;
}

struct FfiAdapter {
    inner: Box<dyn RetryPolicy>,
}

impl FfiRetryPolicy for FfiAdapter {
    fn max_attempts(&self) -> u32 {
        // A panic here is reported as a single attempt: no retries is the safe reading.
        match guard("max_attempts", || Ok(self.inner.max_attempts())) {
            RResult::ROk(attempts) => attempts,
            RResult::RErr(_) => 1,
        }
    }

    fn after_failure(&mut self, attempt: u32, category: ErrorCategory) -> FfiRetryDecision {
        let decision = guard("after_failure", || Ok(self.inner.after_failure(attempt, category)));
        match decision {
            RResult::ROk(RetryDecision::RetryAfter(wait)) => FfiRetryDecision {
                retry: true,
                wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            },
            RResult::ROk(RetryDecision::Stop) | RResult::RErr(_) => FfiRetryDecision {
                retry: false,
                wait_ms: 0,
            },
        }
    }
}

#[doc(hidden)]
pub fn ffi_info<F: RetryPolicyFactory>() -> RString {
    guard("info", || {
        serde_json::to_string(&F::info())
            .map(RString::from)
            .map_err(|error| PluginError::internal(error.to_string()))
    })
    .unwrap_or_default()
}

#[doc(hidden)]
pub fn ffi_policy_types<F: RetryPolicyFactory>() -> RVec<RString> {
    guard("policy_types", || Ok(F::policy_types().into_iter().map(RString::from).collect())).unwrap_or_default()
}

#[doc(hidden)]
pub fn ffi_new_policy<F: RetryPolicyFactory>(
    type_name: RStr<'_>,
    parameters: RStr<'_>,
    host: HostServices,
) -> RResult<FfiRetryPolicyBox, PluginError> {
    guard("new_policy", || {
        crate::logging::install_forwarder(host);
        let parameters: serde_json::Value = serde_json::from_str(parameters.as_str())
            .map_err(|error| PluginError::internal(format!("invalid retry policy parameters from the runner: {error}")))?;
        let inner = F::new_policy(type_name.as_str(), &parameters)?;
        Ok(FfiRetryPolicy_TO::from_value(FfiAdapter { inner }, TD_Opaque))
    })
}

/// Exports a [`RetryPolicyFactory`] as the root module of a `cdylib`.
#[macro_export]
macro_rules! export_retry_policy_plugin {
    ($factory:ty) => {
        #[doc(hidden)]
        #[allow(unused_imports)]
        pub mod __runner_retry_policy_plugin {
            use super::*;
            use $crate::reexports::abi_stable;
            use abi_stable::prefix_type::PrefixTypeTrait;
            use abi_stable::std_types::{RResult, RStr, RString, RVec};
            use $crate::ffi::{FfiRetryPolicyBox, HostServices, RetryPolicyModule, RetryPolicyModule_Ref};

            extern "C" fn info() -> RString {
                $crate::retry::ffi_info::<$factory>()
            }

            extern "C" fn policy_types() -> RVec<RString> {
                $crate::retry::ffi_policy_types::<$factory>()
            }

            extern "C" fn new_policy(
                type_name: RStr<'_>,
                parameters: RStr<'_>,
                host: HostServices,
            ) -> RResult<FfiRetryPolicyBox, $crate::PluginError> {
                $crate::retry::ffi_new_policy::<$factory>(type_name, parameters, host)
            }

            /// Root module; `abi_stable` runs this only after the layout check passed.
            #[abi_stable::export_root_module]
            pub fn get_root_module() -> RetryPolicyModule_Ref {
                RetryPolicyModule { info, policy_types, new_policy }.leak_into_prefix()
            }
        }
    };
}
