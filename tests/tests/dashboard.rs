//! The dashboard (`/ui`) in a real browser against a real server: headless Chromium
//! driven by Playwright for Python (`tests/dashboard/dashboard_test.py`, venv from
//! `.ci/playwright.sh`) plays a user on a server with the real plugins, on SQLite and
//! (when `KEYWARDEN_TEST_DATABASE_URL` is set) PostgreSQL.
//!
//! The server is prepared through the API the way an operator would: a hello job config
//! whose job fails on purpose (it asks for a secret its account does not have), two PEM
//! certificate stores made by `openssl` (one certificate expiring in 10 days, one in 400)
//! with their inventories, a read-only token, and a file in the plugins folder that is
//! not WebAssembly. The script then asserts what the user sees; the refusals it expects
//! (the read-only run-now, the query fault) are asked of the API here first, so the page
//! is checked against the server's own words. Screenshots of every page go to
//! `target/test-artifacts/dashboard/<backend>/`.

use std::path::Path;
use std::time::Duration;

use keywarden_tests::browser::{Browser, artifacts_dir};
use keywarden_tests::plugins_dir;
use keywarden_tests::server::{TestServer, parse_config};
use reqwest::StatusCode;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
const STORES: &str = "/KeyfactorAPI/CertificateStores";
/// A query with a syntax fault (the value is missing).
const BAD_QUERY: &str = "Status -eq 3 AND Result -eq";

/// The plugins the test uses, plus `broken.wasm`, which is not WebAssembly.
fn plugins_folder(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("plugins");
    std::fs::create_dir_all(&out).unwrap();
    for name in ["hello", "noop", "pem-store"] {
        std::fs::copy(
            plugins_dir().join(format!("{name}.wasm")),
            out.join(format!("{name}.wasm")),
        )
        .unwrap();
    }
    std::fs::write(out.join("broken.wasm"), b"this is not wasm at all").unwrap();
    out
}

/// A self-signed certificate valid for `days`, with its key, as a PEM store file.
fn pem_store_file(stores: &Path, name: &str, days: u32) {
    let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
    keywarden_tests::self_signed_ec(stores, &key, &crt, days, &format!("/CN={name}.example.com"));
    let read = |f: &str| std::fs::read_to_string(stores.join(f)).unwrap();
    std::fs::write(
        stores.join(format!("{name}.pem")),
        format!("{}{}", read(&crt), read(&key)),
    )
    .unwrap();
}

/// A PEM store at `/stores/<file>`, inventoried now; answers its id.
async fn inventoried_store(s: &TestServer, file: &str) -> String {
    let (status, store) = s
        .post(
            &s.admin,
            STORES,
            &json!({"ClientMachine": "web01", "Storepath": format!("/stores/{file}"), "CertStoreType": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{store}");
    let id = store["Id"].as_str().unwrap().to_owned();
    let (status, body) = s
        .post(
            &s.admin,
            &format!("{STORES}/Schedule"),
            &json!({"StoreIds": [id], "Schedule": {"Immediate": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, page) = s
        .get(
            &s.admin,
            "/api/v1/scheduler/jobs?operation=Inventory&limit=1&sort=-createdAt",
        )
        .await;
    let job = page["resources"][0]["id"].as_str().unwrap().to_owned();
    let done = s.wait_job(&s.admin, &job, WAIT).await;
    assert_eq!(done["result"], "success", "{done}");
    id
}

/// A job of a hello config that fails (it names a secret the account was not granted).
async fn failed_job(s: &TestServer) -> String {
    let config = s
        .create_config(
            &s.admin,
            &json!({"name": "dash-fails", "operation": "hello", "run_at": "@yearly",
                    "max_retries": 0, "params": {"name": "Eve", "secret": "not-granted"}}),
        )
        .await;
    let id = config["id"].as_str().unwrap();
    let (status, run) = s
        .post(
            &s.admin,
            &format!("/api/v1/scheduler/job-configs/{id}/run-now"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let job = run["job_id"].as_str().unwrap().to_owned();
    let done = s.wait_job(&s.admin, &job, WAIT).await;
    assert_eq!(done["status"], "failed", "{done}");
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_works_through_every_page_in_chromium_on_sqlite() {
    a_user_works_through_every_page(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_works_through_every_page_in_chromium_on_postgres() {
    a_user_works_through_every_page(true).await;
}

async fn a_user_works_through_every_page(postgres: bool) {
    let browser = Browser::find();
    let dir = tempfile::tempdir().unwrap();
    let stores = dir.path().join("stores");
    std::fs::create_dir_all(&stores).unwrap();
    pem_store_file(&stores, "soon", 10);
    pem_store_file(&stores, "later", 400);
    let config = parse_config(&format!(
        "{}\n[plugins.pem-store]\ndirs = [{{ host = {:?}, guest = \"/stores\", writable = true }}]\n",
        keywarden_tests::server::TEST_ACCOUNTS,
        stores.display().to_string()
    ));
    let Some(s) = TestServer::with_plugins(postgres, config, plugins_folder(dir.path())).await
    else {
        return; // PostgreSQL not configured (outside CI; under CI this fails instead).
    };

    let soon = inventoried_store(&s, "soon.pem").await;
    let later = inventoried_store(&s, "later.pem").await;
    let failed = failed_job(&s).await;

    // A read-only token of the admin account: it sees the configs, may run none.
    let (status, issued) = s
        .post(
            &s.admin,
            "/api/v1/tokens",
            &json!({"account": "admin", "role": "read-only", "label": "dashboard test"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let read_only = issued["token"].as_str().unwrap().to_owned();
    let (_, configs) = s.get(&read_only, "/api/v1/scheduler/job-configs").await;
    let any_config = configs["resources"][0]["id"].as_str().unwrap();
    let (status, refusal) = s
        .post(
            &read_only,
            &format!("/api/v1/scheduler/job-configs/{any_config}/run-now"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refusal}");

    let (status, fault) = s
        .get(
            &s.admin,
            &format!(
                "/KeyfactorAPI/OrchestratorJobs/JobHistory?QueryString={}",
                form_urlencoded::byte_serialize(BAD_QUERY.as_bytes()).collect::<String>()
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{fault}");

    let expect = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string())
    };
    let out = browser.run(
        "dashboard_test.py",
        &[
            ("KEYWARDEN_BASE", s.base.clone()),
            ("KEYWARDEN_ADMIN_TOKEN", s.admin.clone()),
            ("KEYWARDEN_READ_ONLY_TOKEN", read_only),
            ("KEYWARDEN_READ_ONLY_MESSAGE", expect(&refusal["message"])),
            ("KEYWARDEN_FAILED_JOB", failed),
            ("KEYWARDEN_SOON_STORE", soon),
            ("KEYWARDEN_LATER_STORE", later),
            ("KEYWARDEN_BAD_QUERY", BAD_QUERY.to_owned()),
            ("KEYWARDEN_BAD_QUERY_FIELD", expect(&fault["field"])),
            ("KEYWARDEN_BAD_QUERY_POSITION", expect(&fault["position"])),
            (
                "KEYWARDEN_ARTIFACTS",
                artifacts_dir().join(s.backend).display().to_string(),
            ),
        ],
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "the browser script failed ({})",
        out.status
    );
    s.stop().await;
}
