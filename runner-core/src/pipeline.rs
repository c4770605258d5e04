//! The pipeline: extract, normalize and load over a working directory.

/// Options of a pipeline.
#[derive(Debug, Clone, Default)]
pub struct PipelineOptions {}

/// A pipeline.
pub struct Pipeline {}
