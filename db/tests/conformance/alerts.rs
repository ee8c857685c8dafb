//! Alerts: raised once per key, claimed by one node at a time, retried, deferred,
//! delivered or given up, listed per account.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use keywarden_db::{
    AlertFilter, AlertKind, AlertOutcome, AlertState, Database, NewAlert, truncate_micros,
};
use serde_json::json;
use uuid::Uuid;

fn alert(account: &str, key: &str) -> NewAlert {
    NewAlert {
        id: Uuid::now_v7(),
        account_id: account.into(),
        kind: AlertKind::CertificateExpiring,
        dedupe_key: key.into(),
        subject: "127.0.0.5:443".into(),
        message: "the certificate ends in 3 days".into(),
        details: json!({"thumbprint": "AA"}),
        network_id: Some(Uuid::now_v7()),
        job_config_id: None,
        job_id: None,
        created_at: truncate_micros(Utc::now() - Duration::seconds(5)),
    }
}

pub async fn alerts_are_raised_once_and_delivered_once(db: Arc<dyn Database>) {
    let lease = StdDuration::from_secs(60);
    let first = alert("kylo", "expiring:a");
    assert_eq!(
        db.raise_alerts(&[first.clone(), alert("kylo", "expiring:b")])
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        db.raise_alerts(&[alert("kylo", "expiring:a")])
            .await
            .unwrap(),
        0,
        "a key is raised once"
    );
    db.raise_alerts(&[alert("rey", "expiring:c")])
        .await
        .unwrap();

    // Two claimers at once share the three alerts without overlap.
    let now = Utc::now();
    let (x, y) = tokio::join!(
        db.claim_alerts(now, 2, lease),
        db.claim_alerts(now, 2, lease)
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x.len() + y.len(), 3, "{x:?} {y:?}");
    assert!(x.iter().all(|a| !y.iter().any(|b| b.id == a.id)));
    assert!(
        db.claim_alerts(now, 10, lease).await.unwrap().is_empty(),
        "all leased"
    );
    let claimed: Vec<_> = x.into_iter().chain(y).collect();
    let a = claimed.iter().find(|a| a.id == first.id).unwrap();
    assert_eq!((a.state, a.attempts), (AlertState::Pending, 0));
    assert_eq!(a.details, json!({"thumbprint": "AA"}));

    // Given up.
    let other = claimed.iter().find(|a| a.account_id == "rey").unwrap();
    db.settle_alert(
        other.id,
        &AlertOutcome::Failed {
            error: "refused".into(),
            retry_at: None,
        },
    )
    .await
    .unwrap();
    // The second of kylo's is delivered at once.
    let b = claimed
        .iter()
        .find(|a| a.account_id == "kylo" && a.id != first.id)
        .unwrap();
    db.settle_alert(
        b.id,
        &AlertOutcome::Delivered {
            at: truncate_micros(now),
        },
    )
    .await
    .unwrap();

    // Failed with a retry: pending, one attempt, not due before its time.
    let retry_at = truncate_micros(now + Duration::seconds(30));
    db.settle_alert(
        first.id,
        &AlertOutcome::Failed {
            error: "HTTP 500".into(),
            retry_at: Some(retry_at),
        },
    )
    .await
    .unwrap();
    assert!(
        db.claim_alerts(now + Duration::seconds(10), 10, lease)
            .await
            .unwrap()
            .is_empty()
    );
    let again = db.claim_alerts(retry_at, 10, lease).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].attempts, again[0].last_error.as_deref()),
        (1, Some("HTTP 500"))
    );

    // Deferred (quiet hours): no attempt counted.
    let until = truncate_micros(now + Duration::hours(2));
    db.settle_alert(first.id, &AlertOutcome::Deferred { until })
        .await
        .unwrap();
    let (_, listed) = db
        .list_alerts(
            &AlertFilter {
                account_id: Some("kylo".into()),
                ..Default::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    let a = listed.iter().find(|a| a.id == first.id).unwrap();
    assert_eq!((a.attempts, a.next_attempt_at), (1, until));

    // Delivered: never claimed again; settling again changes nothing.
    let due = db.claim_alerts(until, 10, lease).await.unwrap();
    assert_eq!(due.len(), 1);
    let at = truncate_micros(until);
    db.settle_alert(first.id, &AlertOutcome::Delivered { at })
        .await
        .unwrap();
    db.settle_alert(
        first.id,
        &AlertOutcome::Failed {
            error: "late".into(),
            retry_at: None,
        },
    )
    .await
    .unwrap();
    let delivered = AlertFilter {
        state: Some(AlertState::Delivered),
        ..Default::default()
    };
    let (total, listed) = db.list_alerts(&delivered, 0, 10).await.unwrap();
    assert_eq!(total, 2);
    let a = listed.iter().find(|a| a.id == first.id).unwrap();
    assert_eq!((a.delivered_at, a.attempts), (Some(at), 2));
    assert!(
        db.claim_alerts(until + Duration::days(1), 10, lease)
            .await
            .unwrap()
            .iter()
            .all(|a| a.id != first.id)
    );

    let (total, listed) = db
        .list_alerts(
            &AlertFilter {
                account_id: Some("rey".into()),
                ..Default::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(total, 1);
    assert_eq!(listed[0].state, AlertState::Failed);
    let kylo = AlertFilter {
        account_id: Some("kylo".into()),
        kind: Some(AlertKind::JobFailed),
        ..Default::default()
    };
    assert_eq!(db.list_alerts(&kylo, 0, 10).await.unwrap().0, 0);

    // Retention: settled alerts go, pending ones stay.
    db.raise_alerts(&[alert("kylo", "expiring:pending")])
        .await
        .unwrap();
    let (_, purged) = db
        .purge_ssl_history_and_alerts(Utc::now() + Duration::days(1))
        .await
        .unwrap();
    assert_eq!(purged, 3, "two delivered, one given up");
    let (total, left) = db
        .list_alerts(&AlertFilter::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 1);
    assert_eq!(left[0].state, AlertState::Pending);
}
