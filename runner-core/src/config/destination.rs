//! `destinations.<name>`: where a pipeline loads its data.

use std::fmt;

use super::error::{ConfigError, ConfigErrorKind};
use super::fields::{as_str, to_json, wrong_type};
use super::suggest::format_names;
use super::yaml::{Entry, Value};

/// Destination types that a pipeline may name directly in its `destination`
/// key, without an entry in `destinations`.
pub const BUILTIN_DESTINATION_TYPES: [&str; 2] = ["duckdb", "filesystem"];

/// One entry of the `destinations` (or `destination`) mapping.
///
/// ```yaml
/// destinations:
///   warehouse:
///     type: duckdb                   # optional when the name is a built-in type
///     credentials: warehouse.duckdb  # relative to the project folder
/// ```
///
/// Keys other than `type` pass through to the destination plugin unchanged.
/// [`super::Project::resolve`] replaces whole values written `${VAR}` with
/// the environment variable `VAR`, and applies `DESTINATIONS__<NAME>__...`
/// variables (see [`super::resolve`]).
///
/// `Debug` omits the settings, because resolved credentials are secrets.
#[derive(Clone, PartialEq)]
pub struct DestinationConfig {
    /// The entry's name; for a bare type in a pipeline, the type itself.
    pub name: String,
    /// The `type` key, or the name when the entry has no `type`.
    pub type_name: String,
    /// The whole mapping as JSON, with `type` always set.
    pub config: serde_json::Value,
}

impl DestinationConfig {
    /// Creates the destination that a pipeline names by a bare type, such as
    /// `destination: duckdb`: named after the type, with no settings.
    pub fn bare(type_name: &str) -> Self {
        DestinationConfig {
            name: type_name.to_owned(),
            type_name: type_name.to_owned(),
            config: serde_json::json!({ "type": type_name }),
        }
    }
}

impl fmt::Debug for DestinationConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = match &self.config {
            serde_json::Value::Object(map) => map.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        f.debug_struct("DestinationConfig")
            .field("name", &self.name)
            .field("type_name", &self.type_name)
            .field("config_keys", &keys)
            .finish_non_exhaustive()
    }
}

/// Reads one destination entry found at `path` (`destinations.<name>`).
pub(crate) fn parse_destination(
    entry: &Entry,
    path: &str,
) -> Result<DestinationConfig, ConfigError> {
    let node = &entry.value;
    if !matches!(node.value, Value::Mapping(_) | Value::Null) {
        return Err(wrong_type(
            node.location,
            path,
            "a mapping with a `type` key",
            &node.value,
        ));
    }

    let mut config = match to_json(node, path)? {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };

    let type_name = read_type(entry, path)?;
    config.insert(
        "type".to_owned(),
        serde_json::Value::String(type_name.clone()),
    );

    Ok(DestinationConfig {
        name: entry.key.clone(),
        type_name,
        config: serde_json::Value::Object(config),
    })
}

/// Returns the `type` key, or the entry's name when that is a built-in type.
fn read_type(entry: &Entry, path: &str) -> Result<String, ConfigError> {
    let declared = match &entry.value.value {
        Value::Mapping(entries) => entries
            .iter()
            .find(|item| item.key == "type" && item.value.value != Value::Null),
        _ => None,
    };

    if let Some(declared) = declared {
        return Ok(as_str(&declared.value, &format!("{path}.type"))?
            .value
            .to_owned());
    }

    if BUILTIN_DESTINATION_TYPES.contains(&entry.key.as_str()) {
        return Ok(entry.key.clone());
    }

    let kind = ConfigErrorKind::MissingKey {
        key: "type",
        parent: path.to_owned(),
        help: format!(
            "add `type:` with {} or the type of a destination plugin",
            format_names(&BUILTIN_DESTINATION_TYPES)
        ),
    };
    Err(ConfigError::at(entry.key_location, kind))
}
