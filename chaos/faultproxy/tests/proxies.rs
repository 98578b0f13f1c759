//! Proxy life cycle: enabling, disabling, `/reset`, upstream resolution.

mod common;

use std::io::ErrorKind;
use std::time::Duration;

use common::*;
use gauntlet_faultproxy::{ProxyConfig, Stream, Toxic, ToxicKind};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn disabled_proxy_refuses_connections_and_reenabling_accepts_again() {
    let h = Harness::start().await;
    let proxy = h.proxy("down", echo_server().await).await;
    let mut live = connect(&proxy).await;
    round_trip(&mut live).await;

    let disabled = h.client.set_enabled("down", false).await.unwrap();
    assert!(!disabled.enabled);
    let err = TcpStream::connect(&proxy.listen).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    // The live connection was dropped too.
    let (data, _) = read_to_end(&mut live, Duration::from_secs(2)).await;
    assert!(data.is_empty());

    let enabled = h.client.set_enabled("down", true).await.unwrap();
    assert!(enabled.enabled);
    assert_eq!(
        enabled.listen, proxy.listen,
        "listens on the same address again"
    );
    let mut again = connect(&proxy).await;
    round_trip(&mut again).await;
}

#[tokio::test]
async fn disable_and_enable_repeatedly() {
    let h = Harness::start().await;
    let proxy = h.proxy("flap", echo_server().await).await;
    for _ in 0..5 {
        let mut stream = connect(&proxy).await;
        round_trip(&mut stream).await;
        h.client.set_enabled("flap", false).await.unwrap();
        assert!(TcpStream::connect(&proxy.listen).await.is_err());
        h.client.set_enabled("flap", true).await.unwrap();
    }
}

#[tokio::test]
async fn reset_clears_toxics_and_reenables_every_proxy() {
    let h = Harness::start().await;
    let echo = echo_server().await;
    let a = h.proxy("a", echo).await;
    let b = h.proxy("b", echo).await;
    let slow = Toxic::new(
        ToxicKind::Latency {
            latency: 500,
            jitter: 0,
        },
        Stream::Downstream,
    );
    h.client.add_toxic("a", &slow).await.unwrap();
    let cut = Toxic::new(ToxicKind::Timeout { timeout: 0 }, Stream::Upstream);
    h.client.add_toxic("b", &cut).await.unwrap();
    h.client.set_enabled("b", false).await.unwrap();

    h.client.reset().await.unwrap();

    for (name, proxy) in h.client.proxies().await.unwrap() {
        assert!(proxy.enabled, "{name} enabled");
        assert!(proxy.toxics.is_empty(), "{name} has no toxics");
    }
    for proxy in [&a, &b] {
        let mut stream = connect(proxy).await;
        assert!(round_trip(&mut stream).await < ms(100));
    }
}

#[tokio::test]
async fn upstream_host_is_resolved_at_connect_time() {
    let h = Harness::start().await;
    let echo = echo_server().await;
    let config = ProxyConfig::new("named", "127.0.0.1:0", format!("localhost:{}", echo.port()));
    let proxy = h.client.create(&config).await.unwrap();
    let mut stream = connect(&proxy).await;
    round_trip(&mut stream).await;
}

#[tokio::test]
async fn unreachable_upstream_closes_the_client() {
    let h = Harness::start().await;
    let (listener, addr) = listener().await;
    drop(listener); // nothing listens there any more
    let proxy = h.proxy("nowhere", addr).await;
    let mut stream = connect(&proxy).await;
    let (data, _) = read_to_end(&mut stream, Duration::from_secs(2)).await;
    assert!(data.is_empty());
}

#[tokio::test]
async fn changing_the_upstream_moves_new_connections() {
    let h = Harness::start().await;
    let (first, mut first_counts) = counting_server().await;
    let (second, mut second_counts) = counting_server().await;
    let proxy = h.proxy("moved", first).await;
    let update = serde_json::json!({"upstream": second.to_string()});
    let answer = reqwest::Client::new()
        .post(format!("{}/proxies/moved", h.server.url()))
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let listen = h.client.proxy("moved").await.unwrap().listen;
    assert_eq!(listen, proxy.listen);
    let mut stream = connect(&proxy).await;
    stream.write_all(b"abc").await.unwrap();
    drop(stream);
    let counted = tokio::time::timeout(Duration::from_secs(2), second_counts.recv()).await;
    assert_eq!(counted.unwrap(), Some(3));
    assert!(first_counts.try_recv().is_err());
}
