//! Test helper: opens a DuckDB database file read-write, so that DuckDB's
//! file lock keeps every other process out, and holds it until its standard
//! input reaches end of file (the test closes the pipe, or the test process
//! dies).
//!
//! Usage: `hold-duckdb <database file>`. It prints `holding` on standard
//! output once the lock is taken.

use std::io::{Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(database) = std::env::args_os().nth(1) else {
        eprintln!("usage: hold-duckdb <database file>");
        return ExitCode::from(2);
    };

    let connection = match duckdb::Connection::open(&database) {
        Ok(connection) => connection,
        Err(error) => {
            eprintln!("failed to open {}: {error}", database.to_string_lossy());
            return ExitCode::from(1);
        }
    };

    let mut stdout = std::io::stdout();
    let announced = writeln!(stdout, "holding").and_then(|()| stdout.flush());
    if announced.is_err() {
        return ExitCode::from(1);
    }

    // Read errors end the wait as end of file does.
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    drop(connection);
    ExitCode::SUCCESS
}
