//! The report on standard output.
//!
//! `println!` panics when standard output is a pipe that its reader closed
//! (`dlt pipeline p run | head -1`), so the run would exit with a panic
//! after its data was loaded. The report is not part of the result: a
//! closed pipe ends it quietly, and any other write error is logged.

use std::fmt::Arguments;
use std::io::{ErrorKind, Write};

/// Writes `text` to standard output like `print!`, without panicking.
pub fn write(text: Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_fmt(text) {
        Ok(()) => {}
        Err(error) if error.kind() == ErrorKind::BrokenPipe => {}
        Err(error) => tracing::warn!(%error, "failed to write the report to standard output"),
    }
}

/// Flushes standard output, with the error handling of [`write`].
pub fn flush() {
    match std::io::stdout().lock().flush() {
        Ok(()) => {}
        Err(error) if error.kind() == ErrorKind::BrokenPipe => {}
        Err(error) => tracing::warn!(%error, "failed to write the report to standard output"),
    }
}

/// Prints like `print!` through [`write`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write(format_args!($($arg)*))
    };
}

/// Prints like `println!` through [`write`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {out, outln};
