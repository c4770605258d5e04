//! Reading the `_dlt_pipeline_state` rows of a Parquet job file, which the
//! filesystem layout stores as one JSON file per pipeline instead of as data.

use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMicrosecondType};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use plugin_sdk::PluginError;

use crate::dlt_files::{StateRecord, iso_timestamp};

/// Reads every state row of the job file at `path`.
///
/// `load_id` fills `_dlt_load_id` when the column is null. Returns a
/// `Terminal` error naming the file and column when a required column is
/// missing or null, because the same file fails again on retry.
pub(crate) fn read_state_rows(path: &Path, load_id: &str) -> Result<Vec<StateRecord>, PluginError> {
    let invalid = |reason: String| {
        PluginError::terminal(format!(
            "invalid _dlt_pipeline_state job file {} of load {load_id}: {reason}",
            path.display()
        ))
    };

    let file = std::fs::File::open(path).map_err(|error| {
        PluginError::terminal(format!("failed to open state job file {}", path.display())).with_source(&error)
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|builder| builder.build())
        .map_err(|error| invalid(error.to_string()))?;

    let mut records = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|error| invalid(error.to_string()))?;
        let columns = StateColumns::from_batch(&batch).map_err(invalid)?;
        for row in 0..batch.num_rows() {
            records.push(columns.record(row, load_id).map_err(invalid)?);
        }
    }
    Ok(records)
}

/// The state columns of one batch, cast to the types the record needs.
struct StateColumns {
    version: ArrayRef,
    engine_version: ArrayRef,
    pipeline_name: ArrayRef,
    state: ArrayRef,
    created_at: ArrayRef,
    version_hash: Option<ArrayRef>,
    load_id: Option<ArrayRef>,
}

impl StateColumns {
    fn from_batch(batch: &RecordBatch) -> Result<Self, String> {
        let column = |name: &str, data_type: &DataType| -> Result<Option<ArrayRef>, String> {
            let Some(array) = batch.column_by_name(name) else {
                return Ok(None);
            };
            arrow::compute::cast(array, data_type)
                .map(Some)
                .map_err(|error| format!("column `{name}` cannot be read as {data_type}: {error}"))
        };
        let required = |name: &str, data_type: &DataType| -> Result<ArrayRef, String> {
            column(name, data_type)?.ok_or_else(|| format!("column `{name}` is missing"))
        };

        // Timestamps of any unit become microseconds. A naive timestamp is
        // taken as UTC, which is what dlt writes.
        let micros = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        Ok(StateColumns {
            version: required("version", &DataType::Int64)?,
            engine_version: required("engine_version", &DataType::Int64)?,
            pipeline_name: required("pipeline_name", &DataType::Utf8)?,
            state: required("state", &DataType::Utf8)?,
            created_at: required("created_at", &micros)?,
            version_hash: column("version_hash", &DataType::Utf8)?,
            load_id: column("_dlt_load_id", &DataType::Utf8)?,
        })
    }

    fn record(&self, row: usize, package_load_id: &str) -> Result<StateRecord, String> {
        let integer = |array: &ArrayRef, name: &str| {
            let values = array.as_primitive::<Int64Type>();
            (!values.is_null(row))
                .then(|| values.value(row))
                .ok_or_else(|| format!("column `{name}` is null in row {row}"))
        };
        let text = |array: &ArrayRef| {
            let values = array.as_string::<i32>();
            (!values.is_null(row)).then(|| values.value(row).to_owned())
        };
        let required_text =
            |array: &ArrayRef, name: &str| text(array).ok_or_else(|| format!("column `{name}` is null in row {row}"));

        let created_at = self.created_at.as_primitive::<TimestampMicrosecondType>();
        if created_at.is_null(row) {
            return Err(format!("column `created_at` is null in row {row}"));
        }

        Ok(StateRecord {
            version: integer(&self.version, "version")?,
            engine_version: integer(&self.engine_version, "engine_version")?,
            pipeline_name: required_text(&self.pipeline_name, "pipeline_name")?,
            state: required_text(&self.state, "state")?,
            created_at: iso_timestamp(created_at.value(row)),
            version_hash: self.version_hash.as_ref().and_then(text),
            load_id: self
                .load_id
                .as_ref()
                .and_then(text)
                .unwrap_or_else(|| package_load_id.to_owned()),
        })
    }
}
