//! How the client classifies what it saw (issue 7's ok / failed / unknown):
//!
//! - any 2xx: acknowledged, so the write must exist (`Ok`);
//! - a 4xx: a definite refusal, so it must not exist (`Failed`); 429 too;
//! - a 5xx, a timeout, a refused or reset connection, or any other status:
//!   the write may or may not have happened (`Unknown`). A 503 while
//!   Postgres is down almost certainly wrote nothing, but the client cannot
//!   know that, and a 500 after the commit is possible.

use serde_json::Value;

use super::record::{WriteKind, WriteOutcome};

/// Where each kind's answer names the row it made.
fn id_pointer(kind: WriteKind) -> &'static str {
    match kind {
        // 201/200 {data: order}
        WriteKind::Checkout => "/data/id",
        // 201 {order_id, status: "created"} / 200 {order_id, status: "skipped"}
        WriteKind::Webhook => "/order_id",
        // 201/200 {reservation, account}
        WriteKind::CreditReserve => "/reservation/id",
    }
}

/// The outcome of an HTTP answer with this status and body.
pub fn classify_response(kind: WriteKind, status: u16, body: &[u8]) -> WriteOutcome {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    match status {
        200..=299 => WriteOutcome::Ok {
            id: json
                .as_ref()
                .and_then(|v| v.pointer(id_pointer(kind)))
                .and_then(Value::as_i64),
        },
        400..=499 => WriteOutcome::Failed {
            status,
            code: error_code(json.as_ref()),
        },
        _ => WriteOutcome::Unknown {
            reason: match error_code(json.as_ref()) {
                Some(code) => format!("HTTP {status} {code}"),
                None => format!("HTTP {status}"),
            },
        },
    }
}

fn error_code(json: Option<&Value>) -> Option<String> {
    json.and_then(|v| v.pointer("/error/code"))
        .and_then(Value::as_str)
        .map(String::from)
}

/// The outcome of a request that got no status line.
pub fn classify_error(error: &reqwest::Error) -> WriteOutcome {
    WriteOutcome::Unknown {
        reason: describe_error(error),
    }
}

/// A short cause, without the URL (the report names the kind and key).
pub fn describe_error(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_request() {
        "request failed"
    } else if error.is_body() || error.is_decode() {
        "answer unreadable"
    } else {
        "transport error"
    };
    // The innermost cause says most (e.g. "Connection refused (os error 111)").
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    let cause = source.to_string();
    if cause.is_empty() || cause == error.to_string() {
        what.to_string()
    } else {
        format!("{what}: {cause}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_hundreds_are_acknowledged_with_the_row_id() {
        assert_eq!(
            classify_response(
                WriteKind::Checkout,
                201,
                br#"{"data":{"id":42,"stage":"PLACED"}}"#
            ),
            WriteOutcome::Ok { id: Some(42) }
        );
        assert_eq!(
            classify_response(WriteKind::Checkout, 200, br#"{"data":{"id":42}}"#),
            WriteOutcome::Ok { id: Some(42) }
        );
        assert_eq!(
            classify_response(
                WriteKind::Webhook,
                200,
                br#"{"order_id":9,"status":"skipped"}"#
            ),
            WriteOutcome::Ok { id: Some(9) }
        );
        assert_eq!(
            classify_response(
                WriteKind::CreditReserve,
                201,
                br#"{"reservation":{"id":5},"account":{"id":1}}"#
            ),
            WriteOutcome::Ok { id: Some(5) }
        );
        // Acknowledged even when the body is not what we expected.
        assert_eq!(
            classify_response(WriteKind::Checkout, 204, b""),
            WriteOutcome::Ok { id: None }
        );
    }

    #[test]
    fn four_hundreds_are_definite_refusals() {
        assert_eq!(
            classify_response(
                WriteKind::Checkout,
                409,
                br#"{"error":{"code":"INV001","message":"insufficient stock"}}"#
            ),
            WriteOutcome::Failed {
                status: 409,
                code: Some("INV001".into())
            }
        );
        assert_eq!(
            classify_response(WriteKind::CreditReserve, 429, b"slow down"),
            WriteOutcome::Failed {
                status: 429,
                code: None
            }
        );
    }

    #[test]
    fn five_hundreds_and_oddities_are_unknown() {
        assert_eq!(
            classify_response(
                WriteKind::Webhook,
                503,
                br#"{"error":{"code":"UNAVAILABLE","message":"db"}}"#
            ),
            WriteOutcome::Unknown {
                reason: "HTTP 503 UNAVAILABLE".into()
            }
        );
        assert_eq!(
            classify_response(WriteKind::Webhook, 502, b"<html>bad gateway</html>"),
            WriteOutcome::Unknown {
                reason: "HTTP 502".into()
            }
        );
        assert_eq!(
            classify_response(WriteKind::Checkout, 302, b""),
            WriteOutcome::Unknown {
                reason: "HTTP 302".into()
            }
        );
    }

    #[tokio::test]
    async fn transport_errors_are_unknown() {
        // A port nobody listens on: bind one, note it, close it.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let client = reqwest::Client::new();
        let err = client
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err();
        match classify_error(&err) {
            WriteOutcome::Unknown { reason } => {
                assert!(reason.starts_with("connection failed"), "{reason}")
            }
            other => panic!("{other:?}"),
        }

        // A server that accepts and never answers: a timeout.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let (_sock, _) = listener.accept().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        });
        let err = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(200))
            .build()
            .unwrap()
            .get(format!("http://{addr}/"))
            .send()
            .await
            .unwrap_err();
        match classify_error(&err) {
            WriteOutcome::Unknown { reason } => assert!(reason.starts_with("timeout"), "{reason}"),
            other => panic!("{other:?}"),
        }
        hold.abort();
    }
}
