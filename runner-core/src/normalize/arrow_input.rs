//! Normalizes Arrow record batches (for example from Parquet sources)
//! column by column, without converting them to rows.
//!
//! Like dlt 1.31 with its default `normalize.parquet_normalizer` settings
//! (`add_dlt_load_id = false`, `add_dlt_id = false`), no `_dlt_load_id` or
//! `_dlt_id` columns are added to Arrow tables, and nested types are not
//! turned into nested tables but kept as `json`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, StringBuilder, make_array, new_null_array};
use arrow::compute::kernels::cmp::not_distinct;
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType as ArrowType, Field, Float16Type, Float32Type, Float64Type, Int64Type,
    Schema as ArrowSchema, TimeUnit,
};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use arrow::util::display::array_value_to_string;

use super::Normalizer;
use super::arrow_text::read_text_for;
use super::contract::{Verdict, is_new_table, table_contract};
use crate::Error;
use crate::naming::normalize_path;
use crate::schema::{Column, DataType, SchemaContract};

/// Returns the column name dlt gives an Arrow field.
fn arrow_column_name(field_name: &str) -> String {
    if field_name.trim().is_empty() {
        "_empty".to_owned()
    } else {
        normalize_path(field_name)
    }
}

/// Describes the first two Arrow fields whose names become the same column
/// name, if any. Loading both would keep one column's values and drop the
/// other's, so such input is rejected, as dlt rejects it.
pub(crate) fn column_name_collision<'a>(field_names: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for field_name in field_names {
        let name = arrow_column_name(field_name);
        if let Some(first) = seen.insert(name.clone(), field_name) {
            return Some(format!(
                "columns `{first}` and `{field_name}` both become column `{name}`; rename one of them in the input"
            ));
        }
    }
    None
}

impl Normalizer<'_> {
    pub(super) fn normalize_batch(&mut self, root_table: &str, batch: &RecordBatch) -> crate::Result<()> {
        if !self.schema.tables.contains_key(root_table) {
            return Err(Error::Normalize {
                table: root_table.to_owned(),
                message: "the root table is not in the schema; extract must create it before normalize".to_owned(),
            });
        }
        if batch.num_rows() == 0 {
            return Ok(());
        }

        let (contract, root_is_new) = self.batch_contract(root_table)?;
        let table_is_new = is_new_table(self.schema.tables.get(root_table));
        if table_is_new && !self.admit_new_table(&contract, root_table, batch.num_rows() as u64)? {
            return Ok(());
        }

        let (columns, row_filters) = self.merge_batch_columns(root_table, batch, &contract, root_is_new)?;
        let Some((columns, rows)) = self.drop_filtered_rows(root_table, columns, &row_filters, batch.num_rows())? else {
            return Ok(());
        };

        self.output_for(root_table);
        let table = &self.schema.tables[root_table];
        let output = &mut self.outputs[root_table];
        let target = output.buffer_for(table)?.schema().clone();
        let aligned = align_to_schema(root_table, &columns, &target, rows)?;
        output.write_batch(&aligned)
    }

    /// Returns the root table's contract and whether the table was new
    /// before this package, resolved at its first batch.
    pub(super) fn batch_contract(&mut self, root_table: &str) -> crate::Result<(SchemaContract, bool)> {
        if let Some(cached) = self.batch_contracts.get(root_table) {
            return Ok(*cached);
        }
        let table = &self.schema.tables[root_table];
        let resolved = (table_contract(table)?, is_new_table(Some(table)));
        self.batch_contracts.insert(root_table.to_owned(), resolved);
        Ok(resolved)
    }

    /// Drops the rows that have a value in a column whose `discard_row`
    /// contract rejected it. Returns `None` when no row is left.
    fn drop_filtered_rows(
        &mut self,
        table_name: &str,
        columns: Vec<(String, ArrayRef)>,
        row_filters: &[ArrayRef],
        rows: usize,
    ) -> crate::Result<Option<(Vec<(String, ArrayRef)>, usize)>> {
        if row_filters.is_empty() {
            return Ok(Some((columns, rows)));
        }

        let arrow_error = |e: ArrowError| Error::Normalize {
            table: table_name.to_owned(),
            message: format!("cannot drop rows that break the schema contract: {e}"),
        };
        let mut keep = BooleanArray::from(vec![true; rows]);
        for filter in row_filters {
            let empty = arrow::compute::is_null(filter.as_ref()).map_err(arrow_error)?;
            keep = arrow::compute::and(&keep, &empty).map_err(arrow_error)?;
        }

        let kept = keep.true_count();
        self.discard_counts(table_name).rows += (rows - kept) as u64;
        if kept == 0 {
            return Ok(None);
        }

        let mut filtered = Vec::with_capacity(columns.len());
        for (name, array) in columns {
            let array = arrow::compute::filter(array.as_ref(), &keep).map_err(arrow_error)?;
            filtered.push((name, array));
        }
        Ok(Some((filtered, kept)))
    }

    /// Normalizes column names, converts nested and dictionary arrays, and
    /// adds columns that the table lacks, as far as the schema contract
    /// allows. Returns (column name, array) pairs, and the arrays whose
    /// non-null values make a row break a `discard_row` contract.
    fn merge_batch_columns(
        &mut self,
        table_name: &str,
        batch: &RecordBatch,
        contract: &SchemaContract,
        root_is_new: bool,
    ) -> crate::Result<(Vec<(String, ArrayRef)>, Vec<ArrayRef>)> {
        let mut columns = Vec::with_capacity(batch.num_columns());
        let mut row_filters = Vec::new();
        if let Some(collision) = column_name_collision(batch.schema().fields().iter().map(|field| field.name().as_str())) {
            return Err(Error::Normalize {
                table: table_name.to_owned(),
                message: collision,
            });
        }

        for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
            let name = arrow_column_name(field.name());
            // A column of Arrow type null has no dlt type. dlt keeps it as an
            // incomplete column, which has no Parquet field, so it is skipped.
            let Some(inferred) = column_for(table_name, &name, field.data_type(), field.is_nullable())? else {
                continue;
            };
            let array = plain_array(table_name, &name, array)?;

            let existing = self.schema.tables[table_name].columns.get(&name);
            if existing.is_none_or(|column| !column.is_complete()) {
                let data_type = inferred.data_type.unwrap_or(DataType::Text);
                // A batch may add a column without values; only a value breaks
                // a discard contract, so an all-null column is dropped alone.
                match self.judge_new_column(contract, table_name, &name, data_type, root_is_new)? {
                    Verdict::Evolve => self.add_arrow_column(table_name, inferred),
                    Verdict::DropValue => continue,
                    Verdict::DropRow => {
                        row_filters.push(array);
                        continue;
                    }
                }
            }
            columns.push((name, array));
        }
        Ok((columns, row_filters))
    }

    pub(super) fn add_arrow_column(&mut self, table_name: &str, inferred: Column) {
        let name = inferred.name.clone();
        let Some(table) = self.schema.tables.get_mut(table_name) else {
            return;
        };

        match table.columns.get_mut(&name) {
            Some(incomplete) => {
                incomplete.data_type = inferred.data_type;
                incomplete.precision = incomplete.precision.or(inferred.precision);
                incomplete.scale = incomplete.scale.or(inferred.scale);
            }
            None => {
                table.columns.insert(name.clone(), inferred);
            }
        }
        self.record_added_column(table_name, &name);
    }
}

/// Decodes dictionary arrays and renders nested arrays as compact JSON text.
fn plain_array(table: &str, column: &str, array: &ArrayRef) -> crate::Result<ArrayRef> {
    match array.data_type() {
        ArrowType::Dictionary(_, value_type) => {
            let decoded = cast_strict(table, column, array, value_type)?;
            plain_array(table, column, &decoded)
        }
        data_type if data_type.is_nested() => nested_to_json(table, column, array),
        _ => Ok(array.clone()),
    }
}

/// Returns the dlt column for an Arrow type, with the precision and scale
/// hints dlt 1.31 derives (`None` for the null type).
pub(super) fn column_for(table: &str, name: &str, arrow_type: &ArrowType, nullable: bool) -> crate::Result<Option<Column>> {
    let (data_type, precision, scale) = match arrow_type {
        ArrowType::Null => return Ok(None),
        ArrowType::Dictionary(_, value_type) => return column_for(table, name, value_type, nullable),
        nested if nested.is_nested() => (DataType::Json, None, None),
        ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => (DataType::Text, None, None),
        ArrowType::Float16 | ArrowType::Float32 | ArrowType::Float64 => (DataType::Double, None, None),
        ArrowType::Boolean => (DataType::Bool, None, None),
        // dlt records 0 digits for seconds and 3 for milliseconds; its
        // schema shows no precision for micro- and nanoseconds.
        ArrowType::Timestamp(unit, _) => {
            let precision = match unit {
                TimeUnit::Second => Some(0),
                TimeUnit::Millisecond => Some(3),
                _ => None,
            };
            (DataType::Timestamp, precision, None)
        }
        ArrowType::Date32 | ArrowType::Date64 => (DataType::Date, None, None),
        ArrowType::Time32(_) | ArrowType::Time64(_) => (DataType::Time, None, None),
        ArrowType::Int8 | ArrowType::UInt8 => (DataType::Bigint, Some(8), None),
        ArrowType::Int16 | ArrowType::UInt16 => (DataType::Bigint, Some(16), None),
        ArrowType::Int32 | ArrowType::UInt32 => (DataType::Bigint, Some(32), None),
        ArrowType::Int64 | ArrowType::UInt64 => (DataType::Bigint, None, None),
        ArrowType::FixedSizeBinary(width) => (DataType::Binary, Some(*width as u32), None),
        ArrowType::Binary | ArrowType::LargeBinary | ArrowType::BinaryView => (DataType::Binary, None, None),
        ArrowType::Decimal128(p, s) | ArrowType::Decimal256(p, s) => {
            (DataType::Decimal, Some(*p as u32), Some((*s).max(0) as u32))
        }
        other => {
            return Err(Error::Normalize {
                table: table.to_owned(),
                message: format!("column `{name}` has Arrow type {other}, which has no dlt data type"),
            });
        }
    };

    let mut column = Column::new(name, data_type);
    column.nullable = nullable;
    column.precision = precision;
    column.scale = scale;
    Ok(Some(column))
}

/// Renders each value of a struct, list or map array as compact JSON text.
fn nested_to_json(table: &str, column: &str, array: &ArrayRef) -> crate::Result<ArrayRef> {
    let wrapper_field = Field::new("v", array.data_type().clone(), true);
    let wrapper = RecordBatch::try_new(Arc::new(ArrowSchema::new(vec![wrapper_field])), vec![array.clone()])
        .map_err(|e| json_error(table, column, e))?;

    let mut lines = Vec::new();
    {
        let mut writer = arrow::json::LineDelimitedWriter::new(&mut lines);
        writer.write(&wrapper).map_err(|e| json_error(table, column, e))?;
        writer.finish().map_err(|e| json_error(table, column, e))?;
    }

    let mut builder = StringBuilder::with_capacity(array.len(), lines.len());
    for line in lines.split(|byte| *byte == b'\n').take(array.len()) {
        let row: serde_json::Value = serde_json::from_slice(line).map_err(|e| json_error(table, column, e))?;
        match row.get("v") {
            Some(value) if !value.is_null() => builder.append_value(value.to_string()),
            _ => builder.append_null(),
        }
    }
    Ok(Arc::new(builder.finish()))
}

fn json_error(table: &str, column: &str, error: impl std::fmt::Display) -> Error {
    Error::Normalize {
        table: table.to_owned(),
        message: format!("cannot render nested column `{column}` as JSON: {error}"),
    }
}

/// Builds a batch with exactly the fields of `target`, casting the input
/// columns and filling missing ones with nulls.
fn align_to_schema(
    table: &str,
    columns: &[(String, ArrayRef)],
    target: &Arc<ArrowSchema>,
    rows: usize,
) -> crate::Result<RecordBatch> {
    let mut arrays = Vec::with_capacity(target.fields().len());
    for field in target.fields() {
        let source = columns.iter().find(|(name, _)| name == field.name());
        let array = match source {
            Some((name, array)) => cast_strict(table, name, array, field.data_type())?,
            None if field.is_nullable() => new_null_array(field.data_type(), rows),
            None => {
                return Err(Error::Normalize {
                    table: table.to_owned(),
                    message: format!("the Arrow batch lacks non-nullable column `{}`", field.name()),
                });
            }
        };
        if !field.is_nullable() && array.null_count() > 0 {
            return Err(Error::Normalize {
                table: table.to_owned(),
                message: format!("null values in non-nullable column `{}`", field.name()),
            });
        }
        arrays.push(array);
    }

    RecordBatch::try_new(target.clone(), arrays).map_err(|e| Error::Normalize {
        table: table.to_owned(),
        message: format!("cannot build a record batch: {e}"),
    })
}

/// The fix for an input file whose column has a type that the table's
/// column cannot take.
const TYPE_CHANGE_FIX: &str = "Give the column one type in all input files, or load these files into another table";

/// Casts an array, failing on values that do not fit (for example a
/// uint64 above the int64 range) instead of turning them into nulls.
fn cast_strict(table: &str, column: &str, array: &ArrayRef, to: &ArrowType) -> crate::Result<ArrayRef> {
    if array.data_type() == to {
        return Ok(array.clone());
    }
    let failed = |error: String| Error::Normalize {
        table: table.to_owned(),
        message: format!(
            "cannot convert column `{column}` from {} to the table's type {}: {error}. {TYPE_CHANGE_FIX}",
            type_name(array.data_type()),
            type_name(to)
        ),
    };
    if let (ArrowType::Timestamp(from_unit, _), ArrowType::Timestamp(to_unit, _)) = (array.data_type(), to) {
        return relabel_timestamps(array, *from_unit, *to_unit, to).map_err(failed);
    }
    let text_read;
    let array = if is_text(array.data_type()) && !is_text(to) {
        text_read = read_text_for(array, to).map_err(failed)?;
        &text_read
    } else {
        array
    };
    if array.data_type() == to {
        return Ok(array.clone());
    }
    // Arrow converts between numbers and dates or times as counts since
    // 1970 in the file's unit, so the integer 5 would load as 5 microseconds
    // past 1970, and the same instant as three numbers in three files.
    let (from, into) = (array.data_type(), to);
    if (from.is_numeric() && into.is_temporal()) || (from.is_temporal() && into.is_numeric()) {
        return Err(failed("numbers and dates or times do not convert into each other".to_owned()));
    }

    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    let cast = cast_in_utc(array, to, &options).map_err(|error| failed(error.to_string()))?;

    match changed_value(array, &cast, &options) {
        Some(change) => Err(Error::Normalize {
            table: table.to_owned(),
            message: format!(
                "column `{column}` has {} values that the table's type {} cannot hold: {change}. {TYPE_CHANGE_FIX}",
                type_name(array.data_type()),
                type_name(to)
            ),
        }),
        None => Ok(cast),
    }
}

/// Names an Arrow type by the dlt type that it loads as, followed by the
/// Arrow type, for example `bigint, precision 32 (Int32)`. A decimal is
/// named by its dlt type alone, which is complete: `decimal(10,1)`.
fn type_name(arrow_type: &ArrowType) -> String {
    let Ok(Some(column)) = column_for("", "", arrow_type, true) else {
        return arrow_type.to_string();
    };
    let Some(data_type) = column.data_type else {
        return arrow_type.to_string();
    };
    match (column.precision, column.scale) {
        (Some(precision), Some(scale)) => format!("{data_type}({precision},{scale})"),
        (Some(precision), None) => format!("{data_type}, precision {precision} ({arrow_type})"),
        _ => format!("{data_type} ({arrow_type})"),
    }
}

/// Describes the first value that a cast changed, found by casting back.
/// Arrow's cast with `safe: false` fails only on overflow, so it turns a
/// double 1.5 into the integer 1 and a decimal 1.123456 into 1.1.
///
/// Casts to text and dictionary decoding are not checked. Text is checked
/// by [`changed_text_value`], because it cannot be cast back as written.
fn changed_value(original: &ArrayRef, cast: &ArrayRef, options: &CastOptions<'_>) -> Option<String> {
    if is_text(cast.data_type()) || matches!(original.data_type(), ArrowType::Dictionary(..)) {
        return None;
    }
    if is_text(original.data_type()) {
        return changed_text_value(original, cast);
    }

    let back = match cast_in_utc(cast, original.data_type(), options) {
        Ok(back) => back,
        Err(error) => return Some(format!("its values cannot be converted back ({error})")),
    };
    let same = not_distinct(original, &back).ok()?;
    let row = (0..same.len()).find(|&row| !same.value(row) && !equal_floats(original, &back, row))?;
    Some(describe_change(original, cast, row))
}

/// Describes the first text value that a cast to a decimal, date, time or
/// timestamp cut short, found by reading the text again at a finer scale:
/// the text "1.123456" into DECIMAL(10,1), or a time of day into a DATE.
/// Other casts from text read it as written: "05" becomes the integer 5,
/// and a long number becomes the nearest double.
///
/// The finer scales are DECIMAL(76,38), nanoseconds, and microseconds for a
/// timestamp outside the nanosecond range (the years 1677 to 2262).
///
/// NOTE: text that not even these scales can represent is not checked, so
/// a tenth of a microsecond in the year 2300 is cut off without an error.
fn changed_text_value(original: &ArrayRef, cast: &ArrayRef) -> Option<String> {
    let lenient = CastOptions {
        safe: true,
        ..Default::default()
    };
    let in_scale = |scale: &ArrowType| -> Option<(ArrayRef, ArrayRef)> {
        let exact = cast_in_utc(original, scale, &lenient).ok()?;
        let loaded = cast_in_utc(cast, scale, &lenient).ok()?;
        Some((exact, loaded))
    };

    let pairs: Vec<(ArrayRef, ArrayRef)> = match cast.data_type() {
        ArrowType::Decimal128(..) | ArrowType::Decimal256(..) => {
            // Arrow reads text without a digit, such as "" or "-", as 0.
            if let Some(row) = text_without_digit(original) {
                return Some(describe_change(original, cast, row));
            }
            vec![in_scale(&ArrowType::Decimal256(76, 38))?]
        }
        ArrowType::Date32 | ArrowType::Date64 | ArrowType::Timestamp(..) => {
            // Arrow's own cast of a date to nanoseconds overflows without a
            // check, so the loaded values are scaled here.
            let mut pairs = Vec::new();
            for unit in [TimeUnit::Nanosecond, TimeUnit::Microsecond] {
                let exact = cast_in_utc(original, &ArrowType::Timestamp(unit, None), &lenient).ok()?;
                let exact = cast_with_options(&exact, &ArrowType::Int64, &lenient).ok()?;
                pairs.push((exact, Arc::new(epoch_counts(cast, unit)?) as ArrayRef));
            }
            pairs
        }
        ArrowType::Time32(_) | ArrowType::Time64(_) => vec![in_scale(&ArrowType::Time64(TimeUnit::Nanosecond))?],
        _ => return None,
    };

    // A row is compared in the first scale that can represent both of its values.
    let mut checked = vec![false; original.len()];
    for (exact, loaded) in pairs {
        let same = not_distinct(&exact, &loaded).ok()?;
        for row in 0..original.len() {
            if checked[row] || !exact.is_valid(row) || !loaded.is_valid(row) {
                continue;
            }
            if !same.value(row) {
                return Some(describe_change(original, cast, row));
            }
            checked[row] = true;
        }
    }
    None
}

/// Returns the dates or timestamps of `array` as counts of `unit` since
/// 1970, null where the count overflows 64 bits.
fn epoch_counts(array: &ArrayRef, unit: TimeUnit) -> Option<Int64Array> {
    const SECONDS_PER_DAY: i64 = 86_400;
    let per_second = units_per_second(unit);
    let raw = cast_with_options(array, &ArrowType::Int64, &CastOptions::default()).ok()?;
    let raw = raw.as_primitive::<Int64Type>();

    // Each raw count is `seconds` seconds, or 1 / `per_raw_second` of one.
    let (seconds, per_raw_second) = match array.data_type() {
        ArrowType::Date32 => (SECONDS_PER_DAY, 1),
        ArrowType::Date64 => (1, 1_000),
        ArrowType::Timestamp(from, _) => (1, units_per_second(*from)),
        _ => return None,
    };
    let scale = |count: i64| -> Option<i64> {
        let scaled = count.checked_mul(seconds)?;
        if per_second >= per_raw_second {
            scaled.checked_mul(per_second / per_raw_second)
        } else {
            Some(scaled.div_euclid(per_raw_second / per_second))
        }
    };
    Some(raw.iter().map(|count| count.and_then(scale)).collect())
}

/// Returns the first non-null text that contains no ASCII digit.
fn text_without_digit(text: &ArrayRef) -> Option<usize> {
    let without_digit = |value: Option<&str>| value.is_some_and(|value| !value.bytes().any(|byte| byte.is_ascii_digit()));
    match text.data_type() {
        ArrowType::Utf8 => text.as_string::<i32>().iter().position(without_digit),
        ArrowType::LargeUtf8 => text.as_string::<i64>().iter().position(without_digit),
        ArrowType::Utf8View => text.as_string_view().iter().position(without_digit),
        _ => None,
    }
}

fn is_text(data_type: &ArrowType) -> bool {
    matches!(data_type, ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View)
}

fn describe_change(original: &ArrayRef, cast: &ArrayRef, row: usize) -> String {
    format!("{} would load as {}", value_text(original, row), value_text(cast, row))
}

/// Renders one value for an error message. A timestamp with a zone label is
/// rendered in UTC, because Arrow renders a named zone only with its
/// `chrono-tz` feature.
fn value_text(array: &ArrayRef, row: usize) -> String {
    let in_utc = match array.data_type() {
        ArrowType::Timestamp(unit, Some(_)) => relabel(array, utc_timestamp(*unit)).ok(),
        _ => None,
    };
    array_value_to_string(in_utc.as_ref().unwrap_or(array), row).unwrap_or_else(|error| format!("({error})"))
}

/// Returns whether row `row` of two float arrays contains numbers that
/// compare equal. `not_distinct` orders every bit pattern, so -0.0 and 0.0
/// differ there, but a cast to an integer rightly turns -0.0 into 0.
fn equal_floats(left: &ArrayRef, right: &ArrayRef, row: usize) -> bool {
    fn equal<T: ArrowPrimitiveType>(left: &ArrayRef, right: &ArrayRef, row: usize) -> Option<bool> {
        Some(left.as_primitive_opt::<T>()?.value(row) == right.as_primitive_opt::<T>()?.value(row))
    }

    equal::<Float64Type>(left, right, row)
        .or_else(|| equal::<Float32Type>(left, right, row))
        .or_else(|| equal::<Float16Type>(left, right, row))
        .unwrap_or(false)
}

/// Casts as Arrow does, but takes a time zone label of a timestamp as the
/// label of UTC epoch values, as [`relabel_timestamps`] does. Arrow's own
/// cast needs the `chrono-tz` feature for a named zone such as `UTC`, and it
/// turns a timestamp with an offset into the date of that offset, where dlt
/// takes the UTC date.
pub(super) fn cast_in_utc(array: &ArrayRef, to: &ArrowType, options: &CastOptions<'_>) -> Result<ArrayRef, ArrowError> {
    // Text keeps a zone marker: UTC, written as `Z`.
    let source = match array.data_type() {
        ArrowType::Timestamp(unit, Some(_)) if is_text(to) => relabel(array, utc_timestamp(*unit))?,
        ArrowType::Timestamp(unit, Some(_)) => relabel(array, ArrowType::Timestamp(*unit, None))?,
        _ => array.clone(),
    };
    match to {
        ArrowType::Timestamp(unit, Some(_)) => {
            let cast = cast_with_options(&source, &ArrowType::Timestamp(*unit, None), options)?;
            relabel(&cast, to.clone())
        }
        _ => cast_with_options(&source, to, options),
    }
}

/// Returns the timestamp type labelled with UTC's offset, which Arrow
/// renders as `Z` without its `chrono-tz` feature.
fn utc_timestamp(unit: TimeUnit) -> ArrowType {
    ArrowType::Timestamp(unit, Some("+00:00".into()))
}

/// Gives `array` the data type `to`, which must store the same values.
fn relabel(array: &ArrayRef, to: ArrowType) -> Result<ArrayRef, ArrowError> {
    let data = array.to_data().into_builder().data_type(to).build()?;
    Ok(make_array(data))
}

/// Converts timestamps between units and time zones by rescaling the
/// epoch values. Arrow stores every timestamp as UTC epoch time, and naive
/// values are taken as UTC as dlt does, so the zone is only a label. This
/// avoids Arrow's zone-aware cast, which needs the `chrono-tz` feature
/// for named zones such as `UTC`.
fn relabel_timestamps(array: &ArrayRef, from: TimeUnit, to: TimeUnit, to_type: &ArrowType) -> Result<ArrayRef, String> {
    let raw = cast_with_options(array, &ArrowType::Int64, &CastOptions::default()).map_err(|e| e.to_string())?;
    let raw = raw.as_primitive::<Int64Type>();

    let (from_per_second, to_per_second) = (units_per_second(from), units_per_second(to));
    let scaled: Int64Array = if to_per_second >= from_per_second {
        let factor = to_per_second / from_per_second;
        raw.try_unary(|value| value.checked_mul(factor).ok_or_else(|| ArrowError::ComputeError(format!("timestamp {value} overflows {to:?}"))))
            .map_err(|e| e.to_string())?
    } else {
        // A coarser unit would cut the fraction off, so such values fail.
        let factor = from_per_second / to_per_second;
        if let Some(row) = raw.iter().position(|value| value.is_some_and(|value| value.rem_euclid(factor) != 0)) {
            let value = value_text(array, row);
            return Err(format!("{value} has a fraction of a second finer than the table's unit, {}", unit_name(to)));
        }
        raw.unary(|value| value / factor)
    };

    let data = scaled
        .into_data()
        .into_builder()
        .data_type(to_type.clone())
        .build()
        .map_err(|e| e.to_string())?;
    Ok(make_array(data))
}

fn unit_name(unit: TimeUnit) -> &'static str {
    match unit {
        TimeUnit::Second => "seconds",
        TimeUnit::Millisecond => "milliseconds",
        TimeUnit::Microsecond => "microseconds",
        TimeUnit::Nanosecond => "nanoseconds",
    }
}

fn units_per_second(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_ints_get_precision() {
        let column = column_for("t", "c", &ArrowType::Int16, true).unwrap().unwrap();
        assert_eq!(column.precision, Some(16));
    }

    #[test]
    fn millisecond_timestamp_precision() {
        let arrow_type = ArrowType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
        let column = column_for("t", "c", &arrow_type, true).unwrap().unwrap();
        assert_eq!(column.precision, Some(3));
    }

    #[test]
    fn null_type_is_skipped() {
        assert!(column_for("t", "c", &ArrowType::Null, true).unwrap().is_none());
    }
}
