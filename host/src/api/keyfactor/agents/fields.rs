//! The fields of `GET /Agents?QueryString=` and their translation into a database
//! condition over the agents table (values bound, never spliced).

use chrono::{DateTime, NaiveDate, Utc};
use keywarden_db::{AgentCondition, AgentField, FieldValue};

use crate::api::keyfactor::query::{self, Clause, Expr, Op, QueryError};

/// How a field's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Code,
    Date,
}

/// Field names as Keyfactor documents them (lookups ignore case), and the columns.
const FIELDS: &[(&str, AgentField, Kind)] = &[
    ("AgentId", AgentField::Id, Kind::Text),
    ("ClientMachine", AgentField::ClientMachine, Kind::Text),
    ("Identity", AgentField::Username, Kind::Text),
    ("Username", AgentField::Username, Kind::Text),
    ("Version", AgentField::Version, Kind::Text),
    ("Thumbprint", AgentField::Thumbprint, Kind::Text),
    ("Platform", AgentField::Platform, Kind::Code),
    ("AgentPlatform", AgentField::Platform, Kind::Code),
    ("Status", AgentField::Status, Kind::Code),
    (
        "AuthCertificateReenrollment",
        AgentField::CertificateRenewal,
        Kind::Code,
    ),
    ("LastSeen", AgentField::LastSeen, Kind::Date),
];

/// The field names, for messages and the API description.
pub fn names() -> String {
    FIELDS
        .iter()
        .map(|(n, ..)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sort keys (lower-case field name → column).
pub fn sort_column(name: &str) -> Option<&'static str> {
    Some(match name {
        "agentid" => "id",
        "clientmachine" => "client_machine",
        "identity" | "username" => "username",
        "platform" | "agentplatform" => "platform",
        "version" => "version",
        "status" => "status",
        "lastseen" => "last_seen",
        _ => return None,
    })
}

pub const SORTABLE: &str = "AgentId, ClientMachine, Identity, Platform, Version, Status, LastSeen";

/// Translates a parsed query; faults carry the position of the part at fault. A chain of
/// ANDs (or ORs) becomes one flat list, so its length is not mistaken for nesting.
pub fn translate(expr: &Expr) -> Result<AgentCondition, QueryError> {
    Ok(match expr {
        Expr::And(..) => AgentCondition::All(
            expr.chain(true)
                .into_iter()
                .map(translate)
                .collect::<Result<_, _>>()?,
        ),
        Expr::Or(..) => AgentCondition::Any(
            expr.chain(false)
                .into_iter()
                .map(translate)
                .collect::<Result<_, _>>()?,
        ),
        Expr::Not(e) => translate(e)?.negate(),
        Expr::Clause(c) => clause(c)?,
    })
}

fn clause(c: &Clause) -> Result<AgentCondition, QueryError> {
    let Some((_, column, kind)) = FIELDS
        .iter()
        .find(|(n, ..)| n.eq_ignore_ascii_case(&c.field))
    else {
        return Err(QueryError::new(
            c.field_position,
            format!("unknown field {}; the fields are {}", c.field, names()),
        ));
    };
    if c.value.is_null() {
        return match c.op {
            Op::Eq => Ok(AgentCondition::IsNull(*column)),
            Op::Ne => Ok(AgentCondition::IsNull(*column).negate()),
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
            QueryError::new(
                c.value_position,
                format!("{} takes an integer code", c.field),
            )
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
    Ok(AgentCondition::Compare {
        field: *column,
        op: query::compare(c.op),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AgentCondition, QueryError> {
        translate(&query::parse(text).unwrap().unwrap())
    }

    #[test]
    fn fields_translate_to_columns() {
        assert_eq!(
            parse("Status -eq \"2\"").unwrap(),
            AgentCondition::eq(AgentField::Status, FieldValue::Int(2))
        );
        assert!(matches!(
            parse("identity -contains \"fleet\" AND LastSeen -ge 2026-01-01").unwrap(),
            AgentCondition::All(_)
        ));
        assert!(parse("ClientMachine -eq null").is_ok());
        let long = vec!["Status -eq 1"; 200].join(" OR ");
        assert!(matches!(parse(&long).unwrap(), AgentCondition::Any(v) if v.len() == 200));
    }

    #[test]
    fn faults_name_the_part() {
        assert!(
            parse("Secret -eq 1")
                .unwrap_err()
                .reason
                .contains("unknown field")
        );
        assert!(parse("Status -contains 2").is_err());
        assert!(parse("Status -eq two").is_err());
        assert!(parse("ClientMachine -gt a").is_err());
        assert!(parse("LastSeen -ge yesterday").is_err());
    }
}
