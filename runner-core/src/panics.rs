//! Panics on worker threads, turned into errors that carry the panic's
//! message, so that a step fails with the cause instead of "the thread
//! stopped".

use crate::{Error, Result};

/// Returns the message of a panic payload, which is a `&str` or a `String`
/// when the panic was raised with a message.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    if let Some(message) = panic.downcast_ref::<&str>() {
        message
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message
    } else {
        "no message"
    }
}

/// Runs `body` and returns its result, or an internal error naming `thread`
/// and the message when it panics.
pub(crate) fn catch_panic(thread: &str, body: impl FnOnce() -> Result<()>) -> Result<()> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(panic) => Err(Error::Internal(format!("{thread} panicked: {}", panic_message(panic.as_ref())))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_becomes_error_with_message() {
        let error = catch_panic("the test thread", || panic!("codec {} is not built in", "lz4")).unwrap_err();
        assert_eq!(error.to_string(), "internal error: the test thread panicked: codec lz4 is not built in");
    }

    #[test]
    fn result_passes_through() {
        assert!(catch_panic("the test thread", || Ok(())).is_ok());
        let error = catch_panic("the test thread", || Err(Error::Internal("failed".to_owned()))).unwrap_err();
        assert_eq!(error.to_string(), "internal error: failed");
    }
}
