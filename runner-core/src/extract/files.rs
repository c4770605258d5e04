//! The built-in `files` source: local JSON, JSON Lines, CSV and Parquet files
//! named by a path or a glob pattern.
//!
//! Every reader streams: a JSON array is read element by element, JSON Lines
//! and CSV line by line, Parquet batch by batch, so a file larger than memory
//! extracts with bounded memory.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::de::{Deserialize, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::checked_lines;
use super::big_integers::{BigIntegerScanner, Layout, has_large_float, is_large_float, path_of_literal};
use super::resource::{ItemProducer, ResourceOutput};
use crate::error::TerminalError;
use crate::{Error, Result};

/// Bytes read ahead from an input file.
const READ_BUFFER_BYTES: usize = 1 << 20;

/// Rows per record batch read from a Parquet input.
const PARQUET_BATCH_ROWS: usize = 65_536;

/// An input file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// A JSON array of objects, or one or more JSON objects.
    Json,
    /// One JSON value per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
    Parquet,
}

impl FileFormat {
    /// All formats, in the order messages list them.
    pub const ALL: [FileFormat; 4] = [FileFormat::Json, FileFormat::Jsonl, FileFormat::Csv, FileFormat::Parquet];

    /// Returns the format of a `dlt.yml` name such as `jsonl`.
    pub fn from_name(name: &str) -> Option<FileFormat> {
        FileFormat::ALL.into_iter().find(|format| format.as_str() == name)
    }

    /// Returns the name used in `dlt.yml`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Json => "json",
            FileFormat::Jsonl => "jsonl",
            FileFormat::Csv => "csv",
            FileFormat::Parquet => "parquet",
        }
    }

    /// Infers the format from a file extension (`.json`, `.jsonl`, `.ndjson`,
    /// `.csv`, `.parquet`).
    pub fn from_path(path: &Path) -> Option<FileFormat> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "json" => Some(FileFormat::Json),
            "jsonl" | "ndjson" => Some(FileFormat::Jsonl),
            "csv" => Some(FileFormat::Csv),
            "parquet" | "pq" => Some(FileFormat::Parquet),
            _ => None,
        }
    }
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FileFormat {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "json" => Ok(FileFormat::Json),
            "jsonl" | "ndjson" => Ok(FileFormat::Jsonl),
            "csv" => Ok(FileFormat::Csv),
            "parquet" => Ok(FileFormat::Parquet),
            other => Err(Error::config(format!(
                "invalid file format `{other}`; use `json`, `jsonl`, `csv` or `parquet`"
            ))),
        }
    }
}

/// Reads every file that matches a path or glob pattern.
#[derive(Debug, Clone)]
pub struct FilesReader {
    pattern: PathBuf,
    format: Option<FileFormat>,
}

impl FilesReader {
    /// `pattern` is a file path or a glob pattern (`data/*.jsonl`), absolute
    /// or relative to the current directory. Without `format`, each file's
    /// format comes from its extension.
    pub fn new(pattern: impl Into<PathBuf>, format: Option<FileFormat>) -> Self {
        FilesReader {
            pattern: pattern.into(),
            format,
        }
    }

    /// Returns the matching files, sorted; an error when there are none.
    pub fn matching_files(&self) -> Result<Vec<PathBuf>> {
        let pattern = self.pattern.to_string_lossy();
        let has_wildcards = pattern.contains(['*', '?', '[']);

        if !has_wildcards {
            if self.pattern.is_dir() {
                let folder = pattern.trim_end_matches('/');
                return Err(Error::config(format!(
                    "input path `{pattern}` is a folder; set `path` to a file or a glob such as `{folder}/*.json`"
                )));
            }
            if !self.pattern.is_file() {
                return Err(Error::config(format!(
                    "input file `{pattern}` not found; check the `path` of the source (relative paths start at the project folder)"
                )));
            }
            return Ok(vec![self.pattern.clone()]);
        }

        let entries = glob::glob(&pattern)
            .map_err(|e| Error::config(format!("invalid glob pattern `{pattern}`: {e}")))?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| Error::io("read", e.path().to_path_buf(), e.into()))?;
            if path.is_file() {
                files.push(path);
            }
        }
        files.sort();

        if files.is_empty() {
            return Err(Error::config(format!(
                "no file matches `{pattern}`; check the `path` of the source (relative paths start at the project folder)"
            )));
        }
        Ok(files)
    }

    fn format_of(&self, path: &Path) -> Result<FileFormat> {
        if let Some(format) = self.format {
            return Ok(format);
        }
        FileFormat::from_path(path).ok_or_else(|| {
            Error::config(format!(
                "cannot tell the format of `{}` from its extension; set `format` to json, jsonl, csv or parquet",
                path.display()
            ))
        })
    }
}

impl ItemProducer for FilesReader {
    fn produce(&mut self, output: &mut ResourceOutput<'_>) -> Result<()> {
        for path in self.matching_files()? {
            let format = self.format_of(&path)?;
            tracing::debug!(path = %path.display(), %format, "reading input file");
            let read = match format {
                FileFormat::Json => read_json(&path, output),
                FileFormat::Jsonl => read_jsonl(&path, output),
                FileFormat::Csv => read_csv(&path, output),
                FileFormat::Parquet => read_parquet(&path, output),
            };
            read.map_err(|error| name_input_file(error, &path))?;
        }
        Ok(())
    }
}

/// Adds the input file to a rejection of one of its rows, such as a row
/// without an incremental cursor value. The rejection comes from a filter
/// of the resource, which counts rows but does not know the file.
fn name_input_file(error: Error, path: &Path) -> Error {
    match error {
        Error::Resource { resource, source } if source.is::<TerminalError>() => Error::Resource {
            resource,
            source: Box::new(TerminalError::new(format!("{source} (input file `{}`)", path.display()))),
        },
        other => other,
    }
}

fn open_buffered(path: &Path) -> Result<BufReader<File>> {
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, file);
    skip_byte_order_mark(&mut reader, path)?;
    Ok(reader)
}

const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// Skips a UTF-8 byte order mark, which some editors write and JSON forbids,
/// and rejects a file that starts with a UTF-16 byte order mark.
fn skip_byte_order_mark(reader: &mut BufReader<File>, path: &Path) -> Result<()> {
    let buffer = reader.fill_buf().map_err(|e| Error::io("read", path, e))?;
    if buffer.starts_with(&UTF8_BOM) {
        reader.consume(UTF8_BOM.len());
    } else if buffer.starts_with(&[0xFF, 0xFE]) || buffer.starts_with(&[0xFE, 0xFF]) {
        return Err(invalid_data(
            path,
            Some(1),
            "the file is UTF-16 text (it starts with a UTF-16 byte order mark); convert it to UTF-8, \
             for example with `iconv -f utf-16 -t utf-8`",
        ));
    }
    Ok(())
}

fn invalid_data(path: &Path, line: Option<u64>, message: impl Into<String>) -> Error {
    Error::InvalidData {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

/// Reads a JSON array element by element, or a sequence of top-level values.
///
/// An integer beyond 64 bits is rejected (see [`BigIntegerCheck`]). dlt 1.31
/// rejects such a Python int at extract, though its JSON reader (orjson
/// 3.13) reads one from a file as a rounded float.
fn read_json(path: &Path, output: &mut ResourceOutput<'_>) -> Result<()> {
    let mut reader = open_buffered(path)?;
    let first = first_non_whitespace(&mut reader, path)?;

    match first {
        None => Ok(()),
        Some(b'[') => {
            let mut deserializer = serde_json::Deserializer::from_reader(reader);
            let mut failure = None;
            let seed = ArrayElements {
                output,
                big_integers: BigIntegerCheck::new(path, Layout::Array),
                failure: &mut failure,
            };
            let result = seed.deserialize(&mut deserializer).and_then(|_| deserializer.end());
            if let Some(error) = failure {
                return Err(error);
            }
            result.map_err(|e| json_error(path, e.line() as u64, &e, None))
        }
        Some(_) => {
            let mut big_integers = BigIntegerCheck::new(path, Layout::Values);
            let stream = serde_json::Deserializer::from_reader(reader).into_iter::<Value>();
            for value in stream {
                let value = value.map_err(|e| json_error(path, e.line() as u64, &e, None))?;
                big_integers.check(&value)?;
                output.push_row(value)?;
            }
            Ok(())
        }
    }
}

fn first_non_whitespace(reader: &mut BufReader<File>, path: &Path) -> Result<Option<u8>> {
    loop {
        let buffer = reader.fill_buf().map_err(|e| Error::io("read", path, e))?;
        if buffer.is_empty() {
            return Ok(None);
        }
        match buffer.iter().position(|byte| !byte.is_ascii_whitespace()) {
            Some(offset) => {
                let byte = buffer[offset];
                reader.consume(offset);
                return Ok(Some(byte));
            }
            None => {
                let length = buffer.len();
                reader.consume(length);
            }
        }
    }
}

/// The maximum nesting depth of a JSON value, fixed by serde_json's parser.
const JSON_MAX_DEPTH: usize = 128;

/// Builds the error for a serde_json failure on line `line` of `path`.
///
/// serde_json ends its message with its own position, which for JSON Lines
/// counts from the start of the line, so that position is replaced by the
/// column. Errors that NaN, Infinity, invalid UTF-8 or deep nesting cause
/// get a message that names the cause and the fix. `line_text` is the line
/// that failed when the caller has it; otherwise it is read from the file.
fn json_error(path: &Path, line: u64, error: &serde_json::Error, line_text: Option<&[u8]>) -> Error {
    let full = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    let reason = full.strip_suffix(&position).unwrap_or(&full);
    let column = error.column();

    let read_text;
    let text = match line_text {
        Some(text) => Some(text),
        None => {
            read_text = read_line(path, line);
            read_text.as_deref()
        }
    };

    let message = if reason == "recursion limit exceeded" {
        format!(
            "a value at column {column} is nested {JSON_MAX_DEPTH} or more levels deep, and the JSON parser reads \
             at most {} levels; flatten the data or store the deep part as a string before loading \
             (`max_table_nesting` limits nested tables, not this depth)",
            JSON_MAX_DEPTH - 1
        )
    } else if let Some(literal) = text.and_then(|text| non_finite_literal_at(text, column)) {
        format!(
            "`{literal}` at column {column} is not valid JSON, which has no NaN or Infinity; \
             write null or a string such as \"{literal}\" instead"
        )
    } else if text.is_some_and(|text| std::str::from_utf8(text).is_err()) || reason == "invalid unicode code point" {
        format!(
            "invalid UTF-8 at column {column}; JSON input must be UTF-8, so convert the file, \
             for example with `iconv -f latin1 -t utf-8`"
        )
    } else if reason.starts_with("EOF while parsing") && line_text.is_some() {
        format!(
            "the line ends inside a value ({reason}) at column {column}; JSON Lines needs each value on one \
             line, so the line is cut short or its value goes on over the next line"
        )
    } else if reason.starts_with("EOF while parsing") {
        format!("the file ends inside a value ({reason}) at column {column}; it may be truncated")
    } else {
        format!("{reason} at column {column}")
    };
    invalid_data(path, Some(line), message)
}

/// Returns line `line` (1-based) of `path` without its UTF-8 byte order mark,
/// or `None` when it cannot be read.
fn read_line(path: &Path, line: u64) -> Option<Vec<u8>> {
    let mut reader = BufReader::new(File::open(path).ok()?);
    let mut text = Vec::new();
    for _ in 0..line {
        text.clear();
        if reader.read_until(b'\n', &mut text).ok()? == 0 {
            return None;
        }
    }
    if line == 1 && text.starts_with(&UTF8_BOM) {
        text.drain(..UTF8_BOM.len());
    }
    Some(text)
}

/// Returns `NaN`, `Infinity` or `-Infinity` when one starts at or just
/// before the 1-based byte `column` of `text`, where serde_json reports it.
fn non_finite_literal_at(text: &[u8], column: usize) -> Option<&'static str> {
    let start = column.saturating_sub(2);
    let window = text.get(start..)?;
    let window = &window[..window.len().min(12)];
    ["-Infinity", "Infinity", "NaN"]
        .into_iter()
        .find(|literal| window.windows(literal.len()).any(|part| part == literal.as_bytes()))
}

/// Rejects integer literals beyond 64 bits in the values of one JSON file.
///
/// A row that may contain one (see [`has_large_float`]) is checked
/// against the file's text, which a second reader scans front to back once,
/// opened at the first such row. Files without such rows are read once.
struct BigIntegerCheck<'p> {
    path: &'p Path,
    layout: Layout,
    next_value: usize,
    scanner: Option<BigIntegerScanner<BufReader<File>>>,
}

impl<'p> BigIntegerCheck<'p> {
    fn new(path: &'p Path, layout: Layout) -> Self {
        BigIntegerCheck {
            path,
            layout,
            next_value: 0,
            scanner: None,
        }
    }

    /// Checks the next top-level value of the file.
    fn check(&mut self, value: &Value) -> Result<()> {
        let index = self.next_value;
        self.next_value += 1;
        if !has_large_float(value) {
            return Ok(());
        }

        if self.scanner.is_none() {
            let file = File::open(self.path).map_err(|e| Error::io("open", self.path, e))?;
            self.scanner = Some(BigIntegerScanner::new(BufReader::new(file), self.layout));
        }
        match self.scanner.as_mut().and_then(|scanner| scanner.find_in_value(index)) {
            Some(found) => Err(big_integer_error(self.path, found.line, value, &found.literal)),
            None => Ok(()),
        }
    }
}

/// Builds the error for `literal`, found in the row `value` on line `line`.
fn big_integer_error(path: &Path, line: u64, value: &Value, literal: &str) -> Error {
    let field = path_of_literal(value, literal)
        .map(|field| format!(" in field `{field}`"))
        .unwrap_or_default();
    invalid_data(
        path,
        Some(line),
        format!(
            "integer {literal}{field} is out of range for bigint (int64), and loading it as a double \
             would round it; send the value as a string to load it as text"
        ),
    )
}

/// Deserializes a JSON array and hands each element to the resource output
/// as soon as it is parsed, so the array is never held in memory.
struct ArrayElements<'o, 'a, 'p> {
    output: &'o mut ResourceOutput<'a>,
    big_integers: BigIntegerCheck<'p>,
    failure: &'o mut Option<Error>,
}

impl<'de> DeserializeSeed<'de> for ArrayElements<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ArrayElements<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut elements: A) -> std::result::Result<(), A::Error> {
        while let Some(element) = elements.next_element::<Value>()? {
            let pushed = self.big_integers.check(&element).and_then(|()| self.output.push_row(element));
            if let Err(error) = pushed {
                // The real error is kept aside; serde only needs to stop.
                *self.failure = Some(error);
                return Err(serde::de::Error::custom("extraction stopped"));
            }
        }
        Ok(())
    }
}

fn read_jsonl(path: &Path, output: &mut ResourceOutput<'_>) -> Result<()> {
    let mut reader = open_buffered(path)?;
    if output.takes_json_text() {
        let check = |text: &[u8], line_number: u64| check_json_line(path, line_number, text);
        return checked_lines::check_lines(&mut reader, path, json_checkers(), &check, &mut |text| {
            output.push_json_text(text)
        });
    }

    let mut line = Vec::new();
    let mut line_number = 0u64;

    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(|e| Error::io("read", path, e))?;
        if read == 0 {
            return Ok(());
        }
        line_number += 1;

        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let value: Value = parse_line(path, line_number, text)?;
        if has_large_float(&value) {
            reject_big_integer(path, line_number, text, &value)?;
        }
        output.push_row(value)?;
    }
}

/// Threads that check JSON Lines syntax during extract: one per CPU, at
/// most two, since the reading thread does little besides.
fn json_checkers() -> usize {
    std::thread::available_parallelism().map_or(1, |cpus| cpus.get().min(2))
}

/// Checks one line of JSON Lines input as normalize will parse it, without
/// building a tree.
fn check_json_line(path: &Path, line_number: u64, text: &[u8]) -> Result<()> {
    // Text the fast parser does not accept goes to serde_json, which
    // decides and words the error.
    let has_large_float = match crate::json_parser::check(text) {
        Some(checked) => {
            #[cfg(debug_assertions)]
            {
                let expected: ValidJson =
                    parse_line(path, line_number, text).expect("serde_json rejects a line the fast parser accepted");
                assert_eq!(checked.has_large_float, expected.has_large_float);
            }
            checked.has_large_float
        }
        None => parse_line::<ValidJson>(path, line_number, text)?.has_large_float,
    };

    // Rare: only such a row pays for a tree, to name the field.
    if has_large_float {
        let value: Value = parse_line(path, line_number, text)?;
        reject_big_integer(path, line_number, text, &value)?;
    }
    Ok(())
}

/// Parses one line of JSON Lines input; the error names the file and line.
fn parse_line<T: DeserializeOwned>(path: &Path, line_number: u64, text: &[u8]) -> Result<T> {
    crate::lines::parse_json(text).map_err(|e| json_error(path, line_number, &e, Some(text)))
}

/// Fails when the line `text` contains an integer literal beyond 64 bits,
/// which serde_json read as the float in `value`.
fn reject_big_integer(path: &Path, line_number: u64, text: &[u8], value: &Value) -> Result<()> {
    match BigIntegerScanner::new(text, Layout::Values).find_in_value(0) {
        Some(found) => Err(big_integer_error(path, line_number, value, &found.literal)),
        None => Ok(()),
    }
}

/// A JSON value checked the way serde_json parses a `Value` (syntax, UTF-8
/// of strings and keys, the 128-level nesting limit) without building it, so
/// text that passes here also parses at normalize.
#[derive(Default)]
struct ValidJson {
    /// True when a number read as a float that may be a rounded integer
    /// literal beyond 64 bits (see [`is_large_float`]).
    has_large_float: bool,
}

impl<'de> Deserialize<'de> for ValidJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(ValidJsonVisitor)
    }
}

struct ValidJsonVisitor;

impl<'de> Visitor<'de> for ValidJsonVisitor {
    type Value = ValidJson;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<ValidJson, E> {
        Ok(ValidJson::default())
    }

    fn visit_i64<E>(self, _: i64) -> std::result::Result<ValidJson, E> {
        Ok(ValidJson::default())
    }

    fn visit_u64<E>(self, _: u64) -> std::result::Result<ValidJson, E> {
        Ok(ValidJson::default())
    }

    fn visit_f64<E>(self, float: f64) -> std::result::Result<ValidJson, E> {
        Ok(ValidJson {
            has_large_float: is_large_float(float),
        })
    }

    fn visit_str<E>(self, _: &str) -> std::result::Result<ValidJson, E> {
        Ok(ValidJson::default())
    }

    fn visit_unit<E>(self) -> std::result::Result<ValidJson, E> {
        Ok(ValidJson::default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut elements: A) -> std::result::Result<ValidJson, A::Error> {
        let mut checked = ValidJson::default();
        while let Some(element) = elements.next_element::<ValidJson>()? {
            checked.has_large_float |= element.has_large_float;
        }
        Ok(checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> std::result::Result<ValidJson, A::Error> {
        let mut checked = ValidJson::default();
        while entries.next_key::<ValidKey>()?.is_some() {
            checked.has_large_float |= entries.next_value::<ValidJson>()?.has_large_float;
        }
        Ok(checked)
    }
}

/// An object key, read as a string so that its UTF-8 is checked.
struct ValidKey;

impl<'de> Deserialize<'de> for ValidKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_str(ValidJsonVisitor).map(|_| ValidKey)
    }
}

/// Reads CSV with a header row. Fields become numbers or booleans when they
/// read as such, empty fields become null, and the rest stay text.
fn read_csv(path: &Path, output: &mut ResourceOutput<'_>) -> Result<()> {
    let reader = open_buffered(path)?;
    let mut csv_reader = csv::ReaderBuilder::new().has_headers(true).from_reader(reader);
    let headers = csv_reader
        .headers()
        .map_err(|e| invalid_data(path, Some(1), e.to_string()))?
        .clone();
    let mut seen = std::collections::HashSet::new();
    if let Some(duplicate) = headers.iter().find(|name| !seen.insert(*name)) {
        return Err(invalid_data(
            path,
            Some(1),
            format!("the header names column `{duplicate}` twice; give every column a distinct name"),
        ));
    }

    let mut record = csv::StringRecord::new();
    loop {
        let has_record = csv_reader.read_record(&mut record).map_err(|e| {
            let line = e.position().map(|position| position.line());
            invalid_data(path, line, e.to_string())
        })?;
        if !has_record {
            return Ok(());
        }

        let mut row = Map::with_capacity(headers.len());
        for (name, field) in headers.iter().zip(record.iter()) {
            row.insert(name.to_owned(), csv_field_value(field));
        }
        output.push_row(Value::Object(row))?;
    }
}

fn csv_field_value(field: &str) -> Value {
    if field.is_empty() {
        return Value::Null;
    }
    if let Ok(integer) = field.parse::<i64>() {
        return Value::Number(integer.into());
    }
    if let Ok(float) = field.parse::<f64>()
        && float.is_finite()
        && let Some(number) = Number::from_f64(float)
    {
        return Value::Number(number);
    }
    match field {
        "true" | "TRUE" | "True" => Value::Bool(true),
        "false" | "FALSE" | "False" => Value::Bool(false),
        _ => Value::String(field.to_owned()),
    }
}

fn read_parquet(path: &Path, output: &mut ResourceOutput<'_>) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let arrow_error = |e: &dyn std::error::Error| Error::Arrow {
        action: "reading Parquet file",
        path: path.to_path_buf(),
        message: e.to_string(),
    };

    let metadata = crate::normalize::reader_metadata(&file).map_err(|e| arrow_error(&e))?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata);
    let field_names = builder.schema().fields().iter().map(|field| field.name().as_str());
    if let Some(collision) = crate::normalize::column_name_collision(field_names) {
        return Err(invalid_data(path, None, collision));
    }

    // The footer read above checked the file's schema. NOTE: a damaged data
    // page of a copied file shows at normalize, or at load when normalize
    // passes the file on, instead of here.
    if output.takes_parquet_files() {
        let rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        return output.push_parquet_file(path, rows);
    }

    let reader = builder
        .with_batch_size(PARQUET_BATCH_ROWS)
        .build()
        .map_err(|e| arrow_error(&e))?;
    for batch in reader {
        let batch = batch.map_err(|e| arrow_error(&e))?;
        output.push_batch(batch)?;
    }
    Ok(())
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_hint_has_one_slash() {
        let dir = tempfile::tempdir().expect("create temporary folder");
        let folder = format!("{}/", dir.path().display());

        let error = FilesReader::new(&folder, None).matching_files().expect_err("a folder is no input file");

        let expected = format!("`{}/*.json`", dir.path().display());
        assert!(error.to_string().contains(&expected), "{error}");
    }
}
