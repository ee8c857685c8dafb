//! The CipherTrust dialect's requests, as the server reads them (`ciphertrust/*.rs`).

use chrono_tz::TZ_VARIANTS;
use serde_json::{Map, Value, json};

use super::schema::{
    absent_or, date, date_time, doc, duration, include_list, integer, nullable, object,
    one_of_strings, plain, sort, text, uuid,
};
use super::{Operation, query, query_doc};
use crate::api::ciphertrust::config_input::{READ_ONLY, Shown, params_keys};
use crate::domain::catalog::{Offer, OfferedOperation};

/// Sortable fields of the listings (`db/src/filter.rs`).
const CONFIG_SORT: &[&str] = &[
    "name",
    "account_id",
    "operation",
    "created_at",
    "updated_at",
    "id",
    "run_at",
    "run_on",
    "disabled",
    "next_fire_at",
];
const JOB_SORT: &[&str] = &[
    "name",
    "account_id",
    "operation",
    "created_at",
    "updated_at",
    "id",
    "status",
    "enqueued_at",
    "processing_node",
    "run_on",
    "scheduled_for",
    "started_at",
    "finished_at",
    "job_config_id",
];
const KEY_SORT: &[&str] = &[
    "key_id",
    "cloud_name",
    "state",
    "job_config_id",
    "account_id",
    "created_at",
    "rotated_at",
    "synced_at",
];

/// The operations of this dialect.
pub fn operations(offer: &Offer) -> Vec<Operation> {
    let config_id = || Operation::path_id("Job config id");
    let paging = || {
        vec![
            query_doc(
                "skip",
                integer(0, i64::MAX),
                "Resources to skip (default 0)",
            ),
            query_doc(
                "limit",
                integer(0, i64::MAX),
                "Page size (default 10; values above 1000 are reduced to 1000)",
            ),
        ]
    };
    let mut config_list = paging();
    config_list.extend([
        query_doc(
            "sort",
            sort(CONFIG_SORT),
            "Comma-separated fields, `-` prefix for descending (e.g. `name,-createdAt`)",
        ),
        query("name", plain()),
        query("id", uuid()),
        query("operation", plain()),
        query("disabled", json!({"type": "boolean"})),
        query("cloud_name", plain()),
        query("expire_in", plain()),
    ]);
    config_list.extend(created_window());
    let mut job_list = paging();
    job_list.extend([
        query_doc(
            "sort",
            sort(JOB_SORT),
            "Comma-separated fields, `-` prefix for descending (e.g. `-createdAt`)",
        ),
        query("id", uuid()),
        query("name", plain()),
        account_filter(),
        query("job_config_id", uuid()),
        query("operation", plain()),
        query(
            "status",
            json!({"type": "string", "enum": ["queued", "running", "completed", "failed", "cancelled"]}),
        ),
        query("processing_node", plain()),
    ]);
    job_list.extend(created_window());
    job_list.push(query_doc(
        "updatedAfter",
        date_time(),
        "Jobs changed (created, claimed, progressed, ended) at or after this time",
    ));
    job_list.push(query_doc(
        "include",
        include_list(&["params", "logs"]),
        "Comma-separated: `params`, `logs`. Listed jobs leave them out unless asked",
    ));
    let mut count_list = paging();
    count_list.extend([
        account_filter(),
        query("job_config_id", uuid()),
        query("operation", plain()),
        query_doc("from", date(), "First UTC day counted"),
        query_doc("to", date(), "Last UTC day counted"),
    ]);
    let mut key_list = paging();
    key_list.extend([
        query_doc(
            "sort",
            sort(KEY_SORT),
            "Comma-separated fields, `-` prefix for descending",
        ),
        query_doc("cloud_name", plain(), "`aws`, `AzureCloud`, ..."),
        query_doc("key_id", plain(), "The cloud's key id"),
        query_doc(
            "alias",
            plain(),
            "Keys carrying this exact alias (e.g. `alias/app`)",
        ),
        query_doc(
            "state",
            plain(),
            "The cloud's state word, e.g. `Enabled`, `Disabled`, `PendingDeletion`",
        ),
        query_doc(
            "job_config_id",
            uuid(),
            "Keys synchronized by this job config",
        ),
    ]);
    vec![
        Operation::new("post", "/api/v1/scheduler/job-configs", "createJobConfig")
            .body(create_config(offer))
            .errors(&[400, 409, 422])
            .link("getJobConfig", "id", "$response.body#/id")
            .link("patchJobConfig", "id", "$response.body#/id")
            .link("deleteJobConfig", "id", "$response.body#/id")
            .link("runJobConfigNow", "id", "$response.body#/id"),
        Operation::new("get", "/api/v1/scheduler/job-configs", "listJobConfigs")
            .params(config_list)
            .errors(&[400]),
        Operation::new("get", "/api/v1/scheduler/job-configs/{id}", "getJobConfig")
            .params(vec![config_id()])
            .errors(&[404]),
        Operation::new(
            "patch",
            "/api/v1/scheduler/job-configs/{id}",
            "patchJobConfig",
        )
        .params(vec![config_id()])
        .body(patch_config(offer))
        .errors(&[400, 404, 409, 422]),
        Operation::new(
            "delete",
            "/api/v1/scheduler/job-configs/{id}",
            "deleteJobConfig",
        )
        .params(vec![config_id()])
        .errors(&[404]),
        Operation::new(
            "post",
            "/api/v1/scheduler/job-configs/{id}/run-now",
            "runJobConfigNow",
        )
        .params(vec![
            config_id(),
            query_doc(
                "respect_windows",
                json!({"type": "string", "enum": ["true", "false"]}),
                "true: due when the config's (and its account's) maintenance windows next allow, not now",
            ),
            query_doc(
                "dry_run",
                json!({"type": "string", "enum": ["true", "false"]}),
                "true: the job only reports what it would change (rotation, Management, Reenrollment on a plugin that declares a dry run; else 422)",
            ),
        ])
        .errors(&[400, 404, 409, 422])
        .link("getJob", "id", "$response.body#/job_id")
        .link("deleteJob", "id", "$response.body#/job_id")
        .link("retryJob", "id", "$response.body#/job_id"),
        Operation::new("get", "/api/v1/scheduler/jobs", "listJobs")
            .params(job_list)
            .errors(&[400]),
        Operation::new("get", "/api/v1/scheduler/jobs/counts", "countJobs")
            .params(count_list)
            .errors(&[400]),
        Operation::new("get", "/api/v1/scheduler/jobs/{id}", "getJob")
            .params(vec![Operation::path_id("Job id")])
            .errors(&[404]),
        Operation::new("delete", "/api/v1/scheduler/jobs/{id}", "deleteJob")
            .params(vec![Operation::path_id("Job id")])
            .errors(&[404, 409]),
        Operation::new("post", "/api/v1/scheduler/jobs/{id}/retry", "retryJob")
            .params(vec![Operation::path_id("Job id")])
            .errors(&[403, 404, 409])
            .link("getJob", "id", "$response.body#/id"),
        Operation::new("get", "/api/v1/scheduler/jobs/{id}/events", "followJob")
            .params(vec![Operation::path_id("Job id")])
            .errors(&[403, 404]),
        Operation::new("get", "/api/v1/scheduler/events", "followJobs")
            .params(vec![
                account_filter(),
                query("job_config_id", uuid()),
                query("operation", plain()),
            ])
            .errors(&[400, 403]),
        Operation::new("get", "/api/v1/cckm/keys", "listCloudKeys")
            .params(key_list)
            .errors(&[400]),
        Operation::new("get", "/api/v1/plugins", "listPlugins"),
        Operation::new("get", "/api/v1/nodes", "listNodes")
            .params(paging())
            .errors(&[400]),
        Operation::new("post", "/api/v1/tokens", "createToken")
            .body(token_request())
            .errors(&[400, 403])
            .link("revokeToken", "id", "$response.body#/id"),
        Operation::new("get", "/api/v1/tokens", "listTokens")
            .params(vec![query_doc(
                "account",
                plain(),
                "Only this account's tokens (name or account URI)",
            )])
            .errors(&[400, 403]),
        Operation::new("delete", "/api/v1/tokens/{id}", "revokeToken")
            .params(vec![json!({"name": "id", "in": "path", "required": true,
                "description": "The token's id", "schema": {"type": "string", "minLength": 1}})])
            .errors(&[403, 404, 409]),
        Operation::new("get", "/api/v1/alerts", "listAlerts")
            .params(vec![
                query_doc(
                    "kind",
                    json!({"type": "string", "enum": keywarden_db::AlertKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>()}),
                    "Only alerts of this kind",
                ),
                query_doc(
                    "state",
                    json!({"type": "string", "enum": ["pending", "delivered", "failed"]}),
                    "Only alerts in this delivery state",
                ),
                query_doc("network_id", super::schema::uuid(), "Only alerts of this SSL network"),
                query("skip", integer(0, i64::MAX)),
                query("limit", integer(0, i64::MAX)),
            ])
            .errors(&[400]),
        Operation::new("get", "/api/v1/audit", "listAuditLog")
            .params(vec![
                query_doc("account", plain(), "Only this account's entries"),
                query_doc("token_id", plain(), "Only entries of this token"),
                query_doc(
                    "action",
                    plain(),
                    "Entries whose action starts with this (`POST`, `job failed`, `token`)",
                ),
                query("since", date_time()),
                query("until", date_time()),
                query_doc(
                    "after_seq",
                    integer(0, i64::MAX),
                    "Entries after this sequence number (the last `seq` of the previous page)",
                ),
                query_doc(
                    "limit",
                    integer(0, i64::MAX),
                    "Page size (default 10; at most 1000)",
                ),
            ])
            .errors(&[400, 403]),
        Operation::new(
            "post",
            "/api/v1/agents/registration-credentials",
            "createRegistrationCredential",
        )
        .body(credential_request())
        .errors(&[400, 403, 409])
        .link(
            "deleteRegistrationCredential",
            "username",
            "$response.body#/username",
        ),
        Operation::new(
            "delete",
            "/api/v1/agents/registration-credentials/{username}",
            "deleteRegistrationCredential",
        )
        .params(vec![json!({"name": "username", "in": "path", "required": true,
            "description": "The credential's username", "schema": {"type": "string", "minLength": 1}})])
        .errors(&[403, 404]),
        Operation::new("get", "/healthz", "health").open(),
    ]
}

/// `createdBefore` and `createdAfter`.
/// The `account` filter of listings that admins may point at any account.
fn account_filter() -> Value {
    query_doc(
        "account",
        plain(),
        "Account name or account URI; other accounts are visible to admins only",
    )
}

fn created_window() -> [Value; 2] {
    [
        query("createdBefore", date_time()),
        query("createdAfter", date_time()),
    ]
}

/// The fields every job config body may carry besides the operation and its params.
fn common_fields(offer: &Offer) -> Map<String, Value> {
    let mut runs_on = vec!["any".to_owned()];
    runs_on.extend(offer.nodes.iter().cloned());
    let zones: Vec<String> = TZ_VARIANTS.iter().map(|z| z.name().to_owned()).collect();
    let mut fields = Map::new();
    fields.insert("name".into(), {
        let mut name = text();
        name["maxLength"] = json!(256);
        name
    });
    fields.insert("description".into(), nullable(plain()));
    fields.insert(
        "run_on".into(),
        doc(one_of_strings(&runs_on), "`any` (default) or a node id"),
    );
    fields.insert("run_at".into(), super::schema::cron());
    fields.insert(
        "timezone".into(),
        doc(
            absent_or(one_of_strings(&zones)),
            "IANA time zone the cron expression is read in (default UTC)",
        ),
    );
    fields.insert(
        "start_date".into(),
        doc(absent_or(date_time()), "No job fires before this time"),
    );
    fields.insert(
        "end_date".into(),
        doc(
            absent_or(date_time()),
            "No job fires after this time (before start_date: the config never fires)",
        ),
    );
    fields.insert("disabled".into(), nullable(json!({"type": "boolean"})));
    fields.insert(
        "catch_up".into(),
        doc(
            json!({"type": "string", "enum": ["skip", "one", "all"]}),
            "Fire times missed while the server was down: skip them, run one (default) or all",
        ),
    );
    fields.insert(
        "overlap".into(),
        doc(
            json!({"type": "string", "enum": ["skip", "allow"]}),
            "When the previous job still runs: skip this firing (default) or run both",
        ),
    );
    fields.insert("max_retries".into(), nullable(integer(0, 100)));
    let flag = || nullable(json!({"type": "boolean"}));
    let mut alerts = Map::new();
    alerts.insert("on_failure".into(), flag());
    alerts.insert("on_missed_run".into(), flag());
    alerts.insert("on_retries_exhausted".into(), flag());
    fields.insert(
        "alerts".into(),
        doc(
            nullable(object(alerts, &[])),
            "Raise an alert when an attempt fails, a fire time is missed, or the last attempt fails",
        ),
    );
    fields.insert(
        "retry_backoff_secs".into(),
        nullable(integer(0, 7 * 86_400)),
    );
    let window = || {
        let mut w = Map::new();
        w.insert(
            "start".into(),
            doc(super::schema::cron(), "When the window opens"),
        );
        w.insert(
            "timezone".into(),
            doc(
                absent_or(one_of_strings(&zones)),
                "IANA time zone `start` is read in (default UTC)",
            ),
        );
        w.insert(
            "duration_secs".into(),
            doc(
                integer(
                    crate::scheduler::windows::MIN_WINDOW_SECS,
                    crate::scheduler::windows::MAX_WINDOW_SECS,
                ),
                "How long it stays open",
            ),
        );
        let mut list = json!({"type": "array", "items": object(w, &["start", "duration_secs"])});
        list["maxItems"] = json!(crate::scheduler::windows::MAX_WINDOWS);
        nullable(list)
    };
    fields.insert(
        "maintenance_windows".into(),
        doc(window(), "Jobs start only inside one of these windows (and the account's); a fire outside waits for the next opening, or is dropped with catch_up = skip"),
    );
    fields.insert(
        "blackout_windows".into(),
        doc(window(), "Jobs never start inside these windows"),
    );
    fields.insert(
        "jitter_secs".into(),
        doc(
            nullable(integer(0, crate::scheduler::gate::MAX_JITTER_SECS)),
            "Each fire starts up to this many seconds late, by an offset fixed per config",
        ),
    );
    fields.insert(
        "pause_after_failures".into(),
        doc(
            nullable(integer(
                0,
                crate::domain::configs::MAX_PAUSE_AFTER_FAILURES.into(),
            )),
            "Pause the config after this many failed runs in a row (0: never)",
        ),
    );
    fields.insert(
        "when_target_busy".into(),
        doc(
            json!({"type": "string", "enum": ["wait", "skip"]}),
            "When another job works on the same certificate store or cloud keys: wait (default) or skip this run",
        ),
    );
    for (key, shown) in READ_ONLY {
        let mut schema = nullable(match shown {
            Shown::Id => uuid(),
            Shown::Text => json!({"type": "string"}),
            Shown::Time => date_time(),
        });
        schema["description"] = json!("Shown in responses; ignored when sent back");
        fields.insert((*key).into(), schema);
    }
    fields
}

/// Operations by name, each with the variants (targets) the plugins provide.
fn by_name(offer: &Offer) -> Vec<(&str, Vec<&OfferedOperation>)> {
    let mut out: Vec<(&str, Vec<&OfferedOperation>)> = Vec::new();
    for op in &offer.operations {
        match out.iter_mut().find(|(n, _)| *n == op.name) {
            Some((_, variants)) => variants.push(op),
            None => out.push((op.name.as_str(), vec![op])),
        }
    }
    out
}

/// The params of `variants` of an operation as a job config takes them, and whether `{}`
/// is enough. `None` when a plugin's schema cannot be embedded.
fn params_schema(variants: &[&OfferedOperation]) -> Option<(Value, bool)> {
    // A target-less variant answers for any cloud; otherwise `cloud_name` (the target the
    // operation is resolved by) must name a variant, or be left out (the first one serves).
    let target_less = variants.iter().find(|v| v.target.is_none());
    let schema = match target_less {
        Some(v) => super::schema::embedded(&v.params_schema)?,
        None if variants.len() == 1 => {
            let v = variants[0];
            let own = super::schema::embedded(&v.params_schema)?;
            json!({"allOf": [own, {"properties": {"cloud_name": {"type": "string", "enum": [v.target]}}}]})
        }
        // Several targets: each branch pins its cloud; without `cloud_name` the default
        // variant serves.
        None => {
            let mut branches = Vec::new();
            for v in variants {
                let own = super::schema::embedded(&v.params_schema)?;
                branches.push(json!({"allOf": [own, {
                    "properties": {"cloud_name": {"type": "string", "enum": [v.target]}},
                    "required": ["cloud_name"]}]}));
                if v.default_for_name {
                    let own = super::schema::embedded(&v.params_schema)?;
                    branches.push(json!({"allOf": [own, {"not": {"required": ["cloud_name"]}}]}));
                }
            }
            json!({"anyOf": branches})
        }
    };
    let schema = json!({"allOf": [schema, checked_params(false)], "type": "object"});
    let accepts_empty = jsonschema::validator_for(&schema)
        .map(|v| v.is_valid(&json!({})))
        .unwrap_or(false);
    Some((schema, accepts_empty))
}

/// What the server checks in any operation's params: the target's name, the durations
/// (in a merge patch, `null` deletes them).
fn checked_params(in_patch: bool) -> Value {
    let or_null = |schema: Value| if in_patch { nullable(schema) } else { schema };
    json!({"properties": {
        "cloud_name": or_null(plain()),
        "expiration": or_null(duration(false)),
        "expire_in": or_null(duration(false)),
        "rotation_after": or_null(duration(true)),
    }})
}

/// One body branch per operation: the operation, its params under its field.
fn operation_branches(offer: &Offer, creating: bool) -> Vec<Value> {
    let mut branches = Vec::new();
    for (name, variants) in by_name(offer) {
        let Some((params, accepts_empty)) = params_schema(&variants) else {
            continue;
        };
        let key = params_keys(name)[0].clone();
        let mut properties = common_fields(offer);
        properties.insert("operation".into(), json!({"type": "string", "const": name}));
        let params = if accepts_empty {
            nullable(params)
        } else {
            params
        };
        properties.insert(key.clone(), params);
        let mut required = vec!["operation"];
        if creating {
            required.extend(["name", "run_at"]);
        }
        if !accepts_empty {
            required.push(&key);
        }
        branches.push(object(properties, &required));
    }
    branches
}

fn create_config(offer: &Offer) -> Value {
    json!({"oneOf": operation_branches(offer, true)})
}

/// A PATCH names the operation with its params whole, or leaves the operation out and
/// merges params into the config's (a merge that no longer fits is a 409, not a schema
/// matter: it depends on the config; only what every operation's params must satisfy is
/// said here).
fn patch_config(offer: &Offer) -> Value {
    let mut keys: Vec<String> = vec!["params".into(), "job_config_params".into()];
    for (name, _) in by_name(offer) {
        for key in params_keys(name) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    let mut properties = common_fields(offer);
    for key in &keys {
        let mut patch = checked_params(true);
        patch["type"] = json!(["object", "null"]);
        properties.insert(key.clone(), patch);
    }
    let mut pairs = Vec::new();
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            pairs.push(json!({"required": [a, b]}));
        }
    }
    let merge = json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
        "not": {"anyOf": pairs},
    });
    let mut branches = operation_branches(offer, false);
    branches.push(merge);
    json!({"oneOf": branches})
}

fn credential_request() -> Value {
    let mut properties = Map::new();
    properties.insert(
        "username".into(),
        doc(
            json!({"type": "string", "pattern": "^[A-Za-z0-9._@\\\\-]{1,128}$"}),
            "What agents send as the basic-auth user name; unique across accounts",
        ),
    );
    properties.insert(
        "account".into(),
        doc(
            nullable(json!({"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"})),
            "The account agents registering with it join (default: the caller's)",
        ),
    );
    properties.insert(
        "client_machine".into(),
        doc(
            nullable(json!({"type": "string", "maxLength": 255,
                "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"})),
            "Only an agent on this machine may register with it (a credential per machine)",
        ),
    );
    object(properties, &["username"])
}

fn token_request() -> Value {
    let mut properties = Map::new();
    properties.insert(
        "account".into(),
        doc(
            json!({"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}),
            "The account the token acts as (created on first use)",
        ),
    );
    properties.insert("label".into(), doc(plain(), "What the token is for"));
    properties.insert(
        "admin".into(),
        doc(
            json!({"type": "boolean"}),
            "The older way to ask for role admin (default false)",
        ),
    );
    properties.insert(
        "role".into(),
        doc(
            nullable(json!({"enum": ["read-only", "operator", "admin"]})),
            "read-only (GET requests only), operator (the default: its account) or admin (every account, tokens, the audit log)",
        ),
    );
    properties.insert(
        "expires_at".into(),
        doc(
            nullable(date_time()),
            "When the token stops working (RFC 3339; default never)",
        ),
    );
    let mut body = object(properties, &["account"]);
    // `admin: true` with another role contradicts itself (400).
    body["not"] = json!({"required": ["admin", "role"],
        "properties": {"admin": {"const": true}, "role": {"enum": ["read-only", "operator"]}}});
    body
}
