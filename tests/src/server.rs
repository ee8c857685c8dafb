//! A real Keywarden server started in-process on port 0 for the `api_*` tests, with the
//! real compiled plugins, on SQLite (always) or PostgreSQL (when
//! `KEYWARDEN_TEST_DATABASE_URL` is set; each server gets a fresh schema, dropped by
//! [`TestServer::stop`]), plus small JSON-over-HTTP helpers. [`TestServer::sqlite_tls`]
//! serves HTTPS with the internal CA, and its client trusts that CA.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keywarden::operator_config::OperatorConfig;
use keywarden::server::tls::{CA_CERT_FILE, TLS_DIR};
use keywarden::server::{ServeOptions, TlsOptions, bootstrap::ADMIN_TOKEN_FILE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Environment variable naming the PostgreSQL server for the postgres variants.
pub use keywarden_db::testing::PG_ENV;
use keywarden_db::testing::PgTestSchema;

/// A running server and what is needed to stop and clean it up.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`, or `https://127.0.0.1:PORT` for a TLS server.
    pub base: String,
    /// The internal CA certificate a TLS server's certificate chains to
    /// (`<data-dir>/tls/ca-cert.pem`); `None` for plain HTTP.
    pub ca_cert: Option<PathBuf>,
    /// The bootstrap admin token (account `admin`).
    pub admin: String,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    pub data_dir: tempfile::TempDir,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pg: Option<PgTestSchema>,
    database_url: String,
    /// What [`restart`](Self::restart) starts the server again with.
    config: OperatorConfig,
    plugins_dir: PathBuf,
    /// The database URL given to the server (`None`: SQLite in the data dir).
    given_url: Option<String>,
}

/// The operator config of [`TestServer::sqlite`] and [`TestServer::postgres`]: accounts
/// `alice` and `bob` may run the plugins that need no grants (`noop`, `hello`), as the
/// `admin` account may; every other account may run nothing.
fn test_accounts() -> OperatorConfig {
    parse_config(TEST_ACCOUNTS)
}

/// The TOML of [`TestServer::sqlite`]'s operator config, for tests that add to it.
pub const TEST_ACCOUNTS: &str = r#"
[plugins.noop]
[plugins.hello]
[accounts.alice.plugins.noop]
[accounts.alice.plugins.hello]
[accounts.bob.plugins.noop]
[accounts.bob.plugins.hello]
"#;

/// The plugins folder (built once per process, off the async runtime).
async fn plugins() -> PathBuf {
    tokio::task::spawn_blocking(crate::plugins_dir)
        .await
        .expect("plugin build")
}

/// Compiled components are shared by every test server so each compiles only once.
fn shared_cache() -> PathBuf {
    crate::plugins_dir()
        .parent()
        .expect("target dir")
        .join("api-test-cache")
}

impl TestServer {
    /// A server on a fresh SQLite database.
    pub async fn sqlite() -> TestServer {
        Self::start(None, "sqlite", test_accounts(), None).await
    }

    /// A server on a fresh SQLite database serving HTTPS with a certificate from the
    /// internal CA in its data dir; [`client`](Self::client) (and every helper) trusts
    /// that CA and nothing else.
    pub async fn sqlite_tls(config: OperatorConfig) -> TestServer {
        Self::start_with(
            None,
            "sqlite",
            config,
            None,
            Some(TlsOptions::InternalCa { names: Vec::new() }),
        )
        .await
    }

    /// The HTTP client the helpers use (for a TLS server: trusting its CA only).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// [`sqlite_with`](Self::sqlite_with) with the operator config as TOML text.
    pub async fn sqlite_with_toml(toml: &str) -> TestServer {
        Self::sqlite_with(parse_config(toml)).await
    }

    /// [`postgres_with`](Self::postgres_with) with the operator config as TOML text.
    pub async fn postgres_with_toml(toml: &str) -> Option<TestServer> {
        Self::postgres_with(parse_config(toml)).await
    }

    /// The URL of the server's database (for tests that read or seed the store).
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// Runs one SQL statement on the server's database, behind its back (to break it on
    /// purpose).
    pub async fn execute_sql(&self, sql: &str) {
        if self.database_url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(&self.database_url)
                .await
                .expect("connect");
            sqlx::query(sql).execute(&pool).await.expect(sql);
            pool.close().await;
        } else {
            let url = format!("sqlite://{}", self.database_url);
            let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
            sqlx::query(sql).execute(&pool).await.expect(sql);
            pool.close().await;
        }
    }

    /// A server on a fresh PostgreSQL schema, or `None` (with a note on stderr) when
    /// `KEYWARDEN_TEST_DATABASE_URL` is not set.
    pub async fn postgres() -> Option<TestServer> {
        Self::postgres_with(test_accounts()).await
    }

    /// [`sqlite`](Self::sqlite) with an operator config (grants, secrets).
    pub async fn sqlite_with(config: OperatorConfig) -> TestServer {
        Self::start(None, "sqlite", config, None).await
    }

    /// A server on a fresh SQLite database (`postgres: false`) or PostgreSQL schema
    /// (`None` when PostgreSQL is not configured), with an operator config and its own
    /// plugins folder instead of every bundled plugin.
    pub async fn with_plugins(
        postgres: bool,
        config: OperatorConfig,
        plugins_dir: PathBuf,
    ) -> Option<TestServer> {
        if postgres {
            Self::on_postgres(config, Some(plugins_dir)).await
        } else {
            Some(Self::start(None, "sqlite", config, Some(plugins_dir)).await)
        }
    }

    /// A server on a database something else filled (`keywarden restore`): SQLite in
    /// `data_dir` when `pg` is `None`, else that PostgreSQL schema (dropped by
    /// [`stop`](Self::stop)). `data_dir` must hold an `admin-token` file whose token the
    /// database knows, as an operator moving a server would carry it over.
    pub async fn on_existing(
        data_dir: tempfile::TempDir,
        pg: Option<PgTestSchema>,
        config: OperatorConfig,
    ) -> TestServer {
        let backend = if pg.is_some() { "postgres" } else { "sqlite" };
        let url = pg.as_ref().map(|p| p.url.clone());
        let mut server = Self::start_in(data_dir, url, backend, config, None, None).await;
        if let Some(pg) = pg {
            server.database_url = pg.url.clone();
            server.pg = Some(pg);
        }
        server
    }

    /// [`postgres`](Self::postgres) with an operator config (grants, secrets).
    pub async fn postgres_with(config: OperatorConfig) -> Option<TestServer> {
        Self::on_postgres(config, None).await
    }

    async fn on_postgres(
        config: OperatorConfig,
        plugins_dir: Option<PathBuf>,
    ) -> Option<TestServer> {
        let pg = PgTestSchema::create("api").await?;
        let mut server = Self::start(Some(pg.url.clone()), "postgres", config, plugins_dir).await;
        server.database_url = pg.url.clone();
        server.pg = Some(pg);
        Some(server)
    }

    async fn start(
        database_url: Option<String>,
        backend: &'static str,
        config: OperatorConfig,
        plugins_dir: Option<PathBuf>,
    ) -> TestServer {
        Self::start_with(database_url, backend, config, plugins_dir, None).await
    }

    async fn start_with(
        database_url: Option<String>,
        backend: &'static str,
        config: OperatorConfig,
        plugins_dir: Option<PathBuf>,
        tls: Option<TlsOptions>,
    ) -> TestServer {
        let data_dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(data_dir, database_url, backend, config, plugins_dir, tls).await
    }

    async fn start_in(
        data_dir: tempfile::TempDir,
        database_url: Option<String>,
        backend: &'static str,
        config: OperatorConfig,
        plugins_dir: Option<PathBuf>,
        tls: Option<TlsOptions>,
    ) -> TestServer {
        let plugins_dir = match plugins_dir {
            Some(dir) => dir,
            None => plugins().await,
        };
        let kept_config = config.clone();
        let given_url = database_url.clone();
        let mut options = ServeOptions::new(data_dir.path(), plugins_dir.clone());
        options.config = config;
        let sqlite_url = data_dir.path().join("keywarden.db").display().to_string();
        options.database_url = database_url;
        options.node_id = Some("test-node".to_owned());
        options.tick = Duration::from_millis(200);
        options.drain_timeout = Duration::from_secs(10);
        options.config.runtime.cache_dir = Some(shared_cache());
        // One key for the shared cache, so each server trusts what another compiled.
        options.config.runtime.cache_key_file = Some(shared_cache().with_extension("key"));
        let ca_cert = tls
            .is_some()
            .then(|| data_dir.path().join(TLS_DIR).join(CA_CERT_FILE));
        options.tls = tls;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let scheme = if ca_cert.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(keywarden::serve(listener, options, async {
            let _ = rx.await;
        }));
        // A TLS server writes its CA during start-up; the client is made once it exists.
        let mut client = ca_cert.is_none().then(reqwest::Client::new);
        let deadline = Instant::now() + Duration::from_secs(120);
        let token_file = data_dir.path().join(ADMIN_TOKEN_FILE);
        let client = loop {
            if let Some(ca) = ca_cert
                .as_deref()
                .filter(|ca| client.is_none() && ca.is_file())
            {
                client = Some(client_trusting(ca));
            }
            if let Some(client) = &client {
                let up = client.get(format!("{base}/healthz")).send().await;
                if up.is_ok_and(|r| r.status().is_success()) && token_file.is_file() {
                    break client.clone();
                }
            }
            assert!(!task.is_finished(), "the server stopped during start-up");
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let admin = std::fs::read_to_string(&token_file)
            .unwrap()
            .trim()
            .to_owned();
        TestServer {
            base,
            ca_cert,
            admin,
            backend,
            data_dir,
            client,
            stop: Some(tx),
            task: Some(task),
            pg: None,
            database_url: sqlite_url,
            config: kept_config,
            plugins_dir,
            given_url,
        }
    }

    /// Shuts the server down as SIGTERM does (running jobs drain, queued ones stay) and
    /// starts it again on the same data dir and database, as an operator's restart would.
    /// Plain HTTP servers only.
    pub async fn restart(mut self) -> TestServer {
        assert!(self.ca_cert.is_none(), "restart serves plain HTTP only");
        self.begin_shutdown();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("server stops within 30 s")
                .expect("server task")
                .expect("server exits cleanly");
        }
        let pg = self.pg.take();
        let database_url = self.database_url.clone();
        let mut server = Self::start_in(
            self.data_dir,
            self.given_url.clone(),
            self.backend,
            self.config.clone(),
            Some(self.plugins_dir.clone()),
            None,
        )
        .await;
        server.database_url = database_url;
        server.pg = pg;
        server
    }

    /// Shuts the server down (asserting a clean exit) and drops a PostgreSQL schema.
    /// Asks the server to shut down (as SIGTERM does) without waiting for it; `stop`
    /// waits.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// One integer from the server's database (`SELECT COUNT(*) ...`), read behind its back.
    pub async fn query_count(&self, sql: &str) -> i64 {
        if self.database_url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(&self.database_url)
                .await
                .expect("connect");
            let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.expect(sql);
            pool.close().await;
            n
        } else {
            let url = format!("sqlite://{}", self.database_url);
            let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
            let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.expect(sql);
            pool.close().await;
            n
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("server stops within 30 s")
                .expect("server task");
            result.expect("server exits cleanly");
        }
        if let Some(pg) = self.pg.take() {
            pg.drop_schema().await;
        }
    }

    /// Sends `body` (if any) as JSON with `token` (if any); returns status and JSON body
    /// (`Null` for an empty body).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let bytes = response.bytes().await.expect("body read");
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{path}: not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (status, value)
    }

    /// A raw request body (for malformed-JSON tests).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: &str,
    ) -> (StatusCode, Value) {
        let response = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A GET with the response's headers: status, headers and JSON body.
    pub async fn get_with_headers(
        &self,
        token: &str,
        path: &str,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        let (status, headers) = (response.status(), response.headers().clone());
        (
            status,
            headers,
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// A GET of a Keyfactor-style list: status, JSON body and the `x-total-count` header.
    pub async fn get_counted(&self, token: &str, path: &str) -> (StatusCode, Value, Option<i64>) {
        let (status, headers, body) = self.get_with_headers(token, path).await;
        let total = headers
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        (status, body, total)
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// A new (non-admin unless `admin`) token for `account`, issued through the API.
    pub async fn token(&self, account: &str, admin: bool) -> String {
        let (status, body) = self
            .post(
                &self.admin,
                "/api/v1/tokens",
                &json!({"account": account, "label": "test", "admin": admin}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Creates a job config and returns its JSON, asserting 201.
    pub async fn create_config(&self, token: &str, body: &Value) -> Value {
        let (status, created) = self
            .post(token, "/api/v1/scheduler/job-configs", body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created
    }

    /// Polls a job until its status is final (or panics after `timeout`).
    pub async fn wait_job(&self, token: &str, job_id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, job) = self
                .get(token, &format!("/api/v1/scheduler/jobs/{job_id}"))
                .await;
            assert_eq!(status, StatusCode::OK, "{job}");
            if ["completed", "failed", "cancelled"].contains(&job["status"].as_str().unwrap_or(""))
            {
                return job;
            }
            assert!(Instant::now() < deadline, "job did not finish: {job}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// An HTTPS client whose only trust anchor is the PEM certificate `ca`.
pub fn client_trusting(ca: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca).expect("CA certificate");
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM CA certificate"))
        .build()
        .expect("HTTPS client")
}

/// Runs `scenario` against a SQLite server and, when configured, a PostgreSQL one.
pub async fn on_each_backend(scenario: impl AsyncFn(&TestServer)) {
    let server = TestServer::sqlite().await;
    scenario(&server).await;
    server.stop().await;
    if let Some(server) = TestServer::postgres().await {
        scenario(&server).await;
        server.stop().await;
    }
}

/// An operator config from TOML text; a test's config must parse.
pub fn parse_config(toml: &str) -> OperatorConfig {
    toml::from_str(toml).expect("test operator config parses")
}
