use std::sync::atomic::{AtomicU64, Ordering};

/// Row counters that a pipeline updates while it runs, for progress displays.
///
/// Counts are rows of root tables for extract and normalize, and rows of all
/// tables for load. They only grow during a run.
#[derive(Debug, Default)]
pub struct Progress {
    extracted: AtomicU64,
    normalized: AtomicU64,
    loaded: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgressSnapshot {
    pub extracted: u64,
    pub normalized: u64,
    pub loaded: u64,
}

impl Progress {
    pub fn snapshot(&self) -> ProgressSnapshot {
        ProgressSnapshot {
            extracted: self.extracted.load(Ordering::Relaxed),
            normalized: self.normalized.load(Ordering::Relaxed),
            loaded: self.loaded.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn add_extracted(&self, rows: u64) {
        self.extracted.fetch_add(rows, Ordering::Relaxed);
    }

    pub(crate) fn add_normalized(&self, rows: u64) {
        self.normalized.fetch_add(rows, Ordering::Relaxed);
    }

    pub(crate) fn add_loaded(&self, rows: u64) {
        self.loaded.fetch_add(rows, Ordering::Relaxed);
    }
}
