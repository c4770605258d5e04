//! `dlt pipeline <name> trace`: prints the trace of the last attempt.

use std::fmt::Write as _;

use clap::Args;
use runner_core::pipeline::project_pipelines_dir;
use runner_core::trace::{AttemptTrace, StepTrace, TraceStore};

use crate::run::CommonArgs;
use crate::output::{out, outln};

#[derive(Debug, Args)]
pub struct TraceArgs {
    #[command(flatten)]
    common: CommonArgs,

    /// Print the trace as JSON, as stored in the trace files.
    #[arg(long)]
    json: bool,
}

/// New columns listed per schema change; a first load of a wide source adds
/// hundreds, and `trace --json` has them all.
const MAX_LISTED_COLUMNS: usize = 20;

/// Prints `last_trace.json` of the pipeline's working directory.
pub fn print_last_trace(project: Option<&std::path::Path>, name: &str, args: &TraceArgs) -> anyhow::Result<()> {
    // The name must be a pipeline of the project, so a typo is reported as one.
    let project_dir = crate::run::project_dir(project)?;
    let project = runner_core::config::Project::load(&project_dir).map_err(runner_core::Error::from)?;
    project.pipeline(name).map_err(runner_core::Error::from)?;
    let pipelines_dir = match &args.common.pipelines_dir {
        Some(folder) => folder.clone(),
        None => project_pipelines_dir(&project.dir),
    };
    let store = TraceStore::new(pipelines_dir.join(name));

    let trace = store.read_last()?.ok_or_else(|| {
        runner_core::Error::config(format!(
            "pipeline `{name}` has no trace yet: `{}` not found; run the pipeline first",
            store.last_trace_path().display()
        ))
    })?;

    if args.json {
        outln!("{}", serde_json::to_string_pretty(&trace)?);
    } else {
        out!("{}", render(&trace));
    }
    Ok(())
}

/// Formats a trace for reading in a terminal.
fn render(trace: &AttemptTrace) -> String {
    let mut text = String::new();
    let outcome = if trace.success { "succeeded" } else { "failed" };
    let context = &trace.execution_context;

    let _ = writeln!(
        text,
        "Pipeline {}: {} attempt {} {outcome}",
        trace.pipeline_name, trace.description, trace.attempt
    );
    let _ = writeln!(text, "  transaction id  {}", trace.transaction_id);
    let _ = writeln!(text, "  started         {}", trace.started_at);
    let _ = writeln!(text, "  finished        {}", trace.finished_at);
    let _ = writeln!(
        text,
        "  runner          {} {} on {}/{}{}",
        context.runner_name,
        context.runner_version,
        context.os,
        context.arch,
        if context.ci_run { " (CI)" } else { "" }
    );

    for step in trace.sync.iter().chain(trace.steps.iter()) {
        render_step(&mut text, step);
    }
    if !trace.resolved_config_keys.is_empty() {
        let _ = writeln!(text, "  configuration keys: {}", trace.resolved_config_keys.join(", "));
    }
    text
}

fn render_step(text: &mut String, step: &StepTrace) {
    let status = if step.success { "ok" } else { "FAILED" };
    let _ = writeln!(text, "  {:<10} {:>9.3} s  {status}", step.step, step.duration_seconds);

    if let Some(info) = &step.step_info {
        if let Some(outcome) = &info.sync_outcome {
            let _ = writeln!(text, "    state: {outcome}");
        }
        for package in &info.packages {
            let _ = writeln!(
                text,
                "    package {}: {} job(s), {} row(s){}",
                package.load_id,
                package.job_count,
                package.row_count,
                if package.applied { "" } else { ", already committed earlier" }
            );
            for table in &package.tables {
                let _ = writeln!(text, "      {:<30} {:>12} rows", table.table_name, table.row_count);
            }
        }
        if info.packages.is_empty() {
            for load_id in &info.load_ids {
                let _ = writeln!(text, "    package {load_id}");
            }
        }
        for change in &info.schema_changes {
            let _ = writeln!(
                text,
                "    schema {} of package {}: version {} -> {}",
                change.schema_name, change.load_id, change.version_before, change.version_after
            );
            for table in &change.tables_added {
                let _ = writeln!(text, "      new table {table}");
            }
            for column in change.columns_added.iter().take(MAX_LISTED_COLUMNS) {
                let data_type = column.data_type.as_deref().unwrap_or("no type");
                let _ = writeln!(text, "      new column {}.{} ({data_type})", column.table_name, column.column_name);
            }
            if let Some(more) = change.columns_added.len().checked_sub(MAX_LISTED_COLUMNS).filter(|more| *more > 0) {
                let _ = writeln!(text, "      and {more} more new columns (all of them: `trace --json`)");
            }
        }
    }

    for (depth, exception) in step.exceptions.iter().enumerate() {
        let label = if depth == 0 { "error" } else { "caused by" };
        let category = exception.category.as_deref().unwrap_or("unknown");
        let terminal = if exception.is_terminal { ", terminal" } else { "" };
        let _ = writeln!(
            text,
            "    {label}: {} [{}, {category}{terminal}]",
            exception.message, exception.exception_type
        );
    }
}
