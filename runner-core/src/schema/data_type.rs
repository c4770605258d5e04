use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A dlt column data type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    Text,
    Double,
    Bool,
    Timestamp,
    Bigint,
    Binary,
    Json,
    Decimal,
    Wei,
    Date,
    Time,
}

impl DataType {
    /// Returns dlt's name for the type, as stored in schemas.
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Text => "text",
            DataType::Double => "double",
            DataType::Bool => "bool",
            DataType::Timestamp => "timestamp",
            DataType::Bigint => "bigint",
            DataType::Binary => "binary",
            DataType::Json => "json",
            DataType::Decimal => "decimal",
            DataType::Wei => "wei",
            DataType::Date => "date",
            DataType::Time => "time",
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a type name that dlt does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown data type `{0}`; expected one of text, double, bool, timestamp, bigint, binary, json, decimal, wei, date, time")]
pub struct UnknownDataType(pub String);

impl FromStr for DataType {
    type Err = UnknownDataType;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(match name {
            "text" => DataType::Text,
            "double" => DataType::Double,
            "bool" => DataType::Bool,
            "timestamp" => DataType::Timestamp,
            "bigint" => DataType::Bigint,
            "binary" => DataType::Binary,
            // `complex` is the name used by schema engines before version 10.
            "json" | "complex" => DataType::Json,
            "decimal" => DataType::Decimal,
            "wei" => DataType::Wei,
            "date" => DataType::Date,
            "time" => DataType::Time,
            other => return Err(UnknownDataType(other.to_owned())),
        })
    }
}

impl Serialize for DataType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DataType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}
