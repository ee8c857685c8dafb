//! Config listing: every filter, sort keys (single, multi, both directions, text
//! collation), paging with totals, and the sort allow-list.

use std::sync::Arc;

use keywarden_db::{ConfigFilter, Database, DbError, JobConfig, Sort};
use serde_json::json;
use uuid::Uuid;

use crate::t;

/// Six configs: (account, name, operation, disabled, cloud_name, expire_in, created second).
async fn seed_configs(db: &Arc<dyn Database>) -> Vec<JobConfig> {
    let specs = [
        (
            "kylo",
            "alpha",
            "cckm_key_rotation",
            false,
            Some("aws"),
            Some("6h"),
            10,
        ),
        (
            "kylo",
            "Bravo",
            "cckm_key_rotation",
            true,
            Some("gcp"),
            None,
            20,
        ),
        (
            "kylo",
            "charlie",
            "cckm_synchronization",
            false,
            Some("aws"),
            Some("2d"),
            30,
        ),
        ("kylo", "delta", "database_backup", false, None, None, 40),
        (
            "acme",
            "alpha",
            "cckm_key_rotation",
            false,
            Some("aws"),
            Some("6h"),
            50,
        ),
        (
            "acme",
            "echo",
            "cckm_synchronization",
            true,
            Some("AzureCloud"),
            Some("6h"),
            60,
        ),
    ];
    let mut out = Vec::new();
    for (account, name, op, disabled, cloud, expire, at) in specs {
        let mut c = JobConfig::new(account, name, op, "0 1 * * *", t(at));
        c.disabled = disabled;
        let mut params = serde_json::Map::new();
        if let Some(v) = cloud {
            params.insert("cloud_name".into(), json!(v));
        }
        if let Some(v) = expire {
            params.insert("expire_in".into(), json!(v));
        }
        c.params = params.into();
        c.updated_at = t(1000 - at); // reverse of creation order
        c.run_at = format!("{} 1 * * *", at / 10);
        out.push(db.insert_config(&c).await.unwrap());
    }
    out
}

async fn config_names(db: &Arc<dyn Database>, f: &ConfigFilter, sort: &Sort) -> (i64, Vec<String>) {
    let (total, rows) = db.list_configs(f, sort, 0, 100).await.unwrap();
    (
        total,
        rows.into_iter()
            .map(|c| format!("{}/{}", c.account_id, c.name))
            .collect(),
    )
}

pub async fn config_filters(db: Arc<dyn Database>) {
    let all = seed_configs(&db).await;
    let by_created = Sort::by("created_at", false);
    let check = |f: ConfigFilter, want: &'static [&'static str]| {
        let db = db.clone();
        let by_created = by_created.clone();
        async move {
            let (total, names) = config_names(&db, &f, &by_created).await;
            assert_eq!(names, want, "filter {f:?}");
            assert_eq!(total, want.len() as i64, "total for {f:?}");
        }
    };
    let everything = &[
        "kylo/alpha",
        "kylo/Bravo",
        "kylo/charlie",
        "kylo/delta",
        "acme/alpha",
        "acme/echo",
    ];
    check(ConfigFilter::default(), everything).await;
    check(
        ConfigFilter {
            account_id: Some("acme".into()),
            ..Default::default()
        },
        &["acme/alpha", "acme/echo"],
    )
    .await;
    check(
        ConfigFilter {
            name: Some("alpha".into()),
            ..Default::default()
        },
        &["kylo/alpha", "acme/alpha"],
    )
    .await;
    check(
        ConfigFilter {
            id: Some(all[2].id),
            ..Default::default()
        },
        &["kylo/charlie"],
    )
    .await;
    check(
        ConfigFilter {
            id: Some(Uuid::now_v7()),
            ..Default::default()
        },
        &[],
    )
    .await;
    check(
        ConfigFilter {
            operation: Some("cckm_synchronization".into()),
            ..Default::default()
        },
        &["kylo/charlie", "acme/echo"],
    )
    .await;
    check(
        ConfigFilter {
            disabled: Some(true),
            ..Default::default()
        },
        &["kylo/Bravo", "acme/echo"],
    )
    .await;
    check(
        ConfigFilter {
            disabled: Some(false),
            ..Default::default()
        },
        &["kylo/alpha", "kylo/charlie", "kylo/delta", "acme/alpha"],
    )
    .await;
    check(
        ConfigFilter {
            cloud_name: Some("aws".into()),
            ..Default::default()
        },
        &["kylo/alpha", "kylo/charlie", "acme/alpha"],
    )
    .await;
    check(
        ConfigFilter {
            expire_in: Some("6h".into()),
            ..Default::default()
        },
        &["kylo/alpha", "acme/alpha", "acme/echo"],
    )
    .await;
    // Inclusive bounds.
    check(
        ConfigFilter {
            created_before: Some(t(20)),
            ..Default::default()
        },
        &["kylo/alpha", "kylo/Bravo"],
    )
    .await;
    check(
        ConfigFilter {
            created_after: Some(t(50)),
            ..Default::default()
        },
        &["acme/alpha", "acme/echo"],
    )
    .await;
    check(
        ConfigFilter {
            created_after: Some(t(20)),
            created_before: Some(t(39)),
            ..Default::default()
        },
        &["kylo/Bravo", "kylo/charlie"],
    )
    .await;
    // Filters combine with AND.
    check(
        ConfigFilter {
            account_id: Some("kylo".into()),
            cloud_name: Some("aws".into()),
            expire_in: Some("6h".into()),
            disabled: Some(false),
            ..Default::default()
        },
        &["kylo/alpha"],
    )
    .await;
}

pub async fn config_sort_and_page(db: Arc<dyn Database>) {
    seed_configs(&db).await;
    let f = ConfigFilter::default();
    // Default: newest first.
    let (_, names) = config_names(&db, &f, &Sort::default()).await;
    assert_eq!(
        names,
        [
            "acme/echo",
            "acme/alpha",
            "kylo/delta",
            "kylo/charlie",
            "kylo/Bravo",
            "kylo/alpha"
        ]
    );
    // Text sorts bytewise on every backend: "Bravo" < "alpha".
    let (_, names) = config_names(&db, &f, &Sort::parse("name,account_id")).await;
    assert_eq!(
        names,
        [
            "kylo/Bravo",
            "acme/alpha",
            "kylo/alpha",
            "kylo/charlie",
            "kylo/delta",
            "acme/echo"
        ]
    );
    let (_, names) = config_names(&db, &f, &Sort::parse("-name,-createdAt")).await;
    assert_eq!(
        names,
        [
            "acme/echo",
            "kylo/delta",
            "kylo/charlie",
            "acme/alpha",
            "kylo/alpha",
            "kylo/Bravo"
        ]
    );
    // Multi-key, mixed directions.
    let (_, names) = config_names(&db, &f, &Sort::parse("operation,-updatedAt")).await;
    assert_eq!(
        names,
        [
            "kylo/alpha",
            "kylo/Bravo",
            "acme/alpha",
            "kylo/charlie",
            "acme/echo",
            "kylo/delta"
        ]
    );
    let (_, names) = config_names(&db, &f, &Sort::by("disabled", true).then("run_at", false)).await;
    assert_eq!(
        names,
        [
            "kylo/Bravo",
            "acme/echo",
            "kylo/alpha",
            "kylo/charlie",
            "kylo/delta",
            "acme/alpha"
        ]
    );
    // Paging: total counts all matches, the page is a window of the sorted list.
    let by_created = Sort::by("createdAt", false);
    let (total, page) = db.list_configs(&f, &by_created, 2, 3).await.unwrap();
    assert_eq!(total, 6);
    assert_eq!(
        page.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["charlie", "delta", "alpha"]
    );
    let (total, page) = db.list_configs(&f, &by_created, 5, 10).await.unwrap();
    assert_eq!((total, page.len()), (6, 1));
    let (total, page) = db.list_configs(&f, &by_created, 10, 10).await.unwrap();
    assert_eq!((total, page.len()), (6, 0));
    let (total, page) = db.list_configs(&f, &by_created, 0, 0).await.unwrap();
    assert_eq!((total, page.len()), (6, 0));
    // Allow-list.
    for bad in ["password", "status", "params", "name; DROP TABLE jobs"] {
        match db.list_configs(&f, &Sort::by(bad, false), 0, 10).await {
            Err(DbError::InvalidSort(field)) => assert_eq!(field, bad),
            other => panic!("sort by {bad:?}: expected InvalidSort, got {other:?}"),
        }
    }
}

/// Params may carry U+0000 (JSON's `\u0000`), which PostgreSQL's `jsonb` refuses: the
/// params filters still answer (such a config has no member to match) instead of
/// failing every listing that filters on them. Found by schemathesis.
pub async fn params_filters_survive_nul_in_params(db: Arc<dyn Database>) {
    seed_configs(&db).await;
    let mut odd = JobConfig::new("kylo", "nul", "cckm_key_rotation", "0 1 * * *", t(70));
    odd.params = json!({"cloud_name": "aws", "note": "a\u{0}b"});
    db.insert_config(&odd).await.unwrap();
    for filter in [
        ConfigFilter {
            cloud_name: Some("aws".into()),
            ..Default::default()
        },
        ConfigFilter {
            expire_in: Some("]".into()),
            ..Default::default()
        },
    ] {
        let listed = db
            .list_configs(&filter, &Sort::by("created_at", false), 0, 100)
            .await;
        assert!(listed.is_ok(), "{filter:?}: {listed:?}");
    }
    let (_, aws) = config_names(
        &db,
        &ConfigFilter {
            cloud_name: Some("aws".into()),
            account_id: Some("kylo".into()),
            ..Default::default()
        },
        &Sort::by("created_at", false),
    )
    .await;
    assert!(
        aws.starts_with(&["kylo/alpha".to_owned(), "kylo/charlie".to_owned()]),
        "{aws:?}"
    );
    let stored = db.get_config(None, odd.id).await.unwrap().unwrap();
    assert_eq!(stored.params["note"], "a\u{0}b", "kept as given");
}
