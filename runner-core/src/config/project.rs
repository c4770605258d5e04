//! The whole `dlt.yml` file: reading, validating and looking up pipelines.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::contract::{DatasetConfig, read_datasets};
use super::destination::{BUILTIN_DESTINATION_TYPES, DestinationConfig, parse_destination};
use super::error::{ConfigError, ConfigErrorKind, Location};
use super::fields::{Fields, child_path, invalid_value, mapping_entries, wrong_type};
use super::pipeline::{ParsedPipeline, PipelineConfig, parse_pipeline};
use super::run_config::TraceTarget;
use super::source::{SourceConfig, parse_source};
use super::suggest::nearest;
use super::toml_files::TomlSettings;
use super::yaml::{self, Entry, Node, Value};

/// File name of the project file inside a project folder.
pub const PROJECT_FILE_NAME: &str = "dlt.yml";

/// A validated `dlt.yml` project.
///
/// The file has these top-level keys, all optional:
///
/// | key | content |
/// |---|---|
/// | `sources` | source name → [`SourceConfig`] |
/// | `destinations` | destination name → [`DestinationConfig`] |
/// | `destination` | the same as `destinations`, the spelling of the dlt+ runner docs; both may appear if no name is in both |
/// | `pipelines` | pipeline name → [`PipelineConfig`] |
/// | `datasets` | dataset name → [`DatasetConfig`] |
///
/// Loading checks the whole file, including that every name a pipeline
/// refers to is defined, and touches no file other than `dlt.yml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    /// The project folder; relative paths in the file are relative to it.
    pub dir: PathBuf,
    /// The project file.
    pub file: PathBuf,
    pub sources: IndexMap<String, SourceConfig>,
    /// Destinations from `destinations` and `destination`, in file order.
    pub destinations: IndexMap<String, DestinationConfig>,
    pub pipelines: IndexMap<String, PipelineConfig>,
    /// Settings per dataset name, such as its schema contract.
    pub datasets: IndexMap<String, DatasetConfig>,
    /// Destination settings of `.dlt/config.toml` and `.dlt/secrets.toml`,
    /// which [`Project::load`] reads.
    pub toml_settings: TomlSettings,
}

/// The top-level keys.
const TOP_LEVEL_KEYS: &[&str] = &["sources", "destinations", "destination", "pipelines", "datasets"];

/// Top-level keys of dlt+ projects that this runner does not implement. They
/// get their own message, so that a user does not hunt for a typo.
const UNSUPPORTED_TOP_LEVEL_KEYS: &[&str] = &[
    "profiles",
    "cache",
    "transformations",
    "project",
];

impl Project {
    /// Reads and validates a project from a folder (its `dlt.yml`) or from
    /// the path of the file itself.
    pub fn load(dir_or_file: &Path) -> Result<Project, ConfigError> {
        let file = if dir_or_file.is_dir() {
            dir_or_file.join(PROJECT_FILE_NAME)
        } else {
            dir_or_file.to_path_buf()
        };

        let bytes = std::fs::read(&file).map_err(|source| {
            ConfigError::new(ConfigErrorKind::Read { source }, None).in_file(&file, None)
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|error| not_utf8_error(error.as_bytes(), error.utf8_error(), &file))?;
        let mut project = Project::from_str(&text, &file)?;
        project.toml_settings = TomlSettings::load(&project.dir)?;
        project.warn_unused_toml_destinations();
        Ok(project)
    }

    /// Validates a project from the text of its file. `file` names the file
    /// in errors, and its folder becomes [`Project::dir`].
    pub fn from_str(text: &str, file: &Path) -> Result<Project, ConfigError> {
        let dir = match file.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };

        let root = yaml::parse(text).map_err(|error| error.in_file(file, Some(text)))?;
        let sections = read_sections(&root).map_err(|error| error.in_file(file, Some(text)))?;

        Ok(Project {
            dir,
            file: file.to_path_buf(),
            sources: sections.sources,
            destinations: sections.destinations,
            pipelines: sections.pipelines,
            datasets: sections.datasets,
            toml_settings: TomlSettings::default(),
        })
    }

    /// Logs the TOML destination sections that no destination of `dlt.yml`
    /// uses. Sections are keyed by the destination's name, not its type, and
    /// a pipeline that names a bare type (`destination: duckdb`) uses that.
    fn warn_unused_toml_destinations(&self) {
        let bare_types: Vec<&str> = self.pipelines.values().map(|pipeline| pipeline.destination.as_str()).collect();
        let is_known = |name: &str| self.destinations.contains_key(name) || bare_types.contains(&name);
        let defined: Vec<&str> = self.destinations.keys().map(String::as_str).collect();
        for name in self.toml_settings.unknown_destinations(is_known) {
            tracing::warn!(
                section = %format!("destination.{name}"),
                destinations = %defined.join(", "),
                "TOML section names no destination of dlt.yml, so its settings are not used; name the section after a destination key of dlt.yml"
            );
        }
    }

    /// Returns the pipeline `name`, or an error that lists the defined
    /// pipelines and the closest name.
    pub fn pipeline(&self, name: &str) -> Result<&PipelineConfig, ConfigError> {
        self.pipelines.get(name).ok_or_else(|| {
            let kind = ConfigErrorKind::UnknownPipeline {
                name: name.to_owned(),
                available: self.pipelines.keys().cloned().collect(),
                suggestion: nearest(name, self.pipelines.keys().map(String::as_str)),
            };
            ConfigError::new(kind, None).in_file(&self.file, None)
        })
    }
}

struct Sections {
    sources: IndexMap<String, SourceConfig>,
    destinations: IndexMap<String, DestinationConfig>,
    pipelines: IndexMap<String, PipelineConfig>,
    datasets: IndexMap<String, DatasetConfig>,
}

fn read_sections(root: &Node) -> Result<Sections, ConfigError> {
    if !matches!(root.value, Value::Mapping(_) | Value::Null) {
        let expected = "a mapping with `sources`, `destinations` and `pipelines`";
        return Err(wrong_type(
            root.location,
            "the top level",
            expected,
            &root.value,
        ));
    }
    reject_unsupported_keys(mapping_entries(root, "")?)?;
    let top = Fields::read(root, "", root.location, TOP_LEVEL_KEYS)?;

    let sources = read_sources(top.get("sources"))?;
    let destinations = read_destinations(top.get("destinations"), top.get("destination"))?;
    let parsed = read_pipelines(top.get("pipelines"))?;
    let datasets = read_datasets(top.get("datasets"))?;

    check_references(&parsed, &sources, &destinations)?;
    let pipelines = parsed
        .into_iter()
        .map(|item| (item.config.name.clone(), item.config))
        .collect();

    Ok(Sections {
        sources,
        destinations,
        pipelines,
        datasets,
    })
}

fn reject_unsupported_keys(entries: &[Entry]) -> Result<(), ConfigError> {
    let Some(entry) = entries
        .iter()
        .find(|entry| UNSUPPORTED_TOP_LEVEL_KEYS.contains(&entry.key.as_str()))
    else {
        return Ok(());
    };

    let kind = ConfigErrorKind::UnsupportedKey {
        key: entry.key.clone(),
        parent: String::new(),
    };
    Err(ConfigError::at(entry.key_location, kind))
}

fn read_sources(section: Option<&Entry>) -> Result<IndexMap<String, SourceConfig>, ConfigError> {
    let mut sources = IndexMap::new();
    let Some(section) = section else {
        return Ok(sources);
    };

    for entry in mapping_entries(&section.value, "sources")? {
        check_name(entry, "sources", "source")?;
        let source = parse_source(entry, &child_path("sources", &entry.key))?;
        sources.insert(entry.key.clone(), source);
    }
    Ok(sources)
}

/// Reads `destinations` and then `destination`, rejecting a name in both.
fn read_destinations(
    plural: Option<&Entry>,
    singular: Option<&Entry>,
) -> Result<IndexMap<String, DestinationConfig>, ConfigError> {
    let mut destinations = IndexMap::new();
    let mut first_lines: IndexMap<String, u64> = IndexMap::new();

    let sections = [("destinations", plural), ("destination", singular)];
    for (section_name, section) in sections {
        let Some(section) = section else {
            continue;
        };

        for entry in mapping_entries(&section.value, section_name)? {
            check_name(entry, section_name, "destination")?;

            if let Some(first_line) = first_lines.get(&entry.key) {
                let kind = ConfigErrorKind::DuplicateDestination {
                    name: entry.key.clone(),
                    first_line: *first_line,
                };
                return Err(ConfigError::at(entry.key_location, kind));
            }

            let destination = parse_destination(entry, &child_path(section_name, &entry.key))?;
            first_lines.insert(entry.key.clone(), entry.key_location.line);
            destinations.insert(entry.key.clone(), destination);
        }
    }
    Ok(destinations)
}

fn read_pipelines(section: Option<&Entry>) -> Result<Vec<ParsedPipeline>, ConfigError> {
    let Some(section) = section else {
        return Ok(Vec::new());
    };

    let mut pipelines = Vec::new();
    for entry in mapping_entries(&section.value, "pipelines")? {
        check_name(entry, "pipelines", "pipeline")?;
        pipelines.push(parse_pipeline(entry, &child_path("pipelines", &entry.key))?);
    }
    Ok(pipelines)
}

/// Rejects names that cannot be folder or file names: pipeline names name
/// working directories, and destination names can name database files.
fn check_name(entry: &Entry, section: &str, kind: &str) -> Result<(), ConfigError> {
    let name = entry.key.as_str();
    let unusable = name.trim().is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control);
    if !unusable {
        return Ok(());
    }

    let key_node = Node {
        value: Value::String(name.to_owned()),
        location: entry.key_location,
    };
    let reason = format!(
        "a {kind} name must not be empty, `.` or `..`, or contain `/`, `\\` or control characters, \
         because it can become a file or folder name; rename it"
    );
    Err(invalid_value(&key_node, section, reason))
}

/// Checks the names that pipelines refer to: sources, destinations and trace pipelines.
fn check_references(
    pipelines: &[ParsedPipeline],
    sources: &IndexMap<String, SourceConfig>,
    destinations: &IndexMap<String, DestinationConfig>,
) -> Result<(), ConfigError> {
    let pipeline_names: Vec<&str> = pipelines
        .iter()
        .map(|item| item.config.name.as_str())
        .collect();

    for pipeline in pipelines {
        let config = &pipeline.config;
        let path = child_path("pipelines", &config.name);

        if !sources.contains_key(&config.source) {
            let names: Vec<&str> = sources.keys().map(String::as_str).collect();
            return Err(undefined(
                pipeline.source_location,
                format!("{path}.source"),
                ("source", "sources"),
                &config.source,
                (&names, &[]),
            ));
        }

        let is_builtin = BUILTIN_DESTINATION_TYPES.contains(&config.destination.as_str());
        if !destinations.contains_key(&config.destination) && !is_builtin {
            let names: Vec<&str> = destinations.keys().map(String::as_str).collect();
            return Err(undefined(
                pipeline.destination_location,
                format!("{path}.destination"),
                (
                    "destination",
                    "destinations and is not a built-in destination type (`duckdb`, `filesystem`)",
                ),
                &config.destination,
                (&names, &BUILTIN_DESTINATION_TYPES),
            ));
        }

        if let (TraceTarget::Pipeline(target), Some(location)) = (
            &config.run_config.store_trace_info,
            pipeline.trace_pipeline_location,
        ) {
            check_trace_pipeline(target, location, &path, &config.name, &pipeline_names)?;
        }
    }
    Ok(())
}

fn check_trace_pipeline(
    target: &str,
    location: Location,
    pipeline_path: &str,
    pipeline_name: &str,
    pipeline_names: &[&str],
) -> Result<(), ConfigError> {
    let path = format!("{pipeline_path}.run_config.store_trace_info");

    if target == pipeline_name {
        let node = Node {
            value: Value::String(target.to_owned()),
            location,
        };
        let reason = format!(
            "a pipeline cannot store its traces with itself; write `true` for the trace pipeline \
             `_trace_{pipeline_name}`, or name another pipeline"
        );
        return Err(invalid_value(&node, &path, reason));
    }

    if !pipeline_names.contains(&target) {
        let others: Vec<&str> = pipeline_names
            .iter()
            .copied()
            .filter(|name| *name != pipeline_name)
            .collect();
        return Err(undefined(
            location,
            path,
            ("pipeline", "pipelines"),
            target,
            (&others, &[]),
        ));
    }
    Ok(())
}

/// Creates an "undefined reference" error. `what` is the kind of thing and
/// the section that should define it. `names` contains the defined names,
/// which the message lists, and further valid names, which only the hint considers.
fn undefined(
    location: Location,
    path: String,
    what: (&'static str, &'static str),
    name: &str,
    names: (&[&str], &[&str]),
) -> ConfigError {
    let (kind, section) = what;
    let (defined, other_valid) = names;
    let kind = ConfigErrorKind::UndefinedReference {
        path,
        kind,
        name: name.to_owned(),
        section,
        available: defined.iter().map(|name| (*name).to_owned()).collect(),
        suggestion: nearest(name, defined.iter().chain(other_valid).copied()),
    };
    ConfigError::at(location, kind)
}

/// Builds the error for a project file that is not UTF-8 text, at the line
/// and column (in bytes) of its first invalid byte.
fn not_utf8_error(bytes: &[u8], error: std::str::Utf8Error, file: &Path) -> ConfigError {
    let valid = &bytes[..error.valid_up_to()];
    let line_start = valid.iter().rposition(|&byte| byte == b'\n').map_or(0, |index| index + 1);
    let location = Location {
        line: valid.iter().filter(|&&byte| byte == b'\n').count() as u64 + 1,
        column: (valid.len() - line_start) as u64 + 1,
    };
    let message = format!(
        "byte 0x{:02X} is not valid UTF-8; YAML files must be UTF-8, so save dlt.yml as UTF-8",
        bytes[error.valid_up_to()]
    );
    ConfigError::at(location, ConfigErrorKind::Syntax { message }).in_file(file, None)
}
