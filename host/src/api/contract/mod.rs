//! The OpenAPI document as the contract.
//!
//! The paths and response bodies come from the handlers' annotations (utoipa); each
//! operation's parameters and request body come from this module, built from what the
//! server can serve right now (its plugins, their grants, the configured secrets, the known
//! nodes: [`Offer`]). So a client generated from `/openapi.json` sends requests the server
//! takes: the schemas are as strict as the handlers, request by request, and a schema-valid
//! request is refused only for what a schema cannot say (a name already taken, a store that
//! is not approved: 409; something that does not exist: 404). Every operation documents the
//! errors it can answer with its dialect's error body, and create operations link to the
//! operations that take their id.

pub mod ciphertrust;
pub mod keyfactor;
pub mod schema;
pub mod ssl;

use serde_json::{Value, json};

use crate::domain::catalog::Offer;
use crate::domain::{DomainResult, Service};

/// What one operation takes and answers, beyond what its annotation says.
#[derive(Debug, Clone)]
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub id: &'static str,
    pub parameters: Vec<Value>,
    pub body: Option<Value>,
    /// Error statuses it can answer (401 is added to secured operations).
    pub errors: Vec<u16>,
    /// Needs a bearer token.
    pub secured: bool,
    /// Operations that take what it answers: (operation id, parameter, runtime expression).
    pub links: Vec<(&'static str, &'static str, &'static str)>,
}

impl Operation {
    pub fn new(method: &'static str, path: &'static str, id: &'static str) -> Self {
        Self {
            method,
            path,
            id,
            parameters: Vec::new(),
            body: None,
            errors: Vec::new(),
            secured: true,
            links: Vec::new(),
        }
    }

    pub fn params(mut self, parameters: Vec<Value>) -> Self {
        self.parameters = parameters;
        self
    }

    pub fn body(mut self, schema: Value) -> Self {
        self.body = Some(schema);
        self
    }

    pub fn errors(mut self, codes: &[u16]) -> Self {
        self.errors = codes.to_vec();
        self
    }

    /// Needs no token.
    pub fn open(mut self) -> Self {
        self.secured = false;
        self
    }

    /// The operation `target` takes `parameter` from this one's answer at `expression`.
    pub fn link(
        mut self,
        target: &'static str,
        parameter: &'static str,
        expression: &'static str,
    ) -> Self {
        self.links.push((target, parameter, expression));
        self
    }

    /// The `{id}` path parameter: a UUID (anything else names nothing: 404).
    pub fn path_id(description: &str) -> Value {
        json!({"name": "id", "in": "path", "required": true, "description": description,
               "schema": schema::uuid()})
    }
}

/// An optional query parameter; blank counts as absent, as both dialects read them. (No
/// value may hold U+0000: free-text parameters are [`schema::plain`].)
pub fn query(name: &str, schema: Value) -> Value {
    let schema = json!({"anyOf": [schema, schema::blank()]});
    json!({"name": name, "in": "query", "required": false, "schema": schema})
}

/// `query(name, schema)` with a description.
pub fn query_doc(name: &str, schema: Value, description: &str) -> Value {
    let mut param = query(name, schema);
    param["description"] = json!(description);
    param
}

/// The whole document, for this server as it is now.
pub async fn document(service: &Service, caller: &crate::domain::Caller) -> DomainResult<Value> {
    let offer = service.offer_for(caller).await?;
    Ok(build(&offer))
}

/// The document for `offer`.
pub fn build(offer: &Offer) -> Value {
    let mut doc = serde_json::to_value(crate::api::openapi()).expect("the document serialises");
    let mut operations = ciphertrust::operations(offer);
    operations.extend(keyfactor::operations(offer));
    operations.extend(ssl::operations());
    for op in &operations {
        apply(&mut doc, op);
    }
    for op in &operations {
        add_links(&mut doc, op, &operations);
    }
    doc
}

/// The error body of the dialect `path` belongs to.
fn error_schema(path: &str) -> Value {
    let name = if path.starts_with("/KeyfactorAPI") {
        "KeyfactorErrorBody"
    } else {
        "ErrorBody"
    };
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn reason(code: u16) -> &'static str {
    match code {
        400 => "The request is malformed; `field` names what is wrong",
        401 => "No bearer token, or not a valid one",
        403 => "The token or its account may not do this; the message names the rule",
        404 => "What the request names does not exist in the caller's account",
        409 => "What the request names refuses it in its current state",
        422 => "Well-formed, but nothing here can serve it",
        _ => "Error",
    }
}

fn apply(doc: &mut Value, op: &Operation) {
    let node = &mut doc["paths"][op.path][op.method];
    assert!(
        node.is_object(),
        "the contract describes {} {}, which no handler annotates",
        op.method,
        op.path
    );
    node["operationId"] = json!(op.id);
    node["parameters"] = json!(op.parameters);
    match &op.body {
        Some(schema) => {
            node["requestBody"] = json!({"required": true, "content":
                {"application/json": {"schema": schema}}});
        }
        None => {
            if let Some(map) = node.as_object_mut() {
                map.remove("requestBody");
            }
        }
    }
    let mut codes = op.errors.clone();
    // What a request can name (a plugin, a path, a secret, an authority) the caller's
    // account may not be granted, or the account may be over a quota.
    if op.secured && codes.iter().any(|c| [409, 422].contains(c)) && !codes.contains(&403) {
        codes.push(403);
    }
    if op.secured {
        codes.push(401);
        node["security"] = json!([{"bearer": []}]);
    } else if let Some(map) = node.as_object_mut() {
        map.remove("security");
    }
    let responses = &mut node["responses"];
    if let Some(map) = responses.as_object_mut() {
        // Only the errors the server can answer, each with the dialect's body.
        map.retain(|code, _| {
            !code.starts_with('4') || codes.iter().any(|c| c.to_string() == *code)
        });
    }
    for code in codes {
        // A handler's own description of the error (what it means there) is kept.
        let described = responses[code.to_string()]["description"]
            .as_str()
            .filter(|d| !d.is_empty())
            .map(str::to_owned);
        responses[code.to_string()] = json!({
            "description": described.unwrap_or_else(|| reason(code).to_owned()),
            "content": {"application/json": {"schema": error_schema(op.path)}},
        });
    }
}

fn add_links(doc: &mut Value, op: &Operation, all: &[Operation]) {
    if op.links.is_empty() {
        return;
    }
    let responses = &mut doc["paths"][op.path][op.method]["responses"];
    let Some(success) = responses
        .as_object()
        .and_then(|m| m.keys().find(|c| c.starts_with('2')).cloned())
    else {
        return;
    };
    let mut links = serde_json::Map::new();
    for (target, parameter, expression) in &op.links {
        assert!(
            all.iter().any(|o| o.id == *target),
            "link to unknown operation {target}"
        );
        links.insert(
            (*target).to_owned(),
            json!({"operationId": target, "parameters": {*parameter: expression}}),
        );
    }
    responses[success]["links"] = Value::Object(links);
}

#[cfg(test)]
mod tests;
