//! `schema_contract` of a files source and the top-level `datasets` mapping
//! with each dataset's `contract`.

use indexmap::IndexMap;

use super::error::ConfigError;
use super::fields::{Fields, as_str, child_path, invalid_value, mapping_entries, wrong_type};
use super::suggest::{format_names, nearest, suggestion_suffix};
use super::yaml::{Entry, Node, Value};
use crate::schema::{ContractMode, SchemaContract};

/// The entities a contract mapping may set.
const ENTITY_KEYS: &[&str] = &["tables", "columns", "data_type"];

/// The keys of one entry of `datasets`.
const DATASET_KEYS: &[&str] = &["contract"];

/// One entry of the top-level `datasets` mapping.
///
/// ```yaml
/// datasets:
///   world:
///     contract: {tables: evolve, columns: freeze, data_type: freeze}
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatasetConfig {
    /// `contract`: the schema contract of every table that pipelines load
    /// into this dataset, unless their source sets its own.
    pub contract: Option<SchemaContract>,
}

/// Reads the top-level `datasets` mapping, keyed by dataset name.
pub(crate) fn read_datasets(section: Option<&Entry>) -> Result<IndexMap<String, DatasetConfig>, ConfigError> {
    let mut datasets = IndexMap::new();
    let Some(section) = section else {
        return Ok(datasets);
    };

    for entry in mapping_entries(&section.value, "datasets")? {
        let path = child_path("datasets", &entry.key);
        let fields = Fields::read(&entry.value, &path, entry.key_location, DATASET_KEYS)?;
        let contract = fields
            .get("contract")
            .map(|contract| parse_contract(&contract.value, &fields.key_path("contract")))
            .transpose()?;
        datasets.insert(entry.key.clone(), DatasetConfig { contract });
    }
    Ok(datasets)
}

/// Reads a contract: one mode name for all entities, or a mapping of
/// `tables`, `columns` and `data_type` in which missing entities evolve.
pub(crate) fn parse_contract(node: &Node, path: &str) -> Result<SchemaContract, ConfigError> {
    match &node.value {
        Value::String(_) => Ok(SchemaContract::all(parse_mode(node, path)?)),
        Value::Mapping(_) => parse_contract_mapping(node, path),
        other => Err(wrong_type(
            node.location,
            path,
            "a mode name or a mapping of `tables`, `columns` and `data_type`",
            other,
        )),
    }
}

fn parse_contract_mapping(node: &Node, path: &str) -> Result<SchemaContract, ConfigError> {
    let fields = Fields::read(node, path, node.location, ENTITY_KEYS)?;

    let mut contract = SchemaContract::default();
    for key in ENTITY_KEYS {
        let Some(entry) = fields.get(key) else {
            continue;
        };
        let mode = parse_mode(&entry.value, &fields.key_path(key))?;
        match *key {
            "tables" => contract.tables = mode,
            "columns" => contract.columns = mode,
            _ => contract.data_type = mode,
        }
    }
    Ok(contract)
}

fn parse_mode(node: &Node, path: &str) -> Result<ContractMode, ConfigError> {
    let name = as_str(node, path)?;
    let names = ContractMode::ALL.map(ContractMode::as_str);

    ContractMode::ALL
        .into_iter()
        .find(|mode| mode.as_str() == name.value)
        .ok_or_else(|| {
            let suggestion = nearest(name.value, names);
            let reason = format!(
                "must be one of {}{}",
                format_names(&names),
                suggestion_suffix(suggestion.as_deref())
            );
            invalid_value(node, path, reason)
        })
}
