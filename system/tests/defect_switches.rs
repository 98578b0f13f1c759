//! Every defect switch of SYSTEM-SPEC section 11 that this system can reach
//! re-enables a defect that one of the checks catches. Each test turns one
//! switch on and asserts that the matching check FAILS with the defect's
//! symptom, so the suite stays green while proving the checks bite. (The
//! same checks pass on the correct system in the other test files.)

mod support;

use std::time::Duration;

use support::checks;

fn assert_caught(outcome: checks::Check, symptom: &str) {
    match outcome {
        Ok(()) => panic!("the defect went unnoticed: the check passed"),
        Err(message) => assert!(
            message.contains(symptom),
            "caught, but with another symptom: {message}"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checkout_ignores_idempotency_key_is_caught() {
    let Some(sut) = support::start("d-idem", &["checkout_ignores_idempotency_key"]).await else {
        return;
    };
    assert_caught(
        checks::double_submit_creates_one_order(&sut, 5).await,
        "double submit",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stock_check_without_lock_is_caught() {
    let Some(sut) = support::start("d-lock", &["stock_check_without_lock"]).await else {
        return;
    };
    assert_caught(
        checks::last_units_are_sold_exactly_once(&sut, 50, 10).await,
        "oversold",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_ignores_db_is_caught() {
    let Some(sut) = support::start("d-health", &["health_ignores_db"]).await else {
        return;
    };
    assert_caught(
        checks::health_sees_the_database(&sut).await,
        "while Postgres was killed",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_limit_never_denies_is_caught() {
    let Some(sut) = support::start("d-rate", &["rate_limit_never_denies"]).await else {
        return;
    };
    assert_caught(
        checks::login_is_rate_limited(&sut).await,
        "rate limit never denies",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cart_visible_to_others_is_caught() {
    let Some(sut) = support::start("d-cart", &["cart_visible_to_others"]).await else {
        return;
    };
    assert_caught(checks::carts_are_private(&sut).await, "cart leak");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outbox_skipped_when_redis_down_is_caught() {
    let Some(sut) = support::start_with(
        "d-outbox",
        &["outbox_skipped_when_redis_down"],
        support::RAISED_LIMITS,
    )
    .await
    else {
        return;
    };
    assert_caught(
        checks::events_survive_a_redis_outage(&sut, 20, Duration::from_secs(20)).await,
        "lost events",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhook_hmac_not_enforced_is_caught() {
    let Some(sut) = support::start("d-hmac", &["webhook_hmac_not_enforced"]).await else {
        return;
    };
    assert_caught(
        checks::webhook_signatures_are_enforced(&sut).await,
        "forged webhook accepted",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotency_before_delivery_is_caught() {
    let Some(sut) = support::start("d-deliver", &["idempotency_before_delivery"]).await else {
        return;
    };
    assert_caught(
        checks::failed_events_reach_the_dlq(&sut, Duration::from_secs(30)).await,
        "event dropped",
    );
}
