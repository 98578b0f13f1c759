//! The same checks as `defect_switches.rs`, on the correct system: they pass.

mod support;

use support::checks;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn correct_system_keeps_carts_private_rate_limits_logins_and_sees_its_database() {
    let Some(sut) = support::start("guarantees", &[]).await else {
        return;
    };
    checks::carts_are_private(&sut).await.unwrap();
    checks::login_is_rate_limited(&sut).await.unwrap();
    checks::health_sees_the_database(&sut).await.unwrap();
    checks::webhook_signatures_are_enforced(&sut).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_deliveries_are_dead_lettered_and_requeue_delivers_once() {
    let Some(sut) = support::start("dlq", &[]).await else {
        return;
    };
    checks::failed_events_reach_the_dlq(&sut, std::time::Duration::from_secs(60))
        .await
        .unwrap();
}
