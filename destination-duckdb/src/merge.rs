//! Write disposition `merge`: staging tables and the SQL that merges them.
//!
//! As in dlt, the jobs of a merge table load into a table of the same name in
//! the staging dataset `<dataset>_staging`. The merge statements then move
//! the rows into the dataset, and the staging tables are dropped, all inside
//! the package's transaction. Unlike dlt, which keeps the staging rows until
//! the next load, nothing stays behind in the staging dataset.
//!
//! Duplicate keys inside one package: the row that comes last in the load
//! files wins, and nested rows of the rows that lost are not inserted. The
//! order is the staging table's `rowid`, which follows the job order of the
//! request and the row order inside each file.

use std::collections::HashMap;

use duckdb::Connection;
use plugin_sdk::PluginError;
use plugin_sdk::protocol::{LoadRequest, TableSpec};

use crate::connection::{execute, table_exists};
use crate::sql::{self, TypeOptions, qualified_table, quote_identifier};

/// Appended to the dataset name to name the staging dataset, as dlt does.
const STAGING_SUFFIX: &str = "_staging";

/// Default row key and root key names of dlt, used when no column carries
/// the hint.
const ROW_KEY: &str = "_dlt_id";
const ROOT_KEY: &str = "_dlt_root_id";

/// Window column that ranks duplicate keys in staging, where rank 1 is the last row.
const RANK_COLUMN: &str = "_dlt_merge_rank";

/// Returns the name of the staging dataset of `dataset`.
pub(crate) fn staging_dataset(dataset: &str) -> String {
    format!("{dataset}{STAGING_SUFFIX}")
}

/// Merge strategy of a root table, which decides how stored rows are replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    /// Deletes stored rows (and their nested rows) whose key occurs in the
    /// package, then inserts the package's rows. dlt's default.
    DeleteInsert,
    /// Updates rows with a known primary key and inserts the others. Nested
    /// rows are matched on their row key, and stored nested rows that the
    /// package no longer contains are deleted.
    Upsert,
}

impl Strategy {
    fn as_str(self) -> &'static str {
        match self {
            Strategy::DeleteInsert => "delete-insert",
            Strategy::Upsert => "upsert",
        }
    }
}

/// One merge root table of the package with its nested tables.
#[derive(Debug)]
struct MergeTree<'a> {
    root: &'a TableSpec,
    strategy: Strategy,
    primary_key: Vec<&'a str>,
    merge_key: Vec<&'a str>,
    /// Every nested table of the root in request order, whether or not the
    /// package has rows for it, because stored nested rows of replaced root
    /// rows must go too.
    nested: Vec<&'a TableSpec>,
}

/// Returns whether a job of `request` loads into a merge table. A request
/// whose merge plan is invalid counts as merging, since its load fails
/// anyway.
pub(crate) fn merges(request: &LoadRequest) -> bool {
    MergePlan::build(request).map_or(true, |plan| !plan.staged.is_empty())
}

/// The merge tables of one load request.
#[derive(Debug, Default)]
pub(crate) struct MergePlan<'a> {
    trees: Vec<MergeTree<'a>>,
    /// Tables whose jobs load into the staging dataset.
    staged: Vec<&'a TableSpec>,
}

impl<'a> MergePlan<'a> {
    /// Finds the merge tables among the request's jobs and checks that each
    /// root table can be merged: a supported strategy and key columns.
    pub(crate) fn build(request: &'a LoadRequest) -> Result<Self, PluginError> {
        let by_name: HashMap<&str, &TableSpec> = request
            .tables
            .iter()
            .map(|table| (table.name.as_str(), table))
            .collect();
        let mut plan = MergePlan::default();

        for job in &request.jobs {
            let Some(table) = by_name.get(job.table_name.as_str()).copied() else {
                continue;
            };
            if table.write_disposition != "merge" {
                continue;
            }
            if !plan.is_staged(&table.name) {
                plan.staged.push(table);
            }

            let root = root_of(table, &by_name);
            if plan.trees.iter().any(|tree| tree.root.name == root.name) {
                continue;
            }
            plan.trees.push(merge_tree(request, root, &by_name)?);
        }
        Ok(plan)
    }

    /// Returns whether the jobs of `table` load into the staging dataset.
    pub(crate) fn is_staged(&self, table: &str) -> bool {
        self.staged.iter().any(|spec| spec.name == table)
    }
}

/// Follows `parent` links up to the root table. A parent missing from the
/// request ends the walk, because only tables with data are sent.
fn root_of<'a>(table: &'a TableSpec, by_name: &HashMap<&str, &'a TableSpec>) -> &'a TableSpec {
    let mut current = table;
    while let Some(parent) = current.parent.as_deref().and_then(|name| by_name.get(name)) {
        current = parent;
    }
    current
}

fn merge_tree<'a>(
    request: &'a LoadRequest,
    root: &'a TableSpec,
    by_name: &HashMap<&str, &'a TableSpec>,
) -> Result<MergeTree<'a>, PluginError> {
    let table_id = format!(
        "table \"{}\".\"{}\" (load {})",
        request.dataset_name, root.name, request.load_id
    );

    let strategy = match root.merge_strategy.as_deref() {
        None | Some("delete-insert") => Strategy::DeleteInsert,
        Some("upsert") => Strategy::Upsert,
        Some(other) => {
            return Err(PluginError::terminal(format!(
                "merge strategy `{other}` of {table_id} is not supported by the DuckDB destination; use delete-insert or upsert"
            )));
        }
    };

    let primary_key = key_columns(root, |column| column.primary_key);
    let merge_key = key_columns(root, |column| column.merge_key);
    if primary_key.is_empty() && merge_key.is_empty() {
        return Err(PluginError::terminal(format!(
            "{table_id} has write disposition merge but no primary_key or merge_key column, so its stored rows cannot be matched; add a primary_key or merge_key"
        )));
    }
    if strategy == Strategy::Upsert && primary_key.is_empty() {
        return Err(PluginError::terminal(format!(
            "{table_id} uses merge strategy upsert, which needs a primary_key column; add a primary_key"
        )));
    }

    let nested = request
        .tables
        .iter()
        .filter(|table| table.name != root.name && root_of(table, by_name).name == root.name)
        .collect();
    Ok(MergeTree {
        root,
        strategy,
        primary_key,
        merge_key,
        nested,
    })
}

fn key_columns(
    table: &TableSpec,
    is_key: impl Fn(&plugin_sdk::protocol::ColumnSpec) -> bool,
) -> Vec<&str> {
    table
        .columns
        .iter()
        .filter(|column| is_key(column))
        .map(|column| column.name.as_str())
        .collect()
}

/// Returns the column with the hint `is_key`, or `default` when none has it.
fn hinted_column<'a>(
    table: &'a TableSpec,
    is_key: impl Fn(&plugin_sdk::protocol::ColumnSpec) -> bool,
    default: &'a str,
) -> &'a str {
    key_columns(table, is_key)
        .first()
        .copied()
        .unwrap_or(default)
}

/// Creates the staging dataset and an empty staging table for each staged
/// table, with the same columns as in the dataset. A staging table left by
/// an earlier load (dlt keeps them) is dropped first, because its columns
/// may be out of date.
pub(crate) fn create_staging_tables(
    connection: &Connection,
    request: &LoadRequest,
    plan: &MergePlan<'_>,
    options: TypeOptions,
) -> Result<(), PluginError> {
    if plan.staged.is_empty() {
        return Ok(());
    }
    let staging = staging_dataset(&request.dataset_name);
    let load_id = request.load_id.as_str();

    let create_schema = format!("CREATE SCHEMA IF NOT EXISTS {}", quote_identifier(&staging));
    execute(connection, &create_schema, [], || {
        format!("failed to create staging dataset \"{staging}\" for load {load_id}")
    })?;

    for table in &plan.staged {
        let context = || {
            format!(
                "failed to create staging table \"{staging}\".\"{}\" for load {load_id}",
                table.name
            )
        };
        let drop = format!(
            "DROP TABLE IF EXISTS {}",
            qualified_table(&staging, &table.name)
        );
        execute(connection, &drop, [], context)?;
        let create = sql::create_table(&staging, table, options)?;
        execute(connection, &create, [], context)?;
    }
    Ok(())
}

/// Merges every staged root table and its nested tables into the dataset.
pub(crate) fn merge_tables(
    connection: &Connection,
    request: &LoadRequest,
    plan: &MergePlan<'_>,
) -> Result<(), PluginError> {
    for tree in &plan.trees {
        match tree.strategy {
            Strategy::DeleteInsert => delete_insert(connection, request, plan, tree)?,
            Strategy::Upsert => upsert(connection, request, plan, tree)?,
        }
        tracing::info!(
            load_id = %request.load_id,
            table = %tree.root.name,
            strategy = tree.strategy.as_str(),
            nested_tables = tree.nested.len(),
            "merged table"
        );
    }
    Ok(())
}

/// Drops the staging tables, so that no staged row outlives the transaction.
///
/// Python dlt keeps its staging tables and records their schema in the
/// staging dataset's `_dlt_version`. Those rows are deleted too, so its next
/// merge finds no stored staging schema and creates the tables again
/// instead of failing on a table that no longer exists.
pub(crate) fn drop_staging_tables(
    connection: &Connection,
    request: &LoadRequest,
    plan: &MergePlan<'_>,
) -> Result<(), PluginError> {
    let staging = staging_dataset(&request.dataset_name);
    for table in &plan.staged {
        let drop = format!("DROP TABLE {}", qualified_table(&staging, &table.name));
        execute(connection, &drop, [], || {
            format!(
                "failed to drop staging table \"{staging}\".\"{}\" for load {}",
                table.name, request.load_id
            )
        })?;
    }

    if !plan.staged.is_empty() && table_exists(connection, &staging, "_dlt_version")? {
        let forget = format!("DELETE FROM {}", qualified_table(&staging, "_dlt_version"));
        execute(connection, &forget, [], || {
            format!("failed to clear \"{staging}\".\"_dlt_version\" for load {}", request.load_id)
        })?;
    }
    Ok(())
}

/// The statements of one root table, with the names they share.
struct MergeSql<'a> {
    request: &'a LoadRequest,
    tree: &'a MergeTree<'a>,
    staging: String,
}

impl MergeSql<'_> {
    fn target(&self, table: &TableSpec) -> String {
        qualified_table(&self.request.dataset_name, &table.name)
    }

    fn staged(&self, table: &TableSpec) -> String {
        qualified_table(&self.staging, &table.name)
    }

    /// Selects the staged rows of `table` with one row per value of `key`:
    /// the last one in load order.
    ///
    /// `rowid` follows insertion order only while DuckDB's
    /// `preserve_insertion_order` is on, so [`crate::engine::Engine`] keeps
    /// it on for a package with a merge table. The files of a table load in
    /// the order normalize wrote them, because job file ids increase.
    fn deduplicated(&self, table: &TableSpec, key: &[&str]) -> String {
        let partition: Vec<String> = key.iter().map(|column| quote_identifier(column)).collect();
        let rank = quote_identifier(RANK_COLUMN);
        format!(
            "SELECT * EXCLUDE ({rank}) FROM (SELECT *, row_number() OVER (PARTITION BY {} ORDER BY \"s\".rowid DESC) AS {rank} FROM {} AS \"s\") WHERE {rank} = 1",
            partition.join(", "),
            self.staged(table)
        )
    }

    /// Staged root rows that will be inserted: deduplicated on the primary
    /// key when there is one.
    fn root_rows(&self) -> String {
        if self.tree.primary_key.is_empty() {
            format!("SELECT * FROM {}", self.staged(self.tree.root))
        } else {
            self.deduplicated(self.tree.root, &self.tree.primary_key)
        }
    }

    /// `"d"."a" = "s"."a" AND ...` for the columns of `key`.
    fn key_match(key: &[&str]) -> String {
        key.iter()
            .map(|column| {
                let column = quote_identifier(column);
                format!("\"d\".{column} = \"s\".{column}")
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// Matches stored root rows (alias `d`) whose primary key or merge key
    /// occurs in staging, as dlt's delete-insert does.
    fn stored_root_match(&self) -> String {
        let staged = self.staged(self.tree.root);
        [&self.tree.primary_key, &self.tree.merge_key]
            .into_iter()
            .filter(|key| !key.is_empty())
            .map(|key| {
                format!(
                    "EXISTS (SELECT 1 FROM {staged} AS \"s\" WHERE {})",
                    Self::key_match(key)
                )
            })
            .collect::<Vec<_>>()
            .join(" OR ")
    }

    fn run(
        &self,
        connection: &Connection,
        statement: &str,
        table: &TableSpec,
        action: &str,
    ) -> Result<usize, PluginError> {
        execute(connection, statement, [], || {
            format!(
                "failed to {action} table \"{}\".\"{}\" during the merge of load {}",
                self.request.dataset_name, table.name, self.request.load_id
            )
        })
    }
}

fn delete_insert(
    connection: &Connection,
    request: &LoadRequest,
    plan: &MergePlan<'_>,
    tree: &MergeTree<'_>,
) -> Result<(), PluginError> {
    let merge = MergeSql {
        request,
        tree,
        staging: staging_dataset(&request.dataset_name),
    };
    let root = tree.root;
    let root_target = merge.target(root);
    let row_key = quote_identifier(hinted_column(root, |column| column.row_key, ROW_KEY));
    let stored_match = merge.stored_root_match();

    // Nested rows go first, while the root rows that name them still exist.
    for nested in &tree.nested {
        if !table_exists(connection, &request.dataset_name, &nested.name)? {
            continue;
        }
        let root_key = quote_identifier(hinted_column(nested, |column| column.root_key, ROOT_KEY));
        let delete = format!(
            "DELETE FROM {} WHERE {root_key} IN (SELECT \"d\".{row_key} FROM {root_target} AS \"d\" WHERE {stored_match})",
            merge.target(nested)
        );
        merge.run(connection, &delete, nested, "delete replaced rows from")?;
    }

    let delete = format!("DELETE FROM {root_target} AS \"d\" WHERE {stored_match}");
    let deleted = merge.run(connection, &delete, root, "delete replaced rows from")?;

    let insert = format!("INSERT INTO {root_target} BY NAME {}", merge.root_rows());
    let inserted = merge.run(connection, &insert, root, "insert merged rows into")?;
    tracing::debug!(load_id = %request.load_id, table = %root.name, deleted, inserted, "replaced root rows");

    // Nested rows of duplicate root rows that lost are left out.
    for nested in tree
        .nested
        .iter()
        .filter(|nested| plan.is_staged(&nested.name))
    {
        let root_key = quote_identifier(hinted_column(nested, |column| column.root_key, ROOT_KEY));
        let insert = format!(
            "INSERT INTO {} BY NAME SELECT * FROM {} WHERE {root_key} IN (SELECT {row_key} FROM ({}))",
            merge.target(nested),
            merge.staged(nested),
            merge.root_rows()
        );
        merge.run(connection, &insert, nested, "insert merged rows into")?;
    }
    Ok(())
}

fn upsert(
    connection: &Connection,
    request: &LoadRequest,
    plan: &MergePlan<'_>,
    tree: &MergeTree<'_>,
) -> Result<(), PluginError> {
    let merge = MergeSql {
        request,
        tree,
        staging: staging_dataset(&request.dataset_name),
    };
    let root = tree.root;
    let row_key = quote_identifier(hinted_column(root, |column| column.row_key, ROW_KEY));

    let statement = merge_into(&merge, root, &tree.primary_key);
    merge.run(connection, &statement, root, "upsert rows into")?;

    for nested in &tree.nested {
        if !table_exists(connection, &request.dataset_name, &nested.name)? {
            continue;
        }
        let root_key = quote_identifier(hinted_column(nested, |column| column.root_key, ROOT_KEY));
        let nested_row_key = hinted_column(nested, |column| column.row_key, ROW_KEY);

        // Stored nested rows of an upserted root row that the package no
        // longer contains are orphans.
        let mut delete = format!(
            "DELETE FROM {} WHERE {root_key} IN (SELECT {row_key} FROM {})",
            merge.target(nested),
            merge.staged(root)
        );
        if plan.is_staged(&nested.name) {
            let quoted = quote_identifier(nested_row_key);
            delete.push_str(&format!(
                " AND {quoted} NOT IN (SELECT {quoted} FROM {})",
                merge.staged(nested)
            ));
        }
        merge.run(connection, &delete, nested, "delete orphaned rows from")?;

        if plan.is_staged(&nested.name) {
            // NOTE: nested rows share row keys across duplicate root rows, so
            // a list element of a losing duplicate that the winner lacks stays.
            let statement = merge_into(&merge, nested, &[nested_row_key]);
            merge.run(connection, &statement, nested, "upsert rows into")?;
        }
    }
    Ok(())
}

/// Builds `MERGE INTO` that updates stored rows of `table` matching `key` and
/// inserts the others, from the deduplicated staged rows.
fn merge_into(merge: &MergeSql<'_>, table: &TableSpec, key: &[&str]) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|column| quote_identifier(&column.name))
        .collect();
    let updates: Vec<String> = columns
        .iter()
        .map(|column| format!("{column} = \"s\".{column}"))
        .collect();
    let values: Vec<String> = columns
        .iter()
        .map(|column| format!("\"s\".{column}"))
        .collect();
    format!(
        "MERGE INTO {} AS \"d\" USING ({}) AS \"s\" ON {} \
         WHEN MATCHED THEN UPDATE SET {} \
         WHEN NOT MATCHED THEN INSERT ({}) VALUES ({})",
        merge.target(table),
        merge.deduplicated(table, key),
        MergeSql::key_match(key),
        updates.join(", "),
        columns.join(", "),
        values.join(", ")
    )
}
