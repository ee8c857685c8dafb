//! 100,000 cron job configs in one `keywarden serve` process, on SQLite and (when
//! `KEYWARDEN_TEST_DATABASE_URL` is set) PostgreSQL: resident memory and CPU while idle,
//! beside the same server with no configs (the baseline, same run), and the lateness of
//! fires (fire time to job started) when 10,000 of them fire in the same minute. Goals:
//! under 150 MB, under 1% idle CPU, p99 lateness under 1 s.
//!
//! The configs are written with one SQL statement (a generated series) while the server
//! runs; 90,000 fire daily at 03:00, 10,000 daily at one minute a little ahead, all on
//! the `noop` plugin. The server is the binary built with the bench's profile.
//!
//! `cargo bench -p keywarden-tests --bench scheduler_scale` (`KW_BENCH_CONFIGS`,
//! `KW_BENCH_FIRING` change the sizes).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Timelike, Utc};
use keywarden_db::testing::PgTestSchema;

const IDLE: Duration = Duration::from_secs(20);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// CPU seconds (user + system) the process used so far.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // The clock tick is 100 Hz on Linux x86_64 (sysconf(_SC_CLK_TCK)).
    ticks / 100.0
}

struct Serve {
    child: Child,
    /// Kept open: the server may print more, and a closed pipe would fail its writes.
    _stdout: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Serve {
    fn start(data: &Path, plugins: &Path, database_url: Option<&str>) -> Serve {
        let mut cmd = Command::new(keywarden_tests::keywarden_bench_binary());
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data)
            .arg("--plugins-dir")
            .arg(plugins)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(url) = database_url {
            cmd.arg("--database-url").arg(url);
        }
        let mut child = cmd.spawn().expect("keywarden serve starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Serving: the scheduler and executor run.
        while !lines
            .next()
            .expect("the server prints its address")
            .unwrap()
            .starts_with("listening on ")
        {}
        Serve {
            child,
            _stdout: lines,
        }
    }

    /// Idle memory (MiB) and CPU (% of one core) over [`IDLE`].
    async fn idle(&self) -> (f64, f64) {
        let pid = self.child.id();
        let before = cpu_secs(pid);
        let t = Instant::now();
        tokio::time::sleep(IDLE).await;
        let used = cpu_secs(pid) - before;
        (rss_mib(pid), 100.0 * used / t.elapsed().as_secs_f64())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The database the server uses, for seeding and reading results.
enum Store {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Store {
    async fn execute(&self, sql: &str) {
        match self {
            Store::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
            Store::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn latencies_ms(&self, since: i64) -> (i64, Vec<f64>) {
        let sql = format!(
            "SELECT started_at - scheduled_for AS late FROM jobs WHERE status = 'completed' AND scheduled_for >= {since}"
        );
        let rows: Vec<(Option<i64>,)> = match self {
            Store::Sqlite(p) => sqlx::query_as(&sql).fetch_all(p).await,
            Store::Postgres(p) => sqlx::query_as(&sql).fetch_all(p).await,
        }
        .unwrap();
        let mut ms: Vec<f64> = rows
            .into_iter()
            .filter_map(|(l,)| l)
            .map(|us| us as f64 / 1000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        (ms.len() as i64, ms)
    }

    fn postgres(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }
}

async fn seed(store: &Store, configs: usize, firing: usize, at: chrono::DateTime<Utc>) {
    let pg = store.postgres();
    let series = if pg {
        format!("SELECT i FROM generate_series(0, {}) AS s(i)", configs - 1)
    } else {
        format!(
            "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {}) SELECT i FROM s",
            configs - 1
        )
    };
    let id = if pg {
        "lpad(to_hex(i), 8, '0') || '-0000-7000-8300-' || lpad(to_hex(i), 12, '0')"
    } else {
        "printf('%08x-0000-7000-8300-%012x', i, i)"
    };
    let now = Utc::now().timestamp_micros();
    let tomorrow_3am = (Utc::now() + chrono::Duration::days(1))
        .date_naive()
        .and_hms_opt(3, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_micros();
    let firing_cron = format!("{} {} * * *", at.minute(), at.hour());
    let at_us = at.timestamp_micros();
    store
        .execute(&format!(
            "INSERT INTO job_configs (id, account_id, name, operation, run_at, params, params_key, \
             schedule_kind, next_fire_at, created_at, updated_at) \
             SELECT {id}, 'admin', 'config-' || i, 'noop', \
             CASE WHEN i < {firing} THEN '{firing_cron}' ELSE '0 3 * * *' END, '{{}}', 'params', \
             'daily', CASE WHEN i < {firing} THEN {at_us} ELSE {tomorrow_3am} END, {now}, {now} \
             FROM ({series}) AS n"
        ))
        .await;
    store.execute("ANALYZE").await;
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn bench(name: &str, url: Option<&str>, configs: usize, firing: usize) {
    let root = tempfile::tempdir().unwrap();
    let plugins = root.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(
        keywarden_tests::plugins_dir().join("noop.wasm"),
        plugins.join("noop.wasm"),
    )
    .unwrap();
    let data = root.path().join("data");
    let server = Serve::start(&data, &plugins, url);
    let store = match url {
        Some(url) => Store::Postgres(sqlx::PgPool::connect(url).await.unwrap()),
        None => Store::Sqlite(
            sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("keywarden.db").display()))
                .await
                .unwrap(),
        ),
    };
    let (base_rss, base_cpu) = server.idle().await;

    // The firing minute: the next whole minute at least 70 s away (seeding and the idle
    // measure fit before it).
    let at = {
        let t = Utc::now() + chrono::Duration::seconds(70);
        t.with_second(0).unwrap().with_nanosecond(0).unwrap() + chrono::Duration::minutes(1)
    };
    let seeded = Instant::now();
    seed(&store, configs, firing, at).await;
    let seeding = seeded.elapsed();
    let (rss, cpu) = server.idle().await;
    assert!(
        Utc::now() < at,
        "seeding and the idle measure overran the firing minute"
    );

    let wait = (at - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    let deadline = Instant::now() + Duration::from_secs(300);
    let (done, late) = loop {
        let (done, late) = store.latencies_ms(at.timestamp_micros()).await;
        if done >= firing as i64 {
            break (done, late);
        }
        assert!(
            Instant::now() < deadline,
            "{name}: only {done} of {firing} fired jobs completed"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!(
        "\n{name}: {configs} configs seeded in {:.1} s; {done} fired in the minute {at}",
        seeding.as_secs_f64()
    );
    println!(
        "{:<34} {:>12} {:>12} {:>10}",
        "",
        "no configs",
        format!("{configs}"),
        "goal"
    );
    println!(
        "{:<34} {:>12.1} {:>12.1} {:>10}",
        "idle RSS (MiB)",
        base_rss,
        rss,
        if rss < 150.0 { "met" } else { "NOT met" }
    );
    println!(
        "{:<34} {:>12.2} {:>12.2} {:>10}",
        "idle CPU (% of a core)",
        base_cpu,
        cpu,
        if cpu < 1.0 { "met" } else { "NOT met" }
    );
    let p99 = pct(&late, 0.99);
    println!(
        "{:<34} {:>12} {:>12} {:>10}",
        "fire -> start, ms (p50 / p99 / max)",
        "",
        format!(
            "{:.0}/{:.0}/{:.0}",
            pct(&late, 0.5),
            p99,
            late.last().copied().unwrap_or(f64::NAN)
        ),
        if p99 < 1000.0 { "met" } else { "NOT met" }
    );
    drop(server);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let configs = env_usize("KW_BENCH_CONFIGS", 100_000);
    let firing = env_usize("KW_BENCH_FIRING", 10_000).min(configs);
    println!(
        "scheduler scale: {configs} cron configs, {firing} firing in one minute, {} CPUs, {} build",
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    bench("SQLite", None, configs, firing).await;
    if let Some(pg) = PgTestSchema::create("scheduler_scale").await {
        bench("PostgreSQL", Some(&pg.url), configs, firing).await;
        pg.drop_schema().await;
    }
}
