//! The CLI's memory allocator (mimalloc) and when it returns memory to the system.

// Normalize allocates and frees small strings and trees for every row;
// mimalloc does that in about half the instructions of glibc's malloc.
// Plugins keep their own allocator: abi_stable types free memory in the
// library that allocated it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (v2 and v3), which libmimalloc-sys
/// does not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays mapped for reuse, in milliseconds. Purging at
/// once (0) made normalize take every buffer it reused (parsed chunks, row
/// trees, Parquet pages) as fresh pages from the kernel: about a million
/// page faults and 1 to 2 s more at 1M nested events. With mimalloc's
/// default of 10 ms the run peaked at 370 MiB; with 300 ms normalize stays
/// near 170 MiB, and [`release_freed_memory`] returns the rest before the load.
const PURGE_DELAY_MS: std::ffi::c_long = 300;

/// Sets up the allocator; called first thing in `main`.
pub fn configure() {
    use_small_pages();

    // SAFETY: setting an option is thread-safe and valid at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

/// Returns the memory freed so far to the system. Called after each step,
/// so that what extract and normalize freed is not still mapped while
/// DuckDB's load step reaches its own peak.
pub fn release_freed_memory() {
    // SAFETY: mi_collect may be called from any thread at any time; `true`
    // purges freed pages of every thread now instead of after the delay.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// Keeps the heap in 4 KiB pages from here on. With transparent huge pages,
/// the first touch of each 2 MiB range makes the kernel zero a whole huge
/// page. In a three-row run that was up to a fifth of the CPU time, and
/// purging freed memory splits such pages again. mimalloc's own
/// `MIMALLOC_ALLOW_THP=0` does the same, but only when set before the
/// process starts.
///
/// This call covers the THP mode `always`. Under `madvise` (the mode of the
/// benchmark machine), only ranges marked with `MADV_HUGEPAGE` get huge
/// pages. The workspace builds mimalloc with its `no_thp` feature, which
/// drops that mark, because the flag set here did not stop the two huge
/// pages of the arena that mimalloc reserves before `main`. Without them a
/// three-row run used 37.0 to 43.1 ms of CPU time instead of 41.5 to 51.4 ms
/// (means of 25 runs, four blocks each, Linux 6.18 on 2 vCPUs). Its wall
/// time changed by less than the machine's drift between blocks.
#[cfg(target_os = "linux")]
fn use_small_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes one integer flag and touches no memory
    // of ours. On an old kernel it fails and huge pages stay on, which is harmless.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

#[cfg(not(target_os = "linux"))]
fn use_small_pages() {}
