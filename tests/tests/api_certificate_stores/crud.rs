//! Create, read, update and delete, validation and account scoping.

use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

async fn crud_validation_and_scoping(s: &TestServer, _fx: &Fixtures) {
    let t = s.admin.as_str();
    let created = create_store(
        s,
        t,
        json!({"clientmachine": "web01", "StorePath": "/stores/web.p12", "CertStoreType": "pkcs12",
               "Properties": "{}", "AgentId": "test-node", "ContainerId": 3,
               "Password": {"SecretName": "p12_password"}}),
    )
    .await;
    let id = created["Id"].as_str().unwrap().to_owned();
    assert_eq!(created["ClientMachine"], "web01");
    assert_eq!(created["Storepath"], "/stores/web.p12");
    assert_eq!(created["CertStoreType"], 102);
    assert_eq!(created["CertStoreTypeName"], "PKCS12");
    assert_eq!(created["Approved"], true);
    assert_eq!(created["AgentId"], "test-node");
    assert_eq!(created["ContainerId"], 3);
    assert_eq!(created["Properties"], "{}");
    assert_eq!(created["Password"], json!({"SecretName": "p12_password"}));
    assert_eq!(created["CertStoreInventoryJobId"], Value::Null);
    let (status, got) = s.get(t, &format!("{STORES}/{id}")).await;
    assert_eq!((status, &got), (StatusCode::OK, &created));

    // Validation: each mistake names its field.
    let cases = [
        (
            json!({"Storepath": "/stores/a.pem", "CertStoreType": 2}),
            StatusCode::BAD_REQUEST,
            "ClientMachine",
        ),
        (
            json!({"ClientMachine": "w", "CertStoreType": 2}),
            StatusCode::BAD_REQUEST,
            "Storepath",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a", "CertStoreType": 77}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "CertStoreType",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a", "CertStoreType": "IIS"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "CertStoreType",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/etc/a.pem", "CertStoreType": 2}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Storepath",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/../etc/a.pem", "CertStoreType": 2}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Storepath",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.p12", "CertStoreType": 102, "Password": "changeit"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Password",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.p12", "CertStoreType": 102, "Password": {"SecretValue": "changeit"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Password",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.p12", "CertStoreType": 102, "Password": {"SecretName": "nope"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Password.SecretName",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.p12", "CertStoreType": 102, "Password": {"SecretName": "not_granted"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Password.SecretName",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.pem", "CertStoreType": 2, "Properties": {"ServerPassword": {"SecretValue": "x"}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Properties.ServerPassword.SecretValue",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.pem", "CertStoreType": 2, "Properties": {"colour": "red"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Properties.colour",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.pem", "CertStoreType": 2, "Properties": "{not json"}),
            StatusCode::BAD_REQUEST,
            "Properties",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.pem", "CertStoreType": 2, "Approved": "yes"}),
            StatusCode::BAD_REQUEST,
            "Approved",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.pem", "CertStoreType": 2, "Colour": 1}),
            StatusCode::BAD_REQUEST,
            "Colour",
        ),
        (
            json!({"ClientMachine": "w", "Storepath": "/stores/a.pem", "CertStoreType": 2, "InventorySchedule": {"Interval": {"Minutes": 0}}}),
            StatusCode::BAD_REQUEST,
            "InventorySchedule.Interval.Minutes",
        ),
    ];
    for (body, want, field) in cases {
        let (status, err) = s.post(t, STORES, &body).await;
        assert_error(status, &err, want, field);
    }
    let (status, err) = s
        .post(
            t,
            STORES,
            &json!({"ClientMachine": "w", "Storepath": "/stores/a", "CertStoreType": 77}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("PEM (2)") && message.contains("PKCS12 (102)"),
        "{message}"
    );
    // Same machine, path and type again: conflict.
    let (status, err) = s
        .post(t, STORES, &json!({"ClientMachine": "web01", "Storepath": "/stores/web.p12", "CertStoreType": 102}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");

    // List: filters, paging, x-total-count.
    create_store(s, t, pem_store("/stores/b.pem")).await;
    create_store(s, t, pem_store("/stores/a.pem")).await;
    let (status, page, total) = s
        .get_counted(
            t,
            &format!("{STORES}?CertStoreType=2&SortField=Storepath&ReturnLimit=1&PageReturned=2"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(total, Some(2));
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["Storepath"], "/stores/b.pem");
    let (_, _, total) = s.get_counted(t, STORES).await;
    assert_eq!(total, Some(3));
    let (status, err) = s.get(t, &format!("{STORES}?SortField=Password")).await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "SortField");

    // PUT replaces (Id in the body).
    let mut edited = created.clone();
    edited["Storepath"] = json!("/stores/moved.p12");
    edited["Approved"] = json!(false);
    let (status, put) = s.put(t, STORES, &edited).await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["Storepath"], "/stores/moved.p12");
    assert_eq!(put["Approved"], false);
    assert_eq!(put["Password"], json!({"SecretName": "p12_password"}));
    let (status, err) = s.put(t, STORES, &json!({"ClientMachine": "w"})).await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "Id");

    // Another account sees none of it.
    let other = s.token("team-b", false).await;
    for path in [format!("{STORES}/{id}"), format!("{STORES}/{id}/Inventory")] {
        let (status, _) = s.get(&other, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (_, page, total) = s.get_counted(&other, STORES).await;
    assert_eq!((total, page), (Some(0), json!([])));
    let (status, _) = s.put(&other, STORES, &edited).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.delete(&other, &format!("{STORES}/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, err) = s
        .post(
            &other,
            &format!("{STORES}/Schedule"),
            &json!({"StoreIds": [id], "Schedule": {"Immediate": true}}),
        )
        .await;
    assert_error(status, &err, StatusCode::NOT_FOUND, "StoreIds[0]");
    let (status, _) = s.call(reqwest::Method::GET, STORES, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, doc) = s
        .call(reqwest::Method::GET, "/openapi.json", Some(&s.admin), None)
        .await;
    for path in [
        "/KeyfactorAPI/CertificateStores",
        "/KeyfactorAPI/CertificateStores/{id}",
        "/KeyfactorAPI/CertificateStores/Schedule",
        "/KeyfactorAPI/CertificateStores/Reenrollment",
        "/KeyfactorAPI/CertificateStores/{id}/Inventory",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }

    let (status, _) = s.delete(t, &format!("{STORES}/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(t, &format!("{STORES}/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Schedules a store's inventory now and waits for that job.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_store_crud_validation_and_scoping() {
    on_each_backend(crud_validation_and_scoping).await;
}
