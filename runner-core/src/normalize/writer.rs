//! Parquet job files of one table: batching, writing and rotation.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use super::JobFile;
use super::buffer::{PendingBatch, TableBuffer};
use super::infer::Cell;
use crate::Error;
use crate::schema::Table;
use crate::storage::WritebackFile;

/// Maximum rows per Parquet row group. The writer keeps one row group in
/// memory, so this bounds memory per open file.
///
/// It equals DuckDB's row group size (122,880 rows in DuckDB 1.5), so that
/// each Parquet row group becomes one full DuckDB row group. With 131,072
/// rows, every file row group left a remainder that DuckDB kept as a small
/// row group. Loading 1M nested events then peaked at 668 MiB instead of
/// 262 MiB, and the next write to the database spent seconds merging those
/// row groups.
const MAX_ROW_GROUP_ROWS: usize = 122_880;

/// Bytes of buffered rows (see [`TableBuffer::bytes`]) from which a table
/// writes a batch before it has `batch_rows` rows. With limits in rows
/// only, normalizing 800 rows of 300 KB text peaked at about 1 GB; with
/// this limit and the next one, at about 310 MiB.
const MAX_BATCH_BYTES: usize = 16 << 20;

/// Encoded bytes of a row group in progress from which a file ends the row
/// group before it has [`MAX_ROW_GROUP_ROWS`] rows, for the same reason. A
/// full row group of the nested events is under 10 MB, so such rows keep
/// DuckDB's row group size.
const MAX_ROW_GROUP_BYTES: usize = 32 << 20;

/// Columns that hold a distinct value in nearly every row.
const UNIQUE_COLUMNS: [&str; 2] = ["_dlt_id", "_dlt_parent_id"];

/// Limits that decide when batches are flushed and files rotated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutputLimits {
    pub batch_rows: usize,
    pub file_max_rows: Option<u64>,
    /// Encoded bytes from which a file ends, checked after each batch. Only
    /// a file written on the normalizer's thread counts its bytes, so a
    /// normalizer with this limit starts no encoder thread.
    pub file_max_bytes: Option<u64>,
}

/// Record batches that may wait for the encoder thread. With the default
/// 16,384-row batches this bounds the memory in flight to a few batches.
const ENCODER_QUEUE: usize = 2;

type FileWriter = ArrowWriter<BufWriter<WritebackFile>>;

/// An open Parquet file.
struct OpenFile {
    path: PathBuf,
    file_name: String,
    /// The writer, or `None` while the encoder thread owns it.
    writer: Option<FileWriter>,
    rows: u64,
    /// Encoded bytes of the rows written so far, counted only while this
    /// thread owns the writer (see [`OutputLimits::file_max_bytes`]).
    bytes: u64,
}

/// Work for the encoder thread, in the order the normalizer produced it.
enum Command {
    Open(PathBuf, FileWriter),
    Write(PathBuf, PendingBatch),
    Close(PathBuf),
    /// Sends the writer back once the writes before this command are done.
    Return(PathBuf, mpsc::SyncSender<FileWriter>),
}

/// A file whose writer the encoder thread sends back; see
/// [`TableOutput::take_back_writer`].
pub(crate) struct ReturnedWriter {
    receiver: mpsc::Receiver<FileWriter>,
    encoder: EncoderHandle,
}

/// Encodes and writes Parquet files on a thread of its own, so that the
/// normalizer's thread only builds record batches. Encoding (dictionaries,
/// page compression, statistics) took about a fifth of that thread's
/// instructions on nested events (callgrind).
pub(crate) struct Encoder {
    sender: mpsc::SyncSender<Command>,
    /// The first error of the encoder thread, taken by the sender that finds it stopped.
    failure: Arc<Mutex<Option<Error>>>,
    thread: JoinHandle<()>,
}

/// A table output's connection to the encoder thread.
#[derive(Clone)]
pub(crate) struct EncoderHandle {
    sender: mpsc::SyncSender<Command>,
    failure: Arc<Mutex<Option<Error>>>,
}

impl Encoder {
    pub(crate) fn start() -> crate::Result<Self> {
        let (sender, commands) = mpsc::sync_channel(ENCODER_QUEUE);
        let failure = Arc::new(Mutex::new(None));
        let thread_failure = Arc::clone(&failure);
        let thread = std::thread::Builder::new()
            .name("parquet-encoder".to_owned())
            .spawn(move || {
                if let Err(error) = crate::panics::catch_panic("the Parquet encoder thread", || encode(commands)) {
                    // Dropping the receiver makes the next send fail, and the
                    // sender then reports this error.
                    *thread_failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(error);
                }
            })
            .map_err(|source| Error::Internal(format!("cannot start the Parquet encoder thread: {source}")))?;
        Ok(Encoder {
            sender,
            failure,
            thread,
        })
    }

    pub(crate) fn handle(&self) -> EncoderHandle {
        EncoderHandle {
            sender: self.sender.clone(),
            failure: Arc::clone(&self.failure),
        }
    }

    /// Waits until every file handed over is written and closed. Table
    /// outputs must be finished first, since they hold senders too.
    pub(crate) fn finish(self) -> crate::Result<()> {
        drop(self.sender);
        self.thread
            .join()
            .map_err(|_| Error::Internal("the Parquet encoder thread panicked".to_owned()))?;
        match take_failure(&self.failure) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

impl EncoderHandle {
    fn send(&self, command: Command) -> crate::Result<()> {
        self.sender.send(command).map_err(|_| self.stopped())
    }

    /// Returns the error that stopped the encoder thread, for a caller that
    /// found its channel closed.
    fn stopped(&self) -> Error {
        take_failure(&self.failure).unwrap_or_else(|| Error::Internal("the Parquet encoder thread stopped".to_owned()))
    }
}

fn take_failure(failure: &Mutex<Option<Error>>) -> Option<Error> {
    failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
}

/// Runs the encoder thread's commands until the senders are gone or one fails.
fn encode(commands: mpsc::Receiver<Command>) -> crate::Result<()> {
    let mut open: HashMap<PathBuf, FileWriter> = HashMap::new();
    for command in commands {
        match command {
            Command::Open(path, writer) => {
                open.insert(path, writer);
            }
            Command::Write(path, batch) => {
                let writer = open
                    .get_mut(&path)
                    .ok_or_else(|| Error::Internal(format!("Parquet file {} is not open", path.display())))?;
                write_batch(writer, &path, &batch.resolve()?)?;
            }
            Command::Close(path) => {
                let writer = open
                    .remove(&path)
                    .ok_or_else(|| Error::Internal(format!("Parquet file {} is not open", path.display())))?;
                close_writer(writer, &path)?;
            }
            Command::Return(path, reply) => {
                let writer = open
                    .remove(&path)
                    .ok_or_else(|| Error::Internal(format!("Parquet file {} is not open", path.display())))?;
                // The receiver is gone only when normalize failed, and its
                // package folder is then discarded with the unfinished file.
                let _ = reply.send(writer);
            }
        }
    }
    Ok(())
}

fn write_batch(writer: &mut FileWriter, path: &Path, batch: &RecordBatch) -> crate::Result<()> {
    writer.write(batch).map_err(|source| Error::Arrow {
        action: "writing a record batch",
        path: path.to_owned(),
        message: source.to_string(),
    })?;

    if writer.in_progress_size() >= MAX_ROW_GROUP_BYTES {
        writer.flush().map_err(|source| Error::Arrow {
            action: "writing a row group",
            path: path.to_owned(),
            message: source.to_string(),
        })?;
    }
    Ok(())
}

/// Returns the bytes of a file's rows once encoded: the row groups written
/// and an estimate of the one in progress.
fn encoded_bytes(writer: &FileWriter) -> u64 {
    (writer.bytes_written() + writer.in_progress_size()) as u64
}

/// Writes the footer. The file is synced with the package's other job files
/// when the normalizer finishes, before the extracted package is deleted.
fn close_writer(writer: FileWriter, path: &Path) -> crate::Result<()> {
    let buffered = writer.into_inner().map_err(|source| Error::Arrow {
        action: "closing a Parquet file",
        path: path.to_owned(),
        message: source.to_string(),
    })?;
    buffered
        .into_inner()
        .map_err(|error| Error::io("write job file", path, error.into_error()))?;
    Ok(())
}

/// The row buffer and job files of one table.
pub(crate) struct TableOutput {
    table_name: String,
    jobs_dir: PathBuf,
    limits: OutputLimits,
    /// The encoder thread, or `None` to encode on the calling thread.
    encoder: Option<EncoderHandle>,
    buffer: Option<TableBuffer>,
    file: Option<OpenFile>,
    finished: Vec<JobFile>,
    pub(crate) rows: u64,
}

impl TableOutput {
    pub(crate) fn new(table_name: &str, jobs_dir: &Path, limits: OutputLimits, encoder: Option<EncoderHandle>) -> Self {
        TableOutput {
            table_name: table_name.to_owned(),
            jobs_dir: jobs_dir.to_owned(),
            limits,
            encoder,
            buffer: None,
            file: None,
            finished: Vec::new(),
            rows: 0,
        }
    }

    /// Returns a buffer whose columns match `table`, rotating the file when
    /// the table gained columns since the buffer was built.
    pub(crate) fn buffer_for(&mut self, table: &Table) -> crate::Result<&mut TableBuffer> {
        let up_to_date = self.buffer.as_ref().is_some_and(|buffer| buffer.is_current(table));
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
        let (buffered, buffered_bytes) = match self.buffer.as_mut() {
            Some(buffer) => {
                buffer.append_row(cells)?;
                (buffer.rows(), buffer.bytes())
            }
            None => return Err(Error::Internal(format!("no row buffer for table `{}`", self.table_name))),
        };
        self.rows += 1;

        let (file_rows, file_bytes) = self.file.as_ref().map_or((0, 0), |file| (file.rows, file.bytes));
        let file_full = self
            .limits
            .file_max_rows
            .is_some_and(|max| file_rows + buffered as u64 >= max);
        // Buffered rows are larger than encoded ones. Flushing once they
        // would fill the rest of the file writes ever smaller batches as the
        // file nears its byte limit, so it ends close to the limit.
        let bytes_full = self
            .limits
            .file_max_bytes
            .is_some_and(|max| file_bytes + buffered_bytes as u64 >= max);
        if buffered >= self.limits.batch_rows || buffered_bytes >= MAX_BATCH_BYTES || file_full || bytes_full {
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
            self.write_to_file(PendingBatch::ready(&self.table_name, batch.slice(offset, length)))?;
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
        self.write_to_file(batch)
    }

    fn write_to_file(&mut self, batch: PendingBatch) -> crate::Result<()> {
        if self.file.is_none() {
            self.file = Some(self.open_file(batch.schema())?);
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };

        let rows = batch.num_rows() as u64;
        match (&mut file.writer, &self.encoder) {
            (Some(writer), _) => {
                write_batch(writer, &file.path, &batch.resolve()?)?;
                file.bytes = encoded_bytes(writer);
            }
            (None, Some(encoder)) => encoder.send(Command::Write(file.path.clone(), batch))?,
            (None, None) => return Err(Error::Internal(format!("Parquet file {} has no writer", file.path.display()))),
        }
        file.rows += rows;

        let full = self.limits.file_max_rows.is_some_and(|max| file.rows >= max)
            || self.limits.file_max_bytes.is_some_and(|max| file.bytes >= max);
        if full {
            self.close_file()?;
        }
        Ok(())
    }

    fn open_file(&self, schema: SchemaRef) -> crate::Result<OpenFile> {
        let file_name = format!("{}.{}.0.parquet", self.table_name, crate::load_id::new_file_id());
        let path = self.jobs_dir.join(&file_name);
        let file = File::create(&path).map_err(|source| Error::io("create job file", &path, source))?;

        let mut properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(MAX_ROW_GROUP_ROWS));
        // Row ids are unique random text: a dictionary only costs a hash per
        // value before the writer falls back to plain pages, and Snappy finds
        // nothing to compress.
        for column in UNIQUE_COLUMNS {
            if schema.column_with_name(column).is_some() {
                let path = ColumnPath::from(column);
                properties = properties
                    .set_column_dictionary_enabled(path.clone(), false)
                    .set_column_compression(path, Compression::UNCOMPRESSED);
            }
        }
        let properties = properties.build();
        let writer = ArrowWriter::try_new(BufWriter::new(WritebackFile::new(file)), schema, Some(properties)).map_err(|source| {
            Error::Arrow {
                action: "opening a Parquet writer",
                path: path.clone(),
                message: source.to_string(),
            }
        })?;

        tracing::debug!(table = %self.table_name, file = %file_name, "opened Parquet job file");
        let writer = match &self.encoder {
            Some(encoder) => {
                encoder.send(Command::Open(path.clone(), writer))?;
                None
            }
            None => Some(writer),
        };
        Ok(OpenFile {
            path,
            file_name,
            writer,
            rows: 0,
            bytes: 0,
        })
    }

    /// Finishes the open file, if any, and records it as a job.
    pub(crate) fn close_file(&mut self) -> crate::Result<()> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };

        match (file.writer, &self.encoder) {
            (Some(writer), _) => close_writer(writer, &file.path)?,
            (None, Some(encoder)) => encoder.send(Command::Close(file.path.clone()))?,
            (None, None) => return Err(Error::Internal(format!("Parquet file {} has no writer", file.path.display()))),
        }

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

    /// Flushes the buffered rows and requests the open file's writer back from
    /// the encoder thread, so that [`Self::finish_returned`] can close the
    /// file on this thread while the encoder closes other files. Closing
    /// writes a file's last row group: for 100k nested events the whole
    /// `events` table, since it is smaller than one row group. Returns `None`
    /// when no file is open on the encoder thread.
    pub(crate) fn take_back_writer(&mut self) -> crate::Result<Option<ReturnedWriter>> {
        self.flush()?;
        let (Some(file), Some(encoder)) = (self.file.as_ref(), self.encoder.as_ref()) else {
            return Ok(None);
        };
        if file.writer.is_some() {
            return Ok(None);
        }

        let (reply, receiver) = mpsc::sync_channel(1);
        encoder.send(Command::Return(file.path.clone(), reply))?;
        Ok(Some(ReturnedWriter {
            receiver,
            encoder: encoder.clone(),
        }))
    }

    /// Waits for the writer that [`Self::take_back_writer`] requested, then
    /// closes its file here and returns the job files written.
    pub(crate) fn finish_returned(mut self, returned: ReturnedWriter) -> crate::Result<Vec<JobFile>> {
        let writer = returned.receiver.recv().map_err(|_| returned.encoder.stopped())?;
        if let Some(file) = self.file.as_mut() {
            file.writer = Some(writer);
        }
        self.finish()
    }

    /// Flushes and closes everything and returns the job files written.
    pub(crate) fn finish(mut self) -> crate::Result<Vec<JobFile>> {
        self.flush()?;
        self.close_file()?;
        Ok(self.finished)
    }
}
