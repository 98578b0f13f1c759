//! POSTs a JSON document to the sink (`SINK_URL`): the one way the worker
//! talks to downstream systems. Any 2xx is success; anything else, a
//! timeout or a connection error is a failure described in one line.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;

/// Bound on one delivery, connecting included.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest piece of a refusal's body kept in the error text.
const MAX_BODY_CHARS: usize = 200;

pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .connect_timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(16)
        .build()?)
}

/// Sends `body` (a serialized JSON document). `Err` holds a short reason
/// (status and the start of the answer, or the transport error).
pub async fn post_json(
    client: &reqwest::Client,
    url: &reqwest::Url,
    body: String,
) -> Result<(), String> {
    let response = client
        .post(url.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("sink unreachable: {}", without_url(&e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    let text: String = text.chars().take(MAX_BODY_CHARS).collect();
    Err(format!(
        "sink answered {}: {}",
        status.as_u16(),
        text.trim()
    ))
}

/// The error without the URL (which could carry credentials).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    match std::error::Error::source(e) {
        Some(source) => format!("{kind}: {source}"),
        None => kind.to_owned(),
    }
}
