//! A packed working directory (see `runner_fuzz::files`) read back as a run
//! reads it: state, traces, schemas, load packages and their job files in
//! every stage, then a new package extracted on top.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    runner_fuzz::run_over_working_dir(data);
});
