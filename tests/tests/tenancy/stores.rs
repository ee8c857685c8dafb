//! Certificate stores: an account reaches only its own directories and secrets, whatever
//! it names (attacks 1, 2 and 5 of the tenancy issue).

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

/// Attack 1: discovery over another team's directory, another team's store file
/// registered as one's own, with another team's password secret.
async fn another_teams_directories_are_out_of_reach(t: &Teams, _lab: &Lab) {
    let s = &t.server;
    let discovery = |dirs: &str| json!({"ClientMachine": "web01", "Type": 2, "Dirs": dirs, "Extensions": "pem"});
    let (status, body) = s
        .put(
            &t.b,
            &format!("{STORES}/DiscoveryJob"),
            &discovery("/stores"),
        )
        .await;
    assert_refused(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "Dirs",
        "outside the directories of account \"team-b\"",
    );
    let (status, body) = s
        .put(
            &t.b,
            &format!("{STORES}/DiscoveryJob"),
            &discovery("/stores/team-b"),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let queued = jobs(s, &t.b, "Discovery").await;
    let job = s
        .wait_job(&t.b, queued[0]["id"].as_str().unwrap(), WAIT)
        .await;
    assert_eq!(job["status"], "completed", "{job}");
    let (_, found, total) = s
        .get_counted(&t.b, &format!("{STORES}/DiscoveredPaths?CertStoreType=PEM"))
        .await;
    assert_eq!(total, Some(1), "{found}");
    assert_eq!(found[0]["Storepath"], "/stores/team-b/web.pem");

    let (status, body) = s
        .post(&t.b, STORES, &pem_store("/stores/team-a/web.pem"))
        .await;
    assert_refused(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "Storepath",
        "[accounts.team-b.plugins.pem-store] dirs",
    );
    let mut with_password = pem_store("/stores/team-b/web.pem");
    with_password["Password"] = json!({"SecretName": "a_key"});
    let (status, body) = s.post(&t.b, STORES, &with_password).await;
    assert_refused(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "Password.SecretName",
        "may not use secret \"a_key\"",
    );

    // The admin account keeps the plugin's own grants.
    let (status, body) = s
        .post(&s.admin, STORES, &pem_store("/stores/team-a/web.pem"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The executor asks the grants again when the job runs: a store record that points
/// into another team's folder (changed behind the API's back, or granted once and no
/// longer) fails its job, and the other team's file is untouched.
async fn jobs_are_checked_again_when_they_run(t: &Teams, lab: &Lab) {
    let s = &t.server;
    let id = create_store(s, &t.b, "/stores/team-b/web.pem").await;
    let inventory = async |s: &keywarden_tests::server::TestServer| {
        let (status, body) = s
            .post(
                &t.b,
                &format!("{STORES}/Schedule"),
                &json!({"StoreIds": [id], "Schedule": {"Immediate": true}}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let job = jobs(s, &t.b, "Inventory").await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        s.wait_job(&t.b, &job, WAIT).await
    };
    let job = inventory(s).await;
    assert_eq!(job["result"], "success", "{job}");
    let (_, entries, _) = s
        .get_counted(&t.b, &format!("{STORES}/{id}/Inventory"))
        .await;
    assert!(
        entries.to_string().contains("web.team-b.example"),
        "{entries}"
    );

    s.execute_sql(&format!(
        "UPDATE certificate_stores SET store_path = '/stores/team-a/web.pem' WHERE id = '{id}'"
    ))
    .await;
    let before = lab.read("stores/team-a/web.pem");
    let job = inventory(s).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["message"]
            .as_str()
            .unwrap_or_default()
            .contains("refused by the account's grants"),
        "{job}"
    );
    assert_eq!(lab.read("stores/team-a/web.pem"), before);
    let (_, entries, _) = s
        .get_counted(&t.b, &format!("{STORES}/{id}/Inventory"))
        .await;
    assert!(!entries.to_string().contains("team-a"), "{entries}");
}

/// Attack 2: `Certificates/Add` naming another team's private-key secret.
async fn another_teams_key_secret_is_refused(t: &Teams, lab: &Lab) {
    let s = &t.server;
    let mut body = pem_store("/stores/team-b/new.pem");
    body["CreateIfMissing"] = json!(true);
    let (status, store) = s.post(&t.b, STORES, &body).await;
    assert_eq!(status, StatusCode::OK, "{store}");
    let id = store["Id"].as_str().unwrap();
    let add = |cert: &str, secret: &str| {
        json!({"Certificate": lab.read(cert), "PrivateKeySecret": secret,
               "CertificateStores": [{"CertificateStoreId": id, "Alias": "web"}]})
    };
    let path = format!("{STORES}/Certificates/Add");
    let (status, body) = s.post(&t.b, &path, &add("team-a.pem", "a_key")).await;
    assert_refused(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "PrivateKeySecret",
        "[accounts.team-b.plugins.pem-store] secrets",
    );
    assert!(
        jobs(s, &t.b, "Management").await.is_empty(),
        "nothing queued"
    );

    let (status, ids) = s.post(&t.b, &path, &add("team-b.pem", "b_key")).await;
    assert_eq!(status, StatusCode::OK, "{ids}");
    let job = s.wait_job(&t.b, ids[0].as_str().unwrap(), WAIT).await;
    assert_eq!(job["result"], "success", "{job}");
    let written = lab.read("stores/team-b/new.pem");
    assert!(
        written.contains(lab.read("team-b.pk8").trim()),
        "team-b's key went in"
    );
    assert!(
        !written.contains(lab.read("team-a.pk8").trim()),
        "team-a's key did not"
    );
}

/// Attack 5: one `Certificates/Add` naming one store thousands of times is one job.
async fn one_store_named_thousands_of_times_is_one_job(t: &Teams, lab: &Lab) {
    let s = &t.server;
    let id = create_store(s, &t.b, "/stores/team-b/web.pem").await;
    let targets: Vec<_> = (0..5000)
        .map(|_| json!({"CertificateStoreId": id, "Alias": "trust"}))
        .collect();
    let (status, ids) = s
        .post(
            &t.b,
            &format!("{STORES}/Certificates/Add"),
            &json!({"Certificate": lab.read("team-b.pem"), "CertificateStores": targets}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ids}");
    assert_eq!(ids.as_array().map(Vec::len), Some(1), "{ids}");
    let many: Vec<_> = (0..501)
        .map(|i| json!({"CertificateStoreId": id, "Alias": format!("a{i}")}))
        .collect();
    let (status, body) = s
        .post(
            &t.b,
            &format!("{STORES}/Certificates/Add"),
            &json!({"Certificate": lab.read("team-b.pem"), "CertificateStores": many}),
        )
        .await;
    assert_refused(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "CertificateStores",
        "at most 500",
    );
}

/// A team cannot tell another team's secret from one that does not exist or one no
/// plugin may use, nor learn the plugin's directories: every such name gets the same 403
/// naming the team's own grant.
async fn probing_names_learns_nothing(t: &Teams, lab: &Lab) {
    let s = &t.server;
    let id = create_store(s, &t.b, "/stores/team-b/web.pem").await;
    // team-a's key (granted to the plugin), one configured but granted to no plugin, and
    // one that does not exist.
    let names = ["a_key", "c_secret", "no_such_secret"];
    let mut seen = Vec::new();
    for name in names {
        let mut store = pem_store("/stores/team-b/web.pem");
        store["Password"] = json!({"SecretName": name});
        let (status, body) = s.post(&t.b, STORES, &store).await;
        assert_refused(
            status,
            &body,
            StatusCode::FORBIDDEN,
            "Password.SecretName",
            "[accounts.team-b.plugins.pem-store] secrets",
        );
        let add = json!({"Certificate": lab.read("team-b.pem"), "PrivateKeySecret": name,
                         "CertificateStores": [{"CertificateStoreId": id, "Alias": "web"}]});
        let (status, added) = s
            .post(&t.b, &format!("{STORES}/Certificates/Add"), &add)
            .await;
        assert_refused(
            status,
            &added,
            StatusCode::FORBIDDEN,
            "PrivateKeySecret",
            "[accounts.team-b.plugins.pem-store] secrets",
        );
        seen.push(format!("{}|{}", message(&body), message(&added)).replace(name, "NAME"));
    }
    assert!(
        seen.iter().all(|m| *m == seen[0]),
        "one answer whatever the secret is: {seen:#?}"
    );
    // The admin is told what is wrong.
    let mut store = pem_store("/stores/team-b/web.pem");
    store["Password"] = json!({"SecretName": "no_such_secret"});
    let (status, body) = s.post(&s.admin, STORES, &store).await;
    assert_refused(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Password.SecretName",
        "no secret named",
    );

    // Paths: outside every grant or in another team's folder, the same refusal naming
    // only the team's own folder.
    let mut seen = Vec::new();
    for path in ["/etc/web.pem", "/stores/team-a/web.pem", "/stores/web.pem"] {
        let (status, body) = s.post(&t.b, STORES, &pem_store(path)).await;
        assert_refused(
            status,
            &body,
            StatusCode::FORBIDDEN,
            "Storepath",
            "(/stores/team-b; [accounts.team-b.plugins.pem-store] dirs)",
        );
        seen.push(message(&body).replace(path, "PATH"));
    }
    assert!(seen.iter().all(|m| *m == seen[0]), "{seen:#?}");
    assert!(!seen[0].contains("team-a"), "{seen:?}");
}

/// The message of an error body of either dialect.
fn message(body: &serde_json::Value) -> String {
    body["message"]
        .as_str()
        .or_else(|| body["Message"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_and_path_probing() {
    for postgres in [false, true] {
        let lab = Lab::make();
        let Some(t) = Teams::start_with(&lab, postgres, r#"c_secret = { value = "c" }"#, "").await
        else {
            continue;
        };
        probing_names_learns_nothing(&t, &lab).await;
        t.server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directories_and_store_files() {
    on_each_backend(another_teams_directories_are_out_of_reach).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_time_checks() {
    on_each_backend(jobs_are_checked_again_when_they_run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_secrets() {
    on_each_backend(another_teams_key_secret_is_refused).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_fan_out() {
    on_each_backend(one_store_named_thousands_of_times_is_one_job).await;
}
