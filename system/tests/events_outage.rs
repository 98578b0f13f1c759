//! Outbox -> Redis stream -> sink while Redis is down: events wait, and
//! every one is delivered exactly once when Redis is back.

mod support;

use std::time::Duration;

use support::checks;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_down_while_100_orders_are_created_loses_no_event() {
    let Some(sut) = support::start_with("redis-outage", &[], support::RAISED_LIMITS).await else {
        return;
    };
    checks::events_survive_a_redis_outage(&sut, 100, Duration::from_secs(60))
        .await
        .unwrap();
}
