use serde_json::json;

use super::*;
use crate::domain::catalog::{OfferedOperation, OfferedStoreType};
use crate::plugins::Family;

fn offer() -> Offer {
    Offer {
        operations: vec![
            OfferedOperation {
                name: "hello".into(),
                family: Family::Custom,
                target: None,
                params_schema: json!({"type": "object", "additionalProperties": false,
                    "properties": {"name": {"type": "string", "minLength": 1}},
                    "required": ["name"]}),
                default_for_name: true,
                host: false,
            },
            OfferedOperation {
                name: "cckm_key_rotation".into(),
                family: Family::KeyManagement,
                target: Some("aws".into()),
                params_schema: json!({"type": "object", "properties": {
                    "cloud_name": {"const": "aws"}, "expire_in": {"type": "string"}}}),
                default_for_name: true,
                host: false,
            },
        ],
        store_types: vec![OfferedStoreType {
            name: "PEM".into(),
            operations: vec!["Inventory".into(), "Management".into()],
            dirs: vec!["/stores".into()],
            password_secrets: vec!["store_password".into()],
            key_secrets: vec![],
            properties_schema: Some(json!({"type": "object", "additionalProperties": false,
                "properties": {"trust_store": {"type": "boolean"}}})),
        }],
        secrets: vec!["store_password".into()],
        nodes: vec!["node-1".into()],
    }
}

/// A validator checking formats, as schemathesis and most client validators do.
fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("{schema}: {e}"))
}

fn body_schema(doc: &Value, path: &str, method: &str) -> jsonschema::Validator {
    let schema =
        &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
    validator(schema)
}

#[test]
fn every_operation_is_described_once_with_its_errors() {
    let doc = build(&offer());
    let mut ids = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: {op}"))
                .to_owned();
            assert!(!ids.contains(&id), "{id} twice");
            ids.push(id);
            let secured = op.get("security").is_some();
            assert_eq!(secured, path != "/healthz", "{method} {path}");
            if secured {
                let unauthorized =
                    &op["responses"]["401"]["content"]["application/json"]["schema"]["$ref"];
                let body = if path.starts_with("/KeyfactorAPI") {
                    "#/components/schemas/KeyfactorErrorBody"
                } else {
                    "#/components/schemas/ErrorBody"
                };
                assert_eq!(unauthorized, body, "{method} {path}");
            }
            for param in op["parameters"].as_array().unwrap() {
                let location = param["in"].as_str().unwrap();
                assert!(
                    location == "query" || location == "path",
                    "{method} {path}: {param}"
                );
                if location == "path" {
                    assert_eq!(param["required"], true);
                }
                let schema = validator(&param["schema"]);
                if location == "query" {
                    // Blank counts as absent; U+0000 is refused in every value.
                    assert!(schema.is_valid(&json!(" ")), "{method} {path}: {param}");
                    assert!(
                        !schema.is_valid(&json!("x\u{0}")),
                        "{method} {path}: {param}"
                    );
                }
            }
            if op.get("requestBody").is_some() {
                body_schema(&doc, path, method);
            }
        }
    }
    assert_eq!(ids.len(), 69, "{ids:?}");
    let links = &doc["paths"]["/api/v1/scheduler/job-configs"]["post"]["responses"]["201"]["links"];
    assert_eq!(
        links["getJobConfig"]["parameters"]["id"],
        "$response.body#/id"
    );
}

#[test]
fn a_job_config_body_is_valid_exactly_when_the_server_takes_it() {
    let doc = build(&offer());
    let create = body_schema(&doc, "/api/v1/scheduler/job-configs", "post");
    let good = json!({"name": "greet", "operation": "hello", "run_at": "*/5 * * * *",
                      "params": {"name": "Ada"}, "run_on": "node-1", "timezone": "Europe/Paris"});
    assert!(create.is_valid(&good));
    for bad in [
        json!({"name": "greet", "operation": "hello", "run_at": "*/5 * * * *"}),
        json!({"name": "greet", "operation": "hello", "run_at": "0 0 31 2 *", "params": {"name": "A"}}),
        json!({"name": "greet", "operation": "nope", "run_at": "@daily", "params": {}}),
        json!({"name": "greet", "operation": "hello", "run_at": "@daily", "params": {"name": "A"}, "run_on": "ghost"}),
        json!({"name": "greet", "operation": "hello", "run_at": "@daily", "params": {"name": "A"},
               "cckm_key_rotation_params": {}}),
        json!({"name": " ", "operation": "hello", "run_at": "@daily", "params": {"name": "A"}}),
        json!({"name": "r", "operation": "cckm_key_rotation", "run_at": "@daily",
               "cckm_key_rotation_params": {"cloud_name": "gcp"}}),
        json!({"name": "r", "operation": "cckm_key_rotation", "run_at": "@daily",
               "cckm_key_rotation_params": {"expire_in": "6w"}}),
    ] {
        assert!(!create.is_valid(&bad), "{bad}");
    }
    // Optional params may be left out or null when the operation takes `{}`.
    assert!(
        create.is_valid(&json!({"name": "r", "operation": "cckm_key_rotation",
        "run_at": "@daily", "cckm_key_rotation_params": null}))
    );
    // Response fields sent back are ignored, in the shape the response shows them.
    let echoed = |field: &str, value: Value| {
        let mut body = json!({"name": "r", "operation": "cckm_key_rotation", "run_at": "@daily"});
        body[field] = value;
        create.is_valid(&body)
    };
    assert!(echoed("id", json!("0190c8a0-3c1e-7d52-9d0b-1c2e3f4a5b6c")));
    assert!(echoed("id", Value::Null));
    assert!(!echoed("id", json!("ignored")));
    assert!(!echoed("createdAt", json!({})));
    // Blank optional fields count as absent.
    assert!(echoed("timezone", json!(" ")));
    assert!(echoed("start_date", json!("")));
    assert!(!echoed(
        "cckm_key_rotation_params",
        json!({"cloud_name": 3})
    ));
    let patch = body_schema(&doc, "/api/v1/scheduler/job-configs/{id}", "patch");
    assert!(patch.is_valid(&json!({"params": {"anything": 1}})));
    assert!(patch.is_valid(&json!({"operation": "hello", "params": {"name": "B"}})));
    assert!(!patch.is_valid(&json!({"operation": "hello", "params": {}})));
    assert!(!patch.is_valid(&json!({"params": {}, "job_config_params": {}})));
}

#[test]
fn keyfactor_bodies() {
    let doc = build(&offer());
    let store = body_schema(&doc, "/KeyfactorAPI/CertificateStores", "post");
    let good = json!({"ClientMachine": "web01", "Storepath": "/stores/web.pem", "CertStoreType": 2,
                      "Password": {"SecretName": "store_password"}, "Properties": {"trust_store": true},
                      "InventorySchedule": {"Weekly": {"Days": ["Monday", 5], "Time": "2024-01-01T02:00:00Z"}}});
    assert!(store.is_valid(&good));
    for (key, value) in [
        ("Storepath", json!("/etc/passwd")),
        ("Storepath", json!("/stores/../etc/passwd")),
        ("Storepath", json!("stores/a.pem")),
        ("CertStoreType", json!(0)),
        ("Password", json!({"SecretName": "other"})),
        ("Password", json!("plain")),
        ("Properties", json!({"trust_store": "yes"})),
        ("Properties", json!({"SecretValue": "x"})),
        ("InventorySchedule", json!({"Hourly": {}})),
        ("InventorySchedule", json!({"Interval": {"Minutes": 0}})),
        ("AgentId", json!("ghost")),
    ] {
        let mut bad = good.clone();
        bad[key] = value;
        assert!(!store.is_valid(&bad), "{key}: {bad}");
    }
    let mut unapproved = good.clone();
    unapproved["Approved"] = json!(false);
    assert!(
        !store.is_valid(&unapproved),
        "an unapproved store has no schedule"
    );
    unapproved["InventorySchedule"] = json!({"Off": true});
    assert!(store.is_valid(&unapproved));

    let custom = body_schema(&doc, "/KeyfactorAPI/OrchestratorJobs/Custom", "post");
    assert!(custom.is_valid(
        &json!({"JobTypeName": "hello", "Schedule": {"Interval": {"Minutes": 90}},
                                    "JobFields": {"name": "A"}})
    ));
    assert!(
        !custom.is_valid(&json!({"JobTypeName": "hello", "Schedule": {"Off": true},
                                     "JobFields": {"name": "A"}}))
    );
    assert!(
        !custom.is_valid(
            &json!({"JobTypeName": "cckm_key_rotation", "Schedule": {"Immediate": true}})
        )
    );

    let batch = body_schema(&doc, "/KeyfactorAPI/OrchestratorJobs/Reschedule", "post");
    assert!(batch.is_valid(&json!({"JobAuditIds": [1, 2]})));
    assert!(batch.is_valid(&json!({"Query": "Result -eq 4 AND Status -eq 3"})));
    assert!(!batch.is_valid(&json!({"JobAuditIds": [1], "Query": "Result -eq 4"})));
    assert!(!batch.is_valid(&json!({"Query": "Result -eq"})));

    let reenroll = body_schema(&doc, "/KeyfactorAPI/CertificateStores/Reenrollment", "post");
    let good = json!({"KeystoreId": "01a22d02-3e57-7532-a840-c23825d287ed",
                      "SubjectName": "CN=web.example.com,O=Example,C=US", "AgentGuid": "node-1",
                      "Alias": "web", "SANs": {"dns": ["web.example.com"], "ip4": ["10.0.0.1"]}});
    assert!(reenroll.is_valid(&good));
    let mut bad = good.clone();
    bad["SubjectName"] = json!("web");
    assert!(!reenroll.is_valid(&bad));
}

/// What the schemas call valid, the server's readers take: samples from each schema's
/// own examples go through the real parsers.
#[test]
fn schema_valid_schedules_parse() {
    for body in [
        json!({"Interval": {"Minutes": 525_600}}),
        json!({"Weekly": {"Days": [0, "Saturday"], "Time": "0001-01-01T00:00:00Z"}}),
        json!({"Monthly": {"Day": 31, "Time": "9999-12-31T23:59:59+14:00"}}),
        json!({"ExactlyOnce": {"Time": "9999-12-31T23:59:59Z"}}),
        json!({"Off": true}),
    ] {
        let schema = keyfactor::schedule(crate::api::keyfactor::kit::schedule::KINDS);
        assert!(
            jsonschema::validator_for(&schema).unwrap().is_valid(&body),
            "{body}"
        );
        let parsed = crate::api::keyfactor::kit::schedule::parse(body.clone(), "Schedule")
            .unwrap_or_else(|e| panic!("{body}: {}", e.message));
        if let Some(r) = parsed {
            crate::domain::schedule::recurrence_fires(&r, chrono::Utc::now());
        }
    }
}

#[test]
fn ssl_bodies() {
    let doc = build(&offer());
    let network = body_schema(&doc, "/KeyfactorAPI/SSL/Networks", "post");
    let good = json!({"Name": "lab", "Description": "", "AgentPoolName": "Default Agent Pool",
                      "DiscoverSchedule": {"Interval": {"Minutes": 60}}, "MonitorSchedule": null,
                      "DiscoverTimeoutMs": 500, "MonitorTimeoutMs": 30000, "ExpirationAlertDays": 30,
                      "QuietHours": [{"StartDay": 6, "StartTime": "22:00", "EndDay": 0, "EndTime": "2024-01-01T06:30:00Z"}],
                      "SslAlertRecipients": ["ops@example.com"], "AutoMonitor": true,
                      "DiscoverStatus": 3});
    assert!(network.is_valid(&good));
    for (key, value) in [
        ("Name", json!("   ")),
        ("Name", json!("a\u{7}b")),
        ("Name", json!("x".repeat(257))),
        ("DiscoverTimeoutMs", json!(0)),
        ("MonitorTimeoutMs", json!(30001)),
        ("ExpirationAlertDays", json!(-1)),
        (
            "QuietHours",
            json!([{"StartDay": 7, "StartTime": "22:00", "EndDay": 0, "EndTime": "06:00"}]),
        ),
        (
            "QuietHours",
            json!([{"StartDay": 1, "StartTime": "24:00", "EndDay": 2, "EndTime": "06:00"}]),
        ),
        (
            "QuietHours",
            json!([{"StartDay": 1, "StartTime": "7:00", "EndDay": 2, "EndTime": "06:00"}]),
        ),
        ("SslAlertRecipients", json!([""])),
    ] {
        let mut bad = good.clone();
        bad[key] = value;
        assert!(!network.is_valid(&bad), "{key}: {bad}");
    }
    let ranges = body_schema(&doc, "/KeyfactorAPI/SSL/NetworkRanges", "post");
    let id = "0191d6a0-0000-7000-8000-000000000000";
    for good in [
        "127.0.0.0/30:443",
        " 10.0.0.5-10.0.0.9:443,8443 ",
        "[::1]:8443",
        "fd00::/120",
        "web.example:443",
    ] {
        assert!(
            ranges.is_valid(&json!({"NetworkId": id, "Ranges": [good]})),
            "{good}"
        );
    }
    for bad in [
        "127.0.0.0/33",
        "10.0.0.1-::1",
        "10.0.0.01",
        "10.0.0.1:0",
        "1.2.3.4.5",
        "bad_host",
        "[10.0.0.1]",
    ] {
        assert!(
            !ranges.is_valid(&json!({"NetworkId": id, "Ranges": [bad]})),
            "{bad}"
        );
    }
}
