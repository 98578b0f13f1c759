//! Checkout under concurrency, against the containerised system: no
//! overselling, no double charge, no deadlock.

mod support;

use futures::future::join_all;
use support::checks;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_buyers_for_the_last_ten_units_get_exactly_ten_orders() {
    let Some(sut) = support::start("last-units", &[]).await else {
        return;
    };
    checks::last_units_are_sold_exactly_once(&sut, 50, 10)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_identical_checkouts_with_one_key_make_one_order() {
    let Some(sut) = support::start("double-submit", &[]).await else {
        return;
    };
    checks::double_submit_creates_one_order(&sut, 20)
        .await
        .unwrap();
}

/// Two orders naming the same two products in opposite order, 200 times
/// at once: rows are locked in ascending id order, so no deadlock and no 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn opposite_order_checkouts_never_deadlock() {
    let Some(sut) = support::start_with("no-deadlock", &[], support::RAISED_LIMITS).await else {
        return;
    };
    let producer = sut.producer().await;
    let a = sut.product(&producer, 10_000).await;
    let b = sut.product(&producer, 10_000).await;
    let mut shoppers = Vec::new();
    for _ in 0..10 {
        shoppers.push(sut.register("consumer").await);
    }
    let requests = (0..400).map(|i| {
        let shopper = &shoppers[i % shoppers.len()];
        let items = if i % 2 == 0 {
            vec![(a, 1), (b, 1)]
        } else {
            vec![(b, 1), (a, 1)]
        };
        let sut = &sut;
        async move {
            sut.checkout(
                shopper,
                &format!("dl-{i}-{:x}", rand::random::<u32>()),
                &items,
            )
            .await
        }
    });
    let replies = join_all(requests).await;
    let failures: Vec<_> = replies
        .iter()
        .filter(|r| r.status != 201)
        .map(|r| (r.status, r.body.to_string()))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of 400 failed, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    assert_eq!(sut.stock(a).await, 10_000 - 400);
    assert_eq!(sut.stock(b).await, 10_000 - 400);
}
