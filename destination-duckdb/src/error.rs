//! Mapping of DuckDB errors to plugin error categories.
//!
//! The C API reports most failures with one generic code, so the category is
//! read from the message, which DuckDB starts with its error type, for example
//! `Conversion Error: ...` or `IO Error: ...`.

use std::path::Path;

use plugin_sdk::{ErrorCategory, PluginError};

/// Message prefixes of DuckDB errors that may go away when retried.
const TRANSIENT_PREFIXES: [&str; 5] = [
    "IO Error",
    "Out of Memory Error",
    "TransactionContext Error",
    "Interrupt Error",
    "HTTP Error",
];

/// Returns true when `error` wraps a DuckDB error about `memory_limit`: an
/// "Out of Memory Error", or a failed commit that reports "could not allocate
/// block" because the checkpoint at the commit ran out of memory.
pub(crate) fn is_out_of_memory(error: &PluginError) -> bool {
    error.causes().any(|cause| {
        cause.starts_with("Out of Memory Error")
            || (cause.starts_with("TransactionContext Error") && cause.contains("could not allocate block"))
    })
}

/// Returns true when `message` reports that another process has the database
/// file open. DuckDB allows one read-write process per file.
fn is_lock_conflict(message: &str) -> bool {
    message.contains("Could not set lock on file") || message.contains("Conflicting lock")
}

/// Returns the category of a DuckDB error.
///
/// Conversion, constraint, catalog and binder errors repeat with the same
/// input, so they and every unrecognized error are `Terminal`.
pub(crate) fn category_of(error: &duckdb::Error) -> ErrorCategory {
    let duckdb::Error::DuckDBFailure(_, Some(message)) = error else {
        return ErrorCategory::Terminal;
    };
    if is_lock_conflict(message)
        || TRANSIENT_PREFIXES
            .iter()
            .any(|prefix| message.starts_with(prefix))
    {
        ErrorCategory::Transient
    } else {
        ErrorCategory::Terminal
    }
}

/// Returns DuckDB's message without the echo of the SQL text and caret that
/// DuckDB appends after a blank line.
fn short_message(error: &duckdb::Error) -> String {
    let message = error.to_string();
    match message.find("\n\nLINE ") {
        Some(end) => message[..end].to_string(),
        None => message,
    }
}

/// Wraps a DuckDB error, with `context` saying what failed on which ids.
pub(crate) fn database_error(error: &duckdb::Error, context: impl Into<String>) -> PluginError {
    PluginError::new(category_of(error), context).with_cause(short_message(error))
}

/// Wraps an error from opening the database file at `database`.
///
/// A lock held by another process gets its own message, because DuckDB's
/// wording (an IO error) sends users to check paths and credentials.
pub(crate) fn open_error(error: &duckdb::Error, database: &Path) -> PluginError {
    let message = short_message(error);
    if is_lock_conflict(&message) {
        return PluginError::transient(format!(
            "DuckDB database {} is locked because another process has it open. DuckDB allows only one \
             process to write a database file, so retry when that process has closed it",
            database.display()
        ))
        .with_cause(message);
    }
    // A file written by a newer DuckDB, such as Python's duckdb 2.x, fails
    // on every attempt. DuckDB 2.x still writes the 1.5 format when asked.
    if let Some(newer) = written_by_newer_duckdb(&message) {
        let text = if newer {
            format!(
                "{} was written by a newer DuckDB than this runner's DuckDB 1.5.6, which cannot read it. Let the \
                 runner create the file, or create it with Python's duckdb 1.5, or with duckdb 2.x and \
                 `duckdb.connect(path, config={{\"storage_compatibility_version\": \"v1.5.0\"}})`",
                database.display()
            )
        } else {
            format!(
                "{} was written by a DuckDB release older than this runner's DuckDB 1.5.6 can read; open it with \
                 that release, `EXPORT DATABASE`, and `IMPORT DATABASE` into a new file",
                database.display()
            )
        };
        return PluginError::config(text).with_cause(message);
    }
    // A file that is not a DuckDB database fails on every attempt: that is
    // a setting to fix.
    if message.contains("not a valid DuckDB database file") {
        return PluginError::config(format!(
            "{} is not a DuckDB database this build can open; point `credentials` at a DuckDB 1.5 database file or a new path",
            database.display()
        ))
        .with_cause(message);
    }
    PluginError::new(
        category_of(error),
        format!("failed to open DuckDB database {}", database.display()),
    )
    .with_cause(message)
}

/// Reads DuckDB's "Trying to read a database file with version number N, but
/// we can only read versions between A and B": whether N is above the range.
/// `None` for other messages.
fn written_by_newer_duckdb(message: &str) -> Option<bool> {
    let number_after = |marker: &str| -> Option<u64> {
        let rest = &message[message.find(marker)? + marker.len()..];
        let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let version = number_after("database file with version number")?;
    let newest = number_after(" and ")?;
    Some(version > newest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_version_direction_read() {
        let newer = "IO Error: Trying to read a database file with version number 69, but we can only read versions between 64 and 68.";
        let older = "IO Error: Trying to read a database file with version number 51, but we can only read versions between 64 and 68.";

        assert_eq!(written_by_newer_duckdb(newer), Some(true));
        assert_eq!(written_by_newer_duckdb(older), Some(false));
        assert_eq!(written_by_newer_duckdb("IO Error: disk full"), None);
    }

    fn failure(message: &str) -> duckdb::Error {
        duckdb::Error::DuckDBFailure(duckdb::ffi::Error::new(1), Some(message.to_string()))
    }

    #[test]
    fn lock_is_transient() {
        let error = failure(
            "IO Error: Could not set lock on file \"/d/x.duckdb\": Conflicting lock is held in python (PID 7)",
        );
        let mapped = open_error(&error, Path::new("/d/x.duckdb"));
        assert_eq!(mapped.category, ErrorCategory::Transient);
        assert!(mapped.message().contains("locked"), "{mapped}");
        assert!(mapped.message().contains("/d/x.duckdb"), "{mapped}");
        assert!(mapped.message().contains("another process"), "{mapped}");
    }

    #[test]
    fn data_errors_are_terminal() {
        let messages = [
            "Conversion Error: Type INT32 with value 1000 can't be cast",
            "Constraint Error: NOT NULL constraint failed: n.a",
            "Invalid Input Error: No magic bytes found at end of file",
            "Catalog Error: Table with name nope does not exist!",
        ];
        for message in messages {
            assert_eq!(
                category_of(&failure(message)),
                ErrorCategory::Terminal,
                "{message}"
            );
        }
    }

    #[test]
    fn io_error_is_transient() {
        assert_eq!(
            category_of(&failure("IO Error: No space left on device")),
            ErrorCategory::Transient
        );
    }

    #[test]
    fn sql_echo_removed() {
        let error = failure("Conversion Error: bad value\n\nLINE 1: INSERT INTO t\n   ^");
        let mapped = database_error(&error, "failed to load job t.1.parquet");
        assert_eq!(
            mapped.causes().collect::<Vec<_>>(),
            ["Conversion Error: bad value"]
        );
    }
}
