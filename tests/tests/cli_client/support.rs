//! Runs the `keywarden` binary as a client of a test server.

use std::path::PathBuf;

use keywarden_tests::server::TestServer;
use serde_json::Value;

/// What one run printed and how it exited.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// How a command finds its token.
#[derive(Debug, Clone)]
pub enum Token {
    Env(String),
    File(PathBuf),
    None,
}

/// The client pointed at one server with one token.
#[derive(Debug, Clone)]
pub struct Kw {
    pub server: String,
    pub token: Token,
    pub ca_file: Option<PathBuf>,
}

impl Kw {
    pub fn new(server: &TestServer, token: &str) -> Kw {
        Kw {
            server: server.base.clone(),
            token: Token::Env(token.to_owned()),
            ca_file: server.ca_cert.clone(),
        }
    }

    pub fn with_token(&self, token: Token) -> Kw {
        Kw {
            token,
            ..self.clone()
        }
    }

    /// `keywarden ARGS --server URL` with a clean environment (no `KEYWARDEN_*` of the
    /// caller's leaks in) and the token as [`Token`] says.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(keywarden_tests::keywarden_binary());
        command
            .env_clear()
            .env("KEYWARDEN_LOG", "error")
            .args(args)
            .arg("--server")
            .arg(&self.server)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        if let Some(ca) = &self.ca_file {
            command.arg("--ca-file").arg(ca);
        }
        match &self.token {
            Token::Env(token) => {
                command.env("KEYWARDEN_TOKEN", token);
            }
            Token::File(file) => {
                command.arg("--token-file").arg(file);
            }
            Token::None => {}
        }
        command
    }

    /// Runs a command to its end.
    pub async fn run(&self, args: &[&str]) -> Out {
        let out = self.command(args).output().await.expect("keywarden runs");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs a command that must succeed; its standard output.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert_eq!(out.code, 0, "keywarden {args:?}: {out:?}");
        out.stdout
    }

    /// Runs a command with `-o json` that must succeed; its output parsed.
    pub async fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.extend(["-o", "json"]);
        let text = self.ok(&args).await;
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {text}"))
    }

    /// A config whose jobs fail (hello asks for a secret it was not granted); its id.
    pub async fn failing_config(&self) -> String {
        let created = self
            .json(&[
                "configs",
                "create",
                "--name",
                "secretive",
                "--operation",
                "hello",
                "--run-at",
                "@daily",
                "--params",
                r#"{"name": "x", "secret": "not_granted"}"#,
            ])
            .await;
        created["id"].as_str().unwrap().to_owned()
    }

    /// Runs a command that must exit with `code`; its standard error.
    pub async fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args).await;
        assert_eq!(out.code, code, "keywarden {args:?}: {out:?}");
        assert!(out.stderr.starts_with("error: "), "{out:?}");
        out.stderr
    }
}

/// Asserts the table lists each of `values`.
pub fn shows(table: &str, values: &[&str]) {
    for value in values {
        assert!(table.contains(value), "the table lacks {value:?}:\n{table}");
    }
}
