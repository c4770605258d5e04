use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Sets up `tracing` output on standard error. `RUST_LOG` wins over the
/// verbosity flags when it is set.
pub fn init(verbose: u8, quiet: bool) {
    let default_level = match (quiet, verbose) {
        (true, _) => "error",
        // The runner's own lines (waits between attempts) are shown by default.
        (false, 0) => "warn,runner_core::runner=info",
        (false, 1) => "info,runner_core=debug",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));

    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .init();
}
