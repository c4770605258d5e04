//! The pipeline working directory and its load packages, laid out as dlt lays
//! them out so that a package left by a crash can be found and completed.
//!
//! ```text
//! <working_dir>/
//!   state.json
//!   schemas/<schema>.schema.json
//!   normalize/.version               "1.0.1"
//!   normalize/<16 hex>/<load_id>/    package being extracted (scratch)
//!   normalize/extracted/<load_id>/   extracted, waiting for normalize
//!   load/.version                    "1.0.2"
//!   load/new/<load_id>/              package being normalized (scratch)
//!   load/normalized/<load_id>/       normalized, waiting for load
//!   load/loaded/<load_id>/           loaded (archive)
//! ```
//!
//! Each stage is committed by renaming the package folder into the next
//! stage's folder. Renames within one filesystem are atomic, so a package is
//! always in exactly one committed stage; scratch folders left by a crash
//! are discarded and their stage is redone from the previous committed one.

mod atomic;
mod job_file;
mod lock;
mod package;
mod sync;
mod working_dir;
mod writeback;

pub use atomic::{is_temporary_file_name, sync_file, write_atomic};
pub use job_file::JobFileName;
pub use lock::PipelineLock;
pub use package::{JobState, LoadPackage, PackageStage};
pub(crate) use sync::JobFolder;
pub use working_dir::{WorkingDir, list_folders};
pub(crate) use writeback::WritebackFile;
