//! The Keyfactor dialect's requests, as the server reads them (`keyfactor/*.rs`). Field
//! and parameter names are case-insensitive on the server; the schemas use Keyfactor's
//! spelling.

use serde_json::{Map, Value, json};

use super::schema::{
    WHITE_CHARS, absent_or, any_case, date_time, doc, integer, non_blank, nullable, object, plain,
    regex_escape, text, uuid, white,
};
use super::{Operation, query, query_doc};
use crate::api::json::MAX_SAFE_INTEGER;
use crate::api::keyfactor::certificate_stores::READ_ONLY;
use crate::api::keyfactor::jobs::fields;
use crate::api::keyfactor::kit::schedule::{KINDS as ALL_KINDS, MAX_INTERVAL_MINUTES};
use crate::api::keyfactor::reenrollment::KEY_TYPES;
use crate::api::keyfactor::store_types::{KEYFACTOR_IDS, keyfactor_id};
use crate::certificates::job_params::operation as op;
use crate::domain::catalog::{Offer, OfferedStoreType};
use crate::plugins::Family;

/// The operations of this dialect.
pub fn operations(offer: &Offer) -> Vec<Operation> {
    let store_id = || Operation::path_id("Certificate store GUID");
    let store_sort = [
        "ClientMachine",
        "Storepath",
        "CertStoreType",
        "AgentId",
        "Approved",
        "ContainerId",
        "CreatedAt",
        "UpdatedAt",
        "Id",
    ];
    let mut store_list = paging(&store_sort);
    store_list.extend([
        query("ClientMachine", plain()),
        query("Storepath", plain()),
        query_doc(
            "CertStoreType",
            store_type_filter(),
            "Store type id or name",
        ),
        query("AgentId", plain()),
        query("Approved", json!({"type": "boolean"})),
        query("ContainerId", integer(i64::MIN, i64::MAX)),
    ]);
    let inventory_sort = [
        "NotAfter",
        "NotBefore",
        "Alias",
        "Thumbprint",
        "IssuedDN",
        "IssuerDN",
        "InventoriedAt",
    ];
    let mut inventory = paging(&inventory_sort);
    inventory.extend([
        query_doc(
            "ExpiringWithinDays",
            integer(0, 36_500),
            "Only certificates whose NotAfter is within this many days from now (expired ones included)",
        ),
        query("Alias", plain()),
        query("Thumbprint", plain()),
    ]);
    let mut one_store_inventory = vec![store_id()];
    one_store_inventory.extend(inventory.clone());
    let discovered = vec![
        page_returned(),
        return_limit(),
        query("ClientMachine", plain()),
        query_doc("CertStoreType", plain(), "Store type name (`PEM`, ...)"),
    ];
    let sortable: Vec<&str> = fields::FIELDS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| fields::sort_order(n).is_some())
        .collect();
    let mut history = paging(&sortable);
    history.push(query_doc(
        "QueryString",
        query_string(false),
        "A Keyfactor query, e.g. `Result -eq 4 AND (Status -eq 3 OR Status -eq 4)`. Fields: \
         JobId (also JobAuditId, JobHistoryId), AgentId, Agent, Result, Status, JobType, \
         Message, OperationStart, OperationEnd, ScheduleType, TargetPath",
    ));
    vec![
        Operation::new(
            "get",
            "/KeyfactorAPI/CertificateStores",
            "listCertificateStores",
        )
        .params(store_list)
        .errors(&[400, 422]),
        Operation::new(
            "post",
            "/KeyfactorAPI/CertificateStores",
            "createCertificateStore",
        )
        .body(store_body(offer, false))
        .errors(&[400, 409, 422])
        .link("getCertificateStore", "id", "$response.body#/Id")
        .link("deleteCertificateStore", "id", "$response.body#/Id")
        .link("getCertificateStoreInventory", "id", "$response.body#/Id"),
        Operation::new(
            "put",
            "/KeyfactorAPI/CertificateStores",
            "replaceCertificateStore",
        )
        .body(store_body(offer, true))
        .errors(&[400, 404, 409, 422]),
        Operation::new(
            "get",
            "/KeyfactorAPI/CertificateStores/{id}",
            "getCertificateStore",
        )
        .params(vec![store_id()])
        .errors(&[404]),
        Operation::new(
            "delete",
            "/KeyfactorAPI/CertificateStores/{id}",
            "deleteCertificateStore",
        )
        .params(vec![store_id()])
        .errors(&[404]),
        Operation::new(
            "get",
            "/KeyfactorAPI/CertificateStores/{id}/Inventory",
            "getCertificateStoreInventory",
        )
        .params(one_store_inventory)
        .errors(&[400, 404]),
        Operation::new(
            "get",
            "/KeyfactorAPI/CertificateStores/Inventory",
            "listInventory",
        )
        .params({
            let mut all = inventory;
            all.push(query_doc(
                "IncludeSslEndpoints",
                json!({"type": "boolean"}),
                "Also list the certificates SSL endpoints serve (default true)",
            ));
            all
        })
        .errors(&[400]),
        Operation::new(
            "post",
            "/KeyfactorAPI/CertificateStores/Schedule",
            "scheduleInventory",
        )
        .body(schedule_request())
        .errors(&[400, 404, 409]),
        Operation::new(
            "post",
            "/KeyfactorAPI/CertificateStores/Reenrollment",
            "reenrollCertificateStore",
        )
        .body(reenrollment(offer))
        .errors(&[400, 404, 409, 422]),
        Operation::new(
            "post",
            "/KeyfactorAPI/CertificateStores/Certificates/Add",
            "addCertificate",
        )
        .body(management(offer, true))
        .errors(&[400, 404, 409, 422]),
        Operation::new(
            "post",
            "/KeyfactorAPI/CertificateStores/Certificates/Remove",
            "removeCertificate",
        )
        .body(management(offer, false))
        .errors(&[400, 404, 409, 422]),
        Operation::new(
            "put",
            "/KeyfactorAPI/CertificateStores/DiscoveryJob",
            "scheduleDiscovery",
        )
        .body(discovery(offer))
        .errors(&[400, 422]),
        Operation::new(
            "get",
            "/KeyfactorAPI/CertificateStores/DiscoveredPaths",
            "listDiscoveredPaths",
        )
        .params(discovered)
        .errors(&[400]),
        Operation::new(
            "get",
            "/KeyfactorAPI/OrchestratorJobs/JobHistory",
            "getJobHistory",
        )
        .params(history)
        .errors(&[400]),
        Operation::new(
            "post",
            "/KeyfactorAPI/OrchestratorJobs/Reschedule",
            "rescheduleJobs",
        )
        .body(batch())
        .errors(&[400, 404, 409]),
        Operation::new(
            "post",
            "/KeyfactorAPI/OrchestratorJobs/Acknowledge",
            "acknowledgeJobs",
        )
        .body(batch())
        .errors(&[400, 404, 409]),
        Operation::new(
            "post",
            "/KeyfactorAPI/OrchestratorJobs/Custom",
            "scheduleCustomJob",
        )
        .body(custom(offer))
        .errors(&[400, 422])
        .link("getJobConfig", "id", "$response.body#/JobConfigId"),
    ]
    .into_iter()
    .chain(agent_operations())
    .collect()
}

/// `/KeyfactorAPI/Agents`.
fn agent_operations() -> Vec<Operation> {
    let agent_id = || Operation::path_id("Agent GUID");
    let mut list = paging(&[
        "AgentId",
        "ClientMachine",
        "Identity",
        "Platform",
        "Version",
        "Status",
        "LastSeen",
    ]);
    list.push(query_doc(
        "QueryString",
        agent_query_string(),
        "A Keyfactor query, e.g. `Status -eq 2`. Fields: AgentId, ClientMachine, Identity \
         (also Username), Version, Thumbprint, Platform (also AgentPlatform), Status, \
         AuthCertificateReenrollment, LastSeen",
    ));
    let ids = || {
        doc(
            json!({"type": "array", "minItems": 1, "maxItems": 1000, "items": uuid()}),
            "Agent GUIDs",
        )
    };
    let renewal = json!({
        "type": "object",
        "required": ["OrchestratorIds", "Status"],
        "properties": {
            "OrchestratorIds": ids(),
            "Status": doc(integer(0, 2), "0 none, 1 requested, 2 required"),
        },
        "additionalProperties": false,
    });
    vec![
        Operation::new("get", "/KeyfactorAPI/Agents", "listAgents")
            .params(list)
            .errors(&[400]),
        Operation::new("get", "/KeyfactorAPI/Agents/{id}", "getAgent")
            .params(vec![agent_id()])
            .errors(&[404]),
        Operation::new("post", "/KeyfactorAPI/Agents/Approve", "approveAgents")
            .body(ids())
            .errors(&[400, 404]),
        Operation::new(
            "post",
            "/KeyfactorAPI/Agents/Disapprove",
            "disapproveAgents",
        )
        .body(ids())
        .errors(&[400, 404]),
        Operation::new("post", "/KeyfactorAPI/Agents/Reset", "resetAgents")
            .body(ids())
            .errors(&[400, 404]),
        Operation::new("post", "/KeyfactorAPI/Agents/{id}/Reset", "resetAgent")
            .params(vec![agent_id()])
            .errors(&[404]),
        Operation::new(
            "post",
            "/KeyfactorAPI/Agents/{id}/FetchLogs",
            "fetchAgentLogs",
        )
        .params(vec![agent_id()])
        .errors(&[404, 409]),
        Operation::new(
            "post",
            "/KeyfactorAPI/Agents/SetAuthCertificateReenrollment",
            "setAgentCertificateRenewal",
        )
        .body(renewal)
        .errors(&[400]),
    ]
}

/// The agent query language, as far as a pattern can say it.
fn agent_query_string() -> Value {
    let text_ops = "-(eq|ne|contains|startswith)";
    let order = "-(eq|ne|gt|lt|ge|le)";
    let quoted = r#""[A-Za-z0-9 _.:-]{0,20}""#;
    let date = "20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])";
    let clauses = [
        format!("(AgentId|ClientMachine|Identity|Username|Version|Thumbprint) {text_ops} {quoted}"),
        format!("(Platform|AgentPlatform|Status|AuthCertificateReenrollment) {order} [0-9]{{1,3}}"),
        format!("LastSeen {order} {date}"),
    ];
    let clause = format!("({})", clauses.join("|"));
    let chain = format!("{clause}( (AND|OR) {clause}){{0,3}}");
    json!({"type": "string", "pattern": format!("^({chain})?$"),
           "description": "Keyfactor query: field -op value clauses joined by AND, OR and NOT"})
}

fn page_returned() -> Value {
    query_doc(
        "PageReturned",
        integer(1, i64::MAX),
        "1-based page number (default 1)",
    )
}

fn return_limit() -> Value {
    query_doc(
        "ReturnLimit",
        integer(1, i64::MAX),
        "Page size (default 50; values above 1000 are reduced to 1000)",
    )
}

/// `PageReturned`, `ReturnLimit`, `SortField` (one of `sortable`) and `SortAscending`.
pub(super) fn paging(sortable: &[&str]) -> Vec<Value> {
    vec![
        page_returned(),
        return_limit(),
        query_doc(
            "SortField",
            json!({"type": "string", "enum": sortable}),
            "The field to sort by",
        ),
        query_doc(
            "SortAscending",
            json!({"type": "string", "enum": ["0", "1", "true", "false", "Ascending", "Descending"]}),
            "`0` ascending (default), `1` descending; `true`/`false` and `Ascending`/`Descending` work too",
        ),
    ]
}

/// A numeric string the server reads as Keyfactor's store type `id`: digits (with leading
/// zeros, a sign) and white space around them.
fn id_string(id: i64) -> String {
    let w = white();
    if id == 0 {
        format!("^{w}*[+-]?0+{w}*$")
    } else {
        format!("^{w}*\\+?0*{id}{w}*$")
    }
}

/// A store type filter: a known id, or a name (anything that is not a string of digits).
fn store_type_filter() -> Value {
    let mut branches: Vec<Value> = KEYFACTOR_IDS
        .iter()
        .map(|(id, _)| json!({"type": "string", "pattern": id_string(*id)}))
        .collect();
    let w = white();
    branches.push(json!({"type": "string", "pattern": "^[^\\u0000]*$",
        "not": {"pattern": format!("^{w}*[+-]?[0-9]+{w}*$")}}));
    json!({"anyOf": branches})
}

/// The ways a body names store type `t`: Keyfactor's id (a number or a numeric string) or
/// its name in any case, white space around it ignored.
fn store_type_names(t: &OfferedStoreType) -> Value {
    let w = white();
    let mut branches = vec![json!({"type": "string",
        "pattern": format!("^{w}*{}{w}*$", any_case(&t.name))})];
    if let Some(id) = keyfactor_id(&t.name) {
        branches.push(json!({"type": "integer", "const": id}));
        branches.push(json!({"type": "string", "pattern": id_string(id)}));
    }
    json!({"anyOf": branches})
}

/// A Keyfactor schedule object, of the `kinds` the endpoint takes.
pub fn schedule(kinds: &[&str]) -> Value {
    let time = || object(one("Time", date_time()), &["Time"]);
    let mut branches = Vec::new();
    for kind in kinds {
        let inner = match *kind {
            "Immediate" | "Off" => json!({"type": "boolean", "const": true}),
            "Interval" => object(
                one("Minutes", integer(1, MAX_INTERVAL_MINUTES)),
                &["Minutes"],
            ),
            "Daily" | "ExactlyOnce" => time(),
            "Weekly" => {
                let mut p = one("Time", date_time());
                p.insert(
                    "Days".into(),
                    json!({"type": "array", "minItems": 1, "items": {"anyOf": [
                        {"type": "string", "enum": ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]},
                        {"type": "integer", "minimum": 0, "maximum": 6},
                    ]}}),
                );
                object(p, &["Days", "Time"])
            }
            "Monthly" => {
                let mut p = one("Time", date_time());
                p.insert("Day".into(), integer(1, 31));
                object(p, &["Day", "Time"])
            }
            other => unreachable!("no schedule kind {other}"),
        };
        branches.push(object(one(kind, inner), &[kind]));
    }
    json!({"oneOf": branches, "description": "Exactly one kind. Time is an RFC 3339 date-time; \
           for Daily, Weekly and Monthly its time of day in UTC counts."})
}

fn one(name: &str, schema: Value) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(name.to_owned(), schema);
    map
}

/// A path under one of `dirs`, absolute, without `..` components or U+0000 (white space
/// around it is trimmed).
fn path_under(dirs: &[String]) -> Value {
    let segment = r"([^/.\u0000][^/\u0000]*|\.[^/.\u0000][^/\u0000]*|\.\.[^/\u0000]+|\.)";
    let roots: Vec<String> = dirs
        .iter()
        .map(|d| regex_escape(d.trim_end_matches('/')))
        .collect();
    let w = white();
    json!({"type": "string", "pattern": format!("^{w}*({})(/+{segment})*/*$", roots.join("|"))})
}

/// A store's `Properties`: an object the plugin's schema allows (flat values, no
/// `SecretValue`), or `{}` serialised into a string.
fn properties(t: &OfferedStoreType) -> Value {
    let no_secret =
        json!({"propertyNames": {"not": {"pattern": format!("^{}$", any_case("SecretValue"))}}});
    let flat = json!({"additionalProperties": {"type": ["string", "number", "boolean", "null"]}});
    let shape = match t
        .properties_schema
        .as_ref()
        .and_then(super::schema::embedded)
    {
        Some(plugin) => json!({"allOf": [plugin, no_secret, flat], "type": "object"}),
        None => json!({"allOf": [no_secret, flat], "type": "object"}),
    };
    // Serialised: blank, or `{}` with JSON's own white space around and inside.
    let empty = r"[ \t\n\r]*\{[ \t\n\r]*\}[ \t\n\r]*";
    let serialised = json!({"type": "string", "pattern": format!("^({}*|{empty})$", white())});
    nullable(json!({"anyOf": [shape, serialised]}))
}

/// A create (or, with `Id`, replace) body: one branch per store type with a granted
/// directory (a path elsewhere could never be opened).
fn store_body(offer: &Offer, replacing: bool) -> Value {
    let mut branches = Vec::new();
    for t in &offer.store_types {
        if t.dirs.is_empty() || !t.operations.iter().any(|o| o == op::INVENTORY) {
            continue;
        }
        let mut p = Map::new();
        p.insert("ClientMachine".into(), text());
        p.insert(
            "Storepath".into(),
            doc(
                path_under(&t.dirs),
                "The path as the store type's plugin sees it (also accepted as StorePath)",
            ),
        );
        p.insert(
            "CertStoreType".into(),
            doc(
                store_type_names(t),
                "Keyfactor's store type id (0 JKS, 2 PEM, 102 PKCS12) or a store type name",
            ),
        );
        p.insert("ContainerId".into(), nullable(integer(0, MAX_SAFE_INTEGER)));
        p.insert(
            "Approved".into(),
            doc(nullable(json!({"type": "boolean"})), "Default true"),
        );
        p.insert(
            "CreateIfMissing".into(),
            nullable(json!({"type": "boolean"})),
        );
        p.insert(
            "Properties".into(),
            doc(
                properties(t),
                "A JSON object, or one serialised into a string",
            ),
        );
        p.insert(
            "AgentId".into(),
            absent_or(json!({"type": "string", "enum": offer.nodes})),
        );
        let mut password = Map::new();
        password.insert(
            "SecretName".into(),
            absent_or(json!({"type": "string", "enum": t.password_secrets})),
        );
        password.insert("IsManaged".into(), json!({}));
        p.insert(
            "Password".into(),
            doc(
                nullable(object(password, &[])),
                "`{\"SecretName\": \"<secret configured on the server>\"}`; plain passwords are refused",
            ),
        );
        p.insert("InventorySchedule".into(), nullable(schedule(ALL_KINDS)));
        for key in READ_ONLY {
            p.insert(
                (*key).into(),
                json!({"description": "Shown in responses; ignored when sent"}),
            );
        }
        let required: &[&str] = if replacing {
            p.insert("Id".into(), uuid());
            &["Id", "ClientMachine", "Storepath", "CertStoreType"]
        } else {
            p.insert(
                "Id".into(),
                json!({"description": "Ignored: the server assigns it"}),
            );
            &["ClientMachine", "Storepath", "CertStoreType"]
        };
        let mut branch = object(p, required);
        // An unapproved store has no inventory schedule.
        branch["if"] =
            json!({"properties": {"Approved": {"const": false}}, "required": ["Approved"]});
        branch["then"] = json!({"properties": {"InventorySchedule": {"anyOf": [
            {"type": "null"}, {"type": "object", "required": ["Off"]}]}}});
        branches.push(branch);
    }
    json!({"oneOf": branches})
}

fn schedule_request() -> Value {
    let mut p = Map::new();
    p.insert(
        "StoreIds".into(),
        doc(
            json!({"type": "array", "minItems": 1, "items": uuid()}),
            "GUIDs of the stores",
        ),
    );
    p.insert("Schedule".into(), schedule(ALL_KINDS));
    object(p, &["StoreIds", "Schedule"])
}

/// An X.500 name in the form the server reads: `TYPE=value` pairs joined by `,` or `+`
/// (the server also takes quoted values and escapes).
fn subject_name() -> Value {
    let types = "CN|OU|O|L|ST|S|E|EMAIL|EMAILADDRESS|STREET|DC|UID|SERIALNUMBER|T|TITLE|G|GIVENNAME|SN|SURNAME|POSTALCODE";
    let value = format!(
        r#"[^,+"\\={WHITE_CHARS}\u0000]([^,+"\\=\u0000]{{0,30}}[^,+"\\={WHITE_CHARS}\u0000])?"#
    );
    let pair = format!(r"(({types}) ?= ?{value}|C ?= ?[A-Za-z]{{2}})");
    let w = white();
    json!({"type": "string", "pattern": format!(r"^{w}*{pair}( ?[,+] ?{pair}){{0,4}}{w}*$")})
}

fn reenrollment(offer: &Offer) -> Value {
    let dns = r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$";
    let mut sans = Map::new();
    sans.insert(
        "dns".into(),
        json!({"type": "array", "items": {"type": "string", "pattern": dns, "maxLength": 253}}),
    );
    sans.insert(
        "ip4".into(),
        json!({"type": "array", "items": {"type": "string", "format": "ipv4"}}),
    );
    sans.insert(
        "ip6".into(),
        json!({"type": "array", "items": {"type": "string", "format": "ipv6"}}),
    );
    let key_types: Vec<String> = KEY_TYPES.iter().map(|k| any_case(k)).collect();
    let key_type = json!({"type": "string", "pattern": format!("^({})$", key_types.join("|"))});
    let job_properties = json!({"anyOf": [
        {"type": "object", "properties": {"KeyType": nullable(key_type.clone())}},
        {"type": "array", "items": {"type": "object", "properties": {"KeyType": nullable(key_type)}}},
    ]});
    let mut p = Map::new();
    p.insert("KeystoreId".into(), doc(uuid(), "The store's GUID"));
    p.insert(
        "SubjectName".into(),
        doc(
            subject_name(),
            "X.500 form, e.g. `CN=web.example.com,OU=IT,O=Example,C=US`",
        ),
    );
    p.insert(
        "AgentGuid".into(),
        doc(
            text(),
            "Must match the store's AgentId when the store has one",
        ),
    );
    p.insert(
        "Alias".into(),
        doc(text(), "The alias of the entry in the store"),
    );
    p.insert(
        "JobProperties".into(),
        doc(
            nullable(job_properties),
            "Store-type specific fields, an object or an array of one-key objects; \
             KeyType picks the key the store generates",
        ),
    );
    p.insert(
        "CertificateAuthority".into(),
        doc(
            nullable(plain()),
            "The CA to ask; the server's default when absent",
        ),
    );
    p.insert(
        "CertificateTemplate".into(),
        doc(nullable(plain()), "Deprecated by Keyfactor; recorded only"),
    );
    p.insert(
        "EnrollmentPatternId".into(),
        nullable(integer(0, MAX_SAFE_INTEGER)),
    );
    p.insert("SANs".into(), nullable(object(sans, &[])));
    p.insert(
        "AdditionalEnrollmentFields".into(),
        nullable(json!({"type": "object"})),
    );
    p.insert("Metadata".into(), nullable(json!({"type": "object"})));
    p.insert("OwnerRoleId".into(), nullable(integer(0, MAX_SAFE_INTEGER)));
    p.insert("OwnerRoleName".into(), nullable(plain()));
    let mut body = object(p, &["KeystoreId", "SubjectName", "AgentGuid", "Alias"]);
    body["not"] = json!({"properties": {
        "OwnerRoleId": {"type": "integer"}, "OwnerRoleName": text()},
        "required": ["OwnerRoleId", "OwnerRoleName"]});
    let _ = offer;
    body
}

fn management(offer: &Offer, adding: bool) -> Value {
    let mut target = Map::new();
    target.insert("CertificateStoreId".into(), uuid());
    target.insert("Alias".into(), text());
    target.insert(
        "Overwrite".into(),
        doc(
            nullable(json!({"type": "boolean"})),
            "Add only: replace an existing entry of that alias",
        ),
    );
    target.insert("JobProperties".into(), nullable(json!({"type": "object"})));
    target.insert("EntryPassword".into(), json!({"description": "Ignored"}));
    let mut p = Map::new();
    p.insert(
        "CertificateStores".into(),
        doc(
            json!({"type": "array", "minItems": 1,
                   "maxItems": crate::domain::certificate_stores::MAX_MANAGEMENT_TARGETS,
                   "items": object(target, &["CertificateStoreId", "Alias"])}),
            "Stores and aliases; a repeated pair counts once",
        ),
    );
    p.insert(
        "Schedule".into(),
        nullable(schedule(&["Immediate", "ExactlyOnce"])),
    );
    if !adding {
        return object(p, &["CertificateStores"]);
    }
    let mut certificate = text();
    certificate["description"] = json!("PEM certificates, leaf first");
    p.insert("Certificate".into(), certificate);
    let mut key_secrets: Vec<String> = offer
        .store_types
        .iter()
        .flat_map(|t| t.key_secrets.iter().cloned())
        .collect();
    key_secrets.sort();
    key_secrets.dedup();
    p.insert(
        "PrivateKeySecret".into(),
        doc(
            absent_or(json!({"type": "string", "enum": key_secrets})),
            "Name of a secret holding the PKCS#8 PEM private key",
        ),
    );
    object(p, &["Certificate", "CertificateStores"])
}

fn discovery(offer: &Offer) -> Value {
    let types: Vec<Value> = offer
        .store_types
        .iter()
        .filter(|t| t.operations.iter().any(|o| o == op::DISCOVERY))
        .map(store_type_names)
        .collect();
    let list = |required: bool| {
        let string = if required {
            json!({"type": "string", "pattern": format!("[^,{WHITE_CHARS}]")})
        } else {
            json!({"type": "string"})
        };
        let array = if required {
            json!({"type": "array", "items": {"type": "string"}, "contains": non_blank()})
        } else {
            json!({"type": "array", "items": {"type": "string"}})
        };
        json!({"anyOf": [array, string]})
    };
    let mut p = Map::new();
    p.insert("ClientMachine".into(), text());
    p.insert(
        "AgentId".into(),
        absent_or(json!({"type": "string", "enum": offer.nodes})),
    );
    p.insert(
        "Type".into(),
        doc(
            if types.is_empty() {
                json!({"not": {}})
            } else {
                json!({"anyOf": types})
            },
            "Store type id or name",
        ),
    );
    p.insert(
        "Dirs".into(),
        doc(
            list(true),
            "Directories to search (as the plugin sees them): an array or comma-separated",
        ),
    );
    for key in ["Extensions", "IgnoredDirs", "NamePatterns"] {
        p.insert(key.into(), nullable(list(false)));
    }
    p.insert(
        "Schedule".into(),
        nullable(schedule(&["Immediate", "ExactlyOnce"])),
    );
    for key in [
        "JobExecutionTimestamp",
        "KeyfactorSchedule",
        "SymLinks",
        "Compatibility",
        "UseSudo",
    ] {
        p.insert(key.into(), json!({"description": "Ignored"}));
    }
    object(p, &["ClientMachine", "Type", "Dirs"])
}

fn batch() -> Value {
    let ids = json!({"type": "array", "minItems": 1, "maxItems": 1000,
                     "items": integer(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)});
    let ids = doc(ids, "Audit ids of the jobs (JobAuditId from JobHistory)");
    let query = doc(
        query_string(true),
        "A Keyfactor query selecting the jobs (the fields of JobHistory's QueryString)",
    );
    // The other field may be there as `null`: absent.
    let mut by_ids = one("JobAuditIds", ids);
    by_ids.insert("Query".into(), json!({"type": "null"}));
    let mut by_query = one("Query", query);
    by_query.insert("JobAuditIds".into(), json!({"type": "null"}));
    json!({"oneOf": [
        object(by_ids, &["JobAuditIds"]),
        object(by_query, &["Query"]),
    ]})
}

/// A job-history query: the schema describes chains of simple clauses joined by AND or OR
/// (the server also takes parentheses and NOT, which no regular expression can balance).
fn query_string(required: bool) -> Value {
    let order = "-(eq|ne|gt|lt|ge|le)";
    let equality = "-(eq|ne)";
    let text_ops = "-(eq|ne|contains|startswith)";
    let quoted = r#""[A-Za-z0-9 _.:-]{0,20}""#;
    let date = "20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])";
    let clauses = [
        format!("(JobId|JobAuditId|JobHistoryId) {order} [0-9]{{1,9}}"),
        format!("Result {equality} (0|2|3|4|Unknown|Success|Warning|Failure)"),
        format!("Status {equality} [0-5]"),
        format!("(AgentId|Agent|Message|TargetPath) {text_ops} {quoted}"),
        format!("(AgentId|Agent|Message|TargetPath|OperationStart|OperationEnd) {equality} null"),
        format!("JobType {text_ops} {quoted}"),
        format!("(OperationStart|OperationEnd) {order} {date}"),
        format!("ScheduleType {equality} (I_|D_|W_|M_|O_|null)"),
    ];
    let clause = format!("({})", clauses.join("|"));
    let chain = format!("{clause}( (AND|OR) {clause}){{0,3}}");
    let pattern = if required {
        format!("^{chain}$")
    } else {
        format!("^({chain})?$")
    };
    json!({"type": "string", "pattern": pattern,
           "description": "Keyfactor query: field -op value clauses joined by AND, OR and NOT, with parentheses"})
}

fn custom(offer: &Offer) -> Value {
    let mut branches = Vec::new();
    for o in offer
        .operations
        .iter()
        .filter(|o| o.family == Family::Custom && !o.host)
    {
        let Some(fields) = super::schema::embedded(&o.params_schema) else {
            continue;
        };
        let accepts_empty = jsonschema::validator_for(&fields)
            .map(|v| v.is_valid(&json!({})))
            .unwrap_or(false);
        let mut p = Map::new();
        p.insert(
            "JobTypeName".into(),
            doc(
                json!({"type": "string", "const": o.name}),
                "The custom job type: a custom operation a loaded plugin declares",
            ),
        );
        p.insert(
            "AgentId".into(),
            absent_or(json!({"type": "string", "enum": offer.nodes})),
        );
        p.insert(
            "Schedule".into(),
            schedule(&[
                "Immediate",
                "Interval",
                "Daily",
                "Weekly",
                "Monthly",
                "ExactlyOnce",
            ]),
        );
        p.insert(
            "JobFields".into(),
            if accepts_empty {
                nullable(fields)
            } else {
                fields
            },
        );
        let required: &[&str] = if accepts_empty {
            &["JobTypeName", "Schedule"]
        } else {
            &["JobTypeName", "Schedule", "JobFields"]
        };
        branches.push(object(p, required));
    }
    json!({"oneOf": branches})
}
