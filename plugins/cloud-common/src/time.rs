//! Times as the clouds and the host write them.

use chrono::{DateTime, SecondsFormat, Utc};

/// Now, from the WASI clock.
pub fn now() -> DateTime<Utc> {
    std::time::SystemTime::now().into()
}

/// RFC 3339 in UTC, whole seconds (`2026-12-01T06:00:00Z`).
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An RFC 3339 time in any offset, as UTC.
pub fn parse_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
