//! The extract step: resources into load packages.
//!
//! A [`Source`] is a named group of [`Resource`]s; each resource produces
//! rows (`serde_json::Value`) or Arrow record batches for one root table.
//! Extraction writes them, unchanged, into a new load package: rows as dlt
//! typed JSON Lines, batches as Parquet. Both are streamed, so memory does not
//! grow with the input.

mod big_integers;
mod checked_lines;
pub mod files;
mod incremental;
mod resource;
mod writer;

pub use incremental::Incremental;
pub(crate) use big_integers::is_large_float;
pub(crate) use incremental::{CursorState, IncrementalSink};
pub use resource::{ItemProducer, MergeStrategy, Resource, ResourceOutput, Source, WriteDisposition};
pub(crate) use resource::{ItemSink, LimitSink};
pub use crate::schema::{ContractMode, SchemaContract};
pub(crate) use writer::{ExtractedTable, PackageWriter};

/// Writes one row through a package writer outside of any resource.
pub(crate) fn push_row_to(writer: &mut PackageWriter<'_>, row: serde_json::Value) -> crate::Result<()> {
    use resource::ItemSink as _;
    writer.push_row(row)
}
