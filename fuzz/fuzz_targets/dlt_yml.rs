//! `dlt.yml` bytes through the project parser, validation, the rendering of
//! its errors, and the resolution of each pipeline.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    runner_fuzz::parse_project(data);
});
