//! Loading trace files through a trace pipeline.
//!
//! The trace pipeline is an ordinary [`Pipeline`]: `_trace_<pipeline>` into
//! dataset `_trace_<dataset>` of the same destination, or a pipeline the user
//! names. Its working directory is never wiped, and its own pending packages
//! are loaded before the traces, so a user pipeline that also receives other
//! data loses nothing.

use super::store::PENDING_MARKER_LOAD_ID;
use super::store::TraceStore;
use crate::extract::{Resource, Source};
use crate::{Pipeline, Result};

/// Opens the trace pipeline for one store; called once per store, so the
/// pipeline's lock is held only while traces load.
pub type TracePipelineFactory = Box<dyn FnMut() -> Result<Pipeline> + Send>;

/// Destination of the traces: a trace pipeline, opened or opened per store.
pub struct TraceSink {
    /// Name of the pipeline whose traces these are; the table is `<name>_trace`.
    owner: String,
    target: SinkTarget,
}

enum SinkTarget {
    Opened(Box<Pipeline>),
    Factory(TracePipelineFactory),
}

/// Result of one store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredTraces {
    /// Trace files whose rows committed in this store, including files of
    /// packages that an earlier store extracted but failed to load.
    pub files: usize,
}

impl TraceSink {
    /// Loads traces through an opened pipeline.
    pub fn with_pipeline(owner: impl Into<String>, pipeline: Pipeline) -> Self {
        TraceSink {
            owner: owner.into(),
            target: SinkTarget::Opened(Box::new(pipeline)),
        }
    }

    /// Loads traces through a pipeline that `open` creates for each store.
    pub fn with_factory(owner: impl Into<String>, open: TracePipelineFactory) -> Self {
        TraceSink {
            owner: owner.into(),
            target: SinkTarget::Factory(open),
        }
    }

    /// Returns the table that receives the traces.
    pub fn table_name(&self) -> String {
        trace_table_name(&self.owner)
    }

    /// Loads every trace file of `store`; each file's deletion waits until
    /// its package committed. On error the files stay for the next store.
    pub fn store(&mut self, store: &TraceStore) -> Result<StoredTraces> {
        if !store.has_pending()? {
            return Ok(StoredTraces::default());
        }
        let table = self.table_name();

        match &mut self.target {
            SinkTarget::Opened(pipeline) => load_traces(pipeline, store, &table),
            SinkTarget::Factory(open) => {
                let mut pipeline = open()?;
                load_traces(&mut pipeline, store, &table)
            }
        }
    }
}

/// Returns the trace table of pipeline `owner`: `<owner>_trace`.
pub fn trace_table_name(owner: &str) -> String {
    format!("{owner}_trace")
}

fn load_traces(pipeline: &mut Pipeline, store: &TraceStore, table: &str) -> Result<StoredTraces> {
    let span = tracing::info_span!("store_traces", trace_pipeline = %pipeline.name());
    let _entered = span.enter();

    // Packages that an earlier store extracted load first; their files go
    // only once the package is in `load/loaded`.
    pipeline.finalize()?;
    let mut stored = settle_markers(pipeline, store)?;

    store.remove_interrupted_writes()?;
    let traces = store.unpackaged_traces()?;
    if traces.is_empty() {
        return Ok(stored);
    }
    let files: Vec<_> = traces.iter().map(|trace| trace.path.clone()).collect();
    let rows: Vec<_> = traces.into_iter().map(|trace| trace.row).collect();
    tracing::info!(files = files.len(), table, "loading stored traces");

    // The pending marker covers a kill between the package commit inside
    // `extract` and the package's own marker: the next store finds the
    // package by its load id and does not extract the files again.
    store.write_pending_marker(&files)?;
    let source = Source::new(table, vec![Resource::from_rows(table, rows)]);
    let Some(load_id) = pipeline.extract(source)? else {
        let pending = store.markers()?.into_iter().find(|marker| marker.load_id == PENDING_MARKER_LOAD_ID);
        if let Some(pending) = pending {
            store.release_marker(&pending)?;
        }
        return Ok(stored);
    };
    let pending = store.markers()?.into_iter().find(|marker| marker.load_id == PENDING_MARKER_LOAD_ID);
    match pending {
        Some(pending) => store.claim_pending_marker(&pending, &load_id)?,
        None => store.write_marker(&load_id, &files)?,
    }
    pipeline.normalize()?;
    pipeline.load()?;

    stored.files += settle_markers(pipeline, store)?.files;
    Ok(stored)
}

/// Resolves a pending marker left by a kill during extraction: the trace
/// package committed after the marker was written, if any, is the one that
/// holds its files; without such a package the files load again.
fn claim_pending_marker(pipeline: &Pipeline, store: &TraceStore) -> Result<()> {
    let markers = store.markers()?;
    let Some(pending) = markers.iter().find(|marker| marker.load_id == PENDING_MARKER_LOAD_ID) else {
        return Ok(());
    };
    let since = pending.pending_since.unwrap_or(f64::INFINITY);
    let claimed: Vec<&str> = markers
        .iter()
        .filter(|marker| marker.load_id != PENDING_MARKER_LOAD_ID)
        .map(|marker| marker.load_id.as_str())
        .collect();

    let mut candidates = Vec::new();
    for stage in ["load/loaded", "load/normalized", "normalize/extracted"] {
        let folder = pipeline.working_dir().join(stage);
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            let load_id = entry.file_name().to_string_lossy().into_owned();
            let newer = load_id.parse::<f64>().is_ok_and(|seconds| seconds >= since);
            if newer && !claimed.contains(&load_id.as_str()) {
                candidates.push(load_id);
            }
        }
    }
    candidates.sort();

    match candidates.first() {
        Some(load_id) => {
            tracing::info!(load_id = %load_id, "trace package found for files extracted before an interruption");
            store.claim_pending_marker(pending, load_id)
        }
        None => store.release_marker(pending),
    }
}

/// Deletes the trace files of committed packages. A marker whose package is
/// neither loaded nor pending (its working directory was replaced) is
/// dropped, so its files load again.
fn settle_markers(pipeline: &Pipeline, store: &TraceStore) -> Result<StoredTraces> {
    let loaded = pipeline.working_dir().join("load").join("loaded");
    let mut stored = StoredTraces::default();

    claim_pending_marker(pipeline, store)?;

    for marker in store.markers()? {
        if loaded.join(&marker.load_id).is_dir() {
            store.remove_packaged(&marker)?;
            stored.files += marker.files.len();
        } else if !pipeline.has_pending_data()? {
            tracing::warn!(load_id = %marker.load_id, "trace package is gone unloaded; its trace files load again");
            store.release_marker(&marker)?;
        }
    }
    Ok(stored)
}
