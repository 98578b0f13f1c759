//! The writers against a small fake api (plain HTTP/1.1 over tokio): what
//! they send, how they retry, pause and stop. The real system is exercised
//! by `chaos/tests/ledger.rs`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gauntlet_harness::config::{Config, Overrides};
use gauntlet_harness::sut::Secrets;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::ledger::LedgerError;

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

type Answer = Arc<dyn Fn(&Seen, usize) -> (u16, String, Duration) + Send + Sync>;

/// A fake api: `answer(request, how many times this body was seen before)`
/// gives status, body and a delay.
struct Fake {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn fake(answer: Answer) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (answer, log) = (answer.clone(), log.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // Headers, then content-length bytes of body.
                    let end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let mut lines = head.split("\r\n");
                    let path = lines
                        .next()
                        .and_then(|l| l.split(' ').nth(1))
                        .unwrap_or("")
                        .to_string();
                    let headers: HashMap<String, String> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
                        .collect();
                    let len: usize = headers
                        .get("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < end + len {
                        let mut chunk = [0u8; 4096];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let req = Seen {
                        path,
                        headers,
                        body: buf[end..end + len].to_vec(),
                    };
                    buf.drain(..end + len);
                    let before = {
                        let mut log = log.lock().unwrap();
                        let n = log.iter().filter(|s| s.body == req.body).count();
                        log.push(req.clone());
                        n
                    };
                    let (status, body, delay) = answer(&req, before);
                    tokio::time::sleep(delay).await;
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if sock.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Fake { url, seen }
}

fn webhooks_only(rate: f64, timeout_ms: u64) -> WriterConfig {
    WriterConfig {
        checkouts_per_sec: 0.0,
        webhooks_per_sec: rate,
        credits_per_sec: 0.0,
        seed: 3,
        request_timeout: Duration::from_millis(timeout_ms),
    }
}

/// A system under test whose api is `url`, with these secrets.
fn sut_with(url: &str, secrets: &[(&str, &str)]) -> Sut {
    let config = Config::load(None, Overrides::default()).expect("the built-in defaults");
    let mut all = Secrets::default();
    for (name, value) in secrets {
        all.insert(*name, *value);
    }
    Sut::assemble(
        Arc::new(config),
        BTreeMap::from([(API.to_string(), url.to_string())]),
        all,
        3,
    )
}

fn sut(url: &str) -> Sut {
    sut_with(url, &[(ADMIN_TOKEN, "admin"), (WEBHOOK_SECRET, "s3cret")])
}

fn created(id: usize) -> (u16, String, Duration) {
    (
        201,
        format!(r#"{{"order_id":{id},"status":"created"}}"#),
        Duration::ZERO,
    )
}

#[tokio::test]
async fn unknown_outcomes_are_retried_with_the_same_key_and_bytes() {
    // The first attempt of every body answers 503, the second 201.
    let api = fake(Arc::new(|_, before| {
        if before == 0 {
            (
                503,
                r#"{"error":{"code":"UNAVAILABLE","message":"x"}}"#.into(),
                Duration::ZERO,
            )
        } else {
            created(before)
        }
    }))
    .await;
    let writers = Writers::start(
        &sut(&api.url),
        webhooks_only(20.0, 1000),
        WriteLedger::new(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    // (A write whose first attempt is answered after a stop is not retried.)
    writers.pause();
    assert!(writers.drain(Duration::from_secs(5)).await);
    let ledger = writers.stop().await;
    let records = ledger.records();
    assert!(
        records.len() >= 5,
        "{} writes in 0.6 s at 20/s",
        records.len()
    );
    for r in &records {
        assert_eq!(r.kind, WriteKind::Webhook);
        assert_eq!(r.attempts, 2, "{r:?}");
        assert!(r.outcome.is_ok(), "{r:?}");
        assert!(r.finished_ms >= r.started_ms);
    }
    let seen = api.seen.lock().unwrap().clone();
    for r in &records {
        let copies: Vec<&Seen> = seen
            .iter()
            .filter(|s| serde_json::from_slice::<Value>(&s.body).unwrap()["id"] == r.key.as_str())
            .collect();
        assert_eq!(copies.len(), 2, "{}", r.key);
        assert_eq!(copies[0].body, copies[1].body);
        let s = copies[0];
        assert_eq!(s.path, "/api/v1/webhooks/shopify");
        assert_eq!(
            s.headers["x-shopify-hmac-sha256"],
            gauntlet_harness::wire::shopify_signature("s3cret", &s.body)
        );
        assert_eq!(s.headers["content-type"], "application/json");
    }
}

#[tokio::test]
async fn refusals_are_final_and_timeouts_give_up_after_three_attempts() {
    let api = fake(Arc::new(|req, _| {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let n: u64 = body["id"]
            .as_str()
            .unwrap()
            .rsplit('-')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        if n & 1 == 0 {
            (
                422,
                r#"{"error":{"code":"VALIDATION_FAILED","message":"x"}}"#.into(),
                Duration::ZERO,
            )
        } else {
            (201, "{}".into(), Duration::from_millis(400))
        }
    }))
    .await;
    let writers = Writers::start(&sut(&api.url), webhooks_only(10.0, 150), WriteLedger::new())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(450)).await;
    writers.pause();
    assert!(
        writers.drain(Duration::from_secs(5)).await,
        "writes still in flight"
    );
    let ledger = writers.stop().await;
    let records = ledger.records();
    assert!(records.len() >= 3);
    for r in &records {
        let n: u64 = r.key.rsplit('-').next().unwrap().parse().unwrap();
        if n & 1 == 0 {
            assert_eq!(
                r.outcome,
                WriteOutcome::Failed {
                    status: 422,
                    code: Some("VALIDATION_FAILED".into())
                }
            );
            assert_eq!(r.attempts, 1);
        } else {
            match &r.outcome {
                WriteOutcome::Unknown { reason } => {
                    assert!(reason.starts_with("timeout"), "{reason}")
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(r.attempts, MAX_ATTEMPTS);
        }
    }
}

#[tokio::test]
async fn pause_stops_issuing_and_resume_goes_on() {
    let api = fake(Arc::new(|_, before| created(before + 1))).await;
    let writers = Writers::start(
        &sut(&api.url),
        webhooks_only(40.0, 1000),
        WriteLedger::new(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    writers.pause();
    assert!(writers.is_paused());
    assert!(writers.drain(Duration::from_secs(2)).await);
    let paused_at = writers.ledger().records().len();
    assert!(paused_at > 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        writers.ledger().records().len(),
        paused_at,
        "wrote while paused"
    );
    writers.resume();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ledger = writers.stop().await;
    assert!(ledger.records().len() > paused_at, "did not resume");
    assert!(ledger.records().iter().all(|r| r.outcome.is_ok()));
}

#[tokio::test]
async fn stop_waits_for_writes_in_flight_within_the_timeout() {
    // Never answers in time: every attempt times out at 300 ms.
    let api = fake(Arc::new(|_, _| (201, "{}".into(), Duration::from_secs(10)))).await;
    let writers = Writers::start(&sut(&api.url), webhooks_only(20.0, 300), WriteLedger::new())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = Instant::now();
    let ledger = writers.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_millis(1500),
        "stop took {:?}",
        stopping.elapsed()
    );
    assert_eq!(ledger.in_flight(), 0);
    let records = ledger.records();
    assert!(!records.is_empty());
    assert!(records
        .iter()
        .all(|r| matches!(r.outcome, WriteOutcome::Unknown { .. })));
    // No retry starts after the stop.
    let seen = api.seen.lock().unwrap().len();
    assert!(seen <= records.len() * MAX_ATTEMPTS as usize);
}

#[tokio::test]
async fn an_unreachable_api_is_unknown_not_failed() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let writers = Writers::start(
        &sut(&format!("http://127.0.0.1:{port}")),
        webhooks_only(20.0, 500),
        WriteLedger::new(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ledger = writers.stop().await;
    let counts = ledger.counts();
    let c = counts[&WriteKind::Webhook];
    assert!(c.unknown > 0 && c.ok == 0 && c.failed == 0, "{c:?}");
}

#[tokio::test]
async fn set_api_moves_later_attempts() {
    let old = fake(Arc::new(|_, _| (503, "{}".into(), Duration::ZERO))).await;
    let new = fake(Arc::new(|_, before| created(before + 1))).await;
    let writers = Writers::start(
        &sut(&old.url),
        webhooks_only(20.0, 1000),
        WriteLedger::new(),
    )
    .await
    .unwrap();
    writers.set_api(new.url.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ledger = writers.stop().await;
    assert!(!new.seen.lock().unwrap().is_empty());
    assert!(ledger.records().iter().all(|r| r.outcome.is_ok()));
}

#[tokio::test]
async fn setup_makes_what_each_writer_needs() {
    let api = fake(Arc::new(|req, _| {
        let path = req.path.as_str();
        let admin = req.headers.get("x-admin-token").map(String::as_str) == Some("admin");
        let (status, body) = match path {
            "/api/v1/auth/register" => {
                let role = serde_json::from_slice::<Value>(&req.body).unwrap()["role"].clone();
                let id = if role == "producer" { 10 } else { 11 };
                (
                    201,
                    format!(r#"{{"user":{{"id":{id}}},"token":"tok-{id}","token_type":"Bearer"}}"#),
                )
            }
            "/api/v1/admin/producers/10/approve" if admin => (200, r#"{"data":{"id":10}}"#.into()),
            "/api/v1/products" => (201, r#"{"data":{"id":77}}"#.into()),
            "/v1/billing/accounts" if admin => (201, r#"{"id":5,"mode":"CREDIT"}"#.into()),
            "/v1/billing/accounts/5/grant" if admin => (201, r#"{"account":{"id":5}}"#.into()),
            "/api/v1/public/orders" => (201, r#"{"data":{"id":1000}}"#.into()),
            "/v1/billing/accounts/5/reserve" if admin => {
                (201, r#"{"reservation":{"id":9}}"#.into())
            }
            _ => (401, r#"{"error":{"code":"AUTH001","message":"no"}}"#.into()),
        };
        (status, body, Duration::ZERO)
    }))
    .await;
    let cfg = WriterConfig {
        checkouts_per_sec: 20.0,
        webhooks_per_sec: 0.0,
        credits_per_sec: 20.0,
        ..WriterConfig::default()
    };
    let writers = Writers::start(&sut(&api.url), cfg, WriteLedger::new())
        .await
        .unwrap();
    assert_eq!(writers.setup().product_id, Some(77));
    assert_eq!(writers.setup().buyer_id, Some(11));
    assert_eq!(writers.setup().account_id, Some(5));
    tokio::time::sleep(Duration::from_millis(250)).await;
    let ledger = writers.stop().await;
    let counts = ledger.counts();
    assert!(counts[&WriteKind::Checkout].ok > 0, "{counts:?}");
    assert!(counts[&WriteKind::CreditReserve].ok > 0, "{counts:?}");
    assert!(!counts.contains_key(&WriteKind::Webhook));
    let seen = api.seen.lock().unwrap().clone();
    let checkout = seen
        .iter()
        .find(|s| s.path == "/api/v1/public/orders")
        .unwrap();
    assert_eq!(checkout.headers["authorization"], "Bearer tok-11");
    let body: Value = serde_json::from_slice(&checkout.body).unwrap();
    let key = &checkout.headers["idempotency-key"];
    assert_eq!(body["shipping_address"]["ledger_key"], key.as_str());
    assert_eq!(body["items"][0]["product_id"], 77);
    let product = seen.iter().find(|s| s.path == "/api/v1/products").unwrap();
    let product: Value = serde_json::from_slice(&product.body).unwrap();
    assert_eq!(product["stock"], super::setup::PRODUCT_STOCK);
    let reserve = seen
        .iter()
        .find(|s| s.path == "/v1/billing/accounts/5/reserve")
        .unwrap();
    let body: Value = serde_json::from_slice(&reserve.body).unwrap();
    assert_eq!(body["amount"], 1);
    assert!(body["idempotency_key"].as_str().unwrap().contains("-cr-"));
}

#[tokio::test]
async fn setup_failures_and_bad_settings_are_errors() {
    let api = fake(Arc::new(|_, _| {
        (
            401,
            r#"{"error":{"code":"AUTH001","message":"no"}}"#.into(),
            Duration::ZERO,
        )
    }))
    .await;
    let no_secret = sut_with(&api.url, &[(ADMIN_TOKEN, "admin")]);
    let err = Writers::start(&no_secret, webhooks_only(1.0, 500), WriteLedger::new())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            LedgerError::MissingSetting {
                writer: "webhook",
                ..
            }
        ),
        "{err}"
    );

    let cfg = WriterConfig {
        webhooks_per_sec: 0.0,
        credits_per_sec: 0.0,
        ..WriterConfig::default()
    };
    let err = Writers::start(&sut(&api.url), cfg, WriteLedger::new())
        .await
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        text.contains("register the producer") && text.contains("401"),
        "{text}"
    );

    let cfg = WriterConfig {
        credits_per_sec: -1.0,
        ..WriterConfig::default()
    };
    let err = Writers::start(&sut(&api.url), cfg, WriteLedger::new())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, LedgerError::Config(_)), "{err}");

    // Everything off: nothing to set up, nothing written.
    let cfg = WriterConfig {
        checkouts_per_sec: 0.0,
        webhooks_per_sec: 0.0,
        credits_per_sec: 0.0,
        ..WriterConfig::default()
    };
    let writers = Writers::start(&sut(&api.url), cfg, WriteLedger::new())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(writers.stop().await.records().is_empty());
    assert!(api.seen.lock().unwrap().len() == 1);
}
