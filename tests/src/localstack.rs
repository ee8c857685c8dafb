//! LocalStack's KMS (from `.ci/localstack.sh`'s venv) on a free 127.0.0.1 port.
//!
//! moto has no `GetParametersForImport`/`ImportKeyMaterial`; LocalStack implements them
//! (RSAES-OAEP unwrapping included), so the tests of imported key material run against it.
//! It runs in-process from PyPI's `localstack-core`, no Docker. LocalStack does not keep
//! `ValidTo`, but at trace level it logs every request as it parsed it, so a test reads
//! the `ValidTo` the server received from [`LocalStack::received`].

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use crate::aws::{KmsServer, STARTUP};
use crate::ci_venv;
use crate::{listening, wait_until};

/// The variable `.ci/localstack.sh` exports: the venv holding LocalStack and boto3.
pub const LOCALSTACK_ENV: &str = "KEYWARDEN_LOCALSTACK_VENV";

/// The venv: `$KEYWARDEN_LOCALSTACK_VENV`, else what `.ci/localstack.sh` installs.
pub fn venv() -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| ci_venv("localstack.sh", LOCALSTACK_ENV))
        .clone()
}

/// A running LocalStack with only KMS; killed on drop.
pub struct LocalStack {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl LocalStack {
    /// Starts LocalStack (KMS only, request tracing on) and waits until it answers.
    pub fn start() -> LocalStack {
        let venv = venv();
        let dir = tempfile::tempdir().expect("tempdir");
        let port = crate::free_port();
        let log = std::fs::File::create(dir.path().join("localstack.log")).expect("log file");
        let child = Command::new(venv.join("bin").join("python"))
            .args(["-m", "localstack.runtime.main"])
            .current_dir(dir.path())
            .env("SERVICES", "kms")
            .env("GATEWAY_LISTEN", format!("127.0.0.1:{port}"))
            // No DNS server of its own, no certificate download from the internet.
            .env("DNS_ADDRESS", "0")
            .env("SKIP_SSL_CERT_DOWNLOAD", "1")
            .env("LS_LOG", "trace")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("LocalStack starts");
        let server = LocalStack { port, child, dir };
        // The gateway listens before the KMS provider is loaded: also wait for "Ready.".
        wait_until(
            "LocalStack",
            STARTUP,
            || listening(port) && server.log().contains("Ready."),
            || server.log(),
        );
        server
    }

    /// LocalStack's own log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("localstack.log")).unwrap_or_default()
    }

    /// The requests of `operation` (e.g. `ImportKeyMaterial`) as LocalStack logged them
    /// after parsing, one line each (`AWS kms.<operation> => 200; ...; <Request>({...})`).
    pub fn received(&self, operation: &str) -> Vec<String> {
        let marker = format!("AWS kms.{operation} =>");
        self.log()
            .lines()
            .filter(|l| l.contains(&marker))
            .map(str::to_owned)
            .collect()
    }
}

impl KmsServer for LocalStack {
    fn port(&self) -> u16 {
        self.port
    }

    fn venv(&self) -> PathBuf {
        venv()
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
