//! A live display of rows extracted, normalized and loaded, shown only when
//! standard error is a terminal.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use runner_core::pipeline::Progress;

/// How often the display reads the pipeline's counters.
const REFRESH: Duration = Duration::from_millis(100);

pub struct ProgressDisplay {
    bar: ProgressBar,
    stop: Arc<std::sync::atomic::AtomicBool>,
    poller: Option<std::thread::JoinHandle<()>>,
}

impl ProgressDisplay {
    /// Starts the display, or returns `None` when output is not a terminal
    /// or `enabled` is false.
    pub fn start(progress: Arc<Progress>, enabled: bool) -> Option<Self> {
        if !enabled || !std::io::stderr().is_terminal() {
            return None;
        }

        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}").ok()?);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));

        let poller = {
            let bar = bar.clone();
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let counts = progress.snapshot();
                    bar.set_message(format!(
                        "extracted {} · normalized {} · loaded {} rows",
                        counts.extracted, counts.normalized, counts.loaded
                    ));
                    bar.tick();
                    std::thread::sleep(REFRESH);
                }
            })
        };

        Some(ProgressDisplay {
            bar,
            stop,
            poller: Some(poller),
        })
    }

    pub fn finish(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(poller) = self.poller.take() {
            let _ = poller.join();
        }
        self.bar.finish_and_clear();
    }
}
