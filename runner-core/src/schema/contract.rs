//! Schema contracts: which schema changes a load may make, kept in the
//! schema as the table hint `schema_contract`, as dlt 1.31 does.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

/// Name of the table hint that stores a contract.
pub const SCHEMA_CONTRACT_HINT: &str = "schema_contract";

/// The reaction of a contract to a schema change that a load would make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ContractMode {
    /// Allow the change. dlt's default.
    #[default]
    Evolve,
    /// Fail the load with a terminal error.
    Freeze,
    /// Drop the whole row (with its nested rows) and keep the schema as it is.
    DiscardRow,
    /// Drop only the offending value and load the rest of the row.
    DiscardValue,
}

impl ContractMode {
    /// All modes, in the order messages list them.
    pub const ALL: [ContractMode; 4] = [
        ContractMode::Evolve,
        ContractMode::Freeze,
        ContractMode::DiscardRow,
        ContractMode::DiscardValue,
    ];

    /// Returns the name used in `dlt.yml` and in schemas.
    pub fn as_str(self) -> &'static str {
        match self {
            ContractMode::Evolve => "evolve",
            ContractMode::Freeze => "freeze",
            ContractMode::DiscardRow => "discard_row",
            ContractMode::DiscardValue => "discard_value",
        }
    }
}

impl fmt::Display for ContractMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContractMode {
    type Err = crate::Error;

    fn from_str(text: &str) -> crate::Result<Self> {
        ContractMode::ALL
            .into_iter()
            .find(|mode| mode.as_str() == text)
            .ok_or_else(|| {
                crate::Error::config(format!(
                    "invalid schema contract mode `{text}`; use `evolve`, `freeze`, `discard_row` or `discard_value`"
                ))
            })
    }
}

/// A schema contract: one mode per entity that a load can add.
///
/// * `tables`: a new table, root or nested. A table is new while the schema
///   has no column with a data type for it, so with `tables: freeze` the
///   first load of a table fails, as in dlt.
/// * `columns`: a new column in a table that is not new.
/// * `data_type`: a value that does not fit its column's type and would
///   create a variant column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SchemaContract {
    pub tables: ContractMode,
    pub columns: ContractMode,
    pub data_type: ContractMode,
}

impl SchemaContract {
    /// Creates a contract with one mode for all three entities, like dlt's
    /// shorthand `schema_contract="freeze"`.
    pub fn all(mode: ContractMode) -> Self {
        SchemaContract {
            tables: mode,
            columns: mode,
            data_type: mode,
        }
    }

    /// Returns true when every entity may evolve, so nothing is checked.
    pub fn is_evolve(&self) -> bool {
        *self == SchemaContract::default()
    }

    /// Returns the table hint value: the mode name when all three entities
    /// share one mode, otherwise the full mapping.
    ///
    /// NOTE: dlt stores the value exactly as the user passed it, so a
    /// mapping with three equal modes or a partial mapping written from
    /// Python is stored differently there (and hashes differently).
    pub fn to_hint(&self) -> Value {
        if self.tables == self.columns && self.columns == self.data_type {
            return Value::from(self.tables.as_str());
        }

        let mut map = Map::with_capacity(3);
        map.insert("tables".to_owned(), Value::from(self.tables.as_str()));
        map.insert("columns".to_owned(), Value::from(self.columns.as_str()));
        map.insert("data_type".to_owned(), Value::from(self.data_type.as_str()));
        Value::Object(map)
    }

    /// Reads a table hint: a mode name or a mapping in which missing
    /// entities evolve, as dlt expands it.
    pub fn from_hint(hint: &Value) -> crate::Result<Self> {
        if let Some(text) = hint.as_str() {
            return Ok(SchemaContract::all(text.parse()?));
        }

        let Some(map) = hint.as_object() else {
            return Err(crate::Error::config(format!(
                "invalid `{SCHEMA_CONTRACT_HINT}` hint `{hint}`; expected a mode name or a mapping"
            )));
        };
        let mut contract = SchemaContract::default();
        for (entity, mode) in map {
            let mode: ContractMode = mode.as_str().unwrap_or_default().parse()?;
            match entity.as_str() {
                "tables" => contract.tables = mode,
                "columns" => contract.columns = mode,
                "data_type" => contract.data_type = mode,
                other => {
                    return Err(crate::Error::config(format!(
                        "invalid `{SCHEMA_CONTRACT_HINT}` entity `{other}`; use `tables`, `columns` or `data_type`"
                    )));
                }
            }
        }
        Ok(contract)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hint_shorthand_string() {
        assert_eq!(SchemaContract::all(ContractMode::Freeze).to_hint(), Value::from("freeze"));
    }

    #[test]
    fn hint_mapping_like_dlt() {
        let contract = SchemaContract {
            columns: ContractMode::Freeze,
            data_type: ContractMode::Freeze,
            ..SchemaContract::default()
        };
        let expected = serde_json::json!({"tables": "evolve", "columns": "freeze", "data_type": "freeze"});
        assert_eq!(contract.to_hint(), expected);
    }

    #[test]
    fn partial_hint_defaults_evolve() {
        let contract = SchemaContract::from_hint(&serde_json::json!({"columns": "discard_row"})).ok();
        let expected = SchemaContract {
            columns: ContractMode::DiscardRow,
            ..SchemaContract::default()
        };
        assert_eq!(contract, Some(expected));
    }

    #[test]
    fn invalid_hint_mode() {
        assert!(SchemaContract::from_hint(&Value::from("frozen")).is_err());
    }
}
