//! The runner from Rust: a pipeline into DuckDB with a backoff retry policy
//! that also retries extract and normalize, then `finalize` on its own.
//!
//! ```sh
//! cargo run -p examples --bin runner -- /tmp/runner-demo
//! ```
//!
//! The argument is a folder for the database file and the working directory.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use destination_duckdb::DuckDbDestinationFactory;
use retry_policies::Backoff;
use runner_core::destination::DestinationHandle;
use runner_core::error::Step;
use runner_core::extract::{Resource, Source, WriteDisposition};
use runner_core::{Pipeline, PipelineOptions, Runner, RunnerOptions};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let folder = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .context("usage: runner <folder>")?;
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot create `{}`", folder.display()))?;

    let config = json!({
        "type": "duckdb",
        "credentials": folder.join("my_pipeline.duckdb"),
        "_runner": {"pipeline_name": "my_pipeline", "project_dir": folder, "working_dir": folder.join("pipelines/my_pipeline")},
    });
    let destination = DestinationHandle::linked::<DuckDbDestinationFactory>("duckdb", &config)?;
    let options = PipelineOptions::new("my_pipeline")
        .with_pipelines_dir(folder.join("pipelines"))
        .with_dataset_name("my_dataset");
    let pipeline = Pipeline::new(options, destination)?;

    let policy = Backoff {
        max_attempts: 5,
        multiplier: 2.0,
        min: Duration::from_secs(1),
        max: Duration::from_secs(10),
        jitter: Duration::ZERO,
    };
    let runner_options = RunnerOptions::default()
        .with_retry_policy(Box::new(policy))
        .with_retry_pipeline_steps([Step::Extract, Step::Normalize, Step::Load]);
    let mut runner = Runner::new(pipeline, runner_options);

    // The source is built by a function, so a failed extract can read it again.
    let outcome = runner
        .run(|| {
            let numbers = Resource::from_rows("numbers", [json!(1), json!(2), json!(3)])
                .with_table_name("my_table")
                .with_write_disposition(WriteDisposition::Append);
            Ok(Source::single(numbers))
        })
        .await?;
    if let Some(info) = outcome.run {
        print!("{info}");
    }

    // Finalize loads only what earlier runs left pending.
    match runner.finalize().await? {
        Some(info) => print!("{info}"),
        None => println!("nothing pending to finalize"),
    }
    Ok(())
}
