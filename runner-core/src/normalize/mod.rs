//! The normalize step: rows into relational tables and Parquet files.
//!
//! [`Normalizer`] reproduces dlt 1.31's relational normalizer and type
//! inference (tables, columns, types, variant columns and row ids), but
//! writes columnar Parquet job files per table and keeps at most
//! `batch_rows` rows per table plus one Parquet row group in memory.

mod arrow_input;
mod arrow_text;
mod buffer;
mod contract;
mod infer;
pub(crate) mod json;
mod names;
mod parquet_input;
mod parquet_schema;
mod relational;
mod rows;
mod writer;

#[cfg(test)]
mod contract_tests;
#[cfg(test)]
mod parquet_input_tests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;

use indexmap::IndexMap;

use crate::schema::{NameMap, Schema, SchemaContract, Table};
use crate::storage::JobFolder;
pub(crate) use arrow_input::column_name_collision;
pub(crate) use parquet_schema::reader_metadata;
pub use json::{JsonValue, ParsedLines};
use contract::DiscardCounts;
use writer::{Encoder, OutputLimits, TableOutput};

/// Rows buffered per table before a record batch is written, by default.
pub const DEFAULT_BATCH_ROWS: usize = 16_384;

/// Settings of one normalize run over one load package.
#[derive(Debug, Clone)]
pub struct NormalizeOptions {
    /// Load id stored in `_dlt_load_id` of root rows.
    pub load_id: String,
    /// The package's `new_jobs` folder, where job files are written.
    pub jobs_dir: PathBuf,
    /// Rows buffered per table before a record batch is flushed.
    pub batch_rows: usize,
    /// Nesting budget for tables without an `x-normalizer.max_nesting` hint;
    /// `None` means dlt's default of 1000.
    pub max_nesting: Option<u32>,
    /// Rows per job file before the writer rotates to a new file.
    pub file_max_rows: Option<u64>,
    /// Encoded bytes per job file from which the writer rotates to a new
    /// file. The limit counts the encoded rows, not the file's footer, which
    /// for a table of hundreds of columns can be larger than the rows. With
    /// this limit, Parquet files are encoded on the calling thread.
    pub file_max_bytes: Option<u64>,
    /// Threads the normalizer may use. From 2 on, Parquet files are encoded
    /// and written on a thread of their own; 0 and 1 keep all work on the
    /// calling thread.
    pub threads: usize,
}

/// One Parquet job file written by the normalizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFile {
    pub table_name: String,
    pub path: PathBuf,
    /// `<table>.<file_id>.0.parquet`
    pub file_name: String,
    pub row_count: u64,
}

/// The jobs and schema updates a normalize run produced.
#[derive(Debug, Clone)]
pub struct NormalizeOutput {
    pub jobs: Vec<JobFile>,
    pub rows_per_table: IndexMap<String, u64>,
    /// Per table, the table with only the columns this run added (all
    /// columns for new tables), as dlt writes `schema_updates.json`.
    pub schema_updates: IndexMap<String, Table>,
}

/// Per-root-table settings resolved once from the schema.
#[derive(Debug, Clone)]
pub(crate) struct RootContext {
    /// Nesting budget; at 0 objects and lists stay inline as `json`.
    pub max_nesting: i64,
    /// Root columns copied into every nested row, as (from, to) names.
    pub propagation: Vec<(String, names::Name)>,
    /// Primary key columns whose values hash into the root `_dlt_id`, for
    /// the upsert, insert-only and cdc merge strategies.
    pub key_hash_columns: Option<Vec<String>>,
    /// The root table's schema contract, which its nested tables follow.
    pub contract: SchemaContract,
    /// True when the root table had no typed column before this package.
    /// Its columns may then evolve in this package under any `columns`
    /// mode, as dlt's `evolve-columns-once` hint allows.
    pub root_is_new: bool,
}

/// Normalizes rows and Arrow batches of one load package into Parquet job
/// files, evolving `schema` as dlt does.
pub struct Normalizer<'a> {
    schema: &'a mut Schema,
    options: NormalizeOptions,
    outputs: NameMap<TableOutput>,
    /// Per table (by index in the schema), the index of its output in
    /// `outputs`, so that rows find it without hashing the table name.
    output_indices: Vec<Option<usize>>,
    /// The Parquet encoder thread, when `options.threads` allows one.
    encoder: Option<Encoder>,
    /// The folder of the job files, which [`Self::finish`] syncs together.
    job_folder: JobFolder,
    /// Names of the columns added per table, in the order they were added.
    added_columns: IndexMap<String, Vec<String>>,
    /// Normalized names of raw keys; keys repeat across rows.
    names: names::NameCache,
    /// Per table (by index in the schema), the column index found for each
    /// field position of the last row; see `column_index`.
    column_memos: Vec<Vec<(names::Name, usize)>>,
    roots: foldhash::HashMap<String, RootContext>,
    /// Rows and values dropped by `discard_*` schema contracts, per table.
    discarded: IndexMap<String, DiscardCounts>,
    /// Per root table of Arrow batches, its contract and whether it was new
    /// before this package.
    batch_contracts: HashMap<String, (SchemaContract, bool)>,
}

impl<'a> Normalizer<'a> {
    /// Creates a normalizer that writes into `options.jobs_dir`. Fails only
    /// when `options.threads` requests an encoder thread that cannot start.
    pub fn new(schema: &'a mut Schema, mut options: NormalizeOptions) -> crate::Result<Self> {
        if options.batch_rows == 0 {
            options.batch_rows = DEFAULT_BATCH_ROWS;
        }
        // The byte limit reads each file's size after every batch, and only
        // the thread that encodes the batch has that size without waiting.
        let encode_aside = options.threads > 1 && options.file_max_bytes.is_none();
        let encoder = if encode_aside { Some(Encoder::start()?) } else { None };
        let job_folder = JobFolder::open(&options.jobs_dir);
        Ok(Normalizer {
            schema,
            options,
            outputs: NameMap::default(),
            output_indices: Vec::new(),
            encoder,
            job_folder,
            added_columns: IndexMap::new(),
            names: names::NameCache::new(),
            column_memos: Vec::new(),
            roots: foldhash::HashMap::default(),
            discarded: IndexMap::new(),
            batch_contracts: HashMap::new(),
        })
    }

    /// Normalizes one extracted item of `root_table`, which must already exist
    /// in the schema with its normalized name.
    pub fn push_row(&mut self, root_table: &str, row: serde_json::Value) -> crate::Result<()> {
        self.normalize_item(root_table, &JsonValue::borrow(&row))
    }

    /// Normalizes one parsed JSON item of `root_table`, like [`Self::push_row`].
    pub fn push_json(&mut self, root_table: &str, row: &JsonValue<'_>) -> crate::Result<()> {
        self.normalize_item(root_table, row)
    }

    /// Normalizes an Arrow record batch of `root_table` without converting it
    /// to rows.
    pub fn push_batch(&mut self, root_table: &str, batch: &arrow::record_batch::RecordBatch) -> crate::Result<()> {
        self.normalize_batch(root_table, batch)
    }

    /// Flushes all buffers, closes all files, waits until they are on disk
    /// and returns what was written.
    pub fn finish(mut self) -> crate::Result<NormalizeOutput> {
        self.log_discarded();

        // The table with the most rows closes its file on this thread while
        // the encoder thread closes the others, instead of all one after
        // the other there.
        let largest = self.outputs.values().enumerate().max_by_key(|(_, output)| output.rows).map(|(index, _)| index);
        let returned = match largest {
            Some(index) => self.outputs[index].take_back_writer()?.map(|writer| (index, writer)),
            None => None,
        };

        let mut jobs_per_table = Vec::with_capacity(self.outputs.len());
        let mut rows_per_table = IndexMap::new();
        let mut kept_open = None;
        for (index, (table_name, output)) in self.outputs.into_iter().enumerate() {
            rows_per_table.insert(table_name, output.rows);
            if returned.as_ref().is_some_and(|(at, _)| *at == index) {
                kept_open = Some(output);
                jobs_per_table.push(Vec::new());
            } else {
                jobs_per_table.push(output.finish()?);
            }
        }
        if let (Some(output), Some((index, writer))) = (kept_open, returned) {
            jobs_per_table[index] = output.finish_returned(writer)?;
        }
        if let Some(encoder) = self.encoder {
            encoder.finish()?;
        }
        let jobs: Vec<JobFile> = jobs_per_table.into_iter().flatten().collect();
        self.job_folder.sync_files(jobs.iter().map(|job| job.path.as_path()))?;

        // The columns this package added go to the end of their tables, in
        // the order the data added them. A column that a resource hint created
        // before any value arrived (a primary key or an incremental cursor)
        // thus takes its place among the data's columns, as dlt moves such a
        // column when it gets its type. The job files are written already,
        // and destinations match their columns by name.
        let mut schema_updates = IndexMap::new();
        for (table_name, added) in &self.added_columns {
            let Some(table) = self.schema.tables.get_mut(table_name) else {
                continue;
            };
            for name in added {
                if let Some(column) = table.columns.shift_remove(name) {
                    table.columns.insert(name.clone(), column);
                }
            }
            let mut partial = table.clone();
            partial.columns.retain(|name, _| added.contains(name));
            schema_updates.insert(table_name.clone(), partial);
        }

        Ok(NormalizeOutput {
            jobs,
            rows_per_table,
            schema_updates,
        })
    }

    fn limits(&self) -> OutputLimits {
        OutputLimits {
            batch_rows: self.options.batch_rows,
            file_max_rows: self.options.file_max_rows.filter(|max| *max > 0),
            file_max_bytes: self.options.file_max_bytes.filter(|max| *max > 0),
        }
    }

    /// Returns the output of `table_name`, creating it and marking the table
    /// as having seen data on first use.
    fn output_for(&mut self, table_name: &str) -> &mut TableOutput {
        let index = self.output_index_by_name(table_name);
        &mut self.outputs[index]
    }

    /// Returns the index in `outputs` of `table_name`, creating the output
    /// and marking the table as having seen data on first use.
    fn output_index_by_name(&mut self, table_name: &str) -> usize {
        if let Some(index) = self.outputs.get_index_of(table_name) {
            return index;
        }

        if let Some(table) = self.schema.tables.get_mut(table_name) {
            table.mark_seen_data();
        }
        let encoder = self.encoder.as_ref().map(Encoder::handle);
        let output = TableOutput::new(table_name, &self.options.jobs_dir, self.limits(), encoder);
        let (index, _) = self.outputs.insert_full(table_name.to_owned(), output);
        index
    }

    /// Returns [`Self::output_index_by_name`] for table number `table_index`
    /// of the schema, named `table_name`, without hashing the name after the
    /// first call. Tables are only ever added to the schema, so a table's
    /// index never changes during a run.
    fn output_index(&mut self, table_index: usize, table_name: &str) -> usize {
        if let Some(Some(index)) = self.output_indices.get(table_index) {
            return *index;
        }

        let index = self.output_index_by_name(table_name);
        if self.output_indices.len() <= table_index {
            self.output_indices.resize(table_index + 1, None);
        }
        self.output_indices[table_index] = Some(index);
        index
    }

    /// Records a column added to the schema by this run.
    fn record_added_column(&mut self, table_name: &str, column_name: &str) {
        self.added_columns
            .entry(table_name.to_owned())
            .or_default()
            .push(column_name.to_owned());
    }
}
