//! Translating a parsed query into a database condition over one table's fields, given
//! the endpoint's field table: names as Keyfactor documents them (lookups ignore case),
//! each a column compared as text, an integer code or a date, or a yes/no flag. Values
//! are bound, never spliced.

use chrono::{DateTime, NaiveDate, Utc};
use keywarden_db::{Condition, Field, FieldValue};

use super::{Clause, Expr, Op, QueryError, compare};

/// How a field's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Code,
    Date,
}

/// What a query field stands for.
#[derive(Debug, Clone, Copy)]
pub enum Target<F: Field> {
    Column(F, Kind),
    /// `true`/`false` (or `1`/`0`), with `-eq` or `-ne`.
    Flag(F::Flag),
}

/// The condition of the request's `name` parameter (`QueryString`) over `fields`; `None`
/// when it is absent or blank. A fault is a 400 naming the parameter and the position.
pub fn from_params<F: Field>(
    q: &mut crate::api::keyfactor::kit::Params,
    name: &str,
    fields: &[(&str, Target<F>)],
) -> Result<Option<Condition<F>>, crate::api::keyfactor::kit::KeyfactorError> {
    let text = q.take(name).unwrap_or_default();
    let fault = |e| crate::api::keyfactor::kit::KeyfactorError::query(name, e);
    match super::parse(&text).map_err(fault)? {
        Some(expr) => Ok(Some(translate(&expr, fields).map_err(fault)?)),
        None => Ok(None),
    }
}

/// The field names of `fields`, for messages and the API description.
pub fn names<F: Field>(fields: &[(&str, Target<F>)]) -> String {
    fields
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Translates a parsed query; faults carry the position of the part at fault. A chain of
/// ANDs (or ORs) becomes one flat list, so its length is not mistaken for nesting.
pub fn translate<F: Field>(
    expr: &Expr,
    fields: &[(&str, Target<F>)],
) -> Result<Condition<F>, QueryError> {
    Ok(match expr {
        Expr::And(..) => Condition::All(
            expr.chain(true)
                .into_iter()
                .map(|e| translate(e, fields))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Or(..) => Condition::Any(
            expr.chain(false)
                .into_iter()
                .map(|e| translate(e, fields))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Not(e) => translate(e, fields)?.negate(),
        Expr::Clause(c) => clause(c, fields)?,
    })
}

fn clause<F: Field>(c: &Clause, fields: &[(&str, Target<F>)]) -> Result<Condition<F>, QueryError> {
    let Some((_, target)) = fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&c.field))
    else {
        return Err(QueryError::new(
            c.field_position,
            format!(
                "unknown field {}; the fields are {}",
                c.field,
                names(fields)
            ),
        ));
    };
    let (column, kind) = match *target {
        Target::Flag(flag) => {
            let yes = match c.value.text().trim().to_ascii_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    return Err(QueryError::new(
                        c.value_position,
                        format!("{} takes true or false", c.field),
                    ));
                }
            };
            let wanted = match c.op {
                Op::Eq => yes,
                Op::Ne => !yes,
                _ => {
                    return Err(QueryError::new(
                        c.op_position,
                        format!("{} is true or false: use -eq or -ne", c.field),
                    ));
                }
            };
            let test = Condition::Flag(flag);
            return Ok(if wanted { test } else { test.negate() });
        }
        Target::Column(column, kind) => (column, kind),
    };
    if c.value.is_null() {
        return match c.op {
            Op::Eq => Ok(Condition::IsNull(column)),
            Op::Ne => Ok(Condition::IsNull(column).negate()),
            _ => Err(QueryError::new(
                c.op_position,
                "null can only be compared with -eq or -ne",
            )),
        };
    }
    let text = c.value.text().trim();
    let value = match kind {
        Kind::Text => {
            if c.op.is_ordering() {
                return Err(QueryError::new(
                    c.op_position,
                    format!(
                        "{} is text: use -eq, -ne, -contains or -startswith",
                        c.field
                    ),
                ));
            }
            FieldValue::Text(c.value.text().to_owned())
        }
        Kind::Code | Kind::Date if c.op.is_text_match() => {
            return Err(QueryError::new(
                c.op_position,
                format!(
                    "{} is not text: use -eq, -ne, -gt, -lt, -ge or -le",
                    c.field
                ),
            ));
        }
        Kind::Code => FieldValue::Int(text.parse::<i64>().map_err(|_| {
            QueryError::new(c.value_position, format!("{} takes an integer", c.field))
        })?),
        Kind::Date => FieldValue::Time(date(text).ok_or_else(|| {
            QueryError::new(
                c.value_position,
                format!(
                    "{} takes an RFC 3339 date-time or a YYYY-MM-DD date",
                    c.field
                ),
            )
        })?),
    };
    Ok(Condition::Compare {
        field: column,
        op: compare(c.op),
        value,
    })
}

/// An RFC 3339 instant, or a date (its midnight UTC).
fn date(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}
