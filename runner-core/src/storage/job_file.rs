use std::fmt;

/// A job file name as dlt writes it: `<table>.<file_id>.<retry_count>.<ext>[.gz]`.
///
/// The table name cannot contain `.`, so the name splits on `.` into four
/// parts, or five when the last one is `gz`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobFileName {
    pub table_name: String,
    /// 10 lowercase hex characters.
    pub file_id: String,
    pub retry_count: u32,
    /// Extension without `.gz`: `typed-jsonl`, `parquet`, ...
    pub extension: String,
    pub compressed: bool,
}

impl JobFileName {
    pub fn new(table_name: &str, file_id: &str, extension: &str) -> Self {
        JobFileName {
            table_name: table_name.to_owned(),
            file_id: file_id.to_owned(),
            retry_count: 0,
            extension: extension.to_owned(),
            compressed: false,
        }
    }

    /// Parses a file name; `None` when it is not a job file name.
    pub fn parse(file_name: &str) -> Option<Self> {
        let parts: Vec<&str> = file_name.split('.').collect();
        let (parts, compressed) = match parts.as_slice() {
            [rest @ .., "gz"] if rest.len() == 4 => (rest.to_vec(), true),
            all if all.len() == 4 => (all.to_vec(), false),
            _ => return None,
        };

        let retry_count = parts[2].parse().ok()?;
        if parts[0].is_empty() || parts[1].is_empty() || parts[3].is_empty() {
            return None;
        }
        Some(JobFileName {
            table_name: parts[0].to_owned(),
            file_id: parts[1].to_owned(),
            retry_count,
            extension: parts[3].to_owned(),
            compressed,
        })
    }

    /// Returns the job id: the file name without the retry count.
    pub fn job_id(&self) -> String {
        let suffix = if self.compressed { ".gz" } else { "" };
        format!("{}.{}.{}{}", self.table_name, self.file_id, self.extension, suffix)
    }

    /// Returns the same job with its retry count incremented, as dlt renames a job
    /// that goes back to `new_jobs` after a failed attempt.
    pub fn next_retry(&self) -> Self {
        JobFileName {
            retry_count: self.retry_count + 1,
            ..self.clone()
        }
    }
}

impl fmt::Display for JobFileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}.{}", self.table_name, self.file_id, self.retry_count, self.extension)?;
        if self.compressed {
            f.write_str(".gz")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_compressed_name() {
        let name = JobFileName::parse("users.50140055db.0.typed-jsonl.gz").unwrap();
        assert_eq!(name.table_name, "users");
        assert_eq!(name.file_id, "50140055db");
        assert_eq!(name.retry_count, 0);
        assert_eq!(name.extension, "typed-jsonl");
        assert!(name.compressed);
    }

    #[test]
    fn display_round_trips() {
        let text = "users__tags.c227cfbc50.2.parquet";
        assert_eq!(JobFileName::parse(text).unwrap().to_string(), text);
    }

    #[test]
    fn job_id_drops_retry_count() {
        let name = JobFileName::parse("users.4687fd3045.3.jsonl.gz").unwrap();
        assert_eq!(name.job_id(), "users.4687fd3045.jsonl.gz");
    }

    #[test]
    fn rejects_other_names() {
        assert!(JobFileName::parse("schema.json").is_none());
        assert!(JobFileName::parse("users.abc.x.parquet").is_none());
    }

    #[test]
    fn next_retry_increments() {
        let name = JobFileName::new("t", "0123456789", "parquet").next_retry();
        assert_eq!(name.to_string(), "t.0123456789.1.parquet");
    }
}
