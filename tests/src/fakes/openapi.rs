//! Checks HTTP requests and responses against a Swagger 2.0 (OpenAPI 2) document, the
//! form Microsoft publishes the Key Vault API in.
//!
//! Strict on purpose, so a plugin that drifts from the API fails its test: the method
//! and path must name an operation; every query parameter must be declared (and
//! `api-version` must be the document's version); a body must be JSON valid under the
//! operation's schema, with no property the schema does not declare and, in requests,
//! none it marks `readOnly`. Responses are checked the same way (read-only properties
//! allowed), so the fake only ever answers what the real service could.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

/// One path segment of an operation's template: `keys`, `{key-name}`, or a parameter
/// with a custom-method suffix (`{cryptoKeysId}:updatePrimaryVersion`, Google's form).
#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Param { name: String, suffix: String },
}

impl Segment {
    fn parse(text: &str) -> Self {
        match text.strip_prefix('{').and_then(|rest| rest.split_once('}')) {
            Some((name, suffix)) => Segment::Param {
                name: name.to_owned(),
                suffix: suffix.to_owned(),
            },
            None => Segment::Literal(text.to_owned()),
        }
    }

    /// The parameter's value when `text` fits this segment.
    fn fit<'t>(&self, text: &'t str) -> Option<Option<&'t str>> {
        match self {
            Segment::Literal(l) => (l == text).then_some(None),
            Segment::Param { suffix, .. } if suffix.is_empty() => Some(Some(text)),
            Segment::Param { suffix, .. } => text
                .strip_suffix(suffix.as_str())
                .filter(|v| !v.is_empty())
                .map(Some),
        }
    }

    /// How specific a fit is: a literal beats a suffixed parameter beats a bare one.
    fn weight(&self) -> usize {
        match self {
            Segment::Literal(_) => 2,
            Segment::Param { suffix, .. } if !suffix.is_empty() => 1,
            Segment::Param { .. } => 0,
        }
    }
}

#[derive(Debug, Clone)]
struct Param {
    name: String,
    location: String,
    required: bool,
    /// The parameter's own schema-like fields (type, minimum, enum...), or the body schema.
    schema: Value,
}

#[derive(Debug, Clone)]
struct Operation {
    id: String,
    method: String,
    template: String,
    segments: Vec<Segment>,
    params: Vec<Param>,
    pageable: bool,
    responses: Map<String, Value>,
}

/// A request the document allows: its operation and parsed parts.
#[derive(Debug, Clone)]
pub struct Matched {
    pub operation: String,
    pub path_params: BTreeMap<String, String>,
    pub query: BTreeMap<String, String>,
    pub body: Option<Value>,
}

pub struct Swagger {
    version: String,
    operations: Vec<Operation>,
    /// Definitions rewritten for request bodies (closed objects, read-only forbidden)
    /// and for responses (closed objects).
    request_defs: Value,
    response_defs: Value,
    validators: Mutex<BTreeMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

impl Swagger {
    /// Parses the document; panics on a document this checker cannot read.
    pub fn new(doc: &Value) -> Self {
        let shared_params = doc["parameters"].clone();
        let resolve = |p: &Value| -> Value {
            match p["$ref"].as_str() {
                Some(r) => {
                    let name = r.trim_start_matches("#/parameters/");
                    shared_params[name].clone()
                }
                None => p.clone(),
            }
        };
        let mut operations = Vec::new();
        for (template, item) in doc["paths"].as_object().expect("paths") {
            let common: Vec<Value> = item["parameters"].as_array().cloned().unwrap_or_default();
            for (method, op) in item.as_object().expect("path item") {
                if method == "parameters" {
                    continue;
                }
                let mut params = Vec::new();
                for raw in common
                    .iter()
                    .chain(op["parameters"].as_array().into_iter().flatten())
                {
                    let p = resolve(raw);
                    let location = p["in"].as_str().unwrap_or_default().to_owned();
                    let schema = if location == "body" {
                        p["schema"].clone()
                    } else {
                        let mut s = p.clone();
                        if let Some(o) = s.as_object_mut() {
                            for k in ["name", "in", "required", "description"] {
                                o.remove(k);
                            }
                            o.retain(|k, _| !k.starts_with("x-"));
                        }
                        s
                    };
                    params.push(Param {
                        name: p["name"].as_str().unwrap_or_default().to_owned(),
                        location,
                        required: p["required"].as_bool().unwrap_or(false),
                        schema,
                    });
                }
                operations.push(Operation {
                    id: op["operationId"].as_str().unwrap_or_default().to_owned(),
                    method: method.to_uppercase(),
                    template: template.clone(),
                    segments: template
                        .trim_start_matches('/')
                        .split('/')
                        .map(Segment::parse)
                        .collect(),
                    params,
                    pageable: op.get("x-ms-pageable").is_some(),
                    responses: op["responses"].as_object().cloned().unwrap_or_default(),
                });
            }
        }
        Self {
            version: doc["info"]["version"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            operations,
            request_defs: rewrite(&doc["definitions"], true),
            response_defs: rewrite(&doc["definitions"], false),
            validators: Mutex::new(BTreeMap::new()),
        }
    }

    /// The operation `method path?query` names, with its parts checked; the violations
    /// otherwise.
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        query: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Matched, String> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if segments.iter().any(|s| *s == "." || *s == "..") {
            return Err(format!("{path}: a path with a dot segment"));
        }
        // A literal segment beats a parameter (`/keys/{name}/versions` over
        // `/keys/{name}/{version}`), as OpenAPI tools resolve the overlap.
        let mut best: Option<(&Operation, usize)> = None;
        let mut path_known = false;
        for op in &self.operations {
            if op.segments.len() != segments.len() {
                continue;
            }
            let fits = op
                .segments
                .iter()
                .zip(&segments)
                .all(|(t, s)| t.fit(s).is_some());
            if !fits {
                continue;
            }
            path_known = true;
            if op.method != method {
                continue;
            }
            let literals: usize = op.segments.iter().map(Segment::weight).sum();
            if best.is_none_or(|(_, l)| literals > l) {
                best = Some((op, literals));
            }
        }
        let Some((op, _)) = best else {
            return Err(if path_known {
                format!("{method} is not an operation of {path}")
            } else {
                format!("no operation has the path {path}")
            });
        };
        let mut problems = Vec::new();
        let mut path_params = BTreeMap::new();
        for (t, s) in op.segments.iter().zip(&segments) {
            if let (Segment::Param { name, .. }, Some(Some(value))) = (t, t.fit(s)) {
                path_params.insert(name.clone(), value.to_owned());
            }
        }
        for (name, value) in &path_params {
            let declared = op
                .params
                .iter()
                .find(|p| p.location == "path" && &p.name == name);
            match declared {
                None => problems.push(format!("path parameter {name:?} is not declared")),
                Some(p) => {
                    if let Err(e) = self.check_simple(&p.schema, value) {
                        problems.push(format!("path parameter {name}={value:?}: {e}"));
                    }
                }
            }
        }
        let query: BTreeMap<String, String> = url_pairs(query);
        for (name, value) in &query {
            let declared = op
                .params
                .iter()
                .find(|p| p.location == "query" && &p.name == name);
            match declared {
                None if op.pageable && name == "$skiptoken" => {}
                None => problems.push(format!("query parameter {name:?} is not declared")),
                Some(p) => {
                    if let Err(e) = self.check_simple(&p.schema, value) {
                        problems.push(format!("query parameter {name}={value:?}: {e}"));
                    }
                }
            }
        }
        for p in op.params.iter().filter(|p| p.required) {
            match p.location.as_str() {
                "query" if !query.contains_key(&p.name) => {
                    problems.push(format!("required query parameter {:?} is missing", p.name))
                }
                _ => {}
            }
        }
        if let Some(v) = query.get("api-version")
            && *v != self.version
        {
            problems.push(format!("api-version {v:?} is not {:?}", self.version));
        }
        let body_param = op.params.iter().find(|p| p.location == "body");
        let mut parsed = None;
        match body_param {
            None if !body.is_empty() => problems.push(format!("{} takes no body", op.id)),
            None => {}
            Some(p) if body.is_empty() && p.required => {
                problems.push(format!("{} requires a body", op.id));
            }
            Some(_) if body.is_empty() => {}
            Some(p) => {
                if !content_type.is_some_and(|c| c.starts_with("application/json")) {
                    problems.push(format!(
                        "body sent as {content_type:?}, not application/json"
                    ));
                }
                match serde_json::from_slice::<Value>(body) {
                    Err(e) => problems.push(format!("body is not JSON: {e}")),
                    Ok(v) => {
                        if let Err(e) = self.check_schema(&p.schema, &v, true) {
                            problems.push(format!("body of {}: {e}", op.id));
                        }
                        parsed = Some(v);
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(format!(
                "{method} {path} ({}): {}",
                op.template,
                problems.join("; ")
            ));
        }
        Ok(Matched {
            operation: op.id.clone(),
            path_params,
            query,
            body: parsed,
        })
    }

    /// Whether `body` is what operation `id` may answer with `status`.
    pub fn check_response(&self, id: &str, status: u16, body: &Value) -> Result<(), String> {
        let op = self
            .operations
            .iter()
            .find(|o| o.id == id)
            .ok_or_else(|| format!("no operation {id}"))?;
        let declared = op
            .responses
            .get(&status.to_string())
            .or_else(|| {
                (status >= 400)
                    .then(|| op.responses.get("default"))
                    .flatten()
            })
            .ok_or_else(|| format!("{id} does not answer {status}"))?;
        match declared.get("schema") {
            Some(schema) => self
                .check_schema(schema, body, false)
                .map_err(|e| format!("{id} answer {status}: {e}")),
            None if body.is_null() => Ok(()),
            None => Err(format!(
                "{id} answer {status} has a body the spec does not describe"
            )),
        }
    }

    fn check_simple(&self, schema: &Value, text: &str) -> Result<(), String> {
        let value = match schema["type"].as_str() {
            Some("integer") => json!(text.parse::<i64>().map_err(|_| "not an integer")?),
            Some("boolean") => json!(text.parse::<bool>().map_err(|_| "not a boolean")?),
            _ => json!(text),
        };
        self.check_schema(schema, &value, true)
    }

    fn check_schema(&self, schema: &Value, value: &Value, request: bool) -> Result<(), String> {
        let key = format!("{request}{schema}");
        let validator = {
            let mut cache = self.validators.lock().unwrap();
            cache
                .entry(key)
                .or_insert_with(|| {
                    let mut root = schema.clone();
                    if !root.is_object() {
                        root = json!({});
                    }
                    let all = if request {
                        &self.request_defs
                    } else {
                        &self.response_defs
                    };
                    // Only what the schema reaches: compiling a large document's every
                    // definition for each schema is slow.
                    let defs = reachable(all, &root);
                    let mut wrapped = json!({"allOf": [root], "definitions": defs});
                    // Closing the top-level object too, when it is written inline.
                    wrapped["allOf"][0] = rewrite_one(&wrapped["allOf"][0], request);
                    std::sync::Arc::new(
                        jsonschema::options()
                            .with_draft(jsonschema::Draft::Draft4)
                            .build(&wrapped)
                            .unwrap_or_else(|e| panic!("schema {schema}: {e}")),
                    )
                })
                .clone()
        };
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .take(5)
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

/// The definitions `schema` refers to, directly or through other definitions.
fn reachable(defs: &Value, schema: &Value) -> Value {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(r) = o.get("$ref").and_then(Value::as_str)
                    && let Some(name) = r.strip_prefix("#/definitions/")
                {
                    out.push(name.to_owned());
                }
                o.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut found = Map::new();
    let mut todo = Vec::new();
    refs(schema, &mut todo);
    while let Some(name) = todo.pop() {
        if found.contains_key(&name) {
            continue;
        }
        let def = defs[&name].clone();
        refs(&def, &mut todo);
        found.insert(name, def);
    }
    Value::Object(found)
}

/// Every definition rewritten by [`rewrite_one`].
fn rewrite(defs: &Value, request: bool) -> Value {
    let mut out = Map::new();
    for (name, schema) in defs.as_object().into_iter().flatten() {
        out.insert(name.clone(), rewrite_one(schema, request));
    }
    Value::Object(out)
}

/// A schema with its objects closed (`additionalProperties: false` where the document
/// lists properties and says nothing of others) and, for requests, read-only
/// properties forbidden. Recurses into inline properties and items.
fn rewrite_one(schema: &Value, request: bool) -> Value {
    let mut s = schema.clone();
    let Some(o) = s.as_object_mut() else {
        return s;
    };
    if o.contains_key("$ref") {
        // Draft 4 ignores a $ref's siblings; keep only the reference.
        return json!({"$ref": o["$ref"]});
    }
    if let Some(props) = o.get_mut("properties").and_then(Value::as_object_mut) {
        for (_, p) in props.iter_mut() {
            let read_only = p["readOnly"].as_bool() == Some(true);
            // Draft 4 has no boolean schemas: `not {}` is the schema nothing meets.
            *p = if request && read_only {
                json!({"not": {}})
            } else {
                rewrite_one(p, request)
            };
        }
        o.entry("additionalProperties").or_insert(json!(false));
    }
    if let Some(items) = o.get_mut("items") {
        *items = rewrite_one(items, request);
    }
    if let Some(extra) = o.get_mut("additionalProperties")
        && extra.is_object()
    {
        *extra = rewrite_one(extra, request);
    }
    s
}

/// `a=1&b=x%20y` as a map (percent and `+` decoded).
pub fn url_pairs(query: &str) -> BTreeMap<String, String> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn azure() -> Swagger {
        Swagger::new(&crate::fakes::spec("azure-keyvault-keys-7.6.json"))
    }

    #[test]
    fn literal_segments_win_and_verbs_are_checked() {
        let s = azure();
        let m = s
            .check_request("GET", "/keys/app/versions", "api-version=7.6", None, b"")
            .unwrap();
        assert_eq!(m.operation, "GetKeyVersions");
        let m = s
            .check_request("GET", "/keys/app/abc123", "api-version=7.6", None, b"")
            .unwrap();
        assert_eq!(m.operation, "GetKey");
        assert_eq!(m.path_params["key-version"], "abc123");
        let e = s
            .check_request("PUT", "/keys/app/rotate", "api-version=7.6", None, b"")
            .unwrap_err();
        assert!(e.contains("PUT is not an operation"), "{e}");
        let e = s
            .check_request("GET", "/secrets/app", "api-version=7.6", None, b"")
            .unwrap_err();
        assert!(e.contains("no operation has the path"), "{e}");
    }

    #[test]
    fn query_is_declared_and_api_version_is_the_documents() {
        let s = azure();
        for (query, wanted) in [
            ("", "required query parameter \"api-version\""),
            ("api-version=7.4", "is not \"7.6\""),
            ("api-version=7.6&maxresults=26", "maxresults"),
            ("api-version=7.6&top=3", "\"top\" is not declared"),
        ] {
            let e = s
                .check_request("GET", "/keys", query, None, b"")
                .unwrap_err();
            assert!(e.contains(wanted), "{query}: {e}");
        }
        // Pages carry the service's $skiptoken.
        s.check_request("GET", "/keys", "api-version=7.6&$skiptoken=25", None, b"")
            .unwrap();
    }

    #[test]
    fn bodies_are_closed_and_read_only_fields_refused() {
        let s = azure();
        let json = Some("application/json");
        let ok = br#"{"kty":"RSA","key_size":2048,"attributes":{"exp":1900000000}}"#;
        s.check_request("POST", "/keys/a/create", "api-version=7.6", json, ok)
            .unwrap();
        for (body, wanted) in [
            (&br#"{"kty":"RSA","keySize":2048}"#[..], "keySize"),
            (br#"{"kty":"RSA","attributes":{"created":1}}"#, "created"),
            (br#"{"kty":"DSA"}"#, "DSA"),
            (br#"{"key_size":2048}"#, "kty"),
        ] {
            let e = s
                .check_request("POST", "/keys/a/create", "api-version=7.6", json, body)
                .unwrap_err();
            assert!(e.contains(wanted), "{}: {e}", String::from_utf8_lossy(body));
        }
        let e = s
            .check_request("POST", "/keys/a/create", "api-version=7.6", None, ok)
            .unwrap_err();
        assert!(e.contains("not application/json"), "{e}");
        let e = s
            .check_request("POST", "/keys/a/rotate", "api-version=7.6", json, b"{}")
            .unwrap_err();
        assert!(e.contains("takes no body"), "{e}");
    }

    #[test]
    fn answers_are_checked_too() {
        let s = azure();
        s.check_response("GetKeys", 200, &json!({"value": [], "nextLink": "x"}))
            .unwrap();
        assert!(
            s.check_response("GetKeys", 200, &json!({"items": []}))
                .is_err()
        );
        s.check_response(
            "GetKey",
            404,
            &json!({"error": {"code": "KeyNotFound", "message": "m"}}),
        )
        .unwrap();
        assert!(s.check_response("GetKey", 201, &json!({})).is_err());
    }

    fn gcp() -> Swagger {
        Swagger::new(&crate::fakes::discovery::to_swagger(&crate::fakes::spec(
            "gcp-cloudkms-v1-discovery.json",
        )))
    }

    #[test]
    fn discovery_custom_methods_globals_and_bodies() {
        let s = gcp();
        let key = "/v1/projects/p/locations/us-east1/keyRings/r/cryptoKeys/k";
        let json = Some("application/json");
        let m = s
            .check_request(
                "POST",
                &format!("{key}:updatePrimaryVersion"),
                "prettyPrint=false",
                json,
                br#"{"cryptoKeyVersionId":"2"}"#,
            )
            .unwrap();
        assert_eq!(
            m.operation,
            "cloudkms.projects.locations.keyRings.cryptoKeys.updatePrimaryVersion"
        );
        let m = s.check_request("GET", key, "", None, b"").unwrap();
        assert_eq!(
            m.operation,
            "cloudkms.projects.locations.keyRings.cryptoKeys.get"
        );
        let e = s
            .check_request(
                "POST",
                &format!("{key}:updatePrimaryVersion"),
                "",
                json,
                br#"{"versionId":"2"}"#,
            )
            .unwrap_err();
        assert!(e.contains("versionId"), "{e}");
        let e = s
            .check_request(
                "GET",
                &format!("{key}/cryptoKeyVersions"),
                "limit=5",
                None,
                b"",
            )
            .unwrap_err();
        assert!(e.contains("\"limit\" is not declared"), "{e}");
        // Output-only fields are refused in requests.
        let e = s
            .check_request(
                "PATCH",
                key,
                "updateMask=rotationPeriod",
                json,
                br#"{"rotationPeriod":"86400s","createTime":"2026-01-01T00:00:00Z"}"#,
            )
            .unwrap_err();
        assert!(e.contains("createTime"), "{e}");
        let e = s
            .check_request(
                "GET",
                "/v1/projects/p/locations/us east/keyRings",
                "",
                None,
                b"",
            )
            .unwrap_err();
        assert!(e.contains("locationsId"), "{e}");
    }
}
