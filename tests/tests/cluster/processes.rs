//! Real `keywarden serve` processes sharing one PostgreSQL schema: each with its own node
//! id, data dir, operator config and port (`127.0.0.1:0`, read back from its
//! `listening on` line), killed with SIGKILL and started again like an operator's crash
//! and restart. Only `hello.wasm` is in their plugins folder and they share one compile
//! cache, so a restart does not recompile.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keywarden_db::testing::PgTestSchema;

/// One API call to a node with `token`; panics with the answer unless it succeeded.
pub async fn call(
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut req = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap()
}

/// Wall-clock nanoseconds since the epoch (the plugin's records use the same clock).
pub fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// What every node of a cluster shares.
pub struct Cluster {
    pub pg: PgTestSchema,
    pub root: tempfile::TempDir,
    /// Granted to `hello` as `/records` (writable) on every node.
    pub records: PathBuf,
    plugins: PathBuf,
    binary: PathBuf,
}

impl Cluster {
    /// A fresh schema and folders, or `None` (SKIPPED) without PostgreSQL outside CI.
    pub async fn new(case: &str) -> Option<Cluster> {
        let pg = PgTestSchema::create(case).await?;
        let root = tempfile::tempdir().unwrap();
        let plugins = root.path().join("plugins");
        let records = root.path().join("records");
        for dir in [&plugins, &records, &root.path().join("cache")] {
            std::fs::create_dir_all(dir).unwrap();
        }
        let (built, binary) = tokio::task::spawn_blocking(|| {
            (
                keywarden_tests::plugins_dir(),
                keywarden_tests::keywarden_binary(),
            )
        })
        .await
        .unwrap();
        std::fs::copy(built.join("hello.wasm"), plugins.join("hello.wasm")).unwrap();
        Some(Cluster {
            pg,
            root,
            records,
            plugins,
            binary,
        })
    }

    /// Starts node `id` with `server` as its `[server]` settings (besides the node id)
    /// and waits until it listens.
    fn start(&self, id: &str, server: &str) -> Node {
        let data = self.root.path().join(id);
        std::fs::create_dir_all(&data).unwrap();
        let cache = self.root.path().join("cache");
        let config = data.join("keywarden.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\n{server}\n\n\
                 [runtime]\ncache_dir = {cache:?}\ncache_key_file = {key:?}\n\n\
                 [plugins.hello]\nsettings = {{ record_label = {id:?} }}\n\
                 [[plugins.hello.dirs]]\nhost = {records:?}\nguest = \"/records\"\nwritable = true\n",
                key = cache.with_extension("key"),
                records = self.records,
            ),
        )
        .unwrap();
        let mut node = Node {
            id: id.to_owned(),
            data,
            config,
            plugins: self.plugins.clone(),
            binary: self.binary.clone(),
            url: self.pg.url.clone(),
            child: None,
            base: String::new(),
        };
        node.spawn();
        node
    }

    /// Starts a node per id, the first alone (it migrates the schema and writes the
    /// bootstrap admin token), and returns them with that token.
    pub fn start_all(&self, ids: &[&str], server: &str) -> (Vec<Node>, String) {
        let first = self.start(ids[0], server);
        let token = std::fs::read_to_string(first.data.join("admin-token"))
            .expect("the first node wrote the admin token")
            .trim()
            .to_owned();
        let mut nodes = vec![first];
        nodes.extend(ids[1..].iter().map(|id| self.start(id, server)));
        (nodes, token)
    }

    pub async fn finish(self, nodes: Vec<Node>) {
        drop(nodes); // killed on drop
        self.pg.drop_schema().await;
    }
}

/// One node's process, started again by [`Node::restart`].
pub struct Node {
    pub id: String,
    pub data: PathBuf,
    config: PathBuf,
    plugins: PathBuf,
    binary: PathBuf,
    url: String,
    child: Option<Child>,
    /// `http://127.0.0.1:PORT` of the running process.
    pub base: String,
}

impl Node {
    fn log(&self) -> PathBuf {
        self.data.join("server.log")
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .unwrap();
        let mut cmd = Command::new(&self.binary);
        cmd.args(["serve", "--config"])
            .arg(&self.config)
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&self.data)
            .arg("--plugins-dir")
            .arg(&self.plugins)
            .args(["--node-id", &self.id, "--database-url", &self.url]);
        for var in [
            "KEYWARDEN_LISTEN",
            "KEYWARDEN_CONFIG",
            "KEYWARDEN_DATA_DIR",
            "KEYWARDEN_PLUGINS_DIR",
            "KEYWARDEN_DATABASE_URL",
            "KEYWARDEN_NODE_ID",
            "KEYWARDEN_LOG_FORMAT",
        ] {
            cmd.env_remove(var);
        }
        let mut child = cmd
            .env("KEYWARDEN_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("keywarden serve starts");
        match keywarden_tests::announced_address(&mut child, Duration::from_secs(180)) {
            Some(base) => self.base = base,
            None => {
                let _ = child.kill();
                panic!(
                    "node {} did not listen; its log:\n{}",
                    self.id,
                    std::fs::read_to_string(self.log()).unwrap_or_default()
                );
            }
        }
        self.child = Some(child);
    }

    /// SIGKILL: no drain, no finish written, leases left to expire. Returns when.
    pub fn kill(&mut self) -> u128 {
        let at = now_ns();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        at
    }

    /// Starts the process again on the same node id, data dir and database.
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// The node's log so far (for failure messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}
