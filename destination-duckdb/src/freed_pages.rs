//! Returning the pages that DuckDB's allocator freed to the operating system
//! during a large load.
//!
//! The prebuilt libduckdb 1.5.6 for Linux allocates its buffers with a
//! jemalloc of its own, exported under the `duckdb_je_` prefix, and keeps
//! freed pages resident for about a second (`dirty_decay_ms` is 1,000).
//! Under the bounded `memory_limit`, a large load evicts written blocks
//! about as fast as it writes new ones, so these pages add to the resident
//! set. At the load's peak, jemalloc's resident pages exceeded its
//! allocated bytes by 12 to 27 MiB with 1M events and by 28 to 52 MiB with
//! 10M events (one run each of several variants on a 2-vCPU machine).
//!
//! [`PagePurger`] purges them every [`PURGE_INTERVAL`] on a thread of its
//! own. A decay of 0 ms, which purges at every free, made the 10M-event
//! load page-fault 3.2M more times and take 55 s instead of 31 s (one run).
//!
//! On a quiet 2-vCPU machine, 1M events peaked at 235 MiB. With a purge
//! every 200 ms, 10M events peaked at 264 and 268 MiB, and with one every
//! 50 ms at 248 to 262 MiB (three runs). The load step took 26 to 28 s
//! either way.
//!
//! NOTE: whether the purger costs load time is not settled. On a busy
//! 2-vCPU machine the 10M-event load step took 36 to 54 s with a 200 ms
//! interval and 26 to 68 s without the purger (four and three runs), and
//! the 1M-event load did not measurably change.
//!
//! Nothing is purged on systems other than Linux, nor with the `bundled`
//! feature, which links DuckDB without a libduckdb.so to look in.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Time between two purges. Freed pages that a load reuses within it are
/// not faulted in again. A quiet machine frees pages faster than a busy
/// one, so 200 ms was too long there (see the module docs).
pub(crate) const PURGE_INTERVAL: Duration = Duration::from_millis(50);

/// jemalloc's `mallctl`: reads a value into `old` and writes `new`, by name.
type Mallctl = unsafe extern "C" fn(
    name: *const c_char,
    old: *mut c_void,
    old_len: *mut usize,
    new: *mut c_void,
    new_len: usize,
) -> c_int;

/// File name under which libduckdb is loaded, as its `SONAME` gives it.
#[cfg(target_os = "linux")]
const LIBDUCKDB: &CStr = c"libduckdb.so";

#[cfg(target_os = "linux")]
const MALLCTL: &CStr = c"duckdb_je_mallctl";

/// `mallctl` name that purges the unused pages of every arena. 4096 is
/// `MALLCTL_ARENAS_ALL` of jemalloc 5.
const PURGE_ALL_ARENAS: &CStr = c"arena.4096.purge";

/// The `mallctl` of the jemalloc inside libduckdb.
#[derive(Clone, Copy)]
struct DuckDbJemalloc {
    mallctl: Mallctl,
}

impl DuckDbJemalloc {
    /// Finds the jemalloc of the loaded libduckdb, or returns `None` when
    /// libduckdb is not loaded as a shared library or has none.
    #[cfg(target_os = "linux")]
    fn find() -> Option<Self> {
        // RTLD_NOLOAD returns the library only if it is already loaded,
        // even when its symbols are not in the global scope, as with a
        // plugin opened with RTLD_LOCAL. The handle is never closed, which
        // only adds a reference to a library that stays loaded anyway.
        let handle = unsafe { libc::dlopen(LIBDUCKDB.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD) };
        if handle.is_null() {
            return None;
        }
        let symbol = unsafe { libc::dlsym(handle, MALLCTL.as_ptr()) };
        if symbol.is_null() {
            return None;
        }

        // SAFETY: `duckdb_je_mallctl` is jemalloc's `mallctl` renamed by
        // DuckDB's build, with the signature of `Mallctl`.
        let mallctl = unsafe { std::mem::transmute::<*mut c_void, Mallctl>(symbol) };
        Some(DuckDbJemalloc { mallctl })
    }

    #[cfg(not(target_os = "linux"))]
    fn find() -> Option<Self> {
        None
    }

    /// Returns the unused pages of every arena to the operating system.
    /// Returns whether jemalloc accepted the request.
    fn purge(&self) -> bool {
        // SAFETY: the purge request reads and writes no value.
        let status = unsafe {
            (self.mallctl)(
                PURGE_ALL_ARENAS.as_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
            )
        };
        status == 0
    }
}

/// A thread that purges DuckDB's freed pages every [`PURGE_INTERVAL`] until
/// it is dropped.
pub(crate) struct PagePurger {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl PagePurger {
    /// Starts the thread, or returns `None` when libduckdb has no jemalloc
    /// of its own or the thread cannot start.
    pub(crate) fn start() -> Option<Self> {
        let jemalloc = DuckDbJemalloc::find()?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread_stop = Arc::clone(&stop);
        let spawned = std::thread::Builder::new()
            .name("duckdb-purge".to_owned())
            .spawn(move || purge_until_stopped(jemalloc, &thread_stop));

        match spawned {
            Ok(thread) => {
                tracing::debug!(interval_ms = PURGE_INTERVAL.as_millis() as u64, "purging DuckDB's freed pages during the load");
                Some(PagePurger {
                    stop,
                    thread: Some(thread),
                })
            }
            Err(error) => {
                tracing::debug!(%error, "failed to spawn the thread that purges DuckDB's freed pages");
                None
            }
        }
    }
}

impl Drop for PagePurger {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
        wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for PagePurger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagePurger").finish_non_exhaustive()
    }
}

fn purge_until_stopped(jemalloc: DuckDbJemalloc, stop: &(Mutex<bool>, Condvar)) {
    let (stopped, wake) = stop;
    let mut stopped_now = stopped.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    while !*stopped_now {
        let (guard, _) = wake
            .wait_timeout(stopped_now, PURGE_INTERVAL)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        stopped_now = guard;
        if *stopped_now {
            break;
        }

        if !jemalloc.purge() {
            tracing::debug!("DuckDB's jemalloc rejected the purge of freed pages, so purging stops");
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prebuilt_jemalloc_accepts_purge() {
        // Linking the duckdb crate loads libduckdb before the test runs.
        let connection = duckdb::Connection::open_in_memory().expect("start DuckDB");
        let expected = cfg!(all(target_os = "linux", not(feature = "bundled")));

        let jemalloc = DuckDbJemalloc::find();

        assert_eq!(jemalloc.is_some(), expected);
        if let Some(jemalloc) = jemalloc {
            assert!(jemalloc.purge());
        }
        drop(connection);
    }

    #[test]
    fn purger_stops_when_dropped() {
        let Some(purger) = PagePurger::start() else {
            return;
        };
        // Two intervals, so the thread purges at least once before it stops.
        std::thread::sleep(PURGE_INTERVAL * 2);

        // Dropping joins the thread, so a purger that missed the stop
        // signal hangs here.
        drop(purger);
    }
}
