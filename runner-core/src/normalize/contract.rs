//! Enforces schema contracts where the normalizer decides on new tables,
//! new columns and variant columns, following dlt 1.31's
//! `Schema.apply_schema_contract`.

use super::Normalizer;
use crate::Error;
use crate::schema::{ContractMode, DataType, SCHEMA_CONTRACT_HINT, SchemaContract, Table};

/// Prefix of dlt's own columns, which every contract allows.
const DLT_COLUMN_PREFIX: &str = "_dlt";

/// The outcome of a contract check on a value that would change the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Change the schema and keep the value.
    Evolve,
    /// Keep the schema and drop the value.
    DropValue,
    /// Keep the schema and drop the whole row.
    DropRow,
}

/// Rows and values dropped by `discard_*` contracts in one table.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct DiscardCounts {
    pub rows: u64,
    pub values: u64,
}

/// Reads the contract of a root table from its `schema_contract` hint;
/// nested tables follow their root.
pub(super) fn table_contract(table: &Table) -> crate::Result<SchemaContract> {
    match table.extra.get(SCHEMA_CONTRACT_HINT) {
        Some(hint) => SchemaContract::from_hint(hint).map_err(|error| Error::Normalize {
            table: table.name.clone(),
            message: error.to_string(),
        }),
        None => Ok(SchemaContract::default()),
    }
}

/// Returns true while a table has no column with a data type, which is
/// dlt's `Schema.is_new_table`: such a table has never received data.
pub(super) fn is_new_table(table: Option<&Table>) -> bool {
    table.is_none_or(|table| !table.columns.values().any(|column| column.is_complete()))
}

/// True when the `columns` entity lets `column_name` join the table
/// whatever its values: the table is new or the column is one of dlt's own.
fn takes_any_column(column_name: &str, table_is_new: bool) -> bool {
    table_is_new || column_name.starts_with(DLT_COLUMN_PREFIX)
}

/// True when `contract` lets `column_name` be added without a check of its
/// values, so a Parquet job can pass without decoding its rows.
pub(super) fn column_evolves(contract: &SchemaContract, column_name: &str, table_is_new: bool) -> bool {
    takes_any_column(column_name, table_is_new) || contract.columns == ContractMode::Evolve
}

impl Normalizer<'_> {
    /// Applies the `tables` entity to `rows` rows of a new table. Returns
    /// false when the rows must be dropped.
    pub(super) fn admit_new_table(&mut self, contract: &SchemaContract, table_name: &str, rows: u64) -> crate::Result<bool> {
        match contract.tables {
            ContractMode::Evolve => Ok(true),
            ContractMode::Freeze => Err(Error::ContractViolation {
                table: table_name.to_owned(),
                column: None,
                data_type: None,
                entity: "tables",
                message: format!("the table `{table_name}` is new and may not be created"),
            }),
            ContractMode::DiscardRow | ContractMode::DiscardValue => {
                self.discard_counts(table_name).rows += rows;
                Ok(false)
            }
        }
    }

    /// Applies the `columns` entity to a value that would add `column_name`.
    /// New tables take any column, as do dlt's own columns.
    pub(super) fn judge_new_column(
        &mut self,
        contract: &SchemaContract,
        table_name: &str,
        column_name: &str,
        data_type: DataType,
        table_is_new: bool,
    ) -> crate::Result<Verdict> {
        if takes_any_column(column_name, table_is_new) {
            return Ok(Verdict::Evolve);
        }
        self.judge(contract.columns, "columns", table_name, column_name, data_type, || {
            format!("the column `{column_name}` is new and may not be added")
        })
    }

    /// Applies the `data_type` entity to a value that would create the
    /// variant column `variant_name` of `column_name`.
    pub(super) fn judge_new_variant(
        &mut self,
        contract: &SchemaContract,
        table_name: &str,
        column_name: &str,
        variant_name: &str,
        data_type: DataType,
    ) -> crate::Result<Verdict> {
        self.judge(contract.data_type, "data_type", table_name, column_name, data_type, || {
            format!("the value does not fit the column's type and may not create the variant column `{variant_name}`")
        })
    }

    fn judge(
        &mut self,
        mode: ContractMode,
        entity: &'static str,
        table_name: &str,
        column_name: &str,
        data_type: DataType,
        message: impl FnOnce() -> String,
    ) -> crate::Result<Verdict> {
        match mode {
            ContractMode::Evolve => Ok(Verdict::Evolve),
            ContractMode::Freeze => Err(Error::ContractViolation {
                table: table_name.to_owned(),
                column: Some(column_name.to_owned()),
                data_type: Some(data_type.to_string()),
                entity,
                message: message(),
            }),
            ContractMode::DiscardRow => Ok(Verdict::DropRow),
            ContractMode::DiscardValue => {
                self.discard_counts(table_name).values += 1;
                Ok(Verdict::DropValue)
            }
        }
    }

    pub(super) fn discard_counts(&mut self, table_name: &str) -> &mut DiscardCounts {
        self.discarded.entry(table_name.to_owned()).or_default()
    }

    /// Logs, once per table and package, how much data the contract dropped.
    pub(super) fn log_discarded(&self) {
        for (table, counts) in &self.discarded {
            tracing::warn!(
                table = %table,
                rows = counts.rows,
                values = counts.values,
                load_id = %self.options.load_id,
                "discarded data that breaks the schema contract"
            );
        }
    }
}
