use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use abi_stable::std_types::RResult;

use crate::PluginError;

/// Runs one plugin entry point so that a panic becomes an `Internal` error.
///
/// A panic must never unwind across `extern "C"`: `abi_stable` would abort the
/// host process. Callers pass closures that only touch the plugin's own state,
/// so a state left half-updated by a panic stays inside the plugin, which the
/// runner discards after an internal error.
pub(crate) fn guard<T>(
    entry_point: &str,
    body: impl FnOnce() -> Result<T, PluginError>,
) -> RResult<T, PluginError> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => RResult::ROk(value),
        Ok(Err(error)) => RResult::RErr(error),
        Err(payload) => RResult::RErr(PluginError::internal(format!(
            "plugin panicked in `{entry_point}`: {}",
            panic_message(&payload)
        ))),
    }
}

fn panic_message(payload: &Box<dyn Any + Send>) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}
