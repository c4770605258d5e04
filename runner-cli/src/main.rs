//! `dlt`: runs the pipelines of a `dlt.yml` project.

mod exit;
mod logging;
mod output;
mod progress;
mod run;
mod trace;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use exit::EXIT_CODES_HELP;

// Normalize allocates and frees small strings and trees for every row;
// mimalloc does that in about half the instructions of glibc's malloc.
// Plugins keep their own allocator: abi_stable types free memory in the
// library that allocated it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (v2 and v3), which libmimalloc-sys
/// does not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Returns freed memory to the system at once. With mimalloc's default
/// delay of 10 ms, peak RSS of 100k nested events rose from 164 to 274 MiB;
/// without it, to 186 MiB.
fn return_freed_memory_promptly() {
    // SAFETY: setting an option is thread-safe and valid at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

/// Keeps the heap in 4 KiB pages from here on (a page touched before `main`
/// may already be a huge one). mimalloc requests transparent huge pages
/// for its arena, so the first touch of each 2 MiB range makes the kernel
/// zero a whole huge page. In a three-row run that was up to a fifth of the
/// CPU time, and the prompt purge above splits such pages again. mimalloc's
/// own `MIMALLOC_ALLOW_THP=0` does the same, but only when set before the
/// process starts.
#[cfg(target_os = "linux")]
fn use_small_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes one integer flag and touches no memory
    // of ours. On an old kernel it fails and huge pages stay on, which is harmless.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

#[cfg(not(target_os = "linux"))]
fn use_small_pages() {}

/// Runs the pipelines of a dlt.yml project: extract, normalize and load into
/// a destination such as DuckDB.
#[derive(Debug, Parser)]
#[command(name = "dlt", version, after_long_help = EXIT_CODES_HELP)]
struct Cli {
    /// Project folder containing dlt.yml (or the dlt.yml file itself).
    /// Defaults to the current directory.
    #[arg(long, global = true, value_name = "PATH", env = "DLT_PROJECT_DIR")]
    project: Option<PathBuf>,

    /// Log more: -v for debug, -vv for trace. RUST_LOG overrides this.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Log only errors and print no summary.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with one pipeline of the project.
    Pipeline {
        /// Name of the pipeline in dlt.yml.
        name: String,

        #[command(subcommand)]
        action: PipelineAction,
    },
}

#[derive(Debug, Subcommand)]
enum PipelineAction {
    /// Load packages left pending by earlier runs, then extract, normalize and
    /// load the pipeline's source, with the retries of its run_config.
    Run(run::RunArgs),

    /// Delete the local working directory and restore the pipeline's state
    /// and schemas from its destination. Refused while packages are pending.
    Sync(run::SyncArgs),

    /// Delete the packages that earlier runs left unloaded (for example after
    /// a terminal error) and rewind the local state to before them. Loaded
    /// data is not touched.
    DropPendingPackages(run::DropPendingArgs),

    /// Print the trace of the pipeline's last attempt: steps, timings, rows
    /// loaded and the error chain of a failure.
    Trace(trace::TraceArgs),
}

fn main() {
    use_small_pages();
    return_freed_memory_promptly();
    let cli = Cli::parse();
    logging::init(cli.verbose, cli.quiet);

    let outcome = match &cli.command {
        Command::Pipeline { name, action } => match action {
            PipelineAction::Run(args) => run::run(cli.project.as_deref(), name, args, cli.quiet),
            PipelineAction::Sync(args) => run::sync(cli.project.as_deref(), name, args, cli.quiet).map(|()| exit::SUCCESS),
            PipelineAction::DropPendingPackages(args) => {
                run::drop_pending(cli.project.as_deref(), name, args, cli.quiet).map(|()| exit::SUCCESS)
            }
            PipelineAction::Trace(args) => trace::print_last_trace(cli.project.as_deref(), name, args).map(|()| exit::SUCCESS),
        },
    };

    let moves_data = !matches!(
        &cli.command,
        Command::Pipeline {
            action: PipelineAction::Trace(_),
            ..
        }
    );
    let code = match outcome {
        Ok(code) => code,
        Err(error) => exit::report(&error, moves_data),
    };
    exit::end_process(code)
}
