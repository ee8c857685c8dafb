//! Parser tests: precedence, case-insensitivity, values, and every error with its position.

use super::ast::{Expr, Literal, Op};
use super::{QueryError, parse};

fn ok(q: &str) -> Expr {
    parse(q)
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .expect("non-empty")
}

fn err(q: &str) -> QueryError {
    match parse(q) {
        Err(e) => e,
        Ok(e) => panic!("{q} parsed as {e:?}"),
    }
}

/// Renders the tree with explicit grouping, fields only, to compare shapes.
fn shape(e: &Expr) -> String {
    match e {
        Expr::Clause(c) => c.field.clone(),
        Expr::And(a, b) => format!("({} & {})", shape(a), shape(b)),
        Expr::Or(a, b) => format!("({} | {})", shape(a), shape(b)),
        Expr::Not(a) => format!("!{}", shape(a)),
    }
}

#[test]
fn precedence_not_and_or() {
    assert_eq!(
        shape(&ok("a -eq 1 OR b -eq 2 AND c -eq 3")),
        "(a | (b & c))"
    );
    assert_eq!(
        shape(&ok("a -eq 1 AND b -eq 2 OR c -eq 3")),
        "((a & b) | c)"
    );
    assert_eq!(shape(&ok("NOT a -eq 1 AND b -eq 2")), "(!a & b)");
    assert_eq!(
        shape(&ok("NOT a -eq 1 OR NOT b -eq 2 AND c -eq 3")),
        "(!a | (!b & c))"
    );
    assert_eq!(shape(&ok("NOT (a -eq 1 OR b -eq 2)")), "!(a | b)");
    assert_eq!(
        shape(&ok("(a -eq 1 OR b -eq 2) AND c -eq 3")),
        "((a | b) & c)"
    );
    assert_eq!(
        shape(&ok("a -eq 1 AND b -eq 2 AND c -eq 3")),
        "((a & b) & c)"
    );
    assert_eq!(shape(&ok("NOT NOT a -eq 1")), "!!a");
    assert_eq!(shape(&ok("((a -eq 1))")), "a");
}

#[test]
fn keywords_and_operators_ignore_case() {
    assert_eq!(
        shape(&ok("a -EQ 1 and b -Ne 2 oR not c -StartsWith x")),
        "((a & b) | !c)"
    );
    let Expr::Clause(c) = ok("Message -CONTAINS \"disk\"") else {
        panic!()
    };
    assert_eq!(c.op, Op::Contains);
}

#[test]
fn values_quoted_bare_numbers_dates() {
    let clause = |q: &str| match ok(q) {
        Expr::Clause(c) => c,
        other => panic!("{other:?}"),
    };
    let c = clause(r#"Message -eq "say \"hi\" \\ o'k""#);
    assert_eq!(c.value, Literal::Quoted(r#"say "hi" \ o'k"#.into()));
    assert_eq!(
        (c.field_position, c.op_position, c.value_position),
        (1, 9, 13)
    );
    assert_eq!(
        clause(r"Message -eq 'it\'s'").value,
        Literal::Quoted("it's".into())
    );
    assert_eq!(clause("Status -ge 3").value, Literal::Bare("3".into()));
    assert_eq!(clause("Status -gt -1").value, Literal::Bare("-1".into()));
    assert_eq!(
        clause("OperationStart -gt 2024-05-01T10:00:00Z").value,
        Literal::Bare("2024-05-01T10:00:00Z".into())
    );
    assert_eq!(
        clause("Message -eq \"AND\"").value,
        Literal::Quoted("AND".into())
    );
    assert!(clause("TargetPath -eq null").value.is_null());
    assert!(!clause("TargetPath -eq \"null\"").value.is_null());
    assert!(err("a -eq(b)").reason.contains("missing operand"));
    assert!(parse("   ").unwrap().is_none());
    assert!(parse("").unwrap().is_none());
    // Non-ASCII positions count characters, not bytes.
    assert_eq!(clause("Message -eq \"é\" ").value_position, 13);
    assert_eq!(err("Message -eq \"é\" )").position, 17);
}

#[test]
fn unterminated_string() {
    let e = err("Message -eq \"disk full");
    assert_eq!(e.position, 13);
    assert!(e.reason.contains("unterminated string"), "{}", e.reason);
    assert_eq!(err("Message -eq 'x\\'").position, 13);
}

#[test]
fn unknown_escape() {
    let e = err(r#"Message -eq "a\nb""#);
    assert_eq!(e.position, 15);
    assert!(e.reason.contains("unknown escape"), "{}", e.reason);
}

#[test]
fn unknown_operator() {
    let e = err("Status -equals 3");
    assert_eq!(e.position, 8);
    assert!(
        e.reason.contains("unknown operator -equals"),
        "{}",
        e.reason
    );
}

#[test]
fn missing_operator() {
    let e = err("Status 3");
    assert_eq!(e.position, 8);
    assert!(e.reason.contains("missing operator"), "{}", e.reason);
    let e = err("Status");
    assert_eq!(e.position, 7);
    assert!(e.reason.contains("missing operator"), "{}", e.reason);
}

#[test]
fn missing_operand() {
    for (q, pos) in [
        ("Status -eq", 11),
        ("Status -eq AND Result -eq 4", 12),
        ("Status -eq )", 12),
        ("Status -eq 3 AND", 17),
        ("Status -eq 3 OR", 16),
        ("NOT", 4),
        ("AND Status -eq 3", 1),
        ("Status -eq 3 AND OR Result -eq 4", 18),
    ] {
        let e = err(q);
        assert_eq!(e.position, pos, "{q}: {e}");
        assert!(e.reason.contains("missing operand"), "{q}: {}", e.reason);
    }
}

#[test]
fn unbalanced_parens() {
    let e = err("(Status -eq 3");
    assert_eq!(e.position, 1);
    assert!(e.reason.contains("never closed"), "{}", e.reason);
    let e = err("Status -eq 3)");
    assert_eq!(e.position, 13);
    assert!(e.reason.contains("closes nothing"), "{}", e.reason);
    let e = err("((Status -eq 3) AND Result -eq 4");
    assert_eq!(e.position, 1);
    let e = err("(Status -eq 3 Result -eq 4)");
    assert_eq!(e.position, 15);
    assert!(
        e.reason.contains("to close the ( at position 1"),
        "{}",
        e.reason
    );
    let e = err("()");
    assert_eq!(e.position, 2);
}

#[test]
fn trailing_input() {
    let e = err("Status -eq 3 Result -eq 4");
    assert_eq!(e.position, 14);
    assert!(
        e.reason.contains("expected AND, OR or the end"),
        "{}",
        e.reason
    );
    let e = err("Status -eq 3 \"x\"");
    assert_eq!(e.position, 14);
}

#[test]
fn operator_where_a_clause_belongs() {
    let e = err("-eq 3");
    assert_eq!(e.position, 1);
    assert!(e.reason.contains("expected a clause"), "{}", e.reason);
}

#[test]
fn too_deep_or_too_long() {
    let deep = format!("{}a -eq 1{}", "(".repeat(40), ")".repeat(40));
    let e = err(&deep);
    assert!(e.reason.contains("more than 32 deep"), "{}", e.reason);
    let nots = format!("{}a -eq 1", "NOT ".repeat(40));
    assert!(err(&nots).reason.contains("deep"));
    let long = format!("Message -eq \"{}\"", "x".repeat(5000));
    assert!(err(&long).reason.contains("longer than"));
}
