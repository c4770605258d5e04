//! `dlt`: runs the pipelines of a `dlt.yml` project.

mod allocator;
mod exit;
mod info;
mod logging;
mod output;
mod progress;
mod run;
mod trace;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use exit::EXIT_CODES_HELP;

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

    /// Print the pipeline's source, destination and dataset, and what its
    /// working directory contains: state and incremental cursors, schemas,
    /// pending and loaded packages, and the last attempt. Reads files only.
    Info(info::InfoArgs),
}

fn main() {
    allocator::configure();
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
            PipelineAction::Info(args) => info::print_info(cli.project.as_deref(), name, args).map(|()| exit::SUCCESS),
        },
    };

    let Command::Pipeline { name, action } = &cli.command;
    let moves_data = !matches!(action, PipelineAction::Trace(_) | PipelineAction::Info(_));
    let code = match outcome {
        Ok(code) => code,
        Err(error) => exit::report(&error, name, moves_data),
    };
    exit::end_process(code)
}
