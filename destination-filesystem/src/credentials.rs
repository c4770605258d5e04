//! The `credentials` mapping of a filesystem destination, under dlt's key
//! names.

use std::fmt;

use plugin_sdk::PluginError;
use serde_json::{Map, Value};

use crate::config::BucketScheme;
use plugin_sdk::protocol::json_type_name;

/// Keys accepted in `credentials` for `s3://` buckets, as dlt's
/// `AwsCredentials` names them.
/// dlt's `profile_name` is not among them, because object_store does not read
/// AWS profile files.
const S3_KEYS: [&str; 5] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "endpoint_url",
    "region_name",
];

/// Keys accepted for `gs://` buckets, as dlt's `GcpServiceAccountCredentials`
/// names them.
const GCS_KEYS: [&str; 4] = ["project_id", "private_key", "private_key_id", "client_email"];

/// Keys accepted for `az://` containers, as dlt's `AzureCredentials` names
/// them.
const AZURE_KEYS: [&str; 3] = [
    "azure_storage_account_name",
    "azure_storage_account_key",
    "azure_storage_sas_token",
];

/// Keys whose values are secrets and never appear in messages or logs.
const SECRET_KEYS: [&str; 6] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "private_key",
    "azure_storage_account_key",
    "azure_storage_sas_token",
];

/// Credentials and connection settings for one bucket.
///
/// Values are kept as given. `Debug` prints only the key names, because most
/// values are secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    values: Map<String, Value>,
}

impl Credentials {
    /// Parses `credentials` for a bucket of `scheme`.
    ///
    /// Returns a `Config` error naming the key for a key that does not apply
    /// to the scheme, for a value that is not a string, and for an access key
    /// given without its secret (or the reverse).
    pub(crate) fn from_json(value: Option<&Value>, scheme: BucketScheme) -> Result<Self, PluginError> {
        let fields = match value {
            None | Some(Value::Null) => return Ok(Credentials::default()),
            Some(Value::Object(fields)) => fields,
            Some(other) => {
                return Err(PluginError::config(format!(
                    "`credentials` must be a mapping, got {}. For S3 use keys such as \
                     `aws_access_key_id` and `aws_secret_access_key`",
                    json_type_name(other)
                )));
            }
        };

        let accepted = accepted_keys(scheme);
        let mut values = Map::new();
        for (key, value) in fields {
            if !accepted.contains(&key.as_str()) {
                let hint = if accepted.is_empty() {
                    format!("{} buckets take no credentials", scheme.as_str())
                } else {
                    format!("accepted keys for {} buckets are {}", scheme.as_str(), accepted.join(", "))
                };
                return Err(PluginError::config(format!(
                    "unknown key `credentials.{key}` in the filesystem destination configuration: {hint}"
                )));
            }
            match value {
                Value::Null => {}
                Value::String(text) if text.is_empty() => {}
                Value::String(_) => {
                    values.insert(key.clone(), value.clone());
                }
                other => {
                    return Err(PluginError::config(format!(
                        "`credentials.{key}` must be a string, got {}",
                        json_type_name(other)
                    )));
                }
            }
        }

        let credentials = Credentials { values };
        credentials.check_pairs()?;
        Ok(credentials)
    }

    /// Returns the value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).and_then(Value::as_str)
    }

    /// Returns every secret value, for redaction.
    pub(crate) fn secret_values(&self) -> Vec<String> {
        SECRET_KEYS
            .iter()
            .filter_map(|key| self.get(key))
            .map(str::to_owned)
            .collect()
    }

    /// Rejects one half of a key pair without the other, which the store
    /// would otherwise report later as an unrelated authentication failure.
    fn check_pairs(&self) -> Result<(), PluginError> {
        let pairs = [
            ("aws_access_key_id", "aws_secret_access_key"),
            ("azure_storage_account_key", "azure_storage_account_name"),
            ("private_key", "client_email"),
        ];
        for (first, second) in pairs {
            for (present, missing) in [(first, second), (second, first)] {
                if self.get(present).is_some() && self.get(missing).is_none() {
                    return Err(PluginError::config(format!(
                        "`credentials.{missing}` is missing, but `credentials.{present}` is set. \
                         Set both, in dlt.yml or in DESTINATION__<NAME>__CREDENTIALS__{}",
                        missing.to_uppercase()
                    )));
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self.values.keys().map(String::as_str).collect();
        f.debug_struct("Credentials").field("keys", &keys).finish()
    }
}

fn accepted_keys(scheme: BucketScheme) -> &'static [&'static str] {
    match scheme {
        BucketScheme::S3 => &S3_KEYS,
        BucketScheme::Gcs => &GCS_KEYS,
        BucketScheme::Azure => &AZURE_KEYS,
        BucketScheme::File | BucketScheme::Memory => &[],
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn s3_keys_accepted() {
        let credentials = Credentials::from_json(
            Some(&json!({"aws_access_key_id": "AK", "aws_secret_access_key": "SK", "endpoint_url": "http://x"})),
            BucketScheme::S3,
        )
        .expect("valid credentials");
        assert_eq!(credentials.get("endpoint_url"), Some("http://x"));
    }

    #[test]
    fn debug_hides_values() {
        let credentials = Credentials::from_json(
            Some(&json!({"aws_access_key_id": "AK-canary", "aws_secret_access_key": "SK-canary"})),
            BucketScheme::S3,
        )
        .expect("valid credentials");
        let printed = format!("{credentials:?}");
        assert!(!printed.contains("canary"), "{printed}");
    }

    #[test]
    fn missing_secret_names_key() {
        let error = Credentials::from_json(Some(&json!({"aws_access_key_id": "AK-canary"})), BucketScheme::S3)
            .expect_err("secret is missing");
        assert_eq!(error.category, plugin_sdk::ErrorCategory::Config);
        assert!(error.message().contains("credentials.aws_secret_access_key"), "{error}");
        assert!(!error.to_string().contains("AK-canary"), "{error}");
    }

    #[test]
    fn foreign_key_rejected() {
        let error = Credentials::from_json(Some(&json!({"aws_access_key_id": "AK"})), BucketScheme::Gcs)
            .expect_err("S3 key on a GCS bucket");
        assert!(error.message().contains("credentials.aws_access_key_id"), "{error}");
    }

    #[test]
    fn local_bucket_takes_none() {
        let error = Credentials::from_json(Some(&json!({"password": "x"})), BucketScheme::File)
            .expect_err("credentials on a local folder");
        assert!(error.message().contains("take no credentials"), "{error}");
    }
}
