//! `dlt pipeline <name> run`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use runner_core::project::{OpenOptions, open_pipeline};

use crate::progress::ProgressDisplay;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Folder of pipeline working directories (default: $DLT_DATA_DIR/pipelines
    /// or ~/.dlt/pipelines).
    #[arg(long, value_name = "PATH")]
    pipelines_dir: Option<PathBuf>,

    /// Do not show the live row counts on a terminal.
    #[arg(long)]
    no_progress: bool,
}

pub fn run(project: Option<&Path>, name: &str, args: &RunArgs, quiet: bool) -> anyhow::Result<()> {
    let project_dir = match project {
        Some(path) => path.to_path_buf(),
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let options = OpenOptions {
        pipelines_dir: args.pipelines_dir.clone(),
        ..OpenOptions::default()
    };
    let opened = open_pipeline(&project_dir, name, &options)?;
    let mut pipeline = opened.pipeline;

    let display = ProgressDisplay::start(pipeline.progress(), !args.no_progress && !quiet);
    let outcome = pipeline.run(opened.source);
    if let Some(display) = display {
        display.finish();
    }

    let info = outcome?;
    if !quiet {
        print!("{info}");
        if info.is_empty() {
            println!();
        }
    }
    Ok(())
}
