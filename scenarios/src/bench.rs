//! Benchmarks of the load generator itself: how many requests per second it
//! can send (compared with `wrk`), and how accurately it measures latency
//! (against an in-process server with a known delay).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use goose::prelude::*;
use serde::{Deserialize, Serialize};

use crate::report::{LatencyMs, PhaseClock, Recorder};
use crate::run::{check_url, execute, Attack, LoadError};
use crate::schedule::OpenSchedule;
use crate::transactions::{self, RunContext};

/// Requests per second some generator reached against one URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateResult {
    /// `"gauntlet (goose)"` or `"wrk"`.
    pub tool: String,
    pub url: String,
    pub connections: u32,
    pub requests: u64,
    pub seconds: f64,
    pub requests_per_sec: f64,
    /// Non-2xx answers and transport failures.
    pub errors: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// Measured latency against an injected delay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyResult {
    pub injected_ms: f64,
    /// From gauntlet's own histograms.
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Goose's own median for the same requests.
    pub goose_p50_ms: f64,
    pub samples: u64,
    /// `|p50 − injected|`.
    pub error_ms: f64,
    /// Allowed error: 10 % of the delay + 5 ms.
    pub tolerance_ms: f64,
    pub within_tolerance: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("wrk is not installed (Debian: apt-get install wrk)")]
    WrkMissing,
    #[error("wrk failed: {0}")]
    WrkFailed(String),
    #[error("cannot read wrk's output: {0}")]
    WrkOutput(String),
    #[error("{tool} failed: {detail}")]
    PeerFailed { tool: &'static str, detail: String },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("in-process server: {0}")]
    Server(String),
}

/// gauntlet's generator at full speed: `connections` goose users (one
/// keep-alive connection each), no think time, all requesting `url`, for
/// `duration` (whole seconds, at least 1). Loopback URLs only.
pub async fn loadgen_max_rate(
    url: &str,
    connections: u32,
    duration: Duration,
) -> Result<RateResult, BenchError> {
    let (ctx, _metrics) = generator(url, connections, duration, None, false).await?;
    let secs = duration.as_secs().max(1) as f64;
    let (all, _, _) = ctx.recorder.snapshot(&[secs], secs, None);
    Ok(RateResult {
        tool: "gauntlet (goose)".into(),
        url: url.to_string(),
        connections,
        requests: all.run.count,
        seconds: secs,
        requests_per_sec: all.run.count as f64 / secs,
        errors: all.run.errors_total,
        p50_ms: Some(all.run.latency_ms.p50),
        p99_ms: Some(all.run.latency_ms.p99),
    })
}

/// Runs the generator: `connections` users requesting `url`; closed model
/// without think time, or open model at `rate` requests/s (1 s lead to
/// start the users, then the schedule). The recorder's phase is `bench`.
async fn generator(
    url: &str,
    connections: u32,
    duration: Duration,
    rate: Option<f64>,
    goose_metrics: bool,
) -> Result<(Arc<RunContext>, GooseMetrics), BenchError> {
    let parsed = check_url(url, false)?;
    let secs = duration.as_secs().max(1);
    let host = parsed[..url::Position::BeforePath].to_string();
    let open = rate.is_some();
    let clock = PhaseClock::new(&[("bench".to_string(), Duration::from_secs(secs))], open);
    let mut ctx = RunContext::new(Recorder::new(clock), "bench".into(), 1);
    ctx.bench_url = Some(url.to_string());
    ctx.goose_metrics = goose_metrics;
    ctx.base_url = host.clone();
    let lead = if open {
        Duration::from_secs(1)
    } else {
        Duration::ZERO
    };
    if let Some(rate) = rate {
        ctx.schedule = Some(OpenSchedule::new(
            &[(rate, Duration::from_secs(secs))],
            connections,
        ));
        ctx.lead = lead;
    }
    let ctx = Arc::new(ctx);
    let scenario = Scenario::new("bench")
        .register_transaction(
            transaction!(bench_setup_txn)
                .set_name("setup")
                .set_on_start(),
        )
        .register_transaction(transaction!(bench_txn).set_name("bench"));
    let mut phase_seconds = Vec::new();
    if open {
        phase_seconds.push(lead.as_secs_f64());
    }
    phase_seconds.push(secs as f64);
    let out = execute(Attack {
        ctx: ctx.clone(),
        host,
        scenario,
        test_plan: format!("{connections},{};{connections},{secs};0,0", lead.as_secs()),
        request_timeout: Duration::from_secs(10),
        co_mitigation: GooseCoordinatedOmissionMitigation::Disabled,
        reports: Vec::<PathBuf>::new(),
        planned: lead + Duration::from_secs(secs),
        abort: None,
        phase_seconds,
        progress: None,
    })
    .await?;
    Ok((ctx, out.metrics))
}

async fn bench_setup_txn(user: &mut GooseUser) -> TransactionResult {
    transactions::bench_setup(user).await
}

async fn bench_txn(user: &mut GooseUser) -> TransactionResult {
    transactions::bench_get(user).await
}

/// What each load model measured against a server that stalls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StallResult {
    pub stall_ms: u64,
    /// Closed model, 8 users without think time, from actual send time.
    pub closed: LatencyMs,
    pub closed_samples: u64,
    /// Open model, 8 users carrying 100 requests/s, from intended send time.
    pub open: LatencyMs,
    pub open_samples: u64,
}

/// A server on 127.0.0.1:0 answering in `base` except during one stall
/// window that starts 1 s after its first request and lasts `stall`: every
/// request then waits for the window to end.
async fn stalling_server(
    base: Duration,
    stall: Option<Duration>,
) -> Result<
    (
        String,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ),
    BenchError,
> {
    let first: Arc<std::sync::Mutex<Option<std::time::Instant>>> =
        Arc::new(std::sync::Mutex::new(None));
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let first = first.clone();
            async move {
                let now = std::time::Instant::now();
                let start = *first.lock().unwrap().get_or_insert(now);
                let mut wait = base;
                if let Some(stall) = stall {
                    let from = start + Duration::from_secs(1);
                    let to = from + stall;
                    if now >= from && now < to {
                        wait = wait.max(to - now);
                    }
                }
                tokio::time::sleep(wait).await;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| BenchError::Server(e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| BenchError::Server(e.to_string()))?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await;
    });
    Ok((format!("http://{addr}/"), stop_tx, server))
}

async fn against_server(
    base: Duration,
    stall: Option<Duration>,
    connections: u32,
    secs: u64,
    rate: Option<f64>,
    goose_metrics: bool,
) -> Result<(crate::report::Summary, GooseMetrics), BenchError> {
    let (url, stop, server) = stalling_server(base, stall).await?;
    let result = generator(
        &url,
        connections,
        Duration::from_secs(secs),
        rate,
        goose_metrics,
    )
    .await;
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    let (ctx, metrics) = result?;
    let (_, txns, _) = ctx.recorder.snapshot(&[secs as f64], secs as f64, None);
    let bench = txns.get("bench").map(|b| b.run.clone()).unwrap_or_default();
    Ok((bench, metrics))
}

/// Coordinated omission, shown: the same 2 ms server stalls for `stall_ms`
/// once; the closed model (8 users, no think time) hides it in a flood of
/// fast samples, the open model (100 requests/s from intended send times)
/// reports the queue it caused.
pub async fn stall_visibility(stall_ms: u64) -> Result<StallResult, BenchError> {
    let stall = Some(Duration::from_millis(stall_ms));
    let base = Duration::from_millis(2);
    let (closed, _) = against_server(base, stall, 8, 4, None, false).await?;
    let (open, _) = against_server(base, stall, 8, 4, Some(100.0), false).await?;
    Ok(StallResult {
        stall_ms,
        closed_samples: closed.count,
        closed: closed.latency_ms,
        open_samples: open.count,
        open: open.latency_ms,
    })
}

/// `wrk` against `url`: `wrk -t threads -c connections -d duration --latency url`.
/// Loopback URLs only.
pub fn wrk_max_rate(
    url: &str,
    connections: u32,
    threads: u32,
    duration: Duration,
) -> Result<RateResult, BenchError> {
    check_url(url, false)?;
    let secs = duration.as_secs().max(1);
    let out = Command::new("wrk")
        .args([
            "-t",
            &threads.max(1).to_string(),
            "-c",
            &connections.max(threads.max(1)).to_string(),
            "-d",
            &format!("{secs}s"),
            "--latency",
            url,
        ])
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => BenchError::WrkMissing,
            _ => BenchError::WrkFailed(e.to_string()),
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(BenchError::WrkFailed(format!(
            "{}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let mut r = parse_wrk_output(&stdout).map_err(BenchError::WrkOutput)?;
    r.url = url.to_string();
    r.connections = connections;
    Ok(r)
}

/// A wrk duration or latency (`385.00us`, `1.19ms`, `2.00s`, `1.00m`) in ms.
fn wrk_ms(text: &str) -> Option<f64> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (n, unit) = t.split_at(split);
    let n: f64 = n.parse().ok()?;
    let factor = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    Some(n * factor)
}

/// Parses wrk's report (with `--latency`).
pub fn parse_wrk_output(text: &str) -> Result<RateResult, String> {
    let mut requests = None;
    let mut seconds = None;
    let mut rps = None;
    let mut errors = 0u64;
    let mut p50 = None;
    let mut p99 = None;
    let mut connections = 0u32;
    let mut url = String::new();
    for line in text.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("Running ") {
            if let Some((_, u)) = rest.split_once(" @ ") {
                url = u.trim().to_string();
            }
        } else if l.contains(" threads and ") && l.ends_with("connections") {
            connections = l
                .split_whitespace()
                .rev()
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        } else if l.contains(" requests in ") {
            // "186672 requests in 10.00s, 28.84MB read"
            let mut parts = l.split_whitespace();
            requests = parts.next().and_then(|n| n.parse::<u64>().ok());
            seconds = l
                .split(" requests in ")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .and_then(wrk_ms)
                .map(|ms| ms / 1000.0);
        } else if let Some(v) = l.strip_prefix("Requests/sec:") {
            rps = v.trim().parse::<f64>().ok();
        } else if let Some(v) = l.strip_prefix("Non-2xx or 3xx responses:") {
            errors += v.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(v) = l.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 12"
            for part in v.split(',') {
                errors += part
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        } else if let Some(v) = l.strip_prefix("50%") {
            p50 = wrk_ms(v);
        } else if let Some(v) = l.strip_prefix("99%") {
            p99 = wrk_ms(v);
        }
    }
    let requests = requests.ok_or("no `N requests in T` line")?;
    let rps = rps.ok_or("no `Requests/sec:` line")?;
    Ok(RateResult {
        tool: "wrk".into(),
        url,
        connections,
        requests,
        seconds: seconds.unwrap_or(0.0),
        requests_per_sec: rps,
        errors,
        p50_ms: p50,
        p99_ms: p99,
    })
}

/// Another load generator, compared with gauntlet's on the same URL in
/// the same run (`gauntlet bench loadgen`): whichever are installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// wrk (C, Debian's `wrk`).
    Wrk,
    /// oha (Rust, hyper; `cargo install oha`).
    Oha,
    /// Locust (Python; one process, `FastHttpUser`).
    Locust,
}

impl Peer {
    pub const ALL: [Peer; 3] = [Peer::Wrk, Peer::Oha, Peer::Locust];

    pub fn name(self) -> &'static str {
        match self {
            Peer::Wrk => "wrk",
            Peer::Oha => "oha",
            Peer::Locust => "locust",
        }
    }

    /// How to get it, for the table's "not installed" rows.
    pub fn install_hint(self) -> &'static str {
        match self {
            Peer::Wrk => "apt-get install wrk",
            Peer::Oha => "cargo install oha",
            Peer::Locust => "pip install locust",
        }
    }

    /// Whether its command runs here (`--version` exits 0; wrk's `-v`
    /// exits 1, so only "could start" counts for it).
    pub fn installed(self) -> bool {
        let arg = if self == Peer::Wrk { "-v" } else { "--version" };
        match Command::new(self.name()).arg(arg).output() {
            Ok(out) => self == Peer::Wrk || out.status.success(),
            Err(_) => false,
        }
    }

    /// Its maximum rate against `url` with `connections` connections
    /// (`threads` worker threads where it has them) for `duration`.
    /// Loopback URLs only.
    pub fn max_rate(
        self,
        url: &str,
        connections: u32,
        threads: u32,
        duration: Duration,
    ) -> Result<RateResult, BenchError> {
        match self {
            Peer::Wrk => wrk_max_rate(url, connections, threads, duration),
            Peer::Oha => oha_max_rate(url, connections, duration),
            Peer::Locust => locust_max_rate(url, connections, duration),
        }
    }
}

fn run_peer(tool: &'static str, cmd: &mut Command) -> Result<String, BenchError> {
    let out = cmd.output().map_err(|e| BenchError::PeerFailed {
        tool,
        detail: e.to_string(),
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(BenchError::PeerFailed {
            tool,
            detail: format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
        });
    }
    Ok(stdout)
}

/// `oha -z Ns -c C --no-tui --output-format json URL`.
pub fn oha_max_rate(
    url: &str,
    connections: u32,
    duration: Duration,
) -> Result<RateResult, BenchError> {
    check_url(url, false)?;
    let secs = duration.as_secs().max(1);
    let stdout = run_peer(
        "oha",
        Command::new("oha").args([
            "-z",
            &format!("{secs}s"),
            "-c",
            &connections.to_string(),
            "--no-tui",
            "--output-format",
            "json",
            url,
        ]),
    )?;
    let mut r = parse_oha_json(&stdout).map_err(|detail| BenchError::PeerFailed {
        tool: "oha",
        detail,
    })?;
    r.url = url.to_string();
    r.connections = connections;
    Ok(r)
}

/// oha's JSON summary: `summary.requestsPerSec`, `summary.total` (s),
/// `latencyPercentiles.p50` (s), `statusCodeDistribution`,
/// `errorDistribution`.
pub fn parse_oha_json(text: &str) -> Result<RateResult, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not oha's JSON: {e}"))?;
    let num = |p: &str| v.pointer(p).and_then(serde_json::Value::as_f64);
    let rps = num("/summary/requestsPerSec").ok_or("no summary.requestsPerSec")?;
    let seconds = num("/summary/total").unwrap_or(0.0);
    let sum = |p: &str, ok: &dyn Fn(&str) -> bool| -> u64 {
        v.pointer(p)
            .and_then(serde_json::Value::as_object)
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| ok(k))
                    .filter_map(|(_, n)| n.as_u64())
                    .sum()
            })
            .unwrap_or(0)
    };
    let answered = sum("/statusCodeDistribution", &|_| true);
    let non_2xx = sum("/statusCodeDistribution", &|k| !k.starts_with('2'));
    let failed = sum("/errorDistribution", &|_| true);
    let ms = |p: &str| num(p).map(|s| s * 1000.0);
    Ok(RateResult {
        tool: "oha".into(),
        url: String::new(),
        connections: 0,
        requests: answered + failed,
        seconds,
        requests_per_sec: rps,
        errors: non_2xx + failed,
        p50_ms: ms("/latencyPercentiles/p50"),
        p99_ms: ms("/latencyPercentiles/p99"),
    })
}

/// Locust, one process, `connections` `FastHttpUser`s without wait time,
/// all started within the first second, headless for `duration`; read
/// from its `_stats.csv` "Aggregated" row.
pub fn locust_max_rate(
    url: &str,
    connections: u32,
    duration: Duration,
) -> Result<RateResult, BenchError> {
    let parsed = check_url(url, false)?;
    let secs = duration.as_secs().max(1);
    let host = parsed[..url::Position::BeforePath].to_string();
    let path = &parsed[url::Position::BeforePath..];
    let dir = std::env::temp_dir().join(format!("gauntlet-locust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| BenchError::PeerFailed {
        tool: "locust",
        detail: e.to_string(),
    })?;
    let file = dir.join("locustfile.py");
    let script = format!(
        "from locust import FastHttpUser, task\n\n\nclass Bench(FastHttpUser):\n    @task\n    def get(self):\n        self.client.get({path:?})\n"
    );
    std::fs::write(&file, script).map_err(|e| BenchError::PeerFailed {
        tool: "locust",
        detail: e.to_string(),
    })?;
    let prefix = dir.join("run");
    let result = run_peer(
        "locust",
        Command::new("locust").args([
            "-f",
            &file.to_string_lossy(),
            "--headless",
            "--only-summary",
            "--skip-log",
            "-u",
            &connections.to_string(),
            "-r",
            &connections.to_string(),
            "-t",
            &format!("{secs}s"),
            "--host",
            &host,
            "--csv",
            &prefix.to_string_lossy(),
        ]),
    )
    .and_then(|_| {
        let csv = std::fs::read_to_string(dir.join("run_stats.csv")).map_err(|e| {
            BenchError::PeerFailed {
                tool: "locust",
                detail: format!("no run_stats.csv: {e}"),
            }
        })?;
        parse_locust_csv(&csv).map_err(|detail| BenchError::PeerFailed {
            tool: "locust",
            detail,
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
    let mut r = result?;
    r.url = url.to_string();
    r.connections = connections;
    r.seconds = secs as f64;
    Ok(r)
}

/// The "Aggregated" row of Locust's `_stats.csv`.
pub fn parse_locust_csv(text: &str) -> Result<RateResult, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty CSV")?.split(',').collect();
    let col = |name: &str| header.iter().position(|h| h.trim_matches('"') == name);
    let row: Vec<&str> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|cells| cells.get(1).map(|c| c.trim_matches('"')) == Some("Aggregated"))
        .ok_or("no Aggregated row")?;
    let get = |name: &str| -> Option<f64> {
        col(name)
            .and_then(|i| row.get(i))
            .and_then(|c| c.trim_matches('"').parse::<f64>().ok())
    };
    let requests = get("Request Count").ok_or("no Request Count")? as u64;
    Ok(RateResult {
        tool: "locust".into(),
        url: String::new(),
        connections: 0,
        requests,
        seconds: 0.0,
        requests_per_sec: get("Requests/s").ok_or("no Requests/s")?,
        errors: get("Failure Count").unwrap_or(0.0) as u64,
        p50_ms: get("50%"),
        p99_ms: get("99%"),
    })
}

/// The median of some measurements (the middle one; the mean of the two
/// middle ones for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The build gauntlet itself runs as, for the bench table: speed depends
/// on it.
pub fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "dev build (debug assertions on; use a --release build for load)"
    } else {
        "release build"
    }
}

/// Starts an HTTP server on 127.0.0.1:0 whose only handler sleeps
/// `delay_ms` then answers 200, loads it with gauntlet's generator (8
/// users, no think time, 5 s), and compares the measured median with the
/// injected delay.
pub async fn latency_accuracy(delay_ms: u64) -> Result<AccuracyResult, BenchError> {
    // Goose's metrics kept here: its own median is the comparison.
    let (s, metrics) =
        against_server(Duration::from_millis(delay_ms), None, 8, 5, None, true).await?;
    let goose_p50_ms = metrics
        .requests
        .values()
        .map(|r| r.raw_data.percentile_us(0.5) as f64 / 1000.0)
        .next()
        .unwrap_or(0.0);
    let injected = delay_ms as f64;
    let p50 = s.latency_ms.p50;
    let tolerance = injected * 0.10 + 5.0;
    Ok(AccuracyResult {
        injected_ms: injected,
        p50_ms: p50,
        p90_ms: s.latency_ms.p90,
        p99_ms: s.latency_ms.p99,
        max_ms: s.latency_ms.max,
        goose_p50_ms,
        samples: s.count,
        error_ms: (p50 - injected).abs(),
        tolerance_ms: tolerance,
        within_tolerance: s.count > 0 && (p50 - injected).abs() <= tolerance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 10s test @ http://127.0.0.1:8080/api/health
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.40ms    1.12ms  41.52ms   88.39%
    Req/Sec     9.46k   681.69    10.86k    71.00%
  Latency Distribution
     50%    3.21ms
     75%    3.72ms
     90%    4.41ms
     99%    7.15ms
  188282 requests in 10.01s, 31.96MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:  18809.54
Transfer/sec:      3.19MB
";

    #[test]
    fn parses_wrk() {
        let r = parse_wrk_output(WRK).unwrap();
        assert_eq!(r.tool, "wrk");
        assert_eq!(r.url, "http://127.0.0.1:8080/api/health");
        assert_eq!(r.connections, 64);
        assert_eq!(r.requests, 188_282);
        assert!((r.seconds - 10.01).abs() < 1e-9);
        assert!((r.requests_per_sec - 18_809.54).abs() < 1e-9);
        assert_eq!(r.errors, 9);
        assert_eq!(r.p50_ms, Some(3.21));
        assert_eq!(r.p99_ms, Some(7.15));
    }

    #[test]
    fn parses_wrk_units_and_minimal_output() {
        assert_eq!(wrk_ms("385.00us"), Some(0.385));
        assert_eq!(wrk_ms("2.00s"), Some(2000.0));
        assert_eq!(wrk_ms("1.00m"), Some(60_000.0));
        assert_eq!(wrk_ms("fast"), None);
        let r = parse_wrk_output("  10 requests in 1.00s, 1KB read\nRequests/sec:      9.99\n")
            .unwrap();
        assert_eq!((r.requests, r.errors, r.p50_ms), (10, 0, None));
        assert!(parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused").is_err());
    }

    #[test]
    fn parses_oha_json() {
        let text = r#"{"summary":{"successRate":1.0,"total":10.0012,"slowest":0.02,
            "fastest":0.0001,"average":0.0015,"requestsPerSec":41512.3},
            "latencyPercentiles":{"p10":0.0005,"p50":0.0012,"p99":0.0071},
            "statusCodeDistribution":{"200":415000,"503":12},
            "errorDistribution":{"connection closed":3}}"#;
        let r = parse_oha_json(text).unwrap();
        assert_eq!(r.requests, 415_015);
        assert_eq!(r.errors, 15);
        assert!((r.requests_per_sec - 41_512.3).abs() < 1e-9);
        assert!((r.p50_ms.unwrap() - 1.2).abs() < 1e-9);
        assert!(parse_oha_json("{}").is_err());
        assert!(parse_oha_json("Error: connection refused").is_err());
    }

    #[test]
    fn parses_locust_csv() {
        let text = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n\
GET,/,43300,2,11,12.5,0.4,80,16,4330.1,0.2,11,13,14,15,17,19,22,25,40,70,80\n\
,Aggregated,43300,2,11,12.5,0.4,80,16,4330.1,0.2,11,13,14,15,17,19,22,25,40,70,80\n";
        let r = parse_locust_csv(text).unwrap();
        assert_eq!((r.requests, r.errors), (43_300, 2));
        assert!((r.requests_per_sec - 4330.1).abs() < 1e-9);
        assert_eq!((r.p50_ms, r.p99_ms), (Some(11.0), Some(25.0)));
        assert!(parse_locust_csv("Type,Name\n").is_err());
    }

    #[test]
    fn median_of_rounds() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn wrk_refuses_remote_urls() {
        for peer in Peer::ALL {
            assert!(matches!(
                peer.max_rate("http://192.168.1.1/", 1, 1, Duration::from_secs(1)),
                Err(BenchError::Load(LoadError::RemoteTarget { .. }))
            ));
        }
    }
}
