//! Keyfactor's query language (`field -eq value AND (f2 -ne "x" OR f3 -gt 3)`): a lexer
//! and a recursive-descent parser producing an [`ast::Expr`]. What fields exist and what
//! they mean is the endpoint's business: [`fields`] translates a query over a table of
//! fields (agents, SSL endpoints and networks); `jobs/fields.rs` has the job history's.
//!
//! Every fault is a [`QueryError`] carrying the 1-based character position it was found at.

pub mod ast;
pub mod fields;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

pub use ast::{Clause, Expr, Literal, Op};

/// The database's comparison for a query operator.
pub fn compare(op: Op) -> keywarden_db::Compare {
    use keywarden_db::Compare;
    match op {
        Op::Eq => Compare::Eq,
        Op::Ne => Compare::Ne,
        Op::Gt => Compare::Gt,
        Op::Lt => Compare::Lt,
        Op::Ge => Compare::Ge,
        Op::Le => Compare::Le,
        Op::Contains => Compare::Contains,
        Op::StartsWith => Compare::StartsWith,
    }
}

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 4000;

/// A fault in a query: where (1-based character position) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub position: usize,
    pub reason: String,
}

impl QueryError {
    pub fn new(position: usize, reason: impl Into<String>) -> Self {
        Self {
            position,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at position {})", self.reason, self.position)
    }
}

/// Parses `input`; `Ok(None)` for an empty or blank query (no filter).
pub fn parse(input: &str) -> Result<Option<Expr>, QueryError> {
    let length = input.chars().count();
    if length > MAX_QUERY_CHARS {
        return Err(QueryError::new(
            MAX_QUERY_CHARS + 1,
            format!("the query is longer than {MAX_QUERY_CHARS} characters"),
        ));
    }
    let tokens = lexer::tokenize(input)?;
    if tokens.is_empty() {
        return Ok(None);
    }
    parser::parse(&tokens, length + 1).map(Some)
}
