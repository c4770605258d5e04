//! Schema contracts end to end: `dlt.yml` contracts through the `dlt` binary
//! and the DuckDB plugin, and `Resource::with_schema_contract` through a
//! `runner_core::Pipeline` with the linked DuckDB destination.

mod common;

use std::path::PathBuf;

use destination_duckdb::DuckDbDestinationFactory;
use runner_core::destination::DestinationHandle;
use runner_core::extract::{ContractMode, Resource, SchemaContract, Source};
use runner_core::{Pipeline, PipelineOptions};
use serde_json::{Value, json};

use common::{TestProject, assert_success, count_rows, duckdb_config, stderr};

/// Returns a project that loads `data/items.json` into table `items` of
/// dataset `shop`, with per-test `source_contract` and `datasets` lines.
fn project_yml(source_contract: &str, datasets: &str) -> String {
    format!(
        "sources:
  items:
    type: files
    path: data/items.json
    table_name: items
{source_contract}destinations:
  warehouse:
    type: duckdb
    credentials: warehouse.duckdb
pipelines:
  shop_pipeline:
    source: items
    destination: warehouse
    dataset_name: shop
{datasets}"
    )
}

const COLUMNS_FROZEN: &str = "datasets:
  shop:
    contract: {tables: evolve, columns: freeze, data_type: freeze}
";

fn column_names(project: &TestProject, table: &str) -> Vec<String> {
    let connection = project.duckdb("warehouse.duckdb");
    let sql = format!(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'shop' AND table_name = '{table}' ORDER BY ordinal_position"
    );
    let mut statement = connection.prepare(&sql).unwrap();
    statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
}

fn run(project: &TestProject) -> std::process::Output {
    project.dlt(&["pipeline", "shop_pipeline", "run"])
}

/// Loads `[{id: 1}]`, then runs again with `second` as the input.
fn run_twice(project: &TestProject, second: &str) -> std::process::Output {
    project.write_data("items.json", r#"[{"id": 1}]"#);
    assert_success(&run(project));
    project.write_data("items.json", second);
    run(project)
}

#[test]
fn cli_columns_freeze_exit_code() {
    let project = TestProject::new(&project_yml("", COLUMNS_FROZEN));
    let output = run_twice(&project, r#"[{"id": 2, "extra": "x"}]"#);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
}

#[test]
fn cli_columns_freeze_names_column() {
    let project = TestProject::new(&project_yml("", COLUMNS_FROZEN));
    let output = run_twice(&project, r#"[{"id": 2, "extra": "x"}]"#);
    let message = stderr(&output);
    assert!(message.contains("table `items`"), "{message}");
    assert!(message.contains("column `extra`"), "{message}");
    assert!(message.contains("type text"), "{message}");
}

#[test]
fn cli_columns_freeze_table_untouched() {
    let project = TestProject::new(&project_yml("", COLUMNS_FROZEN));
    run_twice(&project, r#"[{"id": 2, "extra": "x"}]"#);
    assert_eq!(count_rows(&project.duckdb("warehouse.duckdb"), "shop.items"), 1);
    assert!(!column_names(&project, "items").contains(&"extra".to_owned()));
}

#[test]
fn cli_columns_freeze_schema_not_evolved() {
    let project = TestProject::new(&project_yml("", COLUMNS_FROZEN));
    run_twice(&project, r#"[{"id": 2, "extra": "x"}]"#);
    let schema_path = project.data_dir().join("pipelines/shop_pipeline/schemas/items.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    assert!(schema["tables"]["items"]["columns"].get("extra").is_none());
}

#[test]
fn cli_data_type_freeze_rejects_variant() {
    let project = TestProject::new(&project_yml("", COLUMNS_FROZEN));
    let output = run_twice(&project, r#"[{"id": "abc"}]"#);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
}

#[test]
fn cli_source_discard_row() {
    let source_contract = "    schema_contract: {columns: discard_row}\n";
    let project = TestProject::new(&project_yml(source_contract, ""));
    let output = run_twice(&project, r#"[{"id": 2, "extra": "x"}, {"id": 3}]"#);
    assert_success(&output);
    assert_eq!(count_rows(&project.duckdb("warehouse.duckdb"), "shop.items"), 2);
}

#[test]
fn cli_source_contract_wins() {
    let source_contract = "    schema_contract: {columns: discard_value}\n";
    let project = TestProject::new(&project_yml(source_contract, COLUMNS_FROZEN));
    let output = run_twice(&project, r#"[{"id": 2, "extra": "x"}]"#);
    assert_success(&output);
    assert_eq!(count_rows(&project.duckdb("warehouse.duckdb"), "shop.items"), 2);
}

#[test]
fn cli_invalid_mode_exit_code() {
    let datasets = "datasets:\n  shop:\n    contract: {columns: freez}\n";
    let project = TestProject::new(&project_yml("", datasets));
    let output = run(&project);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

#[test]
fn cli_invalid_mode_hint() {
    let datasets = "datasets:\n  shop:\n    contract: {columns: freez}\n";
    let project = TestProject::new(&project_yml("", datasets));
    let message = stderr(&run(&project));
    assert!(message.contains("dlt.yml:17:"), "{message}");
    assert!(message.contains("did you mean `freeze`?"), "{message}");
}

struct Setup {
    folder: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        Setup {
            folder: tempfile::tempdir().unwrap(),
        }
    }

    fn database(&self) -> PathBuf {
        self.folder.path().join("contracts.duckdb")
    }

    fn pipeline(&self) -> Pipeline {
        let config = duckdb_config(&self.database(), "contracts", self.folder.path());
        let destination = DestinationHandle::linked::<DuckDbDestinationFactory>("warehouse", &config).unwrap();
        let options = PipelineOptions::new("contracts")
            .with_pipelines_dir(self.folder.path().join("pipelines"))
            .with_dataset_name("ds");
        Pipeline::new(options, destination).unwrap()
    }

    fn count(&self, table: &str) -> i64 {
        count_rows(&duckdb::Connection::open(self.database()).unwrap(), &format!("ds.{table}"))
    }

    fn stored_schema(&self) -> Value {
        let path = self.folder.path().join("pipelines/contracts/schemas/shop.schema.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}

fn items(rows: Vec<Value>, contract: Option<SchemaContract>) -> Source {
    let mut resource = Resource::from_rows("items", rows);
    if let Some(contract) = contract {
        resource = resource.with_schema_contract(contract);
    }
    Source::new("shop", vec![resource])
}

fn only(entity_mode: ContractMode, entity: &str) -> SchemaContract {
    let mut contract = SchemaContract::default();
    match entity {
        "tables" => contract.tables = entity_mode,
        "columns" => contract.columns = entity_mode,
        _ => contract.data_type = entity_mode,
    }
    contract
}

#[test]
fn api_hint_stored_like_dlt() {
    let setup = Setup::new();
    let contract = SchemaContract {
        columns: ContractMode::Freeze,
        data_type: ContractMode::Freeze,
        ..SchemaContract::default()
    };
    setup.pipeline().run(items(vec![json!({"id": 1})], Some(contract))).unwrap();
    let expected = json!({"tables": "evolve", "columns": "freeze", "data_type": "freeze"});
    assert_eq!(setup.stored_schema()["tables"]["items"]["schema_contract"], expected);
}

#[test]
fn api_discard_value_keeps_row() {
    let setup = Setup::new();
    let contract = Some(only(ContractMode::DiscardValue, "columns"));
    let mut pipeline = setup.pipeline();
    pipeline.run(items(vec![json!({"id": 1})], contract)).unwrap();
    pipeline.run(items(vec![json!({"id": 2, "extra": "x"})], contract)).unwrap();
    assert_eq!(setup.count("items"), 2);
    assert!(setup.stored_schema()["tables"]["items"]["columns"].get("extra").is_none());
}

#[test]
fn api_tables_freeze_nested_table() {
    let setup = Setup::new();
    let mut pipeline = setup.pipeline();
    pipeline.run(items(vec![json!({"id": 1})], None)).unwrap();
    let contract = Some(only(ContractMode::Freeze, "tables"));
    let error = pipeline.run(items(vec![json!({"id": 2, "tags": ["a"]})], contract)).unwrap_err();
    assert!(error.to_string().contains("items__tags"), "{error}");
    assert!(error.category().is_terminal());
}

#[test]
fn api_tables_freeze_first_load() {
    let setup = Setup::new();
    let contract = Some(only(ContractMode::Freeze, "tables"));
    let error = setup.pipeline().run(items(vec![json!({"id": 1})], contract)).unwrap_err();
    assert!(error.to_string().contains("table `items`"), "{error}");
}

#[test]
fn api_evolve_by_default() {
    let setup = Setup::new();
    let mut pipeline = setup.pipeline();
    pipeline.run(items(vec![json!({"id": 1})], None)).unwrap();
    pipeline.run(items(vec![json!({"id": "x", "extra": 1, "tags": [1]})], None)).unwrap();
    assert_eq!(setup.count("items"), 2);
    assert_eq!(setup.count("items__tags"), 1);
    assert!(setup.stored_schema()["tables"]["items"].get("schema_contract").is_none());
}
