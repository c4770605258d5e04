//! `dlt pipeline <name> info`: what the pipeline's working directory contains.
//!
//! It reads files only: no plugin is loaded, no destination is opened and no
//! folder is created, so it is safe while another run of the pipeline has
//! the working directory locked.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use runner_core::config::Project;
use runner_core::pipeline::project_pipelines_dir;
use runner_core::trace::TraceStore;
use serde_json::Value;

use crate::output::out;
use crate::run::CommonArgs;

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    common: CommonArgs,
}

/// Prints the pipeline's settings and what its working directory contains.
pub fn print_info(project: Option<&Path>, name: &str, args: &InfoArgs) -> anyhow::Result<()> {
    let project_dir = crate::run::project_dir(project)?;
    let project = Project::load(&project_dir).map_err(runner_core::Error::from)?;
    let resolved = project.resolve(name).map_err(runner_core::Error::from)?;
    let pipelines_dir = match &args.common.pipelines_dir {
        Some(folder) => folder.clone(),
        None => project_pipelines_dir(&project.dir),
    };
    let working_dir = pipelines_dir.join(name);

    let mut text = String::new();
    let _ = writeln!(text, "Pipeline {name}");
    let _ = writeln!(text, "  source             {}", resolved.source_name);
    let destination = &resolved.destination;
    let _ = writeln!(text, "  destination        {} ({})", destination.name, destination.type_name);
    let _ = writeln!(text, "  dataset            {}", resolved.dataset_name);
    if !working_dir.is_dir() {
        let _ = writeln!(text, "  working directory  {} (not created yet: the first run creates it)", working_dir.display());
        out!("{text}");
        return Ok(());
    }
    let _ = writeln!(text, "  working directory  {}", working_dir.display());

    write_state(&mut text, &working_dir.join("state.json"));
    write_schemas(&mut text, &working_dir.join("schemas"));
    write_packages(&mut text, &working_dir)?;
    write_last_run(&mut text, &working_dir)?;
    out!("{text}");
    Ok(())
}

/// Writes the state version and the incremental cursors of every resource.
fn write_state(text: &mut String, path: &Path) {
    let Some(state) = read_json(path) else {
        let _ = writeln!(text, "  state              none yet");
        return;
    };
    let version = state.get("_state_version").and_then(Value::as_i64).unwrap_or_default();
    let _ = writeln!(text, "  state              version {version}");

    let sources = state.get("sources").and_then(Value::as_object).into_iter().flatten();
    for (source, source_state) in sources {
        let resources = source_state.get("resources").and_then(Value::as_object).into_iter().flatten();
        for (resource, resource_state) in resources {
            let cursors = resource_state.get("incremental").and_then(Value::as_object).into_iter().flatten();
            for (cursor, cursor_state) in cursors {
                let last_value = cursor_state.get("last_value").map_or_else(|| "none".to_owned(), Value::to_string);
                let _ = writeln!(text, "    cursor {source}.{resource}.{cursor}: last value {last_value}");
            }
        }
    }
}

/// Writes each stored schema with its version and data tables.
fn write_schemas(text: &mut String, folder: &Path) {
    let mut files = file_paths(folder);
    files.retain(|path| path.to_string_lossy().ends_with(".schema.json"));
    if files.is_empty() {
        let _ = writeln!(text, "  schemas            none yet");
        return;
    }
    for path in files {
        let Some(schema) = read_json(&path) else { continue };
        let name = schema.get("name").and_then(Value::as_str).unwrap_or("?");
        let version = schema.get("version").and_then(Value::as_i64).unwrap_or_default();
        let tables: Vec<&str> = schema
            .get("tables")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(table, _)| table.as_str())
            .filter(|table| !table.starts_with("_dlt"))
            .collect();
        let _ = writeln!(text, "  schema             {name}, version {version}, tables: {}", tables.join(", "));
    }
}

/// Writes the pending packages by load id and counts the loaded ones.
fn write_packages(text: &mut String, working_dir: &Path) -> anyhow::Result<()> {
    let extracted = folder_names(&working_dir.join("normalize/extracted"))?;
    let normalized = folder_names(&working_dir.join("load/normalized"))?;
    if extracted.is_empty() && normalized.is_empty() {
        let _ = writeln!(text, "  pending packages   none");
    } else {
        for load_id in &extracted {
            let _ = writeln!(text, "  pending package    {load_id} (extracted, waits for normalize)");
        }
        for load_id in &normalized {
            let _ = writeln!(text, "  pending package    {load_id} (normalized, waits for load)");
        }
        let _ = writeln!(
            text,
            "                     the next run loads them first; `drop-pending-packages` discards them"
        );
    }

    let loaded = folder_names(&working_dir.join("load/loaded"))?;
    match loaded.last() {
        Some(newest) => {
            let _ = writeln!(text, "  loaded packages    {} kept, newest {newest}", loaded.len());
        }
        None => {
            let _ = writeln!(text, "  loaded packages    none kept");
        }
    }
    Ok(())
}

/// Writes the outcome of the last attempt from `last_trace.json`.
fn write_last_run(text: &mut String, working_dir: &Path) -> anyhow::Result<()> {
    match TraceStore::new(working_dir).read_last()? {
        Some(trace) => {
            let outcome = if trace.success { "succeeded" } else { "failed" };
            let _ = writeln!(
                text,
                "  last attempt       {} attempt {} {outcome}, finished {} (details: `trace`)",
                trace.description, trace.attempt, trace.finished_at
            );
        }
        None => {
            let _ = writeln!(text, "  last attempt       none recorded");
        }
    }
    Ok(())
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Returns the sorted paths of the files in `folder`.
fn file_paths(folder: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    paths
}

/// Returns the sorted names of the folders in `folder`, which are load ids
/// in the package stages.
fn folder_names(folder: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = runner_core::storage::list_folders(folder)?;
    names.sort();
    Ok(names)
}
