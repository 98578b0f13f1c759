//! Each toxic's effect on real TCP traffic through the proxy.

mod common;

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use common::*;
use gauntlet_faultproxy::{Stream, Toxic, ToxicKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn latency(latency: i64, jitter: i64) -> Toxic {
    Toxic::new(ToxicKind::Latency { latency, jitter }, Stream::Downstream)
}

#[tokio::test]
async fn latency_adds_the_configured_delay_within_10_percent() {
    let h = Harness::start().await;
    let proxy = h.proxy("latency", echo_server().await).await;
    let mut stream = connect(&proxy).await;
    let base = median(&round_trips(&mut stream, 5).await);

    h.client
        .add_toxic("latency", &latency(200, 0))
        .await
        .unwrap();
    let times = round_trips(&mut stream, 5).await;
    let added = median(&times).saturating_sub(base);
    assert!(
        added >= ms(180) && added <= ms(220),
        "added {added:?} (base {base:?}, samples {times:?})"
    );
    for t in &times {
        assert!(
            *t >= ms(200),
            "no round trip is faster than the latency: {times:?}"
        );
    }
}

#[tokio::test]
async fn latency_applies_in_the_upstream_direction_too() {
    let h = Harness::start().await;
    let proxy = h.proxy("up", echo_server().await).await;
    let toxic = Toxic::new(
        ToxicKind::Latency {
            latency: 150,
            jitter: 0,
        },
        Stream::Upstream,
    );
    h.client.add_toxic("up", &toxic).await.unwrap();
    let mut stream = connect(&proxy).await;
    let t = median(&round_trips(&mut stream, 3).await);
    assert!(t >= ms(150) && t <= ms(180), "{t:?}");
}

#[tokio::test]
async fn jitter_stays_within_its_bounds() {
    let h = Harness::start().await;
    let proxy = h.proxy("jitter", echo_server().await).await;
    h.client
        .add_toxic("jitter", &latency(100, 50))
        .await
        .unwrap();
    let mut stream = connect(&proxy).await;
    let times = round_trips(&mut stream, 12).await;
    for t in &times {
        assert!(*t >= ms(50) && *t <= ms(165), "{times:?}");
    }
    let spread = times
        .iter()
        .max()
        .unwrap()
        .saturating_sub(*times.iter().min().unwrap());
    assert!(spread >= ms(10), "jitter varies the delay: {times:?}");
}

#[tokio::test]
async fn toxics_apply_to_live_connections_and_removal_restores_round_trips() {
    let h = Harness::start().await;
    let proxy = h.proxy("live", echo_server().await).await;
    let mut stream = connect(&proxy).await;
    let base = median(&round_trips(&mut stream, 3).await);
    assert!(base < ms(50), "{base:?}");

    h.client.add_toxic("live", &latency(300, 0)).await.unwrap();
    let slow = median(&round_trips(&mut stream, 3).await);
    assert!(slow >= ms(300) && slow < ms(340), "{slow:?}");

    let mut updated = latency(100, 0);
    updated.name = "latency_downstream".into();
    h.client.update_toxic("live", &updated).await.unwrap();
    let less = median(&round_trips(&mut stream, 3).await);
    assert!(less >= ms(100) && less < ms(140), "{less:?}");

    h.client
        .remove_toxic("live", "latency_downstream")
        .await
        .unwrap();
    let restored = median(&round_trips(&mut stream, 3).await);
    assert!(restored < ms(50), "{restored:?}");
}

#[tokio::test]
async fn removing_a_toxic_releases_data_it_was_holding() {
    let h = Harness::start().await;
    let proxy = h.proxy("held", echo_server().await).await;
    h.client
        .add_toxic("held", &latency(10_000, 0))
        .await
        .unwrap();
    let mut stream = connect(&proxy).await;
    stream.write_all(b"ping\n").await.unwrap();
    tokio::time::sleep(ms(100)).await;
    let start = Instant::now();
    h.client
        .remove_toxic("held", "latency_downstream")
        .await
        .unwrap();
    let mut buf = [0u8; 5];
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping\n");
    assert!(start.elapsed() < ms(500), "{:?}", start.elapsed());
}

#[tokio::test]
async fn bandwidth_stays_near_its_rate() {
    let h = Harness::start().await;
    let proxy = h.proxy("bw", echo_server().await).await;
    // 100 KB/s: 50 000 bytes take 500 ms.
    let toxic = Toxic::new(ToxicKind::Bandwidth { rate: 100 }, Stream::Downstream);
    h.client.add_toxic("bw", &toxic).await.unwrap();
    let mut stream = connect(&proxy).await;
    let payload = vec![7u8; 50_000];
    let start = Instant::now();
    let (mut r, mut w) = stream.split();
    let mut back = vec![0u8; payload.len()];
    let (written, read) = tokio::join!(w.write_all(&payload), r.read_exact(&mut back));
    written.unwrap();
    read.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(back, payload);
    assert!(elapsed >= ms(450) && elapsed <= ms(650), "{elapsed:?}");
}

#[tokio::test]
async fn timeout_stops_data_and_closes_after_the_timeout() {
    let h = Harness::start().await;
    let proxy = h.proxy("to", echo_server().await).await;
    let toxic = Toxic::new(ToxicKind::Timeout { timeout: 300 }, Stream::Downstream);
    h.client.add_toxic("to", &toxic).await.unwrap();
    let start = Instant::now();
    let mut stream = connect(&proxy).await;
    stream.write_all(b"ping\n").await.unwrap();
    let (data, end) = read_to_end(&mut stream, Duration::from_secs(3)).await;
    let elapsed = start.elapsed();
    assert!(data.is_empty(), "no data passes: {data:?}");
    assert!(end.is_ok(), "closed, not reset: {end:?}");
    assert!(elapsed >= ms(290) && elapsed <= ms(450), "{elapsed:?}");
}

#[tokio::test]
async fn timeout_zero_holds_the_connection_open() {
    let h = Harness::start().await;
    let proxy = h.proxy("to0", echo_server().await).await;
    let toxic = Toxic::new(ToxicKind::Timeout { timeout: 0 }, Stream::Downstream);
    h.client.add_toxic("to0", &toxic).await.unwrap();
    let mut stream = connect(&proxy).await;
    stream.write_all(b"ping\n").await.unwrap();
    let mut buf = [0u8; 8];
    let read = tokio::time::timeout(ms(500), stream.read(&mut buf)).await;
    assert!(
        read.is_err(),
        "nothing arrives and nothing closes: {read:?}"
    );
}

#[tokio::test]
async fn limit_data_closes_after_n_bytes_downstream() {
    let h = Harness::start().await;
    let proxy = h.proxy("limit", echo_server().await).await;
    let toxic = Toxic::new(ToxicKind::LimitData { bytes: 10 }, Stream::Downstream);
    h.client.add_toxic("limit", &toxic).await.unwrap();
    let mut stream = connect(&proxy).await;
    stream.write_all(&[1u8; 100]).await.unwrap();
    let (data, _) = read_to_end(&mut stream, Duration::from_secs(3)).await;
    assert_eq!(data, vec![1u8; 10]);
}

#[tokio::test]
async fn limit_data_closes_after_n_bytes_upstream() {
    let h = Harness::start().await;
    let (server, mut counts) = counting_server().await;
    let proxy = h.proxy("limit_up", server).await;
    let toxic = Toxic::new(ToxicKind::LimitData { bytes: 25 }, Stream::Upstream);
    h.client.add_toxic("limit_up", &toxic).await.unwrap();
    let mut stream = connect(&proxy).await;
    for _ in 0..10 {
        // The proxy may already have closed: later writes can fail.
        if stream.write_all(&[2u8; 10]).await.is_err() {
            break;
        }
        tokio::time::sleep(ms(5)).await;
    }
    let counted = tokio::time::timeout(Duration::from_secs(3), counts.recv()).await;
    assert_eq!(counted.unwrap(), Some(25));
    let (_, _) = read_to_end(&mut stream, Duration::from_secs(3)).await; // and the client is closed
}

#[tokio::test]
async fn slicer_delivers_the_same_bytes_in_several_reads() {
    let h = Harness::start().await;
    let proxy = h.proxy("slicer", echo_server().await).await;
    let kind = ToxicKind::Slicer {
        average_size: 10,
        size_variation: 3,
        delay: 5_000,
    };
    h.client
        .add_toxic("slicer", &Toxic::new(kind, Stream::Downstream))
        .await
        .unwrap();
    let mut stream = connect(&proxy).await;
    let payload: Vec<u8> = (0..200u32).map(|i| (i % 251) as u8).collect();
    stream.write_all(&payload).await.unwrap();
    let mut got = Vec::new();
    let mut reads = 0;
    let mut buf = [0u8; 1024];
    while got.len() < payload.len() {
        let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
        reads += 1;
    }
    assert_eq!(got, payload);
    assert!(
        reads >= 10,
        "200 bytes in pieces of ~10 arrive in many reads: {reads}"
    );
}

#[tokio::test]
async fn slow_close_delays_the_end_of_stream() {
    let h = Harness::start().await;
    let proxy = h.proxy("slow", say_and_close_server(b"bye").await).await;

    let start = Instant::now();
    let mut stream = connect(&proxy).await;
    let (data, _) = read_to_end(&mut stream, Duration::from_secs(3)).await;
    assert_eq!(data, b"bye");
    assert!(
        start.elapsed() < ms(150),
        "without the toxic: {:?}",
        start.elapsed()
    );

    let toxic = Toxic::new(ToxicKind::SlowClose { delay: 300 }, Stream::Downstream);
    h.client.add_toxic("slow", &toxic).await.unwrap();
    let start = Instant::now();
    let mut stream = connect(&proxy).await;
    let mut buf = [0u8; 3];
    stream.read_exact(&mut buf).await.unwrap();
    assert!(
        start.elapsed() < ms(150),
        "data is not delayed: {:?}",
        start.elapsed()
    );
    let (rest, _) = read_to_end(&mut stream, Duration::from_secs(3)).await;
    assert!(rest.is_empty());
    let elapsed = start.elapsed();
    assert!(elapsed >= ms(300) && elapsed <= ms(450), "{elapsed:?}");
}

#[tokio::test]
async fn reset_peer_resets_the_connection() {
    let h = Harness::start().await;
    let proxy = h.proxy("reset", echo_server().await).await;
    let toxic = Toxic::new(ToxicKind::ResetPeer { timeout: 0 }, Stream::Upstream);
    h.client.add_toxic("reset", &toxic).await.unwrap();
    let mut stream = connect(&proxy).await;
    stream.write_all(b"ping\n").await.unwrap();
    let (data, end) = read_to_end(&mut stream, Duration::from_secs(3)).await;
    assert!(data.is_empty());
    let err = end.expect_err("the read fails");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
}

#[tokio::test]
async fn reset_peer_waits_for_its_timeout() {
    let h = Harness::start().await;
    let proxy = h.proxy("reset_later", echo_server().await).await;
    let toxic = Toxic::new(ToxicKind::ResetPeer { timeout: 200 }, Stream::Downstream);
    h.client.add_toxic("reset_later", &toxic).await.unwrap();
    let mut stream = connect(&proxy).await;
    let start = Instant::now();
    stream.write_all(b"ping\n").await.unwrap();
    let (_, end) = read_to_end(&mut stream, Duration::from_secs(3)).await;
    let elapsed = start.elapsed();
    assert_eq!(end.unwrap_err().kind(), ErrorKind::ConnectionReset);
    assert!(elapsed >= ms(195) && elapsed <= ms(350), "{elapsed:?}");
}

#[tokio::test]
async fn toxicity_zero_never_applies() {
    let h = Harness::start().await;
    let proxy = h.proxy("never", echo_server().await).await;
    h.client
        .add_toxic("never", &latency(500, 0).with_toxicity(0.0))
        .await
        .unwrap();
    for _ in 0..8 {
        let mut stream = connect(&proxy).await;
        let t = round_trip(&mut stream).await;
        assert!(t < ms(100), "{t:?}");
    }
}

#[tokio::test]
async fn toxicity_is_decided_per_connection() {
    let h = Harness::start().await;
    let proxy = h.proxy("half", echo_server().await).await;
    h.client
        .add_toxic("half", &latency(150, 0).with_toxicity(0.5))
        .await
        .unwrap();
    let mut slow = 0;
    for _ in 0..24 {
        let mut stream = connect(&proxy).await;
        // Every round trip of a connection agrees with its first one.
        let times = round_trips(&mut stream, 2).await;
        let affected = times[0] >= ms(150);
        assert_eq!(affected, times[1] >= ms(150), "{times:?}");
        slow += usize::from(affected);
    }
    // P(all 24 alike) = 2^-23.
    assert!(slow > 0 && slow < 24, "{slow} of 24 connections affected");
}
