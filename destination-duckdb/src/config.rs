//! Parsing of the destination configuration into the database file path.

use std::path::{Path, PathBuf};

use plugin_sdk::PluginError;
use plugin_sdk::protocol::RunnerContext;
use plugin_sdk::protocol::json_type_name;
use serde_json::Value;

/// Keys accepted in the `dlt.yml` destination entry.
const ACCEPTED_KEYS: [&str; 3] = ["type", "credentials", "_runner"];

/// `credentials` value that places the database in the pipeline's working
/// directory, as in dlt.
const PIPELINE_CREDENTIALS: &str = ":pipeline:";

/// Prefix of the connection-string form that dlt also accepts. The rest of
/// the string is the file path.
const URL_PREFIX: &str = "duckdb:///";

/// Settings of a DuckDB destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuckDbConfig {
    /// Path of the database file. It is created on first use, but its folder
    /// must exist.
    pub database: PathBuf,
    /// DuckDB settings applied to every connection, in order, as dlt's
    /// `credentials.global_config` (`SET GLOBAL`) and `credentials.local_config`
    /// (`SET SESSION`) apply them; for example `memory_limit` or `threads`.
    pub settings: Vec<DuckDbSetting>,
}

/// One DuckDB setting: `SET <scope> <name> = <value>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuckDbSetting {
    pub scope: SettingScope,
    /// Setting name, letters, digits and `_` only.
    pub name: String,
    /// Value as SQL literal text.
    pub value: String,
}

/// Scope of a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingScope {
    Global,
    Session,
}

impl DuckDbConfig {
    /// Creates a configuration for the database file at `database`.
    pub fn new(database: impl Into<PathBuf>) -> Self {
        DuckDbConfig {
            database: database.into(),
            settings: Vec::new(),
        }
    }

    /// Adds a setting applied to every connection; `value` is a number,
    /// boolean or string (quoted for SQL here).
    pub fn with_setting(mut self, scope: SettingScope, name: &str, value: &Value) -> Result<Self, PluginError> {
        self.settings.push(parse_setting(scope, name, value)?);
        Ok(self)
    }

    /// Returns whether the configuration sets any of the DuckDB settings
    /// `names`, compared without case as DuckDB compares them.
    pub fn sets_any(&self, names: &[&str]) -> bool {
        self.settings
            .iter()
            .any(|setting| names.iter().any(|name| setting.name.eq_ignore_ascii_case(name)))
    }

    /// Parses a `dlt.yml` destination entry given as JSON.
    ///
    /// `credentials` is a path string or a `{database: path}` mapping:
    /// * a relative path resolves against `_runner.project_dir` (or the
    ///   current directory when `_runner` is absent);
    /// * `:pipeline:` means `<working_dir>/<pipeline_name>.duckdb`;
    /// * when `credentials` is absent, the file is
    ///   `<project_dir>/<pipeline_name>.duckdb`, as in dlt.
    ///
    /// Returns a `Config` error naming the key for unknown keys and for values
    /// of the wrong type.
    pub fn from_json(config: &Value) -> Result<Self, PluginError> {
        let Some(entries) = config.as_object() else {
            return Err(PluginError::config(format!(
                "the duckdb destination configuration must be a mapping, got {}",
                json_type_name(config)
            )));
        };

        if let Some(unknown) = entries
            .keys()
            .find(|key| !ACCEPTED_KEYS.contains(&key.as_str()))
        {
            return Err(PluginError::config(format!(
                "unknown key `{unknown}` in the duckdb destination configuration; accepted keys are {}",
                ACCEPTED_KEYS
                    .iter()
                    .filter(|key| !key.starts_with('_'))
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }

        match entries.get("type") {
            None | Some(Value::Null) => {}
            Some(Value::String(name)) if name == "duckdb" => {}
            Some(other) => {
                return Err(PluginError::config(format!(
                    "destination `type` must be \"duckdb\" for this plugin, got {other}"
                )));
            }
        }

        let runner = parse_runner_context(entries.get("_runner"))?;
        let credentials = entries.get("credentials");
        let database = parse_credentials(credentials)?;
        let path = resolve_database_path(database.as_deref(), runner.as_ref())?;
        let mut config = DuckDbConfig::new(path);
        for (key, scope) in SETTING_KEYS {
            let Some(settings) = credentials.and_then(|c| c.get(key)) else {
                continue;
            };
            let Some(settings) = settings.as_object() else {
                return Err(PluginError::config(format!(
                    "`credentials.{key}` must be a mapping of DuckDB settings such as {{memory_limit: 1GB}}, got {}",
                    json_type_name(settings)
                )));
            };
            for (name, value) in settings {
                config = config.with_setting(scope, name, value)?;
            }
        }
        Ok(config)
    }
}

/// `credentials` keys holding DuckDB settings, with their scope, as dlt names them.
const SETTING_KEYS: [(&str, SettingScope); 2] =
    [("global_config", SettingScope::Global), ("local_config", SettingScope::Session)];

/// Checks a setting's name and renders its value as an SQL literal.
fn parse_setting(scope: SettingScope, name: &str, value: &Value) -> Result<DuckDbSetting, PluginError> {
    let valid_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return Err(PluginError::config(format!(
            "DuckDB setting name `{name}` is not valid: use letters, digits and `_`, as in memory_limit"
        )));
    }
    let literal = match value {
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => format!("'{}'", text.replace('\'', "''")),
        other => {
            return Err(PluginError::config(format!(
                "DuckDB setting `{name}` must be a string, number or boolean, got {}",
                json_type_name(other)
            )));
        }
    };
    Ok(DuckDbSetting {
        scope,
        name: name.to_owned(),
        value: literal,
    })
}

fn parse_runner_context(value: Option<&Value>) -> Result<Option<RunnerContext>, PluginError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|error| {
                PluginError::config(format!(
                    "invalid `_runner` settings from the runner: {error}"
                ))
            }),
    }
}

/// Returns the `database` path string of `credentials`, or `None` when absent.
fn parse_credentials(value: Option<&Value>) -> Result<Option<String>, PluginError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(path)) => Ok(Some(path.clone())),
        Some(Value::Object(fields)) => {
            let accepted = ["database", "global_config", "local_config"];
            if let Some(unknown) = fields.keys().find(|key| !accepted.contains(&key.as_str())) {
                return Err(PluginError::config(format!(
                    "unknown key `credentials.{unknown}` in the duckdb destination configuration. \
                     Accepted keys are {}",
                    accepted.join(", ")
                )));
            }
            match fields.get("database") {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(path)) => Ok(Some(path.clone())),
                Some(other) => Err(PluginError::config(format!(
                    "`credentials.database` must be a file path string, got {}",
                    json_type_name(other)
                ))),
            }
        }
        Some(other) => Err(PluginError::config(format!(
            "`credentials` must be a database file path or a mapping with `database`, got {}",
            json_type_name(other)
        ))),
    }
}

fn resolve_database_path(
    database: Option<&str>,
    runner: Option<&RunnerContext>,
) -> Result<PathBuf, PluginError> {
    let Some(database) = database else {
        let runner = require_runner(runner, "a default database path")?;
        return Ok(Path::new(&runner.project_dir).join(format!("{}.duckdb", runner.pipeline_name)));
    };

    if database == PIPELINE_CREDENTIALS {
        let runner = require_runner(runner, "the `:pipeline:` database path")?;
        return Ok(Path::new(&runner.working_dir).join(format!("{}.duckdb", runner.pipeline_name)));
    }

    // Every call opens its own connection, so an in-memory database would lose
    // its data between calls.
    if database.is_empty() || database == ":memory:" {
        return Err(PluginError::config(format!(
            "`credentials` {database:?} is not a database file path. In-memory databases are not supported \
             because every call opens a new connection"
        )));
    }

    let path = Path::new(database.strip_prefix(URL_PREFIX).unwrap_or(database));
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    match runner {
        Some(runner) => Ok(Path::new(&runner.project_dir).join(path)),
        None => Ok(path.to_path_buf()),
    }
}

fn require_runner<'a>(
    runner: Option<&'a RunnerContext>,
    purpose: &str,
) -> Result<&'a RunnerContext, PluginError> {
    match runner {
        Some(runner) if !runner.pipeline_name.is_empty() => Ok(runner),
        _ => Err(PluginError::config(format!(
            "cannot derive {purpose} without a pipeline name. Set `credentials` to a database file path"
        ))),
    }
}


#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn runner() -> Value {
        json!({"pipeline_name": "p", "project_dir": "/project", "working_dir": "/work/p"})
    }

    fn database(config: Value) -> PathBuf {
        DuckDbConfig::from_json(&config)
            .expect("valid configuration")
            .database
    }

    #[test]
    fn settings_become_sql_literals_in_order() {
        let config = DuckDbConfig::from_json(&json!({
            "credentials": {
                "database": "/db/w.duckdb",
                "global_config": {"memory_limit": "256MB", "threads": 2},
                "local_config": {"preserve_insertion_order": false}
            }
        }))
        .expect("valid configuration");
        let rendered: Vec<_> = config
            .settings
            .iter()
            .map(|s| (s.scope, s.name.as_str(), s.value.as_str()))
            .collect();
        assert_eq!(
            rendered,
            [
                (SettingScope::Global, "memory_limit", "'256MB'"),
                (SettingScope::Global, "threads", "2"),
                (SettingScope::Session, "preserve_insertion_order", "false"),
            ]
        );
    }

    #[test]
    fn setting_name_with_sql_rejected() {
        let error = DuckDbConfig::from_json(&json!({
            "credentials": {"database": "/db/w.duckdb", "global_config": {"threads = 1; DROP TABLE x": 1}}
        }))
        .unwrap_err();
        assert!(error.message.contains("is not valid"), "{}", error.message);
    }

    #[test]
    fn relative_path_resolves_against_project() {
        let path = database(
            json!({"type": "duckdb", "credentials": "data/w.duckdb", "_runner": runner()}),
        );
        assert_eq!(path, PathBuf::from("/project/data/w.duckdb"));
    }

    #[test]
    fn absolute_path_kept() {
        let path = database(json!({"credentials": "/abs/w.duckdb", "_runner": runner()}));
        assert_eq!(path, PathBuf::from("/abs/w.duckdb"));
    }

    #[test]
    fn pipeline_credentials_use_working_dir() {
        let path = database(json!({"credentials": ":pipeline:", "_runner": runner()}));
        assert_eq!(path, PathBuf::from("/work/p/p.duckdb"));
    }

    #[test]
    fn missing_credentials_use_default() {
        let path = database(json!({"type": "duckdb", "_runner": runner()}));
        assert_eq!(path, PathBuf::from("/project/p.duckdb"));
    }

    #[test]
    fn mapping_credentials_accepted() {
        let path = database(json!({"credentials": {"database": "w.duckdb"}, "_runner": runner()}));
        assert_eq!(path, PathBuf::from("/project/w.duckdb"));
    }

    #[test]
    fn url_credentials_accepted() {
        let relative = database(json!({"credentials": "duckdb:///w.duckdb", "_runner": runner()}));
        assert_eq!(relative, PathBuf::from("/project/w.duckdb"));

        let absolute =
            database(json!({"credentials": "duckdb:////abs/w.duckdb", "_runner": runner()}));
        assert_eq!(absolute, PathBuf::from("/abs/w.duckdb"));
    }

    #[test]
    fn unknown_key_rejected() {
        let error = DuckDbConfig::from_json(
            &json!({"type": "duckdb", "databse": "x", "_runner": runner()}),
        )
        .expect_err("unknown key must be rejected");
        assert_eq!(error.category, plugin_sdk::ErrorCategory::Config);
        assert!(error.message().contains("`databse`"), "{error}");
    }

    #[test]
    fn unknown_credentials_key_rejected() {
        let error = DuckDbConfig::from_json(
            &json!({"credentials": {"database": "x", "password": "s3cret"}}),
        )
        .expect_err("unknown key must be rejected");
        assert_eq!(error.category, plugin_sdk::ErrorCategory::Config);
        assert!(error.message().contains("credentials.password"), "{error}");
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }

    #[test]
    fn wrong_type_rejected() {
        let error = DuckDbConfig::from_json(&json!({"type": "postgres"})).expect_err("wrong type");
        assert_eq!(error.category, plugin_sdk::ErrorCategory::Config);
    }

    #[test]
    fn memory_database_rejected() {
        let error = DuckDbConfig::from_json(&json!({"credentials": ":memory:"}))
            .expect_err("in-memory database");
        assert_eq!(error.category, plugin_sdk::ErrorCategory::Config);
    }

    #[test]
    fn default_without_runner_rejected() {
        let error =
            DuckDbConfig::from_json(&json!({"type": "duckdb"})).expect_err("no pipeline name");
        assert_eq!(error.category, plugin_sdk::ErrorCategory::Config);
    }
}
