//! The extract step: resources into load packages.
