//! Writes of one store never interleave, and an interrupted write leaves the store as it
//! was: jobs writing a store take its write lock (on every node), and the store plugins
//! replace a certificate and its separate key as one, with a journal that undoes a write
//! cut short.

use std::path::Path;

use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

/// Ten Management jobs adding ten certificates to one trust store at once: each reads
/// the store, adds its entry and writes it back, so without the lock most entries are
/// lost to the others' writes.
async fn concurrent_writes_of_one_store_all_land(s: &TestServer, fx: &Fixtures) {
    let t = s.admin.as_str();
    let mut body = pem_store("/stores/trust-many.pem");
    body["CreateIfMissing"] = json!(true);
    body["Properties"] = json!({"trust_store": true});
    let store = create_store(s, t, body).await;
    let id = store["Id"].as_str().unwrap();
    let dir = fx.dir.path();
    let mut requests = Vec::new();
    for i in 0..10 {
        keywarden_tests::self_signed_ec(
            dir,
            &format!("many-{i}.key"),
            &format!("many-{i}.pem"),
            30,
            &format!("/CN=many-{i}.example"),
        );
        requests.push(json!({"Certificate": fx.pem(&format!("many-{i}.pem")),
            "CertificateStores": [{"CertificateStoreId": id, "Alias": format!("many-{i}")}]}));
    }
    // In flight at once.
    let path = format!("{STORES}/Certificates/Add");
    let sent = futures::future::join_all(requests.iter().map(|body| s.post(t, &path, body))).await;
    let mut ids = Vec::new();
    for (status, answer) in sent {
        assert_eq!(status, StatusCode::OK, "{answer}");
        ids.push(answer[0].as_str().unwrap().to_owned());
    }
    for id in &ids {
        let job = s.wait_job(t, id, WAIT).await;
        assert_eq!(job["result"], "success", "{job}");
    }
    inventory_now(s, t, id).await;
    let (_, entries, total) = s.get_counted(t, &format!("{STORES}/{id}/Inventory")).await;
    assert_eq!(
        total,
        Some(10),
        "every job's certificate is in the store: {entries}"
    );
    assert!(
        !std::fs::read_dir(fx.dir.path().join("stores"))
            .unwrap()
            .any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("keywarden-")),
        "no temporary file left behind"
    );
}

/// A write of a certificate with its separate key file, cut short after the certificate
/// was replaced but before the key was (as a time-out or a killed host would leave it):
/// the next job on the store undoes it, so the store holds the previous pair again.
async fn an_interrupted_pair_write_is_undone(s: &TestServer, fx: &Fixtures) {
    let t = s.admin.as_str();
    let stores = fx.dir.path().join("stores");
    let (cert, key) = (stores.join("pair.pem"), stores.join("pair.key"));
    std::fs::write(&cert, fx.pem("leaf.pem")).unwrap();
    std::fs::write(&key, fx.pem("leaf.pk8")).unwrap();
    // What replace_files leaves when interrupted between its two renames: backups of
    // both old files, the journal naming them, the new certificate already in place, the
    // new key still in its temporary file.
    let backup = |p: &Path| {
        p.with_file_name(format!(
            ".{}.1234.keywarden-bak",
            p.file_name().unwrap().to_string_lossy()
        ))
    };
    let temp = |p: &Path| {
        p.with_file_name(format!(
            ".{}.1234.keywarden-tmp",
            p.file_name().unwrap().to_string_lossy()
        ))
    };
    std::fs::copy(&cert, backup(&cert)).unwrap();
    std::fs::copy(&key, backup(&key)).unwrap();
    std::fs::write(temp(&key), fx.pem("ca.key")).unwrap();
    std::fs::write(&cert, fx.pem("ca.pem")).unwrap();
    let guest = |p: &Path| format!("/stores/{}", p.file_name().unwrap().to_string_lossy());
    let journal = json!([
        {"path": guest(&key), "temp": guest(&temp(&key)), "backup": guest(&backup(&key))},
        {"path": guest(&cert), "temp": null, "backup": guest(&backup(&cert))},
    ]);
    std::fs::write(
        stores.join(".pair.pem.keywarden-journal"),
        journal.to_string(),
    )
    .unwrap();

    let mut body = pem_store("/stores/pair.pem");
    body["Properties"] = json!({"private_key_path": "/stores/pair.key"});
    let store = create_store(s, t, body).await;
    let id = store["Id"].as_str().unwrap();
    let job = inventory_now(s, t, id).await;
    assert_eq!(job["result"], "success", "{job}");
    let (_, entries, _) = s.get_counted(t, &format!("{STORES}/{id}/Inventory")).await;
    assert!(
        entries[0]["IssuedDN"]
            .as_str()
            .unwrap()
            .contains("web.example.com"),
        "{entries}"
    );
    assert_eq!(entries[0]["HasPrivateKey"], true, "{entries}");
    assert_eq!(std::fs::read_to_string(&cert).unwrap(), fx.pem("leaf.pem"));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), fx.pem("leaf.pk8"));
    let left: Vec<String> = std::fs::read_dir(&stores)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("keywarden-"))
        .collect();
    assert!(
        left.is_empty(),
        "journal, backups and temporary files are gone: {left:?}"
    );
    assert!(
        job["logs"].to_string().contains("interrupted write"),
        "the job says what it undid: {job}"
    );
}

/// A Management job that finds its store locked by another job (here a lock held by a job
/// of another node, written behind the server's back) does not sit in its executor slot:
/// it goes back to the queue saying what it waits for, without spending its one attempt,
/// and runs once the lock is gone.
async fn a_job_waiting_for_a_store_gives_its_slot_back(s: &TestServer, fx: &Fixtures) {
    let t = s.admin.as_str();
    let mut body = pem_store("/stores/trust-locked.pem");
    body["CreateIfMissing"] = json!(true);
    body["Properties"] = json!({"trust_store": true});
    let store = create_store(s, t, body).await;
    let id = store["Id"].as_str().unwrap();
    let far = (chrono::Utc::now() + chrono::Duration::hours(1)).timestamp_micros();
    s.execute_sql(&format!(
        "INSERT INTO target_locks (target, job_id, expires_at) VALUES ('store:{id}', '{}', {far})",
        uuid::Uuid::now_v7()
    ))
    .await;
    keywarden_tests::self_signed_ec(
        fx.dir.path(),
        "locked.key",
        "locked.pem",
        30,
        "/CN=locked.example",
    );
    let (status, ids) = s
        .post(
            t,
            &format!("{STORES}/Certificates/Add"),
            &json!({"Certificate": fx.pem("locked.pem"),
                    "CertificateStores": [{"CertificateStoreId": id, "Alias": "locked"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ids}");
    let job_id = ids[0].as_str().unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    let waiting = loop {
        let (_, job) = s.get(t, &format!("/api/v1/scheduler/jobs/{job_id}")).await;
        if job["status"] == "queued"
            && job["message"]
                .as_str()
                .is_some_and(|m| m.contains(&format!("waiting for certificate store {id}")))
        {
            break job;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job never gave its slot back: {job}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(
        waiting["attempt"], 0,
        "waiting is not an attempt: {waiting}"
    );
    assert_eq!(waiting["max_attempts"], 1, "{waiting}");

    s.execute_sql("DELETE FROM target_locks").await;
    let done = s.wait_job(t, job_id, WAIT).await;
    assert_eq!(done["result"], "success", "{done}");
    assert_eq!(done["attempt"], 1, "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_store_waits_in_the_queue() {
    on_each_backend(a_job_waiting_for_a_store_gives_its_slot_back).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes() {
    on_each_backend(concurrent_writes_of_one_store_all_land).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_writes() {
    on_each_backend(an_interrupted_pair_write_is_undone).await;
}
