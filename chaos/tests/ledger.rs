//! The write ledger against a real stack (PostgreSQL, Redis, the app under
//! PM2, the fault proxy), brought up by the harness library as `gauntlet up`
//! does: writers run for a few seconds, stop, and the reconciliation must
//! find every acknowledged write once and every event delivered; with the
//! defect `outbox_skipped_when_redis_down` and Redis stopped meanwhile, it
//! must count the events the system lost; without the defect, the same
//! Redis stop must lose nothing (the control).
//!
//! Needs Docker. Without it the tests are skipped with a message, except
//! under `CI`, where they fail: CI must never pass by skipping.
//!
//! The images need the host-built binaries: `cargo build -p gauntlet-system
//! -p gauntlet-faultproxy` into the same target directory first (or set
//! `GAUNTLET_SYSTEM_BIN`, with the fault proxy next to it); if they are
//! missing the harness builds them with cargo, which is slow.
//!
//! Measured on 2 busy cores with the images already built: each stack comes
//! up in 5–17 s (launches are serialised), the three tests take about 40 s
//! together; reconciling takes 0.3–0.4 s when every event has arrived, and
//! about 3.5 s when some never will (the pipeline must stay idle for 3 s).

mod common;

use std::time::{Duration, Instant};

use common::start;
use gauntlet_chaos::ledger::{
    reconcile, WriteKind, WriteLedger, WriteOutcome, WriterConfig, Writers,
};

fn config(rate: f64, seed: u64) -> WriterConfig {
    WriterConfig {
        checkouts_per_sec: rate,
        webhooks_per_sec: rate,
        credits_per_sec: rate,
        seed,
        request_timeout: Duration::from_secs(2),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_every_acknowledged_write_is_there_once_and_every_event_delivered() {
    let Some(run) = start("healthy", "").await else {
        return;
    };
    let writers = Writers::start(&run.sut, config(3.0, 1), WriteLedger::new())
        .await
        .expect("writers set up");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let ledger = writers.stop().await;

    let counts = ledger.counts();
    for kind in WriteKind::ALL {
        let c = counts.get(&kind).copied().unwrap_or_default();
        assert!(
            c.total() >= 10,
            "{kind}: only {} writes in 5 s at 3/s",
            c.total()
        );
    }
    let not_ok: Vec<_> = ledger
        .records()
        .into_iter()
        .filter(|r| !r.outcome.is_ok())
        .collect();
    assert!(
        not_ok.is_empty(),
        "writes not acknowledged on a healthy stack: {not_ok:#?}"
    );

    let started = Instant::now();
    let rec = reconcile(&run.sut, &ledger, Duration::from_secs(30))
        .await
        .expect("reconcile");
    eprintln!(
        "{} (reconciled in {:.1} s, settled: {})\n{:#?}",
        rec.summary_line(),
        started.elapsed().as_secs_f64(),
        rec.settled,
        rec.examples
    );
    assert!(rec.passed(), "{}: {:#?}", rec.summary_line(), rec.examples);
    assert!(rec.settled);
    for kind in WriteKind::ALL {
        let k = rec.kinds[&kind];
        assert_eq!(
            (k.lost, k.duplicated, k.unexpected),
            (0, 0, 0),
            "{kind}: {k:?}"
        );
        assert_eq!(k.ok, k.sent, "{kind}: {k:?}");
    }
    let orders = rec.kinds[&WriteKind::Checkout].ok + rec.kinds[&WriteKind::Webhook].ok;
    assert_eq!(rec.events.expected, orders);
    assert_eq!(rec.events.delivered, orders, "{:?}", rec.events);
    assert_eq!(
        (
            rec.events.missing,
            rec.events.duplicated,
            rec.events.dead_lettered
        ),
        (0, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_counts_events_published_past_a_stopped_redis_as_missing() {
    let Some(run) = start("redis-down", "outbox_skipped_when_redis_down").await else {
        return;
    };
    let writers = Writers::start(&run.sut, config(3.0, 2), WriteLedger::new())
        .await
        .expect("writers set up");
    tokio::time::sleep(Duration::from_secs(2)).await;
    run.stack
        .stop("redis", Duration::from_secs(5))
        .await
        .expect("stop redis");
    let down = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    run.stack.start("redis").await.expect("start redis");
    run.stack
        .wait_healthy("redis", Duration::from_secs(60))
        .await
        .expect("redis healthy again");
    eprintln!("redis down for {:.1} s", down.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ledger = writers.stop().await;

    let started = Instant::now();
    let rec = reconcile(&run.sut, &ledger, Duration::from_secs(45))
        .await
        .expect("reconcile");
    eprintln!(
        "{} (reconciled in {:.1} s, settled: {})\n{:#?}",
        rec.summary_line(),
        started.elapsed().as_secs_f64(),
        rec.settled,
        rec.examples
    );
    let checkouts_ok = ledger
        .records()
        .iter()
        .filter(|r| r.kind == WriteKind::Checkout && matches!(r.outcome, WriteOutcome::Ok { .. }))
        .count();
    assert!(checkouts_ok > 0, "no checkout was acknowledged");
    assert!(
        rec.events.missing > 0,
        "the defect loses the events of checkouts made while Redis is down, but none is missing: {}",
        rec.summary_line()
    );
    assert!(!rec.passed());
    assert!(
        rec.examples
            .iter()
            .any(|e| e.starts_with("missing event of order") && e.contains("no outbox row")),
        "{:#?}",
        rec.examples
    );
    // The orders themselves are in Postgres: only their events are gone.
    for kind in WriteKind::ALL {
        assert_eq!(rec.kinds[&kind].lost, 0, "{kind}: {:?}", rec.kinds[&kind]);
        assert_eq!(
            rec.kinds[&kind].duplicated, 0,
            "{kind}: {:?}",
            rec.kinds[&kind]
        );
    }
}

/// The control for the test above: the correct system keeps the events of
/// orders made while Redis is away in the outbox and delivers them after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_finds_no_event_lost_across_a_redis_stop_on_a_correct_system() {
    let Some(run) = start("redis-ok", "").await else {
        return;
    };
    let writers = Writers::start(&run.sut, config(3.0, 3), WriteLedger::new())
        .await
        .expect("writers set up");
    tokio::time::sleep(Duration::from_secs(2)).await;
    run.stack
        .stop("redis", Duration::from_secs(5))
        .await
        .expect("stop redis");
    tokio::time::sleep(Duration::from_secs(4)).await;
    run.stack.start("redis").await.expect("start redis");
    run.stack
        .wait_healthy("redis", Duration::from_secs(60))
        .await
        .expect("redis healthy again");
    let back = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ledger = writers.stop().await;

    let rec = reconcile(&run.sut, &ledger, Duration::from_secs(60))
        .await
        .expect("reconcile");
    eprintln!(
        "{} (events settled {:.1} s after Redis was back, settled: {})\n{:#?}",
        rec.summary_line(),
        back.elapsed().as_secs_f64(),
        rec.settled,
        rec.examples
    );
    assert!(rec.passed(), "{}: {:#?}", rec.summary_line(), rec.examples);
    assert!(rec.settled);
    assert!(rec.events.expected > 0);
    assert_eq!(
        rec.events.delivered, rec.events.expected,
        "{:?}",
        rec.events
    );
}
