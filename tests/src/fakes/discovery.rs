//! Google's API Discovery documents, read as Swagger 2.0 so one checker
//! ([`super::openapi::Swagger`]) serves every fake.
//!
//! The conversion keeps what a request check needs: each method's HTTP verb and
//! `flatPath` (with Google's `:verb` custom-method suffixes), its query parameters plus the
//! document's global ones (`fields`, `alt`, `prettyPrint`...), its request and response
//! schemas with their `readOnly` marks. Path ids get the character set Cloud resource ids
//! use. Discovery documents describe no error body, so errors are given Google's
//! standard error model (`{"error": {"code", "message", "status"}}`, AIP-193).

use serde_json::{Map, Value, json};

/// The document as Swagger 2.0.
pub fn to_swagger(doc: &Value) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    let globals: Vec<Value> = doc["parameters"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, p)| parameter(name, p))
        .collect();
    let mut methods = Vec::new();
    collect(&doc["resources"], &mut methods);
    for m in methods {
        let path = format!(
            "/{}",
            m["flatPath"].as_str().or(m["path"].as_str()).unwrap()
        );
        let verb = m["httpMethod"].as_str().unwrap().to_lowercase();
        let mut params = globals.clone();
        for (name, p) in m["parameters"].as_object().into_iter().flatten() {
            if p["location"] == "query" {
                params.push(parameter(name, p));
            }
        }
        for id in path_ids(&path) {
            params.push(
                json!({"name": id, "in": "path", "required": true, "type": "string",
                               "pattern": "^[a-zA-Z0-9_.~-]+$"}),
            );
        }
        if let Some(r) = m["request"]["$ref"].as_str() {
            params.push(json!({"name": "body", "in": "body", "required": false,
                               "schema": {"$ref": format!("#/definitions/{r}")}}));
        }
        let mut responses = json!({"default": {"description": "error",
                                               "schema": {"$ref": "#/definitions/GoogleRpcErrorBody"}}});
        responses["200"] = match m["response"]["$ref"].as_str() {
            Some(r) => {
                json!({"description": "ok", "schema": {"$ref": format!("#/definitions/{r}")}})
            }
            None => json!({"description": "ok"}),
        };
        let item = paths.entry(path).or_insert_with(|| json!({}));
        item[verb] = json!({"operationId": m["id"], "parameters": params, "responses": responses});
    }
    let mut definitions = Map::new();
    for (name, schema) in doc["schemas"].as_object().into_iter().flatten() {
        definitions.insert(name.clone(), schema_of(schema));
    }
    definitions.insert(
        "GoogleRpcErrorBody".into(),
        json!({"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message", "status"],
            "properties": {"code": {"type": "integer"}, "message": {"type": "string"},
                           "status": {"type": "string"}, "details": {"type": "array"}}}}}),
    );
    json!({
        "swagger": "2.0",
        "info": {"title": doc["title"], "version": doc["version"]},
        "paths": paths,
        "definitions": definitions,
    })
}

fn collect(resources: &Value, out: &mut Vec<Value>) {
    for r in resources.as_object().into_iter().flatten().map(|(_, r)| r) {
        for m in r["methods"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, m)| m)
        {
            out.push(m.clone());
        }
        collect(&r["resources"], out);
    }
}

/// `{projectsId}` and the like, in order.
fn path_ids(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(id, _)| id.to_owned()))
        .collect()
}

fn parameter(name: &str, p: &Value) -> Value {
    let mut out =
        json!({"name": name, "in": "query", "required": p["required"].as_bool().unwrap_or(false)});
    for key in ["type", "enum", "minimum", "maximum", "pattern"] {
        if let Some(v) = p.get(key) {
            out[key] = v.clone();
        }
    }
    if let Some(min) = p["minimum"].as_str().and_then(|m| m.parse::<i64>().ok()) {
        out["minimum"] = json!(min);
    }
    if let Some(max) = p["maximum"].as_str().and_then(|m| m.parse::<i64>().ok()) {
        out["maximum"] = json!(max);
    }
    out
}

/// A Discovery schema as JSON Schema: `$ref` by name becomes a definitions pointer, and
/// `id` (which draft 4 would read as a base URI), `type: any` and descriptive keys are
/// dropped.
fn schema_of(s: &Value) -> Value {
    let Some(o) = s.as_object() else {
        return s.clone();
    };
    let mut out = Map::new();
    for (k, v) in o {
        match k.as_str() {
            "id" | "description" | "enumDescriptions" | "enumDeprecated" | "deprecated"
            | "annotations" | "location" => {}
            // Discovery's `any` is JSON Schema's absence of a type.
            "type" if v == "any" => {}
            "$ref" => {
                out.insert(
                    k.clone(),
                    json!(format!("#/definitions/{}", v.as_str().unwrap())),
                );
            }
            "properties" => {
                let props: Map<String, Value> = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, p)| (name.clone(), schema_of(p)))
                    .collect();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" | "additionalProperties" => {
                out.insert(k.clone(), schema_of(v));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}
