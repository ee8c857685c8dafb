//! Splits a query into tokens, each with the 1-based character position it starts at.

use super::QueryError;

/// A token of the query language.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    LParen,
    RParen,
    /// `-eq`, `-Contains`... (the name without the dash, as written).
    Operator(String),
    /// A quoted string, escapes resolved.
    Quoted(String),
    /// Anything else: field names, keywords, bare values, numbers, dates.
    Word(String),
}

/// A token and where it starts (1-based character position).
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    pub token: Token,
    pub position: usize,
}

/// Tokenizes `input`. Quoted strings use `"` or `'` and take the escapes `\"`, `\'` and
/// `\\`; a dash followed by a letter starts an operator, so bare values such as dates
/// (`2024-05-01`) and negative numbers (`-3`) stay words.
pub fn tokenize(input: &str) -> Result<Vec<Spanned>, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let position = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let token = match c {
            '(' => {
                i += 1;
                Token::LParen
            }
            ')' => {
                i += 1;
                Token::RParen
            }
            '"' | '\'' => {
                let (text, next) = quoted(&chars, i)?;
                i = next;
                Token::Quoted(text)
            }
            '-' if chars.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic()) => {
                let start = i + 1;
                i = start;
                while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                Token::Operator(chars[start..i].iter().collect())
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '(' | ')' | '"' | '\'')
                {
                    i += 1;
                }
                Token::Word(chars[start..i].iter().collect())
            }
        };
        tokens.push(Spanned { token, position });
    }
    Ok(tokens)
}

/// Reads the quoted string opening at `open`; returns its text and the index after it.
fn quoted(chars: &[char], open: usize) -> Result<(String, usize), QueryError> {
    let quote = chars[open];
    let mut text = String::new();
    let mut i = open + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => match chars.get(i + 1) {
                Some(&e @ ('"' | '\'' | '\\')) => {
                    text.push(e);
                    i += 2;
                }
                Some(other) => {
                    return Err(QueryError::new(
                        i + 1,
                        format!(
                            "unknown escape \\{other} in a quoted string (use \\\", \\' or \\\\)"
                        ),
                    ));
                }
                None => break,
            },
            c if c == quote => return Ok((text, i + 1)),
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    Err(QueryError::new(
        open + 1,
        format!("unterminated string: the {quote} opened here is never closed"),
    ))
}
