//! `keywarden:plugin/log`: structured log lines kept with the job, capped in size.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use wasmtime::component::{HasSelf, Linker};

use super::Redactions;
use crate::runtime::bindings::log;
use crate::runtime::observer::JobObserver;
use crate::runtime::sandbox::Sandbox;

/// One line a plugin logged (or wrote to stdout/stderr).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LogLine {
    pub level: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

/// The log buffer of one job.
pub struct LogCtx {
    lines: Vec<LogLine>,
    bytes: usize,
    max_bytes: usize,
    dropped: usize,
    redactions: Redactions,
    observer: Arc<dyn JobObserver>,
}

impl LogCtx {
    pub fn new(max_bytes: usize, redactions: Redactions, observer: Arc<dyn JobObserver>) -> Self {
        Self {
            lines: Vec::new(),
            bytes: 0,
            max_bytes,
            dropped: 0,
            redactions,
            observer,
        }
    }

    /// Adds a line unless the cap is reached; secrets are scrubbed first.
    pub fn push(&mut self, level: &str, message: &str, fields: BTreeMap<String, String>) {
        let size = message.len() + fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        if self.bytes + size > self.max_bytes {
            self.dropped += 1;
            return;
        }
        self.bytes += size;
        let line = LogLine {
            level: level.to_owned(),
            message: self.redactions.scrub(message),
            fields: fields
                .into_iter()
                .map(|(k, v)| (k, self.redactions.scrub(&v)))
                .collect(),
        };
        self.observer.log(&line);
        self.lines.push(line);
    }

    /// The lines, with a closing note when some were dropped at the cap.
    pub fn finish(mut self) -> Vec<LogLine> {
        if self.dropped > 0 {
            self.lines.push(LogLine {
                level: "warn".into(),
                message: format!(
                    "{} more log lines dropped: the job's log limit of {} bytes was reached",
                    self.dropped, self.max_bytes
                ),
                fields: BTreeMap::new(),
            });
        }
        self.lines
    }
}

impl log::Host for LogCtx {
    async fn write(&mut self, level: log::Level, message: String, fields: Vec<(String, String)>) {
        let level = match level {
            log::Level::Trace => "trace",
            log::Level::Debug => "debug",
            log::Level::Info => "info",
            log::Level::Warn => "warn",
            log::Level::Error => "error",
        };
        self.push(level, &message, fields.into_iter().collect());
    }
}

pub fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    log::add_to_linker::<Sandbox, HasSelf<LogCtx>>(linker, |s| &mut s.log)
}
