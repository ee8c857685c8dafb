//! Rules for input values both dialects share.
//!
//! - Numbers: JSON has one number type: `28` and `28.0` are the same value, and JSON
//!   Schema's `integer` accepts both. Many generators (and any client in JavaScript) may
//!   send a whole number with a fraction part, so every integer field reads both the same
//!   way, within what every client reads exactly ([`MAX_SAFE_INTEGER`]).
//! - Text: a text field or query parameter may not hold U+0000. PostgreSQL cannot store it
//!   in a text column (SQLite could, and the two must behave alike), and no field of this
//!   API has a use for it. JSON objects passed on whole (params, properties) may: they
//!   are stored as JSON text, where it is the escape `\u0000`.

use serde_json::Value;

use super::{ApiError, ApiResult};

/// Refuses text holding U+0000 (400 naming `field`).
pub fn refuse_nul(field: &str, text: &str) -> ApiResult<()> {
    if text.contains('\0') {
        return Err(ApiError::invalid(
            field,
            "must not contain the NUL character (U+0000)",
        ));
    }
    Ok(())
}

/// The largest whole number every JSON client reads exactly (2^53 - 1: I-JSON, RFC 7493,
/// and JavaScript's `Number.MAX_SAFE_INTEGER`). Integer body fields stay within ±this, so
/// that a client never sends or shows a number it has silently rounded.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// The value as an `i64`, if it is a whole number in range (`28` or `28.0`).
pub fn whole_number(value: &Value) -> Option<i64> {
    let Value::Number(n) = value else {
        return None;
    };
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    // 2^63 is exactly representable; anything at or beyond it does not fit.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f)).then_some(f as i64)
}

#[cfg(test)]
mod tests {
    use super::whole_number;
    use serde_json::json;

    #[test]
    fn nul_is_refused_in_text() {
        assert!(super::refuse_nul("name", "a\0b").is_err());
        assert!(super::refuse_nul("name", "a b").is_ok());
    }

    #[test]
    fn whole_numbers_with_or_without_a_fraction_part() {
        assert_eq!(whole_number(&json!(28)), Some(28));
        assert_eq!(whole_number(&json!(28.0)), Some(28));
        assert_eq!(whole_number(&json!(-3.0)), Some(-3));
        assert_eq!(whole_number(&json!(28.5)), None);
        assert_eq!(whole_number(&json!(1e300)), None);
        assert_eq!(whole_number(&json!(u64::MAX)), None);
        assert_eq!(whole_number(&json!("28")), None);
        assert_eq!(whole_number(&json!(null)), None);
    }
}
