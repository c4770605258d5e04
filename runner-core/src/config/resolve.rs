//! Resolution of one pipeline into everything a run needs, with destination
//! settings taken from the environment.
//!
//! Two kinds of environment variables apply to a destination named `<name>`:
//!
//! - A whole value written `${VAR}` in its mapping, at any depth, is replaced
//!   by the variable `VAR`. A value that only contains `${` stays as written.
//! - `DESTINATION__<NAME>__<KEY>` and then `DESTINATIONS__<NAME>__<KEY>`
//!   (the name in upper case) set key `<key>`, overriding `dlt.yml`, as dlt
//!   does. Further `__<FIELD>` segments set nested keys, so
//!   `DESTINATIONS__WAREHOUSE__CREDENTIALS__PASSWORD` sets
//!   `credentials.password`. Key segments are lowercased. A value for the whole
//!   `credentials` key that starts with `{` is read as a JSON object; every
//!   other value is a string.
//!
//! `NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION`, or else
//! `DATA_WRITER__DISABLE_COMPRESSION`, turns off gzip for text data files,
//! as in dlt. It reaches destinations as `_runner.disable_compression`.
//!
//! Errors name the variable and the key, never the value.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::destination::{BUILTIN_DESTINATION_TYPES, DestinationConfig};
use super::error::{ConfigError, ConfigErrorKind};
use super::project::Project;
use super::run_config::RunConfig;
use super::source::SourceConfig;
use crate::schema::SchemaContract;

/// A pipeline with the configuration it refers to, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedPipeline {
    pub name: String,
    /// The project folder, against which relative paths resolve.
    pub project_dir: PathBuf,
    /// The key of the source in `sources`.
    pub source_name: String,
    /// The source; for a files source, `format` is always set.
    pub source: SourceConfig,
    /// The destination with environment variables applied. A bare type such
    /// as `destination: duckdb` yields a destination named after the type.
    pub destination: DestinationConfig,
    /// `dataset_name`, or `<pipeline_name>_dataset`.
    pub dataset_name: String,
    pub run_config: RunConfig,
    /// The schema contract of the loaded tables: the source's
    /// `schema_contract`, else the `contract` of the dataset in `datasets`.
    pub schema_contract: Option<SchemaContract>,
    /// dlt's `data_writer.disable_compression`: write text data files
    /// without gzip.
    pub disable_compression: bool,
}

impl Project {
    /// Resolves pipeline `name` with the process environment.
    pub fn resolve(&self, name: &str) -> Result<ResolvedPipeline, ConfigError> {
        // Variables with names or values that are not UTF-8 cannot be
        // referenced from dlt.yml, so they are skipped.
        let environment: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        self.resolve_with_env(name, &environment)
    }

    /// Resolves pipeline `name` with `environment` in place of the process
    /// environment.
    pub fn resolve_with_env(
        &self,
        name: &str,
        environment: &BTreeMap<String, String>,
    ) -> Result<ResolvedPipeline, ConfigError> {
        let pipeline = self.pipeline(name)?;
        let in_file = |error: ConfigError| error.in_file(&self.file, None);

        let source = self
            .sources
            .get(&pipeline.source)
            .ok_or_else(|| in_file(undefined_name(name, "source", &pipeline.source)))?;

        let mut destination = match self.destinations.get(&pipeline.destination) {
            Some(destination) => destination.clone(),
            None if BUILTIN_DESTINATION_TYPES.contains(&pipeline.destination.as_str()) => {
                DestinationConfig::bare(&pipeline.destination)
            }
            None => {
                return Err(in_file(undefined_name(
                    name,
                    "destination",
                    &pipeline.destination,
                )));
            }
        };
        self.toml_settings.apply(&destination.name, &mut destination.config);
        apply_environment(&mut destination, environment).map_err(in_file)?;
        let disable_compression = disable_compression(environment).map_err(in_file)?;

        let dataset_name = pipeline.dataset_name_or_default();
        let source_contract = match source {
            SourceConfig::Files(files) => files.schema_contract,
            SourceConfig::Plugin { .. } => None,
        };
        let dataset_contract = self.datasets.get(&dataset_name).and_then(|dataset| dataset.contract);

        Ok(ResolvedPipeline {
            name: pipeline.name.clone(),
            project_dir: self.dir.clone(),
            source_name: pipeline.source.clone(),
            source: with_effective_format(source),
            destination,
            dataset_name,
            run_config: pipeline.run_config.clone(),
            schema_contract: source_contract.or(dataset_contract),
            disable_compression,
        })
    }
}

/// Reports a name that loading would have rejected, for projects built in code.
fn undefined_name(pipeline: &str, kind: &'static str, name: &str) -> ConfigError {
    let section = if kind == "source" {
        "sources"
    } else {
        "destinations"
    };
    let kind = ConfigErrorKind::UndefinedReference {
        path: format!("pipelines.{pipeline}.{kind}"),
        kind,
        name: name.to_owned(),
        section,
        available: Vec::new(),
        suggestion: None,
    };
    ConfigError::new(kind, None)
}

fn with_effective_format(source: &SourceConfig) -> SourceConfig {
    let mut source = source.clone();
    if let SourceConfig::Files(files) = &mut source {
        files.format = files.effective_format();
    }
    source
}

/// Variables that set dlt's `data_writer.disable_compression`, in the order
/// dlt looks them up.
const DISABLE_COMPRESSION_VARIABLES: [&str; 2] = [
    "NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION",
    "DATA_WRITER__DISABLE_COMPRESSION",
];

/// Reads `data_writer.disable_compression` from the first variable that is
/// set; false when none is.
fn disable_compression(environment: &BTreeMap<String, String>) -> Result<bool, ConfigError> {
    let Some((variable, value)) = DISABLE_COMPRESSION_VARIABLES
        .iter()
        .find_map(|variable| Some((*variable, environment.get(*variable)?)))
    else {
        return Ok(false);
    };

    // The spellings dlt accepts for a boolean setting.
    match value.trim().to_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" => Ok(true),
        "false" | "f" | "no" | "n" | "0" => Ok(false),
        _ => Err(env_error(
            variable,
            "data_writer.disable_compression",
            "the value must be true or false",
        )),
    }
}

/// Applies `DESTINATION(S)__<NAME>__...` overrides, then replaces `${VAR}` values.
fn apply_environment(
    destination: &mut DestinationConfig,
    environment: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    let base_path = format!("destinations.{}", destination.name);
    let upper_name = destination.name.to_uppercase();
    let mut overridden: Vec<Vec<String>> = Vec::new();

    for section in ["DESTINATION", "DESTINATIONS"] {
        let prefix = format!("{section}__{upper_name}__");
        for (variable, value) in environment.range(prefix.clone()..) {
            let Some(rest) = variable.strip_prefix(&prefix) else {
                break;
            };
            let keys = override_keys(variable, rest, &base_path)?;
            set_override(&mut destination.config, &keys, variable, value, &base_path)?;
            overridden.push(keys);
        }
    }

    substitute_references(
        &mut destination.config,
        &mut Vec::new(),
        &overridden,
        environment,
        &base_path,
    )
}

/// Splits the key part of an override variable into lowercase keys.
fn override_keys(variable: &str, rest: &str, base_path: &str) -> Result<Vec<String>, ConfigError> {
    let keys: Vec<String> = rest.split("__").map(str::to_lowercase).collect();

    if keys.iter().any(String::is_empty) {
        return Err(env_error(
            variable,
            base_path,
            "a key between `__` separators is empty; fix the name",
        ));
    }
    if keys[0] == "type" {
        let reason = "the destination type comes only from dlt.yml; unset the variable or change `type` there";
        return Err(env_error(variable, &format!("{base_path}.type"), reason));
    }
    Ok(keys)
}

fn set_override(
    config: &mut serde_json::Value,
    keys: &[String],
    variable: &str,
    value: &str,
    base_path: &str,
) -> Result<(), ConfigError> {
    let key_path = format!("{base_path}.{}", keys.join("."));
    if !config.is_object() {
        return Err(env_error(
            variable,
            &key_path,
            "the destination settings are not a mapping",
        ));
    }
    let parsed = parse_override_value(keys, value).ok_or_else(|| {
        env_error(
            variable,
            &key_path,
            "a value that starts with `{` must be a JSON object; fix the value",
        )
    })?;

    let (last, parents) = keys
        .split_last()
        .expect("override_keys returns at least one key");
    let mut target = config;
    for (depth, key) in parents.iter().enumerate() {
        let object = target.as_object_mut().expect("every level is an object");
        let child = object
            .entry(key.clone())
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));

        if !child.is_object() {
            let parent_path = format!("{base_path}.{}", keys[..=depth].join("."));
            let reason = format!(
                "{parent_path} is not a mapping in dlt.yml, so it has no field `{}`; set the whole value with \
                 the variable for {parent_path} instead",
                keys[depth + 1]
            );
            return Err(env_error(variable, &key_path, &reason));
        }
        target = child;
    }

    let object = target.as_object_mut().expect("every level is an object");
    object.insert(last.clone(), parsed);
    Ok(())
}

/// Reads an override value: a JSON object for a whole `credentials` value
/// that starts with `{`, otherwise a string. Returns `None` for invalid JSON.
fn parse_override_value(keys: &[String], value: &str) -> Option<serde_json::Value> {
    let whole_credentials = keys.len() == 1 && keys[0] == "credentials";
    if whole_credentials && value.trim_start().starts_with('{') {
        return serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(value)
            .ok()
            .map(serde_json::Value::Object);
    }
    Some(serde_json::Value::String(value.to_owned()))
}

/// Replaces whole `${VAR}` strings below `value`, except at keys that an
/// override set, whose values are taken as given.
fn substitute_references(
    value: &mut serde_json::Value,
    keys: &mut Vec<String>,
    overridden: &[Vec<String>],
    environment: &BTreeMap<String, String>,
    base_path: &str,
) -> Result<(), ConfigError> {
    if overridden.iter().any(|set| keys.starts_with(set)) {
        return Ok(());
    }

    match value {
        serde_json::Value::String(text) => {
            if let Some(variable) = variable_reference(text) {
                let replacement = environment.get(variable).ok_or_else(|| {
                    let kind = ConfigErrorKind::MissingEnvVar {
                        variable: variable.to_owned(),
                        path: join_path(base_path, keys),
                    };
                    ConfigError::new(kind, None)
                })?;
                *text = replacement.clone();
            }
        }
        serde_json::Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                keys.push(key.clone());
                substitute_references(child, keys, overridden, environment, base_path)?;
                keys.pop();
            }
        }
        serde_json::Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                keys.push(format!("[{index}]"));
                substitute_references(item, keys, overridden, environment, base_path)?;
                keys.pop();
            }
        }
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {}
    }
    Ok(())
}

/// Returns `VAR` when `text` is exactly `${VAR}` with a valid variable name
/// (a letter or `_`, then letters, digits or `_`).
fn variable_reference(text: &str) -> Option<&str> {
    let name = text.strip_prefix("${")?.strip_suffix('}')?;
    let mut chars = name.chars();
    let first = chars.next()?;

    let valid = (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(name)
}

fn join_path(base_path: &str, keys: &[String]) -> String {
    let mut path = base_path.to_owned();
    for key in keys {
        if !key.starts_with('[') {
            path.push('.');
        }
        path.push_str(key);
    }
    path
}

fn env_error(variable: &str, path: &str, reason: &str) -> ConfigError {
    let kind = ConfigErrorKind::InvalidEnvVar {
        variable: variable.to_owned(),
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    ConfigError::new(kind, None)
}
