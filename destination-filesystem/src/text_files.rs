//! Conversion of a Parquet job file to a JSON Lines or CSV data file, as
//! Python dlt 1.31 writes them for its filesystem destination.
//!
//! The conversion reads one record batch at a time and writes it to a local
//! file (gzip-compressed unless disabled), so memory is bounded by one batch
//! whatever the size of the job file.
//!
//! * JSON Lines: one object per row with a `\n` after it, keys in column
//!   order, null values left out. Decimals, timestamps, dates, times and
//!   base64 binary are strings, and `json` columns are inline JSON values.
//! * CSV: a header, `,` as delimiter and `\n` after each row. Numbers and
//!   booleans (`True`, `False`) are bare, every other value and every null
//!   (`""`) is quoted, and quotes inside values are doubled. Binary values
//!   are written as UTF-8 text.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
    Time64MicrosecondArray, TimestampMicrosecondArray,
};
use arrow::array::RecordBatchReader;
use arrow::datatypes::{DataType, TimeUnit};
use base64::Engine;
use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use plugin_sdk::PluginError;

use crate::format::LoaderFileFormat;
use crate::text_values::{FloatStyle, format_date, format_float, format_time, format_timestamp, trim_decimal};

/// The operating system byte of the gzip header: 255 (unknown), which
/// Python's `gzip` module writes.
const GZIP_UNKNOWN_OS: u8 = 255;

/// The format and encoding settings of one converted file.
pub(crate) struct TextFileSpec<'a> {
    /// `Jsonl` or `Csv`.
    pub format: LoaderFileFormat,
    pub compressed: bool,
    /// Columns of dlt type `json`, whose text is a JSON document.
    pub json_columns: &'a HashSet<String>,
    /// The name stored in the gzip header. dlt stores the name of its local
    /// file, `<table>.<file_id>.0.<format>`.
    pub gzip_name: &'a str,
}

/// Converts the Parquet file `source` into `target`; returns the number of
/// rows written.
///
/// Returns a `Terminal` error naming the file and the column when a value
/// cannot be written (binary that is not UTF-8 in CSV, a timestamp out of
/// range), because the same file fails again on retry.
pub(crate) fn convert_parquet(source: &Path, target: &Path, spec: &TextFileSpec<'_>) -> Result<u64, PluginError> {
    let invalid = |reason: String| {
        PluginError::terminal(format!(
            "failed to convert job file {} to {}: {reason}",
            source.display(),
            spec.format
        ))
    };
    let io_error = |action: &str, path: &Path, error: std::io::Error| {
        PluginError::terminal(format!("failed to {action} {}", path.display())).with_source(&error)
    };

    let input = File::open(source).map_err(|error| io_error("open job file", source, error))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(input)
        .and_then(|builder| builder.build())
        .map_err(|error| invalid(error.to_string()))?;
    let names: Vec<String> = reader.schema().fields().iter().map(|field| field.name().clone()).collect();

    let output = File::create(target).map_err(|error| io_error("create", target, error))?;
    let mut sink = Sink::open(output, spec);
    let mut buffer: Vec<u8> = Vec::new();
    if spec.format == LoaderFileFormat::Csv {
        write_csv_header(&mut buffer, &names);
    }

    let mut rows = 0_u64;
    for batch in reader {
        let batch = batch.map_err(|error| invalid(error.to_string()))?;
        let mut columns: Vec<TextColumn> = Vec::with_capacity(names.len());
        for (array, name) in batch.columns().iter().zip(&names) {
            let column = TextColumn::prepare(array, spec.json_columns.contains(name))
                .map_err(|reason| invalid(format!("column `{name}`: {reason}")))?;
            columns.push(column);
        }

        for row in 0..batch.num_rows() {
            let written = match spec.format {
                LoaderFileFormat::Csv => write_csv_row(&mut buffer, &columns, row),
                _ => write_json_row(&mut buffer, &names, &columns, row),
            };
            written.map_err(|(column, reason)| invalid(format!("column `{}` in row {row}: {reason}", names[column])))?;
        }
        rows += batch.num_rows() as u64;

        sink.write_all(&buffer).map_err(|error| io_error("write", target, error))?;
        buffer.clear();
    }

    sink.write_all(&buffer).map_err(|error| io_error("write", target, error))?;
    sink.finish().map_err(|error| io_error("write", target, error))?;
    Ok(rows)
}

/// The output file, gzip-compressed or plain.
enum Sink {
    Plain(BufWriter<File>),
    Gzip(Box<GzEncoder<BufWriter<File>>>),
}

impl Sink {
    /// Opens the output. The gzip header carries the name, the current time
    /// and compression level 9, as Python's `gzip.open` writes them.
    fn open(file: File, spec: &TextFileSpec<'_>) -> Self {
        let writer = BufWriter::new(file);
        if !spec.compressed {
            return Sink::Plain(writer);
        }
        let mtime = u32::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
        let encoder = GzBuilder::new()
            .filename(spec.gzip_name)
            .mtime(mtime)
            .operating_system(GZIP_UNKNOWN_OS)
            .write(writer, Compression::best());
        Sink::Gzip(Box::new(encoder))
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Plain(writer) => writer.write_all(bytes),
            Sink::Gzip(encoder) => encoder.write_all(bytes),
        }
    }

    /// Writes the gzip trailer and flushes the file. It is not synced,
    /// because it is uploaded and deleted right after.
    fn finish(self) -> std::io::Result<()> {
        let writer = match self {
            Sink::Plain(writer) => writer,
            Sink::Gzip(encoder) => encoder.finish()?,
        };
        writer.into_inner().map_err(|error| error.into_error())?;
        Ok(())
    }
}

/// One column of a batch, cast to the Arrow type its text form is made from.
enum TextColumn {
    Null,
    Integer(Int64Array),
    Float(Float64Array),
    Bool(BooleanArray),
    Text(StringArray),
    Json(StringArray),
    Binary(BinaryArray),
    /// Decimals as Arrow formats them with the column's scale.
    Decimal(StringArray),
    Timestamp { values: TimestampMicrosecondArray, aware: bool },
    Date(Date32Array),
    Time(Time64MicrosecondArray),
}

impl TextColumn {
    /// Casts `array` to the type its values are written from. Nanosecond
    /// timestamps and times lose their last three digits, as in Python's
    /// `datetime`.
    fn prepare(array: &ArrayRef, is_json: bool) -> Result<Self, String> {
        let cast = |data_type: DataType| {
            arrow::compute::cast(array, &data_type).map_err(|error| format!("cannot be read as {data_type}: {error}"))
        };

        let column = match array.data_type() {
            DataType::Null => TextColumn::Null,
            data_type if data_type.is_integer() => TextColumn::Integer(cast(DataType::Int64)?.as_primitive().clone()),
            data_type if data_type.is_floating() => TextColumn::Float(cast(DataType::Float64)?.as_primitive().clone()),
            DataType::Boolean => TextColumn::Bool(array.as_boolean().clone()),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let values = cast(DataType::Utf8)?.as_string::<i32>().clone();
                if is_json { TextColumn::Json(values) } else { TextColumn::Text(values) }
            }
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
                TextColumn::Binary(cast(DataType::Binary)?.as_binary::<i32>().clone())
            }
            DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..) => {
                TextColumn::Decimal(cast(DataType::Utf8)?.as_string::<i32>().clone())
            }
            DataType::Timestamp(_, timezone) => TextColumn::Timestamp {
                values: cast(DataType::Timestamp(TimeUnit::Microsecond, timezone.clone()))?.as_primitive().clone(),
                aware: timezone.is_some(),
            },
            DataType::Date32 | DataType::Date64 => TextColumn::Date(cast(DataType::Date32)?.as_primitive().clone()),
            DataType::Time32(_) | DataType::Time64(_) => {
                TextColumn::Time(cast(DataType::Time64(TimeUnit::Microsecond))?.as_primitive().clone())
            }
            // The runner writes none of the other types, so their text form
            // is simply Arrow's.
            _ => TextColumn::Text(cast(DataType::Utf8)?.as_string::<i32>().clone()),
        };
        Ok(column)
    }

    fn is_null(&self, row: usize) -> bool {
        match self {
            TextColumn::Null => true,
            TextColumn::Integer(values) => values.is_null(row),
            TextColumn::Float(values) => values.is_null(row),
            TextColumn::Bool(values) => values.is_null(row),
            TextColumn::Text(values) | TextColumn::Json(values) | TextColumn::Decimal(values) => values.is_null(row),
            TextColumn::Binary(values) => values.is_null(row),
            TextColumn::Timestamp { values, .. } => values.is_null(row),
            TextColumn::Date(values) => values.is_null(row),
            TextColumn::Time(values) => values.is_null(row),
        }
    }

    /// Returns the text of a date or time value, or `None` for other
    /// columns. `separator` goes between the date and time of a timestamp.
    fn temporal_text(&self, row: usize, separator: char) -> Option<Result<String, String>> {
        let text = match self {
            TextColumn::Timestamp { values, aware } => format_timestamp(values.value(row), separator, *aware),
            TextColumn::Date(values) => format_date(values.value(row)),
            TextColumn::Time(values) => format_time(values.value(row)),
            _ => return None,
        };
        Some(text.ok_or_else(|| "the value is out of the range Python's datetime can hold".to_owned()))
    }
}

/// A failed value: the column index and the reason.
type ValueError = (usize, String);

fn write_json_row(buffer: &mut Vec<u8>, names: &[String], columns: &[TextColumn], row: usize) -> Result<(), ValueError> {
    buffer.push(b'{');
    let mut first = true;
    for (index, (name, column)) in names.iter().zip(columns).enumerate() {
        if column.is_null(row) {
            continue;
        }
        if !first {
            buffer.push(b',');
        }
        first = false;
        write_json_string(buffer, name);
        buffer.push(b':');
        write_json_value(buffer, column, row).map_err(|reason| (index, reason))?;
    }
    buffer.extend_from_slice(b"}\n");
    Ok(())
}

fn write_json_value(buffer: &mut Vec<u8>, column: &TextColumn, row: usize) -> Result<(), String> {
    if let Some(text) = column.temporal_text(row, 'T') {
        write_json_string(buffer, &text?);
        return Ok(());
    }

    match column {
        TextColumn::Integer(values) => buffer.extend_from_slice(values.value(row).to_string().as_bytes()),
        TextColumn::Float(values) => {
            buffer.extend_from_slice(format_float(values.value(row), FloatStyle::Orjson).as_bytes());
        }
        TextColumn::Bool(values) => buffer.extend_from_slice(if values.value(row) { b"true" } else { b"false" }),
        TextColumn::Text(values) => write_json_string(buffer, values.value(row)),
        // The runner stores compact JSON text, which is written as it is.
        TextColumn::Json(values) => buffer.extend_from_slice(values.value(row).as_bytes()),
        TextColumn::Binary(values) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(values.value(row));
            write_json_string(buffer, &encoded);
        }
        TextColumn::Decimal(values) => write_json_string(buffer, trim_decimal(values.value(row))),
        TextColumn::Null | TextColumn::Timestamp { .. } | TextColumn::Date(_) | TextColumn::Time(_) => {
            unreachable!("nulls are skipped and temporal values handled above")
        }
    }
    Ok(())
}

/// Writes `text` as a JSON string. serde_json escapes the same characters
/// as orjson: `"`, `\` and control characters, with `\n`-style short forms.
fn write_json_string(buffer: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(buffer, text).expect("writing a string to memory cannot fail");
}

fn write_csv_header(buffer: &mut Vec<u8>, names: &[String]) {
    for (index, name) in names.iter().enumerate() {
        if index > 0 {
            buffer.push(b',');
        }
        write_csv_quoted(buffer, name);
    }
    buffer.push(b'\n');
}

fn write_csv_row(buffer: &mut Vec<u8>, columns: &[TextColumn], row: usize) -> Result<(), ValueError> {
    for (index, column) in columns.iter().enumerate() {
        if index > 0 {
            buffer.push(b',');
        }
        write_csv_value(buffer, column, row).map_err(|reason| (index, reason))?;
    }
    buffer.push(b'\n');
    Ok(())
}

/// Writes one CSV field as Python's `csv.writer` with `QUOTE_NONNUMERIC`
/// does: `str()` of numbers and booleans bare, other values and nulls quoted.
fn write_csv_value(buffer: &mut Vec<u8>, column: &TextColumn, row: usize) -> Result<(), String> {
    if column.is_null(row) {
        buffer.extend_from_slice(b"\"\"");
        return Ok(());
    }
    if let Some(text) = column.temporal_text(row, ' ') {
        write_csv_quoted(buffer, &text?);
        return Ok(());
    }

    match column {
        TextColumn::Integer(values) => buffer.extend_from_slice(values.value(row).to_string().as_bytes()),
        TextColumn::Float(values) => {
            buffer.extend_from_slice(format_float(values.value(row), FloatStyle::PythonRepr).as_bytes());
        }
        TextColumn::Bool(values) => buffer.extend_from_slice(if values.value(row) { b"True" } else { b"False" }),
        TextColumn::Decimal(values) => buffer.extend_from_slice(trim_decimal(values.value(row)).as_bytes()),
        TextColumn::Text(values) | TextColumn::Json(values) => write_csv_quoted(buffer, values.value(row)),
        TextColumn::Binary(values) => {
            // dlt decodes binary as UTF-8 and rejects other bytes.
            let text = std::str::from_utf8(values.value(row)).map_err(|_| {
                "binary value is not valid UTF-8, which CSV cannot hold; use parquet or jsonl".to_owned()
            })?;
            write_csv_quoted(buffer, text);
        }
        TextColumn::Null | TextColumn::Timestamp { .. } | TextColumn::Date(_) | TextColumn::Time(_) => {
            unreachable!("nulls and temporal values are handled above")
        }
    }
    Ok(())
}

fn write_csv_quoted(buffer: &mut Vec<u8>, text: &str) {
    buffer.push(b'"');
    for byte in text.bytes() {
        if byte == b'"' {
            buffer.push(b'"');
        }
        buffer.push(byte);
    }
    buffer.push(b'"');
}
