//! Synchronized cloud keys: per-source snapshots replace each other, listings filter
//! (alias as an exact, case-sensitive element match), sort and page.

use std::sync::Arc;

use keywarden_db::{Database, DbError, KeyFilter, Sort, SyncedKey};
use serde_json::json;

use crate::t;

fn key(
    account: &str,
    source: &str,
    id: &str,
    aliases: &[&str],
    state: &str,
    age: i64,
) -> SyncedKey {
    SyncedKey {
        account_id: account.to_owned(),
        source: source.to_owned(),
        cloud_name: "aws".to_owned(),
        key_id: id.to_owned(),
        resource_name: Some(format!("arn:aws:kms:us-east-1:123456789012:key/{id}")),
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        state: state.to_owned(),
        created_at: Some(t(age)),
        rotated_at: None,
        attributes: json!({"key_spec": "SYMMETRIC_DEFAULT"}),
        synced_at: t(10_000),
    }
}

fn ids(rows: &[SyncedKey]) -> Vec<&str> {
    rows.iter().map(|k| k.key_id.as_str()).collect()
}

async fn list(db: &dyn Database, filter: KeyFilter) -> (i64, Vec<SyncedKey>) {
    db.list_cloud_keys(&filter, &Sort::by("key_id", false), 0, 100)
        .await
        .unwrap()
}

pub async fn cloud_key_snapshots(db: Arc<dyn Database>) {
    let first = vec![
        key("kylo", "cfg-1", "k1", &["alias/app"], "Enabled", 1),
        key("kylo", "cfg-1", "k2", &[], "Disabled", 2),
    ];
    assert_eq!(
        db.replace_cloud_keys("kylo", "cfg-1", &first)
            .await
            .unwrap(),
        2
    );
    let (total, rows) = list(&*db, KeyFilter::default()).await;
    assert_eq!(total, 2);
    assert_eq!(rows, first, "stored exactly as given");

    // Another source (another region) keeps its own snapshot.
    let other = vec![key("kylo", "cfg-2", "k1", &["alias/eu"], "Enabled", 3)];
    db.replace_cloud_keys("kylo", "cfg-2", &other)
        .await
        .unwrap();

    // The next sync of cfg-1: k2 was deleted in the cloud, k3 is new, k1 changed.
    let mut k1 = key(
        "kylo",
        "cfg-1",
        "k1",
        &["alias/app", "alias/app-2"],
        "Disabled",
        1,
    );
    k1.rotated_at = Some(t(500));
    let second = vec![
        k1.clone(),
        key("kylo", "cfg-1", "k3", &["alias/app"], "Enabled", 4),
    ];
    assert_eq!(
        db.replace_cloud_keys("kylo", "cfg-1", &second)
            .await
            .unwrap(),
        2
    );
    let (total, rows) = list(
        &*db,
        KeyFilter {
            source: Some("cfg-1".into()),
            ..KeyFilter::default()
        },
    )
    .await;
    assert_eq!(total, 2);
    assert_eq!(rows, second);
    let (total, _) = list(&*db, KeyFilter::default()).await;
    assert_eq!(total, 3, "cfg-2's snapshot untouched");

    // An empty snapshot empties the source.
    db.replace_cloud_keys("kylo", "cfg-2", &[]).await.unwrap();
    let (total, _) = list(&*db, KeyFilter::default()).await;
    assert_eq!(total, 2);

    // A key naming another account or source is refused and changes nothing.
    let wrong = vec![key("other", "cfg-1", "k9", &[], "Enabled", 1)];
    assert!(matches!(
        db.replace_cloud_keys("kylo", "cfg-1", &wrong).await,
        Err(DbError::Invalid(_))
    ));
    // A duplicate key id fails the whole snapshot; the previous one stays.
    let dup = vec![
        key("kylo", "cfg-1", "k1", &[], "Enabled", 1),
        key("kylo", "cfg-1", "k1", &[], "Enabled", 1),
    ];
    assert!(db.replace_cloud_keys("kylo", "cfg-1", &dup).await.is_err());
    let (_, rows) = list(&*db, KeyFilter::default()).await;
    assert_eq!(rows, second, "a failed replace rolls back");
}

pub async fn cloud_key_filters(db: Arc<dyn Database>) {
    db.replace_cloud_keys(
        "kylo",
        "cfg-1",
        &[
            key(
                "kylo",
                "cfg-1",
                "k1",
                &["alias/app", "alias/db"],
                "Enabled",
                1,
            ),
            key("kylo", "cfg-1", "k2", &["alias/app-old"], "Disabled", 2),
            key("kylo", "cfg-1", "k3", &["alias/App"], "PendingDeletion", 3),
            key("kylo", "cfg-1", "k4", &["alias/a_p"], "Enabled", 4),
        ],
    )
    .await
    .unwrap();
    let mut azure = key("team", "cfg-9", "k1", &["alias/app"], "Enabled", 5);
    azure.cloud_name = "AzureCloud".into();
    db.replace_cloud_keys("team", "cfg-9", &[azure])
        .await
        .unwrap();

    let f = |alias: Option<&str>, state: Option<&str>| KeyFilter {
        account_id: Some("kylo".into()),
        alias: alias.map(str::to_owned),
        state: state.map(str::to_owned),
        ..KeyFilter::default()
    };
    assert_eq!(
        ids(&list(&*db, f(Some("alias/app"), None)).await.1),
        ["k1"],
        "exact element, not a prefix, case-sensitive"
    );
    assert_eq!(
        ids(&list(&*db, f(Some("alias/a_p"), None)).await.1),
        ["k4"],
        "no wildcards"
    );
    assert_eq!(ids(&list(&*db, f(Some("alias/db"), None)).await.1), ["k1"]);
    assert!(list(&*db, f(Some("alias/nope"), None)).await.1.is_empty());
    assert_eq!(
        ids(&list(&*db, f(None, Some("Enabled"))).await.1),
        ["k1", "k4"]
    );
    let (total, rows) = list(
        &*db,
        KeyFilter {
            key_id: Some("k1".into()),
            ..KeyFilter::default()
        },
    )
    .await;
    assert_eq!(total, 2, "admin view spans accounts");
    assert_eq!(rows.len(), 2);
    let (total, rows) = list(
        &*db,
        KeyFilter {
            cloud_name: Some("AzureCloud".into()),
            ..KeyFilter::default()
        },
    )
    .await;
    assert_eq!((total, rows[0].account_id.as_str()), (1, "team"));

    // Sort and page: newest created first by default; total counts every match.
    let (total, page) = db
        .list_cloud_keys(&f(None, None), &Sort::default(), 1, 2)
        .await
        .unwrap();
    assert_eq!(total, 4);
    assert_eq!(ids(&page), ["k3", "k2"]);
    let (_, page) = db
        .list_cloud_keys(&f(None, None), &Sort::parse("state,-key_id"), 0, 10)
        .await
        .unwrap();
    assert_eq!(ids(&page), ["k2", "k4", "k1", "k3"]);
    assert!(matches!(
        db.list_cloud_keys(&f(None, None), &Sort::by("attributes", false), 0, 10)
            .await,
        Err(DbError::InvalidSort(_))
    ));
}
