//! Exit codes and the final error message.

use std::borrow::Cow;

use runner_core::error::ErrorCategory;

pub const SUCCESS: u8 = 0;
/// The command line, the project configuration or a destination setting is
/// invalid, or a plugin is missing.
pub const CONFIG_ERROR: u8 = 2;
/// The run failed with an error that may go away (network, locks); pending
/// data stays in the working directory for the next run.
pub const RUN_FAILED: u8 = 3;
/// The run failed with an error that will repeat with the same input or
/// destination (a rejected value, a schema conflict).
pub const TERMINAL_ERROR: u8 = 4;
/// The data loaded and committed, but a trace could not be written or
/// loaded by the trace pipeline. The trace files stay for the next run.
pub const TRACES_NOT_STORED: u8 = 5;

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  2  configuration error: invalid dlt.yml, arguments or destination settings, or a missing plugin
  3  run failed after its retries with an error that may pass (network, lock); run again to finish
  4  terminal error: the same input fails again (rejected data, schema conflict)
  5  the data loaded, but traces were not stored (store_trace_info); the trace files are kept and load with the next run
Data extracted before a failure stays pending and is loaded first by the next run;
`dlt pipeline <name> drop-pending-packages` discards it instead.";

/// Prints the error with its causes and, with `hint`, what to do about its
/// category, and returns the exit code. `pipeline` is the pipeline the
/// command ran, which the hints name. Commands that move no data pass
/// `false`: the hints speak of runs and extracted data.
pub fn report(error: &anyhow::Error, pipeline: &str, hint: bool) -> u8 {
    let category = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<runner_core::Error>())
        .map(runner_core::Error::category);

    eprintln!("error: {error}");
    let mut previous = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        // thiserror messages often embed their source; print each text once.
        if !previous.contains(&text) {
            eprintln!("  caused by: {text}");
        }
        previous = text;
    }

    let (code, hint_text) = code_and_hint(error, category, pipeline);
    if hint {
        eprintln!("hint: {hint_text}");
    }
    code
}

/// Returns the exit code for `category` and what to do about the error.
fn code_and_hint(error: &anyhow::Error, category: Option<ErrorCategory>, pipeline: &str) -> (u8, Cow<'static, str>) {
    match category {
        Some(ErrorCategory::Config) => match denied_path(error) {
            Some(path) => (
                CONFIG_ERROR,
                format!(
                    "this user may not change `{}` or the folder holding it: fix their permissions (or pass another --pipelines-dir) and run again",
                    path.display()
                )
                .into(),
            ),
            None => (
                CONFIG_ERROR,
                "fix the configuration named above and run again".into(),
            ),
        },
        Some(ErrorCategory::Terminal) => (
            TERMINAL_ERROR,
            format!(
                "this fails again with the same input: fix the data or destination named above; if the failing data is already extracted, discard it with `dlt pipeline {pipeline} drop-pending-packages`"
            )
            .into(),
        ),
        Some(ErrorCategory::Transient) => (
            RUN_FAILED,
            "this error may pass: run the same command again. Any data extracted before it stays in the working directory and loads first".into(),
        ),
        Some(ErrorCategory::Internal) | None => (RUN_FAILED, "this looks like a bug; run again with -v and report the log".into()),
    }
}

/// Returns the path of a file operation in `error`'s chain that failed for
/// lack of permission: the fix is then on the file system, not in dlt.yml.
fn denied_path(error: &anyhow::Error) -> Option<&std::path::Path> {
    error.chain().find_map(|cause| match cause.downcast_ref::<runner_core::Error>() {
        Some(runner_core::Error::Io { path, source, .. }) if source.kind() == std::io::ErrorKind::PermissionDenied => {
            Some(path.as_path())
        }
        _ => None,
    })
}

/// Ends the process with `code` once standard output is flushed, without
/// the C library's exit handlers.
///
/// Those handlers free memory that the kernel takes back anyway: mimalloc
/// returns its free pages one range at a time, and libduckdb runs the
/// destructors of its static objects. In a three-row run of about 50 ms
/// that took about 2 ms (median of 50 interleaved runs). Every file a
/// command writes is closed and synced before it returns, and logs go to
/// standard error, which is not buffered.
pub fn end_process(code: u8) -> ! {
    crate::output::flush();
    #[cfg(unix)]
    {
        // SAFETY: `_exit` ends the process at once; nothing of this process
        // runs after it, so no state it leaves behind can be observed.
        unsafe { libc::_exit(i32::from(code)) }
    }
    #[cfg(not(unix))]
    std::process::exit(i32::from(code))
}

#[cfg(test)]
mod tests {
    use std::io::{Error as IoError, ErrorKind};
    use std::path::Path;

    use super::*;

    fn io_failure(kind: ErrorKind) -> anyhow::Error {
        let error = runner_core::Error::io("create folder", "/data/pipelines/p", IoError::from(kind));
        anyhow::Error::new(error).context("pipeline `p` failed")
    }

    #[test]
    fn denied_path_found_in_chain() {
        let error = io_failure(ErrorKind::PermissionDenied);
        assert_eq!(denied_path(&error), Some(Path::new("/data/pipelines/p")));
    }

    #[test]
    fn other_io_errors_have_no_denied_path() {
        assert_eq!(denied_path(&io_failure(ErrorKind::NotFound)), None);
    }

    #[test]
    fn denied_write_hint_names_path() {
        let error = io_failure(ErrorKind::PermissionDenied);
        let (code, hint) = code_and_hint(&error, Some(ErrorCategory::Config), "p");
        assert_eq!(code, CONFIG_ERROR);
        assert!(hint.contains("`/data/pipelines/p`"), "{hint}");
        assert!(hint.contains("permissions"), "{hint}");
    }

    #[test]
    fn terminal_hint_names_pipeline() {
        let error = anyhow::anyhow!("a value does not fit its column");
        let (code, hint) = code_and_hint(&error, Some(ErrorCategory::Terminal), "events");
        assert_eq!(code, TERMINAL_ERROR);
        assert!(hint.contains("`dlt pipeline events drop-pending-packages`"), "{hint}");
    }

    #[test]
    fn missing_file_hint_is_configuration() {
        let error = io_failure(ErrorKind::NotFound);
        let (code, hint) = code_and_hint(&error, Some(ErrorCategory::Config), "p");
        assert_eq!(code, CONFIG_ERROR);
        assert!(hint.starts_with("fix the configuration"), "{hint}");
    }
}
