//! Forwarding of a plugin's `tracing` events to the host.
//!
//! A plugin library links its own copy of `tracing`, with its own global
//! dispatcher that the host's subscriber never sees. The export macros
//! install a subscriber in the plugin's copy that formats each event (message
//! and fields, no timestamp) and hands the line to the host's log callback,
//! which re-emits it through the host's `tracing`. Spans do not cross.

use std::io;
use std::sync::OnceLock;

use abi_stable::std_types::RStr;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

use crate::ffi::{HostServices, LogLevel};

static INSTALLED: OnceLock<()> = OnceLock::new();

/// Installs the forwarding subscriber once per plugin library.
pub(crate) fn install_forwarder(host: HostServices) {
    INSTALLED.get_or_init(|| {
        let max_level = match host.max_level {
            LogLevel::Error => Level::ERROR,
            LogLevel::Warn => Level::WARN,
            LogLevel::Info => Level::INFO,
            LogLevel::Debug => Level::DEBUG,
            LogLevel::Trace => Level::TRACE,
        };
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(max_level)
            .without_time()
            .with_ansi(false)
            .with_level(false)
            .with_target(false)
            .with_writer(HostWriterFactory { host })
            .finish();
        // Fails only when the plugin was linked into a process that already
        // set a subscriber, and then events already reach that subscriber.
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

struct HostWriterFactory {
    host: HostServices,
}

impl<'a> MakeWriter<'a> for HostWriterFactory {
    type Writer = HostLine;

    fn make_writer(&'a self) -> Self::Writer {
        HostLine::new(self.host, LogLevel::Info, "plugin")
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        let level = match *meta.level() {
            Level::ERROR => LogLevel::Error,
            Level::WARN => LogLevel::Warn,
            Level::INFO => LogLevel::Info,
            Level::DEBUG => LogLevel::Debug,
            Level::TRACE => LogLevel::Trace,
        };
        HostLine::new(self.host, level, meta.target())
    }
}

/// Buffers one formatted event and sends it to the host when dropped.
pub struct HostLine {
    host: HostServices,
    level: LogLevel,
    target: String,
    buffer: Vec<u8>,
}

impl HostLine {
    fn new(host: HostServices, level: LogLevel, target: &str) -> Self {
        HostLine {
            host,
            level,
            target: target.to_owned(),
            buffer: Vec::new(),
        }
    }
}

impl io::Write for HostLine {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for HostLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buffer);
        let line = text.trim_end();
        if !line.is_empty() {
            (self.host.log)(self.level, RStr::from_str(&self.target), RStr::from_str(line));
        }
    }
}
