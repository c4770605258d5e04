//! dlt's relational normalizer: flattens objects with `__`, turns lists into
//! nested tables and adds the dlt columns and row ids.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::infer::Scalar;
use super::json::JsonValue;
use super::names::Name;
use super::{Normalizer, RootContext};
use crate::Error;
use crate::schema::DataType;

/// Nesting budget when neither the table nor the options set one (dlt's default).
const DEFAULT_MAX_NESTING: i64 = 1000;

/// Merge strategies for which dlt propagates the root `_dlt_id` into nested
/// tables as `_dlt_root_id` (`None` is the default, delete-insert).
const ROOT_KEY_STRATEGIES: [&str; 4] = ["delete-insert", "upsert", "insert-only", "cdc"];

/// Merge strategies whose root `_dlt_id` is a hash of the primary key.
const KEY_HASH_STRATEGIES: [&str; 3] = ["upsert", "insert-only", "cdc"];

type Fields<'v> = Vec<(Name, Scalar<'v>)>;
type Lists<'v> = Vec<(Name, &'v [JsonValue<'v>])>;
type Entries<'v> = [(Cow<'v, str>, JsonValue<'v>)];

impl Normalizer<'_> {
    /// Normalizes one item of `root_table`; items that are not objects are
    /// wrapped as `{"value": item}`.
    pub(super) fn normalize_item<'v>(&mut self, root_table: &str, item: &'v JsonValue<'v>) -> crate::Result<()> {
        let context = self.root_context(root_table)?;

        let wrapped;
        let object: &Entries<'_> = match item {
            JsonValue::Object(object) => object,
            other => {
                wrapped = [(Cow::Borrowed("value"), other.clone())];
                &wrapped
            }
        };

        let flattened = self.flatten(root_table, object, context.max_nesting);
        let row = RowPosition {
            table: root_table,
            nested_table: None,
            parent: None,
            parent_id: None,
            index: 0,
        };
        self.emit_row(&context, row, flattened, &[], context.max_nesting)
    }

    /// Resolves (once per root table) the nesting budget, root key
    /// propagation and row id kind, and records the propagation in the
    /// schema's normalizer config as dlt does.
    fn root_context(&mut self, root_table: &str) -> crate::Result<RootContext> {
        if let Some(context) = self.roots.get(root_table) {
            return Ok(context.clone());
        }

        let table = self.schema.tables.get(root_table).ok_or_else(|| Error::Normalize {
            table: root_table.to_owned(),
            message: "the root table is not in the schema; extract must create it before normalize".to_owned(),
        })?;

        let contract = super::contract::table_contract(table)?;
        let root_is_new = super::contract::is_new_table(Some(table));

        let table_nesting = table
            .x_normalizer
            .as_ref()
            .and_then(|hints| hints.get("max_nesting"))
            .and_then(Value::as_i64);
        let max_nesting = table_nesting
            .or(self.options.max_nesting.map(i64::from))
            .unwrap_or(DEFAULT_MAX_NESTING);

        let is_merge = table.write_disposition.as_deref() == Some("merge");
        let strategy = table.extra.get("x-merge-strategy").and_then(Value::as_str);
        let strategy = strategy.unwrap_or("delete-insert");
        let key_hash_columns = (is_merge && KEY_HASH_STRATEGIES.contains(&strategy)).then(|| {
            table
                .columns
                .values()
                .filter(|column| column.primary_key == Some(true))
                .map(|column| column.name.clone())
                .collect::<Vec<_>>()
        });

        let config = self.schema.normalizers.pointer("/json/config");
        let explicit_propagation = config.and_then(|c| c.get("root_key_propagation")).and_then(Value::as_bool);
        let needs_root_key = explicit_propagation.unwrap_or(is_merge && ROOT_KEY_STRATEGIES.contains(&strategy));
        if needs_root_key {
            self.record_root_key_propagation(root_table);
        }

        let propagation = self.propagation_mapping(root_table);
        let context = RootContext {
            max_nesting,
            propagation,
            key_hash_columns,
            contract,
            root_is_new,
        };
        self.roots.insert(root_table.to_owned(), context.clone());
        Ok(context)
    }

    /// Writes `propagation.tables.<root> = {"_dlt_id": "_dlt_root_id"}` into
    /// the normalizer config unless a mapping for the root exists.
    fn record_root_key_propagation(&mut self, root_table: &str) {
        let Some(normalizers) = self.schema.normalizers.as_object_mut() else {
            return;
        };
        let json = normalizers.entry("json").or_insert_with(|| Value::Object(Map::new()));
        let Some(json) = json.as_object_mut() else {
            return;
        };
        let config = json.entry("config").or_insert_with(|| Value::Object(Map::new()));
        let Some(config) = config.as_object_mut() else {
            return;
        };
        let propagation = config.entry("propagation").or_insert_with(|| Value::Object(Map::new()));
        let Some(propagation) = propagation.as_object_mut() else {
            return;
        };
        let tables = propagation.entry("tables").or_insert_with(|| Value::Object(Map::new()));
        if let Some(tables) = tables.as_object_mut() {
            tables
                .entry(root_table)
                .or_insert_with(|| serde_json::json!({"_dlt_id": "_dlt_root_id"}));
        }
    }

    /// Returns the (from, to) columns propagated from a root row: the
    /// config's `root` mapping plus `tables.<root>`.
    ///
    /// NOTE: mappings configured for nested tables are not applied.
    fn propagation_mapping(&self, root_table: &str) -> Vec<(String, Name)> {
        let Some(propagation) = self.schema.normalizers.pointer("/json/config/propagation") else {
            return Vec::new();
        };

        let mut mapping = Vec::new();
        let root = propagation.get("root").and_then(Value::as_object);
        let table = propagation
            .get("tables")
            .and_then(|tables| tables.get(root_table))
            .and_then(Value::as_object);
        for (from, to) in root.into_iter().chain(table).flatten() {
            if let Some(to) = to.as_str() {
                mapping.retain(|(existing, _): &(String, Name)| existing != from);
                mapping.push((from.clone(), Name::from(to)));
            }
        }
        mapping
    }

    /// Flattens one object into scalar fields and nested lists.
    ///
    /// Scalars and lists are taken in input order. Nested objects go on a
    /// stack and are expanded afterwards, last-seen first, which fixes dlt's
    /// column order. Objects and lists at the end of the nesting budget, or
    /// under a column already typed `json`, stay inline.
    fn flatten<'v>(&mut self, table: &str, object: &'v Entries<'v>, r_lvl: i64) -> Flattened<'v> {
        let mut fields: Fields<'v> = Vec::with_capacity(object.len() + 3);
        let mut lists: Lists<'v> = Vec::new();
        // Allocates only for rows with nested objects.
        let mut stack: Vec<(&'v Entries<'v>, i64, Option<Name>)> = Vec::new();
        let mut shape = self.names.take_shape(table);
        let mut visit = 0;

        let mut next = Some((object, r_lvl, None));
        while let Some((current, level, prefix)) = next {
            for (key, value) in current {
                let name = self.names.column_at(&mut shape, visit, prefix.as_ref(), key);
                visit += 1;

                match value {
                    JsonValue::Object(nested) if !self.is_nested_type(table, &name, level) => {
                        stack.push((nested, level - 1, Some(name)));
                    }
                    JsonValue::Array(items) if !self.is_nested_type(table, &name, level) => {
                        lists.push((name, items.as_slice()));
                    }
                    _ => fields.push((name, Scalar::from_json(value))),
                }
            }
            next = stack.pop();
        }

        // Two keys can normalize to one name (`a__b` and `a: {b}`). Rows
        // whose names are known to be unique skip the search that merges them.
        shape.end_row(visit);
        let unique_names = shape.has_unique_names();
        if !unique_names && let Some((first, second, name)) = shape.collision() {
            // dlt keeps the last value without a word. A warning per table
            // and column at least reports that values are dropped.
            if self.names.first_collision(table, name) {
                tracing::warn!(
                    table,
                    column = %&**name,
                    first_key = %first,
                    second_key = %second,
                    "two keys of a row become the same column, and only the last value is kept; rename one of them in the input"
                );
            }
        }
        self.names.put_shape(table, shape);
        if !unique_names {
            fields = merge_repeated_fields(fields);
        }
        Flattened {
            fields,
            lists,
            unique_names,
        }
    }

    /// Returns true when a value at `name` must stay inline as `json`.
    fn is_nested_type(&self, table: &str, name: &str, r_lvl: i64) -> bool {
        if r_lvl <= 0 {
            return true;
        }
        let column_type = self
            .schema
            .tables
            .get(table)
            .and_then(|t| t.columns.get(name))
            .and_then(|column| column.data_type);
        column_type == Some(DataType::Json)
    }

    /// Adds the dlt columns to a flattened row, writes it, then descends into
    /// its lists.
    fn emit_row<'v>(
        &mut self,
        context: &RootContext,
        row: RowPosition<'_>,
        flattened: Flattened<'v>,
        extend: &[(Name, Scalar<'v>)],
        r_lvl: i64,
    ) -> crate::Result<()> {
        let Flattened {
            mut fields,
            lists,
            unique_names,
        } = flattened;
        for (name, value) in extend {
            set_field(&mut fields, name.clone(), value.clone());
        }
        // Without propagated columns, a row of unique names has no dlt
        // column yet, so the dlt columns are appended without a search.
        let search_names = !(unique_names && extend.is_empty());

        let is_root = row.parent.is_none();
        if is_root {
            let load_id = Scalar::Text(Cow::Owned(self.options.load_id.clone()));
            add_field(&mut fields, self.names.dlt.load_id.clone(), load_id, search_names);
        }

        // A nested row without lists needs its id only in its own column, so
        // it is hashed when its batch is encoded: on the encoder thread if
        // there is one, else four ids at a time.
        let defer_id = lists.is_empty();
        let existing_id = if search_names { existing_row_id(&fields) } else { None };
        let row_id = match existing_id {
            Some(row_id) => row_id,
            None => self.add_row_id(context, &row, &mut fields, defer_id, search_names)?,
        };

        // Root rows pass their propagated columns (the root key) down.
        let root_extend;
        let extend = if is_root && !context.propagation.is_empty() {
            root_extend = propagated_values(&context.propagation, &fields);
            root_extend.as_slice()
        } else {
            extend
        };

        // A row the schema contract drops takes its nested rows with it.
        if !self.write_row(context, row.table, row.parent, fields)? {
            return Ok(());
        }

        for (position, (path, items)) in lists.iter().enumerate() {
            let first_index = if unique_names { 0 } else { items_before(&lists[..position], path) };
            let child_table = self.names.child_table(row.table, path);
            self.normalize_list(context, &child_table, row.table, items, first_index, extend, &row_id, r_lvl - 1)?;
        }
        Ok(())
    }

    /// Adds `_dlt_parent_id`, `_dlt_list_idx` and `_dlt_id` to a nested row,
    /// or `_dlt_id` to a root row, and returns the id. With `defer`, a nested
    /// row's id is hashed when its batch is encoded and the returned id is
    /// empty. Without `search_names`, the columns are appended without a
    /// search.
    fn add_row_id(
        &self,
        context: &RootContext,
        row: &RowPosition<'_>,
        fields: &mut Fields<'_>,
        defer: bool,
        search_names: bool,
    ) -> crate::Result<String> {
        let dlt = &self.names.dlt;
        let row_id = match row.parent_id {
            Some(parent_id) => {
                let parent_value = Scalar::Text(Cow::Owned(parent_id.to_owned()));
                add_field(fields, dlt.parent_id.clone(), parent_value, search_names);
                add_field(fields, dlt.list_idx.clone(), Scalar::Int(row.index as i128), search_names);
                if defer {
                    let pending = Scalar::PendingRowId {
                        parent_id: parent_id.to_owned(),
                        table: row.nested_table.cloned().unwrap_or_else(|| Name::from(row.table)),
                        index: row.index,
                    };
                    add_field(fields, dlt.id.clone(), pending, search_names);
                    return Ok(String::new());
                }
                crate::load_id::nested_row_id(parent_id, row.table, row.index)
            }
            None => match &context.key_hash_columns {
                Some(columns) => key_hash(row.table, columns, fields)?,
                None => crate::load_id::new_row_id(),
            },
        };

        add_field(fields, dlt.id.clone(), Scalar::Text(Cow::Owned(row_id.clone())), search_names);
        Ok(row_id)
    }

    /// Writes each list element as a row of `table`: objects are flattened,
    /// lists go through a `list` intermediary and scalars become `value`.
    /// List indices start at `first_index`.
    #[allow(clippy::too_many_arguments)]
    fn normalize_list<'v>(
        &mut self,
        context: &RootContext,
        table: &Name,
        parent_table: &str,
        items: &'v [JsonValue<'v>],
        first_index: usize,
        extend: &[(Name, Scalar<'v>)],
        parent_id: &str,
        r_lvl: i64,
    ) -> crate::Result<()> {
        for (index, item) in (first_index..).zip(items) {
            let row = RowPosition {
                table,
                nested_table: Some(table),
                parent: Some(parent_table),
                parent_id: Some(parent_id),
                index,
            };

            match item {
                JsonValue::Object(object) => {
                    let flattened = self.flatten(table, object, r_lvl);
                    self.emit_row(context, row, flattened, extend, r_lvl)?;
                }
                JsonValue::Array(inner) => {
                    // dlt wraps the inner list as `{"list": inner}` one level deeper.
                    let level = r_lvl - 1;
                    let (fields, lists) = if self.is_nested_type(table, "list", level) {
                        (vec![(self.names.dlt.list.clone(), Scalar::from_json(item))], Vec::new())
                    } else {
                        (Vec::new(), vec![(self.names.dlt.list.clone(), inner.as_slice())])
                    };
                    self.emit_row(context, row, Flattened::searched(fields, lists), extend, level)?;
                }
                scalar => {
                    let fields = vec![(self.names.dlt.value.clone(), Scalar::from_json(scalar))];
                    self.emit_row(context, row, Flattened::searched(fields, Vec::new()), extend, r_lvl)?;
                }
            }
        }
        Ok(())
    }
}

/// The fields and nested lists of one row.
struct Flattened<'v> {
    fields: Fields<'v>,
    lists: Lists<'v>,
    /// True when no two fields or lists share a name and no name starts
    /// with `_dlt_`, so dlt columns can be appended without a search.
    unique_names: bool,
}

impl<'v> Flattened<'v> {
    /// Wraps fields and lists whose names are not known to be unique.
    fn searched(fields: Fields<'v>, lists: Lists<'v>) -> Self {
        Flattened {
            fields,
            lists,
            unique_names: false,
        }
    }
}

/// Where a row sits: its table, parent table and parent row.
struct RowPosition<'a> {
    table: &'a str,
    /// The table's shared name, for nested rows.
    nested_table: Option<&'a Name>,
    parent: Option<&'a str>,
    parent_id: Option<&'a str>,
    index: usize,
}

/// Sets a field like a Python dict assignment: an existing name keeps its
/// position and takes the new value.
fn set_field<'v>(fields: &mut Fields<'v>, name: Name, value: Scalar<'v>) {
    match fields.iter_mut().find(|(existing, _)| Name::ptr_eq(existing, &name) || *existing == name) {
        Some(slot) => slot.1 = value,
        None => fields.push((name, value)),
    }
}

/// Adds a field with [`set_field`] when `search` is set, else appends it:
/// the caller knows that `fields` lacks the name.
fn add_field<'v>(fields: &mut Fields<'v>, name: Name, value: Scalar<'v>, search: bool) {
    if search {
        set_field(fields, name, value);
    } else {
        fields.push((name, value));
    }
}

/// Applies [`set_field`] to each field in turn: a repeated name keeps its
/// first position and its last value.
fn merge_repeated_fields(fields: Fields<'_>) -> Fields<'_> {
    let mut merged = Vec::with_capacity(fields.len() + 3);
    for (name, value) in fields {
        set_field(&mut merged, name, value);
    }
    merged
}

/// Returns the number of items in the lists of `earlier` named `name`.
///
/// Two keys that normalize to one name (`a__b` and `a: {b}`, `l` and `L`)
/// feed one nested table, so their lists share one numbering, and each row
/// gets its own list index and row id. dlt numbers each list from 0, which
/// gives two rows the same `_dlt_id`.
fn items_before(earlier: &[(Name, &[JsonValue<'_>])], name: &Name) -> usize {
    earlier
        .iter()
        .filter(|(existing, _)| Name::ptr_eq(existing, name) || existing == name)
        .map(|(_, items)| items.len())
        .sum()
}

/// Returns a `_dlt_id` the row already carries, which dlt keeps.
fn existing_row_id(fields: &Fields<'_>) -> Option<String> {
    let (_, value) = fields.iter().find(|(name, _)| &**name == "_dlt_id")?;
    let id = match value {
        Scalar::Null => return None,
        Scalar::Bool(false) | Scalar::Int(0) => return None,
        other => super::infer::to_text(other),
    };
    (!id.is_empty()).then(|| id.into_owned())
}

fn propagated_values<'v>(mapping: &[(String, Name)], fields: &Fields<'v>) -> Vec<(Name, Scalar<'v>)> {
    let mut values = Vec::with_capacity(mapping.len());
    for (from, to) in mapping {
        if let Some((_, value)) = fields.iter().find(|(name, _)| **name == **from) {
            values.push((to.clone(), value.clone()));
        }
    }
    values
}

/// Computes the key-hash `_dlt_id` from the compact JSON of `{pk: value}`
/// with sorted keys.
///
/// NOTE: values are rendered by serde_json; floats and typed values may
/// render differently from Python's orjson, so their hashes can differ from
/// dlt's. Integers and strings match.
fn key_hash(table: &str, columns: &[String], fields: &Fields<'_>) -> crate::Result<String> {
    let mut sorted: Vec<&String> = columns.iter().collect();
    sorted.sort();

    let mut key = Map::with_capacity(sorted.len());
    for column in sorted {
        let value = fields.iter().find(|(name, _)| **name == **column).map(|(_, v)| v);
        let json = match value {
            Some(Scalar::Null) | None => {
                return Err(Error::Normalize {
                    table: table.to_owned(),
                    message: format!("missing primary key column `{column}`, which the row id hash needs"),
                });
            }
            Some(Scalar::Bool(b)) => Value::Bool(*b),
            Some(Scalar::Int(i)) => serde_json::from_str(&i.to_string()).unwrap_or(Value::Null),
            Some(Scalar::Float(f)) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Some(Scalar::Json(json)) => json.to_value(),
            Some(other) => Value::String(super::infer::to_text(other).into_owned()),
        };
        key.insert(column.clone(), json);
    }

    Ok(crate::load_id::key_hash_row_id(&Value::Object(key).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hash_of_id_one() {
        let fields = vec![(Name::from("id"), Scalar::Int(1))];
        let hash = key_hash("ups", &["id".to_owned()], &fields).unwrap();
        assert_eq!(hash, "z5jIxXIbUnmbKw");
    }

    #[test]
    fn set_field_keeps_position() {
        let mut fields = vec![(Name::from("a"), Scalar::Int(1)), (Name::from("b"), Scalar::Int(2))];
        set_field(&mut fields, Name::from("a"), Scalar::Int(3));
        assert_eq!(&*fields[0].0, "a");
        assert!(matches!(fields[0].1, Scalar::Int(3)));
    }
}
