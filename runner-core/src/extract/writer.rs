use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use serde_json::Value;

use super::resource::ItemSink;
use crate::load_id::new_file_id;
use crate::storage::{JobFileName, WritebackFile};
use crate::{Error, Result};

/// Buffer size of a JSON Lines writer, in bytes.
const JSONL_BUFFER_BYTES: usize = 1 << 20;

/// The files and rows extraction wrote for one root table.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExtractedTable {
    pub table_name: String,
    pub rows: u64,
    pub files: Vec<PathBuf>,
}

/// Writes the items of one resource into a package's `new_jobs` folder. The
/// caller syncs the files listed in [`ExtractedTable::files`] before the
/// package commits.
pub(crate) struct PackageWriter<'a> {
    jobs_dir: PathBuf,
    table_name: String,
    jsonl: Option<JsonlFile>,
    parquet: Option<ParquetFile>,
    extracted: ExtractedTable,
    progress: &'a dyn Fn(u64),
}

struct JsonlFile {
    path: PathBuf,
    writer: BufWriter<WritebackFile>,
}

struct ParquetFile {
    path: PathBuf,
    schema: SchemaRef,
    writer: ArrowWriter<File>,
}

impl<'a> PackageWriter<'a> {
    /// `table_name` is the normalized root table name; `progress` receives
    /// the number of rows of each item written.
    pub fn new(jobs_dir: &Path, table_name: &str, progress: &'a dyn Fn(u64)) -> Self {
        PackageWriter {
            jobs_dir: jobs_dir.to_path_buf(),
            table_name: table_name.to_owned(),
            jsonl: None,
            parquet: None,
            extracted: ExtractedTable {
                table_name: table_name.to_owned(),
                ..Default::default()
            },
            progress,
        }
    }

    fn new_job_path(&self, extension: &str) -> PathBuf {
        let name = JobFileName::new(&self.table_name, &new_file_id(), extension);
        self.jobs_dir.join(name.to_string())
    }

    /// Flushes and closes every file; returns what was written.
    pub fn finish(mut self) -> Result<ExtractedTable> {
        if let Some(mut file) = self.jsonl.take() {
            file.writer.flush().map_err(|e| Error::io("write", &file.path, e))?;
            self.extracted.files.push(file.path);
        }
        self.close_parquet()?;
        Ok(self.extracted)
    }

    /// Returns the typed JSON Lines job file, creating it on first use.
    fn jsonl_file(&mut self) -> Result<&mut JsonlFile> {
        if self.jsonl.is_none() {
            let path = self.new_job_path("typed-jsonl");
            let file = File::create(&path).map_err(|e| Error::io("create", &path, e))?;
            self.jsonl = Some(JsonlFile {
                writer: BufWriter::with_capacity(JSONL_BUFFER_BYTES, WritebackFile::new(file)),
                path,
            });
        }
        self.jsonl
            .as_mut()
            .ok_or_else(|| Error::Internal("the JSON Lines job file was not opened".to_owned()))
    }

    fn close_parquet(&mut self) -> Result<()> {
        if let Some(file) = self.parquet.take() {
            file.writer.close().map_err(|e| Error::Arrow {
                action: "closing Parquet file",
                path: file.path.clone(),
                message: e.to_string(),
            })?;
            self.extracted.files.push(file.path);
        }
        Ok(())
    }
}

impl ItemSink for PackageWriter<'_> {
    fn push_row(&mut self, row: Value) -> Result<()> {
        let file = self.jsonl_file()?;
        serde_json::to_writer(&mut file.writer, &row).map_err(|e| Error::io("write", &file.path, e.into()))?;
        file.writer.write_all(b"\n").map_err(|e| Error::io("write", &file.path, e))?;

        self.extracted.rows += 1;
        (self.progress)(1);
        Ok(())
    }

    fn takes_json_text(&self) -> bool {
        true
    }

    /// Copies the text as one line. Plain JSON is valid typed JSON with the
    /// same meaning as the tree serde_json would write back, so the parse and
    /// the re-serialization are skipped.
    fn push_json_text(&mut self, text: &[u8]) -> Result<()> {
        let file = self.jsonl_file()?;
        file.writer.write_all(text).map_err(|e| Error::io("write", &file.path, e))?;
        file.writer.write_all(b"\n").map_err(|e| Error::io("write", &file.path, e))?;

        self.extracted.rows += 1;
        (self.progress)(1);
        Ok(())
    }

    fn takes_parquet_files(&self) -> bool {
        true
    }

    /// Copies the file into the package as one job. Extract would write the
    /// same batches again, so only the encoding could differ.
    fn push_parquet_file(&mut self, path: &Path, rows: u64) -> Result<()> {
        self.close_parquet()?;
        let job_path = self.new_job_path("parquet");
        fs::copy(path, &job_path).map_err(|e| Error::io("copy", path, e))?;
        self.extracted.files.push(job_path);

        self.extracted.rows += rows;
        (self.progress)(rows);
        Ok(())
    }

    fn push_batch(&mut self, batch: RecordBatch) -> Result<()> {
        // Parquet files have one schema: a batch with another one starts a new file.
        if self.parquet.as_ref().is_some_and(|file| file.schema != batch.schema()) {
            self.close_parquet()?;
        }
        if self.parquet.is_none() {
            let path = self.new_job_path("parquet");
            let file = File::create(&path).map_err(|e| Error::io("create", &path, e))?;
            let schema = batch.schema();
            let writer = ArrowWriter::try_new(file, Arc::clone(&schema), None).map_err(|e| Error::Arrow {
                action: "creating Parquet file",
                path: path.clone(),
                message: e.to_string(),
            })?;
            self.parquet = Some(ParquetFile { path, schema, writer });
        }
        let Some(file) = self.parquet.as_mut() else { unreachable!("opened above") };

        file.writer.write(&batch).map_err(|e| Error::Arrow {
            action: "writing Parquet file",
            path: file.path.clone(),
            message: e.to_string(),
        })?;

        let rows = batch.num_rows() as u64;
        self.extracted.rows += rows;
        (self.progress)(rows);
        Ok(())
    }
}
