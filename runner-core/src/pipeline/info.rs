use std::fmt;
use std::time::Duration;

use indexmap::IndexMap;

/// The outcome of one load package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageInfo {
    pub load_id: String,
    /// False when the destination had already committed this package (a
    /// retry after a crash), so nothing was written again.
    pub applied: bool,
    /// Rows loaded per table, in load order.
    pub rows_per_table: IndexMap<String, u64>,
    pub job_count: usize,
}

impl PackageInfo {
    pub fn total_rows(&self) -> u64 {
        self.rows_per_table.values().sum()
    }
}

/// The packages a pipeline run loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadInfo {
    pub pipeline_name: String,
    pub destination_name: String,
    pub destination_type: String,
    pub dataset_name: String,
    /// Packages loaded by this call, oldest first. Packages left pending by
    /// an earlier run come first.
    pub packages: Vec<PackageInfo>,
    /// How many of `packages` were pending from an earlier run.
    pub pending_packages: usize,
    pub duration: Duration,
}

impl LoadInfo {
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    /// Rows loaded per table over all packages.
    pub fn rows_per_table(&self) -> IndexMap<String, u64> {
        let mut totals = IndexMap::new();
        for package in &self.packages {
            for (table, rows) in &package.rows_per_table {
                *totals.entry(table.clone()).or_insert(0) += rows;
            }
        }
        totals
    }
}

impl fmt::Display for LoadInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.packages.is_empty() {
            return write!(
                f,
                "Pipeline {}: nothing to load ({:.2} s)",
                self.pipeline_name,
                self.duration.as_secs_f64()
            );
        }

        writeln!(
            f,
            "Pipeline {} loaded {} package(s) into dataset {} of destination {} ({}) in {:.2} s",
            self.pipeline_name,
            self.packages.len(),
            self.dataset_name,
            self.destination_name,
            self.destination_type,
            self.duration.as_secs_f64()
        )?;
        for (index, package) in self.packages.iter().enumerate() {
            let origin = if index < self.pending_packages { " (pending from an earlier run)" } else { "" };
            let applied = if package.applied { "" } else { ", already committed earlier" };
            writeln!(f, "  package {}{origin}: {} job(s){applied}", package.load_id, package.job_count)?;
        }
        let totals = self.rows_per_table();
        let width = totals.keys().map(String::len).max().unwrap_or(0);
        for (table, rows) in totals {
            writeln!(f, "  {table:<width$}  {rows:>12} rows")?;
        }
        Ok(())
    }
}
