//! The Arrow schema under which Parquet files are read.

use std::fs::File;
use std::sync::Arc;

use arrow::datatypes::{DataType as ArrowType, Field, Schema as ArrowSchema};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::errors::Result;

/// Reads the footer of a Parquet file and returns it with the Arrow schema
/// to read the file under.
///
/// pyarrow stores the Arrow schema in the file, and a dictionary-encoded
/// decimal column keeps its dictionary type there. The Parquet reader cannot
/// read a decimal into a dictionary array ("unsupported data type for byte
/// array dictionary reader"), so such columns are read as plain decimals.
pub(crate) fn reader_metadata(file: &File) -> Result<ArrowReaderMetadata> {
    let metadata = ArrowReaderMetadata::load(file, ArrowReaderOptions::new())?;
    let schema = metadata.schema();
    if !schema.fields().iter().any(|field| decoded_type(field.data_type()).is_some()) {
        return Ok(metadata);
    }

    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| match decoded_type(field.data_type()) {
            Some(value_type) => field.as_ref().clone().with_data_type(value_type),
            None => field.as_ref().clone(),
        })
        .collect();
    let plain = Arc::new(ArrowSchema::new_with_metadata(fields, schema.metadata().clone()));
    ArrowReaderMetadata::try_new(metadata.metadata().clone(), ArrowReaderOptions::new().with_schema(plain))
}

/// Returns the value type of a dictionary type that the Parquet reader
/// cannot read as a dictionary.
fn decoded_type(data_type: &ArrowType) -> Option<ArrowType> {
    match data_type {
        ArrowType::Dictionary(_, value) if matches!(value.as_ref(), ArrowType::Decimal128(..) | ArrowType::Decimal256(..)) => {
            Some(value.as_ref().clone())
        }
        _ => None,
    }
}
