//! The async client against the server, for every call.

mod common;

use common::*;
use gauntlet_faultproxy::{ProxyConfig, Stream, Toxic, ToxicKind, ToxiproxyClient, ToxiproxyError};

#[tokio::test]
async fn every_call() {
    let h = Harness::start().await;
    let c = &h.client;
    let echo = echo_server().await;

    assert!(c.version().await.unwrap().starts_with("2."));
    assert!(c.proxies().await.unwrap().is_empty());

    let created = c
        .create(&ProxyConfig::new("pg", "127.0.0.1:0", echo.to_string()))
        .await
        .unwrap();
    assert!(created.enabled);
    let err = c
        .create(&ProxyConfig::new("pg", "127.0.0.1:0", echo.to_string()))
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(err.to_string().contains("proxy already exists"), "{err}");

    assert_eq!(c.proxy("pg").await.unwrap(), created);
    let err = c.proxy("nope").await.unwrap_err();
    assert!(err.is_not_found());
    match &err {
        ToxiproxyError::Api {
            message, status, ..
        } => {
            assert_eq!(message, "proxy not found");
            assert_eq!(status.as_u16(), 404);
        }
        other => panic!("{other:?}"),
    }

    let populated = c
        .populate(&[
            ProxyConfig::new("redis", "127.0.0.1:0", echo.to_string()),
            ProxyConfig {
                enabled: false,
                ..ProxyConfig::new("spare", "127.0.0.1:0", "127.0.0.1:9")
            },
        ])
        .await
        .unwrap();
    assert_eq!(populated.len(), 2);
    assert!(!populated[1].enabled);
    let all = c.proxies().await.unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), ["pg", "redis", "spare"]);

    assert!(!c.set_enabled("pg", false).await.unwrap().enabled);
    assert!(c.set_enabled("pg", true).await.unwrap().enabled);

    let kinds = [
        ToxicKind::Latency {
            latency: 10,
            jitter: 1,
        },
        ToxicKind::Bandwidth { rate: 1000 },
        ToxicKind::SlowClose { delay: 1 },
        ToxicKind::Timeout { timeout: 0 },
        ToxicKind::Slicer {
            average_size: 100,
            size_variation: 10,
            delay: 1,
        },
        ToxicKind::LimitData { bytes: 1_000_000 },
        ToxicKind::ResetPeer { timeout: 60_000 },
    ];
    for kind in kinds {
        let toxic = Toxic::new(kind, Stream::Upstream).with_toxicity(0.0);
        assert_eq!(c.add_toxic("redis", &toxic).await.unwrap(), toxic);
        assert_eq!(c.toxic("redis", &toxic.name).await.unwrap(), toxic);
    }
    let err = c
        .add_toxic(
            "redis",
            &Toxic::new(ToxicKind::Timeout { timeout: 1 }, Stream::Upstream),
        )
        .await
        .unwrap_err();
    assert!(err.is_conflict());
    assert_eq!(c.toxics("redis").await.unwrap().len(), 7);

    let mut latency = c.toxic("redis", "latency_upstream").await.unwrap();
    latency.kind = ToxicKind::Latency {
        latency: 20,
        jitter: 0,
    };
    latency.toxicity = 0.75;
    assert_eq!(c.update_toxic("redis", &latency).await.unwrap(), latency);
    assert_eq!(c.toxic("redis", "latency_upstream").await.unwrap(), latency);

    c.remove_toxic("redis", "latency_upstream").await.unwrap();
    assert!(c
        .remove_toxic("redis", "latency_upstream")
        .await
        .unwrap_err()
        .is_not_found());
    assert_eq!(c.toxics("redis").await.unwrap().len(), 6);

    // Named toxics with characters that need encoding in a path.
    let odd = Toxic::new(
        ToxicKind::Latency {
            latency: 1,
            jitter: 0,
        },
        Stream::Downstream,
    )
    .named("slow db/1");
    c.add_toxic("redis", &odd).await.unwrap();
    c.remove_toxic("redis", "slow db/1").await.unwrap();

    c.set_enabled("spare", false).await.unwrap();
    c.reset().await.unwrap();
    for proxy in c.proxies().await.unwrap().values() {
        assert!(proxy.enabled && proxy.toxics.is_empty(), "{proxy:?}");
    }

    c.delete("spare").await.unwrap();
    assert!(c.delete("spare").await.unwrap_err().is_not_found());

    // The proxy still proxies after all that.
    let mut stream = connect(&c.proxy("redis").await.unwrap()).await;
    round_trip(&mut stream).await;
}

#[tokio::test]
async fn unreachable_server_is_a_transport_error() {
    let (listener, addr) = listener().await;
    drop(listener);
    let client = ToxiproxyClient::new(format!("http://{addr}/")).unwrap();
    let err = client.proxies().await.unwrap_err();
    assert!(matches!(err, ToxiproxyError::Transport { .. }), "{err:?}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}
