//! Schema contracts in the normalizer: each mode on each entity, as dlt
//! 1.31's `apply_schema_contract` decides.

use std::sync::Arc;

use arrow::array::{Int64Array, StringArray};
use arrow::datatypes::{DataType as ArrowType, Field, Schema as ArrowSchema};
use arrow::record_batch::RecordBatch;
use serde_json::{Value, json};

use super::*;
use crate::Error;
use crate::schema::{ContractMode, SCHEMA_CONTRACT_HINT, Schema, SchemaContract, Table};

const LOAD_ID: &str = "1796413222.43807";

/// Returns a schema whose `items` table received one row `{id: 1}` without
/// a contract and then got `contract`.
fn loaded_schema(contract: SchemaContract) -> Schema {
    let mut schema = empty_schema(SchemaContract::default());
    let dir = tempfile::tempdir().unwrap();
    let mut normalizer = Normalizer::new(&mut schema, options(&dir)).unwrap();
    normalizer.push_row("items", json!({"id": 1})).unwrap();
    normalizer.finish().unwrap();

    let table = schema.tables.get_mut("items").unwrap();
    table.extra.insert(SCHEMA_CONTRACT_HINT.into(), contract.to_hint());
    schema
}

pub(super) fn empty_schema(contract: SchemaContract) -> Schema {
    let mut schema: Schema = serde_json::from_value(json!({
        "version": 1,
        "version_hash": "",
        "engine_version": 11,
        "name": "test",
        "tables": {},
        "settings": {},
        "normalizers": {"names": "snake_case", "json": {"module": "dlt.common.normalizers.json.relational"}}
    }))
    .unwrap();
    let mut table = Table::new("items");
    table.write_disposition = Some("append".into());
    table.extra.insert(SCHEMA_CONTRACT_HINT.into(), contract.to_hint());
    schema.tables.insert("items".into(), table);
    schema
}

fn options(dir: &tempfile::TempDir) -> NormalizeOptions {
    NormalizeOptions {
        load_id: LOAD_ID.into(),
        jobs_dir: dir.path().to_owned(),
        batch_rows: DEFAULT_BATCH_ROWS,
        max_nesting: None,
        file_max_rows: None,
        file_max_bytes: None,
        threads: 1,
    }
}

fn contract(tables: ContractMode, columns: ContractMode, data_type: ContractMode) -> SchemaContract {
    SchemaContract {
        tables,
        columns,
        data_type,
    }
}

fn columns_only(mode: ContractMode) -> SchemaContract {
    contract(ContractMode::Evolve, mode, ContractMode::Evolve)
}

/// Normalizes `rows` into `items` and returns the output or the error.
fn run(schema: &mut Schema, rows: Vec<Value>) -> crate::Result<NormalizeOutput> {
    let dir = tempfile::tempdir().unwrap();
    let mut normalizer = Normalizer::new(schema, options(&dir)).unwrap();
    for row in rows {
        normalizer.push_row("items", row)?;
    }
    normalizer.finish()
}

fn rows_of(output: &NormalizeOutput, table: &str) -> u64 {
    output.rows_per_table.get(table).copied().unwrap_or(0)
}

fn has_column(schema: &Schema, table: &str, column: &str) -> bool {
    schema.tables.get(table).is_some_and(|t| t.columns.contains_key(column))
}

#[test]
fn columns_freeze_rejects_new_column() {
    let mut schema = loaded_schema(columns_only(ContractMode::Freeze));
    let error = run(&mut schema, vec![json!({"id": 2, "extra": "x"})]).unwrap_err();
    let Error::ContractViolation {
        table,
        column,
        data_type,
        entity,
        ..
    } = error
    else {
        panic!("expected a contract violation, got {error}");
    };
    assert_eq!(table, "items");
    assert_eq!(column.as_deref(), Some("extra"));
    assert_eq!(data_type.as_deref(), Some("text"));
    assert_eq!(entity, "columns");
}

#[test]
fn columns_freeze_is_terminal() {
    let mut schema = loaded_schema(columns_only(ContractMode::Freeze));
    let error = run(&mut schema, vec![json!({"id": 2, "extra": "x"})]).unwrap_err();
    assert!(error.category().is_terminal());
}

#[test]
fn columns_freeze_allows_first_load() {
    let mut schema = empty_schema(columns_only(ContractMode::Freeze));
    let output = run(&mut schema, vec![json!({"id": 1}), json!({"id": 2, "extra": "x"})]).unwrap();
    assert_eq!(rows_of(&output, "items"), 2);
    assert!(has_column(&schema, "items", "extra"));
}

#[test]
fn columns_freeze_allows_known_columns() {
    let mut schema = loaded_schema(columns_only(ContractMode::Freeze));
    let output = run(&mut schema, vec![json!({"id": 2})]).unwrap();
    assert_eq!(rows_of(&output, "items"), 1);
}

#[test]
fn columns_discard_row_drops_row() {
    let mut schema = loaded_schema(columns_only(ContractMode::DiscardRow));
    let output = run(&mut schema, vec![json!({"id": 2, "extra": "x"}), json!({"id": 3})]).unwrap();
    assert_eq!(rows_of(&output, "items"), 1);
    assert!(!has_column(&schema, "items", "extra"));
}

#[test]
fn discard_row_drops_nested_rows() {
    let mut schema = loaded_schema(columns_only(ContractMode::DiscardRow));
    let output = run(&mut schema, vec![json!({"id": 2, "extra": "x", "tags": [1, 2]})]).unwrap();
    assert_eq!(rows_of(&output, "items__tags"), 0);
}

#[test]
fn columns_discard_value_keeps_row() {
    let mut schema = loaded_schema(columns_only(ContractMode::DiscardValue));
    let output = run(&mut schema, vec![json!({"id": 2, "extra": "x"}), json!({"id": 3})]).unwrap();
    assert_eq!(rows_of(&output, "items"), 2);
    assert!(!has_column(&schema, "items", "extra"));
}

#[test]
fn data_type_freeze_rejects_variant() {
    let mut schema = loaded_schema(contract(ContractMode::Evolve, ContractMode::Evolve, ContractMode::Freeze));
    let error = run(&mut schema, vec![json!({"id": "abc"})]).unwrap_err();
    let Error::ContractViolation {
        column,
        data_type,
        entity,
        ..
    } = error
    else {
        panic!("expected a contract violation, got {error}");
    };
    assert_eq!(column.as_deref(), Some("id"));
    assert_eq!(data_type.as_deref(), Some("text"));
    assert_eq!(entity, "data_type");
}

#[test]
fn data_type_freeze_allows_coercible() {
    let mut schema = loaded_schema(contract(ContractMode::Evolve, ContractMode::Evolve, ContractMode::Freeze));
    let output = run(&mut schema, vec![json!({"id": "7"})]).unwrap();
    assert_eq!(rows_of(&output, "items"), 1);
}

#[test]
fn data_type_discard_value_drops_value() {
    let mut schema = loaded_schema(contract(ContractMode::Evolve, ContractMode::Evolve, ContractMode::DiscardValue));
    let output = run(&mut schema, vec![json!({"id": "abc", "name": "a"})]).unwrap();
    assert_eq!(rows_of(&output, "items"), 1);
    assert!(!has_column(&schema, "items", "id__v_text"));
}

#[test]
fn data_type_discard_row_drops_row() {
    let mut schema = loaded_schema(contract(ContractMode::Evolve, ContractMode::Evolve, ContractMode::DiscardRow));
    let output = run(&mut schema, vec![json!({"id": "abc"}), json!({"id": 5})]).unwrap();
    assert_eq!(rows_of(&output, "items"), 1);
}

#[test]
fn tables_freeze_rejects_nested_table() {
    let mut schema = loaded_schema(contract(ContractMode::Freeze, ContractMode::Evolve, ContractMode::Evolve));
    let error = run(&mut schema, vec![json!({"id": 2, "tags": ["a"]})]).unwrap_err();
    let Error::ContractViolation { table, entity, .. } = error else {
        panic!("expected a contract violation, got {error}");
    };
    assert_eq!(table, "items__tags");
    assert_eq!(entity, "tables");
}

#[test]
fn tables_freeze_rejects_first_load() {
    let mut schema = empty_schema(SchemaContract::all(ContractMode::Freeze));
    let error = run(&mut schema, vec![json!({"id": 1})]).unwrap_err();
    assert!(matches!(error, Error::ContractViolation { entity: "tables", .. }));
}

#[test]
fn tables_discard_row_skips_nested() {
    let mut schema = loaded_schema(contract(ContractMode::DiscardRow, ContractMode::Evolve, ContractMode::Evolve));
    let output = run(&mut schema, vec![json!({"id": 2, "tags": ["a"]})]).unwrap();
    assert_eq!(rows_of(&output, "items"), 1);
    assert!(!schema.tables.contains_key("items__tags"));
}

#[test]
fn nested_table_follows_root_contract() {
    let mut schema = loaded_schema(columns_only(ContractMode::Freeze));
    run(&mut schema, vec![json!({"id": 2, "tags": [{"a": 1}]})]).unwrap();
    let error = run(&mut schema, vec![json!({"id": 3, "tags": [{"a": 1, "b": 2}]})]).unwrap_err();
    assert!(matches!(error, Error::ContractViolation { ref table, .. } if table == "items__tags"));
}

#[test]
fn evolve_adds_columns() {
    let mut schema = loaded_schema(SchemaContract::default());
    run(&mut schema, vec![json!({"id": "abc", "extra": 1})]).unwrap();
    assert!(has_column(&schema, "items", "extra"));
    assert!(has_column(&schema, "items", "id__v_text"));
}

fn batch(with_extra: bool) -> RecordBatch {
    let mut fields = vec![Field::new("id", ArrowType::Int64, true)];
    let mut arrays: Vec<Arc<dyn arrow::array::Array>> = vec![Arc::new(Int64Array::from(vec![1, 2]))];
    if with_extra {
        fields.push(Field::new("extra", ArrowType::Utf8, true));
        arrays.push(Arc::new(StringArray::from(vec![Some("x"), None])));
    }
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), arrays).unwrap()
}

fn run_batches(schema: &mut Schema, batches: &[RecordBatch]) -> crate::Result<NormalizeOutput> {
    let dir = tempfile::tempdir().unwrap();
    let mut normalizer = Normalizer::new(schema, options(&dir)).unwrap();
    for batch in batches {
        normalizer.push_batch("items", batch)?;
    }
    normalizer.finish()
}

#[test]
fn arrow_columns_freeze_rejects() {
    let mut schema = empty_schema(columns_only(ContractMode::Freeze));
    run_batches(&mut schema, &[batch(false)]).unwrap();
    let error = run_batches(&mut schema, &[batch(true)]).unwrap_err();
    assert!(matches!(error, Error::ContractViolation { column: Some(ref c), .. } if c == "extra"));
}

#[test]
fn arrow_discard_row_filters_rows() {
    let mut schema = empty_schema(columns_only(ContractMode::DiscardRow));
    run_batches(&mut schema, &[batch(false)]).unwrap();
    let output = run_batches(&mut schema, &[batch(true)]).unwrap();
    assert_eq!(rows_of(&output, "items"), 1);
}

#[test]
fn arrow_discard_value_drops_column() {
    let mut schema = empty_schema(columns_only(ContractMode::DiscardValue));
    run_batches(&mut schema, &[batch(false)]).unwrap();
    let output = run_batches(&mut schema, &[batch(true)]).unwrap();
    assert_eq!(rows_of(&output, "items"), 2);
    assert!(!has_column(&schema, "items", "extra"));
}
