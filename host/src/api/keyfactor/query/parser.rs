//! Recursive-descent parser. Grammar (keywords and operators ignore case):
//!
//! ```text
//! query   := or EOF
//! or      := and ("OR" and)*
//! and     := not ("AND" not)*
//! not     := "NOT" not | primary
//! primary := "(" or ")" | clause
//! clause  := FIELD OPERATOR VALUE
//! ```
//!
//! so NOT binds tighter than AND, and AND tighter than OR.

use super::QueryError;
use super::ast::{Clause, Expr, Literal, Op};
use super::lexer::{Spanned, Token};

/// Deepest nesting of parentheses and NOTs accepted (keeps recursion bounded).
const MAX_DEPTH: usize = 32;

/// Parses the tokens of a non-empty query; `end` is the position just after the input.
pub fn parse(tokens: &[Spanned], end: usize) -> Result<Expr, QueryError> {
    let mut p = Parser {
        tokens,
        next: 0,
        end,
        depth: 0,
    };
    let expr = p.or()?;
    if let Some(t) = p.peek() {
        return Err(match &t.token {
            Token::RParen => {
                QueryError::new(t.position, "unbalanced parentheses: this ) closes nothing")
            }
            _ => QueryError::new(
                t.position,
                format!(
                    "expected AND, OR or the end of the query, found {}",
                    describe(&t.token)
                ),
            ),
        });
    }
    Ok(expr)
}

struct Parser<'a> {
    tokens: &'a [Spanned],
    next: usize,
    end: usize,
    depth: usize,
}

fn describe(t: &Token) -> String {
    match t {
        Token::LParen => "(".to_owned(),
        Token::RParen => ")".to_owned(),
        Token::Operator(o) => format!("the operator -{o}"),
        Token::Quoted(s) => format!("the string {s:?}"),
        Token::Word(w) => format!("{w:?}"),
    }
}

fn is_keyword(t: &Token, keyword: &str) -> bool {
    matches!(t, Token::Word(w) if w.eq_ignore_ascii_case(keyword))
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Spanned> {
        self.tokens.get(self.next)
    }

    fn bump(&mut self) -> Option<&'a Spanned> {
        let t = self.tokens.get(self.next);
        self.next += 1;
        t
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        if self.peek().is_some_and(|t| is_keyword(&t.token, keyword)) {
            self.next += 1;
            true
        } else {
            false
        }
    }

    /// Position of the next token, or the end of the input.
    fn here(&self) -> usize {
        self.peek().map_or(self.end, |t| t.position)
    }

    fn nest(&mut self) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::new(
                self.here(),
                format!("the query nests parentheses and NOTs more than {MAX_DEPTH} deep"),
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.eat_keyword("or") {
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.not()?;
        while self.eat_keyword("and") {
            let right = self.not()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, QueryError> {
        if self.eat_keyword("not") {
            self.nest()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let Some(t) = self.peek() else {
            return Err(QueryError::new(
                self.end,
                "missing operand: the query ends where a clause (field -operator value) or ( was expected",
            ));
        };
        match &t.token {
            Token::LParen => {
                self.next += 1;
                self.nest()?;
                let inner = self.or()?;
                self.depth -= 1;
                match self.bump() {
                    Some(Spanned {
                        token: Token::RParen,
                        ..
                    }) => Ok(inner),
                    Some(other) => Err(QueryError::new(
                        other.position,
                        format!(
                            "expected AND, OR or ) to close the ( at position {}, found {}",
                            t.position,
                            describe(&other.token)
                        ),
                    )),
                    None => Err(QueryError::new(
                        t.position,
                        "unbalanced parentheses: this ( is never closed",
                    )),
                }
            }
            Token::Word(w) if ["and", "or"].iter().any(|k| w.eq_ignore_ascii_case(k)) => {
                Err(QueryError::new(
                    t.position,
                    format!(
                        "missing operand: expected a clause before {}",
                        w.to_uppercase()
                    ),
                ))
            }
            Token::Word(_) => self.clause(),
            other => Err(QueryError::new(
                t.position,
                format!(
                    "expected a clause (field -operator value) or (, found {}",
                    describe(other)
                ),
            )),
        }
    }

    fn clause(&mut self) -> Result<Expr, QueryError> {
        let field = self.bump().expect("primary checked a word");
        let Token::Word(name) = &field.token else {
            unreachable!("primary checked a word")
        };
        let op_token = self.bump();
        let (op, op_position) = match op_token {
            Some(Spanned {
                token: Token::Operator(o),
                position,
            }) => match Op::parse(o) {
                Some(op) => (op, *position),
                None => {
                    return Err(QueryError::new(
                        *position,
                        format!(
                            "unknown operator -{o}; use -eq, -ne, -gt, -lt, -ge, -le, -contains or -startswith"
                        ),
                    ));
                }
            },
            Some(other) => {
                return Err(QueryError::new(
                    other.position,
                    format!(
                        "missing operator after the field {name}: expected one such as -eq, found {}",
                        describe(&other.token)
                    ),
                ));
            }
            None => {
                return Err(QueryError::new(
                    self.end,
                    format!("missing operator after the field {name}: the query ends"),
                ));
            }
        };
        let value = match self.bump() {
            Some(Spanned {
                token: Token::Quoted(s),
                position,
            }) => (Literal::Quoted(s.clone()), *position),
            Some(Spanned {
                token: Token::Word(w),
                position,
            }) if !["and", "or", "not"]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                (Literal::Bare(w.clone()), *position)
            }
            Some(other) => {
                return Err(QueryError::new(
                    other.position,
                    format!(
                        "missing operand: expected a value after {}, found {} (quote a value that is a keyword)",
                        op.name(),
                        describe(&other.token)
                    ),
                ));
            }
            None => {
                return Err(QueryError::new(
                    self.end,
                    format!("missing operand: the query ends after {}", op.name()),
                ));
            }
        };
        Ok(Expr::Clause(Clause {
            field: name.clone(),
            field_position: field.position,
            op,
            op_position,
            value: value.0,
            value_position: value.1,
        }))
    }
}
