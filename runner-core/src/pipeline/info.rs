use std::fmt;
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

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
    /// Name, version and `version_hash` of the package's schema, which the
    /// destination stores in `_dlt_version` when it is new there.
    pub schema_name: String,
    pub schema_version: u64,
    pub schema_version_hash: String,
    /// Tables listed in the package's schema update (`schema_updates.json`):
    /// tables that normalizing this package created or gave new columns.
    /// The destination creates or alters those it lacks while it loads the
    /// package. Empty when `applied` is false or the package changed no table.
    pub migrated_tables: Vec<String>,
}

/// The change that normalizing one package made to its schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaChange {
    pub load_id: String,
    pub schema_name: String,
    /// Schema `version` and `version_hash` before and after the package.
    pub version_before: u64,
    pub version_after: u64,
    pub version_hash_before: String,
    pub version_hash_after: String,
    /// Tables that had no typed column before this package, in the order
    /// normalization created them.
    pub tables_added: Vec<String>,
    /// Columns this package added, those of new tables included.
    pub columns_added: Vec<AddedColumn>,
}

/// A column that normalization added to a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedColumn {
    pub table_name: String,
    pub column_name: String,
    /// dlt's type name, such as `bigint` or `text`; absent for a column
    /// that has hints but no type yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    pub nullable: bool,
}

impl SchemaChange {
    /// Returns true when the package left the schema as it was.
    pub fn is_empty(&self) -> bool {
        self.tables_added.is_empty() && self.columns_added.is_empty() && self.version_hash_before == self.version_hash_after
    }
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
