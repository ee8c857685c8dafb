//! Helpers of the certificate-store plugin tests: a lab directory granted to the store plugins, a
//! PKI made with `openssl`, the real `openssl`/`keytool` tools, and a runtime whose
//! certificate authority is `openssl x509 -req` ([`OpensslCa`]).

#![allow(dead_code)]

pub mod tools;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use keywarden::operator_config::OperatorConfig;
use keywarden::plugins::{LoadedPlugin, loader};
use keywarden::runtime::Runtime;
use keywarden::runtime::bindings::certificate_store::{
    CertificateEntry, NewEntry, Store as CertStore,
};
use keywarden::runtime::bindings::types::JobResult;
use keywarden::runtime::capabilities::enrollment::{AuthorityError, CertificateAuthority};
use keywarden::runtime::capabilities::secrets::ConfiguredSecrets;
use keywarden::runtime::capabilities::state::MemoryState;
use keywarden::runtime::invoke::{FamilyData, Finished, JobCall, JobFailure, JobInput, JobReport};
use keywarden::runtime::sandbox::HostServices;
use keywarden_tests::plugin_file;
use serde_json::Value;

pub use tools::{keytool, keytool_list, openssl, openssl_fails};

/// The store password every lab store uses (granted as the secret `store_pw`).
pub const PASSWORD: &str = "changeit";

/// A temp directory with `stores/` (granted to the plugins as `/stores`), `outside/`
/// (not granted), `pki/` (CA and a leaf made by openssl) and `ca/` (the CA's work dir).
pub struct Lab {
    pub root: tempfile::TempDir,
    pub runtime: Arc<Runtime>,
    pub ca: Arc<OpensslCa>,
}

impl Lab {
    pub fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        for dir in ["stores", "outside", "pki", "ca"] {
            std::fs::create_dir(root.path().join(dir)).unwrap();
        }
        tools::make_pki(&root.path().join("pki"));
        let ca = Arc::new(OpensslCa {
            dir: root.path().join("ca"),
            pki: root.path().join("pki"),
            issued: AtomicUsize::new(0),
        });
        let stores = root.path().join("stores");
        let mut toml = String::from(
            r#"
            [secrets]
            store_pw = { value = "changeit" }
            wrong_pw = { value = "not-the-password" }
            ungranted_pw = { value = "changeit" }
            "#,
        );
        for plugin in ["pem-store", "pkcs12-store", "jks-store"] {
            toml.push_str(&format!(
                r#"
                [plugins.{plugin}]
                secrets = ["store_pw", "wrong_pw", "missing_pw"]
                csr_enrollment = true
                [[plugins.{plugin}.dirs]]
                host = "{}"
                guest = "/stores"
                writable = true
                "#,
                stores.display()
            ));
        }
        let config: OperatorConfig = toml::from_str(&toml).expect("lab config parses");
        let services = HostServices {
            secrets: Arc::new(ConfiguredSecrets::new(config.secrets.clone())),
            state: Arc::new(MemoryState::default()),
            authority: Some(ca.clone() as Arc<dyn CertificateAuthority>),
            tls_prober: None,
        };
        // Compiled components are cached next to the plugins: each test builds its own
        // runtime, and compiling the three stores afresh every time would dominate.
        let cache = keywarden_tests::plugins_dir().with_file_name("component-cache");
        let runtime = Runtime::new(config, Some(cache), services).expect("runtime starts");
        Self { root, runtime, ca }
    }

    /// Host path of a file in the granted `stores/` directory.
    pub fn host(&self, name: &str) -> PathBuf {
        self.root.path().join("stores").join(name)
    }

    /// The PKI directory (`ca.pem`, `ca.der`, `leaf.pem`, `leaf.der`, `leaf.key`, `leaf.pk8`).
    pub fn pki(&self) -> PathBuf {
        self.root.path().join("pki")
    }

    /// Writes the lab leaf and its key as a PKCS#12 file made by `openssl pkcs12 -export`.
    pub fn export_leaf_p12(&self, out: &Path) {
        let pki = |n: &str| p(&self.pki().join(n));
        openssl(&[
            "pkcs12",
            "-export",
            "-inkey",
            &pki("leaf.key"),
            "-in",
            &pki("leaf.pem"),
            "-passout",
            &format!("pass:{PASSWORD}"),
            "-out",
            &p(out),
        ]);
    }

    /// Writes a JKS made by `keytool -importcert` holding the lab CA as entry `ca`.
    pub fn import_ca_jks(&self, out: &Path) {
        keytool(&[
            "-importcert",
            "-noprompt",
            "-alias",
            "ca",
            "-file",
            &p(&self.pki().join("ca.pem")),
            "-storetype",
            "JKS",
            "-keystore",
            &p(out),
            "-storepass",
            PASSWORD,
        ]);
    }

    pub fn pki_bytes(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.pki().join(name)).unwrap()
    }

    pub async fn plugin(&self, name: &str) -> LoadedPlugin {
        loader::load_file(&self.runtime, &plugin_file(name))
            .await
            .unwrap_or_else(|f| panic!("{name} did not load: {}", f.reason))
    }

    /// Runs one job of `plugin` for the operation `op` (target = the store type).
    pub async fn run(&self, plugin: &LoadedPlugin, op: &str, call: JobCall) -> JobReport {
        self.run_as(plugin, op, call, false).await
    }

    /// [`Lab::run`] as a dry run (the sandbox narrowed as the executor narrows it).
    pub async fn run_dry(&self, plugin: &LoadedPlugin, op: &str, call: JobCall) -> JobReport {
        self.run_as(plugin, op, call, true).await
    }

    async fn run_as(
        &self,
        plugin: &LoadedPlugin,
        op: &str,
        call: JobCall,
        dry_run: bool,
    ) -> JobReport {
        let target = plugin.manifest.operations[0].target.clone();
        let input = JobInput {
            job_id: format!("test-{op}"),
            operation: op.into(),
            target,
            params: serde_json::json!({}),
            scope: "tests".into(),
            dry_run,
        };
        plugin.run(&self.runtime, input, call, None).await
    }

    pub async fn inventory(
        &self,
        plugin: &LoadedPlugin,
        store: CertStore,
    ) -> Vec<CertificateEntry> {
        let report = self
            .run(plugin, "Inventory", JobCall::Inventory(store))
            .await;
        match report.outcome {
            Ok(Finished {
                data: FamilyData::Inventory(entries),
                ..
            }) => entries,
            other => panic!("inventory failed: {other:?}"),
        }
    }
}

/// A store record with the lab password secret (or `secret`) and `properties`.
pub fn store(store_type: &str, path: &str, secret: Option<&str>, properties: Value) -> CertStore {
    CertStore {
        store_type: store_type.into(),
        path: path.into(),
        password_secret: secret.map(str::to_owned),
        properties: properties.to_string(),
    }
}

/// The outcome of a job that must have succeeded.
pub fn succeeded(report: &JobReport) -> &Finished {
    match &report.outcome {
        Ok(f) if f.result == JobResult::Success => f,
        other => panic!("expected success, got {other:?}"),
    }
}

/// The error of a job that must have failed.
pub fn failed(report: &JobReport) -> &JobFailure {
    match &report.outcome {
        Err(e) => e,
        Ok(f) => panic!("expected a failure, got {:?}: {}", f.result, f.message),
    }
}

/// The entry `alias` of an inventory.
pub fn entry<'a>(entries: &'a [CertificateEntry], alias: &str) -> &'a CertificateEntry {
    entries
        .iter()
        .find(|e| e.alias == alias)
        .unwrap_or_else(|| {
            let aliases: Vec<&str> = entries.iter().map(|e| e.alias.as_str()).collect();
            panic!("no entry `{alias}` in {aliases:?}")
        })
}

/// A certificate authority that is `openssl x509 -req` over the lab CA: a real CA tool
/// signing the plugin's CSR, copying its extensions (the SANs) into the certificate.
pub struct OpensslCa {
    dir: PathBuf,
    pki: PathBuf,
    issued: AtomicUsize,
}

impl OpensslCa {
    /// How many certificates it issued.
    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl CertificateAuthority for OpensslCa {
    async fn sign(
        &self,
        csr_der: &[u8],
        _authority: Option<&str>,
    ) -> Result<Vec<Vec<u8>>, AuthorityError> {
        let down = |e: String| AuthorityError::Unavailable(e);
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let csr = self.dir.join(format!("req-{n}.der"));
        let out = self.dir.join(format!("cert-{n}.der"));
        std::fs::write(&csr, csr_der).map_err(|e| down(e.to_string()))?;
        let result = std::process::Command::new("openssl")
            .args(["x509", "-req", "-inform", "DER", "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(self.pki.join("ca.pem"))
            .arg("-CAkey")
            .arg(self.pki.join("ca.key"))
            .args(["-set_serial", &(1000 + n).to_string(), "-days", "30"])
            .args(["-copy_extensions", "copy", "-outform", "DER", "-out"])
            .arg(&out)
            .output()
            .map_err(|e| down(format!("running openssl: {e}")))?;
        if !result.status.success() {
            // openssl refused the request.
            return Err(AuthorityError::Rejected(
                String::from_utf8_lossy(&result.stderr).into_owned(),
            ));
        }
        let leaf = std::fs::read(&out).map_err(|e| down(e.to_string()))?;
        let ca = std::fs::read(self.pki.join("ca.der")).map_err(|e| down(e.to_string()))?;
        Ok(vec![leaf, ca])
    }
}

/// `path` as text (for tool arguments).
pub fn p(path: &Path) -> String {
    path.display().to_string()
}

pub fn new_entry(lab: &Lab, alias: &str, with_key: bool, overwrite: bool) -> NewEntry {
    NewEntry {
        alias: alias.into(),
        chain: vec![lab.pki_bytes("leaf.der"), lab.pki_bytes("ca.der")],
        private_key: with_key.then(|| lab.pki_bytes("leaf.pk8")),
        overwrite,
        create_if_missing: true,
    }
}

/// A trusted-certificate entry (no key) with the certificate of `ca` (`ca` or `ca2`).
pub fn ca_entry(lab: &Lab, alias: &str, ca: &str) -> NewEntry {
    NewEntry {
        alias: alias.into(),
        chain: vec![lab.pki_bytes(&format!("{ca}.der"))],
        private_key: None,
        overwrite: false,
        create_if_missing: true,
    }
}

/// Moves the key entry `alias` of a JKS file into a PKCS#12 file with keytool, then
/// checks with openssl that its key belongs to its certificate: proof that keytool
/// could decrypt the key the plugin protected.
pub fn assert_jks_key_matches_cert(lab: &Lab, jks: &str, alias: &str) -> String {
    let out = p(&lab.root.path().join(format!("{alias}-export.p12")));
    let _ = std::fs::remove_file(&out);
    keytool(&[
        "-importkeystore",
        "-noprompt",
        "-srckeystore",
        jks,
        "-srcstoretype",
        "JKS",
        "-srcstorepass",
        PASSWORD,
        "-srcalias",
        alias,
        "-destkeystore",
        &out,
        "-deststoretype",
        "PKCS12",
        "-deststorepass",
        PASSWORD,
    ]);
    let pem = p(&lab.root.path().join(format!("{alias}-export.pem")));
    openssl(&[
        "pkcs12",
        "-in",
        &out,
        "-passin",
        "pass:changeit",
        "-nodes",
        "-out",
        &pem,
    ]);
    assert_eq!(
        tools::key_pubkey(&pem, &[]),
        tools::cert_pubkey(&pem, &[]),
        "the key is not the certificate's"
    );
    pem
}
