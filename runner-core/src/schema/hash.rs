//! The schema `version_hash` and version bumping, as in dlt 1.31.
//!
//! The hash is SHA3-256 over the compact, key-sorted JSON of the stored
//! schema without `version`, `version_hash`, `imported_version_hash` and
//! `previous_hashes`, followed by each table name in sorted order and its
//! column names in column order (no separators). It is written as standard
//! base64 with padding (44 characters). Column order therefore changes the
//! hash, while table order and the key order inside a table do not.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha3::{Digest, Sha3_256};

use super::json_text::to_compact_string;
use super::{MAX_PREVIOUS_HASHES, Schema};

/// Top-level keys that the hash leaves out.
const UNHASHED_KEYS: [&str; 4] = [
    "version",
    "version_hash",
    "imported_version_hash",
    "previous_hashes",
];

impl Schema {
    /// Computes the content hash that dlt stores as `version_hash`.
    pub fn compute_hash(&self) -> String {
        document_hash(&self.to_value())
    }

    /// Recomputes the hash and, when the content changed, increments
    /// `version` and records the old hash in `previous_hashes`.
    ///
    /// Returns true when `version_hash` changed. The first hash of a schema
    /// (empty `version_hash`) is stored without a bump: the version becomes 1
    /// unless it is already set, and `previous_hashes` stays as it is.
    pub fn bump_version(&mut self) -> bool {
        let hash = self.compute_hash();

        if self.version_hash.is_empty() {
            if self.version == 0 {
                self.version = 1;
            }
            self.version_hash = hash;
            return true;
        }
        if hash == self.version_hash {
            return false;
        }

        let previous = std::mem::replace(&mut self.version_hash, hash);
        self.version += 1;
        self.remember_previous_hash(previous);
        true
    }

    /// Pushes `hash` to the front of `previous_hashes`, unless it is there
    /// already, and keeps the newest [`MAX_PREVIOUS_HASHES`] entries.
    fn remember_previous_hash(&mut self, hash: String) {
        if self.previous_hashes.contains(&hash) {
            return;
        }
        self.previous_hashes.insert(0, hash);
        self.previous_hashes.truncate(MAX_PREVIOUS_HASHES);
    }
}

/// Computes the schema hash of a stored schema document, for example the
/// `schema` column of a `_dlt_version` row.
pub fn document_hash(document: &Value) -> String {
    let mut hashed = document.clone();
    if let Value::Object(map) = &mut hashed {
        for key in UNHASHED_KEYS {
            map.shift_remove(key);
        }
    }

    let mut hasher = Sha3_256::new();
    hasher.update(to_compact_string(&hashed, true).as_bytes());

    let tables = hashed.get("tables").and_then(Value::as_object);
    let mut table_names: Vec<&String> = tables
        .map(|tables| tables.keys().collect())
        .unwrap_or_default();
    table_names.sort();
    for table_name in table_names {
        hasher.update(table_name.as_bytes());
        let columns = tables
            .and_then(|tables| tables.get(table_name))
            .and_then(|table| table.get("columns"))
            .and_then(Value::as_object);
        for column_name in columns.into_iter().flat_map(|columns| columns.keys()) {
            hasher.update(column_name.as_bytes());
        }
    }

    STANDARD.encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, DataType, Table};

    /// `dlt.Schema("x").to_dict()["version_hash"]` in dlt 1.31.
    const FRESH_X_HASH: &str = "EXjV++XaDVaW3hBQfQlYfYzPzek5EXlsSaX1iwv6l+I=";

    fn table_with_columns(name: &str, columns: &[&str]) -> Table {
        let mut table = Table::new(name);
        for column in columns {
            table
                .columns
                .insert((*column).to_owned(), Column::new(*column, DataType::Text));
        }
        table
    }

    #[test]
    fn fresh_schema_hash() {
        assert_eq!(Schema::new("x").compute_hash(), FRESH_X_HASH);
    }

    #[test]
    fn hash_ignores_version_keys() {
        let mut schema = Schema::new("x");
        schema.version = 7;
        schema.previous_hashes.push("old".to_owned());
        schema.extra.insert(
            "imported_version_hash".to_owned(),
            Value::String("imp".to_owned()),
        );
        assert_eq!(schema.compute_hash(), FRESH_X_HASH);
    }

    #[test]
    fn hash_depends_on_column_order() {
        let mut forward = Schema::new("x");
        forward
            .tables
            .insert("t".to_owned(), table_with_columns("t", &["a", "b"]));
        let mut backward = Schema::new("x");
        backward
            .tables
            .insert("t".to_owned(), table_with_columns("t", &["b", "a"]));
        assert_ne!(forward.compute_hash(), backward.compute_hash());
    }

    #[test]
    fn hash_ignores_table_order() {
        let mut first = Schema::new("x");
        first
            .tables
            .insert("t1".to_owned(), table_with_columns("t1", &["a"]));
        first
            .tables
            .insert("t2".to_owned(), table_with_columns("t2", &["b"]));
        let mut second = Schema::new("x");
        second
            .tables
            .insert("t2".to_owned(), table_with_columns("t2", &["b"]));
        second
            .tables
            .insert("t1".to_owned(), table_with_columns("t1", &["a"]));
        assert_eq!(first.compute_hash(), second.compute_hash());
    }

    #[test]
    fn bump_first_hash() {
        let mut schema = Schema::new("x");
        schema.version = 0;
        schema.version_hash.clear();
        assert!(schema.bump_version());
        assert_eq!(schema.version, 1);
        assert_eq!(schema.version_hash, FRESH_X_HASH);
        assert!(schema.previous_hashes.is_empty());
    }

    #[test]
    fn bump_unchanged() {
        let mut schema = Schema::new("x");
        assert!(!schema.bump_version());
        assert_eq!(schema.version, 1);
    }

    #[test]
    fn bump_changed() {
        let mut schema = Schema::new("x");
        schema
            .tables
            .insert("t".to_owned(), table_with_columns("t", &["a"]));
        assert!(schema.bump_version());
        assert_eq!(schema.version, 2);
        assert_eq!(schema.previous_hashes, vec![FRESH_X_HASH.to_owned()]);
        assert_ne!(schema.version_hash, FRESH_X_HASH);
    }

    #[test]
    fn previous_hashes_capped() {
        let mut schema = Schema::new("x");
        for index in 0..15 {
            let name = format!("t{index}");
            schema
                .tables
                .insert(name.clone(), table_with_columns(&name, &["a"]));
            schema.bump_version();
        }
        assert_eq!(schema.version, 16);
        assert_eq!(schema.previous_hashes.len(), MAX_PREVIOUS_HASHES);
    }

    #[test]
    fn previous_hashes_no_duplicates() {
        let mut schema = Schema::new("x");
        schema
            .tables
            .insert("t".to_owned(), table_with_columns("t", &["a"]));
        schema.bump_version();
        schema.tables.shift_remove("t");
        schema.bump_version();
        schema
            .tables
            .insert("t".to_owned(), table_with_columns("t", &["a"]));
        schema.bump_version();
        assert_eq!(schema.version, 4);
        assert_eq!(
            schema.previous_hashes.len(),
            2,
            "{:?}",
            schema.previous_hashes
        );
    }
}
