//! Errors of `dlt.yml` loading and resolution.
//!
//! Every error names the project file and, where it comes from the file, the
//! line and column, so it renders as `dlt.yml:12:7: <message>` followed by the
//! offending line with a caret under the column.

use std::fmt;
use std::path::{Path, PathBuf};

use super::suggest::{format_names, suggestion_suffix};

/// A 1-based line and column (counted in characters) in the project file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Location {
    pub line: u64,
    pub column: u64,
}

/// An invalid or unreadable `dlt.yml`, or a pipeline that cannot be resolved.
///
/// `Display` renders `<file>:<line>:<column>: <message>` (or `<file>: <message>`
/// without a location). When the source line is known and is not part of a
/// destination entry, the line follows with a caret under the column.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// The project file, as given to [`super::Project::load`] or [`super::Project::from_str`].
    pub file: PathBuf,
    /// The position of the problem in the file. It is `None` for problems
    /// that do not come from the file, such as an unknown pipeline name on the
    /// command line.
    pub location: Option<Location>,
    /// The problem, boxed to keep `Result<_, ConfigError>` small.
    #[source]
    pub kind: Box<ConfigErrorKind>,
    /// The offending source line with a caret under the column.
    pub snippet: Option<String>,
}

/// The problem a [`ConfigError`] reports.
///
/// Messages name the dotted key path (`pipelines.p.run_config.retry_policy`),
/// show the value unless it could be a secret, and tell how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigErrorKind {
    /// The project file could not be read.
    #[error(
        "cannot read the project file: {source}; run the command in a project folder or pass the path of its dlt.yml"
    )]
    Read {
        #[source]
        source: std::io::Error,
    },

    /// The text is not valid YAML.
    #[error("invalid YAML: {message}")]
    Syntax { message: String },

    /// A line is indented with a tab, which YAML forbids.
    #[error(
        "tab character in indentation: YAML allows only spaces there, so replace the tab with spaces"
    )]
    TabIndentation,

    /// The same key appears twice in one mapping.
    #[error("duplicate key `{key}` in {}: it first appears at line {first_line}; remove one of them", describe_parent(.parent))]
    DuplicateKey {
        key: String,
        parent: String,
        first_line: u64,
    },

    /// A key that this mapping does not accept.
    #[error("unknown key `{key}` in {}{}", describe_parent(.parent), unknown_key_help(.suggestion, .expected))]
    UnknownKey {
        key: String,
        parent: String,
        expected: Vec<String>,
        suggestion: Option<String>,
    },

    /// A key that unsupported dlt+ features use.
    #[error("key `{key}` in {} is not supported by this runner; remove it", describe_parent(.parent))]
    UnsupportedKey { key: String, parent: String },

    /// A value of the wrong YAML type, such as a string where a mapping belongs.
    #[error("invalid type for {path}: expected {expected}, found {found}")]
    WrongType {
        path: String,
        expected: &'static str,
        found: String,
    },

    /// A required key is absent.
    #[error("missing key `{key}` in {}: {help}", describe_parent(.parent))]
    MissingKey {
        key: &'static str,
        parent: String,
        help: String,
    },

    /// A value of the right type that breaks a rule.
    #[error("invalid value {value} for {path}: {reason}")]
    InvalidValue {
        path: String,
        value: String,
        reason: String,
    },

    /// A name that refers to nothing defined in the file.
    #[error(
        "{path} names {kind} `{name}`, which is not defined in {section}{}",
        undefined_help(.kind, .suggestion, .available)
    )]
    UndefinedReference {
        path: String,
        kind: &'static str,
        name: String,
        section: &'static str,
        available: Vec<String>,
        suggestion: Option<String>,
    },

    /// A destination name defined under both `destinations` and `destination`.
    #[error(
        "destination `{name}` is defined in both `destinations` and `destination` (first at line {first_line}); rename or remove one of them"
    )]
    DuplicateDestination { name: String, first_line: u64 },

    /// A pipeline name that the file does not define.
    #[error("pipeline `{name}` is not defined in the project file{}", undefined_help("pipeline", .suggestion, .available))]
    UnknownPipeline {
        name: String,
        available: Vec<String>,
        suggestion: Option<String>,
    },

    /// A `${VAR}` value whose variable is not set.
    #[error(
        "environment variable `{variable}` for {path} is not set; set it, or write the value in dlt.yml"
    )]
    MissingEnvVar { variable: String, path: String },

    /// A `.dlt/config.toml` or `.dlt/secrets.toml` file that is not valid TOML.
    /// The message leaves out the line's text, which could hold a secret.
    #[error("invalid TOML: {message}; fix the file or move it away")]
    TomlSyntax { message: String },

    /// A setting of a TOML file that cannot be applied.
    #[error("{path} cannot be set in a TOML file: {reason}")]
    InvalidTomlSetting { path: String, reason: String },

    /// A dlt-style environment variable that cannot be applied.
    #[error("environment variable `{variable}` cannot set {path}: {reason}")]
    InvalidEnvVar {
        variable: String,
        path: String,
        reason: String,
    },
}

impl ConfigErrorKind {
    /// Returns the dotted key path the problem is about, if it has one.
    pub fn key_path(&self) -> Option<&str> {
        match self {
            ConfigErrorKind::DuplicateKey { parent, .. }
            | ConfigErrorKind::UnknownKey { parent, .. }
            | ConfigErrorKind::UnsupportedKey { parent, .. }
            | ConfigErrorKind::MissingKey { parent, .. } => Some(parent),
            ConfigErrorKind::WrongType { path, .. }
            | ConfigErrorKind::InvalidValue { path, .. }
            | ConfigErrorKind::UndefinedReference { path, .. }
            | ConfigErrorKind::MissingEnvVar { path, .. }
            | ConfigErrorKind::InvalidEnvVar { path, .. }
            | ConfigErrorKind::InvalidTomlSetting { path, .. } => Some(path),
            ConfigErrorKind::Read { .. }
            | ConfigErrorKind::Syntax { .. }
            | ConfigErrorKind::TomlSyntax { .. }
            | ConfigErrorKind::TabIndentation
            | ConfigErrorKind::DuplicateDestination { .. }
            | ConfigErrorKind::UnknownPipeline { .. } => None,
        }
    }
}

impl ConfigError {
    /// Creates an error without a file name, which [`ConfigError::in_file`] sets later.
    pub(crate) fn new(kind: ConfigErrorKind, location: Option<Location>) -> Self {
        ConfigError {
            file: PathBuf::new(),
            location,
            kind: Box::new(kind),
            snippet: None,
        }
    }

    /// Creates an error at `location`.
    pub(crate) fn at(location: Location, kind: ConfigErrorKind) -> Self {
        ConfigError::new(kind, Some(location))
    }

    /// Sets the file name and, when `text` is given, the caret snippet.
    ///
    /// Errors about destination settings get no snippet, because the line
    /// could hold a password written in the file.
    pub(crate) fn in_file(mut self, file: &Path, text: Option<&str>) -> Self {
        self.file = file.to_path_buf();

        let may_hold_secret = self.kind.key_path().is_some_and(is_destination_setting);
        if let (Some(text), Some(location), false) = (text, self.location, may_hold_secret) {
            self.snippet = render_snippet(text, location);
        }
        self
    }

    /// Returns the dotted key path the error is about, if it has one.
    pub fn key_path(&self) -> Option<&str> {
        self.kind.key_path()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(location) = self.location {
            write!(f, ":{}:{}", location.line, location.column)?;
        }
        write!(f, ": {}", self.kind)?;

        if let Some(snippet) = &self.snippet {
            write!(f, "\n{snippet}")?;
        }
        Ok(())
    }
}

impl From<ConfigError> for crate::Error {
    fn from(error: ConfigError) -> Self {
        crate::Error::config(error.to_string())
    }
}

/// Returns whether `path` is a destination entry or below one, other than its `type`.
fn is_destination_setting(path: &str) -> bool {
    let mut segments = path.split('.');
    let section = segments.next();
    let in_destinations = matches!(section, Some("destinations" | "destination"));
    let name = segments.next();
    let setting = segments.next();

    in_destinations && name.is_some() && setting != Some("type")
}

/// Renders line `location.line` of `text` with a gutter and a caret under the column.
///
/// Tabs show as `→` so that the caret stays aligned and a tab error shows its tab.
fn render_snippet(text: &str, location: Location) -> Option<String> {
    let index = usize::try_from(location.line.checked_sub(1)?).ok()?;
    let line = text.lines().nth(index)?;
    let shown: String = line
        .chars()
        .map(|c| if c == '\t' { '→' } else { c })
        .collect();

    let number = location.line.to_string();
    let gutter = " ".repeat(number.len());
    let caret_offset = usize::try_from(location.column.saturating_sub(1)).unwrap_or(0);
    let caret = format!("{}^", " ".repeat(caret_offset));

    Some(format!(
        "{gutter} |\n{number} | {shown}\n{gutter} | {caret}"
    ))
}

fn describe_parent(parent: &str) -> String {
    if parent.is_empty() {
        "the top level".to_owned()
    } else {
        parent.to_owned()
    }
}

fn unknown_key_help(suggestion: &Option<String>, expected: &[String]) -> String {
    match suggestion {
        Some(name) => format!("; did you mean `{name}`?"),
        None if expected.is_empty() => {
            "; this mapping takes no other keys, so remove it".to_owned()
        }
        None => format!("; valid keys are {}", format_names(expected)),
    }
}

fn undefined_help(kind: &str, suggestion: &Option<String>, available: &[String]) -> String {
    let suffix = suggestion_suffix(suggestion.as_deref());
    if available.is_empty() {
        return format!("; no {kind} is defined{suffix}");
    }
    format!("; defined {kind}s: {}{suffix}", format_names(available))
}
