//! The production runner: a pipeline run with retries, pending data first,
//! and optional clean-folder runs.
//!
//! * Packages left pending by an earlier run are loaded first, under the
//!   same retry policy, and then the new data runs. Both results are
//!   reported; pending data is never dropped.
//! * A failed attempt is retried when the policy allows it, the error is not
//!   terminal (configuration or terminal category anywhere in its cause
//!   chain), and the failing step is in `retry_pipeline_steps`. Errors
//!   outside any step count as `sync` failures.
//! * A retry after a load failure loads the same normalized package again,
//!   with the same load id, and does not read the source. A retry after an
//!   extract failure reads the source again.
//! * `run_from_clean_folder` loads pending packages, deletes the working
//!   directory, and restores state and schemas from the destination before
//!   extracting, so incremental cursors continue where the destination is.
//!
//! * After every attempt, successful or not (terminal failures included),
//!   the attempt's trace is written to `last_trace.json` and to `traces/`.
//!   With a trace pipeline, the files are loaded and deleted once their
//!   package committed. A failed trace store keeps the files for the next
//!   store and never fails the run: it is reported in
//!   [`RunOutcome::trace_warnings`]. Without a trace pipeline, `traces/`
//!   keeps the newest `max_trace_files` files.
//!
//! Pipeline work blocks, so under [`Runner::run`] each attempt runs on
//! tokio's blocking pool. The blocking forms ([`Runner::run_blocking`],
//! [`Runner::finalize_blocking`]) own their runtime and run it on the
//! calling thread instead.

pub mod clock;
pub mod policy;

mod tracing_attempts;

pub(crate) use tracing_attempts::record_failed_open;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use plugin_sdk::RetryPolicy;

pub use clock::{Clock, RecordingClock, TokioClock};
pub use policy::{StopReason, Verdict, decide};

use crate::config::{RunConfig, TraceTarget};
use crate::error::Step;
use crate::extract::Source;
use crate::pipeline::{LoadInfo, Pipeline};
use crate::plugins::PluginSearch;
use crate::trace::{StepInfo, StepRecorder, TraceSink, TraceStore};
use crate::{Error, Result};

/// Settings of a runner; the `run_config` of `dlt.yml`.
pub struct RunnerOptions {
    /// Whether traces go to `traces/` and a trace pipeline after each
    /// attempt. The trace pipeline itself is set with
    /// [`Runner::with_trace_sink`]; `dlt.yml` projects open it from this setting.
    pub store_trace_info: TraceTarget,
    /// How many trace files `traces/` keeps when the runner has no trace
    /// pipeline; the oldest are deleted after each attempt. With a trace
    /// pipeline, files go only once loaded.
    pub max_trace_files: u32,
    /// Configuration keys (dotted paths, never values) recorded in each trace.
    pub resolved_config_keys: Vec<String>,
    pub run_from_clean_folder: bool,
    pub retry_policy: Box<dyn RetryPolicy>,
    /// Steps whose failures may be retried; `load` by default.
    pub retry_pipeline_steps: Vec<Step>,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            store_trace_info: TraceTarget::Off,
            max_trace_files: RunConfig::DEFAULT_MAX_TRACE_FILES,
            resolved_config_keys: Vec::new(),
            run_from_clean_folder: false,
            retry_policy: Box::new(retry_policies::NoRetry),
            retry_pipeline_steps: vec![Step::Load],
        }
    }
}

impl RunnerOptions {
    /// Builds the options of a `run_config`; custom retry policy types are
    /// loaded from plugin libraries found by `search`.
    pub fn from_run_config(config: &RunConfig, search: &PluginSearch) -> Result<Self> {
        Ok(RunnerOptions {
            store_trace_info: config.store_trace_info.clone(),
            max_trace_files: config.max_trace_files,
            resolved_config_keys: Vec::new(),
            run_from_clean_folder: config.run_from_clean_folder,
            retry_policy: policy::policy_from_config(&config.retry_policy, search)?,
            retry_pipeline_steps: config.retry_pipeline_steps.clone(),
        })
    }

    pub fn with_retry_policy(mut self, policy: Box<dyn RetryPolicy>) -> Self {
        self.retry_policy = policy;
        self
    }

    pub fn with_retry_pipeline_steps(mut self, steps: impl IntoIterator<Item = Step>) -> Self {
        self.retry_pipeline_steps = steps.into_iter().collect();
        self
    }

    pub fn with_run_from_clean_folder(mut self, enabled: bool) -> Self {
        self.run_from_clean_folder = enabled;
        self
    }

    pub fn with_store_trace_info(mut self, target: TraceTarget) -> Self {
        self.store_trace_info = target;
        self
    }

    /// Sets how many trace files stay without a trace pipeline; 0 counts as 1,
    /// because the latest attempt's file is always kept.
    pub fn with_max_trace_files(mut self, max_files: u32) -> Self {
        self.max_trace_files = max_files;
        self
    }
}

/// The load results of a [`Runner::run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// Packages left by earlier runs and loaded first; `None` when nothing was pending.
    pub pending: Option<LoadInfo>,
    /// The given data; `None` when it produced nothing to load.
    pub run: Option<LoadInfo>,
    /// One message per trace that could not be written or loaded during
    /// this run. The data loads above are committed all the same.
    pub trace_warnings: Vec<String>,
}

/// Runs a pipeline with retries; see the module documentation.
pub struct Runner {
    pipeline: Arc<Mutex<Pipeline>>,
    options: Arc<Mutex<RunnerOptions>>,
    clock: Arc<dyn Clock>,
    traces: TraceStore,
    trace_sink: Option<Arc<Mutex<TraceSink>>>,
    /// Trace failures since the last `run` or `finalize` started.
    trace_warnings: Vec<String>,
    /// The thread that runs blocking pipeline work; see [`Executor`].
    executor: Executor,
}

/// The thread on which [`Runner`] runs blocking pipeline work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Executor {
    /// On tokio's blocking pool, so a caller's runtime keeps serving other
    /// tasks.
    BlockingPool,
    /// On the calling thread. Used by the blocking forms, whose
    /// single-threaded runtime has no other task to serve. A pool thread
    /// started for a short run is placed by the kernel while the DuckDB
    /// instance starts on the other core, and has been seen waiting 3 ms
    /// for that core with this one idle.
    CallingThread,
}

/// Progress of one `run` across attempts.
struct RunProgress<F> {
    make_source: F,
    synced: bool,
    extracted: bool,
}

impl Runner {
    pub fn new(pipeline: Pipeline, options: RunnerOptions) -> Self {
        Runner {
            traces: TraceStore::new(pipeline.working_dir()),
            pipeline: Arc::new(Mutex::new(pipeline)),
            options: Arc::new(Mutex::new(options)),
            clock: Arc::new(TokioClock),
            trace_sink: None,
            trace_warnings: Vec::new(),
            executor: Executor::BlockingPool,
        }
    }

    /// Loads traces through `sink` after each attempt; turns
    /// `store_trace_info` on when it is off.
    pub fn with_trace_sink(mut self, sink: TraceSink) -> Self {
        if let Ok(mut options) = self.options.lock()
            && options.store_trace_info == TraceTarget::Off
        {
            options.store_trace_info = TraceTarget::SamePipeline;
        }
        self.trace_sink = Some(Arc::new(Mutex::new(sink)));
        self
    }

    /// Loads traces through `pipeline` after each attempt; see [`Runner::with_trace_sink`].
    pub fn with_trace_pipeline(self, pipeline: Pipeline) -> Self {
        let owner = self.pipeline_name();
        self.with_trace_sink(TraceSink::with_pipeline(owner, pipeline))
    }

    /// Returns the trace files of the pipeline.
    pub fn trace_store(&self) -> &TraceStore {
        &self.traces
    }

    /// Returns the trace failures of the last `run` or `finalize`.
    pub fn trace_warnings(&self) -> &[String] {
        &self.trace_warnings
    }

    fn pipeline_name(&self) -> String {
        self.pipeline
            .lock()
            .map(|pipeline| pipeline.name().to_owned())
            .unwrap_or_else(|poisoned| poisoned.into_inner().name().to_owned())
    }

    /// Replaces the clock that waits between attempts.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Returns the pipeline once the runner is done with it.
    pub fn into_pipeline(self) -> Pipeline {
        match Arc::try_unwrap(self.pipeline) {
            Ok(pipeline) => pipeline.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()),
            Err(_) => unreachable!("attempts hold the pipeline only while they run"),
        }
    }

    /// Runs `f` on the pipeline, on tokio's blocking pool or on the calling
    /// thread (see [`Executor`]).
    pub async fn with_pipeline<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Pipeline) -> Result<T> + Send + 'static,
    {
        let pipeline = Arc::clone(&self.pipeline);
        let work = move || {
            let mut pipeline = pipeline.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // A panic in a linked source or in the engine fails this call
            // only. The pipeline keeps its state on disk, and the next run
            // discards the scratch folders that the panicked one left.
            let name = pipeline.name().to_owned();
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut pipeline))) {
                Ok(result) => result,
                Err(panic) => Err(Error::Internal(format!(
                    "pipeline `{name}` panicked: {}",
                    crate::panics::panic_message(panic.as_ref())
                ))),
            }
        };
        self.offload(work)
            .await
            .map_err(|error| Error::Internal(format!("pipeline task failed: {error}")))?
    }

    /// Runs blocking `work` on the executor's thread. A panic in `work`
    /// returns as an error on both executors, as tokio reports a panicked task.
    async fn offload<T, F>(&self, work: F) -> std::result::Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        match self.executor {
            Executor::BlockingPool => tokio::task::spawn_blocking(work).await.map_err(|error| error.to_string()),
            Executor::CallingThread => std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                .map_err(|panic| format!("task panicked: {}", crate::panics::panic_message(panic.as_ref()))),
        }
    }

    /// Loads pending packages, then runs the source that `make_source`
    /// creates. `make_source` is called again only when extraction has to
    /// be retried.
    pub async fn run<F>(&mut self, make_source: F) -> Result<RunOutcome>
    where
        F: FnMut() -> Result<Source> + Send + 'static,
    {
        let name = self.with_pipeline(|pipeline| Ok(pipeline.name().to_owned())).await?;
        let span = tracing::info_span!("runner", pipeline = %name);
        let _entered = span.enter();
        let clean_folder = self.options_lock()?.run_from_clean_folder;
        self.trace_warnings.clear();

        let has_pending = self.with_pipeline(|pipeline| {
            pipeline.recover()?;
            pipeline.has_pending_data()
        });
        let pending = if has_pending.await? {
            tracing::info!("pending data found; loading it before the new data");
            Some(self.finalize_pending().await?)
        } else {
            None
        };

        if clean_folder {
            // `wipe_working_dir` keeps `traces/`, so trace files that could
            // not be loaded yet survive and load after the next attempt.
            tracing::info!("running from a clean folder: deleting the working directory");
            self.with_pipeline(|pipeline| pipeline.wipe_working_dir()).await?;
        }

        let progress = Arc::new(Mutex::new(RunProgress {
            make_source,
            synced: false,
            extracted: false,
        }));
        let run = self
            .attempts("run", move |pipeline, recorder| {
                let mut progress = progress
                    .lock()
                    .map_err(|_| Error::Internal("run state lock poisoned".to_owned()))?;
                run_attempt(pipeline, &mut progress, recorder)
            })
            .await?;

        Ok(RunOutcome {
            pending,
            run: run.filter(|info| !info.is_empty()),
            trace_warnings: self.trace_warnings.clone(),
        })
    }

    /// Loads the packages left pending by earlier runs; `None` when nothing
    /// was pending. Refused with `run_from_clean_folder`, which would delete
    /// what it is meant to finish.
    pub async fn finalize(&mut self) -> Result<Option<LoadInfo>> {
        if self.options_lock()?.run_from_clean_folder {
            return Err(Error::config(
                "finalize cannot be combined with run_from_clean_folder: a clean-folder run deletes the working directory that contains the pending data; turn run_from_clean_folder off to finalize",
            ));
        }
        self.trace_warnings.clear();

        let has_pending = self.with_pipeline(|pipeline| {
            pipeline.recover()?;
            pipeline.has_pending_data()
        });
        if !has_pending.await? {
            tracing::info!("nothing to finalize: no pending packages");
            return Ok(None);
        }
        self.finalize_pending().await.map(Some)
    }

    async fn finalize_pending(&mut self) -> Result<LoadInfo> {
        let info = self.attempts("finalize pending data", finalize_attempt).await?;
        info.ok_or_else(|| Error::Internal("finalize returned no load info".to_owned()))
    }

    fn options_lock(&self) -> Result<std::sync::MutexGuard<'_, RunnerOptions>> {
        self.options
            .lock()
            .map_err(|_| Error::Internal("runner options lock poisoned".to_owned()))
    }

    /// Runs `attempt` until it succeeds or the policy stops it.
    async fn attempts<F, T>(&mut self, description: &'static str, attempt: F) -> Result<Option<T>>
    where
        F: Fn(&mut Pipeline, &StepRecorder) -> Result<T> + Send + Sync + 'static,
        T: Send + 'static,
    {
        let attempt = Arc::new(attempt);
        let mut number: u32 = 1;
        loop {
            let span = tracing::info_span!("attempt", attempt = number, description);
            let started = Instant::now();
            let started_at = chrono::Utc::now();
            let recorder = StepRecorder::new();
            let body = Arc::clone(&attempt);
            let body_recorder = recorder.clone();
            let result = {
                let _entered = span.enter();
                self.with_pipeline(move |pipeline| body(pipeline, &body_recorder)).await
            };

            if let Err(error) = &result {
                recorder.record_unattributed(error, policy::STEP_OF_UNATTRIBUTED_ERRORS);
            }
            self.record_attempt(description, number, started_at, &recorder, result.is_ok()).await;

            let error = match result {
                Ok(value) => {
                    tracing::debug!(attempt = number, seconds = started.elapsed().as_secs_f64(), "{description} succeeded");
                    return Ok(Some(value));
                }
                Err(error) => error,
            };

            let step = error.step().unwrap_or(policy::STEP_OF_UNATTRIBUTED_ERRORS);
            let category = error.category();
            tracing::warn!(attempt = number, step = %step, category = %category, error = %error, "{description} attempt failed");

            let verdict = {
                let mut options = self.options_lock()?;
                let steps = options.retry_pipeline_steps.clone();
                decide(&error, number, &steps, options.retry_policy.as_mut())
            };
            match verdict {
                Verdict::RetryAfter(wait) => {
                    tracing::info!(attempt = number, wait_seconds = wait.as_secs_f64(), "waiting before the next attempt");
                    self.clock.sleep(wait).await;
                    number += 1;
                }
                Verdict::Stop(reason) => {
                    match reason {
                        StopReason::Terminal => {
                            tracing::error!(attempt = number, category = %category, "{description} failed with an error that retrying cannot fix")
                        }
                        StopReason::StepNotRetried(step) => {
                            tracing::error!(attempt = number, step = %step, "{description} failed in a step that is not in retry_pipeline_steps")
                        }
                        StopReason::Exhausted => {
                            tracing::error!(attempts = number, "{description} failed; the retry policy allows no further attempt")
                        }
                    }
                    return Err(error);
                }
            }
        }
    }

    /// Blocking form of [`Runner::run`], for programs without an async runtime.
    pub fn run_blocking<F>(&mut self, make_source: F) -> Result<RunOutcome>
    where
        F: FnMut() -> Result<Source> + Send + 'static,
    {
        let runtime = blocking_runtime()?;
        self.on_calling_thread(|runner| runtime.block_on(runner.run(make_source)))
    }

    /// Blocking form of [`Runner::finalize`].
    pub fn finalize_blocking(&mut self) -> Result<Option<LoadInfo>> {
        let runtime = blocking_runtime()?;
        self.on_calling_thread(|runner| runtime.block_on(runner.finalize()))
    }

    /// Runs `body` with pipeline work on the calling thread, then restores
    /// the executor for later calls of the async forms.
    fn on_calling_thread<T>(&mut self, body: impl FnOnce(&mut Self) -> T) -> T {
        let previous = std::mem::replace(&mut self.executor, Executor::CallingThread);
        let result = body(self);
        self.executor = previous;
        result
    }
}

fn blocking_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| Error::Internal(format!("cannot start a tokio runtime: {error}")))
}

/// Runs one attempt: restores from the destination once, extracts once (again
/// only after a failed extraction), then normalizes and loads what is pending.
/// `recorder` times each step.
fn run_attempt<F>(pipeline: &mut Pipeline, progress: &mut RunProgress<F>, recorder: &StepRecorder) -> Result<LoadInfo>
where
    F: FnMut() -> Result<Source>,
{
    let started = Instant::now();
    pipeline.recover()?;

    if !progress.synced {
        recorder.step(Step::Sync, || pipeline.sync(), StepInfo::from_sync)?;
        progress.synced = true;
    }

    if !progress.extracted {
        let extract = || {
            let source = (progress.make_source)().map_err(|error| error.in_step(Step::Extract, pipeline.name()))?;
            pipeline.extract(source)
        };
        recorder.step(Step::Extract, extract, |load_id| StepInfo::from_extract(load_id.as_deref()))?;
        progress.extracted = true;
    }

    let packages = normalize_and_load(pipeline, recorder)?;
    Ok(pipeline.load_info_since(packages, 0, started))
}

/// Runs one attempt of a finalize: normalizes and loads the pending packages.
fn finalize_attempt(pipeline: &mut Pipeline, recorder: &StepRecorder) -> Result<LoadInfo> {
    let span = tracing::info_span!("finalize", pipeline = %pipeline.name());
    let _entered = span.enter();
    let started = Instant::now();
    pipeline.recover()?;

    let packages = normalize_and_load(pipeline, recorder)?;
    let count = packages.len();
    Ok(pipeline.load_info_since(packages, count, started))
}

fn normalize_and_load(pipeline: &mut Pipeline, recorder: &StepRecorder) -> Result<Vec<crate::pipeline::PackageInfo>> {
    recorder.step(Step::Normalize, || pipeline.normalize(), |changes| StepInfo::from_normalize(changes))?;
    recorder.step(Step::Load, || pipeline.load(), |packages| StepInfo::from_packages(packages))
}
