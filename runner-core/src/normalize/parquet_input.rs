//! Passes extracted Parquet jobs to the load package without decoding them
//! when normalize would not change a value.
//!
//! Like dlt 1.31, which imports an extracted Parquet file unchanged when its
//! schema needs no normalization, a job whose columns already have their normalized
//! names, types and order becomes a hard link in the new package. A job
//! that differs only in labels the values do not depend on (column names,
//! `string` against `large_string`, the time zone of a timestamp) gets a new
//! footer, and its column chunks are copied byte for byte. Anything else
//! (a cast, a dropped column or row, a missing column, dictionary or nested
//! arrays) goes through [`Normalizer::push_batch`].

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType as ArrowType, Schema as ArrowSchema, SchemaRef};
use parquet::arrow::{ArrowSchemaConverter, add_encoded_arrow_schema_to_metadata};
use parquet::basic::{ConvertedType, LogicalType, TimeUnit, Type as PhysicalType};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{ColumnDescriptor, SchemaDescriptor};

use super::Normalizer;
use super::arrow_input::column_for;
use super::contract::{column_evolves, is_new_table};
use crate::Error;
use crate::naming::normalize_path;
use crate::schema::ContractMode;

/// The way a Parquet job becomes a load job without decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PassMode {
    /// The file is the load job as it is.
    HardLink,
    /// The column chunks fit, under a footer with the table's schema.
    NewFooter,
}

impl Normalizer<'_> {
    /// Adds the extracted Parquet job at `path` to `root_table` without
    /// decoding it when normalize would not change a value. Returns its row
    /// count, or `None` when the caller must decode it and push its batches.
    ///
    /// Schema changes (a new table, new columns) are applied as
    /// [`Normalizer::push_batch`] applies them.
    pub fn pass_parquet_file(&mut self, root_table: &str, path: &Path) -> crate::Result<Option<u64>> {
        let arrow_error = |message: String| Error::Arrow {
            action: "reading the footer of an extracted Parquet job",
            path: path.to_path_buf(),
            message,
        };
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let reader = super::reader_metadata(&file).map_err(|e| arrow_error(e.to_string()))?;
        let metadata = reader.metadata();
        let file_schema = reader.schema();
        let rows = u64::try_from(metadata.file_metadata().num_rows()).unwrap_or(0);

        if !self.may_pass(root_table, file_schema, rows)? {
            return Ok(None);
        }
        self.add_file_columns(root_table, file_schema)?;

        self.output_for(root_table);
        let table = &self.schema.tables[root_table];
        let output = &mut self.outputs[root_table];
        let target = output.buffer_for(table)?.schema().clone();
        let Some(mode) = pass_mode(file_schema, &target, metadata.file_metadata().schema_descr()) else {
            return Ok(None);
        };

        tracing::debug!(table = root_table, path = %path.display(), rows, ?mode, "passing Parquet job on");
        output.add_file(rows, |job_path| match mode {
            PassMode::HardLink => link_or_copy(path, job_path),
            PassMode::NewFooter => write_with_footer(path, metadata, &target, job_path),
        })?;
        Ok(Some(rows))
    }

    /// Checks, without changing anything, that the columns of `file_schema`
    /// need no conversion and that the contract accepts every column the
    /// table lacks.
    fn may_pass(&mut self, root_table: &str, file_schema: &ArrowSchema, rows: u64) -> crate::Result<bool> {
        let Some(table) = self.schema.tables.get(root_table) else {
            return Ok(false);
        };
        // File rotation splits a job at `file_max_rows`, which only the
        // decoding path does.
        if rows == 0 || self.options.file_max_rows.is_some_and(|max| max > 0 && rows > max) {
            return Ok(false);
        }

        let table_is_new = is_new_table(Some(table));
        let mut names = HashSet::new();
        let mut missing = Vec::new();
        for field in file_schema.fields() {
            let data_type = field.data_type();
            let plain = !matches!(data_type, ArrowType::Null | ArrowType::Dictionary(..)) && !data_type.is_nested();
            if field.name().trim().is_empty() || !plain {
                return Ok(false);
            }
            let name = normalize_path(field.name());
            if !names.insert(name.clone()) {
                return Ok(false);
            }
            if table.columns.get(&name).is_none_or(|column| !column.is_complete()) {
                missing.push(name);
            }
        }

        let (contract, root_is_new) = self.batch_contract(root_table)?;
        if table_is_new && contract.tables != ContractMode::Evolve {
            return Ok(false);
        }
        Ok(missing.iter().all(|name| column_evolves(&contract, name, root_is_new)))
    }

    /// Adds the columns of `file_schema` that the table lacks, with the
    /// types [`Normalizer::push_batch`] infers.
    fn add_file_columns(&mut self, root_table: &str, file_schema: &ArrowSchema) -> crate::Result<()> {
        for field in file_schema.fields() {
            let name = normalize_path(field.name());
            let complete = self.schema.tables[root_table]
                .columns
                .get(&name)
                .is_some_and(|column| column.is_complete());
            if complete {
                continue;
            }
            if let Some(inferred) = column_for(root_table, &name, field.data_type(), field.is_nullable())? {
                self.add_arrow_column(root_table, inferred);
            }
        }
        Ok(())
    }
}

/// Decides how a file with `file_schema` and the Parquet schema `file_leaves`
/// can become a job with the table's `target` schema, if it can.
fn pass_mode(file_schema: &ArrowSchema, target: &SchemaRef, file_leaves: &SchemaDescriptor) -> Option<PassMode> {
    if file_schema.fields().len() != target.fields().len() || file_leaves.num_columns() != target.fields().len() {
        return None;
    }
    let target_leaves = ArrowSchemaConverter::new().convert(target).ok()?;

    let mut exact = true;
    for (index, (field, target_field)) in file_schema.fields().iter().zip(target.fields()).enumerate() {
        let same_values = normalize_path(field.name()) == *target_field.name()
            && field.is_nullable() == target_field.is_nullable()
            && same_arrow_values(field.data_type(), target_field.data_type())
            && same_parquet_values(&file_leaves.column(index), &target_leaves.column(index));
        if !same_values {
            return None;
        }
        exact &= field.as_ref() == target_field.as_ref()
            && file_leaves.column(index).self_type() == target_leaves.column(index).self_type();
    }
    Some(if exact { PassMode::HardLink } else { PassMode::NewFooter })
}

/// True when an array of type `from` reads as the same values as type `to`:
/// equal types, strings or binaries of either offset width, or timestamps
/// of one unit. A zone only labels timestamps, which are UTC epoch values,
/// and naive ones are taken as UTC.
fn same_arrow_values(from: &ArrowType, to: &ArrowType) -> bool {
    use ArrowType::{Binary, LargeBinary, LargeUtf8, Timestamp, Utf8};
    match (from, to) {
        (Utf8 | LargeUtf8, Utf8 | LargeUtf8) | (Binary | LargeBinary, Binary | LargeBinary) => true,
        (Timestamp(from_unit, _), Timestamp(to_unit, _)) => from_unit == to_unit,
        _ => from == to,
    }
}

/// True when the column chunks of leaf `from` decode as leaf `to`: the same
/// physical type and levels, and annotations that mean the same values
/// (see [`value_logical_type`]). The type length counts only for fixed-length
/// byte arrays, because writers differ in what they store for other types.
fn same_parquet_values(from: &ColumnDescriptor, to: &ColumnDescriptor) -> bool {
    let same_annotation = match (value_logical_type(from), value_logical_type(to)) {
        (Some(from_type), Some(to_type)) => from_type == to_type,
        _ => false,
    };
    same_annotation
        && from.physical_type() == to.physical_type()
        && (from.physical_type() != PhysicalType::FIXED_LEN_BYTE_ARRAY || from.type_length() == to.type_length())
        && from.max_def_level() == to.max_def_level()
        && from.max_rep_level() == to.max_rep_level()
}

/// Returns the logical type of a leaf without what only labels its values,
/// or `None` for an annotation this check does not know.
///
/// Writers annotate alike values differently: DuckDB 1.5 writes only the
/// legacy converted type `UTF8` for text and a signed integer annotation of
/// the physical width, which the Arrow writer leaves out. A timestamp's
/// `isAdjustedToUTC` flag is dropped as well.
fn value_logical_type(leaf: &ColumnDescriptor) -> Option<Option<LogicalType>> {
    let logical = match leaf.logical_type_ref() {
        Some(logical) => Some(logical.clone()),
        None => match leaf.converted_type() {
            ConvertedType::NONE => None,
            converted => Some(logical_type_of(converted)?),
        },
    };

    let physical_bits = match leaf.physical_type() {
        PhysicalType::INT32 => 32,
        PhysicalType::INT64 => 64,
        _ => 0,
    };
    Some(match logical {
        Some(LogicalType::Integer { bit_width, is_signed: true }) if i32::from(bit_width) == physical_bits => None,
        Some(LogicalType::Timestamp { unit, .. }) => Some(LogicalType::Timestamp {
            is_adjusted_to_u_t_c: true,
            unit,
        }),
        other => other,
    })
}

/// Returns the logical type of a legacy converted type, for the types that
/// flat Arrow columns use; `None` for the others.
fn logical_type_of(converted: ConvertedType) -> Option<LogicalType> {
    let integer = |bit_width, is_signed| Some(LogicalType::Integer { bit_width, is_signed });
    let timestamp = |unit| Some(LogicalType::Timestamp { is_adjusted_to_u_t_c: true, unit });
    match converted {
        ConvertedType::UTF8 => Some(LogicalType::String),
        ConvertedType::DATE => Some(LogicalType::Date),
        ConvertedType::TIMESTAMP_MILLIS => timestamp(TimeUnit::MILLIS),
        ConvertedType::TIMESTAMP_MICROS => timestamp(TimeUnit::MICROS),
        ConvertedType::INT_8 => integer(8, true),
        ConvertedType::INT_16 => integer(16, true),
        ConvertedType::INT_32 => integer(32, true),
        ConvertedType::INT_64 => integer(64, true),
        ConvertedType::UINT_8 => integer(8, false),
        ConvertedType::UINT_16 => integer(16, false),
        ConvertedType::UINT_32 => integer(32, false),
        ConvertedType::UINT_64 => integer(64, false),
        _ => None,
    }
}

/// Hard-links `source` as the job file, so the job costs no copy; copies it
/// where the filesystem has no hard links. The extracted package keeps its
/// own link until the normalized package is committed. A copy is synced
/// with the other job files when the normalizer finishes.
fn link_or_copy(source: &Path, job_path: &Path) -> crate::Result<()> {
    if fs::hard_link(source, job_path).is_ok() {
        return Ok(());
    }
    fs::copy(source, job_path).map_err(|e| Error::io("copy", source, e))?;
    Ok(())
}

/// Writes `source` to `job_path` with a footer for `target`, copying every
/// column chunk without decoding it. `metadata` is the footer of `source`,
/// whose leaves [`same_parquet_values`] matched to `target`.
fn write_with_footer(
    source: &Path,
    metadata: &ParquetMetaData,
    target: &SchemaRef,
    job_path: &Path,
) -> crate::Result<()> {
    let parquet_error = |e: parquet::errors::ParquetError| Error::Arrow {
        action: "copying Parquet column chunks",
        path: job_path.to_path_buf(),
        message: e.to_string(),
    };
    let leaves = ArrowSchemaConverter::new().convert(target).map_err(parquet_error)?;
    let mut properties = WriterProperties::builder().build();
    add_encoded_arrow_schema_to_metadata(target, &mut properties);

    let input = File::open(source).map_err(|e| Error::io("open", source, e))?;
    let output = File::create(job_path).map_err(|e| Error::io("create job file", job_path, e))?;
    let mut writer = SerializedFileWriter::new(BufWriter::new(output), leaves.root_schema_ptr(), Arc::new(properties))
        .map_err(parquet_error)?;

    for row_group in metadata.row_groups() {
        let mut row_group_writer = writer.next_row_group().map_err(parquet_error)?;
        for (index, chunk) in row_group.columns().iter().enumerate() {
            let close = ColumnCloseResult {
                bytes_written: chunk.compressed_size() as u64,
                rows_written: row_group.num_rows() as u64,
                metadata: relabel_chunk(chunk, Arc::clone(&leaves.columns()[index])).map_err(parquet_error)?,
                bloom_filter: None,
                column_index: None,
                offset_index: None,
            };
            row_group_writer.append_column(&input, close).map_err(parquet_error)?;
        }
        row_group_writer.close().map_err(parquet_error)?;
    }
    // Synced with the other job files when the normalizer finishes.
    writer.close().map_err(parquet_error)?;
    Ok(())
}

/// Returns the metadata of `chunk` under the leaf `leaf`, with the fields
/// that [`parquet::file::writer::SerializedRowGroupWriter::append_column`]
/// reads. Page and bloom filter indexes are not carried over.
fn relabel_chunk(
    chunk: &ColumnChunkMetaData,
    leaf: Arc<ColumnDescriptor>,
) -> parquet::errors::Result<ColumnChunkMetaData> {
    let mut builder = ColumnChunkMetaData::builder(leaf)
        .set_compression(chunk.compression())
        .set_encodings_mask(*chunk.encodings_mask())
        .set_total_compressed_size(chunk.compressed_size())
        .set_total_uncompressed_size(chunk.uncompressed_size())
        .set_num_values(chunk.num_values())
        .set_data_page_offset(chunk.data_page_offset())
        .set_dictionary_page_offset(chunk.dictionary_page_offset())
        .set_unencoded_byte_array_data_bytes(chunk.unencoded_byte_array_data_bytes())
        .set_repetition_level_histogram(chunk.repetition_level_histogram().cloned())
        .set_definition_level_histogram(chunk.definition_level_histogram().cloned());
    if let Some(statistics) = chunk.statistics() {
        builder = builder.set_statistics(statistics.clone());
    }
    if let Some(page_encoding_stats) = chunk.page_encoding_stats() {
        builder = builder.set_page_encoding_stats(page_encoding_stats.clone());
    }
    builder.build()
}
