//! SSL networks: CRUD, names unique per account, account scoping, listing.

use std::sync::Arc;

use chrono::Utc;
use keywarden_db::{Database, DbError, QuietHour, Sort, SslNetwork, SslNetworkFilter};
use uuid::Uuid;

use crate::assert_conflict;

pub fn network(account: &str, name: &str) -> SslNetwork {
    let now = keywarden_db::truncate_micros(Utc::now());
    SslNetwork {
        id: Uuid::now_v7(),
        account_id: account.into(),
        name: name.into(),
        description: format!("{name} hosts"),
        agent_pool_name: "Default Agent Pool".into(),
        enabled: true,
        discover_schedule: None,
        monitor_schedule: None,
        discover_timeout_ms: 2000,
        monitor_timeout_ms: 2000,
        expiration_alert_days: 30,
        quiet_hours: vec![QuietHour {
            start_day: 6,
            start_minute: 22 * 60,
            end_day: 0,
            end_minute: 6 * 60,
        }],
        alert_recipients: vec!["ops@example.com".into()],
        auto_monitor: true,
        get_robots: false,
        ranges: vec!["127.0.0.0/30:443".into()],
        next_discover_at: None,
        next_monitor_at: None,
        created_at: now,
        updated_at: now,
    }
}

pub async fn ssl_networks(db: Arc<dyn Database>) {
    let lab = db
        .insert_ssl_network(&network("kylo", "lab"))
        .await
        .unwrap();
    assert_eq!(lab, network_like(&lab), "read back as written");
    assert_conflict(db.insert_ssl_network(&network("kylo", "lab")).await);
    let theirs = db.insert_ssl_network(&network("rey", "lab")).await.unwrap();
    db.insert_ssl_network(&network("kylo", "dmz"))
        .await
        .unwrap();

    assert!(
        db.get_ssl_network(Some("rey"), lab.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        db.get_ssl_network(Some("kylo"), lab.id)
            .await
            .unwrap()
            .as_ref(),
        Some(&lab)
    );

    let mut changed = lab.clone();
    changed.ranges.push("[::1]:8443".into());
    changed.enabled = false;
    changed.discover_schedule = Some(keywarden_db::Recurrence::Immediate);
    let after = db.update_ssl_network(&changed).await.unwrap();
    assert_eq!(after.ranges, ["127.0.0.0/30:443", "[::1]:8443"]);
    assert!(!after.enabled);
    assert_eq!(
        after.discover_schedule,
        Some(keywarden_db::Recurrence::Immediate)
    );
    let mut renamed = after.clone();
    renamed.name = "dmz".into();
    assert_conflict(db.update_ssl_network(&renamed).await);
    let mut foreign = after.clone();
    foreign.account_id = "rey".into();
    assert!(matches!(
        db.update_ssl_network(&foreign).await,
        Err(DbError::NotFound)
    ));

    let kylo = SslNetworkFilter {
        account_id: Some("kylo".into()),
        ..Default::default()
    };
    let (total, page) = db
        .list_ssl_networks(&kylo, &Sort::by("name", false), 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 2);
    let names: Vec<&str> = page.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["dmz", "lab"]);
    let by_name = SslNetworkFilter {
        name: Some("lab".into()),
        ..Default::default()
    };
    assert_eq!(
        db.list_ssl_networks(&by_name, &Sort::default(), 0, 10)
            .await
            .unwrap()
            .0,
        2,
        "both accounts' for an admin"
    );
    assert!(matches!(
        db.list_ssl_networks(&kylo, &Sort::by("colour", false), 0, 10)
            .await,
        Err(DbError::InvalidSort(_))
    ));

    assert!(
        !db.delete_ssl_network(Some("kylo"), theirs.id)
            .await
            .unwrap()
    );
    assert!(db.delete_ssl_network(Some("kylo"), lab.id).await.unwrap());
    assert!(db.get_ssl_network(None, lab.id).await.unwrap().is_none());
    assert!(db.get_ssl_network(None, theirs.id).await.unwrap().is_some());
}

/// `n` as the test built it (the id and times it was given).
fn network_like(n: &SslNetwork) -> SslNetwork {
    let mut want = network(&n.account_id, &n.name);
    want.id = n.id;
    want.created_at = n.created_at;
    want.updated_at = n.updated_at;
    want
}

pub async fn ssl_schedules(db: Arc<dyn Database>) {
    let now = keywarden_db::truncate_micros(Utc::now());
    let mut due = network("kylo", "due");
    due.next_discover_at = Some(now - chrono::Duration::seconds(5));
    due.next_monitor_at = Some(now + chrono::Duration::hours(1));
    let due = db.insert_ssl_network(&due).await.unwrap();
    let mut off = network("kylo", "off");
    off.enabled = false;
    off.next_discover_at = Some(now - chrono::Duration::seconds(5));
    db.insert_ssl_network(&off).await.unwrap();
    let mut later = network("rey", "later");
    later.next_monitor_at = Some(now + chrono::Duration::hours(1));
    db.insert_ssl_network(&later).await.unwrap();

    let found = db.due_ssl_networks(now, 10).await.unwrap();
    assert_eq!(
        found.iter().map(|n| n.id).collect::<Vec<_>>(),
        [due.id],
        "enabled and due only"
    );
    let expected = due.next_discover_at.unwrap();
    let next = now + chrono::Duration::hours(1);
    let (a, b) = tokio::join!(
        db.advance_ssl_schedule(
            due.id,
            keywarden_db::ScanKind::Discovery,
            expected,
            Some(next)
        ),
        db.advance_ssl_schedule(
            due.id,
            keywarden_db::ScanKind::Discovery,
            expected,
            Some(next)
        ),
    );
    assert!(a.unwrap() ^ b.unwrap(), "one node wins the fire");
    assert!(db.due_ssl_networks(now, 10).await.unwrap().is_empty());
    let read = db.get_ssl_network(None, due.id).await.unwrap().unwrap();
    assert_eq!(
        (read.next_discover_at, read.next_monitor_at),
        (Some(next), due.next_monitor_at)
    );
}
