//! Tests of `schema_contract` on files sources and of `datasets` contracts.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::schema::{ContractMode, SchemaContract};

/// A valid project of 11 lines whose pipeline `p` loads dataset `p_dataset`.
const BASE: &str = "sources:
  s:
    type: files
    path: data/a.json
destinations:
  d:
    type: duckdb
pipelines:
  p:
    source: s
    destination: d
";

fn resolved_contract(text: &str) -> Option<SchemaContract> {
    let project = match Project::from_str(text, Path::new("dlt.yml")) {
        Ok(project) => project,
        Err(error) => panic!("expected a valid project, got:\n{error}"),
    };
    project.resolve_with_env("p", &BTreeMap::new()).unwrap().schema_contract
}

fn message(text: &str) -> String {
    match Project::from_str(text, Path::new("dlt.yml")) {
        Ok(project) => panic!("expected an error, got {project:?}"),
        Err(error) => error.to_string().lines().next().unwrap_or_default().to_owned(),
    }
}

/// Adds `schema_contract: <value>` to source `s`, at line 5.
fn with_source_contract(value: &str) -> String {
    BASE.replacen("    path: data/a.json\n", &format!("    path: data/a.json\n    schema_contract: {value}\n"), 1)
}

fn columns_frozen() -> SchemaContract {
    SchemaContract {
        columns: ContractMode::Freeze,
        data_type: ContractMode::Freeze,
        ..SchemaContract::default()
    }
}

#[test]
fn no_contract_by_default() {
    assert_eq!(resolved_contract(BASE), None);
}

#[test]
fn source_contract_shorthand() {
    let contract = resolved_contract(&with_source_contract("freeze"));
    assert_eq!(contract, Some(SchemaContract::all(ContractMode::Freeze)));
}

#[test]
fn source_contract_mapping() {
    let contract = resolved_contract(&with_source_contract("{columns: freeze, data_type: freeze}"));
    assert_eq!(contract, Some(columns_frozen()));
}

#[test]
fn dataset_contract_applies() {
    let text = format!("{BASE}datasets:\n  p_dataset:\n    contract: {{tables: evolve, columns: freeze, data_type: freeze}}\n");
    assert_eq!(resolved_contract(&text), Some(columns_frozen()));
}

#[test]
fn dataset_of_other_pipeline_ignored() {
    let text = format!("{BASE}datasets:\n  other:\n    contract: freeze\n");
    assert_eq!(resolved_contract(&text), None);
}

#[test]
fn source_contract_wins() {
    let text = format!("{}datasets:\n  p_dataset:\n    contract: freeze\n", with_source_contract("discard_row"));
    let contract = resolved_contract(&text);
    assert_eq!(contract, Some(SchemaContract::all(ContractMode::DiscardRow)));
}

#[test]
fn invalid_mode_names_location() {
    let message = message(&with_source_contract("{columns: freez}"));
    assert!(message.starts_with("dlt.yml:5:"), "{message}");
}

#[test]
fn invalid_mode_suggests_nearest() {
    let message = message(&with_source_contract("{columns: freez}"));
    assert!(message.contains("did you mean `freeze`?"), "{message}");
}

#[test]
fn invalid_mode_names_key() {
    let message = message(&with_source_contract("discard_rows"));
    assert!(message.contains("sources.s.schema_contract"), "{message}");
}

#[test]
fn unknown_entity_suggests_key() {
    let message = message(&with_source_contract("{column: freeze}"));
    assert!(message.contains("did you mean `columns`?"), "{message}");
}

#[test]
fn dataset_unknown_key_rejected() {
    let message = message(&format!("{BASE}datasets:\n  p_dataset:\n    contracts: freeze\n"));
    assert!(message.starts_with("dlt.yml:14:5:"), "{message}");
}

#[test]
fn dataset_invalid_mode_location() {
    let message = message(&format!("{BASE}datasets:\n  p_dataset:\n    contract:\n      tables: frozen\n"));
    assert!(message.starts_with("dlt.yml:15:15:"), "{message}");
}

#[test]
fn contract_wrong_type() {
    let message = message(&with_source_contract("[freeze]"));
    assert!(message.contains("sources.s.schema_contract"), "{message}");
}
