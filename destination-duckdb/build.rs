//! Copies the prebuilt `libduckdb.so` next to the binaries of this build.
//!
//! Without the `bundled` feature the `duckdb` crate links against the shared
//! library in `$DUCKDB_LIB_DIR`, but cargo does not put that folder on the
//! runtime library path. The workspace links every binary with the rpath
//! `$ORIGIN:$ORIGIN/..`, so a copy in the target profile folder (for example
//! `target/debug`) is found by binaries and plugins in that folder and by test
//! binaries one level down in `deps`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

const LIBRARY_FILE_NAME: &str = "libduckdb.so";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");

    // The bundled build links DuckDB statically, so there is nothing to copy.
    if env::var_os("CARGO_FEATURE_BUNDLED").is_some() {
        return;
    }

    let Some(library_dir) = env::var_os("DUCKDB_LIB_DIR") else {
        println!(
            "cargo:warning=DUCKDB_LIB_DIR is not set, so libduckdb.so cannot be found. \
             Run scripts/fetch-libduckdb.sh or build with `--features destination-duckdb/bundled`."
        );
        return;
    };
    let source = PathBuf::from(library_dir).join(LIBRARY_FILE_NAME);
    println!("cargo:rerun-if-changed={}", source.display());
    if !source.is_file() {
        println!(
            "cargo:warning={} does not exist. Run scripts/fetch-libduckdb.sh or build with \
             `--features destination-duckdb/bundled`.",
            source.display()
        );
        return;
    }

    let out_dir =
        PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts"));
    let Some(profile_dir) = profile_dir_from_out_dir(&out_dir) else {
        println!(
            "cargo:warning=cannot derive the target profile folder from OUT_DIR {}, so libduckdb.so \
             was not copied next to the binaries",
            out_dir.display()
        );
        return;
    };

    let target = profile_dir.join(LIBRARY_FILE_NAME);
    if let Err(error) = copy_if_changed(&source, &target) {
        println!(
            "cargo:warning=cannot copy {} to {}: {error}",
            source.display(),
            target.display()
        );
    }
}

/// Returns `<target>/<profile>` for an OUT_DIR of the form
/// `<target>/<profile>/build/<package>-<hash>/out`.
fn profile_dir_from_out_dir(out_dir: &Path) -> Option<PathBuf> {
    let build_dir = out_dir.parent()?.parent()?;
    if build_dir.file_name()? != "build" {
        return None;
    }
    build_dir.parent().map(Path::to_path_buf)
}

/// Copies `source` to `target` unless `target` already has the same size and
/// is not older.
///
/// Several builds can share one target folder, and running binaries may have
/// the old file mapped, so the copy goes to a temporary name first and is then
/// renamed over `target`, which replaces it atomically.
fn copy_if_changed(source: &Path, target: &Path) -> std::io::Result<()> {
    let source_metadata = fs::metadata(source)?;
    if let Ok(target_metadata) = fs::metadata(target) {
        let same_size = target_metadata.len() == source_metadata.len();
        let up_to_date = target_metadata.modified()? >= source_metadata.modified()?;
        if same_size && up_to_date {
            return Ok(());
        }
    }

    let temporary =
        target.with_file_name(format!("{LIBRARY_FILE_NAME}.{}.tmp", std::process::id()));
    fs::copy(source, &temporary)?;
    fs::rename(&temporary, target).inspect_err(|_| {
        let _ = fs::remove_file(&temporary);
    })
}
