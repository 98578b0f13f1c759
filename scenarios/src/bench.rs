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
    let (ctx, _metrics) = generator(url, connections, duration, None).await?;
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
) -> Result<(Arc<RunContext>, GooseMetrics), BenchError> {
    let parsed = check_url(url, false)?;
    let secs = duration.as_secs().max(1);
    let host = parsed[..url::Position::BeforePath].to_string();
    let open = rate.is_some();
    let clock = PhaseClock::new(&[("bench".to_string(), Duration::from_secs(secs))], open);
    let mut ctx = RunContext::new(Recorder::new(clock), "bench".into(), 1);
    ctx.bench_url = Some(url.to_string());
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
) -> Result<(crate::report::Summary, GooseMetrics), BenchError> {
    let (url, stop, server) = stalling_server(base, stall).await?;
    let result = generator(&url, connections, Duration::from_secs(secs), rate).await;
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
    let (closed, _) = against_server(base, stall, 8, 4, None).await?;
    let (open, _) = against_server(base, stall, 8, 4, Some(100.0)).await?;
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

/// Starts an HTTP server on 127.0.0.1:0 whose only handler sleeps
/// `delay_ms` then answers 200, loads it with gauntlet's generator (8
/// users, no think time, 5 s), and compares the measured median with the
/// injected delay.
pub async fn latency_accuracy(delay_ms: u64) -> Result<AccuracyResult, BenchError> {
    let (s, metrics) = against_server(Duration::from_millis(delay_ms), None, 8, 5, None).await?;
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
    fn wrk_refuses_remote_urls() {
        assert!(matches!(
            wrk_max_rate("http://192.168.1.1/", 1, 1, Duration::from_secs(1)),
            Err(BenchError::Load(LoadError::RemoteTarget { .. }))
        ));
    }
}
