#!/usr/bin/env bash
# Builds the fuzz targets in fuzz/ with cargo-fuzz and runs each for a share
# of a fixed time budget. A target that panics, aborts, times out on one
# input or runs out of memory fails the script; libFuzzer prints the input,
# and cargo-fuzz saves it under fuzz/artifacts/<target>/.
#
# Works with the stable toolchain: with `--sanitizer none`, cargo-fuzz passes
# rustc only stable flags (coverage instrumentation through LLVM arguments).
# That drops AddressSanitizer, which needs nightly, but panics and aborts are
# still caught, and debug assertions and overflow checks are on.
#
# Environment:
#   DLT_FUZZ_SKIP=1        skip fuzzing (scripts/test.sh calls this script)
#   DLT_FUZZ_SECONDS=N     total fuzzing time in seconds, split evenly over the
#                          targets (default 150); the build comes on top
#   DLT_FUZZ_TARGETS="a b" targets to run (default: all)
#   DLT_FUZZ_CACHE=DIR     cargo-fuzz, the build and the grown corpora, kept
#                          across runs (default /var/tmp/dlt-runner-ci/fuzz)
# docs/fuzzing.md describes longer runs.
set -euo pipefail

if [[ "${DLT_FUZZ_SKIP:-0}" == 1 ]]; then
    echo "fuzz: skipped (DLT_FUZZ_SKIP=1)"
    exit 0
fi

repo_root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo_root"

cargo_fuzz_version=0.13.2
cache="${DLT_FUZZ_CACHE:-/var/tmp/dlt-runner-ci/fuzz}"
total_seconds="${DLT_FUZZ_SECONDS:-150}"
read -r -a targets <<< "${DLT_FUZZ_TARGETS:-normalize dlt_yml load_package}"

# cargo-fuzz is installed once per cache folder, outside the clone.
tools="$cache/tools"
if ! "$tools/bin/cargo-fuzz" --version 2>/dev/null | grep -qF "$cargo_fuzz_version"; then
    echo "fuzz: installing cargo-fuzz $cargo_fuzz_version into $tools"
    CARGO_TARGET_DIR="$cache/tools-build" cargo install cargo-fuzz \
        --version "$cargo_fuzz_version" --locked --root "$tools"
fi
export PATH="$tools/bin:$PATH"

# Fuzz builds carry coverage instrumentation, so they get a target folder of
# their own and never invalidate the main build.
# 16 codegen units build faster than cargo-fuzz's default of 1, at some
# cost in executions per second.
fuzz_flags=(--sanitizer none --codegen-units 16 --target-dir "$cache/target")

build_started=$SECONDS
cargo fuzz build "${fuzz_flags[@]}"
echo "fuzz: build took $(( SECONDS - build_started )) s"

seconds_per_target=$(( total_seconds / ${#targets[@]} ))
if (( seconds_per_target < 1 )); then
    seconds_per_target=1
fi

for target in "${targets[@]}"; do
    # The first folder receives new inputs and lives in the cache, so later
    # runs start from what earlier ones found; the seeds stay read-only.
    corpus="$cache/corpus/$target"
    mkdir -p "$corpus"
    echo "fuzz: $target for $seconds_per_target s"
    cargo fuzz run "${fuzz_flags[@]}" "$target" "$corpus" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds_per_target" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1
done
