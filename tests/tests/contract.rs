//! The OpenAPI document is the contract: schemathesis (from PyPI, `.ci/schemathesis.sh`)
//! reads `/openapi.json` of a real server and sends it what the document allows and what
//! it forbids, with every check (`--checks all`): a schema-valid request refused, a
//! schema-violating one accepted, an undocumented status or header, a response that does
//! not match its schema, a server error. It must find nothing, on SQLite and on
//! PostgreSQL.
//!
//! The server runs the bundled plugins (the deliberately hostile test plugin aside) with
//! grants a deployment would give them: a certificate-store directory, a store password,
//! CSR enrollment with a local CA.
//!
//! The run uses a fixed seed, so a failure in CI is reproduced by running this test; set
//! `KEYWARDEN_SCHEMATHESIS_SEED` to another number (or `random`) to explore further.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use keywarden_tests::server::TestServer;
use keywarden_tests::{ci_venv, plugins_dir};

/// The seed CI runs with.
const SEED: &str = "20261130";

/// The bundled plugins a deployment would run, copied into `dir`.
fn deployment_plugins(dir: &Path) -> PathBuf {
    let out = dir.join("plugins");
    std::fs::create_dir_all(&out).unwrap();
    for entry in std::fs::read_dir(plugins_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".wasm") && name != "hostile.wasm" {
            std::fs::copy(&path, out.join(&name)).unwrap();
        }
    }
    out
}

fn operator_config(stores: &Path) -> keywarden::operator_config::OperatorConfig {
    let mut toml = String::from(
        r#"
        default_authority = "lab"
        [authorities.lab]
        kind = "local"
        [secrets]
        store_password = { value = "changeit" }
        "#,
    );
    for plugin in ["pem-store", "pkcs12-store", "jks-store"] {
        toml.push_str(&format!(
            "[plugins.{plugin}]\nsecrets = [\"store_password\"]\ncsr_enrollment = true\n\
             dirs = [{{ host = {:?}, guest = \"/stores\", writable = true }}]\n",
            stores.display().to_string()
        ));
    }
    toml::from_str(&toml).expect("the contract test's operator config parses")
}

/// The number of operations the server's document describes.
async fn operations(server: &TestServer) -> usize {
    let (status, document) = server.get(&server.admin, "/openapi.json").await;
    assert!(status.is_success(), "{document}");
    // The event streams are left to their own tests (see schemathesis.toml).
    document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| !path.ends_with("/events"))
        .map(|(_, item)| item.as_object().unwrap().len())
        .sum()
}

async fn schemathesis_finds_nothing(postgres: bool) {
    let dir = tempfile::tempdir().unwrap();
    let stores = dir.path().join("stores");
    std::fs::create_dir_all(&stores).unwrap();
    let plugins = deployment_plugins(dir.path());
    let Some(server) = TestServer::with_plugins(postgres, operator_config(&stores), plugins).await
    else {
        return; // PostgreSQL not configured (outside CI; under CI this fails instead).
    };
    let expected = operations(&server).await;
    let venv =
        tokio::task::spawn_blocking(|| ci_venv("schemathesis.sh", "KEYWARDEN_SCHEMATHESIS_VENV"))
            .await
            .unwrap();
    let seed = std::env::var("KEYWARDEN_SCHEMATHESIS_SEED").unwrap_or_else(|_| SEED.to_owned());
    let settings = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contract")
        .join("schemathesis.toml");
    let mut command = tokio::process::Command::new(venv.join("bin").join("schemathesis"));
    command
        .current_dir(dir.path())
        .arg("--config-file")
        .arg(settings)
        .arg("run")
        .arg(format!("{}/openapi.json", server.base))
        .args([
            "--checks",
            "all",
            "--generation-database",
            "none",
            "--no-color",
        ])
        .arg("--header")
        .arg(format!("Authorization: Bearer {}", server.admin))
        .stdin(Stdio::null());
    if seed != "random" {
        command.args(["--seed", &seed]);
    }
    let output = command.output().await.expect("running schemathesis");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    server.stop().await;
    assert!(
        output.status.success(),
        "schemathesis found failures ({}):\n{report}",
        output.status
    );
    assert!(
        report.contains(&format!("Tested: {expected}")),
        "schemathesis did not test all {expected} operations:\n{report}"
    );
    for phase in ["Coverage", "Fuzzing", "Stateful"] {
        assert!(
            report.contains(&format!("✅ {phase}")),
            "the {phase} phase did not run and pass:\n{report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure_on_sqlite() {
    schemathesis_finds_nothing(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure_on_postgres() {
    schemathesis_finds_nothing(true).await;
}
