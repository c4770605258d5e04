//! The normalize step: rows into relational tables and Parquet files.
