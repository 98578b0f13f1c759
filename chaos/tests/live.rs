//! Experiments end to end on a real stack (PostgreSQL, Redis, the fault
//! proxy, the app under PM2), brought up by the harness library as
//! `gauntlet up` does: the shipped `redis_killed` and `api_process_killed`
//! run one after the other like `gauntlet chaos` runs them, then the
//! verdicts that must fail (steady state broken, a fault that cannot be
//! injected, a service the stack lacks), then `heal` removes a pile of
//! faults.
//!
//! Needs Docker. Without it the test is skipped with a message, except
//! under `CI`, where it fails: CI must never pass by skipping.
//!
//! The images need the system and fault-proxy binaries: `cargo build -p
//! gauntlet-system -p gauntlet-faultproxy` into the same target directory
//! first (or set `GAUNTLET_SYSTEM_BIN`); if they are missing the harness
//! builds them with cargo, which is slow.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::start;
use gauntlet_chaos::experiment::{self, shipped_dir};
use gauntlet_chaos::{heal, run_experiment, ChaosContext, EventKind, ExperimentReport};

/// Runs one experiment, echoing its timeline as it happens.
async fn run(ctx: &ChaosContext, exp: &experiment::Experiment) -> ExperimentReport {
    eprintln!("== {}: {}", exp.name, exp.title);
    let mut on_event = |e: &gauntlet_chaos::TimelineEvent| {
        eprintln!(
            "  +{:>7.3}s {:?}: {}",
            e.at_ms as f64 / 1000.0,
            e.kind,
            e.detail
        )
    };
    let report = run_experiment(ctx, exp, &mut on_event).await;
    eprintln!("{}", report.summary_line());
    report
}

fn shipped(name: &str) -> experiment::Experiment {
    experiment::load(shipped_dir().join(format!("{name}.toml"))).unwrap_or_else(|e| panic!("{e}"))
}

fn inline(name: &str, text: &str) -> experiment::Experiment {
    experiment::parse(text, Path::new("inline.toml"), name).unwrap_or_else(|e| panic!("{e}"))
}

fn kinds(report: &ExperimentReport) -> Vec<EventKind> {
    report.timeline.iter().map(|e| e.kind).collect()
}

/// `expected` occur in `report`'s timeline in this order (others between).
fn assert_in_order(report: &ExperimentReport, expected: &[EventKind]) {
    let got = kinds(report);
    let mut at = 0;
    for want in expected {
        match got[at..].iter().position(|k| k == want) {
            Some(i) => at += i + 1,
            None => panic!(
                "{}: no {want:?} after position {at} in the timeline:\n{}",
                report.name,
                report.timeline_lines().join("\n")
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiments_run_end_to_end_and_heal_removes_faults() {
    let Some(run_) = start("chaos", "").await else {
        return;
    };
    let ctx = ChaosContext::new(run_.sut.clone()).expect("chaos context");

    // ---- verdicts that must fail, quickly, without breaking anything
    let report = run(
        &ctx,
        &inline(
            "teapot",
            "title = \"steady state that never holds\"\n\
             [steady_state]\nprobes = [ { http = \"/api/healthz\", status = 418 } ]\n\
             [[method]]\naction = \"kill_container\"\nservice = \"redis\"\n",
        ),
    )
    .await;
    assert!(!report.passed());
    assert!(
        report.verdict.reasons()[0].starts_with("steady state did not hold before the fault"),
        "{:?}",
        report.verdict
    );
    assert!(!kinds(&report).contains(&EventKind::FaultInjected));
    assert!(report.actions.is_empty(), "nothing may be injected");

    let report = run(
        &ctx,
        &inline(
            "not_paused",
            "title = \"unpausing a running container cannot be injected\"\n\
             [steady_state]\nprobes = [ { redis = \"PING\", expect = \"PONG\" } ]\n\
             [[method]]\naction = \"unpause_container\"\nservice = \"redis\"\n",
        ),
    )
    .await;
    assert!(!report.passed());
    assert!(
        report.verdict.reasons()[0].starts_with("could not inject: unpause_container redis"),
        "{:?}",
        report.verdict
    );

    let report = run(
        &ctx,
        &inline(
            "no_such_service",
            "title = \"a service the stack lacks\"\n\
             [steady_state]\nprobes = [ { redis = \"PING\", expect = \"PONG\" } ]\n\
             [[method]]\naction = \"kill_container\"\nservice = \"mysql\"\n",
        ),
    )
    .await;
    let reasons = report.verdict.reasons().join("\n");
    assert!(
        reasons.contains("no_such_service:4: kill_container names service `mysql`, which")
            && reasons.contains("services: postgres, backup, redis, toxiproxy, app"),
        "{reasons}"
    );

    // ---- the shipped experiments
    let report = run(&ctx, &shipped("redis_killed")).await;
    assert!(
        report.passed(),
        "{}\n{}",
        report.summary_line(),
        report.timeline_lines().join("\n")
    );
    assert_in_order(
        &report,
        &[
            EventKind::SteadyStateOk,
            EventKind::WritersStarted,
            EventKind::FaultInjected,
            EventKind::FaultProven,
            EventKind::FaultRemoved,
            EventKind::RollbackProven,
            EventKind::FaultEnd,
            EventKind::FirstGoodProbe,
            EventKind::Recovered,
            EventKind::ThresholdPassed,
            EventKind::WritersReconciled,
        ],
    );
    assert!(kinds(&report).contains(&EventKind::FirstFailedProbe));
    assert!(kinds(&report).contains(&EventKind::DuringFaultOk));
    let r = &report.recovery;
    let (end, start) = (r.from_fault_end_ms.unwrap(), r.from_fault_start_ms.unwrap());
    assert!(end <= 30_000 && start > end, "{r:?}");
    assert!(r.first_failed_probe_ms.unwrap() >= r.fault_start_ms.unwrap());
    let rec = report.reconciliation.as_ref().expect("reconciled");
    assert!(rec.passed(), "{}", rec.summary_line());
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"]["result"], "passed");
    assert!(json["probes"].as_array().unwrap().len() > 10);

    let report = run(&ctx, &shipped("api_process_killed")).await;
    assert!(
        report.passed(),
        "{}\n{}",
        report.summary_line(),
        report.timeline_lines().join("\n")
    );
    let kill = &report.actions[0];
    assert!(kill.proven && kill.detail.contains("pid"), "{kill:?}");
    assert!(report.recovery.from_fault_end_ms.unwrap() <= 30_000);

    // ---- heal: a pile of faults, all removed
    let stack = &run_.stack;
    let proxy = ctx.proxy().await;
    proxy.set_enabled("redis", false).await.unwrap();
    let toxic = gauntlet_faultproxy::Toxic::new(
        gauntlet_faultproxy::ToxicKind::Latency {
            latency: 1000,
            jitter: 0,
        },
        gauntlet_faultproxy::Stream::Downstream,
    );
    proxy.client().add_toxic("postgres", &toxic).await.unwrap();
    let out = stack.exec("app", &["pm2", "kill"]).await.unwrap();
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    stack.pause("postgres").await.unwrap();

    let done = heal(&ctx).await.unwrap_or_else(|e| panic!("{e}"));
    eprintln!("healed: {done:#?}");
    let all = done.join("\n");
    assert!(all.contains("unpaused postgres"), "{all}");
    assert!(
        all.contains("fault proxy reset: 1 toxic removed, redis enabled again"),
        "{all}"
    );
    assert!(all.contains("pm2 resurrect"), "{all}");
    let after = proxy.proxies().await.unwrap();
    assert!(
        after.iter().all(|p| p.enabled && p.toxics.is_empty()),
        "{after:?}"
    );

    // The stack serves again: every PM2 process online, deep health 200.
    let deadline = Instant::now() + Duration::from_secs(90);
    let http = reqwest::Client::new();
    loop {
        let online = gauntlet_harness::pm2::processes(stack)
            .await
            .map(|l| l.len() == 4 && l.iter().all(|p| p.status == "online"))
            .unwrap_or(false);
        let api = ctx.endpoint("api").await.unwrap();
        let healthy = http
            .get(format!("{api}/api/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if online && healthy {
            break;
        }
        assert!(Instant::now() < deadline, "not serving 90 s after heal");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // PM2 killed and resurrected by an experiment; then nothing to heal.
    let report = run(&ctx, &shipped("pm2_kill_resurrect")).await;
    assert!(
        report.passed(),
        "{}\n{}",
        report.summary_line(),
        report.timeline_lines().join("\n")
    );
    assert_eq!(heal(&ctx).await.unwrap(), Vec::<String>::new());
}

// Every shipped experiment end to end through the CLI, and the defect
// matrix, are in harness/cli/tests/chaos.rs.
