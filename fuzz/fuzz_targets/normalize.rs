//! Input file bytes through extract and normalize: the JSON and JSON Lines
//! readers, typed JSON Lines, the relational normalizer with schema
//! inference, and the Parquet writer. The bytes run once as each format.

#![no_main]

use libfuzzer_sys::fuzz_target;
use runner_core::extract::files::FileFormat;

fuzz_target!(|data: &[u8]| {
    runner_fuzz::extract_and_normalize(data, FileFormat::Json);
    runner_fuzz::extract_and_normalize(data, FileFormat::Jsonl);
});
