//! How answers are printed: tables for people, the server's JSON unchanged for scripts.
//!
//! [`show`] is the one path of most commands: call, check the status, print.

use comfy_table::{ContentArrangement, Table, presets::NOTHING};
use serde_json::Value;

use super::error::{ClientResult, exit};
use super::http::{Call, Client};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
}

/// A column of a list: its header and where its value is in a row (a JSON pointer).
pub type Column = (&'static str, &'static str);

/// How an answer is shown as a table.
#[derive(Debug, Clone, Copy)]
pub enum View {
    /// Rows (the answer itself when it is an array, else its `resources`) in columns.
    List(&'static [Column]),
    /// Rows whose columns are the plain (not nested) fields of the first row, for
    /// answers whose shape the client does not pin down.
    Rows,
    /// One object, a row per field.
    Object,
    /// An answer without a body (204): this sentence instead.
    Done(&'static str),
}

/// Calls the server and prints the answer as `view` says (or as JSON).
pub async fn show(client: &Client, call: Call, view: View) -> ClientResult {
    let (value, total) = client.counted(&call).await?;
    print_counted(&value, total, client.output, view);
    Ok(exit::OK)
}

/// Prints an answer: JSON unchanged (nothing for an empty answer), or as `view` says.
pub fn print(value: &Value, output: Output, view: View) {
    print_counted(value, None, output, view);
}

/// [`print`], with the list's total when the server sent it as a header.
fn print_counted(value: &Value, total: Option<i64>, output: Output, view: View) {
    match output {
        Output::Json => {
            if !value.is_null() {
                println!("{}", pretty(value));
            }
        }
        Output::Table => match view {
            View::List(columns) => print_list(value, total, columns),
            View::Rows => print_rows(value, total),
            View::Object => println!("{}", object_table(value)),
            View::Done(sentence) => match value {
                Value::Null => println!("{sentence}"),
                other => println!("{}", object_table(other)),
            },
        },
    }
}

pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// The rows of a list answer: the array itself or its `resources`.
fn rows_of(value: &Value) -> Option<&[Value]> {
    match value {
        Value::Array(rows) => Some(rows),
        other => other
            .get("resources")
            .and_then(Value::as_array)
            .map(Vec::as_slice),
    }
}

fn print_rows(value: &Value, total: Option<i64>) {
    let keys: Vec<String> = rows_of(value)
        .and_then(|rows| rows.first())
        .and_then(Value::as_object)
        .map(|first| {
            first
                .iter()
                .filter(|(_, v)| !v.is_object() && !v.is_array())
                .map(|(k, _)| k.clone())
                .take(8)
                .collect()
        })
        .unwrap_or_default();
    let columns: Vec<(String, String)> =
        keys.iter().map(|k| (k.clone(), format!("/{k}"))).collect();
    print_table(value, total, &columns);
}

fn print_list(value: &Value, total: Option<i64>, columns: &[Column]) {
    let columns: Vec<(String, String)> = columns
        .iter()
        .map(|(h, p)| ((*h).to_owned(), (*p).to_owned()))
        .collect();
    print_table(value, total, &columns);
}

fn print_table(value: &Value, total: Option<i64>, columns: &[(String, String)]) {
    let Some(rows) = rows_of(value) else {
        println!("{}", object_table(value));
        return;
    };
    let mut table = new_table();
    table.set_header(columns.iter().map(|(header, _)| header));
    for row in rows {
        table.add_row(
            columns
                .iter()
                .map(|(_, pointer)| cell(row.pointer(pointer))),
        );
    }
    println!("{table}");
    let exact = value.get("total_exact").and_then(Value::as_bool) != Some(false);
    match total.or_else(|| value.get("total").and_then(Value::as_i64)) {
        Some(total) if !exact => println!("{} of more than {total}", rows.len()),
        Some(total) => println!("{} of {total}", rows.len()),
        None => println!("{} rows", rows.len()),
    }
}

/// One object as `field | value` rows, so every field the server sent is visible.
pub fn object_table(value: &Value) -> Table {
    let mut table = new_table();
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                table.add_row([key.clone(), cell(Some(v))]);
            }
        }
        other => {
            table.add_row([cell(Some(other))]);
        }
    }
    table
}

fn new_table() -> Table {
    let mut table = Table::new();
    table
        .load_style(NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic);
    table
}

/// A value as a cell: text as it is, `-` for nothing, lists of words joined, other
/// structures as compact JSON.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}
