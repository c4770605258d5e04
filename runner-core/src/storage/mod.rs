//! The working directory and its load packages.
