//! Parquet job files of one table: batching, writing and rotation.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::JobFile;
use super::buffer::{TableBuffer, complete_column_count};
use super::infer::Cell;
use crate::Error;
use crate::schema::Table;

/// Maximum rows per Parquet row group. DuckDB loads large row groups
/// faster: its `INSERT ... SELECT * FROM read_parquet` of the 3M-row flights
/// file took about half the CPU time with row groups of 512k rows or more
/// than with 128k (DuckDB 1.5.6 and 2.0.1, measured on a 2-vCPU machine).
const MAX_ROW_GROUP_ROWS: usize = 1024 * 1024;

/// Maximum estimated encoded bytes per row group. The writer keeps one row
/// group in memory, so this bounds memory per open file whatever the rows' width.
const MAX_ROW_GROUP_BYTES: usize = 32 * 1024 * 1024;

/// Limits that decide when batches are flushed and files rotated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutputLimits {
    pub batch_rows: usize,
    pub file_max_rows: Option<u64>,
}

/// An open Parquet file.
struct OpenFile {
    path: PathBuf,
    file_name: String,
    writer: ArrowWriter<BufWriter<File>>,
    rows: u64,
}

/// The row buffer and job files of one table.
pub(crate) struct TableOutput {
    table_name: String,
    jobs_dir: PathBuf,
    limits: OutputLimits,
    buffer: Option<TableBuffer>,
    file: Option<OpenFile>,
    finished: Vec<JobFile>,
    pub(crate) rows: u64,
}

impl TableOutput {
    pub(crate) fn new(table_name: &str, jobs_dir: &Path, limits: OutputLimits) -> Self {
        TableOutput {
            table_name: table_name.to_owned(),
            jobs_dir: jobs_dir.to_owned(),
            limits,
            buffer: None,
            file: None,
            finished: Vec::new(),
            rows: 0,
        }
    }

    /// Returns a buffer whose columns match `table`, rotating the file when
    /// the table gained columns since the buffer was built.
    pub(crate) fn buffer_for(&mut self, table: &Table) -> crate::Result<&mut TableBuffer> {
        let up_to_date = self
            .buffer
            .as_ref()
            .is_some_and(|buffer| buffer.column_count() == complete_column_count(table));
        if !up_to_date {
            // Before the first flush no file fixes the schema yet, so the
            // buffer grows in place; after it, the file is finished and a
            // new one starts with the wider schema.
            let extended = self.file.is_none()
                && self
                    .buffer
                    .as_mut()
                    .is_some_and(|buffer| buffer.extend_columns(table));
            if !extended {
                self.flush()?;
                self.close_file()?;
                self.buffer = Some(TableBuffer::new(table));
            }
        }
        self.buffer
            .as_mut()
            .ok_or_else(|| Error::Internal(format!("no row buffer for table `{}`", self.table_name)))
    }

    /// Appends one row of (column position, value) cells; positions come from
    /// [`TableBuffer::position`] of the buffer returned by [`Self::buffer_for`].
    pub(crate) fn append_row(&mut self, cells: &mut Vec<(usize, Cell<'_>)>) -> crate::Result<()> {
        let buffered = match self.buffer.as_mut() {
            Some(buffer) => {
                buffer.append_row(cells)?;
                buffer.rows()
            }
            None => return Err(Error::Internal(format!("no row buffer for table `{}`", self.table_name))),
        };
        self.rows += 1;

        let file_rows = self.file.as_ref().map_or(0, |file| file.rows);
        let file_full = self
            .limits
            .file_max_rows
            .is_some_and(|max| file_rows + buffered as u64 >= max);
        if buffered >= self.limits.batch_rows || file_full {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes a record batch whose schema is the current buffer schema, after
    /// any buffered rows, splitting it at the file row limit.
    pub(crate) fn write_batch(&mut self, batch: &RecordBatch) -> crate::Result<()> {
        self.flush()?;

        let mut offset = 0;
        while offset < batch.num_rows() {
            let file_rows = self.file.as_ref().map_or(0, |file| file.rows);
            let room = match self.limits.file_max_rows {
                Some(max) => (max.saturating_sub(file_rows).max(1)) as usize,
                None => batch.num_rows(),
            };
            let length = room.min(batch.num_rows() - offset);
            self.write_to_file(&batch.slice(offset, length))?;
            offset += length;
        }

        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Writes the buffered rows to the open file, opening one if needed.
    pub(crate) fn flush(&mut self) -> crate::Result<()> {
        let Some(buffer) = self.buffer.as_mut() else {
            return Ok(());
        };
        if buffer.rows() == 0 {
            return Ok(());
        }

        let batch = buffer.take_batch()?;
        self.write_to_file(&batch)
    }

    fn write_to_file(&mut self, batch: &RecordBatch) -> crate::Result<()> {
        if self.file.is_none() {
            self.file = Some(self.open_file(batch.schema())?);
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };

        file.writer.write(batch).map_err(|source| Error::Arrow {
            action: "writing a record batch",
            path: file.path.clone(),
            message: source.to_string(),
        })?;
        file.rows += batch.num_rows() as u64;

        let full = self.limits.file_max_rows.is_some_and(|max| file.rows >= max);
        if full {
            self.close_file()?;
        }
        Ok(())
    }

    fn open_file(&self, schema: SchemaRef) -> crate::Result<OpenFile> {
        let file_name = format!("{}.{}.0.parquet", self.table_name, crate::load_id::new_file_id());
        let path = self.jobs_dir.join(&file_name);
        let file = File::create(&path).map_err(|source| Error::io("create job file", &path, source))?;

        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(MAX_ROW_GROUP_ROWS))
            .set_max_row_group_bytes(Some(MAX_ROW_GROUP_BYTES))
            .build();
        let writer = ArrowWriter::try_new(BufWriter::new(file), schema, Some(properties)).map_err(|source| {
            Error::Arrow {
                action: "opening a Parquet writer",
                path: path.clone(),
                message: source.to_string(),
            }
        })?;

        tracing::debug!(table = %self.table_name, file = %file_name, "opened Parquet job file");
        Ok(OpenFile {
            path,
            file_name,
            writer,
            rows: 0,
        })
    }

    /// Finishes the open file, if any, and records it as a job.
    pub(crate) fn close_file(&mut self) -> crate::Result<()> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };

        file.writer.close().map_err(|source| Error::Arrow {
            action: "closing a Parquet file",
            path: file.path.clone(),
            message: source.to_string(),
        })?;

        tracing::debug!(table = %self.table_name, file = %file.file_name, rows = file.rows, "closed Parquet job file");
        self.finished.push(JobFile {
            table_name: self.table_name.clone(),
            path: file.path,
            file_name: file.file_name,
            row_count: file.rows,
        });
        Ok(())
    }

    /// Adds a Parquet file of `rows` rows as a job without decoding it:
    /// `write` creates the file at the path it gets. Buffered rows and the
    /// open file are finished first, so the jobs keep the order of the input.
    pub(crate) fn add_file(&mut self, rows: u64, write: impl FnOnce(&Path) -> crate::Result<()>) -> crate::Result<()> {
        self.flush()?;
        self.close_file()?;

        let file_name = format!("{}.{}.0.parquet", self.table_name, crate::load_id::new_file_id());
        let path = self.jobs_dir.join(&file_name);
        write(&path)?;

        tracing::debug!(table = %self.table_name, file = %file_name, rows, "added Parquet job file without decoding");
        self.finished.push(JobFile {
            table_name: self.table_name.clone(),
            path,
            file_name,
            row_count: rows,
        });
        self.rows += rows;
        Ok(())
    }

    /// Flushes and closes everything and returns the job files written.
    pub(crate) fn finish(mut self) -> crate::Result<Vec<JobFile>> {
        self.flush()?;
        self.close_file()?;
        Ok(self.finished)
    }
}
