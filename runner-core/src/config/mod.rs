//! `dlt.yml` project configuration.
