//! The JSON tree the row normalizer reads.
//!
//! serde_json's `Value` allocates every key and hashes it into an index map,
//! which cost about a third of parsing nested events (callgrind). The
//! normalizer only walks objects in order, so this tree keeps entries in a
//! plain vector and borrows strings that contain no escapes from the input.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Number;

use crate::json_parser::ObjectSizes;

/// One JSON value. Objects keep their keys in input order. A key that
/// repeats keeps its first position and takes the last value, as
/// serde_json's ordered map and Python's `dict` do.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<JsonValue<'a>>),
    Object(Vec<(Cow<'a, str>, JsonValue<'a>)>),
}

impl<'a> JsonValue<'a> {
    /// Parses one JSON document, borrowing unescaped strings from `text`.
    /// Text the fast parser does not accept goes to serde_json, which
    /// decides and words the error.
    pub fn parse(text: &'a [u8]) -> serde_json::Result<Self> {
        Self::parse_with_sizes(text, &mut ObjectSizes::default())
    }

    /// Parses like [`Self::parse`], allocating each object's entries at the
    /// size that `sizes` holds for its nesting level (see [`ObjectSizes`]).
    pub(crate) fn parse_with_sizes(text: &'a [u8], sizes: &mut ObjectSizes) -> serde_json::Result<Self> {
        let Some(value) = crate::json_parser::parse_with_sizes(text, sizes) else {
            return crate::lines::parse_json(text);
        };

        #[cfg(debug_assertions)]
        {
            let expected: JsonValue<'_> =
                crate::lines::parse_json(text).expect("serde_json rejects a value the fast parser accepted");
            assert_eq!(value, expected, "the fast parser and serde_json disagree");
        }
        Ok(value)
    }

    /// Views a serde_json value without copying its strings.
    pub fn borrow(value: &'a serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => JsonValue::Null,
            serde_json::Value::Bool(b) => JsonValue::Bool(*b),
            serde_json::Value::Number(n) => JsonValue::Number(n.clone()),
            serde_json::Value::String(s) => JsonValue::String(Cow::Borrowed(s)),
            serde_json::Value::Array(items) => JsonValue::Array(items.iter().map(JsonValue::borrow).collect()),
            serde_json::Value::Object(map) => JsonValue::Object(
                map.iter()
                    .map(|(key, value)| (Cow::Borrowed(key.as_str()), JsonValue::borrow(value)))
                    .collect(),
            ),
        }
    }

    /// Converts to a serde_json value, for the rare paths that need one.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Compact JSON text, byte for byte as serde_json's `Value` writes it.
impl fmt::Display for JsonValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl Serialize for JsonValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            JsonValue::Null => serializer.serialize_unit(),
            JsonValue::Bool(b) => serializer.serialize_bool(*b),
            JsonValue::Number(n) => n.serialize(serializer),
            JsonValue::String(s) => serializer.serialize_str(s),
            JsonValue::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            JsonValue::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key.as_ref(), value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> de::Deserialize<'de> for JsonValue<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = JsonValue<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(JsonValue::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Self::Value, E> {
        Ok(JsonValue::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Self::Value, E> {
        Ok(JsonValue::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Self::Value, E> {
        Ok(JsonValue::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Number::from_f64(value).map_or(JsonValue::Null, JsonValue::Number))
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(JsonValue::String(Cow::Borrowed(value)))
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(JsonValue::String(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
        Ok(JsonValue::String(Cow::Owned(value)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(JsonValue::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries: Vec<(Cow<'de, str>, JsonValue<'de>)> = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value()?;
            match entries.iter_mut().find(|(existing, _)| *existing == key) {
                Some(entry) => entry.1 = value,
                None => entries.push((key, value)),
            }
        }
        Ok(JsonValue::Object(entries))
    }
}

/// Reads an object key, borrowing it from the input when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(value))
    }
}

/// Rows parsed from one chunk of JSON Lines, kept together with the text
/// they borrow from, so that a parser thread can hand both to the
/// normalizer.
pub struct ParsedLines {
    // Field order matters: `rows` borrow from `text` and are dropped first.
    rows: Vec<JsonValue<'static>>,
    text: Box<[u8]>,
}

impl ParsedLines {
    /// Parses every line of `text`, skipping blank ones. A syntax error goes
    /// to `on_error` with the index of its line among the lines of `text`.
    pub fn parse<E>(text: Vec<u8>, mut on_error: impl FnMut(serde_json::Error, usize) -> E) -> Result<Self, E> {
        let text = text.into_boxed_slice();
        let mut rows: Vec<JsonValue<'_>> = Vec::new();
        let mut sizes = ObjectSizes::default();
        for (index, (_, line)) in crate::lines::split_lines(&text).enumerate() {
            let line = line.trim_ascii_end();
            if line.is_empty() {
                continue;
            }
            rows.push(JsonValue::parse_with_sizes(line, &mut sizes).map_err(|error| on_error(error, index))?);
        }

        // SAFETY: the rows borrow from the heap buffer of `text`, and both
        // move into the returned struct. The buffer is never written, and it
        // is freed only after `rows` (field order). Moving a `Box` does not
        // move its heap data. `rows()` lends the rows only while `self` is
        // borrowed.
        let rows = unsafe { std::mem::transmute::<Vec<JsonValue<'_>>, Vec<JsonValue<'static>>>(rows) };
        Ok(ParsedLines { rows, text })
    }

    /// Returns the parsed rows, in line order.
    pub fn rows(&self) -> &[JsonValue<'_>] {
        &self.rows
    }

    /// Size of the text the rows borrow from, in bytes.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order_and_borrows() {
        let text = br#"{"b":1,"a":"x","c":{"d":[true,null]}}"#;
        let value = JsonValue::parse(text).unwrap();
        let JsonValue::Object(entries) = &value else { panic!("not an object") };
        let keys: Vec<&str> = entries.iter().map(|(key, _)| key.as_ref()).collect();
        assert_eq!(keys, ["b", "a", "c"]);
        assert!(matches!(entries[1].1, JsonValue::String(Cow::Borrowed("x"))));
    }

    #[test]
    fn repeated_key_takes_last_value() {
        let value = JsonValue::parse(br#"{"a":1,"b":2,"a":{"x":3}}"#).unwrap();
        let expected: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":2,"a":{"x":3}}"#).unwrap();
        assert_eq!(value.to_string(), expected.to_string());
        assert_eq!(value.to_string(), r#"{"a":{"x":3},"b":2}"#);
    }

    #[test]
    fn display_matches_serde_json() {
        let text = r#"{"s":"tab\t\"q\" \u00e9","n":-1.5e300,"u":18446744073709551615,"f":0.1,"l":[1,[],{}]}"#;
        let ours = JsonValue::parse(text.as_bytes()).unwrap();
        let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours.to_string(), theirs.to_string());
        assert_eq!(ours.to_value(), theirs);
        assert_eq!(JsonValue::borrow(&theirs), ours);
    }

    #[test]
    fn escaped_strings_are_owned() {
        let value = JsonValue::parse(br#"{"k\u0041":"a\nb"}"#).unwrap();
        let JsonValue::Object(entries) = &value else { panic!("not an object") };
        assert_eq!(entries[0].0, "kA");
        assert!(matches!(&entries[0].1, JsonValue::String(Cow::Owned(text)) if text == "a\nb"));
    }

    #[test]
    fn parsed_lines_skip_blank_lines() {
        let parsed = ParsedLines::parse(b"{\"a\":1}\n\n  \n[2]\n".to_vec(), |_, index| index).unwrap();
        assert_eq!(parsed.rows().len(), 2);
        assert_eq!(parsed.rows()[1], JsonValue::Array(vec![JsonValue::Number(2.into())]));
    }

    #[test]
    fn parsed_lines_name_bad_line() {
        let failed = ParsedLines::parse(b"{}\n{\"a\":\n".to_vec(), |_, index| index);
        assert_eq!(failed.err(), Some(1));
    }
}
