//! Pinned params: values an account's jobs must carry, whatever the request says (Vault's
//! `required_parameters`). A pinned value absent from the params is set; a different one
//! refuses the request (or the job), naming the param. This is how an operator keeps a
//! team's cloud jobs to its own keys, e.g. `aws_param.tags.team = "a"`.

use serde_json::Value;

use super::access::Denied;

/// Sets every pinned leaf of `pinned` in `params`, or refuses when `params` holds
/// something else there. Tables are walked; any other value (arrays too) must be equal.
pub fn apply(pinned: &toml::Table, params: &mut Value) -> Result<(), Denied> {
    let pinned = to_json(pinned);
    let mut path = Vec::new();
    walk(&pinned, params, &mut path)
}

/// A table whose values all convert to JSON (dates do not).
pub fn check_table(pinned: &toml::Table) -> Result<(), String> {
    fn check(value: &toml::Value) -> Result<(), String> {
        match value {
            toml::Value::Datetime(d) => Err(format!(
                "{d}: dates cannot be params; write them as strings"
            )),
            toml::Value::Table(t) => t.values().try_for_each(check),
            toml::Value::Array(a) => a.iter().try_for_each(check),
            _ => Ok(()),
        }
    }
    pinned.values().try_for_each(check)
}

fn to_json(pinned: &toml::Table) -> Value {
    serde_json::to_value(pinned).unwrap_or(Value::Null)
}

fn walk(pinned: &Value, params: &mut Value, path: &mut Vec<String>) -> Result<(), Denied> {
    let Value::Object(want) = pinned else {
        return Ok(());
    };
    let Value::Object(have) = params else {
        return Err(refused(path, "must be an object holding the pinned params"));
    };
    for (key, wanted) in want {
        path.push(key.clone());
        match (have.get_mut(key), wanted) {
            (None, wanted) => {
                have.insert(key.clone(), wanted.clone());
            }
            (Some(present), Value::Object(_)) => walk(wanted, present, path)?,
            (Some(present), wanted) if present == wanted => {}
            (Some(_), wanted) => {
                return Err(refused(
                    path,
                    &format!("the account's grant pins it to {wanted}"),
                ));
            }
        }
        path.pop();
    }
    Ok(())
}

fn refused(path: &[String], why: &str) -> Denied {
    Denied {
        param: Some(path.to_vec()),
        reason: format!(
            "params.{}: {why} (pinned_params of the account's plugin grant)",
            if path.is_empty() {
                "".to_owned()
            } else {
                path.join(".")
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pinned() -> toml::Table {
        toml::from_str("aws_param = { tags = { team = \"a\" }, region = \"eu-west-1\" }").unwrap()
    }

    #[test]
    fn absent_pinned_values_are_set() {
        let mut params = json!({"cloud_name": "aws"});
        apply(&pinned(), &mut params).unwrap();
        assert_eq!(
            params,
            json!({"cloud_name": "aws", "aws_param": {"tags": {"team": "a"}, "region": "eu-west-1"}})
        );
        let mut more = json!({"aws_param": {"tags": {"team": "a", "env": "prod"}}});
        apply(&pinned(), &mut more).unwrap();
        assert_eq!(
            more["aws_param"]["tags"],
            json!({"team": "a", "env": "prod"})
        );
    }

    #[test]
    fn a_different_value_is_refused_naming_the_param() {
        let mut params = json!({"aws_param": {"tags": {"team": "b"}}});
        let denied = apply(&pinned(), &mut params).unwrap_err();
        assert_eq!(
            denied.param.as_deref(),
            Some(&["aws_param".to_owned(), "tags".to_owned(), "team".to_owned()][..])
        );
        assert!(
            denied.reason.contains("params.aws_param.tags.team"),
            "{}",
            denied.reason
        );
        let mut not_object = json!({"aws_param": {"tags": ["team"]}});
        assert!(apply(&pinned(), &mut not_object).is_err());
    }

    #[test]
    fn dates_cannot_be_pinned() {
        let table: toml::Table = toml::from_str("at = 1979-05-27").unwrap();
        assert!(check_table(&table).is_err());
        assert!(check_table(&pinned()).is_ok());
    }
}
