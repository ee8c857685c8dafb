//! Keyfactor's reference C agent (`tests/thirdparty/keyfactor-cagent`, v2.19.0.0), built
//! from source and run as a subprocess against a server on the loopback interface.
//!
//! The agent runs once and then exits. In one run it registers with
//! `POST /<VirtualDirectory>/Session/Register`, runs the jobs the server handed it and
//! exits. It rewrites its `config.json`, because it stores `AgentId`, clears
//! `EnrollOnStartup` after it enrolls, and records `LogFileIndex`. `CAgent::config` reads
//! that file back.
//!
//! ```no_run
//! # use keywarden_tests::cagent::{AgentConfig, CAgent};
//! # use std::time::Duration;
//! let dir = tempfile::tempdir().unwrap();
//! let mut config = AgentConfig::plain_http(dir.path(), "TestAgent1", "127.0.0.1:8080");
//! config.username = Some("DOMAIN\\user".into());
//! config.password = Some("secret".into());
//! let agent = CAgent::new(dir, config);
//! let out = agent.run(Duration::from_secs(30));
//! assert!(out.success(), "{out}");
//! ```

use std::fmt;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use tempfile::TempDir;

use crate::repo_root;

/// The agent refuses to read more than this from `config.json` (`config.h`
/// `MAX_CONFIG_FILE_LEN`, minus the terminating NUL). It silently cuts off longer files.
const MAX_CONFIG_LEN: usize = 4095;

/// The built agent: `<repo>/target/cagent/agent`.
///
/// The first call in a process builds the agent. Later calls in the same process return
/// at once. A build copies `tests/thirdparty/keyfactor-cagent/` to a fresh directory under
/// `<repo>/target/cagent-build/`, runs `make opentest` there (the OpenSSL build), and then
/// renames the binary into place. The rename is atomic, so a process that is running the
/// old binary is not affected. No build happens when the binary is newer than every
/// source file.
///
/// Test binaries that run at the same time are safe. A build holds an exclusive lock on
/// `target/cagent-build/.lock`, and once it has the lock it checks again whether the
/// binary is now fresh.
///
/// Panics with make's output when the build fails. A missing compiler or library is a
/// failure, never a skip: `.ci/tools.sh` installs gcc, make, libssl-dev and
/// libcurl4-openssl-dev.
pub fn agent_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build_agent(repo_root())).clone()
}

fn build_agent(root: &Path) -> PathBuf {
    let src = root
        .join("tests")
        .join("thirdparty")
        .join("keyfactor-cagent");
    let out_dir = root.join("target").join("cagent");
    let out = out_dir.join("agent");
    let build_root = root.join("target").join("cagent-build");

    let newest_source = newest_mtime(&src)
        .unwrap_or_else(|e| panic!("reading the agent sources in {}: {e}", src.display()));
    let fresh = || {
        fs::metadata(&out)
            .and_then(|m| m.modified())
            .is_ok_and(|built| built > newest_source)
    };
    if fresh() {
        return out;
    }

    fs::create_dir_all(&build_root)
        .and_then(|()| fs::create_dir_all(&out_dir))
        .unwrap_or_else(|e| panic!("creating {}: {e}", build_root.display()));
    let lock_path = build_root.join(".lock");
    let lock = File::create(&lock_path)
        .unwrap_or_else(|e| panic!("creating {}: {e}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("locking {}: {e}", lock_path.display()));
    // Another process may have built the agent while this one waited for the lock.
    if fresh() {
        return out;
    }
    // Only the lock holder creates build directories, so any that exist were left
    // behind by a process that was killed during a build.
    if let Ok(entries) = fs::read_dir(&build_root) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with("build-") {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }

    let work = tempfile::Builder::new()
        .prefix("build-")
        .tempdir_in(&build_root)
        .unwrap_or_else(|e| {
            panic!(
                "creating a build directory in {}: {e}",
                build_root.display()
            )
        });
    copy_tree(&src, work.path()).unwrap_or_else(|e| {
        panic!(
            "copying {} to {}: {e}",
            src.display(),
            work.path().display()
        )
    });
    eprintln!(
        "cagent: building the Keyfactor C agent (make opentest) in {}",
        work.path().display()
    );
    let make = Command::new("make")
        .arg("opentest")
        .current_dir(work.path())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("running make (install gcc, make, libssl-dev and libcurl4-openssl-dev: .ci/tools.sh): {e}")
        });
    let built = work.path().join("agent");
    if !make.status.success() || !built.is_file() {
        panic!(
            "building the Keyfactor C agent failed ({}; needs gcc, make, libssl-dev and \
             libcurl4-openssl-dev: .ci/tools.sh)\n--- make stdout ---\n{}\n--- make stderr ---\n{}",
            make.status,
            String::from_utf8_lossy(&make.stdout),
            String::from_utf8_lossy(&make.stderr),
        );
    }
    fs::rename(&built, &out)
        .unwrap_or_else(|e| panic!("moving {} to {}: {e}", built.display(), out.display()));
    drop(work);
    drop(lock);
    out
}

/// The newest modification time among the files under `dir`.
fn newest_mtime(dir: &Path) -> std::io::Result<SystemTime> {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let time = if meta.is_dir() {
            newest_mtime(&entry.path())?
        } else {
            meta.modified()?
        };
        newest = newest.max(time);
    }
    Ok(newest)
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The agent's `config.json`. The agent reads these members in `config.c`
/// (`config_decode`). Options that are `None` are left out of the file.
///
/// The agent reads `AgentCert`, `AgentKey`, `AgentKeyPassword` and the `CSR*` members
/// only when `UseAgentCert` is true. When it rewrites the file it leaves out every member
/// it did not read, so with `UseAgentCert: false` those members disappear from the file.
#[derive(Debug, Clone, Serialize)]
pub struct AgentConfig {
    /// `""` until the agent enrolls. The member must exist, even when empty.
    #[serde(rename = "AgentId")]
    pub agent_id: String,
    /// Sent as `ClientMachine` in registrations.
    #[serde(rename = "AgentName")]
    pub agent_name: String,
    /// `host:port`, without a scheme. The server certificate must match the host.
    #[serde(rename = "Hostname")]
    pub hostname: String,
    /// Basic auth is sent pre-emptively, but only when both `Username` and `Password`
    /// are present.
    #[serde(rename = "Username", skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(rename = "Password", skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The first path segment of every URL (`KeyfactorAgents`).
    #[serde(rename = "VirtualDirectory")]
    pub virtual_directory: String,
    /// The CA bundle that curl trusts. The file must exist even when `UseSsl` is false.
    #[serde(rename = "TrustStore")]
    pub trust_store: PathBuf,
    /// A PEM file that the agent writes when it enrolls. The directory must already exist.
    #[serde(rename = "AgentCert")]
    pub agent_cert: PathBuf,
    /// A PKCS#8 PEM file that the agent writes when it enrolls. It is encrypted when
    /// `AgentKeyPassword` is non-empty.
    #[serde(rename = "AgentKey")]
    pub agent_key: PathBuf,
    #[serde(rename = "AgentKeyPassword", skip_serializing_if = "Option::is_none")]
    pub agent_key_password: Option<String>,
    /// `RSA`, `ECC` or `ECDSA`.
    #[serde(rename = "CSRKeyType")]
    pub csr_key_type: String,
    /// For ECC keys, 256, 384 or 521.
    #[serde(rename = "CSRKeySize")]
    pub csr_key_size: u32,
    /// For example `CN=TestAgent1`. It must be at least 4 characters.
    #[serde(rename = "CSRSubject")]
    pub csr_subject: String,
    /// When true, the run first enrolls: it posts a CSR with `AgentId: ""`.
    #[serde(rename = "EnrollOnStartup")]
    pub enroll_on_startup: bool,
    /// `https://` when true, `http://` when false.
    #[serde(rename = "UseSsl")]
    pub use_ssl: bool,
    /// Whether the agent presents `AgentCert`/`AgentKey` as its TLS client certificate
    /// and enrolls for one.
    #[serde(rename = "UseAgentCert")]
    pub use_agent_cert: bool,
    /// Present `BootstrapCert`/`BootstrapKey` during first enrollment.
    #[serde(rename = "UseBootstrapCert")]
    pub use_bootstrap_cert: bool,
    #[serde(rename = "BootstrapCert", skip_serializing_if = "Option::is_none")]
    pub bootstrap_cert: Option<PathBuf>,
    #[serde(rename = "BootstrapKey", skip_serializing_if = "Option::is_none")]
    pub bootstrap_key: Option<PathBuf>,
    #[serde(
        rename = "BootstrapKeyPassword",
        skip_serializing_if = "Option::is_none"
    )]
    pub bootstrap_key_password: Option<String>,
    /// The agent's log. It is written at `LogFileIndex` and wraps at 5 MB.
    #[serde(rename = "LogFile")]
    pub log_file: PathBuf,
    /// The total number of attempts for each request. Values below 1 are treated as 1.
    #[serde(rename = "httpRetries")]
    pub http_retries: u32,
    /// Seconds between attempts.
    #[serde(rename = "retryInterval")]
    pub retry_interval: u32,
    /// A JSON object file. Its string members are sent as `ClientParameters`.
    #[serde(
        rename = "ClientParameterPath",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_parameter_path: Option<PathBuf>,
}

impl AgentConfig {
    /// The configuration for the full enrollment path (protocol notes §8). Its values are:
    ///
    /// * `EnrollOnStartup`, `UseSsl` and `UseAgentCert` are true.
    /// * The key is an ECC P-256 key for `CN=<agent_name>`.
    /// * The agent's certificate and key are `dir/certs/Agent-cert.pem` and
    ///   `dir/certs/Agent-key.pem`, and `dir/certs` is created.
    /// * The log is `dir/agent.log`.
    /// * There is one attempt per request, and no Basic auth.
    ///
    /// `host_port` is `host:port`, and the host must be loopback (`localhost`,
    /// `127.x.x.x` or `[::1]`). `trust_store` is the CA bundle file. The agent refuses to
    /// start when that file is missing, even for plain HTTP.
    pub fn new(dir: &Path, agent_name: &str, host_port: &str, trust_store: &Path) -> AgentConfig {
        assert_loopback(host_port);
        let certs = dir.join("certs");
        fs::create_dir_all(&certs).unwrap_or_else(|e| panic!("creating {}: {e}", certs.display()));
        AgentConfig {
            agent_id: String::new(),
            agent_name: agent_name.to_owned(),
            hostname: host_port.to_owned(),
            username: None,
            password: None,
            virtual_directory: "KeyfactorAgents".to_owned(),
            trust_store: trust_store.to_owned(),
            agent_cert: certs.join("Agent-cert.pem"),
            agent_key: certs.join("Agent-key.pem"),
            agent_key_password: None,
            csr_key_type: "ECC".to_owned(),
            csr_key_size: 256,
            csr_subject: format!("CN={agent_name}"),
            enroll_on_startup: true,
            use_ssl: true,
            use_agent_cert: true,
            use_bootstrap_cert: false,
            bootstrap_cert: None,
            bootstrap_key: None,
            bootstrap_key_password: None,
            log_file: dir.join("agent.log"),
            http_retries: 1,
            retry_interval: 1,
            client_parameter_path: None,
        }
    }

    /// The simplest setup (protocol notes §2.3): plain HTTP, no agent certificate and no
    /// enrollment. Each run makes one normal registration and then runs the jobs it gets.
    /// The agent still requires a trust store file, so this writes an empty one at
    /// `dir/unused-truststore.pem`.
    pub fn plain_http(dir: &Path, agent_name: &str, host_port: &str) -> AgentConfig {
        let trust_store = dir.join("unused-truststore.pem");
        fs::write(&trust_store, "")
            .unwrap_or_else(|e| panic!("writing {}: {e}", trust_store.display()));
        let mut config = AgentConfig::new(dir, agent_name, host_port, &trust_store);
        config.use_ssl = false;
        config.use_agent_cert = false;
        config.enroll_on_startup = false;
        config
    }
}

/// Panics unless the host of `host:port` is a loopback address.
fn assert_loopback(host_port: &str) {
    let host = match host_port.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => host_port,
    };
    let loopback = host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    assert!(
        loopback,
        "the agent may only talk to the loopback interface, not {host_port:?}"
    );
}

/// One run of the agent.
#[derive(Debug)]
pub struct RunOutput {
    /// The exit status, or `None` when the agent was killed at the timeout.
    pub status: Option<ExitStatus>,
    /// The time from spawning the agent until it exited or was killed.
    pub elapsed: Duration,
    /// What the agent printed on stdout (`printf`: flags, config dump, log flushing).
    pub stdout: String,
    /// What the agent printed on stderr: its log lines, at the `-l` level.
    pub stderr: String,
    /// What this run added to the `LogFile`. The agent writes this when it exits, and
    /// not at all if it crashes.
    pub log: String,
}

impl RunOutput {
    /// Whether the agent was killed because it ran past the timeout.
    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }

    /// Whether the agent exited on its own with status 0. Note that the agent also
    /// exits 0 when the server refuses its registration.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
}

impl fmt::Display for RunOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "agent {status} after {:?}", self.elapsed)?,
            None => write!(f, "agent killed at the timeout ({:?})", self.elapsed)?,
        }
        write!(
            f,
            "\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        )
    }
}

/// An agent installation: a directory holding `config.json`, the agent's certificate
/// and key and its log, which the agent rewrites run after run.
pub struct CAgent {
    /// Removes the directory when the `CAgent` is dropped, if the `CAgent` owns it.
    _temp: Option<TempDir>,
    dir: PathBuf,
    config_path: PathBuf,
    config: AgentConfig,
}

impl fmt::Debug for CAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CAgent")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl CAgent {
    /// An agent that lives in `dir`, which it removes when it is dropped. It writes
    /// `config` to `dir/config.json`.
    pub fn new(dir: TempDir, config: AgentConfig) -> CAgent {
        let mut agent = CAgent::at(dir.path(), config);
        agent._temp = Some(dir);
        agent
    }

    /// An agent that lives in `dir`, a directory the caller owns. It writes `config` to
    /// `dir/config.json`.
    pub fn at(dir: &Path, config: AgentConfig) -> CAgent {
        let agent = CAgent {
            _temp: None,
            dir: dir.to_owned(),
            config_path: dir.join("config.json"),
            config,
        };
        agent.write_config(&agent.config);
        agent
    }

    /// Replaces `config.json` with `config`. The `LogFileIndex` that the agent stored is
    /// kept, so the log continues where it stopped.
    pub fn set_config(&mut self, config: AgentConfig) {
        self.write_config(&config);
        self.config = config;
    }

    /// Edits the current `config.json` (as the agent left it) in place. `LogFileIndex`
    /// is kept unless `edit` sets it.
    pub fn update_config(
        &self,
        edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
    ) {
        let serde_json::Value::Object(mut map) = self.config() else {
            panic!("{} is not a JSON object", self.config_path.display());
        };
        edit(&mut map);
        self.write_json(&serde_json::Value::Object(map));
    }

    fn write_config(&self, config: &AgentConfig) {
        let value = serde_json::to_value(config).expect("the agent config serialises");
        self.write_json(&value);
    }

    fn write_json(&self, value: &serde_json::Value) {
        let mut value = value.clone();
        if let (Some(index), Some(map)) = (self.log_file_index(), value.as_object_mut()) {
            map.entry("LogFileIndex").or_insert(index.into());
        }
        let text = serde_json::to_string_pretty(&value).expect("JSON serialises");
        assert!(
            text.len() <= MAX_CONFIG_LEN,
            "config.json is {} bytes; the agent reads at most {MAX_CONFIG_LEN}",
            text.len()
        );
        fs::write(&self.config_path, text + "\n")
            .unwrap_or_else(|e| panic!("writing {}: {e}", self.config_path.display()));
    }

    /// The `LogFileIndex` in the current `config.json`, where the next log write goes.
    fn log_file_index(&self) -> Option<u64> {
        let text = fs::read_to_string(&self.config_path).ok()?;
        serde_json::from_str::<serde_json::Value>(&text)
            .ok()?
            .get("LogFileIndex")?
            .as_u64()
    }

    /// Runs `agent -c config.json -l t` once, and kills it if it runs past `timeout`.
    ///
    /// This blocks the calling thread. With a server on the current tokio runtime, use
    /// [`CAgent::run_async`] instead.
    pub fn run(&self, timeout: Duration) -> RunOutput {
        self.run_with_args(&[], timeout)
    }

    /// Like [`CAgent::run`], and `args` are added to the command line before `-c`. For
    /// example, `-a` sends the client certificate in `X-ARR-ClientCert`, and `-h` names
    /// the agent `<hostname>_<timestamp>` while it enrolls.
    pub fn run_with_args(&self, args: &[&str], timeout: Duration) -> RunOutput {
        self.invocation(args).run(timeout)
    }

    /// [`CAgent::run`] on tokio's blocking pool. Awaiting it leaves the runtime free, so a
    /// server spawned on the same runtime (even `current_thread`) keeps answering.
    pub async fn run_async(&self, timeout: Duration) -> RunOutput {
        self.run_with_args_async(&[], timeout).await
    }

    /// [`CAgent::run_with_args`] on tokio's blocking pool.
    pub async fn run_with_args_async(&self, args: &[&str], timeout: Duration) -> RunOutput {
        let invocation = self.invocation(args);
        tokio::task::spawn_blocking(move || invocation.run(timeout))
            .await
            .expect("the agent runner thread panicked")
    }

    fn invocation(&self, args: &[&str]) -> Invocation {
        Invocation {
            binary: agent_binary(),
            dir: self.dir.clone(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            config_path: self.config_path.clone(),
            log_path: self.config.log_file.clone(),
            log_from: self.log_file_index().unwrap_or(0),
        }
    }

    /// The current `config.json`, as the agent left it.
    pub fn config(&self) -> serde_json::Value {
        let text = fs::read_to_string(&self.config_path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", self.config_path.display()));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON ({e}):\n{text}", self.config_path.display()))
    }

    /// The whole `LogFile`, covering every run so far. It is empty when the file does not
    /// exist. [`RunOutput::log`] holds only what one run added.
    pub fn log(&self) -> String {
        match fs::read(&self.config.log_file) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => panic!("reading {}: {e}", self.config.log_file.display()),
        }
    }

    /// The configuration that was last written with [`CAgent::new`], [`CAgent::at`] or
    /// [`CAgent::set_config`]. It does not include the agent's own changes, which
    /// [`CAgent::config`] reads.
    pub fn agent_config(&self) -> &AgentConfig {
        &self.config
    }

    /// The directory that holds the agent's files. The agent runs with this as its
    /// working directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Where the agent writes its certificate (PEM) when it enrolls.
    pub fn agent_cert_path(&self) -> &Path {
        &self.config.agent_cert
    }

    /// Where the agent writes its private key (PKCS#8 PEM) when it enrolls.
    pub fn agent_key_path(&self) -> &Path {
        &self.config.agent_key
    }

    pub fn log_path(&self) -> &Path {
        &self.config.log_file
    }

    pub fn trust_store_path(&self) -> &Path {
        &self.config.trust_store
    }
}

/// Everything one run needs, owned so that it can move to another thread.
struct Invocation {
    binary: PathBuf,
    dir: PathBuf,
    args: Vec<String>,
    config_path: PathBuf,
    log_path: PathBuf,
    /// `LogFileIndex` before the run: where this run's log starts.
    log_from: u64,
}

impl Invocation {
    fn run(self, timeout: Duration) -> RunOutput {
        let mut command = Command::new(&self.binary);
        command
            .args(&self.args)
            .arg("-c")
            .arg(&self.config_path)
            .args(["-l", "t"])
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // libcurl honours proxy variables, so clear them to keep traffic on loopback.
        for var in [
            "http_proxy",
            "HTTP_PROXY",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
        ] {
            command.env_remove(var);
        }
        command.env("no_proxy", "*").env("NO_PROXY", "*");

        let started = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.binary.display()));
        let stdout = drain(child.stdout.take().expect("stdout is piped"));
        let stderr = drain(child.stderr.take().expect("stderr is piped"));
        let deadline = started + timeout;
        let status = loop {
            match child.try_wait().expect("waiting for the agent") {
                Some(status) => break Some(status),
                None if Instant::now() >= deadline => {
                    // SIGKILL for the agent's own pid. Reap it so that it is no zombie.
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        let elapsed = started.elapsed();
        RunOutput {
            status,
            elapsed,
            stdout: stdout.join().expect("stdout reader"),
            stderr: stderr.join().expect("stderr reader"),
            log: self.log_since(),
        }
    }

    /// The log from `log_from` to the end of the file. This is not exact when the log
    /// has wrapped at 5 MB, which a test never reaches.
    fn log_since(&self) -> String {
        let Ok(bytes) = fs::read(&self.log_path) else {
            return String::new();
        };
        let from = usize::try_from(self.log_from).unwrap_or(usize::MAX);
        let part = bytes.get(from..).unwrap_or(&bytes);
        String::from_utf8_lossy(part).into_owned()
    }
}

/// Reads `pipe` to its end on a thread of its own.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
