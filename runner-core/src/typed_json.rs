//! dlt typed JSON: non-JSON values as strings with a Private Use Area prefix.
