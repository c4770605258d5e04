//! Typed reading of [`Node`] trees with dotted key paths in every error.
//!
//! A null value (`key:` with nothing after it) counts as an absent key, so an
//! optional key can be left empty.

use super::error::{ConfigError, ConfigErrorKind, Location};
use super::suggest::nearest;
use super::yaml::{Entry, Node, Value};

/// Joins a key onto a dotted key path.
pub(crate) fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Returns the entries of a mapping node, rejecting other types and duplicate
/// keys. A null node is an empty mapping.
pub(crate) fn mapping_entries<'a>(node: &'a Node, path: &str) -> Result<&'a [Entry], ConfigError> {
    let entries: &[Entry] = match &node.value {
        Value::Mapping(entries) => entries,
        Value::Null => &[],
        other => return Err(wrong_type(node.location, path, "a mapping", other)),
    };

    reject_duplicates(entries, path)?;
    Ok(entries)
}

fn reject_duplicates(entries: &[Entry], path: &str) -> Result<(), ConfigError> {
    for (index, entry) in entries.iter().enumerate() {
        let first = entries[..index]
            .iter()
            .find(|earlier| earlier.key == entry.key);
        if let Some(first) = first {
            let kind = ConfigErrorKind::DuplicateKey {
                key: entry.key.clone(),
                parent: path.to_owned(),
                first_line: first.key_location.line,
            };
            return Err(ConfigError::at(entry.key_location, kind));
        }
    }
    Ok(())
}

/// The entries of one mapping whose keys have been checked against a fixed set.
pub(crate) struct Fields<'a> {
    path: String,
    location: Location,
    entries: &'a [Entry],
}

impl<'a> Fields<'a> {
    /// Reads `node` as a mapping that takes only the `allowed` keys.
    ///
    /// `location` is blamed for missing keys; callers pass the location of the
    /// key that introduced this mapping, which is where a reader looks.
    pub(crate) fn read(
        node: &'a Node,
        path: &str,
        location: Location,
        allowed: &[&str],
    ) -> Result<Self, ConfigError> {
        let entries = mapping_entries(node, path)?;

        for entry in entries {
            if !allowed.contains(&entry.key.as_str()) {
                return Err(unknown_key(entry, path, allowed));
            }
        }

        Ok(Fields {
            path: path.to_owned(),
            location,
            entries,
        })
    }

    /// Returns the entry for `key` unless it is absent or null.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Entry> {
        self.entries
            .iter()
            .find(|entry| entry.key == key && entry.value.value != Value::Null)
    }

    /// Returns the entry for `key`, or a missing-key error with `help`.
    pub(crate) fn require(&self, key: &'static str, help: &str) -> Result<&'a Entry, ConfigError> {
        self.get(key).ok_or_else(|| {
            let kind = ConfigErrorKind::MissingKey {
                key,
                parent: self.path.clone(),
                help: help.to_owned(),
            };
            ConfigError::at(self.location, kind)
        })
    }

    /// Reads an optional string value.
    pub(crate) fn string(&self, key: &str) -> Result<Option<Located<&'a str>>, ConfigError> {
        self.get(key)
            .map(|entry| as_str(&entry.value, &self.key_path(key)))
            .transpose()
    }

    /// Reads an optional boolean value.
    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        let Some(entry) = self.get(key) else {
            return Ok(None);
        };

        match &entry.value.value {
            Value::Bool(flag) => Ok(Some(*flag)),
            other => Err(wrong_type(
                entry.value.location,
                &self.key_path(key),
                "`true` or `false`",
                other,
            )),
        }
    }

    /// Returns the dotted path of `key` in this mapping.
    pub(crate) fn key_path(&self, key: &str) -> String {
        child_path(&self.path, key)
    }
}

/// A value with the location it was read from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Located<T> {
    pub value: T,
    pub location: Location,
}

/// Reads `node` as a non-empty string.
pub(crate) fn as_str<'a>(node: &'a Node, path: &str) -> Result<Located<&'a str>, ConfigError> {
    let Value::String(text) = &node.value else {
        return Err(wrong_type(node.location, path, "a string", &node.value));
    };

    if text.trim().is_empty() {
        return Err(invalid_value(node, path, "must not be empty"));
    }
    Ok(Located {
        value: text,
        location: node.location,
    })
}

/// Reads `node` as a list of nodes.
pub(crate) fn as_sequence<'a>(
    node: &'a Node,
    path: &str,
    example: &'static str,
) -> Result<&'a [Node], ConfigError> {
    match &node.value {
        Value::Sequence(items) => Ok(items),
        other => Err(wrong_type(node.location, path, example, other)),
    }
}

/// Converts a node into JSON, rejecting duplicate keys at any depth.
pub(crate) fn to_json(node: &Node, path: &str) -> Result<serde_json::Value, ConfigError> {
    let json = match &node.value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(flag) => serde_json::Value::Bool(*flag),
        Value::Number(number) => serde_json::Value::Number(number.clone()),
        Value::String(text) => serde_json::Value::String(text.clone()),
        Value::Sequence(items) => {
            let converted = items
                .iter()
                .enumerate()
                .map(|(index, item)| to_json(item, &format!("{path}[{index}]")))
                .collect::<Result<Vec<_>, _>>()?;
            serde_json::Value::Array(converted)
        }
        Value::Mapping(entries) => {
            reject_duplicates(entries, path)?;
            let mut object = serde_json::Map::new();
            for entry in entries {
                let value = to_json(&entry.value, &child_path(path, &entry.key))?;
                object.insert(entry.key.clone(), value);
            }
            serde_json::Value::Object(object)
        }
    };
    Ok(json)
}

/// Creates an "invalid type" error.
pub(crate) fn wrong_type(
    location: Location,
    path: &str,
    expected: &'static str,
    found: &Value,
) -> ConfigError {
    let kind = ConfigErrorKind::WrongType {
        path: path.to_owned(),
        expected,
        found: found.describe(),
    };
    ConfigError::at(location, kind)
}

/// Creates an "invalid value" error that shows the node's value.
pub(crate) fn invalid_value(node: &Node, path: &str, reason: impl Into<String>) -> ConfigError {
    let kind = ConfigErrorKind::InvalidValue {
        path: path.to_owned(),
        value: node.value.display(),
        reason: reason.into(),
    };
    ConfigError::at(node.location, kind)
}

fn unknown_key(entry: &Entry, path: &str, allowed: &[&str]) -> ConfigError {
    let kind = ConfigErrorKind::UnknownKey {
        key: entry.key.clone(),
        parent: path.to_owned(),
        expected: allowed.iter().map(|key| (*key).to_owned()).collect(),
        suggestion: nearest(&entry.key, allowed.iter().copied()),
    };
    ConfigError::at(entry.key_location, kind)
}
