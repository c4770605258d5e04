//! Per-table Arrow column builders that collect normalized rows into record
//! batches, with dlt's Parquet type for each column.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Decimal256Builder,
    Float64Builder, Int64Builder, StringBuilder,
};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType as ArrowType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit, i256};
use arrow::record_batch::RecordBatch;
use indexmap::IndexMap;

use super::infer::{Cell, days_since_epoch, split_decimal_parts};
use crate::Error;
use crate::schema::{Column, DataType, NameMap, Table};

/// Default precision and scale of `decimal` columns without hints.
pub(crate) const DEFAULT_DECIMAL_PRECISION: u8 = 38;
pub(crate) const DEFAULT_DECIMAL_SCALE: i8 = 9;

/// Precision of `wei` columns: dlt's 78 digits, capped at the 76 that
/// Arrow's decimal256 holds.
const WEI_PRECISION: u8 = 76;

/// Returns the Arrow type dlt writes to Parquet for a complete column.
pub(crate) fn arrow_type_for(column: &Column) -> ArrowType {
    let Some(data_type) = column.data_type else {
        return ArrowType::Null;
    };
    match data_type {
        DataType::Bigint => match column.precision {
            Some(p) if p <= 8 => ArrowType::Int8,
            Some(p) if p <= 16 => ArrowType::Int16,
            Some(p) if p <= 32 => ArrowType::Int32,
            _ => ArrowType::Int64,
        },
        DataType::Text | DataType::Json => ArrowType::Utf8,
        DataType::Double => ArrowType::Float64,
        DataType::Bool => ArrowType::Boolean,
        DataType::Timestamp => {
            let timezone = (column.timezone != Some(false)).then(|| Arc::from("UTC"));
            ArrowType::Timestamp(timestamp_unit(column.precision), timezone)
        }
        DataType::Date => ArrowType::Date32,
        DataType::Time => ArrowType::Time64(TimeUnit::Microsecond),
        DataType::Binary => ArrowType::Binary,
        DataType::Decimal => {
            let (precision, scale) = match (column.precision, column.scale) {
                (Some(p), s) => (p.min(38) as u8, s.unwrap_or(0) as i8),
                (None, _) => (DEFAULT_DECIMAL_PRECISION, DEFAULT_DECIMAL_SCALE),
            };
            ArrowType::Decimal128(precision, scale)
        }
        DataType::Wei => ArrowType::Decimal256(WEI_PRECISION, 0),
    }
}

/// Maps a timestamp precision hint (fractional second digits) to an Arrow unit.
fn timestamp_unit(precision: Option<u32>) -> TimeUnit {
    match precision {
        Some(0) => TimeUnit::Second,
        Some(1..=3) => TimeUnit::Millisecond,
        Some(7..) => TimeUnit::Nanosecond,
        _ => TimeUnit::Microsecond,
    }
}

/// Returns the Arrow schema of a table's complete columns, in schema order.
pub(crate) fn arrow_schema_for(table: &Table) -> SchemaRef {
    let fields: Vec<Field> = table
        .columns
        .values()
        .filter(|column| column.is_complete())
        .map(|column| Field::new(&column.name, arrow_type_for(column), column.nullable))
        .collect();
    Arc::new(ArrowSchema::new(fields))
}

/// Counts the complete columns of a table; a buffer or file built for a
/// different count is out of date, because columns are only ever added or
/// completed.
pub(crate) fn complete_column_count(table: &Table) -> usize {
    table.columns.values().filter(|column| column.is_complete()).count()
}

/// A builder for one column. Integer-like values (timestamps, times, small
/// ints) are collected as int64 and cast to the target type at flush.
enum Builder {
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Utf8(StringBuilder),
    Date(Date32Builder),
    Binary(BinaryBuilder),
    Decimal128(Decimal128Builder),
    Decimal256(Decimal256Builder),
    /// The `_dlt_id` column of a nested table, whose ids may still need
    /// hashing (see [`Cell::PendingRowId`]).
    RowIds(Vec<RowId>),
}

/// One value of a nested table's `_dlt_id` column.
pub(crate) enum RowId {
    Ready(String),
    Pending { parent_id: String, index: usize },
    Null,
}

/// A column of a [`PendingBatch`].
enum PendingColumn {
    Ready(ArrayRef),
    RowIds(Vec<RowId>),
}

/// A record batch whose nested row ids may still need hashing, which
/// [`PendingBatch::resolve`] does, on whichever thread encodes the batch.
pub(crate) struct PendingBatch {
    table_name: String,
    schema: SchemaRef,
    columns: Vec<PendingColumn>,
    rows: usize,
}

impl PendingBatch {
    /// Wraps a complete record batch.
    pub(crate) fn ready(table_name: &str, batch: RecordBatch) -> Self {
        PendingBatch {
            table_name: table_name.to_owned(),
            schema: batch.schema(),
            rows: batch.num_rows(),
            columns: batch.columns().iter().cloned().map(PendingColumn::Ready).collect(),
        }
    }

    pub(crate) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub(crate) fn num_rows(&self) -> usize {
        self.rows
    }

    /// Hashes the pending row ids and builds the record batch.
    pub(crate) fn resolve(self) -> crate::Result<RecordBatch> {
        let table_name = self.table_name;
        let arrays: Vec<ArrayRef> = self
            .columns
            .into_iter()
            .map(|column| match column {
                PendingColumn::Ready(array) => array,
                PendingColumn::RowIds(ids) => row_id_array(&table_name, ids),
            })
            .collect();

        RecordBatch::try_new(self.schema, arrays).map_err(|source| Error::Normalize {
            table: table_name,
            message: format!("cannot build a record batch: {source}"),
        })
    }
}

fn row_id_array(table_name: &str, ids: Vec<RowId>) -> ArrayRef {
    let pending = ids.iter().filter_map(|id| match id {
        RowId::Pending { parent_id, index } => Some((parent_id.as_str(), *index)),
        RowId::Ready(_) | RowId::Null => None,
    });
    let mut hashed = crate::load_id::nested_row_ids(table_name, pending).into_iter();

    let mut builder = StringBuilder::with_capacity(ids.len(), ids.len() * 14);
    for id in &ids {
        match id {
            RowId::Ready(id) => builder.append_value(id),
            RowId::Pending { .. } => {
                let id = hashed.next().expect("one hashed id per pending row");
                builder.append_value(id.as_str());
            }
            RowId::Null => builder.append_null(),
        }
    }
    Arc::new(builder.finish())
}

struct ColumnBuffer {
    field: Arc<Field>,
    data_type: DataType,
    builder: Builder,
}

/// Rows of one table collected column by column.
pub(crate) struct TableBuffer {
    table_name: String,
    schema: SchemaRef,
    columns: Vec<ColumnBuffer>,
    index: NameMap<usize>,
    /// Buffer position of each column of the table, by the column's index
    /// in the table; `None` for incomplete columns, which have no builder.
    by_table_index: Vec<Option<usize>>,
    /// True when every column of the table was complete when the buffer
    /// was built or extended; `by_table_index` then has one entry per column.
    all_columns_complete: bool,
    rows: usize,
    /// Bytes of text, JSON and binary values buffered, for [`Self::bytes`].
    variable_bytes: usize,
}

impl TableBuffer {
    /// Creates an empty buffer with one builder per complete column of `table`.
    pub(crate) fn new(table: &Table) -> Self {
        let schema = arrow_schema_for(table);
        let mut columns = Vec::with_capacity(schema.fields().len());
        let mut index = NameMap::with_capacity_and_hasher(schema.fields().len(), Default::default());

        let complete = table.columns.values().filter(|column| column.is_complete());
        for (position, (field, column)) in schema.fields().iter().zip(complete).enumerate() {
            let data_type = column.data_type.unwrap_or(DataType::Text);
            columns.push(ColumnBuffer {
                field: field.clone(),
                data_type,
                builder: new_builder(table, column, field.data_type()),
            });
            index.insert(column.name.clone(), position);
        }

        TableBuffer {
            table_name: table.name.clone(),
            schema,
            columns,
            by_table_index: positions_by_table_index(table),
            all_columns_complete: table.columns.values().all(Column::is_complete),
            index,
            rows: 0,
            variable_bytes: 0,
        }
    }

    pub(crate) fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rebuilds the column list for the current columns of `table`, keeping
    /// the buffered rows: existing builders are reused and new columns are
    /// filled with nulls for the rows already buffered. Returns false, and
    /// changes nothing, when a new column is non-nullable and rows are
    /// buffered, because those rows cannot hold a null there.
    pub(crate) fn extend_columns(&mut self, table: &Table) -> bool {
        let schema = arrow_schema_for(table);
        let complete: Vec<_> = table.columns.values().filter(|column| column.is_complete()).collect();
        let adds_required_column = schema
            .fields()
            .iter()
            .any(|field| !field.is_nullable() && !self.index.contains_key(field.name()));
        if self.rows > 0 && adds_required_column {
            return false;
        }

        let mut previous: IndexMap<String, ColumnBuffer> = self
            .index
            .keys()
            .cloned()
            .zip(std::mem::take(&mut self.columns))
            .collect();
        let mut columns = Vec::with_capacity(schema.fields().len());
        let mut index = NameMap::with_capacity_and_hasher(schema.fields().len(), Default::default());

        for (position, (field, column)) in schema.fields().iter().zip(complete).enumerate() {
            let buffer = match previous.shift_remove(&column.name) {
                Some(existing) => existing,
                None => {
                    let mut created = ColumnBuffer {
                        field: field.clone(),
                        data_type: column.data_type.unwrap_or(DataType::Text),
                        builder: new_builder(table, column, field.data_type()),
                    };
                    for _ in 0..self.rows {
                        created.append_null();
                    }
                    created
                }
            };
            columns.push(buffer);
            index.insert(column.name.clone(), position);
        }

        self.schema = schema;
        self.columns = columns;
        self.index = index;
        self.by_table_index = positions_by_table_index(table);
        self.all_columns_complete = table.columns.values().all(Column::is_complete);
        true
    }

    /// Returns true when the buffer has a builder for every complete column
    /// of `table`. Columns are only ever added or completed, so when all
    /// columns were complete and their number is the same, nothing changed
    /// and the columns need not be counted again.
    pub(crate) fn is_current(&self, table: &Table) -> bool {
        if self.all_columns_complete && self.by_table_index.len() == table.columns.len() {
            return true;
        }
        self.columns.len() == complete_column_count(table)
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Returns an estimate of the buffered bytes: the text, JSON and binary
    /// values, plus 8 bytes for each value of any type.
    pub(crate) fn bytes(&self) -> usize {
        self.variable_bytes + self.rows * self.columns.len() * 8
    }

    /// Appends one row. `cells` holds (column position, value) pairs; columns
    /// not named get a null. A row that lacks a non-nullable column is
    /// rejected before anything is appended. A value that fails its builder
    /// (a decimal that needs rounding) leaves the row half written, so after
    /// that error the buffer must be dropped.
    pub(crate) fn append_row(&mut self, cells: &mut Vec<(usize, Cell<'_>)>) -> crate::Result<()> {
        cells.sort_by_key(|(position, _)| *position);
        self.check_row(cells)?;
        self.variable_bytes += cells.iter().map(|(_, cell)| cell.variable_bytes()).sum::<usize>();

        let mut next = cells.drain(..).peekable();
        for (position, column) in self.columns.iter_mut().enumerate() {
            match next.next_if(|(at, _)| *at == position) {
                Some((_, cell)) => column.append(cell).map_err(|message| Error::Normalize {
                    table: self.table_name.clone(),
                    message: format!("column `{}`: {message}", column.field.name()),
                })?,
                None => column.append_null(),
            }
        }

        self.rows += 1;
        Ok(())
    }

    /// Returns the position of the table's column number `index` (its place
    /// in the table the buffer was built or extended for), if the buffer has it.
    pub(crate) fn position_of_column(&self, index: usize) -> Option<usize> {
        self.by_table_index.get(index).copied().flatten()
    }

    fn check_row(&self, cells: &[(usize, Cell<'_>)]) -> crate::Result<()> {
        let mut next = cells.iter().peekable();
        for (position, column) in self.columns.iter().enumerate() {
            let present = next.next_if(|(at, _)| *at == position).is_some();
            if !present && !column.field.is_nullable() {
                return Err(Error::Normalize {
                    table: self.table_name.clone(),
                    message: format!(
                        "missing value for non-nullable column `{}`; every row must set it",
                        column.field.name()
                    ),
                });
            }
        }
        Ok(())
    }

    /// Takes the buffered rows as a batch and leaves the buffer empty.
    pub(crate) fn take_batch(&mut self) -> crate::Result<PendingBatch> {
        let mut columns = Vec::with_capacity(self.columns.len());
        for column in &mut self.columns {
            if let Builder::RowIds(ids) = &mut column.builder {
                columns.push(PendingColumn::RowIds(std::mem::take(ids)));
                continue;
            }
            let array = column.finish().map_err(|message| Error::Normalize {
                table: self.table_name.clone(),
                message: format!("column `{}`: {message}", column.field.name()),
            })?;
            columns.push(PendingColumn::Ready(array));
        }
        let rows = std::mem::take(&mut self.rows);
        self.variable_bytes = 0;

        Ok(PendingBatch {
            table_name: self.table_name.clone(),
            schema: self.schema.clone(),
            columns,
            rows,
        })
    }
}

/// Numbers the complete columns of `table` in order, as the buffer stores them.
fn positions_by_table_index(table: &Table) -> Vec<Option<usize>> {
    let mut next = 0;
    table
        .columns
        .values()
        .map(|column| {
            column.is_complete().then(|| {
                next += 1;
                next - 1
            })
        })
        .collect()
}

fn new_builder(table: &Table, column: &Column, arrow_type: &ArrowType) -> Builder {
    if table.parent.is_some() && column.name == "_dlt_id" && *arrow_type == ArrowType::Utf8 {
        return Builder::RowIds(Vec::new());
    }
    match arrow_type {
        ArrowType::Float64 => Builder::Float(Float64Builder::new()),
        ArrowType::Boolean => Builder::Bool(BooleanBuilder::new()),
        ArrowType::Utf8 => Builder::Utf8(StringBuilder::new()),
        ArrowType::Date32 => Builder::Date(Date32Builder::new()),
        ArrowType::Binary => Builder::Binary(BinaryBuilder::new()),
        ArrowType::Decimal128(p, s) => Builder::Decimal128(
            Decimal128Builder::new()
                .with_precision_and_scale(*p, *s)
                .unwrap_or_else(|_| Decimal128Builder::new()),
        ),
        ArrowType::Decimal256(p, s) => Builder::Decimal256(
            Decimal256Builder::new()
                .with_precision_and_scale(*p, *s)
                .unwrap_or_else(|_| Decimal256Builder::new()),
        ),
        _ => Builder::Int(Int64Builder::new()),
    }
}

impl ColumnBuffer {
    fn append_null(&mut self) {
        match &mut self.builder {
            Builder::Int(b) => b.append_null(),
            Builder::Float(b) => b.append_null(),
            Builder::Bool(b) => b.append_null(),
            Builder::Utf8(b) => b.append_null(),
            Builder::Date(b) => b.append_null(),
            Builder::Binary(b) => b.append_null(),
            Builder::Decimal128(b) => b.append_null(),
            Builder::Decimal256(b) => b.append_null(),
            Builder::RowIds(ids) => ids.push(RowId::Null),
        }
    }

    /// Appends a coerced value; the error text names the value.
    fn append(&mut self, cell: Cell<'_>) -> Result<(), String> {
        match (&mut self.builder, cell) {
            (Builder::Int(b), Cell::Int(v)) => b.append_value(v),
            (Builder::Int(b), Cell::Timestamp(micros)) => b.append_value(micros_to_unit(micros, self.field.data_type())),
            (Builder::Int(b), Cell::Time(micros)) => b.append_value(micros),
            (Builder::Float(b), Cell::Float(v)) => b.append_value(v),
            (Builder::Bool(b), Cell::Bool(v)) => b.append_value(v),
            (Builder::Utf8(b), Cell::Text(v)) => b.append_value(v),
            (Builder::Utf8(b), Cell::Json(v)) => b.append_value(v),
            (Builder::Date(b), Cell::Date(v)) => b.append_value(days_since_epoch(v)),
            (Builder::Binary(b), Cell::Binary(v)) => b.append_value(v),
            (Builder::Decimal128(b), Cell::Decimal(text)) => {
                let (precision, scale) = match self.field.data_type() {
                    ArrowType::Decimal128(p, s) => (*p, *s),
                    _ => (DEFAULT_DECIMAL_PRECISION, DEFAULT_DECIMAL_SCALE),
                };
                b.append_value(scale_decimal(&text, precision, scale)?);
            }
            (Builder::Decimal256(b), Cell::Decimal(text)) => b.append_value(parse_wei(&text)?),
            (Builder::RowIds(ids), Cell::Text(id)) => ids.push(RowId::Ready(id.into_owned())),
            (Builder::RowIds(ids), Cell::PendingRowId { parent_id, index }) => {
                ids.push(RowId::Pending { parent_id, index })
            }
            (_, cell) => {
                return Err(format!(
                    "value {cell:?} does not match column type {}; this is a bug in the normalizer",
                    self.data_type
                ));
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<ArrayRef, String> {
        let array: ArrayRef = match &mut self.builder {
            Builder::Int(b) => Arc::new(b.finish()),
            Builder::Float(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Utf8(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Binary(b) => Arc::new(b.finish()),
            Builder::Decimal128(b) => Arc::new(b.finish()),
            Builder::Decimal256(b) => Arc::new(b.finish()),
            Builder::RowIds(_) => return Err("row ids are taken with their batch; this is a bug in the normalizer".to_owned()),
        };
        if array.data_type() == self.field.data_type() {
            return Ok(array);
        }

        // Safe casting is off so that an int64 value outside a narrower
        // integer column (precision hint) fails instead of becoming null.
        let options = CastOptions {
            safe: false,
            ..Default::default()
        };
        cast_with_options(&array, self.field.data_type(), &options).map_err(|e| e.to_string())
    }
}

fn micros_to_unit(micros: i64, arrow_type: &ArrowType) -> i64 {
    match arrow_type {
        ArrowType::Timestamp(TimeUnit::Second, _) => micros.div_euclid(1_000_000),
        ArrowType::Timestamp(TimeUnit::Millisecond, _) => micros.div_euclid(1_000),
        ArrowType::Timestamp(TimeUnit::Nanosecond, _) => micros.saturating_mul(1_000),
        _ => micros,
    }
}

/// Scales decimal text to an integer with `scale` fraction digits. Like
/// pyarrow, it rejects values that would need rounding or exceed `precision`.
pub(crate) fn scale_decimal(text: &str, precision: u8, scale: i8) -> Result<i128, String> {
    let (negative, int_digits, frac_digits, exponent) =
        split_decimal_parts(text.trim()).ok_or_else(|| format!("`{text}` is not a decimal number"))?;

    // Place the decimal point `exponent` digits to the right, then pad or trim to `scale`.
    let digits = format!("{int_digits}{frac_digits}");
    let shift = frac_digits.len() as i64 - exponent as i64 - scale as i64;
    let scaled_digits = if shift > 0 {
        let keep = digits.len().saturating_sub(shift as usize);
        if digits[keep..].bytes().any(|b| b != b'0') {
            return Err(format!(
                "decimal `{text}` has more than {scale} fraction digits; rescaling it would lose data"
            ));
        }
        digits[..keep].to_owned()
    } else {
        format!("{digits}{}", "0".repeat((-shift) as usize))
    };

    let significant = scaled_digits.trim_start_matches('0');
    if significant.len() > precision as usize {
        return Err(format!("decimal `{text}` does not fit precision {precision} and scale {scale}"));
    }
    let magnitude: i128 = if significant.is_empty() {
        0
    } else {
        significant.parse().map_err(|_| format!("decimal `{text}` is out of range"))?
    };
    Ok(if negative { -magnitude } else { magnitude })
}

/// Parses an integral `wei` value into 256 bits.
fn parse_wei(text: &str) -> Result<i256, String> {
    let trimmed = text.trim();
    let integral = trimmed.strip_suffix(".0").unwrap_or(trimmed);
    i256::from_string(integral).ok_or_else(|| format!("wei `{text}` is not an integer within 76 digits"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn users_table() -> Table {
        let mut table = Table::new("users");
        let mut id = Column::new("id", DataType::Bigint);
        id.nullable = false;
        table.columns.insert("id".into(), id);
        table.columns.insert("name".into(), Column::new("name", DataType::Text));
        table
    }

    #[test]
    fn decimal_scaled_to_nine_digits() {
        assert_eq!(scale_decimal("12.345", 38, 9), Ok(12_345_000_000));
    }

    #[test]
    fn decimal_exponent_form() {
        assert_eq!(scale_decimal("1E+2", 38, 2), Ok(10_000));
    }

    #[test]
    fn decimal_rounding_rejected() {
        assert!(scale_decimal("12.3456", 10, 2).is_err());
    }

    #[test]
    fn decimal_precision_overflow_rejected() {
        assert!(scale_decimal("123456", 5, 0).is_err());
    }

    #[test]
    fn arrow_types_follow_hints() {
        let mut small = Column::new("s", DataType::Bigint);
        small.precision = Some(16);
        assert_eq!(arrow_type_for(&small), ArrowType::Int16);

        let mut naive = Column::new("t", DataType::Timestamp);
        naive.timezone = Some(false);
        naive.precision = Some(3);
        assert_eq!(arrow_type_for(&naive), ArrowType::Timestamp(TimeUnit::Millisecond, None));

        let wei = Column::new("w", DataType::Wei);
        assert_eq!(arrow_type_for(&wei), ArrowType::Decimal256(76, 0));
    }

    #[test]
    fn missing_cells_become_null() {
        let mut buffer = TableBuffer::new(&users_table());
        let mut cells = vec![(0, Cell::Int(1))];
        buffer.append_row(&mut cells).unwrap();
        let batch = buffer.take_batch().unwrap().resolve().unwrap();
        assert_eq!(batch.column(1).null_count(), 1);
    }

    #[test]
    fn missing_non_nullable_rejected() {
        let mut buffer = TableBuffer::new(&users_table());
        let mut cells = vec![(1, Cell::Text(Cow::Borrowed("a")))];
        assert!(buffer.append_row(&mut cells).is_err());
    }

    #[test]
    fn rejected_row_leaves_buffer_empty() {
        let mut buffer = TableBuffer::new(&users_table());
        let mut cells = vec![(1, Cell::Text(Cow::Borrowed("a")))];
        let _ = buffer.append_row(&mut cells);
        assert_eq!(buffer.rows(), 0);
    }
}
