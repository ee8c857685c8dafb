//! Certificate stores: CRUD and account scoping, listing, the inventory schedule the store
//! owns, inventories replaced whole, and discovered paths.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use keywarden_db::{
    CertificateStore, CertificateStoreFilter, Database, DbError, DiscoveredFilter, DiscoveredPath,
    InventoryEntry, InventoryFilter, JobConfig, JobFilter, Sort,
};
use serde_json::json;
use uuid::Uuid;

use crate::{assert_conflict, new_job, t};

pub fn pem_store(account: &str, path: &str) -> CertificateStore {
    let mut s = CertificateStore::new(account, "web01", path, "PEM", t(0));
    s.properties = json!({"separate_key": false});
    s.password_secret = Some("pem_password".into());
    s.agent_id = Some("node-a".into());
    s.container_id = Some(7);
    s
}

pub fn entry(store: &CertificateStore, alias: &str, not_after: DateTime<Utc>) -> InventoryEntry {
    InventoryEntry {
        store_id: store.id,
        source: keywarden_db::CertificateSource::Store,
        account_id: store.account_id.clone(),
        alias: alias.to_owned(),
        thumbprint: format!("{:0>40}", alias.len()),
        serial_number: "01".into(),
        subject: format!("CN={alias}"),
        issuer: "CN=Test CA".into(),
        sans: vec![format!("DNS:{alias}.example.com"), "IP:10.0.0.1".into()],
        not_before: t(0),
        not_after,
        has_private_key: alias.starts_with("key"),
        chain_length: 2,
        certificate: "MIIB".into(),
        job_id: Some(Uuid::now_v7()),
        inventoried_at: t(100),
    }
}

pub async fn certificate_store_crud(db: Arc<dyn Database>) {
    let s = pem_store("kylo", "/stores/web.pem");
    let stored = db.insert_certificate_store(&s).await.unwrap();
    assert_eq!(stored, s, "read back as written");
    assert_eq!(
        db.get_certificate_store(Some("kylo"), s.id).await.unwrap(),
        Some(s.clone())
    );
    assert_eq!(
        db.get_certificate_store(None, s.id).await.unwrap(),
        Some(s.clone())
    );
    assert_eq!(
        db.get_certificate_store(Some("rey"), s.id).await.unwrap(),
        None,
        "other accounts do not see it"
    );

    // Same location and type in the same account: conflict; other account or type: fine.
    let mut dup = pem_store("kylo", "/stores/web.pem");
    assert_conflict(db.insert_certificate_store(&dup).await);
    dup.store_type = "PKCS12".into();
    db.insert_certificate_store(&dup).await.unwrap();
    db.insert_certificate_store(&pem_store("rey", "/stores/web.pem"))
        .await
        .unwrap();

    let mut bad = pem_store("kylo", "/stores/other.pem");
    bad.properties = json!([1, 2]);
    assert!(matches!(
        db.insert_certificate_store(&bad).await,
        Err(DbError::Invalid(_))
    ));

    let mut edited = s.clone();
    edited.store_path = "/stores/web2.pem".into();
    edited.approved = false;
    edited.password_secret = None;
    edited.properties = json!({"a": 1});
    let updated = db.update_certificate_store(&edited).await.unwrap();
    assert_eq!(updated.store_path, "/stores/web2.pem");
    assert!(!updated.approved);
    assert_eq!(updated.password_secret, None);
    assert_eq!(updated.created_at, s.created_at);
    assert!(updated.updated_at > s.updated_at);
    let mut moved = edited.clone();
    moved.store_type = "PKCS12".into();
    moved.store_path = "/stores/web.pem".into();
    assert_conflict(db.update_certificate_store(&moved).await);
    let mut foreign = edited.clone();
    foreign.account_id = "rey".into();
    assert!(matches!(
        db.update_certificate_store(&foreign).await,
        Err(DbError::NotFound)
    ));

    assert!(
        !db.delete_certificate_store(Some("rey"), s.id)
            .await
            .unwrap()
    );
    assert!(
        db.delete_certificate_store(Some("kylo"), s.id)
            .await
            .unwrap()
    );
    assert!(!db.delete_certificate_store(None, s.id).await.unwrap());
    assert_eq!(db.get_certificate_store(None, s.id).await.unwrap(), None);
}

pub async fn certificate_store_listing(db: Arc<dyn Database>) {
    let mut ids = Vec::new();
    for (i, path) in ["/s/c.pem", "/s/a.pem", "/s/b.pem"].iter().enumerate() {
        let mut s = pem_store("kylo", path);
        s.created_at = t(i as i64);
        s.updated_at = s.created_at;
        if i == 2 {
            s.store_type = "JKS".into();
            s.approved = false;
            s.agent_id = None;
        }
        ids.push(db.insert_certificate_store(&s).await.unwrap().id);
    }
    db.insert_certificate_store(&pem_store("rey", "/s/z.pem"))
        .await
        .unwrap();

    let kylo = CertificateStoreFilter {
        account_id: Some("kylo".into()),
        ..Default::default()
    };
    let (total, rows) = db
        .list_certificate_stores(&kylo, &Sort::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 3);
    let got: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    assert_eq!(got, vec![ids[2], ids[1], ids[0]], "newest first by default");

    let (_, rows) = db
        .list_certificate_stores(&kylo, &Sort::by("store_path", false), 1, 1)
        .await
        .unwrap();
    assert_eq!(
        rows[0].store_path, "/s/b.pem",
        "sorted by path, second page of one"
    );

    let filtered = |f: CertificateStoreFilter| {
        let db = db.clone();
        async move {
            db.list_certificate_stores(&f, &Sort::default(), 0, 10)
                .await
                .unwrap()
                .0
        }
    };
    assert_eq!(
        filtered(CertificateStoreFilter {
            store_type: Some("JKS".into()),
            ..kylo.clone()
        })
        .await,
        1
    );
    assert_eq!(
        filtered(CertificateStoreFilter {
            approved: Some(true),
            agent_id: Some("node-a".into()),
            ..kylo.clone()
        })
        .await,
        2
    );
    assert_eq!(
        filtered(CertificateStoreFilter {
            store_path: Some("/s/z.pem".into()),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        filtered(CertificateStoreFilter {
            client_machine: Some("web01".into()),
            container_id: Some(7),
            ..Default::default()
        })
        .await,
        4
    );
    assert!(matches!(
        db.list_certificate_stores(&kylo, &Sort::by("password_secret", false), 0, 10)
            .await,
        Err(DbError::InvalidSort(_))
    ));
}

pub async fn inventory_schedule_is_owned_by_the_store(db: Arc<dyn Database>) {
    let s = db
        .insert_certificate_store(&pem_store("kylo", "/s/web.pem"))
        .await
        .unwrap();
    let mut config = JobConfig::new(
        "kylo",
        &format!("inventory {}", s.id),
        "Inventory",
        "*/5 * * * *",
        t(0),
    );
    config.params = json!({"certificate_store_id": s.id.to_string()});
    let mut job = new_job("kylo", "inventory now", t(1), t(1));
    job.job_config_id = Some(config.id);
    job.operation = "Inventory".into();
    let linked = db
        .set_inventory_schedule("kylo", s.id, Some(&config), std::slice::from_ref(&job))
        .await
        .unwrap();
    assert_eq!(linked.inventory_config_id, Some(config.id));
    let stored = db
        .get_config(Some("kylo"), config.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.run_at, "*/5 * * * *");
    assert!(db.get_job(Some("kylo"), job.id).await.unwrap().is_some());

    // Other accounts cannot schedule it; nothing changes.
    let mut other = config.clone();
    other.id = Uuid::now_v7();
    other.account_id = "rey".into();
    other.name = "x".into();
    assert!(matches!(
        db.set_inventory_schedule("rey", s.id, Some(&other), &[])
            .await,
        Err(DbError::NotFound)
    ));
    assert!(db.get_config(None, other.id).await.unwrap().is_none());

    // Rescheduling replaces the config (same id kept by the caller); None removes it.
    let mut daily = config.clone();
    daily.run_at = "30 2 * * *".into();
    db.set_inventory_schedule("kylo", s.id, Some(&daily), &[])
        .await
        .unwrap();
    assert_eq!(
        db.get_config(None, config.id)
            .await
            .unwrap()
            .unwrap()
            .run_at,
        "30 2 * * *"
    );
    let cleared = db
        .set_inventory_schedule("kylo", s.id, None, &[])
        .await
        .unwrap();
    assert_eq!(cleared.inventory_config_id, None);
    assert!(db.get_config(None, config.id).await.unwrap().is_none());
    assert!(
        db.get_job(None, job.id).await.unwrap().is_some(),
        "past jobs stay"
    );

    // Deleting the store deletes the config it owns, not its jobs.
    let again = JobConfig::new("kylo", "inventory again", "Inventory", "@daily", t(0));
    db.set_inventory_schedule("kylo", s.id, Some(&again), &[])
        .await
        .unwrap();
    assert!(
        db.delete_certificate_store(Some("kylo"), s.id)
            .await
            .unwrap()
    );
    assert!(db.get_config(None, again.id).await.unwrap().is_none());
    let (jobs, _) = db
        .list_jobs(&JobFilter::default(), &Sort::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(jobs, 1);
}

pub async fn inventory_is_replaced_whole(db: Arc<dyn Database>) {
    let a = db
        .insert_certificate_store(&pem_store("kylo", "/s/a.pem"))
        .await
        .unwrap();
    let b = db
        .insert_certificate_store(&pem_store("rey", "/s/b.pem"))
        .await
        .unwrap();
    let first = vec![
        entry(&a, "key-web", t(1000)),
        entry(&a, "ca", t(5000)),
        entry(&a, "old", t(500)),
    ];
    assert_eq!(db.replace_inventory("kylo", a.id, &first).await.unwrap(), 3);
    db.replace_inventory("rey", b.id, &[entry(&b, "other", t(10))])
        .await
        .unwrap();

    let of_a = InventoryFilter {
        store_id: Some(a.id),
        ..Default::default()
    };
    let (total, rows) = db
        .list_inventory(&of_a, &Sort::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 3);
    let aliases: Vec<&str> = rows.iter().map(|r| r.alias.as_str()).collect();
    assert_eq!(aliases, ["old", "key-web", "ca"], "soonest expiry first");
    assert_eq!(rows[1], first[0], "read back as written");

    let expiring = InventoryFilter {
        not_after_before: Some(t(1000)),
        ..of_a.clone()
    };
    assert_eq!(
        db.list_inventory(&expiring, &Sort::default(), 0, 10)
            .await
            .unwrap()
            .0,
        2
    );
    let kylo_only = InventoryFilter {
        account_id: Some("kylo".into()),
        not_after_before: Some(t(100)),
        ..Default::default()
    };
    assert_eq!(
        db.list_inventory(&kylo_only, &Sort::default(), 0, 10)
            .await
            .unwrap()
            .0,
        0,
        "rey's expiring entry is not kylo's"
    );
    let (_, by_alias) = db
        .list_inventory(&of_a, &Sort::by("alias", true), 0, 2)
        .await
        .unwrap();
    assert_eq!(by_alias[0].alias, "old");

    // A second inventory replaces the first; a duplicate alias changes nothing.
    db.replace_inventory("kylo", a.id, &[entry(&a, "new", t(9000))])
        .await
        .unwrap();
    let (total, rows) = db
        .list_inventory(&of_a, &Sort::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!((total, rows[0].alias.as_str()), (1, "new"));
    assert_conflict(
        db.replace_inventory("kylo", a.id, &[entry(&a, "x", t(1)), entry(&a, "x", t(2))])
            .await,
    );
    assert_eq!(
        db.list_inventory(&of_a, &Sort::default(), 0, 10)
            .await
            .unwrap()
            .0,
        1
    );
    assert!(matches!(
        db.replace_inventory("kylo", a.id, &[entry(&b, "y", t(1))])
            .await,
        Err(DbError::Invalid(_))
    ));

    // Another account's store is not found, whatever the entries say; nothing changes.
    let mut foreign = entry(&a, "planted", t(1));
    foreign.account_id = "rey".into();
    assert!(matches!(
        db.replace_inventory("rey", a.id, &[foreign]).await,
        Err(DbError::NotFound)
    ));
    assert!(matches!(
        db.replace_inventory("kylo", a.id, &[entry(&b, "y", t(1))])
            .await,
        Err(DbError::Invalid(_))
    ));
    assert_eq!(
        db.list_inventory(&of_a, &Sort::default(), 0, 10)
            .await
            .unwrap()
            .0,
        1
    );

    // Gone with the store; an inventory for a deleted store is NotFound.
    db.delete_certificate_store(None, a.id).await.unwrap();
    assert_eq!(
        db.list_inventory(&of_a, &Sort::default(), 0, 10)
            .await
            .unwrap()
            .0,
        0
    );
    assert!(matches!(
        db.replace_inventory("kylo", a.id, &[]).await,
        Err(DbError::NotFound)
    ));
}

pub async fn discovered_paths(db: Arc<dyn Database>) {
    let found = |account: &str, path: &str, at: i64| DiscoveredPath {
        account_id: account.to_owned(),
        store_type: "PEM".into(),
        client_machine: "web01".into(),
        path: path.to_owned(),
        job_id: Some(Uuid::now_v7()),
        discovered_at: t(at),
    };
    db.record_discovered_paths(&[found("kylo", "/s/b.pem", 1), found("kylo", "/s/a.pem", 1)])
        .await
        .unwrap();
    let again = found("kylo", "/s/a.pem", 50);
    db.record_discovered_paths(&[again.clone(), found("rey", "/s/a.pem", 2)])
        .await
        .unwrap();
    let kylo = DiscoveredFilter {
        account_id: Some("kylo".into()),
        ..Default::default()
    };
    let (total, rows) = db.list_discovered_paths(&kylo, 0, 10).await.unwrap();
    assert_eq!(total, 2, "a path found twice is one row");
    assert_eq!(rows[0], again, "with the newer job and time");
    assert_eq!(rows[1].path, "/s/b.pem");
    let jks = DiscoveredFilter {
        store_type: Some("JKS".into()),
        ..kylo.clone()
    };
    assert_eq!(db.list_discovered_paths(&jks, 0, 10).await.unwrap().0, 0);
    let all = DiscoveredFilter {
        client_machine: Some("web01".into()),
        ..Default::default()
    };
    let (total, page) = db.list_discovered_paths(&all, 2, 10).await.unwrap();
    assert_eq!((total, page.len()), (3, 1));
}
