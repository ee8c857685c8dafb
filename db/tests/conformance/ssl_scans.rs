//! SSL scans: parts stored with their jobs, results kept once, endpoints added and
//! updated with history (changes marked), progress, flags, account scoping, and a
//! network's data removed with it.

use std::sync::Arc;

use chrono::{Duration, Utc};
use keywarden_db::{
    Database, JobStatus, ObservedCertificate, ProbeStatus, ScanKind, ScanStats, Sort,
    SslEndpointFilter, SslObservation, SslScanPart, truncate_micros,
};
use serde_json::json;
use uuid::Uuid;

use crate::new_job;

fn part(network: &keywarden_db::SslNetwork, scan_id: Uuid, seq: i64, job: Uuid) -> SslScanPart {
    SslScanPart {
        id: Uuid::now_v7(),
        scan_id,
        account_id: network.account_id.clone(),
        network_id: network.id,
        kind: ScanKind::Discovery,
        seq,
        job_id: job,
        definitions: json!(["127.0.0.0/31:443"]),
        estimated_endpoints: 2,
        created_at: truncate_micros(Utc::now()),
        finished_at: None,
        stats: None,
        job_status: None,
        job_started_at: None,
        job_finished_at: None,
    }
}

fn seen(host: &str, thumbprint: Option<&str>) -> SslObservation {
    SslObservation {
        host: host.into(),
        port: 443,
        sni_name: String::new(),
        address: thumbprint.map(|_| format!("{host}:443")),
        status: if thumbprint.is_some() {
            ProbeStatus::CertificateFound
        } else {
            ProbeStatus::Refused
        },
        certificate: thumbprint.map(|t| ObservedCertificate {
            thumbprint: t.into(),
            subject: "CN=web".into(),
            issuer: "CN=ca".into(),
            serial_number: "01".into(),
            not_before: truncate_micros(Utc::now() - Duration::days(1)),
            not_after: truncate_micros(Utc::now() + Duration::days(10)),
            certificate: "AAAA".into(),
            chain: vec!["AAAA".into(), "BBBB".into()],
            protocol: "TLSv1.3".into(),
            cipher_suite: "TLS13_AES_128_GCM_SHA256".into(),
            trusted: true,
            trust_error: None,
            name_matches: false,
            expired: false,
        }),
    }
}

pub async fn ssl_scans(db: Arc<dyn Database>) {
    let mut n = super::ssl::network("kylo", "scanned");
    n.ranges = vec!["127.0.0.0/31:443".into()];
    let network = db.insert_ssl_network(&n).await.unwrap();
    let now = Utc::now();
    let jobs = [
        new_job("kylo", "part 1", now, now),
        new_job("kylo", "part 2", now, now),
    ];
    let scan_id = Uuid::now_v7();
    let parts = [
        part(&network, scan_id, 0, jobs[0].id),
        part(&network, scan_id, 1, jobs[1].id),
    ];
    // A part naming a job that is not inserted with it is refused, and nothing is kept.
    assert!(
        db.insert_ssl_scan(&[part(&network, scan_id, 2, Uuid::now_v7())], &[])
            .await
            .is_err()
    );
    db.insert_ssl_scan(&parts, &jobs).await.unwrap();
    // A second scan of the same kind while this one runs is refused; nothing is kept.
    let extra = new_job("kylo", "extra", now, now);
    let second = SslScanPart {
        scan_id: Uuid::now_v7(),
        ..part(&network, Uuid::nil(), 0, extra.id)
    };
    crate::assert_conflict(
        db.insert_ssl_scan(std::slice::from_ref(&second), std::slice::from_ref(&extra))
            .await,
    );
    assert!(db.get_job(None, extra.id).await.unwrap().is_none());
    let (_, listed) = db.list_ssl_parts(None, network.id, 0, 100).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        db.get_job(None, jobs[0].id).await.unwrap().is_some(),
        "the jobs are stored"
    );
    let (total, listed) = db
        .list_ssl_parts(Some("kylo"), network.id, 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(listed[0].seq, 0);
    assert_eq!(listed[0].job_status, Some(JobStatus::Queued));
    assert_eq!(listed[0].definitions, parts[0].definitions);
    let (total, _) = db
        .list_ssl_parts(Some("rey"), network.id, 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 0, "another account's parts");
    assert_eq!(
        db.ssl_part_for_job(jobs[1].id).await.unwrap().map(|p| p.id),
        Some(parts[1].id)
    );
    assert!(
        db.get_ssl_part(Some("rey"), parts[0].id)
            .await
            .unwrap()
            .is_none()
    );

    let progress = db
        .ssl_scan_progress(Some("kylo"), &[network.id])
        .await
        .unwrap();
    assert_eq!(progress.len(), 1);
    assert_eq!(
        (progress[0].parts, progress[0].ended, progress[0].running),
        (2, 0, 0)
    );
    assert_eq!(progress[0].last_ended_at, None);

    // First part: one endpoint found, one refused (not kept).
    let mut stats = ScanStats::default();
    stats.count(ProbeStatus::CertificateFound);
    stats.count(ProbeStatus::Refused);
    let at = truncate_micros(Utc::now());
    let observed = [seen("127.0.0.0", Some("AA11")), seen("127.0.0.1", None)];
    assert!(
        db.keep_ssl_results(&parts[0], &observed, &stats, true, at)
            .await
            .unwrap()
    );
    assert!(
        !db.keep_ssl_results(&parts[0], &observed, &stats, true, at)
            .await
            .unwrap(),
        "a part is kept once"
    );
    let (total, endpoints) = db
        .list_ssl_endpoints(
            &SslEndpointFilter {
                account_id: Some("kylo".into()),
                ..Default::default()
            },
            &Sort::default(),
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(total, 1, "{endpoints:?}");
    let e = &endpoints[0];
    assert_eq!(
        (e.host.as_str(), e.port, e.enable_monitor),
        ("127.0.0.0", 443, true)
    );
    assert_eq!(e.thumbprint.as_deref(), Some("AA11"));
    assert_eq!((e.trusted, e.name_matches), (Some(true), Some(false)));
    let kept = db
        .get_ssl_part(Some("kylo"), parts[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.finished_at, Some(at));
    assert_eq!(kept.stats, Some(stats.clone()));

    // Second part (a monitoring probe of the same endpoint, renewed): a change.
    let renewed = [seen("127.0.0.0", Some("BB22"))];
    assert!(
        db.keep_ssl_results(&parts[1], &renewed, &stats, true, at)
            .await
            .unwrap()
    );
    let e = db
        .get_ssl_endpoint(Some("kylo"), e.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.thumbprint.as_deref(), Some("BB22"));
    let (total, history) = db
        .list_ssl_history(Some("kylo"), e.id, 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(history.len(), 2);
    let newest = history
        .iter()
        .find(|h| h.thumbprint.as_deref() == Some("BB22"))
        .unwrap();
    assert!(newest.changed);
    assert_eq!(newest.chain, vec!["AAAA".to_owned(), "BBBB".to_owned()]);
    assert_eq!(newest.protocol.as_deref(), Some("TLSv1.3"));
    assert!(
        !history
            .iter()
            .find(|h| h.thumbprint.as_deref() == Some("AA11"))
            .unwrap()
            .changed
    );
    assert_eq!(
        db.list_ssl_history(Some("rey"), e.id, 0, 10)
            .await
            .unwrap()
            .0,
        0
    );

    let progress = db.ssl_scan_progress(None, &[network.id]).await.unwrap();
    assert_eq!(
        (progress[0].parts, progress[0].ended, progress[0].failed),
        (2, 2, 0)
    );
    assert_eq!(progress[0].last_ended_at, Some(at));

    // A failed part's job counts as ended and failed.
    let job = new_job("kylo", "part", now, now);
    let failed_part = SslScanPart {
        scan_id: Uuid::now_v7(),
        ..part(&network, scan_id, 0, job.id)
    };
    db.insert_ssl_scan(
        std::slice::from_ref(&failed_part),
        std::slice::from_ref(&job),
    )
    .await
    .unwrap();
    let claimed = db
        .claim_jobs(
            "node",
            Utc::now() + Duration::seconds(1),
            10,
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(claimed.iter().any(|j| j.id == job.id), "{claimed:?}");
    let progress = db.ssl_scan_progress(None, &[network.id]).await.unwrap();
    assert_eq!(
        (progress[0].parts, progress[0].running),
        (1, 1),
        "the newest scan"
    );
    db.finish_jobs(&[crate::executor::finish(job.id, "node", JobStatus::Failed)])
        .await
        .unwrap();
    let progress = db.ssl_scan_progress(None, &[network.id]).await.unwrap();
    assert_eq!((progress[0].ended, progress[0].failed), (1, 1));

    // Flags, scoped by account.
    assert!(
        !db.set_ssl_endpoint_flags(Some("rey"), e.id, Some(false), None)
            .await
            .unwrap()
    );
    assert!(
        db.set_ssl_endpoint_flags(Some("kylo"), e.id, Some(false), Some(true))
            .await
            .unwrap()
    );
    let filter = SslEndpointFilter {
        account_id: Some("kylo".into()),
        monitored: Some(true),
        ..Default::default()
    };
    assert_eq!(
        db.list_ssl_endpoints(&filter, &Sort::default(), 0, 10)
            .await
            .unwrap()
            .0,
        0
    );
    let expiring = SslEndpointFilter {
        expiring_before: Some(Utc::now() + Duration::days(30)),
        reviewed: Some(true),
        ..Default::default()
    };
    assert_eq!(
        db.list_ssl_endpoints(&expiring, &Sort::default(), 0, 10)
            .await
            .unwrap()
            .0,
        1
    );
    // Query conditions (flags, columns) and bulk flags, scoped by account.
    use keywarden_db::{Compare, Condition, FieldValue, SslEndpointField, SslEndpointFlag};
    let by = |condition| SslEndpointFilter {
        account_id: Some("kylo".into()),
        condition: Some(condition),
        ..Default::default()
    };
    let found = Condition::All(vec![
        Condition::Flag(SslEndpointFlag::CertificateFound),
        Condition::Compare {
            field: SslEndpointField::Port,
            op: Compare::Eq,
            value: FieldValue::Int(443),
        },
        Condition::Flag(SslEndpointFlag::NameMatches).negate(),
    ]);
    let sort = Sort::by("not_after", true);
    assert_eq!(
        db.list_ssl_endpoints(&by(found.clone()), &sort, 0, 10)
            .await
            .unwrap()
            .0,
        1
    );
    let not_monitored = Condition::Flag(SslEndpointFlag::Monitored).negate();
    assert_eq!(
        db.set_ssl_endpoint_flags_where(&by(not_monitored.clone()), Some(true), None)
            .await
            .unwrap(),
        1
    );
    let theirs = SslEndpointFilter {
        account_id: Some("rey".into()),
        ..Default::default()
    };
    assert_eq!(
        db.set_ssl_endpoint_flags_where(&theirs, Some(false), None)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        db.list_ssl_endpoints(&by(not_monitored), &Sort::default(), 0, 10)
            .await
            .unwrap()
            .0,
        0
    );

    // Retention: history before a time goes, but each endpoint's newest entry stays.
    let (purged, _) = db
        .purge_ssl_history_and_alerts(Utc::now() + Duration::days(1))
        .await
        .unwrap();
    assert_eq!(purged, 1, "the older of the endpoint's two entries");
    let (total, history) = db.list_ssl_history(None, e.id, 0, 10).await.unwrap();
    assert_eq!(total, 1);
    assert_eq!(
        Some(history[0].id),
        db.get_ssl_endpoint(None, e.id)
            .await
            .unwrap()
            .unwrap()
            .last_history_id
    );

    // Ranges alone are set; the schedule fields stay.
    assert!(
        !db.set_ssl_network_ranges("rey", network.id, &["127.0.0.9:443".into()])
            .await
            .unwrap()
    );
    assert!(
        db.set_ssl_network_ranges("kylo", network.id, &["127.0.0.9:443".into()])
            .await
            .unwrap()
    );
    let n = db.get_ssl_network(None, network.id).await.unwrap().unwrap();
    assert_eq!(
        (n.ranges, n.name),
        (vec!["127.0.0.9:443".to_owned()], network.name.clone())
    );

    // Deleting the network removes its parts, endpoints and history.
    assert!(
        db.delete_ssl_network(Some("kylo"), network.id)
            .await
            .unwrap()
    );
    assert!(db.get_ssl_endpoint(None, e.id).await.unwrap().is_none());
    assert_eq!(db.list_ssl_history(None, e.id, 0, 10).await.unwrap().0, 0);
    assert!(db.get_ssl_part(None, parts[0].id).await.unwrap().is_none());
}

/// The inventory listing across stores and SSL endpoints: one order over both sources
/// (pages cut across them), filters and the bounded total apply to both, a store's own
/// listing has no endpoints, and another account's rows are not in it.
pub async fn inventory_merges_stores_and_ssl_endpoints(db: Arc<dyn Database>) {
    use crate::certificate_stores::{entry, pem_store};
    use keywarden_db::{CertificateSource, InventoryFilter, Total};

    let days = |d: i64| truncate_micros(Utc::now() + Duration::days(d));
    let store = db
        .insert_certificate_store(&pem_store("kylo", "/merged/web.pem"))
        .await
        .unwrap();
    let entries = [
        entry(&store, "s05", days(5)),
        entry(&store, "s12", days(12)),
        entry(&store, "s30", days(30)),
    ];
    db.replace_inventory("kylo", store.id, &entries)
        .await
        .unwrap();
    let theirs = db
        .insert_certificate_store(&pem_store("rey", "/merged/other.pem"))
        .await
        .unwrap();
    db.replace_inventory("rey", theirs.id, &[entry(&theirs, "r01", days(1))])
        .await
        .unwrap();

    let mut n = super::ssl::network("kylo", "merged");
    n.ranges = vec!["127.0.0.1/32:443".into()];
    let network = db.insert_ssl_network(&n).await.unwrap();
    let job = new_job("kylo", "merged part", Utc::now(), Utc::now());
    let scan = part(&network, Uuid::now_v7(), 0, job.id);
    db.insert_ssl_scan(std::slice::from_ref(&scan), &[job])
        .await
        .unwrap();
    let observed: Vec<SslObservation> = [("127.0.0.1", 3), ("127.0.0.2", 10), ("127.0.0.3", 20)]
        .into_iter()
        .map(|(host, d)| {
            let mut o = seen(host, Some(&format!("E{d}")));
            o.certificate.as_mut().unwrap().not_after = days(d);
            o
        })
        .chain([seen("127.0.0.4", None)])
        // One address serving two names: two endpoints listed as the same `host:port`.
        .chain(["a.example", "b.example"].map(|sni| {
            let mut o = seen("127.0.0.5", Some(&format!("SNI-{sni}")));
            o.sni_name = sni.into();
            o.certificate.as_mut().unwrap().not_after = days(40);
            o
        }))
        .collect();
    let mut stats = ScanStats::default();
    stats.count(ProbeStatus::CertificateFound);
    db.keep_ssl_results(&scan, &observed, &stats, true, truncate_micros(Utc::now()))
        .await
        .unwrap();

    let kylo = InventoryFilter {
        account_id: Some("kylo".into()),
        include_ssl_endpoints: true,
        ..Default::default()
    };
    let aliases = |rows: &[keywarden_db::InventoryEntry]| -> Vec<String> {
        rows.iter().map(|r| r.alias.clone()).collect()
    };
    let mut soonest = Vec::new();
    let mut thumbprints = Vec::new();
    for skip in [0, 2, 4, 6, 8] {
        let (total, rows) = db
            .list_inventory(&kylo, &Sort::default(), skip, 2)
            .await
            .unwrap();
        assert_eq!(total, 8, "an endpoint without a certificate is not listed");
        soonest.extend(aliases(&rows));
        thumbprints.extend(rows.iter().map(|r| r.thumbprint.clone()));
    }
    assert_eq!(
        soonest,
        [
            "127.0.0.1:443",
            "s05",
            "127.0.0.2:443",
            "s12",
            "127.0.0.3:443",
            "s30",
            "127.0.0.5:443",
            "127.0.0.5:443"
        ],
        "soonest expiry first, pages cut across stores and endpoints"
    );
    // The two names of one address, a page each: both, once.
    let mut tied: Vec<String> = Vec::new();
    for skip in [6, 7] {
        let (_, rows) = db
            .list_inventory(&kylo, &Sort::default(), skip, 1)
            .await
            .unwrap();
        tied.extend(rows.iter().map(|r| r.thumbprint.clone()));
    }
    tied.sort();
    assert_eq!(tied, ["SNI-a.example", "SNI-b.example"], "{thumbprints:?}");
    let (_, latest) = db
        .list_inventory(&kylo, &Sort::by("not_after", true), 3, 3)
        .await
        .unwrap();
    assert_eq!(aliases(&latest), ["127.0.0.3:443", "s12", "127.0.0.2:443"]);
    let (_, first) = db
        .list_inventory(&kylo, &Sort::default(), 0, 1)
        .await
        .unwrap();
    assert!(
        matches!(first[0].source, CertificateSource::SslEndpoint { .. }),
        "{first:?}"
    );
    assert_eq!(first[0].store_id, network.id, "listed under its network");
    assert_eq!(first[0].thumbprint, "E3");

    let within_eleven_days = InventoryFilter {
        not_after_before: Some(days(11)),
        ..kylo.clone()
    };
    let (total, rows) = db
        .list_inventory(&within_eleven_days, &Sort::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 3);
    assert_eq!(aliases(&rows), ["127.0.0.1:443", "s05", "127.0.0.2:443"]);
    let one_endpoint = InventoryFilter {
        alias: Some("127.0.0.2:443".into()),
        ..kylo.clone()
    };
    let (total, rows) = db
        .list_inventory(&one_endpoint, &Sort::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(
        (total, aliases(&rows)),
        (1, vec!["127.0.0.2:443".to_owned()])
    );
    let bounded = InventoryFilter {
        count_bound: Some(4),
        ..kylo.clone()
    };
    let (counted, rows) = db
        .list_inventory(&bounded, &Sort::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 8, "the bound limits the count, not the page");
    assert_eq!(
        Total::of(counted, Some(4)),
        Total {
            count: 4,
            exact: false
        }
    );
    let (total, rows) = db
        .list_inventory(
            &InventoryFilter {
                store_id: Some(store.id),
                ..kylo.clone()
            },
            &Sort::default(),
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        (total, aliases(&rows)),
        (3, vec!["s05".into(), "s12".into(), "s30".into()])
    );
    let (total, rows) = db
        .list_inventory(
            &InventoryFilter {
                account_id: Some("rey".into()),
                include_ssl_endpoints: true,
                ..Default::default()
            },
            &Sort::default(),
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!((total, aliases(&rows)), (1, vec!["r01".to_owned()]));
}
