//! Parsing of the destination configuration: bucket URL, credentials, file
//! layout and format.

use std::path::{Component, Path, PathBuf};

use plugin_sdk::PluginError;
use plugin_sdk::protocol::RunnerContext;
use plugin_sdk::protocol::json_type_name;
use serde_json::Value;

use crate::credentials::Credentials;
use crate::format::LoaderFileFormat;
use crate::layout::Layout;

/// Keys accepted in the `dlt.yml` destination entry.
const ACCEPTED_KEYS: [&str; 7] = [
    "type",
    "bucket_url",
    "credentials",
    "layout",
    "loader_file_format",
    "max_state_files",
    "_runner",
];

/// dlt keeps this many state files per pipeline and deletes older ones.
pub const DEFAULT_MAX_STATE_FILES: usize = 100;

/// The kind of store a bucket URL points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketScheme {
    File,
    Memory,
    S3,
    Gcs,
    Azure,
}

impl BucketScheme {
    /// Returns the URL scheme as users write it.
    pub fn as_str(self) -> &'static str {
        match self {
            BucketScheme::File => "file://",
            BucketScheme::Memory => "memory://",
            BucketScheme::S3 => "s3://",
            BucketScheme::Gcs => "gs://",
            BucketScheme::Azure => "az://",
        }
    }
}

/// The location of a bucket: a local folder, process memory, or a cloud
/// bucket (or container) with a path prefix inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketLocation {
    /// An absolute local folder, created on first use.
    Local(PathBuf),
    /// A store that lives as long as the destination object, with a prefix.
    Memory { prefix: String },
    /// A cloud bucket (S3, GCS) or Azure container, with a path prefix
    /// without leading or trailing `/`.
    Cloud {
        scheme: BucketScheme,
        bucket: String,
        prefix: String,
    },
}

/// Settings of a filesystem destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesystemConfig {
    /// The bucket URL as configured. It contains no secrets and may be logged.
    pub bucket_url: String,
    pub location: BucketLocation,
    pub credentials: Credentials,
    pub layout: Layout,
    /// The format of data files. Parquet when not configured, where Python
    /// dlt writes gzip-compressed JSON Lines.
    pub loader_file_format: LoaderFileFormat,
    /// Writes JSON Lines and CSV files without gzip, as dlt's
    /// `data_writer.disable_compression` does.
    pub disable_compression: bool,
    /// State files kept per pipeline; older committed ones are deleted after
    /// each load. 0 keeps all.
    pub max_state_files: usize,
}

impl FilesystemConfig {
    /// Creates a configuration for a local folder, with the default layout
    /// and no credentials.
    pub fn local(folder: impl Into<PathBuf>) -> Self {
        let folder = folder.into();
        FilesystemConfig {
            bucket_url: folder.display().to_string(),
            location: BucketLocation::Local(folder),
            credentials: Credentials::default(),
            layout: Layout::default(),
            loader_file_format: LoaderFileFormat::default(),
            disable_compression: false,
            max_state_files: DEFAULT_MAX_STATE_FILES,
        }
    }

    /// Parses a `dlt.yml` destination entry given as JSON.
    ///
    /// * `bucket_url` (required): a local path (relative paths resolve
    ///   against `_runner.project_dir`), `file:///abs/path`, `memory://`,
    ///   `s3://bucket/path`, `gs://bucket/path` or `az://container/path`.
    /// * `credentials`: dlt's keys for the scheme, such as
    ///   `aws_access_key_id`, `aws_secret_access_key`, `endpoint_url` and
    ///   `region_name` for S3.
    /// * `layout`: see [`Layout::parse`]; dlt's default when absent.
    /// * `loader_file_format`: `parquet` (when absent), `jsonl` or `csv`.
    /// * `max_state_files`: a non-negative integer, 100 when absent.
    /// * `_runner.disable_compression`: set by the runner from dlt's
    ///   `NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION` variable.
    ///
    /// Returns a `Config` error naming the key for a missing `bucket_url`,
    /// unknown keys and invalid values. Messages never contain credential
    /// values.
    pub fn from_json(config: &Value) -> Result<Self, PluginError> {
        let Some(entries) = config.as_object() else {
            return Err(PluginError::config(format!(
                "the filesystem destination configuration must be a mapping, got {}",
                json_type_name(config)
            )));
        };

        if let Some(unknown) = entries.keys().find(|key| !ACCEPTED_KEYS.contains(&key.as_str())) {
            return Err(PluginError::config(format!(
                "unknown key `{unknown}` in the filesystem destination configuration. Accepted keys are {}",
                ACCEPTED_KEYS.join(", ")
            )));
        }

        check_type(entries.get("type"))?;
        let loader_file_format = match optional_string(entries.get("loader_file_format"), "loader_file_format")? {
            Some(name) => LoaderFileFormat::parse(&name)?,
            None => LoaderFileFormat::default(),
        };

        let runner = parse_runner_context(entries.get("_runner"))?;
        let bucket_url = parse_bucket_url(entries.get("bucket_url"))?;
        let location = parse_location(&bucket_url, runner.as_ref())?;
        let credentials = Credentials::from_json(entries.get("credentials"), scheme_of(&location))?;
        let layout = match optional_string(entries.get("layout"), "layout")? {
            Some(template) => Layout::parse(&template)?,
            None => Layout::default(),
        };
        let max_state_files = parse_max_state_files(entries.get("max_state_files"))?;
        let disable_compression = runner.as_ref().is_some_and(|runner| runner.disable_compression);

        Ok(FilesystemConfig {
            bucket_url,
            location,
            credentials,
            layout,
            loader_file_format,
            disable_compression,
            max_state_files,
        })
    }
}

/// Returns the scheme of a parsed location.
pub(crate) fn scheme_of(location: &BucketLocation) -> BucketScheme {
    match location {
        BucketLocation::Local(_) => BucketScheme::File,
        BucketLocation::Memory { .. } => BucketScheme::Memory,
        BucketLocation::Cloud { scheme, .. } => *scheme,
    }
}

fn check_type(value: Option<&Value>) -> Result<(), PluginError> {
    match value {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(name)) if name == "filesystem" => Ok(()),
        Some(other) => Err(PluginError::config(format!(
            "destination `type` must be \"filesystem\" for this plugin, got {other}"
        ))),
    }
}

fn parse_runner_context(value: Option<&Value>) -> Result<Option<RunnerContext>, PluginError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value.clone()).map(Some).map_err(|error| {
            PluginError::config(format!("invalid `_runner` settings from the runner: {error}"))
        }),
    }
}

fn parse_bucket_url(value: Option<&Value>) -> Result<String, PluginError> {
    match optional_string(value, "bucket_url")? {
        Some(url) if !url.trim().is_empty() => Ok(url.trim().to_owned()),
        _ => Err(PluginError::config(
            "`bucket_url` is missing in the filesystem destination configuration. Set it in dlt.yml \
             (for example `bucket_url: s3://my-bucket/data` or a local folder) or in the environment \
             variable DESTINATION__<NAME>__BUCKET_URL",
        )),
    }
}

fn parse_location(bucket_url: &str, runner: Option<&RunnerContext>) -> Result<BucketLocation, PluginError> {
    let Some((scheme, rest)) = bucket_url.split_once("://") else {
        return Ok(BucketLocation::Local(resolve_local(Path::new(bucket_url), runner)));
    };

    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "file" => {
            let path = Path::new(rest);
            if !path.is_absolute() {
                return Err(PluginError::config(format!(
                    "`bucket_url` {bucket_url:?} must name an absolute path after file://, as in \
                     file:///data/lake; write a relative folder without file://"
                )));
            }
            return Ok(BucketLocation::Local(resolve_local(path, None)));
        }
        "memory" => {
            return Ok(BucketLocation::Memory {
                prefix: rest.trim_matches('/').to_owned(),
            });
        }
        "s3" | "s3a" => BucketScheme::S3,
        "gs" | "gcs" => BucketScheme::Gcs,
        "az" | "abfs" | "abfss" => BucketScheme::Azure,
        other => {
            return Err(PluginError::config(format!(
                "`bucket_url` scheme {other}:// is not supported. Use a local folder, file://, memory://, \
                 s3://, gs:// or az://"
            )));
        }
    };

    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() || bucket.contains('@') {
        return Err(PluginError::config(format!(
            "`bucket_url` {bucket_url:?} must name a bucket after {}, as in {}my-bucket/folder",
            scheme.as_str(),
            scheme.as_str()
        )));
    }
    Ok(BucketLocation::Cloud {
        scheme,
        bucket: bucket.to_owned(),
        prefix: prefix.trim_matches('/').to_owned(),
    })
}

/// Returns `path` as an absolute path without `.` and `..` components, which
/// object store paths cannot express. A relative path resolves against the
/// project folder, and a relative project folder against the current
/// directory.
fn resolve_local(path: &Path, runner: Option<&RunnerContext>) -> PathBuf {
    let mut absolute = match runner {
        Some(runner) if !runner.project_dir.is_empty() => Path::new(&runner.project_dir).join(path),
        _ => path.to_path_buf(),
    };
    if absolute.is_relative()
        && let Ok(current) = std::env::current_dir()
    {
        absolute = current.join(absolute);
    }

    let mut normalized = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normalized.pop();
            }
            other => normalized.push(other),
        }
    }
    normalized
}

fn parse_max_state_files(value: Option<&Value>) -> Result<usize, PluginError> {
    let invalid = |shown: &str| {
        PluginError::config(format!(
            "`max_state_files` must be a non-negative integer (0 keeps all), got {shown}"
        ))
    };
    match value {
        None | Some(Value::Null) => Ok(DEFAULT_MAX_STATE_FILES),
        Some(Value::Number(number)) => number
            .as_u64()
            .and_then(|count| usize::try_from(count).ok())
            .ok_or_else(|| invalid(&number.to_string())),
        // Environment variables arrive as strings.
        Some(Value::String(text)) => text.trim().parse().map_err(|_| invalid(&format!("{text:?}"))),
        Some(other) => Err(invalid(json_type_name(other))),
    }
}

fn optional_string(value: Option<&Value>, key: &str) -> Result<Option<String>, PluginError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(PluginError::config(format!(
            "`{key}` must be a string, got {}",
            json_type_name(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use plugin_sdk::ErrorCategory;
    use serde_json::json;

    use super::*;

    fn runner() -> Value {
        json!({"pipeline_name": "p", "project_dir": "/project", "working_dir": "/work/p"})
    }

    fn location(config: Value) -> BucketLocation {
        FilesystemConfig::from_json(&config).expect("valid configuration").location
    }

    #[test]
    fn relative_path_resolves_against_project() {
        let parsed = location(json!({"type": "filesystem", "bucket_url": "lake", "_runner": runner()}));
        assert_eq!(parsed, BucketLocation::Local(PathBuf::from("/project/lake")));
    }

    #[test]
    fn dot_segments_removed() {
        let runner = json!({"pipeline_name": "p", "project_dir": "/project/./sub", "working_dir": "/w"});
        let parsed = location(json!({"bucket_url": "../lake", "_runner": runner}));
        assert_eq!(parsed, BucketLocation::Local(PathBuf::from("/project/lake")));
    }

    #[test]
    fn file_url_accepted() {
        let parsed = location(json!({"bucket_url": "file:///data/lake"}));
        assert_eq!(parsed, BucketLocation::Local(PathBuf::from("/data/lake")));
    }

    #[test]
    fn s3_url_split() {
        let parsed = location(json!({"bucket_url": "s3://bucket/a/b/"}));
        let expected = BucketLocation::Cloud {
            scheme: BucketScheme::S3,
            bucket: "bucket".to_owned(),
            prefix: "a/b".to_owned(),
        };
        assert_eq!(parsed, expected);
    }

    #[test]
    fn memory_url_accepted() {
        let parsed = location(json!({"bucket_url": "memory://tests"}));
        assert_eq!(parsed, BucketLocation::Memory { prefix: "tests".to_owned() });
    }

    #[test]
    fn missing_bucket_url_rejected() {
        let error = FilesystemConfig::from_json(&json!({"type": "filesystem"})).expect_err("no bucket_url");
        assert_eq!(error.category, ErrorCategory::Config);
        assert!(error.message().contains("`bucket_url`"), "{error}");
    }

    #[test]
    fn unknown_scheme_rejected() {
        let error = FilesystemConfig::from_json(&json!({"bucket_url": "ftp://host/x"})).expect_err("ftp");
        assert!(error.message().contains("ftp://"), "{error}");
    }

    #[test]
    fn relative_file_url_rejected() {
        let error = FilesystemConfig::from_json(&json!({"bucket_url": "file://lake"})).expect_err("relative");
        assert!(error.message().contains("absolute"), "{error}");
    }

    #[test]
    fn text_formats_accepted() {
        for (name, expected) in [("jsonl", LoaderFileFormat::Jsonl), ("csv", LoaderFileFormat::Csv)] {
            let config = FilesystemConfig::from_json(&json!({"bucket_url": "/x", "loader_file_format": name}))
                .expect("valid format");
            assert_eq!(config.loader_file_format, expected);
            assert!(!config.disable_compression);
        }
    }

    #[test]
    fn unknown_format_rejected() {
        let error = FilesystemConfig::from_json(&json!({"bucket_url": "/x", "loader_file_format": "xml"}))
            .expect_err("unknown format");
        assert_eq!(error.category, ErrorCategory::Config);
        assert!(error.message().contains("`loader_file_format` \"xml\""), "{error}");
        assert!(error.message().contains("parquet, jsonl, csv"), "{error}");
    }

    #[test]
    fn compression_disabled_by_runner() {
        let mut runner = runner();
        runner["disable_compression"] = json!(true);
        let config = FilesystemConfig::from_json(&json!({"bucket_url": "/x", "_runner": runner})).expect("valid");
        assert!(config.disable_compression);
    }

    #[test]
    fn unknown_key_rejected() {
        let error = FilesystemConfig::from_json(&json!({"bucket_url": "/x", "bucket": "y"})).expect_err("unknown");
        assert!(error.message().contains("`bucket`"), "{error}");
    }

    #[test]
    fn max_state_files_from_string() {
        let config = FilesystemConfig::from_json(&json!({"bucket_url": "/x", "max_state_files": "5"}))
            .expect("valid configuration");
        assert_eq!(config.max_state_files, 5);
    }

    #[test]
    fn layout_parsed() {
        let config = FilesystemConfig::from_json(
            &json!({"bucket_url": "/x", "layout": "{schema_name}/{table_name}/{load_id}.{file_id}.{ext}"}),
        )
        .expect("valid configuration");
        assert_eq!(config.layout.template(), "{schema_name}/{table_name}/{load_id}.{file_id}.{ext}");
    }
}
