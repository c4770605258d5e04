use std::io::Cursor;
use std::path::Path;
use std::sync::{Arc, Mutex};

use abi_stable::std_types::{RResult, RStr};
use arrow::ipc::reader::StreamReader;
use plugin_sdk::PluginError;
use plugin_sdk::ffi::{FfiChunkFormat, FfiSourceBox, SourceModule_Ref};
use plugin_sdk::protocol::PluginInfo;
use plugin_sdk::source::ResourceSpec;
use serde_json::Value;

use super::{PluginKind, PluginLoadError, PluginSearch, host_services, library_error};
use crate::extract::{ItemProducer, Resource, ResourceOutput, Source, WriteDisposition};
use crate::{Error, Result};

/// Loads the source plugin for `type_name`, opens it with `config` and
/// returns its resources as a [`Source`] named `source_name`.
pub fn open_source_plugin(search: &PluginSearch, source_name: &str, type_name: &str, config: &Value) -> Result<Source> {
    let path = search.find(PluginKind::Source, type_name)?;
    let module = load_source_module(&path)?;

    let text = serde_json::to_string(config).map_err(|e| Error::Internal(e.to_string()))?;
    let opened = match (module.open())(RStr::from_str(&text), host_services()) {
        RResult::ROk(source) => source,
        RResult::RErr(error) => return Err(source_error(source_name, "open", error)),
    };

    let specs = match opened.resources() {
        RResult::ROk(text) => serde_json::from_str::<Vec<ResourceSpec>>(text.as_str()).map_err(|e| {
            Error::from(PluginLoadError::InvalidInfo {
                path: path.clone(),
                what: "resource list",
                message: e.to_string(),
            })
        })?,
        RResult::RErr(error) => return Err(source_error(source_name, "list resources", error)),
    };

    let shared = Arc::new(Mutex::new(opened));
    let mut resources = Vec::with_capacity(specs.len());
    for spec in specs {
        let producer = PluginResource {
            source_name: source_name.to_owned(),
            resource_name: spec.name.clone(),
            source: Arc::clone(&shared),
        };
        let disposition: WriteDisposition = spec.write_disposition.as_deref().unwrap_or("append").parse()?;
        let table_name = spec.table_name.clone().unwrap_or_else(|| spec.name.clone());
        resources.push(
            Resource::from_producer(spec.name, Box::new(producer))
                .with_table_name(table_name)
                .with_write_disposition(disposition)
                .with_primary_key(spec.primary_key),
        );
    }
    Ok(Source::new(source_name, resources))
}

fn load_source_module(path: &Path) -> Result<SourceModule_Ref, PluginLoadError> {
    let kind = PluginKind::Source;
    let header = super::open_library(path, kind)?;
    super::check_abi_version::<SourceModule_Ref>(path, kind, header)?;
    let module = header
        .init_root_module::<SourceModule_Ref>()
        .map_err(|error| library_error(path, kind, error))?;

    let info_text = (module.info())();
    let info: PluginInfo = serde_json::from_str(info_text.as_str()).map_err(|e| PluginLoadError::InvalidInfo {
        path: path.to_path_buf(),
        what: "plugin info",
        message: e.to_string(),
    })?;
    tracing::info!(path = %path.display(), plugin = %info.name, plugin_version = %info.version, "loaded source plugin");
    Ok(module)
}

fn source_error(source_name: &str, action: &'static str, error: PluginError) -> Error {
    Error::Source {
        source_name: source_name.to_owned(),
        action,
        error,
    }
}

/// Reads one resource of a source plugin, chunk by chunk.
struct PluginResource {
    source_name: String,
    resource_name: String,
    source: Arc<Mutex<FfiSourceBox>>,
}

impl ItemProducer for PluginResource {
    fn produce(&mut self, output: &mut ResourceOutput<'_>) -> Result<()> {
        let state = Value::Object(output.state().clone());
        let state_text = serde_json::to_string(&state).map_err(|e| Error::Internal(e.to_string()))?;

        let mut reader = {
            let mut source = self
                .source
                .lock()
                .map_err(|_| Error::Internal("source plugin lock poisoned".to_owned()))?;
            match source.open_resource(RStr::from_str(&self.resource_name), RStr::from_str(&state_text)) {
                RResult::ROk(reader) => reader,
                RResult::RErr(error) => return Err(source_error(&self.source_name, "open a resource", error)),
            }
        };

        loop {
            let chunk = match reader.next_chunk() {
                RResult::ROk(chunk) => chunk,
                RResult::RErr(error) => return Err(source_error(&self.source_name, "read", error)),
            };
            let Some(chunk) = chunk.into_option() else { return Ok(()) };
            match chunk.format {
                FfiChunkFormat::JsonLines => self.push_json_lines(chunk.bytes.as_slice(), output)?,
                FfiChunkFormat::ArrowIpcStream => self.push_arrow(chunk.bytes.as_slice(), output)?,
            }
        }
    }
}

impl PluginResource {
    fn invalid(&self, message: String) -> Error {
        Error::InvalidData {
            path: format!("source {} / resource {}", self.source_name, self.resource_name).into(),
            line: None,
            message,
        }
    }

    fn push_json_lines(&self, bytes: &[u8], output: &mut ResourceOutput<'_>) -> Result<()> {
        for (index, line) in bytes.split(|byte| *byte == b'\n').enumerate() {
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            let row: Value = serde_json::from_slice(line)
                .map_err(|e| self.invalid(format!("line {} of a JSON Lines chunk: {e}", index + 1)))?;
            output.push_row(row)?;
        }
        Ok(())
    }

    fn push_arrow(&self, bytes: &[u8], output: &mut ResourceOutput<'_>) -> Result<()> {
        let reader = StreamReader::try_new(Cursor::new(bytes), None)
            .map_err(|e| self.invalid(format!("invalid Arrow IPC stream: {e}")))?;
        for batch in reader {
            let batch = batch.map_err(|e| self.invalid(format!("invalid Arrow IPC batch: {e}")))?;
            output.push_batch(batch)?;
        }
        Ok(())
    }
}
