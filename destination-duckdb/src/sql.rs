//! SQL text: identifier quoting, the dlt → DuckDB type map and DDL statements.
//!
//! Values never appear in the SQL built here. They are bound as parameters.

use plugin_sdk::PluginError;
use plugin_sdk::protocol::{ColumnSpec, TableSpec};

/// Largest DECIMAL width DuckDB accepts.
const MAX_DECIMAL_PRECISION: u32 = 38;

/// dlt's default DECIMAL precision and scale for DuckDB.
const DEFAULT_DECIMAL: (u32, u32) = (38, 9);

/// Quotes an identifier for DuckDB: wraps it in `"` and doubles every `"`
/// inside, so reserved words and any other characters are taken literally.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Returns `"dataset"."table"`.
pub fn qualified_table(dataset: &str, table: &str) -> String {
    format!("{}.{}", quote_identifier(dataset), quote_identifier(table))
}

/// Rejects names that no quoting can carry: empty names and names with NUL
/// characters, which the DuckDB C API cannot pass in SQL text.
pub fn validate_identifier(kind: &str, name: &str) -> Result<(), PluginError> {
    if name.is_empty() {
        return Err(PluginError::terminal(format!("{kind} name is empty")));
    }
    if name.contains('\0') {
        return Err(PluginError::terminal(format!(
            "{kind} name {name:?} contains a NUL character, which DuckDB identifiers cannot contain"
        )));
    }
    Ok(())
}

/// Options of the connected DuckDB build that change the type map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeOptions {
    /// True when the `JSON` type exists, that is when the json extension is
    /// loaded. It is built into the prebuilt library and the `bundled` feature.
    pub json_type: bool,
}

/// Maps a dlt column to its DuckDB type, following dlt 1.31's DuckDB type map.
///
/// Returns an error message (without table context) for unknown types and
/// precisions DuckDB cannot store.
pub fn column_type(column: &ColumnSpec, options: TypeOptions) -> Result<String, String> {
    let data_type = match column.data_type.as_str() {
        "text" => "VARCHAR".to_string(),
        "double" => "DOUBLE".to_string(),
        "bool" => "BOOLEAN".to_string(),
        "bigint" => integer_type(column.precision)?.to_string(),
        "timestamp" => timestamp_type(column.precision, column.timezone)?.to_string(),
        "date" => "DATE".to_string(),
        "time" => "TIME".to_string(),
        "binary" => "BLOB".to_string(),
        // NOTE: without the json extension, JSON columns become VARCHAR and
        // keep the same text, but DuckDB no longer validates it as JSON.
        "json" if options.json_type => "JSON".to_string(),
        "json" => "VARCHAR".to_string(),
        "decimal" => decimal_type(column.precision, column.scale)?,
        "wei" => "DECIMAL(38,0)".to_string(),
        other => return Err(format!("unknown dlt data type `{other}`")),
    };
    Ok(data_type)
}

/// Maps a precision in bits to the smallest DuckDB integer of that width.
fn integer_type(precision: Option<u32>) -> Result<&'static str, String> {
    match precision {
        None => Ok("BIGINT"),
        Some(0..=8) => Ok("TINYINT"),
        Some(9..=16) => Ok("SMALLINT"),
        Some(17..=32) => Ok("INTEGER"),
        Some(33..=64) => Ok("BIGINT"),
        Some(65..=128) => Ok("HUGEINT"),
        Some(bits) => Err(format!(
            "bigint precision of {bits} bits exceeds DuckDB's largest integer (128 bits)"
        )),
    }
}

/// Maps a timestamp column. DuckDB has no time zone aware type with a
/// precision, so precision (fractional second digits) applies only with
/// `timezone: false`.
fn timestamp_type(precision: Option<u32>, timezone: Option<bool>) -> Result<&'static str, String> {
    if timezone.unwrap_or(true) {
        return Ok("TIMESTAMP WITH TIME ZONE");
    }
    match precision {
        Some(0) => Ok("TIMESTAMP_S"),
        Some(1..=3) => Ok("TIMESTAMP_MS"),
        None | Some(4..=6) => Ok("TIMESTAMP"),
        Some(7..=9) => Ok("TIMESTAMP_NS"),
        Some(digits) => Err(format!(
            "timestamp precision of {digits} fractional digits exceeds DuckDB's maximum of 9"
        )),
    }
}

/// Maps a decimal column. Like dlt, a missing precision or scale takes the
/// default (38, 9) part on its own.
fn decimal_type(precision: Option<u32>, scale: Option<u32>) -> Result<String, String> {
    let precision = precision.unwrap_or(DEFAULT_DECIMAL.0);
    let scale = scale.unwrap_or(DEFAULT_DECIMAL.1);
    if precision == 0 || precision > MAX_DECIMAL_PRECISION {
        return Err(format!(
            "decimal precision {precision} is outside DuckDB's range 1..={MAX_DECIMAL_PRECISION}"
        ));
    }
    if scale > precision {
        return Err(format!(
            "decimal scale {scale} is larger than its precision {precision}"
        ));
    }
    Ok(format!("DECIMAL({precision},{scale})"))
}

/// Builds the column definition `"name" TYPE [NOT NULL]`.
fn column_definition(
    table: &str,
    column: &ColumnSpec,
    options: TypeOptions,
    not_null: bool,
) -> Result<String, PluginError> {
    validate_identifier("column", &column.name)?;
    let data_type = column_type(column, options).map_err(|reason| {
        PluginError::terminal(format!(
            "failed to map column \"{}\" of table \"{table}\" to a DuckDB type: {reason}",
            column.name
        ))
    })?;

    let mut definition = format!("{} {data_type}", quote_identifier(&column.name));
    if not_null {
        definition.push_str(" NOT NULL");
    }
    Ok(definition)
}

/// Builds `CREATE TABLE "ds"."t" (...)` with the columns in schema order.
///
/// Like dlt on DuckDB, the only constraint created is NOT NULL.
pub fn create_table(
    dataset: &str,
    table: &TableSpec,
    options: TypeOptions,
) -> Result<String, PluginError> {
    let mut definitions = Vec::with_capacity(table.columns.len());
    for column in &table.columns {
        definitions.push(column_definition(
            &table.name,
            column,
            options,
            !column.nullable,
        )?);
    }
    Ok(format!(
        "CREATE TABLE {} ({})",
        qualified_table(dataset, &table.name),
        definitions.join(", ")
    ))
}

/// Builds `ALTER TABLE "ds"."t" ADD COLUMN "c" TYPE`.
///
/// NOT NULL is left out because DuckDB 1.5 cannot add a column with a
/// constraint, and existing rows would hold NULL in it anyway.
pub fn add_column(
    dataset: &str,
    table: &str,
    column: &ColumnSpec,
    options: TypeOptions,
) -> Result<String, PluginError> {
    Ok(format!(
        "ALTER TABLE {} ADD COLUMN {}",
        qualified_table(dataset, table),
        column_definition(table, column, options, false)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH_JSON: TypeOptions = TypeOptions { json_type: true };

    fn column(data_type: &str) -> ColumnSpec {
        ColumnSpec {
            name: "c".to_string(),
            data_type: data_type.to_string(),
            nullable: true,
            precision: None,
            scale: None,
            timezone: None,
            ..ColumnSpec::default()
        }
    }

    fn mapped(column: &ColumnSpec) -> String {
        column_type(column, WITH_JSON).expect("mappable column")
    }

    #[test]
    fn quote_doubles_quotes() {
        assert_eq!(quote_identifier("select"), "\"select\"");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
        assert_eq!(qualified_table("in", "order"), "\"in\".\"order\"");
    }

    #[test]
    fn simple_types_mapped() {
        let cases = [
            ("text", "VARCHAR"),
            ("double", "DOUBLE"),
            ("bool", "BOOLEAN"),
            ("bigint", "BIGINT"),
            ("timestamp", "TIMESTAMP WITH TIME ZONE"),
            ("date", "DATE"),
            ("time", "TIME"),
            ("binary", "BLOB"),
            ("json", "JSON"),
            ("decimal", "DECIMAL(38,9)"),
            ("wei", "DECIMAL(38,0)"),
        ];
        for (dlt_type, expected) in cases {
            assert_eq!(mapped(&column(dlt_type)), expected, "dlt type {dlt_type}");
        }
    }

    #[test]
    fn json_falls_back_to_varchar() {
        let without_json = TypeOptions { json_type: false };
        assert_eq!(
            column_type(&column("json"), without_json).unwrap(),
            "VARCHAR"
        );
    }

    #[test]
    fn integer_precision_mapped() {
        let cases = [
            (8, "TINYINT"),
            (16, "SMALLINT"),
            (32, "INTEGER"),
            (64, "BIGINT"),
            (128, "HUGEINT"),
        ];
        for (bits, expected) in cases {
            let spec = ColumnSpec {
                precision: Some(bits),
                ..column("bigint")
            };
            assert_eq!(mapped(&spec), expected, "{bits} bits");
        }
        let too_wide = ColumnSpec {
            precision: Some(129),
            ..column("bigint")
        };
        assert!(column_type(&too_wide, WITH_JSON).is_err());
    }

    #[test]
    fn naive_timestamp_precision_mapped() {
        let cases = [
            (Some(0), "TIMESTAMP_S"),
            (Some(3), "TIMESTAMP_MS"),
            (Some(6), "TIMESTAMP"),
            (None, "TIMESTAMP"),
            (Some(9), "TIMESTAMP_NS"),
        ];
        for (precision, expected) in cases {
            let spec = ColumnSpec {
                precision,
                timezone: Some(false),
                ..column("timestamp")
            };
            assert_eq!(mapped(&spec), expected, "precision {precision:?}");
        }
        let aware = ColumnSpec {
            precision: Some(3),
            timezone: Some(true),
            ..column("timestamp")
        };
        assert_eq!(mapped(&aware), "TIMESTAMP WITH TIME ZONE");
    }

    #[test]
    fn decimal_precision_mapped() {
        let spec = ColumnSpec {
            precision: Some(10),
            scale: Some(2),
            ..column("decimal")
        };
        assert_eq!(mapped(&spec), "DECIMAL(10,2)");
        let too_wide = ColumnSpec {
            precision: Some(39),
            scale: Some(0),
            ..column("decimal")
        };
        assert!(column_type(&too_wide, WITH_JSON).is_err());
    }

    #[test]
    fn unknown_type_rejected() {
        let error = column_type(&column("complex"), WITH_JSON).expect_err("unknown type");
        assert!(error.contains("complex"), "{error}");
    }

    #[test]
    fn create_table_quotes_and_orders() {
        let table = TableSpec {
            name: "order".to_string(),
            write_disposition: "append".to_string(),
            parent: None,
            columns: vec![
                ColumnSpec {
                    name: "select".to_string(),
                    nullable: false,
                    ..column("bigint")
                },
                ColumnSpec {
                    name: "a\"b".to_string(),
                    ..column("text")
                },
            ],
            ..TableSpec::default()
        };
        let sql = create_table("in", &table, WITH_JSON).unwrap();
        assert_eq!(
            sql,
            "CREATE TABLE \"in\".\"order\" (\"select\" BIGINT NOT NULL, \"a\"\"b\" VARCHAR)"
        );
    }
}
