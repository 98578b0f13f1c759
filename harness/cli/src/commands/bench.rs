//! `gauntlet bench loadgen`: gauntlet's load generator against every other
//! generator installed (wrk, oha, Locust) on the same endpoint in the same
//! run, interleaved over rounds (ratios of medians, not absolute numbers),
//! and its latency accuracy against an in-process server with a known delay.

use std::time::Duration;

use gauntlet_harness::target::Target;
use gauntlet_harness::{docker, exit_codes, Error, Result};
use gauntlet_scenarios::bench::{self, Peer};

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
    let bench_err = |e: gauntlet_scenarios::BenchError| Error::CheckFailed(e.to_string());
    let threads = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(2);
    let wanted: Vec<Peer> = match &args.peers {
        None => Peer::ALL.to_vec(),
        Some(names) if names.iter().any(|n| n == "none") => Vec::new(),
        Some(names) => names
            .iter()
            .map(|n| {
                Peer::ALL
                    .into_iter()
                    .find(|p| p.name() == n)
                    .ok_or_else(|| {
                        Error::Usage(format!(
                            "unknown generator `{n}` in --peers (known: wrk, oha, locust, none)"
                        ))
                    })
            })
            .collect::<Result<_>>()?,
    };
    let peers: Vec<Peer> = wanted.iter().copied().filter(|p| p.installed()).collect();
    let missing: Vec<Peer> = wanted.into_iter().filter(|p| !peers.contains(p)).collect();
    errln!(
        "max rate on {url}: {} connections, {} s each, {} rounds; gauntlet is a {}; peers: {}",
        args.connections,
        args.seconds,
        args.rounds,
        bench::build_profile(),
        if peers.is_empty() {
            "none installed".to_string()
        } else {
            peers
                .iter()
                .map(|p| p.name())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    // tool name -> requests/s of each round.
    let mut rates: Vec<(String, Vec<f64>)> = std::iter::once("gauntlet".to_string())
        .chain(peers.iter().map(|p| p.name().to_string()))
        .map(|n| (n, Vec::new()))
        .collect();
    for round in 0..args.rounds as usize {
        // Each round starts with a different generator.
        let order: Vec<usize> = (0..rates.len())
            .map(|i| (i + round) % rates.len())
            .collect();
        for i in order {
            let name = rates[i].0.clone();
            errln!("round {}/{}: {name} ...", round + 1, args.rounds);
            let result = if i == 0 {
                bench::loadgen_max_rate(&url, args.connections, duration).await
            } else {
                let (peer, url, connections) = (peers[i - 1], url.clone(), args.connections);
                tokio::task::spawn_blocking(move || {
                    peer.max_rate(&url, connections, threads, duration)
                })
                .await
                .expect("peer task")
            }
            .map_err(bench_err)?;
            errln!(
                "round {}/{}: {name} {:.0} req/s ({} errors)",
                round + 1,
                args.rounds,
                result.requests_per_sec,
                result.errors
            );
            rates[i].1.push(result.requests_per_sec);
        }
    }
    let ours = bench::median(&rates[0].1).unwrap_or(0.0);
    outln!(
        "{:<12} {:>18} {:>14}   {}",
        "GENERATOR",
        "REQ/S (MEDIAN)",
        "GAUNTLET/IT",
        "ROUNDS"
    );
    for (name, values) in &rates {
        let m = bench::median(values).unwrap_or(0.0);
        let ratio = if name == "gauntlet" {
            "-".to_string()
        } else {
            format!("{:.2}x", ours / m.max(1.0))
        };
        let each: Vec<String> = values.iter().map(|v| format!("{v:.0}")).collect();
        outln!("{name:<12} {m:>18.0} {ratio:>14}   {}", each.join(" "));
    }
    for p in &missing {
        outln!(
            "{:<12} {:>18} {:>14}   ({})",
            p.name(),
            "not installed",
            "-",
            p.install_hint()
        );
    }
    if !args.no_accuracy {
        let accuracy = bench::latency_accuracy(args.delay_ms)
            .await
            .map_err(bench_err)?;
        outln!(
            "latency accuracy: injected {} ms, measured p50 {:.1} ms (goose's own p50 {:.1} ms, error {:.1} ms, {} samples)",
            args.delay_ms, accuracy.p50_ms, accuracy.goose_p50_ms, accuracy.error_ms, accuracy.samples
        );
    }
    Ok(exit_codes::OK)
}
