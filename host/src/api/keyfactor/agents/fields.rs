//! The fields of `GET /Agents?QueryString=` and their translation into a database
//! condition over the agents table (values bound, never spliced).

use keywarden_db::{AgentCondition, AgentField};

use crate::api::keyfactor::query::fields::{self, Kind, Target};
use crate::api::keyfactor::query::{Expr, QueryError};

/// Field names as Keyfactor documents them (lookups ignore case), and the columns.
const FIELDS: &[(&str, Target<AgentField>)] = &[
    ("AgentId", Target::Column(AgentField::Id, Kind::Text)),
    (
        "ClientMachine",
        Target::Column(AgentField::ClientMachine, Kind::Text),
    ),
    ("Identity", Target::Column(AgentField::Username, Kind::Text)),
    ("Username", Target::Column(AgentField::Username, Kind::Text)),
    ("Version", Target::Column(AgentField::Version, Kind::Text)),
    (
        "Thumbprint",
        Target::Column(AgentField::Thumbprint, Kind::Text),
    ),
    ("Platform", Target::Column(AgentField::Platform, Kind::Code)),
    (
        "AgentPlatform",
        Target::Column(AgentField::Platform, Kind::Code),
    ),
    ("Status", Target::Column(AgentField::Status, Kind::Code)),
    (
        "AuthCertificateReenrollment",
        Target::Column(AgentField::CertificateRenewal, Kind::Code),
    ),
    ("LastSeen", Target::Column(AgentField::LastSeen, Kind::Date)),
];

/// The field names, for messages and the API description.
pub fn names() -> String {
    fields::names(FIELDS)
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

/// The request's `QueryString` over the agents' fields.
pub fn condition(
    q: &mut crate::api::keyfactor::kit::Params,
) -> Result<Option<AgentCondition>, crate::api::keyfactor::kit::KeyfactorError> {
    fields::from_params(q, "QueryString", FIELDS)
}

/// Translates a parsed query over the agents' fields.
pub fn translate(expr: &Expr) -> Result<AgentCondition, QueryError> {
    fields::translate(expr, FIELDS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::keyfactor::query;
    use keywarden_db::FieldValue;

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
