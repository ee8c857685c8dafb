//! JSON Schema pieces the contract is built from: each says exactly what the server takes,
//! no more (a request the schema allows is never refused for a reason it could have said)
//! and no less (a request it forbids is refused).

use serde_json::{Map, Value, json};

/// White space as the server trims it (Rust's `char::is_whitespace`), spelt out for a
/// character class: `\s` means something different in each regular-expression dialect
/// (ECMA-262 counts U+FEFF, Python U+001C to U+001F, neither of which Rust trims), and a
/// client's validator and the server must agree on what is blank.
pub const WHITE_CHARS: &str =
    r"\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// One character of white space.
pub fn white() -> String {
    format!("[{WHITE_CHARS}]")
}

/// One character that is not white space.
pub fn not_white() -> String {
    format!("[^{WHITE_CHARS}]")
}

/// A text field: any string without U+0000 (which the server refuses in text: see
/// `api/json.rs`).
pub fn plain() -> Value {
    json!({"type": "string", "pattern": "^[^\\u0000]*$"})
}

/// A required text field: at least one character that is not white space (the server
/// trims), and no U+0000.
pub fn text() -> Value {
    let chars = format!("[^{WHITE_CHARS}\\u0000]");
    json!({"type": "string", "pattern": format!("^[^\\u0000]*{chars}[^\\u0000]*$")})
}

/// A string the server passes on inside JSON (U+0000 allowed) that is not blank.
pub fn non_blank() -> Value {
    json!({"type": "string", "pattern": not_white()})
}

/// An empty or all-white-space string, which the server reads as absent.
pub fn blank() -> Value {
    json!({"type": "string", "pattern": format!("^{}*$", white())})
}

/// `schema`, `null`, or a blank string: an optional field the server reads as absent when
/// it is `null` or blank.
pub fn absent_or(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "null"}, blank()]})
}

/// A regular expression matching `word` in any ASCII case (JSON Schema patterns have no
/// case-insensitive flag).
pub fn any_case(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
            } else {
                regex_escape(&c.to_string())
            }
        })
        .collect()
}

/// `s` as a regular expression matching itself: ECMA-262's syntax characters escaped,
/// nothing else (any other escape is an error in its unicode mode).
pub fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `schema` with a description.
pub fn doc(mut schema: Value, description: &str) -> Value {
    schema["description"] = json!(description);
    schema
}

/// `schema`, or `null`.
pub fn nullable(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "null"}]})
}

/// A UUID (the server reads any case).
pub fn uuid() -> Value {
    json!({"type": "string", "format": "uuid"})
}

/// An RFC 3339 date-time.
pub fn date_time() -> Value {
    json!({"type": "string", "format": "date-time"})
}

/// An RFC 3339 full date (`2024-05-01`).
pub fn date() -> Value {
    json!({"type": "string", "format": "date"})
}

/// A comma-separated list of `names`, each part trimmed and blank parts ignored (as the
/// server reads it).
pub fn include_list(names: &[&str]) -> Value {
    let w = white();
    let part = format!("{w}*(({}){w}*)?", names.join("|"));
    json!({"type": "string", "pattern": format!("^{part}(,{part})*$")})
}

/// One of `values`.
pub fn one_of_strings(values: &[String]) -> Value {
    json!({"type": "string", "enum": values})
}

/// A 64-bit whole number from `min`.
pub fn integer(min: i64, max: i64) -> Value {
    json!({"type": "integer", "format": "int64", "minimum": min, "maximum": max})
}

/// An object with exactly `properties` (those in `required` must be there).
pub fn object(properties: Map<String, Value>, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// A cron expression the scheduler takes: 5 fields, 6 with seconds first, a macro or
/// `@every`. The pattern covers numbers, lists, `*` and `*/step`; the server also takes
/// ranges, names and days 29 to 31, which a regular expression cannot check for sense
/// (`5-1`, February 31st).
pub fn cron() -> Value {
    let minute = r"(\*(/([1-9]|[1-5][0-9]))?|[1-5]?[0-9](,[1-5]?[0-9]){0,3})";
    let hour = r"(\*(/([1-9]|1[0-9]|2[0-3]))?|(1?[0-9]|2[0-3])(,(1?[0-9]|2[0-3])){0,3})";
    let dom = r"(\*|([1-9]|1[0-9]|2[0-8])(,([1-9]|1[0-9]|2[0-8])){0,3})";
    let month = r"(\*|([1-9]|1[0-2])(,([1-9]|1[0-2])){0,3})";
    let dow = r"(\*|[0-6](,[0-6]){0,3})";
    let fields = format!("({minute} )?{minute} {hour} {dom} {month} {dow}");
    let macros = "@(hourly|daily|midnight|weekly|monthly|yearly|annually)";
    let every = "@every ([1-9][0-9]{0,3}m|[1-9][0-9]{0,2}h)";
    json!({
        "type": "string",
        "pattern": format!("^({fields}|{macros}|{every})$"),
        "description": "Cron: 5 fields, 6 with seconds first, a macro (@daily) or @every N(s|m|h|d). \
                        Day-of-week 0 and 7 are Sunday. Ranges and names are taken too.",
    })
}

/// A duration param (`6d`, `12h`): at most 3650 days or 87600 hours.
pub fn duration(days_only: bool) -> Value {
    let days = "([1-9][0-9]{0,2}|[1-2][0-9]{3}|3[0-5][0-9]{2}|36[0-4][0-9]|3650)d";
    let hours = "([1-9][0-9]{0,3}|[1-7][0-9]{4}|8[0-6][0-9]{3}|87[0-5][0-9]{2}|87600)h";
    let pattern = if days_only {
        format!("^{days}$")
    } else {
        format!("^({days}|{hours})$")
    };
    json!({"type": "string", "pattern": pattern})
}

/// A `sort` parameter over `keys`: comma-separated, each optionally `-` (descending) or
/// `+`, in snake_case or camelCase.
pub fn sort(keys: &[&str]) -> Value {
    let mut names: Vec<String> = Vec::new();
    for key in keys {
        names.push((*key).to_owned());
        let camel = camel_case(key);
        if camel != *key {
            names.push(camel);
        }
    }
    let key = format!("[+-]?({})", names.join("|"));
    json!({"type": "string", "pattern": format!("^({key}(,{key}){{0,3}})?$")})
}

fn camel_case(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A plugin's JSON Schema, ready to sit inside this document: local `$ref`s into its own
/// `$defs` inlined (the document's root is not the plugin's), `$defs` dropped. `None` when
/// it refers to something it does not define, or to itself.
pub fn embedded(plugin_schema: &Value) -> Option<Value> {
    let defs = plugin_schema
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut out = plugin_schema.clone();
    if let Some(map) = out.as_object_mut() {
        map.remove("$defs");
        map.remove("$schema");
        map.remove("$id");
    }
    let mut budget = MAX_INLINED_NODES;
    inline(&mut out, &defs, 0, &mut budget).then_some(out)
}

/// How many JSON nodes a plugin's schema may grow to once its `$ref`s are inlined: `$defs`
/// that refer to each other twice would otherwise double at every level.
const MAX_INLINED_NODES: usize = 20_000;

fn inline(value: &mut Value, defs: &Map<String, Value>, depth: usize, budget: &mut usize) -> bool {
    if depth > 32 || *budget == 0 {
        return false;
    }
    *budget -= 1;
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let Some(target) = r.strip_prefix("#/$defs/").and_then(|name| defs.get(name))
                else {
                    return false;
                };
                *value = target.clone();
                return inline(value, defs, depth + 1, budget);
            }
            map.values_mut().all(|v| inline(v, defs, depth + 1, budget))
        }
        Value::Array(items) => items.iter_mut().all(|v| inline(v, defs, depth + 1, budget)),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(schema: &Value, s: &str) -> bool {
        let pattern = schema["pattern"].as_str().unwrap();
        regex_lite(pattern, s)
    }

    /// The patterns are checked with the `jsonschema` crate's own engine.
    fn regex_lite(pattern: &str, s: &str) -> bool {
        let schema = json!({"type": "string", "pattern": pattern});
        jsonschema::validator_for(&schema)
            .unwrap()
            .is_valid(&json!(s))
    }

    /// The document's idea of white space is the server's (`str::trim`), character by
    /// character over the Basic Multilingual Plane and beyond.
    #[test]
    fn white_space_is_what_the_server_trims() {
        let white = jsonschema::validator_for(&blank()).unwrap();
        let text = jsonschema::validator_for(&text()).unwrap();
        let plain = jsonschema::validator_for(&plain()).unwrap();
        assert!(!text.is_valid(&json!("a\u{0}b")));
        assert!(!plain.is_valid(&json!("\u{0}")));
        assert!(plain.is_valid(&json!(" a ")));
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let s = c.to_string();
            let trims_away = s.trim().is_empty();
            assert_eq!(white.is_valid(&json!(s)), trims_away, "U+{:04X}", c as u32);
            let is_text = !trims_away && c != '\0';
            assert_eq!(text.is_valid(&json!(s)), is_text, "U+{:04X}", c as u32);
        }
        assert!(white.is_valid(&json!("")));
        assert!(!text.is_valid(&json!("")));
        assert!(text.is_valid(&json!(" \u{3000}x ")));
    }

    #[test]
    fn cron_pattern_takes_what_the_scheduler_takes() {
        let c = cron();
        for ok in [
            "*/5 * * * *",
            "0 30 2 * * *",
            "5,10 3 1,15 * 1",
            "@daily",
            "@every 90m",
            "@every 24h",
            "*/59 */23 * * *",
            "*/1 */1 * * *",
        ] {
            assert!(matches(&c, ok), "{ok}");
            crate::scheduler::fire_times::Schedule::parse(ok, None).expect(ok);
        }
        for bad in ["", "* * * *", "60 * * * *", "0 0 31 2 *", "@every 0m", "x"] {
            assert!(!matches(&c, bad), "{bad}");
        }
        for refused in ["*/60 * * * *", "* */24 * * *", "* * */49 * 6 *"] {
            assert!(!matches(&c, refused), "{refused}");
            crate::scheduler::fire_times::Schedule::parse(refused, None).unwrap_err();
        }
    }

    #[test]
    fn durations_and_sorts() {
        let d = duration(false);
        for ok in ["1d", "3650d", "87600h", "12h"] {
            assert!(matches(&d, ok), "{ok}");
            crate::scheduler::fire_times::parse_duration_param(ok).expect(ok);
        }
        for bad in ["0d", "3651d", "87601h", "1w", "d"] {
            assert!(!matches(&d, bad), "{bad}");
        }
        assert!(!matches(&duration(true), "12h"));
        let s = sort(&["name", "created_at"]);
        for ok in ["", "name", "-createdAt,+name", "created_at"] {
            assert!(matches(&s, ok), "{ok}");
        }
        assert!(!matches(&s, "colour"));
    }

    /// Parts trimmed, blank parts ignored: what `GET /jobs?include=` reads.
    #[test]
    fn include_lists() {
        let i = include_list(&["params", "logs"]);
        for ok in [
            "",
            " ",
            "params",
            " logs , params ",
            "params,",
            ",",
            "logs,,logs",
        ] {
            assert!(matches(&i, ok), "{ok:?}");
        }
        for bad in ["secrets", "params logs", "param", "params,x", "PARAMS"] {
            assert!(!matches(&i, bad), "{bad:?}");
        }
    }

    #[test]
    fn plugin_refs_are_inlined() {
        let schema = json!({"$defs": {"n": {"type": "integer"}}, "type": "object",
                            "properties": {"a": {"$ref": "#/$defs/n"}}});
        assert_eq!(
            embedded(&schema).unwrap(),
            json!({"type": "object", "properties": {"a": {"type": "integer"}}})
        );
        assert!(embedded(&json!({"$ref": "#/elsewhere"})).is_none());
        let looping = json!({"$defs": {"n": {"$ref": "#/$defs/n"}}, "$ref": "#/$defs/n"});
        assert!(embedded(&looping).is_none());
        // Each level refers to the next twice: 2^30 nodes inlined, were it not refused.
        let mut defs = serde_json::Map::new();
        for level in 0..30 {
            defs.insert(
                format!("d{level}"),
                json!({"anyOf": [{"$ref": format!("#/$defs/d{}", level + 1)},
                                 {"$ref": format!("#/$defs/d{}", level + 1)}]}),
            );
        }
        defs.insert("d30".into(), json!({"type": "integer"}));
        let doubling = json!({"$defs": defs, "$ref": "#/$defs/d0"});
        assert!(embedded(&doubling).is_none());
    }
}
