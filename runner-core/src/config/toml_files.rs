//! dlt's TOML files of a project: `.dlt/config.toml` and `.dlt/secrets.toml`
//! in the project folder.
//!
//! The runner reads destination settings from them, under
//! `[destination.<name>]` or `[destinations.<name>]` with `<name>` the
//! destination's key in `dlt.yml`, for example `credentials` kept out of
//! `dlt.yml`. As in dlt, environment variables override the files and
//! `secrets.toml` overrides `config.toml`. Both override `dlt.yml`, as the
//! environment variables do. Other sections are logged as not read, because
//! sources and pipelines are configured in `dlt.yml` only.

use std::path::Path;

use serde_json::{Map, Value};

use super::error::{ConfigError, ConfigErrorKind, Location};

/// Folder of dlt's TOML files inside the project folder.
const SETTINGS_FOLDER: &str = ".dlt";

/// The files in the order they are applied, so the later one wins.
const FILE_NAMES: [&str; 2] = ["config.toml", "secrets.toml"];

/// The sections of the files that set destination settings.
const DESTINATION_SECTIONS: [&str; 2] = ["destination", "destinations"];

/// Destination settings from a project's TOML files, by destination name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TomlSettings {
    destinations: Map<String, Value>,
}

impl TomlSettings {
    /// Reads the TOML files of the project in `project_dir`; missing files
    /// set nothing.
    pub(crate) fn load(project_dir: &Path) -> Result<TomlSettings, ConfigError> {
        let mut settings = TomlSettings::default();
        for file_name in FILE_NAMES {
            let path = project_dir.join(SETTINGS_FOLDER).join(file_name);
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(ConfigError::new(ConfigErrorKind::Read { source }, None).in_file(&path, None)),
            };
            settings.add_file(&path, &text)?;
        }
        Ok(settings)
    }

    /// Merges the destination sections of one file over the settings so far.
    fn add_file(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|error| syntax_error(path, text, &error))?;

        for (section, value) in table {
            if !DESTINATION_SECTIONS.contains(&section.as_str()) {
                tracing::warn!(
                    file = %path.display(),
                    section = %section,
                    "section is not read: this runner takes only destination settings from TOML files, the rest from dlt.yml"
                );
                continue;
            }
            let toml::Value::Table(destinations) = value else {
                return Err(setting_error(path, &section, "it must be a table of destinations, such as [destination.warehouse]"));
            };
            for (name, settings) in destinations {
                let key_path = format!("{section}.{name}");
                let Value::Object(settings) = json_value(settings) else {
                    return Err(setting_error(path, &key_path, "it must be a table of settings"));
                };
                if settings.contains_key("type") {
                    let reason = "the destination type comes only from dlt.yml; remove `type` from the file";
                    return Err(setting_error(path, &format!("{key_path}.type"), reason));
                }
                let target = self.destinations.entry(name).or_insert_with(|| Value::Object(Map::new()));
                merge(target, Value::Object(settings));
            }
        }
        Ok(())
    }

    /// Returns the destination names that the files set and that
    /// `is_known` rejects, such as a misspelt name or a destination type.
    pub(crate) fn unknown_destinations(&self, is_known: impl Fn(&str) -> bool) -> Vec<&str> {
        self.destinations.keys().map(String::as_str).filter(|name| !is_known(name)).collect()
    }

    /// Applies the settings of destination `name` over `config`, the
    /// destination's mapping from `dlt.yml`.
    pub(crate) fn apply(&self, name: &str, config: &mut Value) {
        if let Some(settings) = self.destinations.get(name) {
            merge(config, settings.clone());
        }
    }
}

/// Merges `overlay` into `target`: mappings key by key, other values whole.
fn merge(target: &mut Value, overlay: Value) {
    match (target, overlay) {
        (Value::Object(target), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match target.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        target.insert(key, value);
                    }
                }
            }
        }
        (target, overlay) => *target = overlay,
    }
}

/// Converts a TOML value to JSON. Dates and times become their TOML text.
fn json_value(value: toml::Value) -> Value {
    match value {
        toml::Value::String(text) => Value::String(text),
        toml::Value::Integer(integer) => Value::from(integer),
        toml::Value::Float(float) => serde_json::Number::from_f64(float).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(boolean) => Value::Bool(boolean),
        toml::Value::Datetime(datetime) => Value::String(datetime.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(json_value).collect()),
        toml::Value::Table(table) => Value::Object(table.into_iter().map(|(key, value)| (key, json_value(value))).collect()),
    }
}

/// Reports a TOML syntax error by line and column, without the line's text.
fn syntax_error(path: &Path, text: &str, error: &toml::de::Error) -> ConfigError {
    let location = error.span().map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() as u64 + 1;
        let column = before.rsplit('\n').next().map_or(0, |last| last.chars().count()) as u64 + 1;
        Location { line, column }
    });
    let kind = ConfigErrorKind::TomlSyntax {
        message: error.message().trim_end().to_owned(),
    };
    ConfigError::new(kind, location).in_file(path, None)
}

fn setting_error(path: &Path, key_path: &str, reason: &str) -> ConfigError {
    let kind = ConfigErrorKind::InvalidTomlSetting {
        path: key_path.to_owned(),
        reason: reason.to_owned(),
    };
    ConfigError::new(kind, None).in_file(path, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(SETTINGS_FOLDER)).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(SETTINGS_FOLDER).join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn secrets_override_config() {
        let dir = project_with(&[
            ("config.toml", "[destination.wh]\ncredentials = \"config.duckdb\"\nthreads = 2\n"),
            ("secrets.toml", "[destination.wh]\ncredentials = \"secret.duckdb\"\n"),
        ]);

        let settings = TomlSettings::load(dir.path()).unwrap();
        let mut config = serde_json::json!({"type": "duckdb", "credentials": "yml.duckdb"});
        settings.apply("wh", &mut config);

        assert_eq!(config["credentials"], "secret.duckdb");
        assert_eq!(config["threads"], 2);
        assert_eq!(config["type"], "duckdb");
    }

    #[test]
    fn nested_tables_merge() {
        let dir = project_with(&[("secrets.toml", "[destinations.lake.credentials]\naws_secret_access_key = \"k\"\n")]);

        let settings = TomlSettings::load(dir.path()).unwrap();
        let mut config = serde_json::json!({"credentials": {"aws_access_key_id": "id"}});
        settings.apply("lake", &mut config);

        assert_eq!(config["credentials"]["aws_access_key_id"], "id");
        assert_eq!(config["credentials"]["aws_secret_access_key"], "k");
    }

    #[test]
    fn syntax_error_hides_line() {
        let dir = project_with(&[("secrets.toml", "[destination.wh]\npassword = \"hunter2\n")]);

        let error = TomlSettings::load(dir.path()).unwrap_err();

        let message = error.to_string();
        assert!(message.contains("secrets.toml:2:"), "{message}");
        assert!(message.contains("invalid TOML"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn type_key_rejected() {
        let dir = project_with(&[("config.toml", "[destination.wh]\ntype = \"filesystem\"\n")]);

        let error = TomlSettings::load(dir.path()).unwrap_err();

        assert!(error.to_string().contains("destination.wh.type cannot be set"), "{error}");
    }

    #[test]
    fn no_files_set_nothing() {
        let dir = tempfile::tempdir().unwrap();

        let settings = TomlSettings::load(dir.path()).unwrap();

        assert_eq!(settings, TomlSettings::default());
    }
}
