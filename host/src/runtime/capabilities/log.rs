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

/// What a kept line costs beyond its text: the struct, its strings' headers and its
/// JSON keys when stored.
const LINE_OVERHEAD: usize = 96;
/// What each field costs beyond its key and value.
const FIELD_OVERHEAD: usize = 56;

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

    /// Adds a line unless the cap is reached; secrets are scrubbed (from keys too) first.
    /// A line costs what it holds plus its bookkeeping, so a plugin logging empty lines in
    /// a loop reaches the cap as surely as one logging long ones.
    pub fn push(&mut self, level: &str, message: &str, fields: BTreeMap<String, String>) {
        if self.bytes >= self.max_bytes {
            self.dropped += 1;
            return;
        }
        let line = LogLine {
            level: level.to_owned(),
            message: self.redactions.scrub(message),
            fields: fields
                .into_iter()
                .map(|(k, v)| (self.redactions.scrub(&k), self.redactions.scrub(&v)))
                .collect(),
        };
        let size = LINE_OVERHEAD
            + line.level.len()
            + line.message.len()
            + line
                .fields
                .iter()
                .map(|(k, v)| FIELD_OVERHEAD + k.len() + v.len())
                .sum::<usize>();
        if self.bytes + size > self.max_bytes {
            self.dropped += 1;
            self.bytes = self.max_bytes;
            return;
        }
        self.bytes += size;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::observer::NoObserver;

    fn ctx(max: usize) -> (LogCtx, Redactions) {
        let redactions = Redactions::default();
        (
            LogCtx::new(max, redactions.clone(), Arc::new(NoObserver)),
            redactions,
        )
    }

    #[test]
    fn empty_lines_count_toward_the_cap() {
        let (mut log, _) = ctx(64 * 1024);
        for _ in 0..1_000_000 {
            log.push("info", "", BTreeMap::new());
        }
        let lines = log.finish();
        assert!(lines.len() < 1000, "kept {} empty lines", lines.len());
        assert!(lines.last().unwrap().message.contains("dropped"));
    }

    #[test]
    fn revealed_secrets_leave_no_trace_in_any_form_or_place() {
        let (mut log, redactions) = ctx(64 * 1024);
        let secret = "s3cr\"et/val+ue";
        for _ in 0..10_000 {
            redactions.remember(secret);
        }
        assert!(
            redactions.0.lock().unwrap().len() <= 5,
            "each form kept once"
        );
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        let escaped = serde_json::to_string(secret).unwrap();
        let mut fields = BTreeMap::new();
        fields.insert(format!("key-{secret}"), b64.clone());
        log.push("info", &format!("json {escaped} raw {secret}"), fields);
        let text = serde_json::to_string(&log.finish()).unwrap();
        for leaked in [secret, b64.as_str(), escaped.trim_matches('"')] {
            assert!(!text.contains(leaked), "{leaked} in {text}");
        }
        assert!(text.contains("[REDACTED]"));
    }
}
