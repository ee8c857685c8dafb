//! 100,000 cron job configs in one `keywarden serve` process, on SQLite and (when
//! `KEYWARDEN_TEST_DATABASE_URL` is set) PostgreSQL: resident memory and CPU while idle,
//! beside the same server with no configs (the baseline, same run), and the lateness of
//! fires (fire time to job started) when 10,000 of them fire in the same minute. Goals:
//! under 150 MB, under 1% idle CPU, p99 lateness under 1 s.
//!
//! The configs are written with one SQL statement (a generated series) while the server
//! runs, all on the `noop` plugin: 10,000 fire daily at one minute a little ahead, all in
//! its first second (no jitter: the worst case); 10,000 more fire the minute after with a
//! 59 s jitter, which spreads them over that minute as the scheduling docs recommend; the
//! rest fire daily at 03:00. Lateness is measured from each job's fire time (with its
//! jitter). The server is the binary built with the bench's profile.
//!
//! Lateness is printed whole and split: fire time to the job queued (the scheduler's
//! part) and to the job started (the executor's too).
//!
//! The server runs with 512 job slots (`[server] concurrency`; the default is 16). Whether
//! 10,000 jobs can start in one second is a question of the scheduler and the executor's
//! path through the database, which is what is measured, only when slots do not bound it:
//! with 16, each slot would have to take, start and finish 625 jobs a second.
//!
//! `cargo bench -p keywarden-tests --bench scheduler_scale` (`KW_BENCH_CONFIGS`,
//! `KW_BENCH_FIRING` change the sizes, `KW_BENCH_CONCURRENCY` the server's job slots;
//! `KW_BENCH_TIMELINE=1` prints how many of the one-second burst's jobs were stored,
//! started and finished in each 100 ms; `KW_BENCH_ONLY=sqlite` or `postgres` runs one
//! database).

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
    fn start(data: &Path, plugins: &Path, database_url: Option<&str>, config: &Path) -> Serve {
        let mut cmd = Command::new(keywarden_tests::keywarden_bench_binary());
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data)
            .arg("--plugins-dir")
            .arg(plugins)
            .arg("--config")
            .arg(config)
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

    /// Of the completed jobs fired in `[since, until)`: how late each was queued and
    /// started (ms after its fire time), each list sorted.
    async fn latencies_ms(&self, since: i64, until: i64) -> (Vec<f64>, Vec<f64>) {
        let sql = format!(
            "SELECT enqueued_at - scheduled_for AS queued, started_at - scheduled_for AS started \
             FROM jobs WHERE status = 'completed' AND scheduled_for >= {since} \
             AND scheduled_for < {until}"
        );
        let rows: Vec<(Option<i64>, Option<i64>)> = match self {
            Store::Sqlite(p) => sqlx::query_as(&sql).fetch_all(p).await,
            Store::Postgres(p) => sqlx::query_as(&sql).fetch_all(p).await,
        }
        .unwrap();
        let sorted_ms = |v: Vec<Option<i64>>| {
            let mut ms: Vec<f64> = v
                .into_iter()
                .flatten()
                .map(|us| us as f64 / 1000.0)
                .collect();
            ms.sort_by(f64::total_cmp);
            ms
        };
        let (queued, started): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
        (sorted_ms(queued), sorted_ms(started))
    }

    /// With `KW_BENCH_TIMELINE` set: how many of the jobs fired in `[since, until)` were
    /// stored, started and finished in each 100 ms after `since` (where a burst stalls).
    async fn print_timeline(&self, since: i64, until: i64) {
        if std::env::var("KW_BENCH_TIMELINE").is_err() {
            return;
        }
        let sql = format!(
            "SELECT created_at - {since}, started_at - {since}, finished_at - {since} \
             FROM jobs WHERE scheduled_for >= {since} AND scheduled_for < {until}"
        );
        let rows: Vec<(i64, Option<i64>, Option<i64>)> = match self {
            Store::Sqlite(p) => sqlx::query_as(&sql).fetch_all(p).await,
            Store::Postgres(p) => sqlx::query_as(&sql).fetch_all(p).await,
        }
        .unwrap();
        let mut slots = std::collections::BTreeMap::<i64, [usize; 3]>::new();
        for (created, started, finished) in rows {
            for (i, at) in [Some(created), started, finished].into_iter().enumerate() {
                if let Some(us) = at {
                    slots.entry(us / 100_000).or_default()[i] += 1;
                }
            }
        }
        for (slot, [c, s, f]) in slots {
            println!(
                "  {:>6} ms: stored {c:>5} started {s:>5} finished {f:>5}",
                slot * 100
            );
        }
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
    let spread = at + chrono::Duration::minutes(1);
    let spread_cron = format!("{} {} * * *", spread.minute(), spread.hour());
    let spread_us = spread.timestamp_micros();
    let two = 2 * firing;
    store
        .execute(&format!(
            "INSERT INTO job_configs (id, account_id, name, operation, run_at, params, params_key, \
             schedule_kind, next_fire_at, policy, created_at, updated_at) \
             SELECT {id}, 'admin', 'config-' || i, 'noop', \
             CASE WHEN i < {firing} THEN '{firing_cron}' WHEN i < {two} THEN '{spread_cron}' \
             ELSE '0 3 * * *' END, '{{}}', 'params', 'daily', \
             CASE WHEN i < {firing} THEN {at_us} WHEN i < {two} THEN {spread_us} \
             ELSE {tomorrow_3am} END, \
             CASE WHEN i >= {firing} AND i < {two} THEN '{{\"jitter_secs\": 59}}' ELSE '{{}}' END, \
             {now}, {now} FROM ({series}) AS n"
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

/// Waits until the `firing` jobs fired in `[from, until)` completed; their lateness.
async fn completed(
    store: &Store,
    name: &str,
    from: chrono::DateTime<Utc>,
    until: chrono::DateTime<Utc>,
    firing: usize,
) -> (Vec<f64>, Vec<f64>) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (queued, late) = store
            .latencies_ms(from.timestamp_micros(), until.timestamp_micros())
            .await;
        if late.len() >= firing {
            return (queued, late);
        }
        assert!(
            Instant::now() < deadline,
            "{name}: only {} of {firing} jobs fired from {from} completed",
            late.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn spread(sorted: &[f64]) -> String {
    format!(
        "{:.0}/{:.0}/{:.0}",
        pct(sorted, 0.5),
        pct(sorted, 0.99),
        sorted.last().copied().unwrap_or(f64::NAN)
    )
}

async fn bench(name: &str, url: Option<&str>, configs: usize, firing: usize, slots: usize) {
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("keywarden.toml");
    std::fs::write(&config, format!("[server]\nconcurrency = {slots}\n")).unwrap();
    let plugins = root.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(
        keywarden_tests::plugins_dir().join("noop.wasm"),
        plugins.join("noop.wasm"),
    )
    .unwrap();
    let data = root.path().join("data");
    let server = Serve::start(&data, &plugins, url, &config);
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
    let minute = chrono::Duration::minutes(1);
    let (queued, late) = completed(&store, name, at, at + minute, firing).await;
    store
        .print_timeline(at.timestamp_micros(), (at + minute).timestamp_micros())
        .await;
    let (_, spread_late) = completed(&store, name, at + minute, at + minute * 2, firing).await;
    println!(
        "\n{name}: {configs} configs seeded in {:.1} s; {} fired in the first second of {at}, \
         {} over the next minute; {slots} job slots",
        seeding.as_secs_f64(),
        late.len(),
        spread_late.len()
    );
    println!(
        "{:<40} {:>12} {:>14} {:>8}",
        "",
        "no configs",
        format!("{configs}"),
        "goal"
    );
    println!(
        "{:<40} {:>12.1} {:>14.1} {:>8}",
        "idle RSS (MiB)",
        base_rss,
        rss,
        if rss < 150.0 { "met" } else { "NOT met" }
    );
    println!(
        "{:<40} {:>12.2} {:>14.2} {:>8}",
        "idle CPU (% of a core)",
        base_cpu,
        cpu,
        if cpu < 1.0 { "met" } else { "NOT met" }
    );
    let goal = |sorted: &[f64]| {
        if pct(sorted, 0.99) < 1000.0 {
            "met"
        } else {
            "NOT met"
        }
    };
    println!(
        "{:<40} {:>12} {:>14} {:>8}",
        "one second: fire -> queued (p50/p99/max)",
        "",
        spread(&queued),
        ""
    );
    println!(
        "{:<40} {:>12} {:>14} {:>8}",
        "one second: fire -> started, ms",
        "",
        spread(&late),
        goal(&late)
    );
    println!(
        "{:<40} {:>12} {:>14} {:>8}",
        "jitter 59 s: fire -> started, ms",
        "",
        spread(&spread_late),
        goal(&spread_late)
    );
    drop(server);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let configs = env_usize("KW_BENCH_CONFIGS", 100_000);
    let firing = env_usize("KW_BENCH_FIRING", 10_000).min(configs / 2);
    let slots = env_usize("KW_BENCH_CONCURRENCY", 512).max(1);
    println!(
        "scheduler scale: {configs} cron configs, {firing} firing in one minute, {} CPUs, {} build",
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    // `KW_BENCH_ONLY=sqlite` or `postgres` runs one of the two.
    let only = std::env::var("KW_BENCH_ONLY").unwrap_or_default();
    if only != "postgres" {
        bench("SQLite", None, configs, firing, slots).await;
    }
    if only == "sqlite" {
        return;
    }
    if let Some(pg) = PgTestSchema::create("scheduler_scale").await {
        bench("PostgreSQL", Some(&pg.url), configs, firing, slots).await;
        pg.drop_schema().await;
    }
}
