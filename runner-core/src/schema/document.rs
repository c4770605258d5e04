//! Creating, reading and writing schema documents, and walking table trees.

use serde_json::Value;

use super::dlt_tables::{
    DLT_PREFIX, LOADS_TABLE, PIPELINE_STATE_TABLE, VERSION_TABLE, default_normalizers,
    default_settings, loads_table, pipeline_state_table, version_table,
};
use super::json_text::{to_compact_string, to_pretty_string};
use super::{ENGINE_VERSION, Schema};
use crate::{Error, Result};

impl Schema {
    /// Creates the schema that dlt 1.31 creates for a new pipeline: the
    /// `_dlt_version` and `_dlt_loads` tables, default `settings` and
    /// `normalizers`, engine version 11, version 1 and its first hash.
    pub fn new(name: &str) -> Schema {
        let mut schema = Schema {
            version: 0,
            version_hash: String::new(),
            engine_version: ENGINE_VERSION,
            name: name.to_owned(),
            tables: Default::default(),
            settings: default_settings(),
            normalizers: default_normalizers(),
            previous_hashes: Vec::new(),
            extra: Default::default(),
        };
        schema
            .tables
            .insert(VERSION_TABLE.to_owned(), version_table());
        schema.tables.insert(LOADS_TABLE.to_owned(), loads_table());

        schema.bump_version();
        schema
    }

    /// Parses a stored schema document, as dlt writes it to
    /// `schemas/<name>.schema.json`, a package `schema.json` or
    /// `_dlt_version.schema`.
    ///
    /// Missing `name` keys of tables and columns (the export form) are filled
    /// from the map keys, as dlt does on load. Keys this crate does not model
    /// are kept, so the hash survives a round trip.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the text is not JSON, the engine version is not
    /// 11, `_dlt_version` or `_dlt_loads` is missing, or a known key has the
    /// wrong type.
    pub fn from_json(text: &str) -> Result<Schema> {
        let mut document: Value = serde_json::from_str(text)
            .map_err(|error| Error::config(format!("invalid schema JSON: {error}")))?;
        let name = document
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("<unnamed>")
            .to_owned();

        check_engine_version(&document, &name)?;
        check_dlt_tables(&document, &name)?;
        fill_missing_names(&mut document);
        let omitted = columns_without_nullable(&document);

        let mut schema: Schema = serde_json::from_value(document)
            .map_err(|error| Error::config(format!("invalid schema document `{name}`: {error}")))?;
        for (table_name, column_name) in omitted {
            if let Some(column) = schema
                .tables
                .get_mut(&table_name)
                .and_then(|table| table.columns.get_mut(&column_name))
            {
                column.nullable_omitted = true;
            }
        }
        Ok(schema)
    }

    /// Serializes the schema as dlt writes `schemas/<name>.schema.json`:
    /// indented by 2 spaces, no trailing newline.
    // NOTE: keys inside tables and columns are written in this crate's field
    // order, while dlt keeps the order in which hints were added. The content
    // and the hash are the same, the bytes may differ for data tables.
    pub fn to_pretty_json(&self) -> String {
        to_pretty_string(&self.to_value())
    }

    /// Serializes the schema as compact JSON, as dlt writes a package's
    /// `schema.json` and the `schema` column of `_dlt_version`.
    pub fn to_compact_json(&self) -> String {
        to_compact_string(&self.to_value(), false)
    }

    /// Adds the `_dlt_pipeline_state` table, in the form dlt 1.31 stores it
    /// after the first state was loaded, when the schema does not have it.
    /// Does not bump the version.
    pub fn ensure_pipeline_state_table(&mut self) {
        if !self.tables.contains_key(PIPELINE_STATE_TABLE) {
            self.tables
                .insert(PIPELINE_STATE_TABLE.to_owned(), pipeline_state_table());
        }
    }

    /// Returns the names of all tables nested under `root`, following
    /// `parent` links depth-first, each parent before its children and
    /// siblings in schema order. `root` itself is not included.
    pub fn nested_tables(&self, root: &str) -> Vec<String> {
        let mut nested = Vec::new();
        self.collect_children(root, &mut nested);
        nested
    }

    /// Returns the root table of `table`: the last table reached by following
    /// `parent` links. A root table or an unknown name returns itself.
    pub fn root_table_of(&self, table: &str) -> String {
        let mut current = table;
        // The step limit stops a parent cycle in a damaged document.
        for _ in 0..=self.tables.len() {
            match self.tables.get(current).and_then(|t| t.parent.as_deref()) {
                Some(parent) => current = parent,
                None => break,
            }
        }
        current.to_owned()
    }

    /// Returns the names of the tables that contain data, in schema order: all
    /// tables whose name does not start with `_dlt`.
    pub fn data_table_names(&self) -> Vec<String> {
        self.tables
            .keys()
            .filter(|name| !name.starts_with(DLT_PREFIX))
            .cloned()
            .collect()
    }

    fn collect_children(&self, parent: &str, nested: &mut Vec<String>) {
        for (name, table) in &self.tables {
            if table.parent.as_deref() != Some(parent) || nested.contains(name) {
                continue;
            }
            nested.push(name.clone());
            self.collect_children(name, nested);
        }
    }

    /// Converts the schema to the JSON document that dlt stores and hashes.
    pub(super) fn to_value(&self) -> Value {
        let mut document = serde_json::to_value(self).expect("a schema always serializes to JSON");

        // Columns read without a `nullable` key are written without it while
        // they are still nullable.
        for (table_name, table) in &self.tables {
            for (column_name, column) in &table.columns {
                if !(column.nullable_omitted && column.nullable) {
                    continue;
                }
                if let Some(column) =
                    document["tables"][table_name]["columns"][column_name].as_object_mut()
                {
                    column.shift_remove("nullable");
                }
            }
        }
        document
    }
}

/// Returns the (table, column) names of the columns that have no `nullable`
/// key in `document`.
fn columns_without_nullable(document: &Value) -> Vec<(String, String)> {
    let mut omitted = Vec::new();
    let Some(tables) = document.get("tables").and_then(Value::as_object) else {
        return omitted;
    };

    for (table_name, table) in tables {
        let Some(columns) = table.get("columns").and_then(Value::as_object) else {
            continue;
        };
        for (column_name, column) in columns {
            if column.get("nullable").is_none() {
                omitted.push((table_name.clone(), column_name.clone()));
            }
        }
    }
    omitted
}

fn check_engine_version(document: &Value, name: &str) -> Result<()> {
    let engine_version = document.get("engine_version").and_then(Value::as_u64);
    if engine_version == Some(ENGINE_VERSION) {
        return Ok(());
    }

    let found = engine_version.map_or_else(
        || "no engine version".to_owned(),
        |v| format!("engine version {v}"),
    );
    Err(Error::config(format!(
        "schema `{name}` has {found}, but only engine version {ENGINE_VERSION} (dlt 1.31) can be read; \
         load the schema once with dlt 1.31 to migrate it"
    )))
}

fn check_dlt_tables(document: &Value, name: &str) -> Result<()> {
    let tables = document.get("tables").and_then(Value::as_object);
    let missing: Vec<&str> = [VERSION_TABLE, LOADS_TABLE]
        .into_iter()
        .filter(|table| !tables.is_some_and(|tables| tables.contains_key(*table)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }

    Err(Error::config(format!(
        "schema `{name}` is missing the dlt table(s) {}; every dlt schema contains `{VERSION_TABLE}` and `{LOADS_TABLE}`",
        missing
            .iter()
            .map(|table| format!("`{table}`"))
            .collect::<Vec<_>>()
            .join(" and ")
    )))
}

fn fill_missing_names(document: &mut Value) {
    let Some(tables) = document.get_mut("tables").and_then(Value::as_object_mut) else {
        return;
    };

    for (table_name, table) in tables.iter_mut() {
        let Some(table) = table.as_object_mut() else {
            continue;
        };
        table
            .entry("name")
            .or_insert_with(|| Value::String(table_name.clone()));

        let Some(columns) = table.get_mut("columns").and_then(Value::as_object_mut) else {
            continue;
        };
        for (column_name, column) in columns.iter_mut() {
            if let Some(column) = column.as_object_mut() {
                column
                    .entry("name")
                    .or_insert_with(|| Value::String(column_name.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, DataType, Table};

    /// `orjson.dumps(dlt.Schema("x").to_dict())` in dlt 1.31.
    const FRESH_X_JSON: &str = concat!(
        r#"{"version":1,"version_hash":"EXjV++XaDVaW3hBQfQlYfYzPzek5EXlsSaX1iwv6l+I=","engine_version":11,"name":"x","tables":{"#,
        r#""_dlt_version":{"name":"_dlt_version","columns":{"#,
        r#""version":{"name":"version","data_type":"bigint","nullable":false,"description":"Numeric version of the schema, incremented on each schema change"},"#,
        r#""engine_version":{"name":"engine_version","data_type":"bigint","nullable":false,"description":"Version of the dlt schema engine that created this schema"},"#,
        r#""inserted_at":{"name":"inserted_at","data_type":"timestamp","nullable":false,"description":"Timestamp when this schema version was stored"},"#,
        r#""schema_name":{"name":"schema_name","data_type":"text","nullable":false,"description":"Name of the schema"},"#,
        r#""version_hash":{"name":"version_hash","data_type":"text","nullable":false,"description":"Unique hash of the schema content, used to detect changes"},"#,
        r#""schema":{"name":"schema","data_type":"text","nullable":false,"description":"JSON representation of the complete schema definition"}},"#,
        r#""write_disposition":"skip","resource":"_dlt_version","description":"Created by DLT. Tracks schema updates"},"#,
        r#""_dlt_loads":{"name":"_dlt_loads","columns":{"#,
        r#""load_id":{"name":"load_id","data_type":"text","nullable":false,"precision":64,"description":"Unique identifier of the load operation"},"#,
        r#""schema_name":{"name":"schema_name","data_type":"text","nullable":true,"description":"Name of the schema associated with this load"},"#,
        r#""status":{"name":"status","data_type":"bigint","nullable":false,"description":"Status of the load operation (0 = success)"},"#,
        r#""inserted_at":{"name":"inserted_at","data_type":"timestamp","nullable":false,"description":"Timestamp when the load was completed"},"#,
        r#""schema_version_hash":{"name":"schema_version_hash","data_type":"text","nullable":true,"description":"Hash of the schema version used during this load"}},"#,
        r#""write_disposition":"skip","resource":"_dlt_loads","description":"Created by DLT. Tracks completed loads"}},"#,
        r#""settings":{"detections":["iso_timestamp"],"default_hints":{"not_null":["_dlt_id","_dlt_root_id","_dlt_parent_id","_dlt_list_idx","_dlt_load_id"],"#,
        r#""parent_key":["_dlt_parent_id"],"root_key":["_dlt_root_id"],"unique":["_dlt_id"],"row_key":["_dlt_id"]}},"#,
        r#""normalizers":{"names":"snake_case","json":{"module":"dlt.common.normalizers.json.relational"}},"previous_hashes":[]}"#
    );

    /// A schema written by dlt 1.31 (`schemas/nested_p.schema.json`) after
    /// one run of a resource with nested lists, a variant column, a decimal,
    /// an incremental cursor and a primary key into DuckDB.
    const DLT_NESTED_SCHEMA: &str = include_str!("testdata/nested_p.schema.json");

    /// Hash stored in [`DLT_NESTED_SCHEMA`] by dlt.
    const DLT_NESTED_HASH: &str = "g06KoIMju4SeXG1V9r4yG0qf1wHH1dlNsLYLOVAkgwU=";

    /// A dlt 1.31 schema with columns declared by resource hints (no
    /// `nullable` key), precision and timezone hints and `max_nesting`.
    const DLT_HINTED_SCHEMA: &str = include_str!("testdata/hinted.schema.json");

    /// [`DLT_HINTED_SCHEMA`] with float values and control characters added
    /// to `x-` hints, hashed by dlt's `generate_version_hash`.
    const DLT_FLOAT_HINTS_SCHEMA: &str = include_str!("testdata/float_hints.schema.json");

    #[test]
    fn hinted_schema_hash() {
        let schema = Schema::from_json(DLT_HINTED_SCHEMA).unwrap();
        assert_eq!(schema.compute_hash(), schema.version_hash);
    }

    #[test]
    fn hinted_schema_round_trip() {
        let schema = Schema::from_json(DLT_HINTED_SCHEMA).unwrap();
        let reparsed = Schema::from_json(&schema.to_compact_json()).unwrap();
        assert_eq!(reparsed.compute_hash(), schema.version_hash);
    }

    #[test]
    fn omitted_nullable_tracked() {
        let schema = Schema::from_json(DLT_HINTED_SCHEMA).unwrap();
        let payload = &schema.tables["hinted"].columns["payload"];
        let ratio = &schema.tables["hinted"].columns["ratio"];
        assert!(payload.nullable_omitted);
        assert!(payload.nullable);
        assert!(!ratio.nullable_omitted);
    }

    #[test]
    fn omitted_nullable_written_when_false() {
        let mut schema = Schema::from_json(DLT_HINTED_SCHEMA).unwrap();
        schema.tables["hinted"].columns["payload"].nullable = false;
        let document: Value = serde_json::from_str(&schema.to_compact_json()).unwrap();
        assert_eq!(
            document["tables"]["hinted"]["columns"]["payload"]["nullable"],
            false
        );
    }

    #[test]
    fn float_hints_hash() {
        let schema = Schema::from_json(DLT_FLOAT_HINTS_SCHEMA).unwrap();
        assert_eq!(schema.compute_hash(), schema.version_hash);
    }

    #[test]
    fn new_matches_dlt_bytes() {
        assert_eq!(Schema::new("x").to_compact_json(), FRESH_X_JSON);
    }

    #[test]
    fn new_version_one() {
        let schema = Schema::new("x");
        assert_eq!(schema.version, 1);
        assert!(schema.previous_hashes.is_empty());
    }

    #[test]
    fn dlt_schema_hash() {
        let schema = Schema::from_json(DLT_NESTED_SCHEMA).expect("dlt schema parses");
        assert_eq!(schema.version_hash, DLT_NESTED_HASH);
        assert_eq!(schema.compute_hash(), DLT_NESTED_HASH);
    }

    #[test]
    fn compact_round_trip_keeps_hash() {
        let schema = Schema::from_json(DLT_NESTED_SCHEMA).unwrap();
        let reparsed = Schema::from_json(&schema.to_compact_json()).unwrap();
        assert_eq!(reparsed.compute_hash(), DLT_NESTED_HASH);
        assert_eq!(reparsed, schema);
    }

    #[test]
    fn pretty_round_trip_keeps_hash() {
        let schema = Schema::from_json(DLT_NESTED_SCHEMA).unwrap();
        let reparsed = Schema::from_json(&schema.to_pretty_json()).unwrap();
        assert_eq!(reparsed.compute_hash(), DLT_NESTED_HASH);
    }

    #[test]
    fn pretty_matches_dlt_for_fresh_schema() {
        let pretty = Schema::new("x").to_pretty_json();
        let reparsed: Value = serde_json::from_str(&pretty).unwrap();
        let expected: Value = serde_json::from_str(FRESH_X_JSON).unwrap();
        assert_eq!(reparsed, expected);
        assert!(
            pretty.starts_with("{\n  \"version\": 1,\n  \"version_hash\": "),
            "{pretty}"
        );
        assert!(
            pretty.ends_with("\n  \"previous_hashes\": []\n}"),
            "{pretty}"
        );
    }

    #[test]
    fn unknown_keys_survive_round_trip() {
        let mut document: Value = serde_json::from_str(DLT_NESTED_SCHEMA).unwrap();
        document["tables"]["users"]["x-custom"] = Value::from("keep");
        document["tables"]["users"]["columns"]["id"]["x-hint"] = Value::from(1.5e-7);
        document["description"] = Value::from("described");
        let text = to_compact_string(&document, false);
        let expected_hash = super::super::hash::document_hash(&document);

        let schema = Schema::from_json(&text).unwrap();
        assert_eq!(schema.compute_hash(), expected_hash);
        assert_eq!(schema.tables["users"].extra["x-custom"], "keep");
        assert_eq!(schema.extra["description"], "described");
    }

    #[test]
    fn rejects_missing_loads_table() {
        let mut document: Value = serde_json::from_str(FRESH_X_JSON).unwrap();
        document["tables"]
            .as_object_mut()
            .unwrap()
            .shift_remove("_dlt_loads");
        let error = Schema::from_json(&document.to_string()).unwrap_err();
        assert!(matches!(error, Error::Config { .. }));
        assert!(
            error
                .to_string()
                .starts_with("schema `x` is missing the dlt table(s) `_dlt_loads`;"),
            "{error}"
        );
    }

    #[test]
    fn rejects_missing_version_table() {
        let mut document: Value = serde_json::from_str(FRESH_X_JSON).unwrap();
        document["tables"]
            .as_object_mut()
            .unwrap()
            .shift_remove("_dlt_version");
        let error = Schema::from_json(&document.to_string()).unwrap_err();
        assert!(error.to_string().contains("`_dlt_version`"), "{error}");
    }

    #[test]
    fn rejects_old_engine() {
        let text = FRESH_X_JSON.replace("\"engine_version\":11", "\"engine_version\":10");
        let error = Schema::from_json(&text).unwrap_err();
        assert!(error.to_string().contains("engine version 10"), "{error}");
    }

    #[test]
    fn rejects_invalid_json() {
        assert!(matches!(Schema::from_json("{"), Err(Error::Config { .. })));
    }

    #[test]
    fn export_form_gets_names() {
        let mut document: Value = serde_json::from_str(FRESH_X_JSON).unwrap();
        document["tables"]["_dlt_loads"]
            .as_object_mut()
            .unwrap()
            .shift_remove("name");
        document["tables"]["_dlt_loads"]["columns"]["status"]
            .as_object_mut()
            .unwrap()
            .shift_remove("name");
        let schema = Schema::from_json(&document.to_string()).unwrap();
        assert_eq!(schema.tables["_dlt_loads"].name, "_dlt_loads");
        assert_eq!(schema.tables["_dlt_loads"].columns["status"].name, "status");
    }

    #[test]
    fn pipeline_state_table_matches_dlt() {
        let dlt_schema = Schema::from_json(DLT_NESTED_SCHEMA).unwrap();
        let mut schema = Schema::new("nested_p");
        schema.ensure_pipeline_state_table();
        assert_eq!(
            schema.tables[PIPELINE_STATE_TABLE],
            dlt_schema.tables[PIPELINE_STATE_TABLE]
        );
    }

    #[test]
    fn ensure_pipeline_state_table_keeps_existing() {
        let mut schema = Schema::new("x");
        let mut custom = Table::new(PIPELINE_STATE_TABLE);
        custom.columns.insert(
            "version".to_owned(),
            Column::new("version", DataType::Bigint),
        );
        schema
            .tables
            .insert(PIPELINE_STATE_TABLE.to_owned(), custom.clone());
        schema.ensure_pipeline_state_table();
        assert_eq!(schema.tables[PIPELINE_STATE_TABLE], custom);
    }

    #[test]
    fn nested_tables_depth_first() {
        let schema = Schema::from_json(DLT_NESTED_SCHEMA).unwrap();
        let expected = [
            "users__tags",
            "users__orders",
            "users__orders__tags",
            "users__matrix",
            "users__matrix__list",
        ];
        assert_eq!(schema.nested_tables("users"), expected);
        assert_eq!(
            schema.nested_tables("users__orders"),
            ["users__orders__tags"]
        );
        assert!(schema.nested_tables("users__tags").is_empty());
    }

    #[test]
    fn root_table_lookup() {
        let schema = Schema::from_json(DLT_NESTED_SCHEMA).unwrap();
        assert_eq!(schema.root_table_of("users__orders__tags"), "users");
        assert_eq!(schema.root_table_of("users"), "users");
        assert_eq!(schema.root_table_of("unknown"), "unknown");
    }

    #[test]
    fn data_tables_skip_dlt() {
        let schema = Schema::from_json(DLT_NESTED_SCHEMA).unwrap();
        let expected = [
            "users",
            "users__tags",
            "users__orders",
            "users__orders__tags",
            "users__matrix",
            "users__matrix__list",
        ];
        assert_eq!(schema.data_table_names(), expected);
    }
}
