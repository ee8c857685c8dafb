//! CipherTrust's duration strings: `Xd` (days) and, where allowed, `Yh` (hours).

use chrono::Duration;
use keywarden_sdk::JobError;

/// Seconds in a CipherTrust duration: `Xd` (days) or, when `hours_allowed`, `Yh`.
/// Zero and more than ten years are refused, naming `field`.
pub fn duration_secs(field: &str, text: &str, hours_allowed: bool) -> Result<i64, JobError> {
    let expected = if hours_allowed {
        "expected a number followed by d (days) or h (hours), e.g. 6d or 12h"
    } else {
        "expected a number of days followed by d, e.g. 30d"
    };
    let bad = || JobError::invalid_param(field, format!("invalid duration {text:?}: {expected}"));
    let (digits, unit) = match text.as_bytes().last() {
        Some(b'd') => (&text[..text.len() - 1], 86_400),
        Some(b'h') if hours_allowed => (&text[..text.len() - 1], 3_600),
        _ => return Err(bad()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    if n == 0 || n > 3650 * 24 {
        return Err(bad());
    }
    Ok(n * unit)
}

/// [`duration_secs`] of an optional field, as a [`Duration`].
pub fn duration(
    field: &str,
    text: Option<&str>,
    hours_allowed: bool,
) -> Result<Option<Duration>, JobError> {
    text.map(|t| duration_secs(field, t, hours_allowed).map(Duration::seconds))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_hours() {
        assert_eq!(duration_secs("f", "6d", true).unwrap(), 6 * 86_400);
        assert_eq!(duration_secs("f", "12h", true).unwrap(), 12 * 3_600);
        assert!(duration_secs("f", "12h", false).is_err());
        for bad in ["", "d", "0d", "-1d", "1w", "1.5d", "99999999d"] {
            assert!(duration_secs("f", bad, true).is_err(), "{bad}");
        }
    }
}
