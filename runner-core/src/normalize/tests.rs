//! End-to-end checks of the normalizer against dlt 1.31 behaviour: rows in,
//! schema and Parquet files out, read back with the Parquet reader.

use std::fs::File;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int8Array, Int32Array,
    Int64Array, StringArray,
    TimestampMicrosecondArray, TimestampSecondArray, UInt64Array,
};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType as ArrowType, Field, Schema as ArrowSchema, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

use super::*;
use crate::schema::{Column, DataType, Schema, Table};

const LOAD_ID: &str = "1796413222.43807";

fn new_schema(root_tables: &[&str]) -> Schema {
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
    for name in root_tables {
        let mut table = Table::new(*name);
        table.write_disposition = Some("append".into());
        table.resource = Some((*name).into());
        schema.tables.insert((*name).into(), table);
    }
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
        threads: 2,
    }
}

/// Normalizes `rows` into `root` and returns the output.
fn run(schema: &mut Schema, dir: &tempfile::TempDir, root: &str, rows: Vec<Value>) -> NormalizeOutput {
    let mut normalizer = Normalizer::new(schema, options(dir)).unwrap();
    for row in rows {
        normalizer.push_row(root, row).unwrap();
    }
    normalizer.finish().unwrap()
}

fn column_names(schema: &Schema, table: &str) -> Vec<String> {
    schema.tables[table].columns.keys().cloned().collect()
}

fn column<'s>(schema: &'s Schema, table: &str, name: &str) -> &'s Column {
    &schema.tables[table].columns[name]
}

/// Reads all job files of `table` into one batch with the newest file's schema.
fn read_table(output: &NormalizeOutput, table: &str) -> RecordBatch {
    let mut batches = Vec::new();
    for job in output.jobs.iter().filter(|job| job.table_name == table) {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&job.path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            batches.push(batch.unwrap());
        }
    }
    // Files written before a rotation lack the newer columns; fill them with
    // nulls, as a by-name load does.
    let schema = batches.last().unwrap().schema();
    let mut aligned = Vec::new();
    for batch in &batches {
        let columns = schema
            .fields()
            .iter()
            .map(|field| match batch.column_by_name(field.name()) {
                Some(column) => column.clone(),
                None => arrow::array::new_null_array(field.data_type(), batch.num_rows()),
            })
            .collect();
        aligned.push(RecordBatch::try_new(schema.clone(), columns).unwrap());
    }
    concat_batches(&schema, &aligned).unwrap()
}

fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let array = batch.column_by_name(name).unwrap();
    let array = array.as_any().downcast_ref::<StringArray>().unwrap();
    array.iter().map(|v| v.map(str::to_owned)).collect()
}

fn ints(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    let array = batch.column_by_name(name).unwrap();
    array.as_any().downcast_ref::<Int64Array>().unwrap().iter().collect()
}

#[test]
fn keys_are_snake_cased() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let row = json!({"User Name": "a", "camelCaseField": 1, "ÜnicodeKey": 1, "weird-key!": 1, "123start": 1, "trailing_": 1});
    run(&mut schema, &dir, "users", vec![row]);
    let expected = [
        "user_name",
        "camel_case_field",
        "_nicode_key",
        "weird_keyx",
        "_123start",
        "trailingx",
        "_dlt_load_id",
        "_dlt_id",
    ];
    assert_eq!(column_names(&schema, "users"), expected);
}

#[test]
fn nested_dicts_last_seen_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["my_items"]);
    let row = json!({"id": 1, "Address": {"City Name": "X"}, "a__b": {"c": 1}});
    run(&mut schema, &dir, "my_items", vec![row]);
    let expected = ["id", "a__b__c", "address__city_name", "_dlt_load_id", "_dlt_id"];
    assert_eq!(column_names(&schema, "my_items"), expected);
}

#[test]
fn dict_flattened_with_types() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let row = json!({"address": {"street": "Main", "geo": {"lat": 1.5, "lng": 2.5}}});
    run(&mut schema, &dir, "users", vec![row]);
    assert_eq!(column(&schema, "users", "address__street").data_type, Some(DataType::Text));
    assert_eq!(column(&schema, "users", "address__geo__lat").data_type, Some(DataType::Double));
    assert_eq!(column(&schema, "users", "address__geo__lng").data_type, Some(DataType::Double));
    assert!(!schema.tables.contains_key("users__address"));
}

#[test]
fn list_becomes_nested_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let row = json!({"_dlt_id": "L78eLfZY52D5FQ", "tags": ["red", "green"]});
    let output = run(&mut schema, &dir, "users", vec![row]);

    let expected = ["value", "_dlt_parent_id", "_dlt_list_idx", "_dlt_id"];
    assert_eq!(column_names(&schema, "users__tags"), expected);
    assert_eq!(schema.tables["users__tags"].parent.as_deref(), Some("users"));
    assert_eq!(schema.tables["users__tags"].write_disposition, None);

    let tags = read_table(&output, "users__tags");
    assert_eq!(strings(&tags, "value"), [Some("red".into()), Some("green".into())]);
    assert_eq!(strings(&tags, "_dlt_parent_id"), [Some("L78eLfZY52D5FQ".into()), Some("L78eLfZY52D5FQ".into())]);
    assert_eq!(ints(&tags, "_dlt_list_idx"), [Some(0), Some(1)]);
    assert_eq!(strings(&tags, "_dlt_id")[0].as_deref(), Some("M0RMfDthx0Z6yw"));
    assert!(tags.column_by_name("_dlt_load_id").is_none());
}

#[test]
fn dlt_column_hints_match_dlt() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    run(&mut schema, &dir, "users", vec![json!({"tags": ["a"]})]);

    let load_id = column(&schema, "users", "_dlt_load_id");
    assert_eq!((load_id.data_type, load_id.nullable), (Some(DataType::Text), false));
    let row_id = column(&schema, "users__tags", "_dlt_id");
    assert_eq!((row_id.nullable, row_id.unique, row_id.row_key), (false, Some(true), Some(true)));
    let parent_id = column(&schema, "users__tags", "_dlt_parent_id");
    assert_eq!((parent_id.nullable, parent_id.parent_key), (false, Some(true)));
    let list_idx = column(&schema, "users__tags", "_dlt_list_idx");
    assert_eq!((list_idx.data_type, list_idx.nullable), (Some(DataType::Bigint), false));
}

#[test]
fn root_row_ids_and_load_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let output = run(&mut schema, &dir, "users", vec![json!({"id": 1})]);
    let users = read_table(&output, "users");
    let row_id = strings(&users, "_dlt_id")[0].clone().unwrap();
    assert_eq!(row_id.len(), 14);
    assert!(row_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/'));
    assert_eq!(strings(&users, "_dlt_load_id"), [Some(LOAD_ID.to_owned())]);
}

#[test]
fn grandchild_points_to_child() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let row = json!({"orders": [{"sku": "A", "qty": 1, "tags": ["x", "y"]}]});
    let output = run(&mut schema, &dir, "users", vec![row]);

    let orders = read_table(&output, "users__orders");
    let grandchild = read_table(&output, "users__orders__tags");
    let order_id = strings(&orders, "_dlt_id")[0].clone();
    assert_eq!(strings(&grandchild, "_dlt_parent_id"), [order_id.clone(), order_id]);
    assert_eq!(column_names(&schema, "users__orders")[..2], ["sku", "qty"]);
}

#[test]
fn list_of_lists_uses_intermediary() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let output = run(&mut schema, &dir, "users", vec![json!({"matrix": [[1, 2], [3]]})]);

    assert_eq!(column_names(&schema, "users__matrix"), ["_dlt_parent_id", "_dlt_list_idx", "_dlt_id"]);
    let matrix = read_table(&output, "users__matrix");
    let inner = read_table(&output, "users__matrix__list");
    let ids = strings(&matrix, "_dlt_id");
    assert_eq!(ints(&inner, "value"), [Some(1), Some(2), Some(3)]);
    assert_eq!(strings(&inner, "_dlt_parent_id"), [ids[0].clone(), ids[0].clone(), ids[1].clone()]);
}

#[test]
fn variant_columns_for_score() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let rows = vec![json!({"score": 10}), json!({"score": "high"}), json!({"score": 3.5})];
    let output = run(&mut schema, &dir, "users", rows);

    let variant = column(&schema, "users", "score__v_text");
    assert_eq!(variant.variant, Some(true));
    assert_eq!(variant.description.as_deref(), Some("Variant of column score__v_text generated by dlt"));
    assert_eq!(column(&schema, "users", "score__v_double").data_type, Some(DataType::Double));

    let users = read_table(&output, "users");
    assert_eq!(ints(&users, "score"), [Some(10), None, None]);
    assert_eq!(strings(&users, "score__v_text"), [None, Some("high".into()), None]);
}

#[test]
fn mixed_list_variants() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["lst"]);
    let output = run(&mut schema, &dir, "lst", vec![json!({"v": [1, "two", 3.0, null, true]})]);

    let expected = ["value", "_dlt_parent_id", "_dlt_list_idx", "_dlt_id", "value__v_text", "value__v_bool"];
    assert_eq!(column_names(&schema, "lst__v"), expected);
    let values = read_table(&output, "lst__v");
    assert_eq!(values.num_rows(), 5);
    assert_eq!(ints(&values, "value"), [Some(1), None, Some(3), None, None]);
    assert_eq!(strings(&values, "value__v_text")[1].as_deref(), Some("two"));
    let bools = values.column_by_name("value__v_bool").unwrap();
    let bools = bools.as_any().downcast_ref::<BooleanArray>().unwrap();
    assert!(bools.value(4));
}

#[test]
fn timestamps_detected_and_converted() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let rows = vec![
        json!({"created_str": "2024-01-02T03:04:05Z", "ts": "2024-02-03T04:05:06+02:00"}),
        json!({"created_str": "not a date"}),
    ];
    let output = run(&mut schema, &dir, "users", rows);

    assert_eq!(column(&schema, "users", "created_str").data_type, Some(DataType::Timestamp));
    assert_eq!(column(&schema, "users", "created_str__v_text").data_type, Some(DataType::Text));

    let users = read_table(&output, "users");
    let ts = users.column_by_name("ts").unwrap();
    assert_eq!(ts.data_type(), &ArrowType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())));
    let ts = ts.as_any().downcast_ref::<TimestampMicrosecondArray>().unwrap();
    assert_eq!(ts.value(0), 1_706_925_906_000_000);
}

#[test]
fn no_date_or_number_detection() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    run(&mut schema, &dir, "users", vec![json!({"d": "2024-03-04", "n": "42", "e": 1_700_000_000})]);
    assert_eq!(column(&schema, "users", "d").data_type, Some(DataType::Text));
    assert_eq!(column(&schema, "users", "n").data_type, Some(DataType::Text));
    assert_eq!(column(&schema, "users", "e").data_type, Some(DataType::Bigint));
}

#[test]
fn key_edge_cases() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let row = json!({"": "e", "a__b": 1, "Parent__Child Name": 1, "el": [], "ed": {}, "nothing": null, "geo": {"x": null}});
    run(&mut schema, &dir, "users", vec![row]);
    let expected = ["_empty", "a__b", "parent__child_name", "_dlt_load_id", "_dlt_id"];
    assert_eq!(column_names(&schema, "users"), expected);
    assert!(!schema.tables.contains_key("users__el"));
}

#[test]
fn coercions_into_existing_columns() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let rows = vec![
        json!({"flag": true, "ratio": 0.25, "txt": "x"}),
        json!({"flag": "yes", "ratio": 1, "txt": 10}),
        json!({"txt": true}),
        json!({"txt": 1.5}),
    ];
    let output = run(&mut schema, &dir, "users", rows);

    let users = read_table(&output, "users");
    let flags = users.column_by_name("flag").unwrap().as_boolean().clone();
    assert!(flags.value(1));
    let ratio = users.column_by_name("ratio").unwrap();
    let ratio = ratio.as_any().downcast_ref::<Float64Array>().unwrap();
    assert_eq!(ratio.value(1), 1.0);
    let texts = strings(&users, "txt");
    assert_eq!(texts[1..], [Some("10".into()), Some("True".into()), Some("1.5".into())]);
    assert!(!schema.tables["users"].columns.contains_key("flag__v_text"));
}

#[test]
fn typed_values_get_their_types() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let rows = vec![
        json!({"amount": "\u{F026}12.345", "blob": "\u{F02B}AAFoaQ==", "bday": "\u{F028}1990-05-17"}),
        json!({"amount": 7}),
    ];
    let output = run(&mut schema, &dir, "users", rows);

    assert_eq!(column(&schema, "users", "amount").data_type, Some(DataType::Decimal));
    assert_eq!(column(&schema, "users", "blob").data_type, Some(DataType::Binary));
    assert_eq!(column(&schema, "users", "bday").data_type, Some(DataType::Date));

    let users = read_table(&output, "users");
    let amount = users.column_by_name("amount").unwrap();
    assert_eq!(amount.data_type(), &ArrowType::Decimal128(38, 9));
    let amount = amount.as_any().downcast_ref::<Decimal128Array>().unwrap();
    assert_eq!((amount.value(0), amount.value(1)), (12_345_000_000, 7_000_000_000));
    let blob = users.column_by_name("blob").unwrap().as_binary::<i32>().clone();
    assert_eq!(blob.value(0), b"\x00\x01hi");
    let bday = users.column_by_name("bday").unwrap();
    let bday = bday.as_any().downcast_ref::<Date32Array>().unwrap();
    assert_eq!(bday.value(0), 7441);
}

#[test]
fn max_nesting_keeps_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["deep"]);
    schema.tables["deep"].x_normalizer = Some(json!({"max_nesting": 1}));
    let rows = vec![json!({"deep": {"l1": {"l2": {"l3": 1}}}, "lst": [{"a": {"b": 1}}]})];
    let output = run(&mut schema, &dir, "deep", rows);

    assert_eq!(column(&schema, "deep", "deep__l1").data_type, Some(DataType::Json));
    assert_eq!(column(&schema, "deep__lst", "a").data_type, Some(DataType::Json));
    let deep = read_table(&output, "deep");
    assert_eq!(strings(&deep, "deep__l1"), [Some(r#"{"l2":{"l3":1}}"#.into())]);
}

#[test]
fn merge_propagates_root_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["mrg"]);
    schema.tables["mrg"].write_disposition = Some("merge".into());
    let output = run(&mut schema, &dir, "mrg", vec![json!({"id": 1, "kids": [{"n": 1}]})]);

    let expected = ["n", "_dlt_root_id", "_dlt_parent_id", "_dlt_list_idx", "_dlt_id"];
    assert_eq!(column_names(&schema, "mrg__kids"), expected);
    assert_eq!(column(&schema, "mrg__kids", "_dlt_root_id").root_key, Some(true));
    let propagation = schema.normalizers.pointer("/json/config/propagation/tables/mrg");
    assert_eq!(propagation, Some(&json!({"_dlt_id": "_dlt_root_id"})));

    let root = read_table(&output, "mrg");
    let kids = read_table(&output, "mrg__kids");
    assert_eq!(strings(&kids, "_dlt_root_id"), strings(&root, "_dlt_id"));
}

#[test]
fn non_object_items_wrapped() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["weird_table_name"]);
    run(&mut schema, &dir, "weird_table_name", vec![json!(1), json!(2), json!("x")]);
    assert_eq!(column(&schema, "weird_table_name", "value").data_type, Some(DataType::Bigint));
    assert_eq!(column(&schema, "weird_table_name", "value__v_text").variant, Some(true));
}

#[test]
fn variant_of_variant_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let mut normalizer = Normalizer::new(&mut schema, options(&dir)).unwrap();
    normalizer.push_row("users", json!({"x": 1})).unwrap();
    // The text variant of `x` is typed timestamp, because its first value was detected as one.
    normalizer.push_row("users", json!({"x": "2024-01-02T03:04:05Z"})).unwrap();
    let error = normalizer.push_row("users", json!({"x": "abc"})).unwrap_err();
    assert!(error.to_string().contains("`x__v_text`"));
}

#[test]
fn bigint_overflow_fails_with_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let mut normalizer = Normalizer::new(&mut schema, options(&dir)).unwrap();
    let error = normalizer.push_row("users", json!({"big": 9_223_372_036_854_775_813u64})).unwrap_err();
    assert!(matches!(&error, crate::Error::Normalize { table, .. } if table == "users"));
    assert!(error.to_string().contains("`big`"));
}

#[test]
fn new_column_extends_unflushed_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let output = run(&mut schema, &dir, "users", vec![json!({"a": 1}), json!({"a": 2, "b": "x"})]);

    let files: Vec<_> = output.jobs.iter().filter(|job| job.table_name == "users").collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].row_count, 2);
    assert_eq!(output.rows_per_table["users"], 2);
}

#[test]
fn new_column_after_flush_rotates_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let mut settings = options(&dir);
    settings.batch_rows = 1;
    let mut normalizer = Normalizer::new(&mut schema, settings).unwrap();
    normalizer.push_row("users", json!({"a": 1})).unwrap();
    normalizer.push_row("users", json!({"a": 2, "b": "x"})).unwrap();
    let output = normalizer.finish().unwrap();

    let files: Vec<_> = output.jobs.iter().filter(|job| job.table_name == "users").collect();
    assert_eq!(files.len(), 2);
    assert_eq!((files[0].row_count, files[1].row_count), (1, 1));
    assert!(files[0].file_name.starts_with("users."));
    assert!(files[0].file_name.ends_with(".0.parquet"));
}

#[test]
fn encoder_thread_matches_inline() {
    let rows: Vec<Value> = (0..1_000)
        .map(|id| json!({"id": id, "name": format!("n{id}"), "items": [{"k": id}, {"k": id + 1}], "late": (id > 500).then_some(1.5)}))
        .collect();

    let mut outputs = Vec::new();
    for threads in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let mut schema = new_schema(&["users"]);
        let mut settings = options(&dir);
        settings.threads = threads;
        settings.batch_rows = 100;
        settings.file_max_rows = Some(300);
        let mut normalizer = Normalizer::new(&mut schema, settings).unwrap();
        for row in rows.clone() {
            normalizer.push_row("users", row).unwrap();
        }
        let output = normalizer.finish().unwrap();

        // Root ids are random, so each nested id is checked against its parent.
        let nested = read_table(&output, "users__items");
        let parents = strings(&nested, "_dlt_parent_id");
        let indices = ints(&nested, "_dlt_list_idx");
        for ((id, parent), index) in strings(&nested, "_dlt_id").iter().zip(&parents).zip(&indices) {
            let expected = crate::load_id::nested_row_id(parent.as_deref().unwrap(), "users__items", index.unwrap() as usize);
            assert_eq!(id.as_deref(), Some(expected.as_str()));
        }

        let counts: Vec<(String, u64)> = output.jobs.iter().map(|job| (job.table_name.clone(), job.row_count)).collect();
        let root = read_table(&output, "users");
        outputs.push((counts, ints(&root, "id"), strings(&root, "name"), ints(&nested, "k")));
        drop(dir);
    }
    assert_eq!(outputs[0].0.len(), 11, "files per table: 4 root with the late column's rotation, 7 nested");
    assert_eq!(outputs[0], outputs[1]);
}

#[test]
fn missing_jobs_folder_fails_with_encoder_thread() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let mut settings = options(&dir);
    settings.threads = 2;
    settings.jobs_dir = dir.path().join("missing");
    let mut normalizer = Normalizer::new(&mut schema, settings).unwrap();
    normalizer.push_row("users", json!({"id": 1})).unwrap();
    let error = normalizer.finish().unwrap_err();
    assert!(error.to_string().contains("missing"), "{error}");
}

#[test]
fn file_max_rows_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let mut settings = options(&dir);
    settings.file_max_rows = Some(2);
    settings.batch_rows = 1;
    let mut normalizer = Normalizer::new(&mut schema, settings).unwrap();
    for id in 0..5 {
        normalizer.push_row("users", json!({"id": id})).unwrap();
    }
    let output = normalizer.finish().unwrap();
    let counts: Vec<u64> = output.jobs.iter().map(|job| job.row_count).collect();
    assert_eq!(counts, [2, 2, 1]);
}

#[test]
fn file_max_bytes_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let mut settings = options(&dir);
    settings.file_max_bytes = Some(20_000);
    let mut normalizer = Normalizer::new(&mut schema, settings).unwrap();
    // About 1 KB of pseudo-random letters per row, which Snappy barely shrinks.
    let mut state = 1u64;
    for id in 0..100 {
        let text: String = (0..1000)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                char::from(b'a' + (state >> 59) as u8 % 26)
            })
            .collect();
        normalizer.push_row("users", json!({"id": id, "text": text})).unwrap();
    }
    let output = normalizer.finish().unwrap();

    let rows: u64 = output.jobs.iter().map(|job| job.row_count).sum();
    assert_eq!(rows, 100);
    assert!(output.jobs.len() >= 4, "{} files for 100 KB of text", output.jobs.len());
    for job in &output.jobs {
        let size = std::fs::metadata(&job.path).unwrap().len();
        assert!(size <= 30_000, "{} has {size} bytes", job.file_name);
    }
}

#[test]
fn schema_updates_and_seen_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    schema.tables["users"].columns.insert("id".into(), Column::new("id", DataType::Bigint));
    let output = run(&mut schema, &dir, "users", vec![json!({"id": 1, "name": "a", "tags": ["t"]})]);

    let users_update: Vec<&String> = output.schema_updates["users"].columns.keys().collect();
    assert_eq!(users_update, ["name", "_dlt_load_id", "_dlt_id"]);
    assert_eq!(output.schema_updates["users__tags"].columns.len(), 4);
    assert!(schema.tables["users"].has_seen_data());
    assert!(schema.tables["users__tags"].has_seen_data());
}

#[test]
fn non_nullable_fields_in_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["users"]);
    let output = run(&mut schema, &dir, "users", vec![json!({"id": 1})]);
    let users = read_table(&output, "users");
    let file_schema = users.schema();
    assert!(!file_schema.field_with_name("_dlt_id").unwrap().is_nullable());
    assert!(file_schema.field_with_name("id").unwrap().is_nullable());
}

#[test]
fn colliding_lists_concatenate() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["t"]);
    let rows = vec![
        json!({"id": 1, "l": [1, 2], "L": [3]}),
        json!({"id": 2, "a__b": [4], "a": {"b": [5, 6]}}),
        json!({"id": 3, "a__b": [7], "A": {"b": []}}),
    ];
    let output = run(&mut schema, &dir, "t", rows);

    let nested = read_table(&output, "t__l");
    assert_eq!(ints(&nested, "value"), [Some(1), Some(2), Some(3)]);
    assert_eq!(ints(&nested, "_dlt_list_idx"), [Some(0), Some(1), Some(2)]);
    let ids = strings(&nested, "_dlt_id");
    assert!(ids[0] != ids[2], "rows of the two lists share id {:?}", ids[0]);

    let nested = read_table(&output, "t__a__b");
    assert_eq!(ints(&nested, "value"), [Some(4), Some(5), Some(6), Some(7)]);
    assert_eq!(ints(&nested, "_dlt_list_idx"), [Some(0), Some(1), Some(2), Some(0)]);
}

#[test]
fn colliding_fields_after_unique_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["t"]);
    let rows = vec![
        json!({"a": 1, "b": 2}),
        json!({"a": 1, "b": 2}),
        json!({"a": 3, "A": 5}),
        json!({"a": 7, "b": 8}),
        json!({"x": {"y": 1}, "x__y": 2}),
    ];
    let output = run(&mut schema, &dir, "t", rows);

    let table = read_table(&output, "t");
    assert_eq!(column_names(&schema, "t"), ["a", "b", "_dlt_load_id", "_dlt_id", "x__y"]);
    assert_eq!(ints(&table, "a"), [Some(1), Some(1), Some(5), Some(7), None]);
    assert_eq!(ints(&table, "b"), [Some(2), Some(2), None, Some(8), None]);
    assert_eq!(ints(&table, "x__y"), [None, None, None, None, Some(1)]);
}

#[test]
fn row_id_in_data_after_unique_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["t"]);
    let rows = vec![json!({"id": 1}), json!({"id": 2, "_dlt_id": "given"}), json!({"id": 3})];
    let output = run(&mut schema, &dir, "t", rows);

    let table = read_table(&output, "t");
    assert_eq!(column_names(&schema, "t"), ["id", "_dlt_load_id", "_dlt_id"]);
    let ids = strings(&table, "_dlt_id");
    assert_eq!(ids[1].as_deref(), Some("given"));
    assert_eq!(ids[0].as_ref().map(String::len), Some(14));
    assert_eq!(ids[2].as_ref().map(String::len), Some(14));
}

#[test]
fn arrow_name_collision_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["arr"]);
    let fields = vec![
        Field::new("userId", ArrowType::Int64, true),
        Field::new("user_id", ArrowType::Int64, true),
    ];
    let batch = RecordBatch::try_new(
        Arc::new(ArrowSchema::new(fields)),
        vec![Arc::new(Int64Array::from(vec![1])), Arc::new(Int64Array::from(vec![3]))],
    )
    .unwrap();

    let mut normalizer = Normalizer::new(&mut schema, options(&dir)).unwrap();
    let error = normalizer.push_batch("arr", &batch).unwrap_err();
    assert!(error.to_string().contains("`userId` and `user_id` both become column `user_id`"), "{error}");
}

#[test]
fn arrow_name_collision_cases() {
    assert_eq!(column_name_collision(["a", "b"].into_iter()), None);
    assert!(column_name_collision(["a", "a"].into_iter()).is_some());
    assert!(column_name_collision(["a", "A"].into_iter()).is_some());
    assert!(column_name_collision([" ", ""].into_iter()).is_some());
}

#[test]
fn arrow_batch_types_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["arr"]);
    let fields = vec![
        Field::new("Camel Col", ArrowType::UInt64, true),
        Field::new("i8", ArrowType::Int8, true),
        Field::new("tsn", ArrowType::Timestamp(TimeUnit::Millisecond, None), true),
    ];
    let batch = RecordBatch::try_new(
        Arc::new(ArrowSchema::new(fields)),
        vec![
            Arc::new(UInt64Array::from(vec![7])),
            Arc::new(Int8Array::from(vec![1])),
            Arc::new(arrow::array::TimestampMillisecondArray::from(vec![1_000])),
        ],
    )
    .unwrap();

    let mut normalizer = Normalizer::new(&mut schema, options(&dir)).unwrap();
    normalizer.push_batch("arr", &batch).unwrap();
    let output = normalizer.finish().unwrap();

    assert_eq!(column_names(&schema, "arr"), ["camel_col", "i8", "tsn"]);
    assert_eq!(column(&schema, "arr", "i8").precision, Some(8));
    assert_eq!(column(&schema, "arr", "tsn").precision, Some(3));
    let arr = read_table(&output, "arr");
    assert_eq!(ints(&arr, "camel_col"), [Some(7)]);
    let tsn = arr.column_by_name("tsn").unwrap();
    assert_eq!(tsn.data_type(), &ArrowType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())));
}

#[test]
fn arrow_uint64_overflow_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["arr"]);
    let field = Field::new("u", ArrowType::UInt64, true);
    let array = Arc::new(UInt64Array::from(vec![u64::MAX]));
    let batch = RecordBatch::try_new(Arc::new(ArrowSchema::new(vec![field])), vec![array]).unwrap();
    let mut normalizer = Normalizer::new(&mut schema, options(&dir)).unwrap();
    assert!(normalizer.push_batch("arr", &batch).is_err());
}

/// Pushes two one-column batches into table `arr`. The first batch sets the
/// column's type.
fn push_two(first: ArrayRef, second: ArrayRef) -> crate::Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["arr"]);
    let mut normalizer = Normalizer::new(&mut schema, options(&dir)).unwrap();
    normalizer.push_batch("arr", &RecordBatch::try_from_iter([("v", first)]).unwrap())?;
    normalizer.push_batch("arr", &RecordBatch::try_from_iter([("v", second)]).unwrap())
}

#[test]
fn arrow_double_into_bigint_column_fails() {
    let doubles = Arc::new(Float64Array::from(vec![2.0, 1.5]));

    let error = push_two(Arc::new(Int64Array::from(vec![1])), doubles).unwrap_err();

    assert!(error.to_string().contains("1.5 would load as 1"), "{error}");
    assert!(error.to_string().contains("has double (Float64) values"), "{error}");
    assert!(error.to_string().contains("type bigint (Int64) cannot"), "{error}");
}

#[test]
fn arrow_decimal_into_smaller_scale_fails() {
    let scale_1 = Decimal128Array::from(vec![15]).with_precision_and_scale(10, 1).unwrap();
    let scale_6 = Decimal128Array::from(vec![1_123_456]).with_precision_and_scale(20, 6).unwrap();

    let error = push_two(Arc::new(scale_1), Arc::new(scale_6)).unwrap_err();

    assert!(error.to_string().contains("1.123456 would load as 1.1"), "{error}");
}

#[test]
fn arrow_rounded_bigint_into_double_fails() {
    let exact = Arc::new(Int64Array::from(vec![1 << 53]));
    let rounded = Arc::new(Int64Array::from(vec![(1 << 53) + 1]));

    assert!(push_two(Arc::new(Float64Array::from(vec![0.5])), exact).is_ok());
    assert!(push_two(Arc::new(Float64Array::from(vec![0.5])), rounded).is_err());
}

#[test]
fn arrow_lost_timestamp_fraction_fails() {
    let seconds = TimestampSecondArray::from(vec![946_684_800]).with_timezone("UTC");
    let whole = TimestampMicrosecondArray::from(vec![946_684_801_000_000]);
    let fraction = TimestampMicrosecondArray::from(vec![946_684_800_123_456]);

    assert!(push_two(Arc::new(seconds.clone()), Arc::new(whole)).is_ok());
    let error = push_two(Arc::new(seconds), Arc::new(fraction)).unwrap_err();
    assert!(error.to_string().contains("2000-01-01T00:00:00.123456 has a fraction"), "{error}");
}

/// Pushes two one-column batches into table `arr` as [`push_two`] does and
/// returns column `v` of the job file, in row order.
fn load_two(first: ArrayRef, second: ArrayRef) -> ArrayRef {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["arr"]);
    let mut normalizer = Normalizer::new(&mut schema, options(&dir)).unwrap();
    normalizer.push_batch("arr", &RecordBatch::try_from_iter([("v", first)]).unwrap()).unwrap();
    normalizer.push_batch("arr", &RecordBatch::try_from_iter([("v", second)]).unwrap()).unwrap();
    let output = normalizer.finish().unwrap();

    read_table(&output, "arr").column_by_name("v").unwrap().clone()
}

#[test]
fn arrow_zoned_fraction_shown_as_timestamp() {
    let seconds = TimestampSecondArray::from(vec![946_684_800]).with_timezone("UTC");
    let fraction = TimestampMicrosecondArray::from(vec![946_684_800_123_456]).with_timezone("UTC");

    let error = push_two(Arc::new(seconds), Arc::new(fraction)).unwrap_err();

    assert!(error.to_string().contains("2000-01-01T00:00:00.123456Z has a fraction"), "{error}");
}

#[test]
fn arrow_dates_text_into_utc_timestamps() {
    let utc = || Arc::new(TimestampMicrosecondArray::from(vec![0]).with_timezone("UTC")) as ArrayRef;
    let date = Arc::new(Date32Array::from(vec![18_262])) as ArrayRef;
    let text = Arc::new(StringArray::from(vec!["2020-01-01T00:00:00Z"])) as ArrayRef;
    let midnight_2020 = 1_577_836_800_000_000;

    for second in [date, text] {
        let column = load_two(utc(), second);
        let values = column.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        assert_eq!(values.value(1), midnight_2020);
    }
}

#[test]
fn arrow_zoned_timestamp_takes_utc_date() {
    let dates = || Arc::new(Date32Array::from(vec![0])) as ArrayRef;
    let midnight_utc = TimestampMicrosecondArray::from(vec![1_577_836_800_000_000]).with_timezone("UTC");
    // 2020-01-01 23:00 UTC, which is already 2020-01-02 at +01:00.
    let late_evening = TimestampMicrosecondArray::from(vec![1_577_919_600_000_000]).with_timezone("+01:00");

    let column = load_two(dates(), Arc::new(midnight_utc));
    assert_eq!(column.as_primitive::<arrow::datatypes::Date32Type>().value(1), 18_262);
    assert!(push_two(dates(), Arc::new(late_evening)).is_err(), "23:00 is not a date");
}

#[test]
fn arrow_zoned_timestamp_text_keeps_zone() {
    let texts = Arc::new(StringArray::from(vec!["a"])) as ArrayRef;
    let berlin = TimestampMicrosecondArray::from(vec![1_577_836_800_000_000]).with_timezone("Europe/Berlin");

    let column = load_two(texts, Arc::new(berlin));

    assert_eq!(column.as_string::<i32>().value(1), "2020-01-01T00:00:00Z");
}

#[test]
fn arrow_negative_zero_becomes_zero() {
    let column = load_two(Arc::new(Int64Array::from(vec![1])), Arc::new(Float64Array::from(vec![-0.0])));

    assert_eq!(column.as_primitive::<arrow::datatypes::Int64Type>().value(1), 0);
}

#[test]
fn arrow_text_cut_short_fails() {
    let decimal = || Arc::new(Decimal128Array::from(vec![15]).with_precision_and_scale(10, 1).unwrap()) as ArrayRef;
    let dates = || Arc::new(Date32Array::from(vec![0])) as ArrayRef;
    let text = |value: &str| Arc::new(StringArray::from(vec![value])) as ArrayRef;

    let error = push_two(decimal(), text("1.123456")).unwrap_err();
    assert!(error.to_string().contains("1.123456 would load as 1.1"), "{error}");
    assert!(push_two(dates(), text("2020-01-01T05:00:00")).is_err());

    assert!(push_two(decimal(), text("1.10")).is_ok());
    assert!(push_two(dates(), text("2020-01-01")).is_ok());
}

#[test]
fn arrow_text_beyond_common_scales_checked() {
    let decimal = || Arc::new(Decimal128Array::from(vec![15]).with_precision_and_scale(10, 1).unwrap()) as ArrayRef;
    let dates = || Arc::new(Date32Array::from(vec![0])) as ArrayRef;
    let text = |value: &str| Arc::new(StringArray::from(vec![value])) as ArrayRef;

    for empty in ["", " ", "-", "."] {
        assert!(push_two(decimal(), text(empty)).is_err(), "{empty:?} is not a number");
    }
    assert!(push_two(decimal(), text("0.0000000000000000000001")).is_err());
    assert!(push_two(dates(), text("2300-01-02T05:00:00")).is_err(), "beyond nanoseconds");
    assert!(push_two(dates(), text("2300-01-02")).is_ok());
}

#[test]
fn arrow_numbers_and_dates_rejected() {
    let utc = || Arc::new(TimestampMicrosecondArray::from(vec![0]).with_timezone("UTC")) as ArrayRef;
    let bigints = || Arc::new(Int64Array::from(vec![1])) as ArrayRef;

    let error = push_two(utc(), bigints()).unwrap_err();
    assert!(error.to_string().contains("numbers and dates or times"), "{error}");
    assert!(push_two(bigints(), utc()).is_err());
}

#[test]
fn arrow_change_names_value_in_utc() {
    let dates = Arc::new(Date32Array::from(vec![0])) as ArrayRef;
    let evening = TimestampMicrosecondArray::from(vec![1_577_919_600_000_000]).with_timezone("UTC");

    let error = push_two(dates, Arc::new(evening)).unwrap_err();

    assert!(error.to_string().contains("2020-01-01T23:00:00Z would load as 2020-01-01"), "{error}");
}

#[test]
fn arrow_values_that_fit_are_cast() {
    let bigints = || Arc::new(Int64Array::from(vec![1])) as ArrayRef;

    assert!(push_two(bigints(), Arc::new(Float64Array::from(vec![2.0, -3.0]))).is_ok());
    assert!(push_two(bigints(), Arc::new(Int32Array::from(vec![i32::MIN]))).is_ok());
    assert!(push_two(bigints(), Arc::new(StringArray::from(vec!["05"]))).is_ok());
}

#[test]
fn arrow_text_read_as_json_rows() {
    let text = |values: &[&str]| Arc::new(StringArray::from(values.to_vec())) as ArrayRef;
    let bigints = || Arc::new(Int64Array::from(vec![1])) as ArrayRef;
    let decimals = || Arc::new(Decimal128Array::from(vec![15]).with_precision_and_scale(10, 1).unwrap()) as ArrayRef;
    let timestamps = || Arc::new(TimestampMicrosecondArray::from(vec![0]).with_timezone("UTC")) as ArrayRef;

    let loaded = load_two(bigints(), text(&[" 5", "0x10", "+7"]));
    assert_eq!(loaded.as_primitive::<arrow::datatypes::Int64Type>().values().to_vec(), [1, 5, 16, 7]);

    let loaded = load_two(decimals(), text(&["1.5e1", "+.5"]));
    let values = loaded.as_primitive::<arrow::datatypes::Decimal128Type>();
    assert_eq!(values.values().to_vec(), [15, 150, 5]);

    let loaded = load_two(timestamps(), text(&["2020-01-01T10:20", "20200101T102030Z"]));
    let values = loaded.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
    assert_eq!(values.values().to_vec(), [0, 1_577_874_000_000_000, 1_577_874_030_000_000]);
}

#[test]
fn arrow_text_time_of_day_into_date_fails() {
    let dates = || Arc::new(Date32Array::from(vec![0])) as ArrayRef;
    let text = |value: &str| Arc::new(StringArray::from(vec![value])) as ArrayRef;

    let error = push_two(dates(), text("2020-01-01T10:20")).unwrap_err();

    assert!(error.to_string().contains("would load as 2020-01-01"), "{error}");
    let loaded = load_two(dates(), text("2020-01-02T00:00"));
    assert_eq!(loaded.as_primitive::<arrow::datatypes::Date32Type>().values().to_vec(), [0, 18_263]);
}

#[test]
fn arrow_text_bool_follows_json_rows() {
    let booleans = || Arc::new(BooleanArray::from(vec![true])) as ArrayRef;
    let text = |values: &[&str]| Arc::new(StringArray::from(values.to_vec())) as ArrayRef;

    let loaded = load_two(booleans(), text(&["Yes", "n", "0", "TRUE"]));
    let values: Vec<Option<bool>> = loaded.as_boolean().iter().collect();
    assert_eq!(values, [Some(true), Some(true), Some(false), Some(false), Some(true)]);

    for rejected in ["tr", "ye", "on", "of", ""] {
        let error = push_two(booleans(), text(&["yes", rejected])).unwrap_err();
        assert!(error.to_string().contains(&format!("the text \"{rejected}\" is not a bool")), "{error}");
    }
}

#[test]
fn arrow_text_not_an_integer_fails() {
    let bigints = || Arc::new(Int64Array::from(vec![1])) as ArrayRef;
    let text = |value: &str| Arc::new(StringArray::from(vec![value])) as ArrayRef;

    for rejected in ["5.0", "1e3", "five"] {
        let error = push_two(bigints(), text(rejected)).unwrap_err();
        assert!(error.to_string().contains(&format!("the text \"{rejected}\" is not a bigint value")), "{error}");
        assert!(error.to_string().contains("from text (Utf8)"), "{error}");
    }
    let error = push_two(bigints(), text("9223372036854775808")).unwrap_err();
    assert!(error.to_string().contains("out of range for bigint"), "{error}");
}

#[test]
fn arrow_struct_becomes_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["arr"]);
    let inner = Arc::new(Int64Array::from(vec![1])) as Arc<dyn Array>;
    let structs = arrow::array::StructArray::from(vec![(Arc::new(Field::new("x", ArrowType::Int64, true)), inner)]);
    let field = Field::new("st", structs.data_type().clone(), true);
    let batch = RecordBatch::try_new(Arc::new(ArrowSchema::new(vec![field])), vec![Arc::new(structs)]).unwrap();

    let mut normalizer = Normalizer::new(&mut schema, options(&dir)).unwrap();
    normalizer.push_batch("arr", &batch).unwrap();
    let output = normalizer.finish().unwrap();

    assert_eq!(column(&schema, "arr", "st").data_type, Some(DataType::Json));
    assert_eq!(strings(&read_table(&output, "arr"), "st"), [Some(r#"{"x":1}"#.into())]);
}

#[test]
fn job_order_same_on_one_and_two_threads() {
    // Every other row has one item: 50 root rows and 25 child rows.
    let rows: Vec<Value> = (0..50)
        .map(|id| {
            let items: Vec<Value> = (0..id % 2).map(|_| json!({"n": id})).collect();
            json!({"id": id, "items": items})
        })
        .collect();
    let mut tables_per_threads = Vec::new();
    for threads in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let mut schema = new_schema(&["events"]);
        let mut normalizer = Normalizer::new(&mut schema, NormalizeOptions { threads, ..options(&dir) }).unwrap();
        for row in rows.clone() {
            normalizer.push_row("events", row).unwrap();
        }
        let output = normalizer.finish().unwrap();

        // The root table has the most rows, so with two threads its file
        // is closed on the normalizer's thread, after the child's.
        assert_eq!(read_table(&output, "events").num_rows(), 50);
        assert_eq!(read_table(&output, "events__items").num_rows(), 25);
        tables_per_threads.push(output.jobs.iter().map(|job| job.table_name.clone()).collect::<Vec<_>>());
    }
    assert_eq!(tables_per_threads[0], tables_per_threads[1]);
}

#[test]
fn long_text_ends_row_groups_early() {
    let dir = tempfile::tempdir().unwrap();
    let mut schema = new_schema(&["docs"]);
    // Text that neither a dictionary nor Snappy shrinks: 1 MiB of
    // pseudo-random letters per row (xorshift).
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut letters = move |length: usize| -> String {
        (0..length)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'a' + (state % 26) as u8)
            })
            .collect()
    };
    let rows: Vec<Value> = (0..40).map(|id| json!({"id": id, "text": letters(1 << 20)})).collect();

    let output = run(&mut schema, &dir, "docs", rows);

    // 40 MiB of text in at most 32 MiB per row group, far below 122,880 rows.
    let job = &output.jobs[0];
    let metadata = ParquetRecordBatchReaderBuilder::try_new(File::open(&job.path).unwrap())
        .unwrap()
        .metadata()
        .clone();
    assert!(metadata.num_row_groups() >= 2, "{} row groups", metadata.num_row_groups());
    assert_eq!(read_table(&output, "docs").num_rows(), 40);
}
