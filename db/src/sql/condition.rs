//! Rendering a condition tree (see `crate::history`) as a boolean SQL expression with
//! every value bound: shared by the job history and the agent listing.

use crate::backend::{Backend, Sql};
use crate::error::{DbError, Result};
use crate::history::{ColumnKind, Compare, Condition, Field, FieldValue};

/// Deepest condition tree rendered; deeper ones are refused rather than risking the
/// database's own expression-depth limits (SQLite: 1000).
const MAX_DEPTH: usize = 64;

fn invalid(what: String) -> DbError {
    DbError::Invalid(what)
}

/// Appends `cond` as a parenthesised boolean SQL expression.
pub(crate) fn push_condition<DB: Backend, F: Field>(
    q: &mut Sql<DB>,
    cond: &Condition<F>,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(invalid(format!(
            "the condition is nested more than {MAX_DEPTH} levels deep"
        )));
    }
    match cond {
        Condition::True => {
            q.push("(1 = 1)");
        }
        Condition::False => {
            q.push("(1 = 0)");
        }
        Condition::All(items) | Condition::Any(items) => {
            if items.is_empty() {
                let empty = matches!(cond, Condition::All(_));
                q.push(if empty { "(1 = 1)" } else { "(1 = 0)" });
                return Ok(());
            }
            let joiner = if matches!(cond, Condition::All(_)) {
                " AND "
            } else {
                " OR "
            };
            q.push("(");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    q.push(joiner);
                }
                push_condition(q, item, depth + 1)?;
            }
            q.push(")");
        }
        Condition::Not(inner) => {
            q.push("(NOT ");
            push_condition(q, inner, depth + 1)?;
            q.push(")");
        }
        Condition::Compare { field, op, value } => push_compare(q, *field, *op, value)?,
        Condition::In { field, values } => {
            if values.is_empty() {
                q.push("(1 = 0)");
            } else {
                let col = field.column();
                q.push(format!("({col} IS NOT NULL AND {col} IN "))
                    .bind_list(values.iter())
                    .push(")");
            }
        }
        Condition::IsNull(field) => {
            q.push(format!("({} IS NULL)", field.column()));
        }
        Condition::Flag(flag) => {
            q.push(F::flag_sql(*flag));
        }
    }
    Ok(())
}

/// Escapes `%`, `_` and `\` for `LIKE ... ESCAPE '\'`.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn push_compare<DB: Backend, F: Field>(
    q: &mut Sql<DB>,
    field: F,
    op: Compare,
    value: &FieldValue,
) -> Result<()> {
    let col = field.column();
    if op == Compare::Ne {
        // Not(Eq), so that a NULL column counts as "not equal".
        q.push("(NOT ");
        push_compare(q, field, Compare::Eq, value)?;
        q.push(")");
        return Ok(());
    }
    let symbol = match op {
        Compare::Eq => "=",
        Compare::Gt => ">",
        Compare::Lt => "<",
        Compare::Ge => ">=",
        Compare::Le => "<=",
        Compare::Contains | Compare::StartsWith | Compare::Ne => "LIKE",
    };
    q.push(format!("({col} IS NOT NULL AND "));
    match (field.kind(), value) {
        (ColumnKind::Text, FieldValue::Text(v)) => match op {
            Compare::Contains | Compare::StartsWith => {
                let pattern = if op == Compare::Contains {
                    format!("%{}%", like_escape(v))
                } else {
                    format!("{}%", like_escape(v))
                };
                q.push(format!("LOWER({col}) LIKE LOWER("))
                    .bind(pattern)
                    .push(") ESCAPE '\\'");
            }
            _ => {
                q.push(format!("LOWER({col}) {symbol} LOWER("))
                    .bind(v.as_str())
                    .push(")");
            }
        },
        (ColumnKind::Int, FieldValue::Int(v)) if symbol != "LIKE" => {
            q.push(format!("{col} {symbol} ")).bind(*v);
        }
        (ColumnKind::Time, FieldValue::Time(v)) if symbol != "LIKE" => {
            q.push(format!("{col} {symbol} ")).bind(*v);
        }
        (_, value) => {
            return Err(invalid(format!(
                "cannot compare column {col} with {value:?} using {op:?}"
            )));
        }
    }
    q.push(")");
    Ok(())
}
