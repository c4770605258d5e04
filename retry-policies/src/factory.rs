//! The plugin factory that creates the built-in policies by `type` name.

use plugin_sdk::protocol::PluginInfo;
use plugin_sdk::{PluginError, RetryPolicy, RetryPolicyFactory};
use serde_json::Value;

use crate::{Backoff, Fixed, NoRetry};

/// The `type` names [`BuiltinPolicies`] accepts, in the order users meet them.
pub const POLICY_TYPES: [&str; 3] = ["none", "fixed", "backoff"];

/// Creates the `none`, `fixed` and `backoff` retry policies.
pub struct BuiltinPolicies;

impl RetryPolicyFactory for BuiltinPolicies {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "builtin".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            abi_version: plugin_sdk::ABI_VERSION.to_owned(),
            description: env!("CARGO_PKG_DESCRIPTION").to_owned(),
        }
    }

    fn policy_types() -> Vec<String> {
        POLICY_TYPES.iter().map(|name| (*name).to_owned()).collect()
    }

    fn new_policy(
        type_name: &str,
        parameters: &Value,
    ) -> Result<Box<dyn RetryPolicy>, PluginError> {
        match type_name {
            "none" => Ok(Box::new(NoRetry::from_parameters(parameters)?)),
            "fixed" => Ok(Box::new(Fixed::from_parameters(parameters)?)),
            "backoff" => Ok(Box::new(Backoff::from_parameters(parameters)?)),
            unknown => Err(PluginError::config(format!(
                "invalid retry_policy key `type`: unknown retry policy type \"{unknown}\". \
                 Use one of: {}.",
                POLICY_TYPES.join(", ")
            ))),
        }
    }
}
