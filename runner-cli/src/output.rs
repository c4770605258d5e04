//! The report on standard output.
//!
//! `println!` panics when standard output is a pipe that its reader closed
//! (`dlt pipeline p run | head -1`), so the run would exit with a panic
//! after its data was loaded. The report is not part of the result: a
//! closed pipe ends it quietly, and any other write error is logged.

use std::fmt::Arguments;
use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a failed write was logged, so that the writes and the flush
/// after it do not log the same failure again.
static FAILURE_LOGGED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to standard output like `print!`, without panicking.
pub fn write(text: Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_fmt(text) {
        log_failure(&error);
    }
}

/// Flushes standard output, with the error handling of [`write`].
pub fn flush() {
    if let Err(error) = std::io::stdout().lock().flush() {
        log_failure(&error);
    }
}

/// Logs a failed write once per process, and a closed pipe never.
fn log_failure(error: &std::io::Error) {
    if error.kind() == ErrorKind::BrokenPipe || FAILURE_LOGGED.swap(true, Ordering::Relaxed) {
        return;
    }
    tracing::warn!(%error, "failed to write the report to standard output");
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
