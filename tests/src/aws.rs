//! What the local AWS KMS servers of the tests share: the wait for a server's port, and
//! the boto3 helper script `tests/aws/kms.py`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// Access key the tests grant the plugin (moto and LocalStack accept any).
pub const ACCESS_KEY: &str = "keywarden-test";
/// Secret key the tests grant the plugin; tests assert it never shows up.
pub const SECRET_KEY: &str = "keywarden-test-secret";

/// How long a local AWS server may take to start.
pub const STARTUP: Duration = Duration::from_secs(60);

/// Runs `tests/aws/kms.py ENDPOINT args...` with the venv's python and `stdin`; its
/// JSON answer.
pub fn kms_py(venv: &Path, endpoint: &str, args: &[&str], stdin: Option<&Value>) -> Value {
    let mut child = Command::new(venv.join("bin").join("python"))
        .arg(crate::repo_root().join("tests").join("aws").join("kms.py"))
        .arg(endpoint)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.to_string().as_bytes())
            .expect("kms.py reads its input");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("kms.py finishes");
    assert!(
        out.status.success(),
        "kms.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("kms.py answers JSON")
}

/// A local AWS KMS server the tests drive: moto, or LocalStack where moto lacks a call.
pub trait KmsServer {
    /// The 127.0.0.1 port it listens on.
    fn port(&self) -> u16;
    /// The venv whose python has boto3 (the server's own).
    fn venv(&self) -> PathBuf;

    /// `http://127.0.0.1:PORT`.
    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }
    /// `http://127.0.0.1:PORT`, as an outbound_hosts grant (plain HTTP on loopback).
    fn host(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }
    /// Runs `tests/aws/kms.py ENDPOINT args...` against this server; its JSON answer.
    fn boto3(&self, args: &[&str], stdin: Option<&Value>) -> Value {
        kms_py(&self.venv(), &self.endpoint(), args, stdin)
    }
}

/// Operator config (TOML) granting the `aws-kms` plugin `server`'s host and the two
/// credential secrets; `extra` lines go into the plugin's table (e.g. `timeout_secs = 1800`).
pub fn plugin_grants(server: &impl KmsServer, extra: &str) -> String {
    format!(
        r#"
[secrets]
aws-access-key-id = {{ value = "{ACCESS_KEY}" }}
aws-secret-access-key = {{ value = "{SECRET_KEY}" }}

[plugins.aws-kms]
outbound_hosts = ["{host}"]
secrets = ["aws-access-key-id", "aws-secret-access-key"]
settings = {{ endpoint = "{endpoint}", region = "us-east-1" }}
{extra}
"#,
        host = server.host(),
        endpoint = server.endpoint()
    )
}
