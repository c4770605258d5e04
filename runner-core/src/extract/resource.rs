use std::fmt;
use std::path::Path;
use std::str::FromStr;

use arrow::record_batch::RecordBatch;
use serde_json::{Map, Value};

use crate::schema::SchemaContract;
use crate::{Error, Result};

/// The rule by which rows of a load are written into their table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WriteDisposition {
    /// Add the rows to the table.
    #[default]
    Append,
    /// Replace the whole table (and its nested tables) with the rows of this load.
    Replace,
    /// Replace rows with the same primary key, add the others.
    Merge,
}

impl WriteDisposition {
    /// All write dispositions, in the order messages list them.
    pub const ALL: [WriteDisposition; 3] = [WriteDisposition::Append, WriteDisposition::Replace, WriteDisposition::Merge];

    /// Returns the name used in `dlt.yml` and in schemas.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteDisposition::Append => "append",
            WriteDisposition::Replace => "replace",
            WriteDisposition::Merge => "merge",
        }
    }
}

impl fmt::Display for WriteDisposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WriteDisposition {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "append" => Ok(WriteDisposition::Append),
            "replace" => Ok(WriteDisposition::Replace),
            "merge" => Ok(WriteDisposition::Merge),
            other => Err(Error::config(format!(
                "invalid write disposition `{other}`; use `append`, `replace` or `merge`"
            ))),
        }
    }
}

/// Strategy by which `merge` replaces stored rows, kept in the schema as the
/// table hint `x-merge-strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MergeStrategy {
    /// Delete stored rows whose primary key or merge key occurs in the load,
    /// with their nested rows, then insert the loaded rows. dlt's default.
    #[default]
    DeleteInsert,
    /// Update stored rows with the same primary key and insert the others.
    /// The root `_dlt_id` is a hash of the primary key, so it stays stable.
    Upsert,
}

impl MergeStrategy {
    /// All merge strategies, in the order messages list them.
    pub const ALL: [MergeStrategy; 2] = [MergeStrategy::DeleteInsert, MergeStrategy::Upsert];

    /// Returns the name used in `dlt.yml` and in schemas.
    pub fn as_str(self) -> &'static str {
        match self {
            MergeStrategy::DeleteInsert => "delete-insert",
            MergeStrategy::Upsert => "upsert",
        }
    }
}

impl fmt::Display for MergeStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The receiver of a resource's items during extraction.
pub(crate) trait ItemSink {
    fn push_row(&mut self, row: Value) -> Result<()>;
    fn push_batch(&mut self, batch: RecordBatch) -> Result<()>;

    /// True when the sink stores rows as JSON text without looking at them,
    /// so a reader may hand over validated JSON text instead of a tree.
    fn takes_json_text(&self) -> bool {
        false
    }

    /// Adds one row given as the text of one valid JSON value. Only called
    /// when [`ItemSink::takes_json_text`] is true.
    fn push_json_text(&mut self, text: &[u8]) -> Result<()> {
        let row = serde_json::from_slice(text).map_err(|e| Error::Internal(format!("validated JSON did not parse: {e}")))?;
        self.push_row(row)
    }

    /// True when the sink stores record batches without looking at them, so
    /// a reader may hand over a whole Parquet file instead of its batches.
    fn takes_parquet_files(&self) -> bool {
        false
    }

    /// Adds the `rows` rows of the Parquet file at `path`, whose footer the
    /// caller read. Only called when [`ItemSink::takes_parquet_files`] is true.
    fn push_parquet_file(&mut self, path: &Path, _rows: u64) -> Result<()> {
        Err(Error::Internal(format!(
            "this item sink cannot take the Parquet file `{}` as a whole",
            path.display()
        )))
    }
}

/// What a producing resource writes to: its items and its state.
pub struct ResourceOutput<'a> {
    pub(crate) sink: &'a mut dyn ItemSink,
    pub(crate) state: &'a mut Map<String, Value>,
}

impl ResourceOutput<'_> {
    /// Adds one row. Objects become rows; other values are wrapped as `{"value": v}`.
    pub fn push_row(&mut self, row: Value) -> Result<()> {
        self.sink.push_row(row)
    }

    /// True when rows may be handed over as JSON text through
    /// [`ResourceOutput::push_json_text`]: no incremental cursor or other
    /// filter needs their values.
    pub(crate) fn takes_json_text(&self) -> bool {
        self.sink.takes_json_text()
    }

    /// Adds one row as the text of a JSON value that the caller validated.
    /// Skipping the tree makes extraction of JSON input about a copy.
    pub(crate) fn push_json_text(&mut self, text: &[u8]) -> Result<()> {
        self.sink.push_json_text(text)
    }

    /// True when a Parquet input file may be handed over whole through
    /// [`ResourceOutput::push_parquet_file`]: no cursor or other filter needs
    /// its batches.
    pub(crate) fn takes_parquet_files(&self) -> bool {
        self.sink.takes_parquet_files()
    }

    /// Adds a Parquet file of `rows` rows without decoding it.
    pub(crate) fn push_parquet_file(&mut self, path: &Path, rows: u64) -> Result<()> {
        self.sink.push_parquet_file(path, rows)
    }

    /// Adds one Arrow record batch.
    pub fn push_batch(&mut self, batch: RecordBatch) -> Result<()> {
        self.sink.push_batch(batch)
    }

    /// The resource's state, kept in the pipeline state under
    /// `sources.<source>.resources.<resource>` and committed with the load.
    pub fn state(&self) -> &Map<String, Value> {
        self.state
    }

    pub fn state_mut(&mut self) -> &mut Map<String, Value> {
        self.state
    }
}

/// Produces the items of one resource.
pub trait ItemProducer: Send {
    fn produce(&mut self, output: &mut ResourceOutput<'_>) -> Result<()>;
}

struct RowIterator<I>(Option<I>);

impl<I> ItemProducer for RowIterator<I>
where
    I: Iterator<Item = Value> + Send,
{
    fn produce(&mut self, output: &mut ResourceOutput<'_>) -> Result<()> {
        // An iterator can be consumed once; a second extraction of the same
        // resource object produces nothing.
        let Some(rows) = self.0.take() else { return Ok(()) };
        for row in rows {
            output.push_row(row)?;
        }
        Ok(())
    }
}

struct BatchIterator<I>(Option<I>);

impl<I> ItemProducer for BatchIterator<I>
where
    I: Iterator<Item = RecordBatch> + Send,
{
    fn produce(&mut self, output: &mut ResourceOutput<'_>) -> Result<()> {
        let Some(batches) = self.0.take() else { return Ok(()) };
        for batch in batches {
            output.push_batch(batch)?;
        }
        Ok(())
    }
}

/// One stream of items that becomes one root table (plus nested tables).
pub struct Resource {
    pub name: String,
    /// Root table name before normalization; the resource name by default.
    pub table_name: String,
    pub write_disposition: WriteDisposition,
    /// Primary key columns, as written in the data (normalized at extract).
    pub primary_key: Vec<String>,
    /// Merge key columns: with `merge`, stored rows whose merge key occurs in
    /// the load are deleted before the load's rows are inserted.
    pub merge_key: Vec<String>,
    /// Strategy of `merge`; `None` is dlt's default, delete-insert.
    pub merge_strategy: Option<MergeStrategy>,
    /// Nesting levels turned into nested tables before values stay JSON.
    pub max_table_nesting: Option<u32>,
    /// Extract only rows whose cursor moved past the value kept in the state.
    pub incremental: Option<super::Incremental>,
    /// Which schema changes loads of this resource may make; stored on the
    /// root table as the `schema_contract` hint. `None` leaves the table's
    /// stored contract as it is (dlt's default is `evolve`).
    pub schema_contract: Option<SchemaContract>,
    /// Rows read from the producer at most; `None` reads everything. dlt's
    /// `add_limit` counts the items a resource yields, which are pages for
    /// some resources. This limit always counts rows, and a record batch is
    /// cut at the limit.
    pub max_items: Option<u64>,
    pub(crate) producer: Box<dyn ItemProducer>,
}

impl Resource {
    /// Creates a resource from any producer.
    pub fn from_producer(name: impl Into<String>, producer: Box<dyn ItemProducer>) -> Self {
        let name = name.into();
        Resource {
            table_name: name.clone(),
            name,
            write_disposition: WriteDisposition::Append,
            primary_key: Vec::new(),
            merge_key: Vec::new(),
            merge_strategy: None,
            max_table_nesting: None,
            incremental: None,
            schema_contract: None,
            max_items: None,
            producer,
        }
    }

    /// Creates a resource from an iterator of JSON rows.
    pub fn from_rows<I>(name: impl Into<String>, rows: I) -> Self
    where
        I: IntoIterator<Item = Value>,
        I::IntoIter: Send + 'static,
    {
        Self::from_producer(name, Box::new(RowIterator(Some(rows.into_iter()))))
    }

    /// Creates a resource from an iterator of Arrow record batches.
    pub fn from_batches<I>(name: impl Into<String>, batches: I) -> Self
    where
        I: IntoIterator<Item = RecordBatch>,
        I::IntoIter: Send + 'static,
    {
        Self::from_producer(name, Box::new(BatchIterator(Some(batches.into_iter()))))
    }

    pub fn with_table_name(mut self, table_name: impl Into<String>) -> Self {
        self.table_name = table_name.into();
        self
    }

    pub fn with_write_disposition(mut self, write_disposition: WriteDisposition) -> Self {
        self.write_disposition = write_disposition;
        self
    }

    pub fn with_primary_key<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.primary_key = columns.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the merge key columns used by write disposition `merge`.
    pub fn with_merge_key<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.merge_key = columns.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the strategy of write disposition `merge`.
    pub fn with_merge_strategy(mut self, strategy: MergeStrategy) -> Self {
        self.merge_strategy = Some(strategy);
        self
    }

    /// Loads only new rows: those whose `cursor_path` value is past the
    /// last value kept in the pipeline state (or `initial_value` at first).
    pub fn with_incremental(mut self, cursor_path: impl Into<String>, initial_value: Option<Value>) -> Self {
        self.incremental = Some(super::Incremental {
            cursor_path: cursor_path.into(),
            initial_value,
        });
        self
    }

    /// Sets the schema contract of the resource's root table and its nested
    /// tables.
    pub fn with_schema_contract(mut self, contract: SchemaContract) -> Self {
        self.schema_contract = Some(contract);
        self
    }

    /// Reads at most `rows` rows from the producer (see [`Resource::max_items`]).
    pub fn with_max_items(mut self, rows: u64) -> Self {
        self.max_items = Some(rows);
        self
    }

    pub fn with_max_table_nesting(mut self, levels: u32) -> Self {
        self.max_table_nesting = Some(levels);
        self
    }
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("name", &self.name)
            .field("table_name", &self.table_name)
            .field("write_disposition", &self.write_disposition)
            .field("primary_key", &self.primary_key)
            .field("merge_key", &self.merge_key)
            .field("merge_strategy", &self.merge_strategy)
            .field("schema_contract", &self.schema_contract)
            .finish_non_exhaustive()
    }
}

/// A named group of resources. Its name is the dlt schema name and the key
/// of its state under `sources`.
#[derive(Debug)]
pub struct Source {
    pub name: String,
    pub resources: Vec<Resource>,
}

impl Source {
    pub fn new(name: impl Into<String>, resources: Vec<Resource>) -> Self {
        Source {
            name: name.into(),
            resources,
        }
    }

    /// Creates a source holding one resource, named after the resource.
    pub fn single(resource: Resource) -> Self {
        Source {
            name: resource.name.clone(),
            resources: vec![resource],
        }
    }

    /// Keeps only the resources named in `names`, as dlt's
    /// `with_resources`. A name that no resource has is a configuration
    /// error that lists the resource names.
    pub fn with_resources(mut self, names: &[String]) -> Result<Self> {
        if let Some(unknown) = names.iter().find(|name| !self.resources.iter().any(|resource| &resource.name == *name)) {
            let available: Vec<&str> = self.resources.iter().map(|resource| resource.name.as_str()).collect();
            return Err(Error::config(format!(
                "source `{}` has no resource `{unknown}`; its resources are: {}",
                self.name,
                available.join(", ")
            )));
        }
        self.resources.retain(|resource| names.contains(&resource.name));
        Ok(self)
    }

    /// Reads at most `rows` rows from each resource, as dlt's `add_limit`.
    pub fn with_max_items(mut self, rows: u64) -> Self {
        for resource in &mut self.resources {
            resource.max_items = Some(rows);
        }
        self
    }
}

/// Passes at most `remaining` rows on to `inner`, then stops the producer
/// with an error that extract takes as the end of the resource, because a
/// producer has no other way to learn that it may stop.
pub(crate) struct LimitSink<'a> {
    pub(crate) inner: &'a mut dyn ItemSink,
    pub(crate) remaining: u64,
    /// True once the sink stopped the producer.
    pub(crate) reached: bool,
}

impl LimitSink<'_> {
    fn take_row(&mut self) -> Result<()> {
        if self.remaining == 0 {
            self.reached = true;
            return Err(Error::Internal("the resource reached its row limit".to_owned()));
        }
        self.remaining -= 1;
        Ok(())
    }
}

impl ItemSink for LimitSink<'_> {
    fn push_row(&mut self, row: Value) -> Result<()> {
        self.take_row()?;
        self.inner.push_row(row)
    }

    fn push_batch(&mut self, batch: RecordBatch) -> Result<()> {
        if self.remaining == 0 {
            return self.take_row();
        }
        let rows = (batch.num_rows() as u64).min(self.remaining);
        self.remaining -= rows;
        self.inner.push_batch(batch.slice(0, rows as usize))
    }

    fn takes_json_text(&self) -> bool {
        self.inner.takes_json_text()
    }

    fn push_json_text(&mut self, text: &[u8]) -> Result<()> {
        self.take_row()?;
        self.inner.push_json_text(text)
    }
}
