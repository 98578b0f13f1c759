//! `gauntlet bench loadgen`: gauntlet's load generator against wrk on the
//! same endpoint in the same run (a ratio, not an absolute number), and
//! its latency accuracy against an in-process server with a known delay.

use std::time::Duration;

use gauntlet_harness::target::Target;
use gauntlet_harness::{docker, exit_codes, Error, Result};
use gauntlet_scenarios::bench;

use gauntlet_harness::sut::Sut;

use super::{attach, workspace};
use crate::cli::{BenchCommand, BenchLoadgenArgs, Global};

pub async fn run(global: &Global, cmd: BenchCommand) -> Result<i32> {
    match cmd {
        BenchCommand::Loadgen(args) => loadgen(global, args).await,
    }
}

async fn loadgen(global: &Global, args: BenchLoadgenArgs) -> Result<i32> {
    let url = match &args.target {
        Some(url) => {
            Target::new(url, false)?;
            url.clone()
        }
        None => {
            let workspace = workspace(global)?;
            let docker = docker::connect().await?;
            let (stack, summary) = attach(&docker, &workspace, None).await?;
            let config = std::sync::Arc::new(workspace.config.clone());
            let primary = Sut::primary_endpoint(&config);
            let path = args.path.clone().unwrap_or_else(|| {
                config
                    .endpoints
                    .get(&primary)
                    .and_then(|e| e.readiness.as_ref())
                    .map(|r| r.path.clone())
                    .unwrap_or_else(|| "/".into())
            });
            let seed = summary.seed.parse().unwrap_or(0);
            let sut = Sut::from_stack(config, stack, seed, Vec::new()).await?;
            format!("{}{path}", sut.endpoint(&primary)?)
        }
    };
    let duration = Duration::from_secs(args.seconds);
    let bench_err = |e: gauntlet_scenarios::BenchError| match e {
        gauntlet_scenarios::BenchError::WrkMissing => Error::Usage(
            "wrk is not installed: `apt-get install wrk` (ci/bootstrap.sh installs it)".into(),
        ),
        other => Error::CheckFailed(other.to_string()),
    };
    errln!(
        "max rate on {url}: {} connections, {} s each",
        args.connections,
        args.seconds
    );
    let ours = bench::loadgen_max_rate(&url, args.connections, duration)
        .await
        .map_err(bench_err)?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(2);
    let wrk = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            bench::wrk_max_rate(&url, args.connections, threads, duration)
        })
        .await
        .expect("wrk task")
        .map_err(bench_err)?
    };
    let accuracy = bench::latency_accuracy(args.delay_ms)
        .await
        .map_err(bench_err)?;
    outln!("{:<24} {:>12}", "GENERATOR", "REQ/S");
    outln!("{:<24} {:>12.0}", "gauntlet (goose)", ours.requests_per_sec);
    outln!("{:<24} {:>12.0}", "wrk", wrk.requests_per_sec);
    outln!(
        "ratio gauntlet/wrk: {:.2}",
        ours.requests_per_sec / wrk.requests_per_sec.max(1.0)
    );
    outln!(
        "latency accuracy: injected {} ms, measured p50 {:.1} ms (goose's own p50 {:.1} ms, error {:.1} ms, {} samples)",
        args.delay_ms, accuracy.p50_ms, accuracy.goose_p50_ms, accuracy.error_ms, accuracy.samples
    );
    Ok(exit_codes::OK)
}
