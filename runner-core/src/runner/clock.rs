use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

/// Waits between attempts. Tests swap in a clock that only records.
pub trait Clock: Send + Sync {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Sleeps on the tokio timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Records every wait and returns at once, so tests can check the waits of
/// a retry policy without spending them.
#[derive(Debug, Default)]
pub struct RecordingClock {
    waits: Mutex<Vec<Duration>>,
}

impl RecordingClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the waits requested so far, in order.
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().map(|waits| waits.clone()).unwrap_or_default()
    }
}

impl Clock for RecordingClock {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        if let Ok(mut waits) = self.waits.lock() {
            waits.push(duration);
        }
        Box::pin(std::future::ready(()))
    }
}
