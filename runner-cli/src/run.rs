//! `dlt pipeline <name> run` and `dlt pipeline <name> sync`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use runner_core::project::{OpenOptions, open_pipeline};

use crate::progress::ProgressDisplay;
use crate::output::{out, outln};

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    common: CommonArgs,

    /// Do not show the live row counts on a terminal.
    #[arg(long)]
    no_progress: bool,

    /// Read at most this many rows from each resource of the source, as dlt's
    /// add_limit; a record batch of a Parquet input counts its rows.
    #[arg(long, value_name = "ROWS", value_parser = clap::value_parser!(u64).range(1..))]
    limit: Option<u64>,

    /// Run only these resources of the source, separated by commas, as dlt's
    /// with_resources. A files source has one resource, named after its table.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    resources: Option<Vec<String>>,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Args)]
pub(crate) struct CommonArgs {
    /// Folder of pipeline working directories (default: $DLT_DATA_DIR/pipelines,
    /// or _data/dev/pipelines in the project folder).
    #[arg(long, value_name = "PATH")]
    pub(crate) pipelines_dir: Option<PathBuf>,
}

pub(crate) fn project_dir(project: Option<&Path>) -> anyhow::Result<PathBuf> {
    match project {
        Some(path) => Ok(path.to_path_buf()),
        None => std::env::current_dir().context("cannot read the current directory"),
    }
}

/// Returns success, or [`crate::exit::TRACES_NOT_STORED`] when the data
/// loaded but a trace could not be written or loaded.
pub fn run(project: Option<&Path>, name: &str, args: &RunArgs, quiet: bool) -> anyhow::Result<u8> {
    let options = OpenOptions {
        pipelines_dir: args.common.pipelines_dir.clone(),
        trace_failed_open: true,
        resources: args.resources.clone(),
        max_items: args.limit,
        ..OpenOptions::default()
    };
    let mut opened = open_pipeline(&project_dir(project)?, name, &options)?;
    opened.pipeline.set_step_end_hook(Arc::new(|_| crate::allocator::release_freed_memory()));
    let progress = opened.pipeline.progress();
    let (runner, source) = opened.into_runner();
    // The process ends after this function, and the kernel frees its memory.
    // Dropping the runner would also stop the destination's in-memory DuckDB
    // instance, about 5 ms of a 60 ms three-row run. Every file the run wrote
    // is closed and synced before `run_blocking` returns.
    let mut runner = std::mem::ManuallyDrop::new(runner);

    let display = ProgressDisplay::start(progress, !args.no_progress && !quiet);
    let outcome = runner.run_blocking(source);
    if let Some(display) = display {
        display.finish();
    }
    let outcome = outcome?;

    if !quiet {
        if let Some(pending) = &outcome.pending {
            outln!("Pending data from an earlier run:");
            out!("{pending}");
        }
        match &outcome.run {
            Some(info) => out!("{info}"),
            None => outln!("Pipeline {name}: no new data to load"),
        }
    }

    if outcome.trace_warnings.is_empty() {
        return Ok(crate::exit::SUCCESS);
    }
    for warning in &outcome.trace_warnings {
        eprintln!("warning: {warning}");
    }
    eprintln!("hint: the data above is loaded; the kept traces load with the next run that stores traces");
    Ok(crate::exit::TRACES_NOT_STORED)
}

pub fn sync(project: Option<&Path>, name: &str, args: &SyncArgs, quiet: bool) -> anyhow::Result<()> {
    let options = OpenOptions {
        pipelines_dir: args.common.pipelines_dir.clone(),
        ignore_normalize_env: true,
        ..OpenOptions::default()
    };
    let opened = open_pipeline(&project_dir(project)?, name, &options)?;
    let mut pipeline = opened.pipeline;

    pipeline.wipe_working_dir()?;
    let outcome = pipeline.sync()?;
    if !quiet {
        match outcome {
            runner_core::pipeline::SyncOutcome::Restored { state_version, schemas } => outln!(
                "Pipeline {name}: restored state version {state_version} and schemas {} from destination {}",
                schemas.join(", "),
                pipeline.destination().name
            ),
            runner_core::pipeline::SyncOutcome::NothingStored | runner_core::pipeline::SyncOutcome::UpToDate => outln!(
                "Pipeline {name}: destination {} holds no state for this pipeline; the working directory is empty",
                pipeline.destination().name
            ),
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct DropPendingArgs {
    #[command(flatten)]
    common: CommonArgs,
}

pub fn drop_pending(project: Option<&Path>, name: &str, args: &DropPendingArgs, quiet: bool) -> anyhow::Result<()> {
    let options = OpenOptions {
        pipelines_dir: args.common.pipelines_dir.clone(),
        ignore_normalize_env: true,
        ..OpenOptions::default()
    };
    let opened = open_pipeline(&project_dir(project)?, name, &options)?;
    let mut pipeline = opened.pipeline;

    let dropped = pipeline.drop_pending_packages()?;
    if !quiet {
        if dropped.is_empty() {
            outln!("Pipeline {name}: no pending packages");
        } else {
            outln!(
                "Pipeline {name}: dropped {} pending package(s): {}; the local state was rewound to before them",
                dropped.len(),
                dropped.join(", ")
            );
        }
    }
    Ok(())
}
