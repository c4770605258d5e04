//! Parsing of `dlt.yml` text into a tree of nodes that keep their location.
//!
//! serde-saphyr 2.2 has no YAML value type, but its `Spanned<T>` wrapper
//! records the line and column of any node it wraps. Deserializing into the
//! [`Node`] tree below, with every value and key wrapped, keeps a location for
//! each of them, so the validation that follows can point at the exact key
//! or value, not only at YAML syntax errors. Deserializing straight into
//! typed structs would lose locations for internally tagged enums (the
//! `type` key of sources and retry policies), and serde's unknown-field
//! errors carry neither the key path nor a hint.
//!
//! Duplicate keys are forwarded to the tree (`DuplicateKeyPolicy::PassThrough`)
//! and rejected during validation, where the key path of the mapping is known.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{MessageFormatter, Spanned, UserMessageFormatter};

use super::error::{ConfigError, ConfigErrorKind, Location};

/// A YAML value with the location of its first character.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    pub location: Location,
}

/// A YAML value. Plain scalars are typed as serde-saphyr reads them with
/// strict booleans: `true` is a boolean, `yes` and quoted `"5"` are strings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Sequence(Vec<Node>),
    /// Entries in file order, duplicates included.
    Mapping(Vec<Entry>),
}

/// One `key: value` entry of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The key as text; scalar keys such as `1` or `true` become their text.
    pub key: String,
    pub key_location: Location,
    pub value: Node,
}

/// Parses a whole project file into one node.
///
/// An empty file, or one with only comments, is an empty mapping.
pub(crate) fn parse(text: &str) -> Result<Node, ConfigError> {
    if is_blank(text) {
        return Ok(Node {
            value: Value::Mapping(Vec::new()),
            location: Location { line: 1, column: 1 },
        });
    }

    // Snippets are rendered by `ConfigError`, so the parser's own are off.
    // Only `true` and `false` are booleans (YAML 1.2): with YAML 1.1 rules a
    // source named `y` or `no` would become a boolean key.
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        strict_booleans: true,
        with_snippet: false,
    };

    serde_saphyr::from_str_with_options::<Node>(text, options)
        .map_err(|error| syntax_error(text, &error))
}

impl Value {
    /// Describes the value for "found ..." in type errors.
    pub(crate) fn describe(&self) -> String {
        match self {
            Value::Null => "null".to_owned(),
            Value::Bool(flag) => format!("boolean {flag}"),
            Value::Number(number) => format!("number {number}"),
            Value::String(text) => format!("string `{text}`"),
            Value::Sequence(_) => "a list".to_owned(),
            Value::Mapping(_) => "a mapping".to_owned(),
        }
    }

    /// Renders a scalar the way it appears in "invalid value ..." messages.
    pub(crate) fn display(&self) -> String {
        match self {
            Value::Null => "null".to_owned(),
            Value::Bool(flag) => flag.to_string(),
            Value::Number(number) => number.to_string(),
            Value::String(text) => format!("`{text}`"),
            Value::Sequence(_) => "(a list)".to_owned(),
            Value::Mapping(_) => "(a mapping)".to_owned(),
        }
    }
}

fn is_blank(text: &str) -> bool {
    text.lines().all(|line| {
        let trimmed = line.trim();
        trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---"
    })
}

/// Converts a parser error, blaming a tab in indentation when one appears
/// before, on or right after the failing line, because the parser's message
/// for it may not mention tabs and may point at the line above the tab.
///
/// NOTE: a tab-indented line that still parses (for example inside a block
/// scalar or a flow collection, where YAML allows tabs) is not reported.
fn syntax_error(text: &str, error: &serde_saphyr::Error) -> ConfigError {
    let location = error
        .location()
        .filter(|location| location.line() > 0)
        .map(|location| Location {
            line: location.line(),
            column: location.column(),
        });

    let last_line = location.map_or(u64::MAX, |location| location.line.saturating_add(1));
    if let Some(tab) = find_indentation_tab(text, last_line) {
        return ConfigError::at(tab, ConfigErrorKind::TabIndentation);
    }

    let message = UserMessageFormatter
        .format_message(error.without_snippet())
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    ConfigError::new(ConfigErrorKind::Syntax { message }, location)
}

/// Returns the first tab in the leading whitespace of lines `1..=last_line`.
fn find_indentation_tab(text: &str, last_line: u64) -> Option<Location> {
    for (index, line) in text.lines().enumerate() {
        let line_number = index as u64 + 1;
        if line_number > last_line {
            break;
        }

        let indentation = line.chars().take_while(|c| *c == ' ' || *c == '\t');
        if let Some(column) = indentation.into_iter().position(|c| c == '\t') {
            return Some(Location {
                line: line_number,
                column: column as u64 + 1,
            });
        }
    }
    None
}

fn location_of<T>(spanned: &Spanned<T>) -> Location {
    // An alias has the location where it is used in `referenced`; values
    // replayed through serde buffers may have only `defined`.
    let chosen = if spanned.referenced.line() > 0 {
        spanned.referenced
    } else {
        spanned.defined
    };
    Location {
        line: chosen.line(),
        column: chosen.column(),
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        let location = location_of(&spanned);
        Ok(Node {
            value: spanned.value,
            location,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(value)
            .map(Value::Number)
            .ok_or_else(|| {
                E::custom(format!(
                    "the number {value} is not supported; write a finite number"
                ))
            })
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = sequence.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut mapping: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = mapping.next_key::<Spanned<KeyText>>()? {
            let value = mapping.next_value::<Node>()?;
            entries.push(Entry {
                key_location: location_of(&key),
                key: key.value.0,
                value,
            });
        }
        Ok(Value::Mapping(entries))
    }
}

/// A mapping key as text. Keys that are lists or mappings are rejected.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = KeyText;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a plain key such as `name`")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<KeyText, E> {
        Ok(KeyText(value.to_string()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<KeyText, E> {
        Ok(KeyText(value.to_string()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<KeyText, E> {
        Ok(KeyText(value.to_string()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<KeyText, E> {
        Ok(KeyText(value.to_string()))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<KeyText, E> {
        Ok(KeyText(value.to_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<KeyText, E> {
        Ok(KeyText(String::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(node: &Node) -> &[Entry] {
        match &node.value {
            Value::Mapping(entries) => entries,
            other => panic!("expected a mapping, got {other:?}"),
        }
    }

    #[test]
    fn parse_records_key_locations() {
        let node = parse("a:\n  bb: 1\n").unwrap();
        let inner = mapping(&mapping(&node)[0].value);
        assert_eq!(inner[0].key_location, Location { line: 2, column: 3 });
    }

    #[test]
    fn parse_records_value_locations() {
        let node = parse("a:\n  bb: 1\n").unwrap();
        let inner = mapping(&mapping(&node)[0].value);
        assert_eq!(inner[0].value.location, Location { line: 2, column: 7 });
    }

    #[test]
    fn parse_types_scalars() {
        let node = parse("a: 1\nb: \"1\"\nc: true\nd: 1.5\ne:\n").unwrap();
        let values: Vec<_> = mapping(&node)
            .iter()
            .map(|entry| entry.value.value.clone())
            .collect();
        assert_eq!(
            values,
            vec![
                Value::Number(1.into()),
                Value::String("1".into()),
                Value::Bool(true),
                Value::Number(serde_json::Number::from_f64(1.5).unwrap()),
                Value::Null,
            ]
        );
    }

    #[test]
    fn parse_keeps_duplicate_keys() {
        let node = parse("a: 1\na: 2\n").unwrap();
        assert_eq!(mapping(&node).len(), 2);
    }

    #[test]
    fn parse_blank_is_empty_mapping() {
        let node = parse("# nothing yet\n").unwrap();
        assert!(mapping(&node).is_empty());
    }

    #[test]
    fn parse_reports_tab_indentation() {
        let error = parse("a:\n\tb: 1\n").unwrap_err();
        assert!(
            matches!(*error.kind, ConfigErrorKind::TabIndentation),
            "{error}"
        );
        assert_eq!(error.location, Some(Location { line: 2, column: 1 }));
    }

    #[test]
    fn parse_reports_tab_after_error_line() {
        let error = parse("a:\n  b: 1\n \tc: 2\n").unwrap_err();
        assert_eq!(
            error.location,
            Some(Location { line: 3, column: 2 }),
            "{error}"
        );
    }

    #[test]
    fn parse_allows_tab_after_colon() {
        let node = parse("a:\tb\n").unwrap();
        assert_eq!(mapping(&node)[0].value.value, Value::String("b".into()));
    }

    #[test]
    fn parse_keeps_yes_as_string() {
        let node = parse("y: yes\n").unwrap();
        assert_eq!(mapping(&node)[0].key, "y");
        assert_eq!(mapping(&node)[0].value.value, Value::String("yes".into()));
    }

    #[test]
    fn parse_reports_syntax_location() {
        let error = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(
            matches!(*error.kind, ConfigErrorKind::Syntax { .. }),
            "{error}"
        );
        assert!(error.location.is_some(), "{error}");
    }
}
