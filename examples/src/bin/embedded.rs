//! Loads rows from Rust code into DuckDB, linking the DuckDB destination as
//! an ordinary crate (no plugin library, no `dlt.yml`).
//!
//! ```sh
//! cargo run -p examples --bin embedded -- /tmp/embedded-demo
//! ```
//!
//! The argument is a folder for the database file and the working directory.

use std::path::PathBuf;

use anyhow::Context as _;
use destination_duckdb::DuckDbDestinationFactory;
use runner_core::destination::DestinationHandle;
use runner_core::extract::{Resource, Source, WriteDisposition};
use runner_core::{Pipeline, PipelineOptions};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let folder = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .context("usage: embedded <folder>")?;
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot create `{}`", folder.display()))?;

    let config = json!({
        "type": "duckdb",
        "credentials": folder.join("embedded.duckdb"),
        "_runner": {
            "pipeline_name": "embedded",
            "project_dir": folder,
            "working_dir": folder.join("pipelines").join("embedded"),
        },
    });
    let destination = DestinationHandle::linked::<DuckDbDestinationFactory>("duckdb", &config)?;

    let options = PipelineOptions::new("embedded")
        .with_pipelines_dir(folder.join("pipelines"))
        .with_dataset_name("demo");
    let mut pipeline = Pipeline::new(options, destination)?;

    let users = (1..=3).map(|id| {
        json!({
            "id": id,
            "name": format!("user {id}"),
            "tags": ["new", "trial"],
            "address": {"city": "Lisbon", "zip": "1000-001"},
        })
    });
    let resource = Resource::from_rows("users", users).with_write_disposition(WriteDisposition::Replace);

    let info = pipeline.run(Source::single(resource))?;
    print!("{info}");
    Ok(())
}
