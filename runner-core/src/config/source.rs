//! `sources.<name>`: where a pipeline's data comes from.

use std::path::{Path, PathBuf};

use super::contract::parse_contract;
use super::error::{ConfigError, ConfigErrorKind};
use super::fields::{
    Fields, as_sequence, as_str, invalid_value, mapping_entries, to_json, wrong_type,
};
use super::suggest::format_names;
use super::yaml::{Entry, Node, Value};

/// One entry of the `sources` mapping, selected by its required `type` key.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceConfig {
    /// `type: files`: local files in JSON, JSON Lines, CSV or Parquet.
    Files(FilesSource),
    /// Any other `type`, implemented by a source plugin. `config` is the whole
    /// mapping as JSON, `type` included.
    Plugin {
        type_name: String,
        config: serde_json::Value,
    },
}

impl SourceConfig {
    /// Returns the `type` name of the source.
    pub fn type_name(&self) -> &str {
        match self {
            SourceConfig::Files(_) => "files",
            SourceConfig::Plugin { type_name, .. } => type_name,
        }
    }
}

/// A `type: files` source.
///
/// ```yaml
/// sources:
///   countries:
///     type: files
///     path: data/countries.json   # a file or a glob, relative to the project folder
///     format: json                # json, jsonl, csv or parquet; from the extension when omitted
///     table_name: countries
///     write_disposition: append   # append, replace or merge
///     primary_key: cca3           # a string or a list of strings
///     merge_key: region           # optional, for merge; a string or a list
///     merge_strategy: upsert      # optional, for merge: delete-insert (default) or upsert
///     incremental: {cursor_path: updated_at, initial_value: "2024-01-01T00:00:00Z"}
///     max_table_nesting: 2
///     schema_contract: freeze     # or {tables: evolve, columns: freeze, data_type: freeze}
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FilesSource {
    /// `path` (required): a file or a glob pattern, as written; relative
    /// paths are relative to the project folder.
    pub path: PathBuf,
    /// `format`: the file format. When `None`, [`FilesSource::effective_format`]
    /// takes it from the extension of `path`, which loading has checked.
    pub format: Option<FileFormat>,
    /// `table_name`: the destination table. When `None`, the files source
    /// chooses the name.
    pub table_name: Option<String>,
    /// `write_disposition`: how rows join the table. Default `append`.
    pub write_disposition: WriteDisposition,
    /// `primary_key`: one column name or a list of them. Empty when absent.
    /// `merge` requires it or `merge_key`, and strategy `upsert` requires it.
    pub primary_key: Vec<String>,
    /// `merge_key`: one column name or a list of them. Empty when absent.
    pub merge_key: Vec<String>,
    /// `merge_strategy`: how `merge` replaces stored rows. `None` is
    /// delete-insert, dlt's default.
    pub merge_strategy: Option<MergeStrategy>,
    /// `incremental`: load only rows whose cursor is past the last value seen.
    pub incremental: Option<IncrementalConfig>,
    /// `max_table_nesting`: how deep nested data becomes child tables.
    pub max_table_nesting: Option<u32>,
    /// `schema_contract`: which schema changes loads may make. It wins over
    /// the contract of the pipeline's dataset.
    pub schema_contract: Option<crate::schema::SchemaContract>,
}

impl FilesSource {
    /// Returns `format`, or the format named by the extension of `path`.
    pub fn effective_format(&self) -> Option<FileFormat> {
        self.format.or_else(|| FileFormat::from_path(&self.path))
    }
}

/// The `incremental` mapping of a files source.
#[derive(Debug, Clone, PartialEq)]
pub struct IncrementalConfig {
    /// `cursor_path` (required): the field whose value orders the rows.
    pub cursor_path: String,
    /// `initial_value`: rows with a cursor below it are skipped on the first
    /// run. A string, number or boolean.
    pub initial_value: Option<serde_json::Value>,
}

pub use crate::extract::{MergeStrategy, WriteDisposition};
pub use crate::extract::files::FileFormat;

const FILES_KEYS: &[&str] = &[
    "type",
    "path",
    "format",
    "table_name",
    "write_disposition",
    "primary_key",
    "merge_key",
    "merge_strategy",
    "incremental",
    "max_table_nesting",
    "schema_contract",
];

/// Reads one entry of `sources`.
pub(crate) fn parse_source(entry: &Entry, path: &str) -> Result<SourceConfig, ConfigError> {
    let node = &entry.value;
    if !matches!(node.value, Value::Mapping(_)) {
        return Err(wrong_type(
            node.location,
            path,
            "a mapping with a `type` key",
            &node.value,
        ));
    }

    let type_name = read_type(node, path, entry)?;
    if type_name != "files" {
        return Ok(SourceConfig::Plugin {
            type_name,
            config: to_json(node, path)?,
        });
    }

    let fields = Fields::read(node, path, entry.key_location, FILES_KEYS)?;
    parse_files(&fields).map(SourceConfig::Files)
}

fn read_type(node: &Node, path: &str, entry: &Entry) -> Result<String, ConfigError> {
    let entries = mapping_entries(node, path)?;
    let Some(type_entry) = entries
        .iter()
        .find(|item| item.key == "type" && item.value.value != Value::Null)
    else {
        let kind = ConfigErrorKind::MissingKey {
            key: "type",
            parent: path.to_owned(),
            help: "add `type: files` or the type of a source plugin".to_owned(),
        };
        return Err(ConfigError::at(entry.key_location, kind));
    };

    let name = as_str(&type_entry.value, &format!("{path}.type"))?;
    Ok(name.value.to_owned())
}

fn parse_files(fields: &Fields<'_>) -> Result<FilesSource, ConfigError> {
    let path_entry = fields.require(
        "path",
        "add `path:` with a file or glob relative to the project folder",
    )?;
    let path = as_str(&path_entry.value, &fields.key_path("path"))?;

    let format = read_format(fields)?;
    if format.is_none() && FileFormat::from_path(Path::new(path.value)).is_none() {
        let reason = format!(
            "the file format cannot be taken from its extension; add `format:` with one of {}",
            format_names(&FileFormat::ALL.map(FileFormat::as_str))
        );
        return Err(invalid_value(
            &path_entry.value,
            &fields.key_path("path"),
            reason,
        ));
    }

    let table_name = fields
        .string("table_name")?
        .map(|name| name.value.to_owned());
    let primary_key = read_key_columns(fields, "primary_key")?;
    let merge_key = read_key_columns(fields, "merge_key")?;
    let merge_strategy = read_merge_strategy(fields, &primary_key)?;
    let write_disposition = read_write_disposition(fields, &primary_key, &merge_key)?;
    let incremental = read_incremental(fields)?;
    let max_table_nesting = read_max_table_nesting(fields)?;
    let schema_contract = fields
        .get("schema_contract")
        .map(|entry| parse_contract(&entry.value, &fields.key_path("schema_contract")))
        .transpose()?;

    Ok(FilesSource {
        path: PathBuf::from(path.value),
        format,
        table_name,
        write_disposition,
        primary_key,
        merge_key,
        merge_strategy,
        incremental,
        max_table_nesting,
        schema_contract,
    })
}

fn read_format(fields: &Fields<'_>) -> Result<Option<FileFormat>, ConfigError> {
    let Some(entry) = fields.get("format") else {
        return Ok(None);
    };
    let path = fields.key_path("format");
    let name = as_str(&entry.value, &path)?;

    FileFormat::from_name(name.value).map(Some).ok_or_else(|| {
        let names = FileFormat::ALL.map(FileFormat::as_str);
        invalid_value(
            &entry.value,
            &path,
            format!("must be one of {}", format_names(&names)),
        )
    })
}

fn read_write_disposition(
    fields: &Fields<'_>,
    primary_key: &[String],
    merge_key: &[String],
) -> Result<WriteDisposition, ConfigError> {
    let Some(entry) = fields.get("write_disposition") else {
        return Ok(WriteDisposition::default());
    };
    let path = fields.key_path("write_disposition");
    let name = as_str(&entry.value, &path)?;

    let Some(disposition) = WriteDisposition::ALL
        .into_iter()
        .find(|item| item.as_str() == name.value)
    else {
        let names = WriteDisposition::ALL.map(WriteDisposition::as_str);
        return Err(invalid_value(
            &entry.value,
            &path,
            format!("must be one of {}", format_names(&names)),
        ));
    };

    // Without a key, merge has no way to match new rows to stored ones.
    if disposition == WriteDisposition::Merge && primary_key.is_empty() && merge_key.is_empty() {
        let reason = "merge needs `primary_key` or `merge_key` to match new rows to stored ones; add one of them or use append";
        return Err(invalid_value(&entry.value, &path, reason));
    }
    Ok(disposition)
}

fn read_merge_strategy(
    fields: &Fields<'_>,
    primary_key: &[String],
) -> Result<Option<MergeStrategy>, ConfigError> {
    let Some(entry) = fields.get("merge_strategy") else {
        return Ok(None);
    };
    let path = fields.key_path("merge_strategy");
    let name = as_str(&entry.value, &path)?;

    let Some(strategy) = MergeStrategy::ALL
        .into_iter()
        .find(|item| item.as_str() == name.value)
    else {
        let names = MergeStrategy::ALL.map(MergeStrategy::as_str);
        return Err(invalid_value(
            &entry.value,
            &path,
            format!("must be one of {}", format_names(&names)),
        ));
    };

    if strategy == MergeStrategy::Upsert && primary_key.is_empty() {
        let reason = "upsert needs `primary_key` to match new rows to stored ones; add primary_key";
        return Err(invalid_value(&entry.value, &path, reason));
    }
    Ok(Some(strategy))
}

/// Reads `primary_key` or `merge_key`: one column name or a list of them.
fn read_key_columns(fields: &Fields<'_>, key: &str) -> Result<Vec<String>, ConfigError> {
    let Some(entry) = fields.get(key) else {
        return Ok(Vec::new());
    };
    let path = fields.key_path(key);

    if matches!(entry.value.value, Value::String(_)) {
        return Ok(vec![as_str(&entry.value, &path)?.value.to_owned()]);
    }

    let items = as_sequence(
        &entry.value,
        &path,
        "a column name or a list of column names",
    )?;
    if items.is_empty() {
        return Err(invalid_value(
            &entry.value,
            &path,
            "must name at least one column; remove the key for none",
        ));
    }

    let mut columns: Vec<String> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{index}]");
        let column = as_str(item, &item_path)?.value.to_owned();
        if columns.contains(&column) {
            return Err(invalid_value(
                item,
                &item_path,
                "is listed twice; remove one of them",
            ));
        }
        columns.push(column);
    }
    Ok(columns)
}

fn read_incremental(fields: &Fields<'_>) -> Result<Option<IncrementalConfig>, ConfigError> {
    let Some(entry) = fields.get("incremental") else {
        return Ok(None);
    };
    let path = fields.key_path("incremental");
    let incremental = Fields::read(
        &entry.value,
        &path,
        entry.key_location,
        &["cursor_path", "initial_value"],
    )?;

    let cursor = incremental.require(
        "cursor_path",
        "add `cursor_path:` with the field that orders the rows",
    )?;
    let cursor_path = as_str(&cursor.value, &incremental.key_path("cursor_path"))?
        .value
        .to_owned();

    let initial_value = match incremental.get("initial_value") {
        Some(initial) if matches!(initial.value.value, Value::Sequence(_) | Value::Mapping(_)) => {
            let initial_path = incremental.key_path("initial_value");
            return Err(wrong_type(
                initial.value.location,
                &initial_path,
                "a string, number or boolean",
                &initial.value.value,
            ));
        }
        Some(initial) => Some(to_json(
            &initial.value,
            &incremental.key_path("initial_value"),
        )?),
        None => None,
    };

    Ok(Some(IncrementalConfig {
        cursor_path,
        initial_value,
    }))
}

fn read_max_table_nesting(fields: &Fields<'_>) -> Result<Option<u32>, ConfigError> {
    let Some(entry) = fields.get("max_table_nesting") else {
        return Ok(None);
    };
    let path = fields.key_path("max_table_nesting");

    let Value::Number(number) = &entry.value.value else {
        return Err(wrong_type(
            entry.value.location,
            &path,
            "a whole number",
            &entry.value.value,
        ));
    };

    let depth = number.as_u64().and_then(|value| u32::try_from(value).ok());
    depth
        .map(Some)
        .ok_or_else(|| invalid_value(&entry.value, &path, "must be a whole number of 0 or more"))
}
