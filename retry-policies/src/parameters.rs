//! Validation of the `retry_policy` mapping that a policy is built from.
//!
//! Every error is a [`PluginError::config`] that names the key, the value
//! found and what to write instead, because the user fixes it in `dlt.yml`.

use std::time::Duration;

use plugin_sdk::PluginError;
use serde_json::{Map, Value};

/// The keys of one `retry_policy` mapping, checked against one policy type.
///
/// Each accessor removes its key, so [`Parameters::reject_unused`] can report
/// any key the policy type does not read.
pub(crate) struct Parameters {
    type_name: String,
    remaining: Map<String, Value>,
}

impl Parameters {
    /// Checks that `parameters` is a mapping whose `type` (if present) is
    /// `type_name`. A JSON `null` counts as an empty mapping.
    pub(crate) fn new(type_name: &str, parameters: &Value) -> Result<Self, PluginError> {
        let mut remaining = match parameters {
            Value::Object(map) => map.clone(),
            Value::Null => Map::new(),
            other => {
                return Err(PluginError::config(format!(
                    "invalid retry_policy {other}: expected a mapping such as \
                     {{\"type\": \"{type_name}\"}}"
                )));
            }
        };

        if let Some(declared) = remaining.remove("type")
            && declared.as_str() != Some(type_name)
        {
            return Err(PluginError::config(format!(
                "invalid retry_policy key `type`: it is {declared} but policy \"{type_name}\" \
                 was requested. Make them the same."
            )));
        }

        Ok(Parameters {
            type_name: type_name.to_owned(),
            remaining,
        })
    }

    /// Reads `key` as a whole number of attempts, at least 1.
    pub(crate) fn max_attempts(&mut self, key: &str, default: u32) -> Result<u32, PluginError> {
        let Some(value) = self.remaining.remove(key) else {
            return Ok(default);
        };

        let attempts = value
            .as_u64()
            .and_then(|number| u32::try_from(number).ok())
            .ok_or_else(|| {
                self.invalid(
                    key,
                    &value,
                    "a whole number of attempts from 1 to 4294967295",
                )
            })?;

        if attempts < 1 {
            return Err(self.invalid(key, &value, "at least 1, the first attempt included"));
        }
        Ok(attempts)
    }

    /// Reads `key` as a finite, non-negative number.
    pub(crate) fn non_negative(&mut self, key: &str, default: f64) -> Result<f64, PluginError> {
        match self.remaining.remove(key) {
            Some(value) => self.parse_non_negative(key, &value),
            None => Ok(default),
        }
    }

    /// Reads `key` as a non-negative number of seconds.
    pub(crate) fn seconds(
        &mut self,
        key: &str,
        default: Duration,
    ) -> Result<Duration, PluginError> {
        let Some(value) = self.remaining.remove(key) else {
            return Ok(default);
        };

        let seconds = self.parse_non_negative(key, &value)?;

        // `Duration` is limited to u64::MAX seconds (about 1.8e19).
        Duration::try_from_secs_f64(seconds)
            .map_err(|_| self.invalid(key, &value, "a number of seconds below 1.8e19"))
    }

    /// Fails on the first key that no accessor read, listing the keys this
    /// policy type accepts.
    pub(crate) fn reject_unused(self, accepted: &[&str]) -> Result<(), PluginError> {
        let Some((key, value)) = self.remaining.iter().next() else {
            return Ok(());
        };

        let accepted = std::iter::once("type")
            .chain(accepted.iter().copied())
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ");
        Err(PluginError::config(format!(
            "invalid retry_policy key `{key}` (value {value}): policy \"{}\" does not use it. \
             Remove it, or use one of the accepted keys {accepted}.",
            self.type_name
        )))
    }

    fn parse_non_negative(&self, key: &str, value: &Value) -> Result<f64, PluginError> {
        match value.as_f64() {
            Some(number) if number.is_finite() && number >= 0.0 => Ok(number),
            _ => Err(self.invalid(key, value, "a finite number of 0 or more")),
        }
    }

    fn invalid(&self, key: &str, value: &Value, expected: &str) -> PluginError {
        PluginError::config(format!(
            "invalid retry_policy key `{key}` for policy \"{}\": got {value}, expected {expected}",
            self.type_name
        ))
    }
}
