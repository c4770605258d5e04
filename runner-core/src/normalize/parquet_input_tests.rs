//! Extracted Parquet jobs that pass without decoding and jobs that must be
//! decoded, on real files written by the Parquet writer.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, Decimal128Array, DictionaryArray, Int32Array, Int64Array, LargeStringArray, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{
    DataType as ArrowType, Field, Int32Type, Int64Type, Schema as ArrowSchema, TimeUnit, TimestampMicrosecondType,
};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::*;
use super::contract_tests::empty_schema;
use crate::schema::{ContractMode, SCHEMA_CONTRACT_HINT, Schema, SchemaContract};

const ROWS: i64 = 25;

/// Rows per row group of the input files: the normalizer's own writer
/// would put all 25 rows in one row group.
const INPUT_ROW_GROUP_ROWS: usize = 10;

fn options(jobs_dir: &Path) -> NormalizeOptions {
    NormalizeOptions {
        load_id: "1796413222.43807".into(),
        jobs_dir: jobs_dir.to_owned(),
        batch_rows: DEFAULT_BATCH_ROWS,
        max_nesting: None,
        file_max_rows: None,
        file_max_bytes: None,
        threads: 2,
    }
}

/// Writes `columns` as a ZSTD Parquet file with row groups of
/// `INPUT_ROW_GROUP_ROWS` rows. Columns without nulls are non-nullable.
fn write_input(dir: &Path, columns: Vec<(&str, ArrayRef)>) -> PathBuf {
    let path = dir.join("input.parquet");
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(INPUT_ROW_GROUP_ROWS))
        .build();
    let mut writer = ArrowWriter::try_new(File::create(&path).unwrap(), batch.schema(), Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path
}

fn ids() -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(0..ROWS))
}

fn names() -> Vec<String> {
    (0..ROWS).map(|i| format!("name {i}")).collect()
}

/// Naive timestamps, one hour apart, as microseconds.
fn hours() -> Vec<i64> {
    (0..ROWS).map(|i| i * 3_600_000_000).collect()
}

fn read_job(path: &Path) -> RecordBatch {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

fn row_group_count(path: &Path) -> usize {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    builder.metadata().num_row_groups()
}

fn first_compression(path: &Path) -> Compression {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    builder.metadata().row_group(0).column(0).compression()
}

#[test]
fn matching_file_is_hard_linked() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(
        dir.path(),
        vec![("id", ids()), ("name", Arc::new(StringArray::from(names())) as ArrayRef)],
    );
    let mut schema = empty_schema(SchemaContract::default());
    let jobs = tempfile::tempdir().unwrap();

    let mut normalizer = Normalizer::new(&mut schema, options(jobs.path())).unwrap();
    let rows = normalizer.pass_parquet_file("items", &input).unwrap();
    let output = normalizer.finish().unwrap();

    assert_eq!(rows, Some(ROWS as u64));
    assert_eq!(output.jobs.len(), 1);
    assert_eq!(output.jobs[0].row_count, ROWS as u64);
    assert_eq!(output.rows_per_table["items"], ROWS as u64);
    let job_inode = std::fs::metadata(&output.jobs[0].path).unwrap().ino();
    assert_eq!(job_inode, std::fs::metadata(&input).unwrap().ino(), "the job is not a hard link of the input");
    assert!(output.jobs[0].file_name.starts_with("items."), "{}", output.jobs[0].file_name);
    let added: Vec<&String> = output.schema_updates["items"].columns.keys().collect();
    assert_eq!(added, ["id", "name"]);
}

#[test]
fn relabelled_file_keeps_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(
        dir.path(),
        vec![
            ("Item ID", ids()),
            ("name", Arc::new(LargeStringArray::from(names())) as ArrayRef),
            ("at", Arc::new(TimestampMicrosecondArray::from(hours())) as ArrayRef),
        ],
    );
    let mut schema = empty_schema(SchemaContract::default());
    let jobs = tempfile::tempdir().unwrap();

    let mut normalizer = Normalizer::new(&mut schema, options(jobs.path())).unwrap();
    let rows = normalizer.pass_parquet_file("items", &input).unwrap();
    let output = normalizer.finish().unwrap();

    assert_eq!(rows, Some(ROWS as u64));
    let job = &output.jobs[0].path;
    assert_ne!(std::fs::metadata(job).unwrap().ino(), std::fs::metadata(&input).unwrap().ino());
    assert_eq!(row_group_count(job), 3, "row groups were not copied");
    assert!(matches!(first_compression(job), Compression::ZSTD(_)), "column chunks were encoded again");

    let batch = read_job(job);
    let utc = ArrowType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let expected = ArrowSchema::new(vec![
        Field::new("item_id", ArrowType::Int64, false),
        Field::new("name", ArrowType::Utf8, false),
        Field::new("at", utc, false),
    ]);
    assert_eq!(batch.schema().as_ref(), &expected);
    assert_eq!(batch.column(0).as_primitive::<Int64Type>(), &Int64Array::from_iter_values(0..ROWS));
    assert_eq!(batch.column(1).as_string::<i32>(), &StringArray::from(names()));
    let at = batch.column(2).as_primitive::<TimestampMicrosecondType>();
    assert_eq!(at, &TimestampMicrosecondArray::from(hours()).with_timezone("UTC"));
}

#[test]
fn dictionary_column_is_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<&str> = (0..ROWS).map(|i| if i % 2 == 0 { "a" } else { "b" }).collect();
    let dictionary: DictionaryArray<Int32Type> = keys.into_iter().collect();
    let input = write_input(dir.path(), vec![("id", ids()), ("kind", Arc::new(dictionary) as ArrayRef)]);
    let mut schema = empty_schema(SchemaContract::default());
    let jobs = tempfile::tempdir().unwrap();

    let mut normalizer = Normalizer::new(&mut schema, options(jobs.path())).unwrap();
    let rows = normalizer.pass_parquet_file("items", &input).unwrap();

    assert_eq!(rows, None);
    assert!(normalizer.finish().unwrap().jobs.is_empty());
}

/// Returns a schema whose `items` table got an `id` column from a Parquet job.
fn schema_with_ids(jobs_dir: &Path) -> Schema {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path(), vec![("id", ids())]);
    let mut schema = empty_schema(SchemaContract::default());
    let mut normalizer = Normalizer::new(&mut schema, options(jobs_dir)).unwrap();
    assert_eq!(normalizer.pass_parquet_file("items", &input).unwrap(), Some(ROWS as u64));
    normalizer.finish().unwrap();
    schema
}

#[test]
fn discarded_column_is_decoded() {
    let jobs = tempfile::tempdir().unwrap();
    let mut schema = schema_with_ids(jobs.path());
    let contract = SchemaContract {
        tables: ContractMode::Evolve,
        columns: ContractMode::DiscardValue,
        data_type: ContractMode::Evolve,
    };
    let table = schema.tables.get_mut("items").unwrap();
    table.extra.insert(SCHEMA_CONTRACT_HINT.into(), contract.to_hint());
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(
        dir.path(),
        vec![("id", ids()), ("extra", Arc::new(StringArray::from(names())) as ArrayRef)],
    );

    let mut normalizer = Normalizer::new(&mut schema, options(jobs.path())).unwrap();
    let rows = normalizer.pass_parquet_file("items", &input).unwrap();

    assert_eq!(rows, None);
    assert!(!schema.tables["items"].columns.contains_key("extra"));
}

#[test]
fn cast_column_is_decoded() {
    let jobs = tempfile::tempdir().unwrap();
    let mut schema = schema_with_ids(jobs.path());
    let dir = tempfile::tempdir().unwrap();
    let text_ids: Vec<String> = (0..ROWS).map(|i| i.to_string()).collect();
    let input = write_input(dir.path(), vec![("id", Arc::new(StringArray::from(text_ids)) as ArrayRef)]);

    let mut normalizer = Normalizer::new(&mut schema, options(jobs.path())).unwrap();

    assert_eq!(normalizer.pass_parquet_file("items", &input).unwrap(), None);
}

#[test]
fn file_above_max_rows_is_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path(), vec![("id", ids())]);
    let mut schema = empty_schema(SchemaContract::default());
    let jobs = tempfile::tempdir().unwrap();
    let mut settings = options(jobs.path());
    settings.file_max_rows = Some(10);

    let mut normalizer = Normalizer::new(&mut schema, settings).unwrap();

    assert_eq!(normalizer.pass_parquet_file("items", &input).unwrap(), None);
}

#[test]
fn passed_job_follows_decoded_rows() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path(), vec![("id", ids())]);
    let mut schema = empty_schema(SchemaContract::default());
    let jobs = tempfile::tempdir().unwrap();
    let decoded = RecordBatch::try_from_iter([("id", Arc::new(Int64Array::from(vec![100])) as ArrayRef)]).unwrap();

    let mut normalizer = Normalizer::new(&mut schema, options(jobs.path())).unwrap();
    normalizer.push_batch("items", &decoded).unwrap();
    normalizer.pass_parquet_file("items", &input).unwrap();
    let output = normalizer.finish().unwrap();

    let row_counts: Vec<u64> = output.jobs.iter().map(|job| job.row_count).collect();
    assert_eq!(row_counts, [1, ROWS as u64]);
    assert_eq!(output.rows_per_table["items"], ROWS as u64 + 1);
}

#[test]
fn dictionary_decimal_column_is_read() {
    let values = Decimal128Array::from(vec![15, 25]).with_precision_and_scale(5, 1).unwrap();
    let keys = Int32Array::from(vec![0, 1, 1]);
    let dictionary = DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path(), vec![("price", Arc::new(dictionary) as ArrayRef)]);

    let metadata = reader_metadata(&File::open(&input).unwrap()).unwrap();
    let batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::new_with_metadata(File::open(&input).unwrap(), metadata)
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect();

    let prices = batches[0].column(0).as_primitive::<arrow::datatypes::Decimal128Type>();
    assert_eq!(prices.values().to_vec(), [15, 25, 25]);
}
