//! Every fault of the query language answers 400 with its position.

use keywarden_tests::server::{TestServer, on_each_backend};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

async fn query_faults(s: &TestServer) {
    let t = s.admin.as_str();
    for (query, position, reason) in [
        ("Message -eq \"disk", 13, "unterminated string"),
        ("Message -eq \"a\\qb\"", 15, "unknown escape"),
        ("Status -equals 3", 8, "unknown operator"),
        ("Colour -eq red", 1, "unknown field Colour"),
        ("Status -eq", 11, "missing operand"),
        ("Status -eq 3 AND", 17, "missing operand"),
        ("AND Status -eq 3", 1, "missing operand"),
        ("Status 3", 8, "missing operator"),
        ("(Status -eq 3", 1, "unbalanced parentheses"),
        ("Status -eq 3)", 13, "unbalanced parentheses"),
        (
            "Status -eq 3 Result -eq 4",
            14,
            "expected AND, OR or the end",
        ),
        ("Message -gt \"a\"", 9, "type mismatch"),
        ("OperationStart -contains 2024", 16, "type mismatch"),
        ("Status -eq Done", 12, "Status takes a code"),
        ("OperationStart -gt yesterday", 20, "takes a date"),
        ("ScheduleType -eq Yearly", 18, "ScheduleType takes"),
    ] {
        let path = format!("{HISTORY}?QueryString={}", encode(query));
        let (status, body) = s.get(t, &path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["field"], "QueryString", "{query}: {body}");
        assert_eq!(body["position"], position, "{query}: {body}");
        assert!(
            body["reason"].as_str().unwrap().contains(reason),
            "{query}: {body}"
        );
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains(&format!("position {position}")),
            "{body}"
        );
        // The same fault in a Reschedule or Acknowledge query names `Query`.
        for endpoint in [RESCHEDULE, ACKNOWLEDGE] {
            let (status, body) = s.post(t, endpoint, &json!({"Query": query})).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
            assert_eq!(
                (body["field"].as_str(), body["position"].as_i64()),
                (Some("Query"), Some(position as i64))
            );
        }
    }
    for (params, field) in [
        ("PageReturned=0", "PageReturned"),
        ("ReturnLimit=ten", "ReturnLimit"),
        ("SortField=Operation", "SortField"),
        ("SortField=Colour", "SortField"),
        ("SortAscending=maybe", "SortAscending"),
    ] {
        let (status, body) = s.get(t, &format!("{HISTORY}?{params}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{params}: {body}");
        assert_eq!(body["field"], field, "{params}: {body}");
    }
    let (status, _) = s.get(t, &format!("{HISTORY}?Colour=red")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = s.call(reqwest::Method::GET, HISTORY, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // Documented in the OpenAPI document.
    let (_, doc) = s
        .call(reqwest::Method::GET, "/openapi.json", Some(&s.admin), None)
        .await;
    for path in [HISTORY, RESCHEDULE, ACKNOWLEDGE, CUSTOM] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from /openapi.json"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_fault_answers_400_with_its_position() {
    on_each_backend(query_faults).await;
}
