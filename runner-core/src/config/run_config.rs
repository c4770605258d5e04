//! `pipelines.<name>.run_config`: trace storage, clean runs and retries.

use crate::error::Step;

use super::error::{ConfigError, ConfigErrorKind, Location};
use super::fields::{Fields, as_sequence, invalid_value, mapping_entries, to_json, wrong_type};
use super::suggest::format_names;
use super::yaml::{Entry, Node, Value};

/// Runner settings of one pipeline: the optional `run_config` mapping of a
/// pipeline entry. A missing or empty mapping gives [`RunConfig::default`].
///
/// ```yaml
/// run_config:
///   store_trace_info: true          # bool, or the name of another pipeline
///   max_trace_files: 100            # trace files kept in traces/ without a trace pipeline
///   run_from_clean_folder: false
///   retry_policy: {type: backoff, max_attempts: 5, multiplier: 2, min: 1, max: 10}
///   retry_pipeline_steps: ["load"]  # any of sync, extract, normalize, load
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    /// `store_trace_info`: where the trace of each attempt goes. Default off.
    pub store_trace_info: TraceTarget,
    /// `max_trace_files`: how many trace files `traces/` keeps when no trace
    /// pipeline loads them; older ones are deleted. Default
    /// [`RunConfig::DEFAULT_MAX_TRACE_FILES`].
    pub max_trace_files: u32,
    /// `run_from_clean_folder`: delete the pipeline's working directory and
    /// restore state and schema from the destination before running. Default false.
    pub run_from_clean_folder: bool,
    /// `retry_policy`: how often and after what wait a failed attempt is
    /// repeated. Default one attempt.
    pub retry_policy: RetryPolicyConfig,
    /// `retry_pipeline_steps`: the steps whose failures are retried. Default
    /// `["load"]`. An empty list retries nothing.
    pub retry_pipeline_steps: Vec<Step>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            store_trace_info: TraceTarget::Off,
            max_trace_files: RunConfig::DEFAULT_MAX_TRACE_FILES,
            run_from_clean_folder: false,
            retry_policy: RetryPolicyConfig::None,
            retry_pipeline_steps: vec![Step::Load],
        }
    }
}

impl RunConfig {
    /// `max_trace_files` when absent: a hundred attempts of history at a
    /// few kilobytes each.
    pub const DEFAULT_MAX_TRACE_FILES: u32 = 100;
}

/// The `store_trace_info` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceTarget {
    /// `false` or absent: no trace is stored.
    Off,
    /// `true`: traces go to a pipeline named `_trace_<pipeline_name>` that
    /// writes to the same destination.
    SamePipeline,
    /// The name of another pipeline of the project, whose destination and
    /// dataset receive the traces.
    Pipeline(String),
}

/// The `retry_policy` mapping. Its `type` key is required and selects the variant.
#[derive(Debug, Clone, PartialEq)]
pub enum RetryPolicyConfig {
    /// `type: none` (or no `retry_policy`): one attempt. Takes no other keys.
    None,
    /// `type: fixed`: keys `max_attempts` (default 3) and `delay`, the wait in
    /// seconds after each failed attempt (default 0).
    Fixed {
        max_attempts: u32,
        delay_seconds: f64,
    },
    /// `type: backoff`: keys `max_attempts` (default 5), `multiplier`
    /// (default 2), `min` and `max` (seconds, default 4 and 10) and `jitter`
    /// (seconds, default 0). The wait after failed attempt `n` is
    /// `clamp(multiplier * 2^(n-1), min, max)` plus a random part up to `jitter`.
    Backoff {
        max_attempts: u32,
        multiplier: f64,
        min_seconds: f64,
        max_seconds: f64,
        jitter_seconds: f64,
    },
    /// Any other `type`, implemented by a retry policy plugin. `parameters` is
    /// the whole mapping as JSON, `type` included.
    Custom {
        type_name: String,
        parameters: serde_json::Value,
    },
}

impl RetryPolicyConfig {
    /// Attempts of `fixed` without `max_attempts`.
    pub const FIXED_DEFAULT_MAX_ATTEMPTS: u32 = 3;
    /// Attempts of `backoff` without `max_attempts`.
    pub const BACKOFF_DEFAULT_MAX_ATTEMPTS: u32 = 5;
    /// `multiplier` of `backoff` when absent.
    pub const BACKOFF_DEFAULT_MULTIPLIER: f64 = 2.0;
    /// `min` of `backoff` when absent, in seconds.
    pub const BACKOFF_DEFAULT_MIN_SECONDS: f64 = 4.0;
    /// `max` of `backoff` when absent, in seconds.
    pub const BACKOFF_DEFAULT_MAX_SECONDS: f64 = 10.0;

    /// Returns the `type` name: `none`, `fixed`, `backoff` or the plugin's type.
    pub fn type_name(&self) -> &str {
        match self {
            RetryPolicyConfig::None => "none",
            RetryPolicyConfig::Fixed { .. } => "fixed",
            RetryPolicyConfig::Backoff { .. } => "backoff",
            RetryPolicyConfig::Custom { type_name, .. } => type_name,
        }
    }

    /// Returns the total number of attempts, or `None` for a plugin policy,
    /// which decides that itself.
    pub fn max_attempts(&self) -> Option<u32> {
        match self {
            RetryPolicyConfig::None => Some(1),
            RetryPolicyConfig::Fixed { max_attempts, .. }
            | RetryPolicyConfig::Backoff { max_attempts, .. } => Some(*max_attempts),
            RetryPolicyConfig::Custom { .. } => None,
        }
    }

    /// Returns the wait in seconds after failed attempt `attempt` (1-based),
    /// jitter excluded, or `None` for a plugin policy.
    pub fn wait_seconds(&self, attempt: u32) -> Option<f64> {
        match self {
            RetryPolicyConfig::None => Some(0.0),
            RetryPolicyConfig::Fixed { delay_seconds, .. } => Some(*delay_seconds),
            RetryPolicyConfig::Backoff {
                multiplier,
                min_seconds,
                max_seconds,
                ..
            } => {
                let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
                let wait = multiplier * 2f64.powi(exponent);
                Some(wait.clamp(*min_seconds, *max_seconds))
            }
            RetryPolicyConfig::Custom { .. } => None,
        }
    }

    /// Returns the mapping to build the policy from, in the keys of
    /// `dlt.yml`, defaults filled in and `type` included.
    pub fn to_parameters(&self) -> serde_json::Value {
        match self {
            RetryPolicyConfig::None => serde_json::json!({"type": "none"}),
            RetryPolicyConfig::Fixed {
                max_attempts,
                delay_seconds,
            } => {
                serde_json::json!({"type": "fixed", "max_attempts": max_attempts, "delay": delay_seconds})
            }
            RetryPolicyConfig::Backoff {
                max_attempts,
                multiplier,
                min_seconds,
                max_seconds,
                jitter_seconds,
            } => serde_json::json!({
                "type": "backoff",
                "max_attempts": max_attempts,
                "multiplier": multiplier,
                "min": min_seconds,
                "max": max_seconds,
                "jitter": jitter_seconds,
            }),
            RetryPolicyConfig::Custom { parameters, .. } => parameters.clone(),
        }
    }
}

/// The steps `retry_pipeline_steps` accepts, in pipeline order.
const STEPS: [Step; 4] = [Step::Sync, Step::Extract, Step::Normalize, Step::Load];

const RUN_CONFIG_KEYS: &[&str] = &[
    "store_trace_info",
    "max_trace_files",
    "run_from_clean_folder",
    "retry_policy",
    "retry_pipeline_steps",
];

/// A parsed `run_config` with the location of a pipeline name in
/// `store_trace_info`, which the project checks against its pipelines.
pub(crate) struct ParsedRunConfig {
    pub config: RunConfig,
    pub trace_pipeline_location: Option<Location>,
}

/// Reads the `run_config` entry of a pipeline.
pub(crate) fn parse_run_config(entry: &Entry, path: &str) -> Result<ParsedRunConfig, ConfigError> {
    let fields = Fields::read(&entry.value, path, entry.key_location, RUN_CONFIG_KEYS)?;
    let mut config = RunConfig::default();
    let mut trace_pipeline_location = None;

    if let Some(trace) = fields.get("store_trace_info") {
        let (target, location) =
            parse_trace_target(&trace.value, &fields.key_path("store_trace_info"))?;
        config.store_trace_info = target;
        trace_pipeline_location = location;
    }

    let max_trace_files = read_whole_number(
        &fields,
        "max_trace_files",
        "a whole number of files",
        "must be at least 1, because the trace of the latest attempt is always kept",
    )?;
    if let Some(max_trace_files) = max_trace_files {
        config.max_trace_files = max_trace_files;
    }

    if let Some(clean) = fields.bool("run_from_clean_folder")? {
        config.run_from_clean_folder = clean;
    }

    if let Some(policy) = fields.get("retry_policy") {
        config.retry_policy = parse_retry_policy(policy, &fields.key_path("retry_policy"))?;
    }

    if let Some(steps) = fields.get("retry_pipeline_steps") {
        config.retry_pipeline_steps =
            parse_steps(&steps.value, &fields.key_path("retry_pipeline_steps"))?;
    }

    Ok(ParsedRunConfig {
        config,
        trace_pipeline_location,
    })
}

fn parse_trace_target(
    node: &Node,
    path: &str,
) -> Result<(TraceTarget, Option<Location>), ConfigError> {
    match &node.value {
        Value::Bool(true) => Ok((TraceTarget::SamePipeline, None)),
        Value::Bool(false) => Ok((TraceTarget::Off, None)),
        Value::String(name) if !name.trim().is_empty() => {
            Ok((TraceTarget::Pipeline(name.clone()), Some(node.location)))
        }
        Value::String(_) => Err(invalid_value(
            node,
            path,
            "write `true`, `false` or the name of a pipeline",
        )),
        other => Err(wrong_type(
            node.location,
            path,
            "`true`, `false` or the name of a pipeline",
            other,
        )),
    }
}

fn parse_retry_policy(entry: &Entry, path: &str) -> Result<RetryPolicyConfig, ConfigError> {
    if !matches!(entry.value.value, Value::Mapping(_)) {
        return Err(wrong_type(
            entry.value.location,
            path,
            "a mapping such as `{type: backoff, max_attempts: 5}`",
            &entry.value.value,
        ));
    }
    let entries = mapping_entries(&entry.value, path)?;

    let type_name = read_policy_type(entries, path, entry.key_location)?;

    match type_name.as_str() {
        "none" => {
            Fields::read(&entry.value, path, entry.key_location, &["type"])?;
            Ok(RetryPolicyConfig::None)
        }
        "fixed" => parse_fixed(entry, path),
        "backoff" => parse_backoff(entry, path),
        _ => Ok(RetryPolicyConfig::Custom {
            parameters: to_json(&entry.value, path)?,
            type_name,
        }),
    }
}

fn read_policy_type(
    entries: &[Entry],
    path: &str,
    location: Location,
) -> Result<String, ConfigError> {
    let type_path = format!("{path}.type");
    let Some(type_entry) = entries
        .iter()
        .find(|entry| entry.key == "type" && entry.value.value != Value::Null)
    else {
        let kind = ConfigErrorKind::MissingKey {
            key: "type",
            parent: path.to_owned(),
            help: "add `type: none`, `fixed`, `backoff` or the type of a retry policy plugin"
                .to_owned(),
        };
        return Err(ConfigError::at(location, kind));
    };

    match &type_entry.value.value {
        Value::String(name) if !name.trim().is_empty() => Ok(name.clone()),
        Value::String(_) => Err(invalid_value(
            &type_entry.value,
            &type_path,
            "write `none`, `fixed`, `backoff` or the type of a retry policy plugin",
        )),
        other => Err(wrong_type(
            type_entry.value.location,
            &type_path,
            "a string such as `backoff`",
            other,
        )),
    }
}

fn parse_fixed(entry: &Entry, path: &str) -> Result<RetryPolicyConfig, ConfigError> {
    let fields = Fields::read(
        &entry.value,
        path,
        entry.key_location,
        &["type", "max_attempts", "delay"],
    )?;

    let max_attempts =
        read_max_attempts(&fields)?.unwrap_or(RetryPolicyConfig::FIXED_DEFAULT_MAX_ATTEMPTS);
    let delay_seconds =
        read_non_negative(&fields, "delay", Some("seconds"))?.map_or(0.0, |(value, _)| value);

    Ok(RetryPolicyConfig::Fixed {
        max_attempts,
        delay_seconds,
    })
}

fn parse_backoff(entry: &Entry, path: &str) -> Result<RetryPolicyConfig, ConfigError> {
    let allowed = ["type", "max_attempts", "multiplier", "min", "max", "jitter"];
    let fields = Fields::read(&entry.value, path, entry.key_location, &allowed)?;

    let max_attempts =
        read_max_attempts(&fields)?.unwrap_or(RetryPolicyConfig::BACKOFF_DEFAULT_MAX_ATTEMPTS);
    let multiplier = read_non_negative(&fields, "multiplier", None)?;
    let min = read_non_negative(&fields, "min", Some("seconds"))?;
    let max = read_non_negative(&fields, "max", Some("seconds"))?;
    let jitter = read_non_negative(&fields, "jitter", Some("seconds"))?;

    let min_seconds = min.map_or(
        RetryPolicyConfig::BACKOFF_DEFAULT_MIN_SECONDS,
        |(value, _)| value,
    );
    let max_seconds = max.map_or(
        RetryPolicyConfig::BACKOFF_DEFAULT_MAX_SECONDS,
        |(value, _)| value,
    );
    check_min_not_above_max(&fields, min, max, min_seconds, max_seconds)?;

    Ok(RetryPolicyConfig::Backoff {
        max_attempts,
        multiplier: multiplier.map_or(
            RetryPolicyConfig::BACKOFF_DEFAULT_MULTIPLIER,
            |(value, _)| value,
        ),
        min_seconds,
        max_seconds,
        jitter_seconds: jitter.map_or(0.0, |(value, _)| value),
    })
}

/// Rejects `min` above `max`, blaming whichever of the two the file sets.
fn check_min_not_above_max(
    fields: &Fields<'_>,
    min: Option<(f64, &Node)>,
    max: Option<(f64, &Node)>,
    min_seconds: f64,
    max_seconds: f64,
) -> Result<(), ConfigError> {
    if min_seconds <= max_seconds {
        return Ok(());
    }

    match (min, max) {
        (Some((_, min_node)), _) => Err(invalid_value(
            min_node,
            &fields.key_path("min"),
            format!("must not exceed max ({max_seconds} s); lower min or raise max"),
        )),
        (None, Some((_, max_node))) => Err(invalid_value(
            max_node,
            &fields.key_path("max"),
            format!(
                "must be at least min ({min_seconds} s, the default); raise max or set a lower min"
            ),
        )),
        (None, None) => Ok(()),
    }
}

fn read_max_attempts(fields: &Fields<'_>) -> Result<Option<u32>, ConfigError> {
    read_whole_number(
        fields,
        "max_attempts",
        "a whole number of attempts",
        "must be at least 1, the first attempt included",
    )
}

/// Reads an optional whole number from 1 to `u32::MAX`; `expected` names
/// it in a type error and `below_one` explains why 0 is rejected.
fn read_whole_number(
    fields: &Fields<'_>,
    key: &str,
    expected: &'static str,
    below_one: &str,
) -> Result<Option<u32>, ConfigError> {
    let Some(entry) = fields.get(key) else {
        return Ok(None);
    };
    let node = &entry.value;
    let path = fields.key_path(key);

    let Value::Number(number) = &node.value else {
        return Err(wrong_type(node.location, &path, expected, &node.value));
    };

    if number.as_i64().is_some_and(|value| value < 1) {
        return Err(invalid_value(node, &path, below_one));
    }

    let count = number.as_u64().and_then(|value| u32::try_from(value).ok());
    count
        .map(Some)
        .ok_or_else(|| invalid_value(node, &path, "must be a whole number from 1 to 4294967295"))
}

/// Reads an optional finite number of 0 or more; `unit` names it in the message.
fn read_non_negative<'a>(
    fields: &Fields<'a>,
    key: &str,
    unit: Option<&str>,
) -> Result<Option<(f64, &'a Node)>, ConfigError> {
    let Some(entry) = fields.get(key) else {
        return Ok(None);
    };
    let node = &entry.value;
    let path = fields.key_path(key);

    let Value::Number(number) = &node.value else {
        let expected = if unit.is_some() {
            "a number of seconds"
        } else {
            "a number"
        };
        return Err(wrong_type(node.location, &path, expected, &node.value));
    };

    match number.as_f64() {
        Some(value) if value >= 0.0 && value.is_finite() => Ok(Some((value, node))),
        _ => {
            let reason = match unit {
                Some(unit) => {
                    format!("must be 0 or more {unit}, because a wait cannot be negative")
                }
                None => "must be 0 or more".to_owned(),
            };
            Err(invalid_value(node, &path, reason))
        }
    }
}

fn parse_steps(node: &Node, path: &str) -> Result<Vec<Step>, ConfigError> {
    let items = as_sequence(node, path, "a list such as `[\"normalize\", \"load\"]`")?;
    let mut steps = Vec::with_capacity(items.len());

    for (index, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{index}]");
        let step = parse_step(item, &item_path)?;

        if steps.contains(&step) {
            return Err(invalid_value(
                item,
                &item_path,
                "is listed twice; remove one of them",
            ));
        }
        steps.push(step);
    }
    Ok(steps)
}

fn parse_step(node: &Node, path: &str) -> Result<Step, ConfigError> {
    let names: Vec<&str> = STEPS.iter().map(|step| step.as_str()).collect();

    let Value::String(name) = &node.value else {
        return Err(wrong_type(node.location, path, "a step name", &node.value));
    };

    if let Some(step) = STEPS.iter().find(|step| step.as_str() == name) {
        return Ok(*step);
    }

    // dlt+ accepts `run` here, but no step failure ever names it, so it would
    // silently retry nothing.
    let reason = if name == "run" {
        format!(
            "no step failure is ever `run`, so it never matches; use {}",
            format_names(&names)
        )
    } else {
        format!("must be one of {}", format_names(&names))
    };
    Err(invalid_value(node, path, reason))
}
