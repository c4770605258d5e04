//! Column and table names of the row normalizer, computed once per distinct
//! input key and shared afterwards.
//!
//! Rows of one source repeat the same keys, so a name is normalized (and
//! joined with its parent path) at its first sight only. Later rows get a
//! reference-counted copy, which costs no allocation.

use std::rc::Rc;

use crate::naming::{make_path, normalize_path};

/// A normalized column or table name.
pub(crate) type Name = Rc<str>;

/// Name of the column that replaces an empty or whitespace-only key.
const EMPTY_KEY: &str = "_empty";

/// A map keyed by raw input text.
type KeyMap<V> = foldhash::HashMap<Box<str>, V>;

/// The dlt columns the normalizer adds, and the columns it wraps values in.
pub(crate) struct DltNames {
    pub load_id: Name,
    pub id: Name,
    pub parent_id: Name,
    pub list_idx: Name,
    /// `value`: a scalar list element, or a root item that is not an object.
    pub value: Name,
    /// `list`: a list nested directly in a list.
    pub list: Name,
}

/// The keys met while flattening the last row of one table, in visiting
/// order, with their names. Rows of a table mostly repeat their keys in the
/// same order, so comparing a key with the one at the same place of the
/// last row is cheaper than hashing it.
#[derive(Default)]
pub(crate) struct RowShape {
    seen: Vec<(Option<Name>, Box<str>, Name)>,
    /// True when a key of the current row differed from the last row's key
    /// at its place, so `unique_names` must be computed again.
    changed: bool,
    /// True when the names in `seen` differ from each other and none starts
    /// with `_dlt_`. A row whose names all come from `seen` then needs no
    /// search for a repeated name or an existing dlt column.
    unique_names: bool,
    /// Two keys of the row, as written, that normalize to the same name,
    /// and that name.
    collision: Option<(String, String, Name)>,
}

impl RowShape {
    /// Returns whether the names of the current row are unique and free of
    /// dlt columns (see `unique_names`). Call it after the row's last
    /// [`NameCache::column_at`]: every name of the row is then in `seen`.
    pub(crate) fn has_unique_names(&mut self) -> bool {
        if self.changed {
            self.unique_names = names_are_unique(&self.seen);
            self.collision = if self.unique_names { None } else { find_collision(&self.seen) };
            self.changed = false;
        }
        self.unique_names
    }

    /// Returns two keys of the current row that become one column, as
    /// computed by [`RowShape::has_unique_names`].
    pub(crate) fn collision(&self) -> Option<&(String, String, Name)> {
        self.collision.as_ref()
    }

    /// Drops the keys of a longer earlier row beyond the `visits` keys of
    /// the current row, so that `seen` contains the current row's keys only.
    pub(crate) fn end_row(&mut self, visits: usize) {
        if self.seen.len() > visits {
            self.seen.truncate(visits);
            self.changed = true;
        }
    }
}

/// Returns the first two keys that normalize to the same name, written as
/// `parent.key` for keys of nested objects. Quadratic, but it runs only when
/// a table's row shape changes and its names are not unique.
fn find_collision(seen: &[(Option<Name>, Box<str>, Name)]) -> Option<(String, String, Name)> {
    let written = |(prefix, key, _): &(Option<Name>, Box<str>, Name)| match prefix {
        Some(prefix) => format!("{prefix}.{key}"),
        None => key.to_string(),
    };
    for (index, entry) in seen.iter().enumerate() {
        if let Some(earlier) = seen[..index].iter().find(|earlier| earlier.2 == entry.2) {
            return Some((written(earlier), written(entry), entry.2.clone()));
        }
    }
    None
}

/// Returns true when no two names are equal and none starts with `_dlt_`.
/// Quadratic, but it runs only when a table's row shape changes.
fn names_are_unique(seen: &[(Option<Name>, Box<str>, Name)]) -> bool {
    for (index, (_, _, name)) in seen.iter().enumerate() {
        if name.starts_with("_dlt_") {
            return false;
        }
        if seen[..index].iter().any(|(_, _, earlier)| earlier == name) {
            return false;
        }
    }
    true
}

/// Caches of normalized names, keyed by the raw input text.
pub(crate) struct NameCache {
    pub dlt: DltNames,
    /// The last row shape per table.
    shapes: KeyMap<RowShape>,
    /// Raw top-level key to its normalized name.
    keys: KeyMap<Name>,
    /// Parent path, then raw key, to the joined path of a nested object's key.
    paths: foldhash::HashMap<Name, KeyMap<Name>>,
    /// Table, then path of a list in it, to the nested table's name.
    tables: KeyMap<KeyMap<Name>>,
    /// Tables and columns whose key collision was reported.
    collisions: foldhash::HashSet<(Box<str>, Name)>,
}

impl NameCache {
    pub(crate) fn new() -> Self {
        NameCache {
            dlt: DltNames {
                load_id: Name::from("_dlt_load_id"),
                id: Name::from("_dlt_id"),
                parent_id: Name::from("_dlt_parent_id"),
                list_idx: Name::from("_dlt_list_idx"),
                value: Name::from("value"),
                list: Name::from("list"),
            },
            shapes: KeyMap::default(),
            keys: KeyMap::default(),
            paths: foldhash::HashMap::default(),
            tables: foldhash::HashMap::default(),
            collisions: foldhash::HashSet::default(),
        }
    }

    /// Returns true the first time a key collision at column `name` of
    /// `table` is seen.
    pub(crate) fn first_collision(&mut self, table: &str, name: &Name) -> bool {
        self.collisions.insert((Box::from(table), name.clone()))
    }

    /// Returns the normalized name of a raw key, under `prefix` when the key
    /// belongs to a nested object.
    pub(crate) fn column(&mut self, prefix: Option<&Name>, key: &str) -> Name {
        let Some(prefix) = prefix else {
            return self.key(key);
        };
        if let Some(name) = self.paths.get(prefix).and_then(|names| names.get(key)) {
            return name.clone();
        }

        let joined = Name::from(make_path(&[prefix, &self.key(key)]));
        self.paths
            .entry(prefix.clone())
            .or_default()
            .insert(Box::from(key), joined.clone());
        joined
    }

    /// Takes the last row shape of `table` (empty at first); give it back
    /// with [`Self::put_shape`].
    pub(crate) fn take_shape(&mut self, table: &str) -> RowShape {
        self.shapes.get_mut(table).map(std::mem::take).unwrap_or_default()
    }

    pub(crate) fn put_shape(&mut self, table: &str, shape: RowShape) {
        match self.shapes.get_mut(table) {
            Some(slot) => *slot = shape,
            None => {
                self.shapes.insert(Box::from(table), shape);
            }
        }
    }

    /// Returns [`Self::column`] for the key visited `visit`-th in a row,
    /// trying first the key visited at that place in the last row of `shape`.
    pub(crate) fn column_at(&mut self, shape: &mut RowShape, visit: usize, prefix: Option<&Name>, key: &str) -> Name {
        if let Some((seen_prefix, seen_key, name)) = shape.seen.get(visit)
            && **seen_key == *key
            && same_prefix(seen_prefix.as_ref(), prefix)
        {
            return name.clone();
        }

        let name = self.column(prefix, key);
        let entry = (prefix.cloned(), Box::from(key), name.clone());
        match shape.seen.get_mut(visit) {
            Some(slot) => *slot = entry,
            None => shape.seen.push(entry),
        }
        shape.changed = true;
        name
    }

    /// Returns the name of the nested table that contains list `path` of `table`.
    pub(crate) fn child_table(&mut self, table: &str, path: &str) -> Name {
        if let Some(name) = self.tables.get(table).and_then(|names| names.get(path)) {
            return name.clone();
        }

        let joined = Name::from(make_path(&[table, path]));
        self.tables
            .entry(Box::from(table))
            .or_default()
            .insert(Box::from(path), joined.clone());
        joined
    }

    fn key(&mut self, key: &str) -> Name {
        if let Some(name) = self.keys.get(key) {
            return name.clone();
        }
        let name = if key.trim().is_empty() {
            Name::from(EMPTY_KEY)
        } else {
            Name::from(normalize_path(key))
        };
        self.keys.insert(Box::from(key), name.clone());
        name
    }
}

fn same_prefix(a: Option<&Name>, b: Option<&Name>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Name::ptr_eq(a, b) || a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Visits `keys` as one top-level row of `shape` and ends the row.
    fn visit_row(names: &mut NameCache, shape: &mut RowShape, keys: &[&str]) {
        for (visit, key) in keys.iter().enumerate() {
            names.column_at(shape, visit, None, key);
        }
        shape.end_row(keys.len());
    }

    #[test]
    fn colliding_keys_found() {
        let mut names = NameCache::new();
        let mut shape = RowShape::default();

        visit_row(&mut names, &mut shape, &["id", "userId", "user_id"]);

        assert!(!shape.has_unique_names());
        let (first, second, name) = shape.collision().expect("a collision");
        assert_eq!((first.as_str(), second.as_str(), &**name), ("userId", "user_id", "user_id"));
    }

    #[test]
    fn longer_earlier_row_leaves_no_collision() {
        let mut names = NameCache::new();
        let mut shape = RowShape::default();
        visit_row(&mut names, &mut shape, &["user_id", "userId"]);
        assert!(!shape.has_unique_names());

        visit_row(&mut names, &mut shape, &["user_id"]);

        assert!(shape.has_unique_names());
        assert!(shape.collision().is_none());
    }

    #[test]
    fn nested_key_joins_parent_path() {
        let mut names = NameCache::new();
        let device = names.column(None, "Device");
        assert_eq!(&*device, "device");
        assert_eq!(&*names.column(Some(&device), "OS Name"), "device__os_name");
    }

    #[test]
    fn repeated_key_shares_the_name() {
        let mut names = NameCache::new();
        let first = names.column(None, "userId");
        let second = names.column(None, "userId");
        assert!(Rc::ptr_eq(&first, &second));
    }

    #[test]
    fn blank_key_becomes_empty_column() {
        let mut names = NameCache::new();
        assert_eq!(&*names.column(None, "  "), "_empty");
    }

    #[test]
    fn row_shape_follows_changed_keys() {
        let mut names = NameCache::new();
        let mut shape = names.take_shape("events");
        let device = names.column_at(&mut shape, 0, None, "device");
        assert_eq!(&*names.column_at(&mut shape, 1, Some(&device), "os"), "device__os");
        names.put_shape("events", shape);

        // The next row has other keys at the same places.
        let mut shape = names.take_shape("events");
        assert_eq!(&*names.column_at(&mut shape, 0, None, "Device"), "device");
        assert_eq!(&*names.column_at(&mut shape, 1, None, "os"), "os");
        assert_eq!(&*names.column_at(&mut shape, 1, Some(&device), "os"), "device__os");
    }

    #[test]
    fn child_table_joins_table_and_path() {
        let mut names = NameCache::new();
        assert_eq!(&*names.child_table("events", "items"), "events__items");
        assert_eq!(&*names.child_table("events", "items"), "events__items");
    }
}
