//! The parsed form of a query: clauses combined with AND, OR and NOT. Values stay text
//! here; their types are checked against the field they are compared with
//! (`fields.rs`), where the field is known.

/// A comparison operator of the language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Contains,
    StartsWith,
}

impl Op {
    /// The operator for `name` (without the dash), ignoring case.
    pub fn parse(name: &str) -> Option<Op> {
        Some(match name.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            "lt" => Op::Lt,
            "ge" => Op::Ge,
            "le" => Op::Le,
            "contains" => Op::Contains,
            "startswith" => Op::StartsWith,
            _ => return None,
        })
    }

    /// How it is written.
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "-eq",
            Op::Ne => "-ne",
            Op::Gt => "-gt",
            Op::Lt => "-lt",
            Op::Ge => "-ge",
            Op::Le => "-le",
            Op::Contains => "-contains",
            Op::StartsWith => "-startswith",
        }
    }

    /// Orders values (`-gt`, `-lt`, `-ge`, `-le`).
    pub fn is_ordering(self) -> bool {
        matches!(self, Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    /// Matches text (`-contains`, `-startswith`).
    pub fn is_text_match(self) -> bool {
        matches!(self, Op::Contains | Op::StartsWith)
    }
}

/// A value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// In quotes: always text (so `"null"` is the word null).
    Quoted(String),
    /// Bare: a number, a date, a word, or `null`.
    Bare(String),
}

impl Literal {
    pub fn text(&self) -> &str {
        match self {
            Literal::Quoted(s) | Literal::Bare(s) => s,
        }
    }

    /// The bare word `null` (any case).
    pub fn is_null(&self) -> bool {
        matches!(self, Literal::Bare(s) if s.eq_ignore_ascii_case("null"))
    }
}

/// `field op value`, with the positions of its parts for error messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub field: String,
    pub field_position: usize,
    pub op: Op,
    pub op_position: usize,
    pub value: Literal,
    pub value_position: usize,
}

/// A query.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Clause(Clause),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

impl Expr {
    /// The operands of a chain of ANDs (`and`) or ORs, left to right, so a long chain can
    /// become one flat list instead of being mistaken for nesting.
    pub fn chain(&self, and: bool) -> Vec<&Expr> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            match (e, and) {
                (Expr::And(a, b), true) | (Expr::Or(a, b), false) => {
                    stack.push(b);
                    stack.push(a);
                }
                _ => out.push(e),
            }
        }
        out
    }

    /// Every clause, left to right.
    pub fn clauses(&self) -> Vec<&Clause> {
        match self {
            Expr::Clause(c) => vec![c],
            Expr::And(a, b) | Expr::Or(a, b) => {
                let mut v = a.clauses();
                v.extend(b.clauses());
                v
            }
            Expr::Not(e) => e.clauses(),
        }
    }
}
