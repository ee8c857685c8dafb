//! `/KeyfactorAPI/SSL` requests, as `api/keyfactor/ssl.rs` reads them. The range notation
//! is stated by `keywarden_ranges::pattern`, which matches exactly what the parser reads;
//! what a pattern cannot say (a span that ends before it starts, more addresses than
//! the server allows) is a 422.

use serde_json::{Map, Value, json};

use super::keyfactor::{paging, schedule};
use super::schema::{WHITE_CHARS, doc, integer, nullable, object, plain, uuid, white};
use super::{Operation, query, query_doc};
use crate::api::keyfactor::kit::schedule::KINDS as ALL_KINDS;
use crate::api::keyfactor::query::fields::{Kind, Target};
use crate::api::keyfactor::ssl::{NETWORK_SORTABLE, READ_ONLY, TIME_OF_DAY};
use crate::api::keyfactor::ssl_endpoints::{ENDPOINT_FIELDS, ENDPOINT_SORTABLE, MAX_STATUS_ITEMS};
use crate::discovery::ranges;
use crate::domain::ssl_networks::{
    CONTROL_NOT_WHITE, MAX_ALERT_DAYS, MAX_NAME_CHARS, MAX_QUIET_HOURS, MAX_RANGE_CHARS,
    MAX_RANGES, MAX_RECIPIENT_CHARS, MAX_RECIPIENTS, MAX_SCAN_TIMEOUT_MS,
};

/// The operations under `/KeyfactorAPI/SSL`.
pub fn operations() -> Vec<Operation> {
    let network_id = |description: &str| {
        json!({"name": "identifier", "in": "path", "required": true,
               "description": description, "schema": uuid()})
    };
    let network_sort: Vec<&str> = NETWORK_SORTABLE.split(", ").collect();
    let mut list = paging(&network_sort);
    list.extend([
        query("Name", plain()),
        query("Pool", plain()),
        query_doc(
            "QueryString",
            query_language(crate::api::keyfactor::ssl::NETWORK_FIELDS),
            "A Keyfactor query, e.g. `Name -contains \"lab\"`. Fields: Name, Pool (also AgentPoolName), Description",
        ),
    ]);
    vec![
        Operation::new("get", "/KeyfactorAPI/SSL/Networks", "listSslNetworks")
            .params(list)
            .errors(&[400]),
        Operation::new("post", "/KeyfactorAPI/SSL/Networks", "createSslNetwork")
            .body(network(false))
            .errors(&[400, 409])
            .link("getSslNetwork", "identifier", "$response.body#/NetworkId")
            .link("getSslNetworkRanges", "id", "$response.body#/NetworkId")
            .link(
                "deleteSslNetwork",
                "identifier",
                "$response.body#/NetworkId",
            ),
        Operation::new("put", "/KeyfactorAPI/SSL/Networks", "replaceSslNetwork")
            .body(network(true))
            .errors(&[400, 404, 409]),
        Operation::new(
            "get",
            "/KeyfactorAPI/SSL/Networks/{identifier}",
            "getSslNetwork",
        )
        .params(vec![
            json!({"name": "identifier", "in": "path", "required": true,
            "description": "The network's name or id", "schema": plain()}),
        ])
        .errors(&[400, 404, 409]),
        Operation::new(
            "delete",
            "/KeyfactorAPI/SSL/Networks/{identifier}",
            "deleteSslNetwork",
        )
        .params(vec![network_id("The network's id")])
        .errors(&[404]),
        Operation::new(
            "get",
            "/KeyfactorAPI/SSL/NetworkRanges/{id}",
            "getSslNetworkRanges",
        )
        .params(vec![Operation::path_id("The network's id")])
        .errors(&[404]),
        Operation::new(
            "delete",
            "/KeyfactorAPI/SSL/NetworkRanges/{id}",
            "deleteSslNetworkRanges",
        )
        .params(vec![Operation::path_id("The network's id")])
        .errors(&[404]),
        Operation::new(
            "post",
            "/KeyfactorAPI/SSL/NetworkRanges",
            "addSslNetworkRanges",
        )
        .body(ranges_body())
        .errors(&[400, 404, 422]),
        Operation::new(
            "put",
            "/KeyfactorAPI/SSL/NetworkRanges",
            "replaceSslNetworkRanges",
        )
        .body(ranges_body())
        .errors(&[400, 404, 422]),
        Operation::new(
            "post",
            "/KeyfactorAPI/SSL/NetworkRanges/Validate",
            "validateSslNetworkRanges",
        )
        .body(validate_body())
        .errors(&[400]),
        Operation::new(
            "post",
            "/KeyfactorAPI/SSL/Networks/{identifier}/Scan",
            "scanSslNetwork",
        )
        .params(vec![network_id("The network's id")])
        .body(scan_body())
        .errors(&[400, 404, 409]),
        Operation::new(
            "get",
            "/KeyfactorAPI/SSL/Networks/{identifier}/Parts",
            "listSslScanParts",
        )
        .params({
            let mut p = vec![network_id("The network's id")];
            p.extend(pages());
            p
        })
        .errors(&[400, 404]),
        Operation::new("get", "/KeyfactorAPI/SSL/Parts/{id}", "getSslScanPart")
            .params(vec![Operation::path_id("The part's id")])
            .errors(&[404]),
        Operation::new("get", "/KeyfactorAPI/SSL", "listSslScanResults")
            .params({
                let sortable: Vec<&str> = ENDPOINT_SORTABLE.split(", ").collect();
                let mut p = paging(&sortable);
                p.extend([
                    query_doc(
                        "QueryString",
                        query_language(ENDPOINT_FIELDS),
                        "A Keyfactor query, e.g. `CertificateFound -eq true AND NotAfter -lt 2027-01-01`",
                    ),
                    query("NetworkId", uuid()),
                    query("MonitorStatus", json!({"type": "boolean"})),
                    query("Reviewed", json!({"type": "boolean"})),
                    query_doc(
                        "ExpiringWithinDays",
                        integer(0, 36_500),
                        "Only endpoints serving a certificate that ends within this many days (expired ones included)",
                    ),
                ]);
                p
            })
            .errors(&[400]),
        Operation::new("get", "/KeyfactorAPI/SSL/Endpoints/{id}", "getSslEndpoint")
            .params(vec![Operation::path_id("The endpoint's id")])
            .errors(&[404]),
        Operation::new(
            "get",
            "/KeyfactorAPI/SSL/Endpoints/{id}/History",
            "getSslEndpointHistory",
        )
        .params({
            let mut p = vec![Operation::path_id("The endpoint's id")];
            p.extend(pages());
            p
        })
        .errors(&[400, 404]),
        Operation::new(
            "put",
            "/KeyfactorAPI/SSL/Endpoints/MonitorStatus",
            "setSslEndpointMonitorStatus",
        )
        .body(flag_body())
        .errors(&[400, 404]),
        Operation::new(
            "put",
            "/KeyfactorAPI/SSL/Endpoints/ReviewStatus",
            "setSslEndpointReviewStatus",
        )
        .body(flag_body())
        .errors(&[400, 404]),
        Operation::new(
            "put",
            "/KeyfactorAPI/SSL/Endpoints/MonitorAll",
            "monitorAllSslEndpoints",
        )
        .params(vec![query_doc(
            "query",
            query_language(ENDPOINT_FIELDS),
            "The endpoints to monitor (all without one)",
        )])
        .errors(&[400]),
        Operation::new(
            "put",
            "/KeyfactorAPI/SSL/Endpoints/ReviewAll",
            "reviewAllSslEndpoints",
        )
        .params(vec![query_doc(
            "query",
            query_language(ENDPOINT_FIELDS),
            "The endpoints to mark reviewed (all without one)",
        )])
        .errors(&[400]),
    ]
}

/// The query language over `fields`, as far as a pattern can say it: clauses of a known
/// field, an operator its kind takes and a simple value, joined by AND or OR.
fn query_language<F: keywarden_db::Field>(fields: &[(&str, Target<F>)]) -> Value {
    let names = |want: fn(&Target<F>) -> bool| -> Vec<&str> {
        fields
            .iter()
            .filter(|(_, t)| want(t))
            .map(|(n, _)| *n)
            .collect()
    };
    let text = names(|t| matches!(t, Target::Column(_, Kind::Text)));
    let code = names(|t| matches!(t, Target::Column(_, Kind::Code)));
    let date = names(|t| matches!(t, Target::Column(_, Kind::Date)));
    let flag = names(|t| matches!(t, Target::Flag(_)));
    let order = "-(eq|ne|gt|lt|ge|le)";
    let mut clauses = vec![format!(
        r#"({}) -(eq|ne|contains|startswith) "[A-Za-z0-9 _.:-]{{0,20}}""#,
        text.join("|")
    )];
    if !code.is_empty() {
        clauses.push(format!("({}) {order} [0-9]{{1,5}}", code.join("|")));
    }
    if !date.is_empty() {
        clauses.push(format!(
            "({}) {order} 20[0-9]{{2}}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])",
            date.join("|")
        ));
    }
    if !flag.is_empty() {
        clauses.push(format!("({}) -(eq|ne) (true|false)", flag.join("|")));
    }
    let clause = format!("({})", clauses.join("|"));
    let chain = format!("{clause}( (AND|OR) {clause}){{0,3}}");
    json!({"type": "string", "pattern": format!("^({chain})?$"),
           "description": "Keyfactor query: field -op value clauses joined by AND, OR and NOT"})
}

/// `PageReturned` and `ReturnLimit` (these listings have one order).
fn pages() -> Vec<Value> {
    paging(&[]).into_iter().take(2).collect()
}

/// `{Discovery, Monitoring}`, both given, at least one true.
fn scan_body() -> Value {
    let mut p = Map::new();
    p.insert("Discovery".into(), json!({"type": "boolean"}));
    p.insert("Monitoring".into(), json!({"type": "boolean"}));
    let mut body = object(p, &["Discovery", "Monitoring"]);
    body["anyOf"] = json!([
        {"properties": {"Discovery": {"const": true}}},
        {"properties": {"Monitoring": {"const": true}}},
    ]);
    body
}

/// `[{Id, Status}, ...]` (Keyfactor's), or one `{Id, Status}`.
fn flag_body() -> Value {
    let mut p = Map::new();
    p.insert("Id".into(), uuid());
    p.insert("Status".into(), json!({"type": "boolean"}));
    let one = object(p, &["Id", "Status"]);
    json!({"anyOf": [
        {"type": "array", "minItems": 1, "maxItems": MAX_STATUS_ITEMS, "items": one},
        one,
    ]})
}

/// Text of at most `max` characters, some not white space, no control characters but
/// white space (`domain::ssl_networks::short_text`).
fn short_text(max: usize) -> Value {
    let allowed = format!("[^{CONTROL_NOT_WHITE}]");
    let visible = format!("[^{CONTROL_NOT_WHITE}{WHITE_CHARS}]");
    json!({"type": "string", "maxLength": max,
           "pattern": format!("^{allowed}*{visible}{allowed}*$")})
}

/// One range in Keyfactor's notation (`127.0.0.0/30:443`).
pub fn range() -> Value {
    json!({"type": "string", "maxLength": MAX_RANGE_CHARS,
           "pattern": ranges::pattern(&white()),
           "description": "An address (10.0.0.5, [::1]), a network (10.0.0.0/24), an address \
                           range (10.0.0.5-10.0.0.20) or a host name, optionally followed by \
                           ports (:443,8443 or :8000-8010; 443 when left out)"})
}

fn quiet_hour() -> Value {
    let time = || {
        json!({"anyOf": [
            {"type": "string", "pattern": TIME_OF_DAY},
            {"type": "string", "format": "date-time"},
        ], "description": "HH:MM, HH:MM:SS or a date-time whose time of day (UTC) counts"})
    };
    let mut p = Map::new();
    p.insert(
        "StartDay".into(),
        doc(integer(0, 6), "0 Sunday to 6 Saturday"),
    );
    p.insert("StartTime".into(), time());
    p.insert(
        "EndDay".into(),
        doc(integer(0, 6), "0 Sunday to 6 Saturday"),
    );
    p.insert("EndTime".into(), time());
    object(p, &["StartDay", "StartTime", "EndDay", "EndTime"])
}

/// A network body. Every field but `Name` (and `NetworkId` when replacing) may be left
/// out or null: the server then takes its default.
fn network(replacing: bool) -> Value {
    let mut p = Map::new();
    p.insert("Name".into(), short_text(MAX_NAME_CHARS));
    let boolean = || json!({"type": "boolean"});
    let mut optional = Map::new();
    optional.insert("Description".into(), plain());
    optional.insert("AgentPoolName".into(), plain());
    optional.insert("Enabled".into(), boolean());
    optional.insert("DiscoverSchedule".into(), schedule(ALL_KINDS));
    optional.insert("MonitorSchedule".into(), schedule(ALL_KINDS));
    for key in ["DiscoverTimeoutMs", "MonitorTimeoutMs"] {
        optional.insert(
            key.into(),
            doc(
                integer(1, MAX_SCAN_TIMEOUT_MS),
                "Per-probe time limit (default 5000)",
            ),
        );
    }
    optional.insert(
        "ExpirationAlertDays".into(),
        doc(
            integer(0, MAX_ALERT_DAYS),
            "Alert this many days before expiry (default 30)",
        ),
    );
    optional.insert(
        "QuietHours".into(),
        json!({"type": "array", "maxItems": MAX_QUIET_HOURS, "items": quiet_hour()}),
    );
    optional.insert(
        "SslAlertRecipients".into(),
        json!({"type": "array", "maxItems": MAX_RECIPIENTS,
               "items": short_text(MAX_RECIPIENT_CHARS)}),
    );
    optional.insert("AutoMonitor".into(), boolean());
    optional.insert("GetRobots".into(), boolean());
    for (key, schema) in optional {
        p.insert(key, nullable(schema));
    }
    for key in READ_ONLY {
        p.insert(
            (*key).into(),
            json!({"description": "Shown in responses; ignored when sent"}),
        );
    }
    if replacing {
        p.insert("NetworkId".into(), uuid());
        object(p, &["NetworkId", "Name"])
    } else {
        p.insert(
            "NetworkId".into(),
            json!({"description": "Ignored: the server chooses the id"}),
        );
        object(p, &["Name"])
    }
}

fn ranges_body() -> Value {
    let mut p = Map::new();
    p.insert("NetworkId".into(), uuid());
    p.insert(
        "Ranges".into(),
        json!({"type": "array", "maxItems": MAX_RANGES, "items": range()}),
    );
    object(p, &["NetworkId", "Ranges"])
}

fn validate_body() -> Value {
    let mut p = Map::new();
    p.insert("NetworkId".into(), json!({"description": "Ignored"}));
    p.insert(
        "Ranges".into(),
        json!({"type": "array", "maxItems": MAX_RANGES, "items": {"type": "string"}}),
    );
    object(p, &["Ranges"])
}
