//! Fits one flattened row into its table: null checks, coercion, new
//! columns and variant columns, then the table's row buffer.

use super::contract::{Verdict, is_new_table};
use super::{Normalizer, RootContext};
use super::infer::{Cell, CoerceError, Scalar, coerce, coerce_owned};
use super::names::Name;
use crate::Error;
use crate::naming::make_path;
use crate::schema::{Column, DataType, Table};

/// dlt columns that the default `not_null` hint covers.
const NOT_NULL_COLUMNS: [&str; 5] = ["_dlt_id", "_dlt_root_id", "_dlt_parent_id", "_dlt_list_idx", "_dlt_load_id"];

/// Applies the hints of dlt's default schema settings to a new column.
///
/// NOTE: these are dlt's defaults as constants; custom `default_hints` or
/// `preferred_types` in the schema settings are not applied.
pub(crate) fn apply_default_hints(column: &mut Column) {
    let name = column.name.as_str();
    if NOT_NULL_COLUMNS.contains(&name) {
        column.nullable = false;
    }
    match name {
        "_dlt_id" => {
            column.unique = Some(true);
            column.row_key = Some(true);
        }
        "_dlt_parent_id" => column.parent_key = Some(true),
        "_dlt_root_id" => column.root_key = Some(true),
        _ => {}
    }
}

impl Normalizer<'_> {
    /// Coerces and buffers one row of `table_name`, creating the table (as a
    /// nested table of `parent`) when it is new. Returns false when the
    /// schema contract dropped the row.
    pub(super) fn write_row<'v>(
        &mut self,
        context: &RootContext,
        table_name: &str,
        parent: Option<&str>,
        fields: Vec<(Name, Scalar<'v>)>,
    ) -> crate::Result<bool> {
        let existing_index = self.schema.tables.get_index_of(table_name);
        let existing = existing_index.and_then(|index| self.schema.tables.get_index(index)).map(|(_, table)| table);
        let table_is_new = match parent {
            None => context.root_is_new,
            Some(_) => is_new_table(existing),
        };
        if is_new_table(existing) && !self.admit_new_table(&context.contract, table_name, 1)? {
            return Ok(false);
        }
        let table_index = match existing_index {
            Some(index) => index,
            None => self.ensure_table(table_name, parent),
        };

        // Every field is fitted even after a `discard_row` verdict, because
        // dlt adds the row's other new columns before it drops the row.
        // Cells hold the column's index in the table until the buffer is known.
        let mut drop_row = false;
        let mut cells: Vec<(usize, Cell<'v>)> = Vec::with_capacity(fields.len());
        for (position, (name, value)) in fields.into_iter().enumerate() {
            if matches!(value, Scalar::Null) {
                self.check_null(table_index, position, &name)?;
                continue;
            }
            let value = match self.fit_existing(table_index, position, &name, value)? {
                Ok(cell) => {
                    cells.push(cell);
                    continue;
                }
                Err(value) => value,
            };
            match self.coerce_field(context, table_name, &name, &value, table_is_new)? {
                Fitted::Cell(name, cell) => {
                    let index = self.schema.tables[table_index].columns.get_index_of(&*name).ok_or_else(|| {
                        Error::Internal(format!("column `{name}` of table `{table_name}` is missing from the schema"))
                    })?;
                    cells.push((index, cell));
                }
                Fitted::DropValue => {}
                Fitted::DropRow => drop_row = true,
            }
        }
        if drop_row {
            self.discard_counts(table_name).rows += 1;
            return Ok(false);
        }

        let output_index = self.output_index(table_index, table_name);
        let table = &self.schema.tables[table_index];
        let output = &mut self.outputs[output_index];
        let buffer = output.buffer_for(table)?;
        for (index, _) in &mut cells {
            *index = buffer.position_of_column(*index).ok_or_else(|| {
                let name = table.columns.get_index(*index).map_or("?", |(name, _)| name.as_str());
                Error::Internal(format!("column `{name}` of table `{table_name}` is missing from its row buffer"))
            })?;
        }
        output.append_row(&mut cells)?;
        Ok(true)
    }

    /// Coerces a value into its existing typed column, the path nearly every
    /// value takes once a table's columns are known. Gives the value back
    /// when the column is new or untyped, or the value needs a variant column.
    fn fit_existing<'v>(
        &mut self,
        table_index: usize,
        position: usize,
        name: &Name,
        value: Scalar<'v>,
    ) -> crate::Result<Result<(usize, Cell<'v>), Scalar<'v>>> {
        let Some(index) = self.column_index(table_index, position, name) else {
            return Ok(Err(value));
        };
        let (table_name, table) = self
            .schema
            .tables
            .get_index(table_index)
            .ok_or_else(|| Error::Internal(format!("table number {table_index} is missing from the schema")))?;
        let Some(column_type) = table.columns.get_index(index).and_then(|(_, column)| column.data_type) else {
            return Ok(Err(value));
        };
        match coerce_owned(column_type, value) {
            Ok(cell) => Ok(Ok((index, cell))),
            Err((CoerceError::Incompatible, value)) => Ok(Err(value)),
            Err((CoerceError::OutOfRange(integer), _)) => Err(out_of_range(table_name, name, &integer)),
        }
    }

    /// Returns the index of column `name` in table number `table_index`.
    ///
    /// Rows of a table mostly list their fields in the same order, so the
    /// column found for the field at `position` of the previous row is
    /// tried first. Names are shared, so that check compares two pointers
    /// instead of hashing the name. Column indices never change during a
    /// run, because columns are only added.
    #[inline]
    fn column_index(&mut self, table_index: usize, position: usize, name: &Name) -> Option<usize> {
        if let Some((known, index)) = self.column_memos.get(table_index).and_then(|memo| memo.get(position))
            && Name::ptr_eq(known, name)
        {
            return Some(*index);
        }
        self.find_column_index(table_index, position, name)
    }

    /// Looks up column `name` by hashing it and remembers it for `position`.
    #[inline(never)]
    fn find_column_index(&mut self, table_index: usize, position: usize, name: &Name) -> Option<usize> {
        let index = self.schema.tables.get_index(table_index)?.1.columns.get_index_of(&**name)?;
        if self.column_memos.len() <= table_index {
            self.column_memos.resize_with(table_index + 1, Vec::new);
        }
        let memo = &mut self.column_memos[table_index];
        if memo.len() <= position {
            memo.resize(position + 1, (name.clone(), index));
        }
        memo[position] = (name.clone(), index);
        Some(index)
    }

    /// Creates the table when it is missing and returns its index in the schema.
    fn ensure_table(&mut self, table_name: &str, parent: Option<&str>) -> usize {
        if let Some(index) = self.schema.tables.get_index_of(table_name) {
            return index;
        }
        let mut table = Table::new(table_name);
        table.parent = parent.map(str::to_owned);
        let (index, _) = self.schema.tables.insert_full(table_name.to_owned(), table);
        self.added_columns.entry(table_name.to_owned()).or_default();
        index
    }

    /// Rejects a null in a non-nullable column; other nulls are dropped, so
    /// a column that only ever had nulls never enters the schema.
    fn check_null(&mut self, table_index: usize, position: usize, name: &Name) -> crate::Result<()> {
        let column_index = self.column_index(table_index, position, name);
        let (table_name, table) = self
            .schema
            .tables
            .get_index(table_index)
            .ok_or_else(|| Error::Internal(format!("table number {table_index} is missing from the schema")))?;
        let column = column_index.and_then(|index| table.columns.get_index(index)).map(|(_, column)| column);
        let non_nullable = match column {
            Some(column) if column.is_complete() => !column.nullable,
            Some(_) => false,
            None => NOT_NULL_COLUMNS.contains(&&**name),
        };
        if non_nullable {
            return Err(Error::Normalize {
                table: table_name.to_owned(),
                message: format!("null value in non-nullable column `{name}`"),
            });
        }
        Ok(())
    }

    /// Coerces a value into its column, or infers a new column, or falls
    /// back to a variant column, as far as the schema contract allows.
    fn coerce_field<'v>(
        &mut self,
        context: &RootContext,
        table_name: &str,
        name: &Name,
        value: &Scalar<'v>,
        table_is_new: bool,
    ) -> crate::Result<Fitted<'v>> {
        let existing_type = self.column_type(table_name, name);

        let Some(column_type) = existing_type else {
            let inferred = value.infer_type();
            let cell = self.check_range(table_name, name, coerce(inferred, value))?;
            let Some(cell) = cell else {
                return Err(Error::Internal(format!(
                    "value of inferred type {inferred} does not coerce into it in column `{name}` of table `{table_name}`"
                )));
            };
            return match self.judge_new_column(&context.contract, table_name, name, inferred, table_is_new)? {
                Verdict::Evolve => {
                    self.add_column(table_name, name, inferred, false);
                    Ok(Fitted::Cell(name.to_string(), cell))
                }
                Verdict::DropValue => Ok(Fitted::DropValue),
                Verdict::DropRow => Ok(Fitted::DropRow),
            };
        };

        if let Some(cell) = self.check_range(table_name, name, coerce(column_type, value))? {
            return Ok(Fitted::Cell(name.to_string(), cell));
        }

        let variant_name = make_path(&[name, &format!("v_{}", value.value_type())]);
        self.coerce_variant(context, table_name, name, variant_name, value)
    }

    fn coerce_variant<'v>(
        &mut self,
        context: &RootContext,
        table_name: &str,
        base_name: &str,
        variant_name: String,
        value: &Scalar<'v>,
    ) -> crate::Result<Fitted<'v>> {
        if let Some(variant_type) = self.column_type(table_name, &variant_name) {
            if let Some(cell) = self.check_range(table_name, &variant_name, coerce(variant_type, value))? {
                return Ok(Fitted::Cell(variant_name, cell));
            }
            return Err(Error::Normalize {
                table: table_name.to_owned(),
                message: format!(
                    "value of type {} fits neither column `{base_name}` nor its variant column `{variant_name}` \
                     of type {variant_type}; dlt creates no variant of a variant column",
                    value.value_type()
                ),
            });
        }

        let inferred = value.infer_type();
        let Some(cell) = self.check_range(table_name, &variant_name, coerce(inferred, value))? else {
            return Err(Error::Internal(format!(
                "value of inferred type {inferred} does not coerce into it in column `{variant_name}` of table `{table_name}`"
            )));
        };
        match self.judge_new_variant(&context.contract, table_name, base_name, &variant_name, inferred)? {
            Verdict::Evolve => {
                self.add_column(table_name, &variant_name, inferred, true);
                Ok(Fitted::Cell(variant_name, cell))
            }
            Verdict::DropValue => Ok(Fitted::DropValue),
            Verdict::DropRow => Ok(Fitted::DropRow),
        }
    }

    /// Maps a coercion result: `Some` on success, `None` when the value needs
    /// a variant, and an error for an integer outside int64.
    #[inline]
    fn check_range<'v>(
        &self,
        table_name: &str,
        column_name: &str,
        result: Result<Cell<'v>, CoerceError>,
    ) -> crate::Result<Option<Cell<'v>>> {
        match result {
            Ok(cell) => Ok(Some(cell)),
            Err(CoerceError::Incompatible) => Ok(None),
            Err(CoerceError::OutOfRange(integer)) => Err(out_of_range(table_name, column_name, &integer)),
        }
    }

    /// Returns the type of a complete column, or `None` when the column is
    /// missing or has no type yet.
    fn column_type(&self, table_name: &str, column_name: &str) -> Option<DataType> {
        self.schema
            .tables
            .get(table_name)
            .and_then(|table| table.columns.get(column_name))
            .and_then(|column| column.data_type)
    }

    /// Adds a new column, or completes an incomplete one keeping its hints.
    pub(super) fn add_column(&mut self, table_name: &str, name: &str, data_type: DataType, variant: bool) {
        let Some(table) = self.schema.tables.get_mut(table_name) else {
            return;
        };

        if let Some(incomplete) = table.columns.get_mut(name) {
            incomplete.data_type = Some(data_type);
        } else {
            let mut column = Column::new(name, data_type);
            apply_default_hints(&mut column);
            if variant {
                column.variant = Some(true);
                column.description = Some(format!("Variant of column {name} generated by dlt"));
            }
            table.columns.insert(name.to_owned(), column);
        }

        self.record_added_column(table_name, name);
    }
}

/// Returns the error for an integer beyond int64 in a `bigint` column.
fn out_of_range(table_name: &str, column_name: &str, integer: &str) -> Error {
    Error::Normalize {
        table: table_name.to_owned(),
        message: format!(
            "integer {integer} in column `{column_name}` is out of range for bigint (int64), the type the \
             column has; write the value as a JSON string to load it as text, or, in a source plugin, declare \
             the column as decimal or wei"
        ),
    }
}

/// The destination of one value of a row.
enum Fitted<'v> {
    /// Into this column, with this cell.
    Cell(String, Cell<'v>),
    /// Nowhere: the schema contract drops the value.
    DropValue,
    /// Nowhere: the schema contract drops the whole row.
    DropRow,
}
