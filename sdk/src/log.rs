//! Structured logging into the job's log.
//!
//! Lines are stored with the job run and shown by the APIs; the host caps their total
//! size, so log what helps an operator, not every byte. Never log secret values.
//!
//! ```no_run
//! use keywarden_sdk::log;
//!
//! log::info("rotating keys");
//! log::info_with("rotated", &[("key_id", &"abc"), ("age_days", &91)]);
//! ```

use std::fmt::Display;

use crate::wit::keywarden::plugin::log as wit;

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal progress.
    Info,
    /// Something went partly wrong.
    Warn,
    /// Something failed.
    Error,
}

/// Write one line with key/value fields. Values are rendered with `Display`.
pub fn write(level: Level, message: impl AsRef<str>, fields: &[(&str, &dyn Display)]) {
    let level = match level {
        Level::Trace => wit::Level::Trace,
        Level::Debug => wit::Level::Debug,
        Level::Info => wit::Level::Info,
        Level::Warn => wit::Level::Warn,
        Level::Error => wit::Level::Error,
    };
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.to_string()))
        .collect();
    wit::write(level, message.as_ref(), &fields);
}

macro_rules! level_fns {
    ($($level:ident, $plain:ident, $with:ident, $doc:literal;)*) => {$(
        #[doc = concat!("Log a line at ", $doc, " level.")]
        pub fn $plain(message: impl AsRef<str>) {
            write(Level::$level, message, &[]);
        }

        #[doc = concat!("Log a line at ", $doc, " level with key/value fields.")]
        pub fn $with(message: impl AsRef<str>, fields: &[(&str, &dyn Display)]) {
            write(Level::$level, message, fields);
        }
    )*};
}

level_fns! {
    Trace, trace, trace_with, "trace";
    Debug, debug, debug_with, "debug";
    Info, info, info_with, "info";
    Warn, warn, warn_with, "warn";
    Error, error, error_with, "error";
}
