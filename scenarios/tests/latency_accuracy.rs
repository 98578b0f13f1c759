//! The generator's latency figures against a server with a known delay
//! (in-process, 127.0.0.1:0; no Docker).

use gauntlet_scenarios::latency_accuracy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measured_median_matches_the_injected_delay() {
    let r = latency_accuracy(50).await.expect("bench runs");
    eprintln!("{r:?}");
    assert!(r.samples >= 200, "too few samples: {r:?}");
    // ±10 % + 5 ms of 50 ms.
    assert!(
        (r.p50_ms - 50.0).abs() <= 50.0 * 0.10 + 5.0,
        "p50 {} ms vs 50 ms injected: {r:?}",
        r.p50_ms
    );
    assert!(r.within_tolerance);
    assert!(
        r.p50_ms >= 50.0,
        "a 50 ms sleep cannot answer faster: {r:?}"
    );
}

/// Coordinated omission: a one-second stall is nearly invisible to a closed
/// model without think time, and shows in full in the open model, which
/// counts latency from the intended send time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_shows_a_stall_the_closed_model_hides() {
    let r = gauntlet_scenarios::stall_visibility(1000)
        .await
        .expect("bench runs");
    eprintln!("{r:?}");
    assert!(r.open_samples >= 300, "{r:?}");
    assert!(r.open.p90 >= 300.0, "open model must show the queue: {r:?}");
    assert!(r.open.max >= 800.0, "{r:?}");
    assert!(
        r.closed.max >= 800.0,
        "the stalled requests themselves: {r:?}"
    );
    assert!(
        r.closed.p90 < 100.0,
        "closed model, no think time: the stall hides in fast samples: {r:?}"
    );
}
