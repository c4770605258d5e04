//! dlt's `snake_case` naming convention.

/// Separator of nested paths in table and column names.
pub const PATH_SEPARATOR: &str = "__";

/// Normalizes one identifier (no path splitting).
pub fn normalize_identifier(name: &str) -> String {
    // TODO: placeholder until the naming convention lands.
    name.to_owned()
}

/// Normalizes a path: splits on `__`, normalizes each part, joins with `__`.
pub fn normalize_path(name: &str) -> String {
    // TODO: placeholder until the naming convention lands.
    name.to_owned()
}

/// Joins already-normalized parts with `__`.
pub fn make_path(parts: &[&str]) -> String {
    parts.join(PATH_SEPARATOR)
}
