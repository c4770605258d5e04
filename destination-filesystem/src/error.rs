//! Mapping of object store errors to plugin error categories, with secrets
//! removed from every message.

use plugin_sdk::{ErrorCategory, PluginError};

/// Text that replaces a secret value found in an error message.
const REDACTED: &str = "***";

/// Removes known secret values (keys, secrets, tokens) from messages.
///
/// Object stores echo parts of the request in some errors; an S3 error body,
/// for example, repeats the access key id. Every message built from a store
/// error passes through [`Redactor::clean`] before it leaves the plugin.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Creates a redactor for `secrets`; empty values are ignored.
    pub(crate) fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|secret| !secret.is_empty())
            .collect();
        // Longer secrets first, so a secret that contains another one is
        // replaced as a whole.
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        Redactor { secrets }
    }

    /// Returns `text` with every secret value replaced by `***`.
    pub(crate) fn clean(&self, text: &str) -> String {
        let mut cleaned = text.to_owned();
        for secret in &self.secrets {
            cleaned = cleaned.replace(secret.as_str(), REDACTED);
        }
        cleaned
    }
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

/// Returns the category of an object store error.
///
/// Missing permissions and rejected credentials need the user to act, so
/// they are `Config` errors. So is a bucket that does not exist. Errors of
/// the HTTP client and server (connection refused, timeouts, 5xx) are
/// `Transient`, because object_store reports them all as `Generic` and most
/// of them pass.
pub(crate) fn category_of(error: &object_store::Error) -> ErrorCategory {
    use object_store::Error;

    match error {
        Error::PermissionDenied { .. }
        | Error::Unauthenticated { .. }
        | Error::UnknownConfigurationKey { .. }
        | Error::NotSupported { .. }
        | Error::NotImplemented { .. } => ErrorCategory::Config,
        Error::Generic { .. } if is_missing_bucket(&error.to_string()) => ErrorCategory::Config,
        Error::Generic { .. } if is_rejected_credentials(&error.to_string()) => ErrorCategory::Config,
        Error::Generic { .. } | Error::JoinError { .. } => ErrorCategory::Transient,
        _ => ErrorCategory::Terminal,
    }
}

/// Returns true when an error message reports rejected credentials.
///
/// object_store reports a 403 on some requests (such as list) as `Generic`,
/// so the S3 and Azure error codes and the HTTP status text are checked.
fn is_rejected_credentials(message: &str) -> bool {
    const MARKERS: [&str; 6] = [
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "AuthenticationFailed",
        "403 Forbidden",
        "401 Unauthorized",
    ];
    MARKERS.iter().any(|marker| message.contains(marker))
}

/// Returns true when an error message reports a bucket or container that
/// does not exist (S3 `NoSuchBucket`, Azure `ContainerNotFound`).
fn is_missing_bucket(message: &str) -> bool {
    message.contains("NoSuchBucket") || message.contains("ContainerNotFound")
}

/// Wraps an object store error.
///
/// `context` describes what failed on which dataset, table or path. For rejected
/// credentials and a missing bucket, the message also names the
/// configuration keys to check.
pub(crate) fn store_error(
    error: &object_store::Error,
    context: impl Into<String>,
    redactor: &Redactor,
) -> PluginError {
    let category = category_of(error);
    let mut message = context.into();

    let text = error.to_string();
    let rejected = matches!(
        error,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || (matches!(error, object_store::Error::Generic { .. }) && is_rejected_credentials(&text));

    match error {
        _ if rejected => {
            message.push_str(
                ". The store rejected the credentials: check `credentials` (for S3 \
                 `credentials.aws_access_key_id` and `credentials.aws_secret_access_key`) and `bucket_url`",
            );
        }
        object_store::Error::Generic { .. } if is_missing_bucket(&text) => {
            message.push_str(". The bucket does not exist: check `bucket_url`");
        }
        _ => {}
    }

    // object_store's message already contains those of its sources, so the
    // chain is not walked.
    PluginError::new(category, redactor.clean(&message)).with_cause(redactor.clean(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(message: &str) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: message.to_owned().into(),
        }
    }

    #[test]
    fn redactor_replaces_secrets() {
        let redactor = Redactor::new(["AKIA123".to_owned(), "s3cret".to_owned(), String::new()]);
        let cleaned = redactor.clean("key AKIA123 with s3cret failed");
        assert_eq!(cleaned, "key *** with *** failed");
    }

    #[test]
    fn permission_denied_is_config() {
        let error = object_store::Error::PermissionDenied {
            path: "ds/init".to_owned(),
            source: "403 Forbidden <AWSAccessKeyId>AKIA123</AWSAccessKeyId>".into(),
        };
        let mapped = store_error(&error, "failed to write ds/init", &Redactor::new(["AKIA123".to_owned()]));
        assert_eq!(mapped.category, ErrorCategory::Config);
        assert!(mapped.message().contains("credentials.aws_access_key_id"), "{mapped}");
        assert!(!mapped.to_string().contains("AKIA123"), "{mapped}");
    }

    #[test]
    fn missing_bucket_is_config() {
        let mapped = store_error(&generic("404 <Code>NoSuchBucket</Code>"), "failed to list", &Redactor::default());
        assert_eq!(mapped.category, ErrorCategory::Config);
        assert!(mapped.message().contains("`bucket_url`"), "{mapped}");
    }

    #[test]
    fn rejected_list_is_config() {
        let error = generic("403 Forbidden: <Code>InvalidAccessKeyId</Code>");
        assert_eq!(category_of(&error), ErrorCategory::Config);
    }

    #[test]
    fn connection_error_is_transient() {
        assert_eq!(category_of(&generic("error sending request: connection refused")), ErrorCategory::Transient);
    }
}
