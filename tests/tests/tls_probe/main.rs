//! The TLS probe behind the `tls` import, against a fleet of real endpoints on loopback
//! addresses (`fleet.rs`): what each serves and how each fails, told apart; and through a
//! real plugin, the grants: only granted networks and ports, at the granted rate.

use std::time::Duration;

use keywarden::discovery::prober::{ProbeRoots, RustlsProber, Target, TlsProber};
use keywarden::plugins::loader;
use keywarden::runtime::bindings::tls::{Peer, ProbeError};
use keywarden::runtime::bindings::types::JobResult;
use keywarden::runtime::invoke::{JobCall, JobInput, JobReport};
use keywarden_tests::tls_fleet::{Endpoint, Fleet};
use keywarden_tests::{plugin_file, runtime_from_toml};
use serde_json::{Value, json};
use sha1::Digest as _;

async fn probe(
    prober: &RustlsProber,
    e: &Endpoint,
    name: Option<&str>,
    timeout: Duration,
) -> Result<Peer, ProbeError> {
    prober
        .probe(&Target {
            addr: e.addr,
            server_name: name.map(str::to_owned),
            timeout,
        })
        .await
}

fn sha1_hex(der: &[u8]) -> String {
    hex(&sha1::Sha1::digest(der))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_endpoint_and_each_failure_is_told_apart() {
    let fleet = Fleet::start(1);
    let prober =
        RustlsProber::new(ProbeRoots::load(std::slice::from_ref(&fleet.ca), false).unwrap());
    let t = Duration::from_secs(5);

    let valid = probe(&prober, &fleet.valid, Some("valid.test"), t)
        .await
        .unwrap();
    assert!(
        valid.trusted && valid.name_matches && !valid.expired,
        "{valid:?}"
    );
    assert_eq!(valid.trust_error, None);
    assert_eq!(valid.chain.len(), 2, "leaf and CA, as presented");
    assert_eq!(sha1_hex(&valid.chain[0]), fleet.openssl_sha1(&fleet.valid));
    assert_eq!(valid.address, fleet.valid.addr.to_string());
    assert_eq!(valid.protocol, "TLSv1.3");
    assert!(
        valid.cipher_suite.starts_with("TLS13_"),
        "{}",
        valid.cipher_suite
    );
    let by_address = probe(&prober, &fleet.valid, None, t).await.unwrap();
    assert!(by_address.name_matches, "the leaf names its address too");
    let wrong_name = probe(&prober, &fleet.valid, Some("elsewhere.test"), t)
        .await
        .unwrap();
    assert!(wrong_name.trusted && !wrong_name.name_matches);

    let expired = probe(&prober, &fleet.expired, Some("expired.test"), t)
        .await
        .unwrap();
    assert!(
        expired.expired && expired.trusted && expired.name_matches,
        "{expired:?}"
    );
    assert_eq!(
        sha1_hex(&expired.chain[0]),
        fleet.openssl_sha1(&fleet.expired)
    );

    let own = probe(&prober, &fleet.self_signed, Some("self.test"), t)
        .await
        .unwrap();
    assert!(!own.trusted && own.name_matches && !own.expired, "{own:?}");
    assert!(own.trust_error.is_some());
    assert_eq!(own.chain.len(), 1);

    let mismatch = probe(&prober, &fleet.mismatch, Some("mismatch.test"), t)
        .await
        .unwrap();
    assert!(mismatch.trusted && !mismatch.name_matches, "{mismatch:?}");

    let v13 = probe(&prober, &fleet.tls13_only, Some("valid.test"), t)
        .await
        .unwrap();
    assert_eq!(v13.protocol, "TLSv1.3");
    let v12 = probe(&prober, &fleet.tls12_only, Some("valid.test"), t)
        .await
        .unwrap();
    assert_eq!(v12.protocol, "TLSv1.2");
    assert!(
        v12.cipher_suite.starts_with("TLS_ECDHE_"),
        "{}",
        v12.cipher_suite
    );
    assert!(v12.trusted && v12.name_matches);

    let fails = [
        (&fleet.not_tls, "not-tls"),
        (&fleet.closed, "refused"),
        (&fleet.silent, "timed-out"),
    ];
    for (e, want) in fails {
        let err = probe(&prober, e, None, Duration::from_millis(800))
            .await
            .expect_err(want);
        let kind = match &err {
            ProbeError::NotTls(_) => "not-tls",
            ProbeError::Refused(_) => "refused",
            ProbeError::TimedOut(_) => "timed-out",
            ProbeError::Handshake(_) => "handshake",
            ProbeError::Unreachable(_) => "unreachable",
            ProbeError::NotGranted(_) => "not-granted",
        };
        assert_eq!(kind, want, "{}: {err:?}", e.addr);
    }
}

/// A plugin loaded on a runtime configured by the test.
struct Prober {
    runtime: std::sync::Arc<keywarden::runtime::Runtime>,
    plugin: keywarden::plugins::LoadedPlugin,
}

impl Prober {
    /// Plugin `name` on a runtime configured by `toml`.
    async fn load(toml: &str, name: &str) -> Prober {
        let runtime = runtime_from_toml(toml);
        let plugin = loader::load_file(&runtime, &plugin_file(name))
            .await
            .unwrap_or_else(|f| panic!("{name} did not load: {}", f.reason));
        Prober { runtime, plugin }
    }

    /// Runs `operation` (called as `call`) with `params`.
    async fn run(&self, operation: &str, call: JobCall, params: Value) -> JobReport {
        let input = JobInput {
            job_id: format!("test-{operation}"),
            operation: operation.into(),
            target: None,
            params,
            scope: "tests".into(),
            dry_run: false,
        };
        self.plugin.run(&self.runtime, input, call, None).await
    }
}

/// The hostile plugin (its `probe` operation) on a runtime configured by `toml`.
async fn hostile(toml: &str) -> Prober {
    Prober::load(toml, "hostile").await
}

async fn run_probe(p: &Prober, params: Value) -> (Vec<Value>, JobReport) {
    let report = p.run("probe", JobCall::Custom, params).await;
    let finished = report.outcome.as_ref().expect("the probe job runs");
    assert_eq!(finished.result, JobResult::Success, "{}", finished.message);
    let results = finished.details["results"].as_array().unwrap().clone();
    (results, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_probes_only_its_grants_at_its_rate() {
    let fleet = Fleet::start(2);
    let port = fleet.valid.addr.port();
    let runtime = hostile(&format!(
        r#"
        [tls_probing]
        roots = [{ca:?}]
        system_roots = false
        [plugins.hostile]
        tls_probe = true
        tls_networks = ["127.0.2.11/32"]
        tls_ports = ["{port}"]
        tls_rate_per_sec = 10
        tls_concurrency = 1
        "#,
        ca = fleet.ca.display().to_string(),
    ))
    .await;
    let probe =
        |host: &str, port: u16| json!({"host": host, "port": port, "server_name": "valid.test"});

    let (ok, _) = run_probe(&runtime, probe("127.0.2.11", port)).await;
    assert_eq!(ok[0]["trusted"], true, "{ok:?}");
    assert_eq!(ok[0]["name_matches"], true);

    // Another address of the fleet, the granted address on another port, a name that
    // resolves outside the grant: refused before a packet leaves.
    for (host, p) in [
        ("127.0.2.12", fleet.expired.addr.port()),
        ("127.0.2.11", fleet.expired.addr.port()),
        ("localhost", port),
    ] {
        let (r, _) = run_probe(&runtime, probe(host, p)).await;
        assert_eq!(r[0]["error"], "not-granted", "{host}:{p}: {r:?}");
        assert!(
            r[0]["message"].as_str().unwrap().contains("127.0.2.11/32"),
            "says what is granted: {r:?}"
        );
    }

    // Ten a second: eleven probes take a second at least.
    let mut eleven = probe("127.0.2.11", port);
    eleven["times"] = json!(11);
    let (r, report) = run_probe(&runtime, eleven).await;
    assert!(r.iter().all(|x| x["trusted"] == true), "{r:?}");
    assert!(
        report.elapsed >= Duration::from_millis(950),
        "11 probes at 10/s took {:?}",
        report.elapsed
    );

    // Without tls_probe, nothing.
    let ungranted = hostile(&format!(
        r#"
        [plugins.hostile]
        tls_networks = ["127.0.2.11/32"]
        tls_ports = ["{port}"]
        "#
    ))
    .await;
    let (r, _) = run_probe(&ungranted, probe("127.0.2.11", port)).await;
    assert_eq!(r[0]["error"], "not-granted", "{r:?}");
}

/// `ssl-scan` (its two operations) on a runtime granting it loopback.
async fn ssl_scan(fleet: &Fleet) -> Prober {
    let toml = format!(
        r#"
        [tls_probing]
        roots = [{ca:?}]
        system_roots = false
        [plugins.ssl-scan]
        tls_probe = true
        tls_networks = ["127.0.3.0/24"]
        tls_ports = ["1-65535"]
        tls_rate_per_sec = 1000
        tls_concurrency = 4
        "#,
        ca = fleet.ca.display().to_string(),
    );
    Prober::load(&toml, "ssl-scan").await
}

async fn scan(p: &Prober, operation: &str, params: Value) -> Value {
    let report = p.run(operation, JobCall::Scan, params).await;
    let finished = report.outcome.as_ref().expect("the scan runs");
    assert_eq!(finished.result, JobResult::Success, "{}", finished.message);
    assert_eq!(
        report.progress.map(|(d, t)| d == t),
        Some(true),
        "progress reaches its end"
    );
    finished.details.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_reports_exactly_the_tls_endpoints_and_monitoring_sees_a_renewal() {
    let mut fleet = Fleet::start(3);
    let scanner = ssl_scan(&fleet).await;
    let everything = fleet.all();
    let ports: Vec<String> = everything
        .iter()
        .map(|e| e.addr.port().to_string())
        .collect();
    // Every address of the fleet on every port of the fleet: 81 endpoints.
    let range = format!("127.0.3.11-127.0.3.19:{}", ports.join(","));
    let details = scan(
        &scanner,
        "ssl_discovery",
        json!({"ranges": [range], "timeout_ms": 1000}),
    )
    .await;
    assert_eq!(details["probed"], 81);
    let mut found: Vec<(String, String)> = details["found"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["address"].as_str().unwrap().to_owned(),
                f["thumbprint"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    let mut want: Vec<(String, String)> = fleet
        .serving()
        .iter()
        .map(|e| (e.addr.to_string(), fleet.openssl_sha1(e)))
        .collect();
    want.sort();
    assert_eq!(
        found, want,
        "exactly the TLS endpoints, with openssl's thumbprints"
    );
    assert_eq!(
        details["failures"],
        json!({"not-tls": 1, "refused": 73, "timed-out": 1}),
        "{}",
        details["failed"]
    );
    let expired = details["found"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["address"] == fleet.expired.addr.to_string())
        .unwrap();
    assert_eq!(expired["expired"], true);
    assert_eq!(expired["trusted"], true);
    assert!(
        expired["subject"]
            .as_str()
            .unwrap()
            .contains("expired.test"),
        "{expired}"
    );

    // Monitoring: the valid endpoint's certificate is renewed; the next probe sees it.
    let before = fleet.openssl_sha1(&fleet.valid);
    fleet.reissue_valid();
    let after = fleet.openssl_sha1(&fleet.valid);
    assert_ne!(before, after);
    let known = json!({"endpoints": [{"host": "127.0.3.11", "port": fleet.valid.addr.port(),
                                      "server_name": "valid.test"}]});
    let details = scan(&scanner, "ssl_monitoring", known).await;
    assert_eq!(details["found"][0]["thumbprint"], after.as_str());
    assert_eq!(details["found"][0]["name_matches"], true);

    // A range the job may not hold is refused as a bad param, before any probe.
    let report = scanner
        .run(
            "ssl_discovery",
            JobCall::Scan,
            json!({"ranges": ["10.0.0.0/8:443"]}),
        )
        .await;
    let err = report.outcome.expect_err("too many endpoints");
    assert!(err.to_string().contains("at most 65536"), "{err}");
}
