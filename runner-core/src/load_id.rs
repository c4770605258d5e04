//! Load ids: Unix time in seconds, rendered as dlt renders them.
