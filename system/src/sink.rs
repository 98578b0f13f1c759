//! The `sink` process: a stand-in for Slack / e-mail providers. It records
//! every delivery durably (see [`crate::sink_store`]), dedupes by
//! `event_id`, counts duplicates, and can be told to fail.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::{Config, Secret};
use crate::http::{self, check_admin, AppError, JsonBody};
use crate::identity::{meta_router, Identity, VERSION};
use crate::sink_store::{SinkStore, Snapshot};
use crate::telemetry::{self, metrics_router, MetricsEndpoint};

const MAX_EVENT_ID_CHARS: usize = 200;
const INJECTED_FAILURES: &str = "sink_injected_failures_total";

/// How `/deliver` behaves; set with `POST /admin/fail`. In memory only: a
/// restarted sink delivers normally again.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum FailMode {
    None,
    Always,
    Ratio { ratio: f64 },
}

/// The body of `POST /admin/fail`: `{"mode": "none"|"always"|"ratio", "ratio"}`;
/// `ratio` is required for `ratio` and ignored otherwise.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailRequest {
    mode: ModeName,
    #[serde(default)]
    ratio: Option<f64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ModeName {
    None,
    Always,
    Ratio,
}

impl TryFrom<FailRequest> for FailMode {
    type Error = AppError;

    fn try_from(req: FailRequest) -> Result<Self, AppError> {
        match (req.mode, req.ratio) {
            (ModeName::None, _) => Ok(FailMode::None),
            (ModeName::Always, _) => Ok(FailMode::Always),
            (ModeName::Ratio, Some(ratio)) if (0.0..=1.0).contains(&ratio) => {
                Ok(FailMode::Ratio { ratio })
            }
            (ModeName::Ratio, _) => Err(AppError::invalid(
                "ratio",
                "required for mode ratio: a number from 0.0 to 1.0",
            )),
        }
    }
}

impl std::fmt::Display for FailMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailMode::None => f.write_str("none"),
            FailMode::Always => f.write_str("always"),
            FailMode::Ratio { ratio } => write!(f, "ratio {ratio}"),
        }
    }
}

impl FailMode {
    /// `draw` is uniform in [0, 1).
    fn fails(self, draw: f64) -> bool {
        match self {
            FailMode::None => false,
            FailMode::Always => true,
            FailMode::Ratio { ratio } => draw < ratio,
        }
    }
}

#[derive(Clone)]
struct SinkState {
    store: Arc<Mutex<SinkStore>>,
    fail: Arc<Mutex<FailMode>>,
    admin_token: Option<Secret>,
}

pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let identity = Arc::new(Identity::new("sink"));
    let listener = http::bind("sink", "SINK_ADDR", cfg.sink_addr).await?;
    let metrics = telemetry::install_metrics()?;
    let dir = cfg.sink_data_dir.clone();
    let store = tokio::task::spawn_blocking(move || SinkStore::open(&dir))
        .await?
        .map_err(|e| {
            anyhow::anyhow!(
                "sink: cannot open {}: {e}; set SINK_DATA_DIR to a writable directory",
                cfg.sink_data_dir.display()
            )
        })?;
    tracing::info!(instance_id = %identity.instance_id, data_dir = %cfg.sink_data_dir.display(), "starting sink");
    let app = routes(store, cfg.admin_token.clone())
        .merge(meta_router(identity))
        .merge(metrics_router(MetricsEndpoint {
            handle: metrics,
            pools: Vec::new(),
        }));
    http::serve("sink", listener, http::with_common_layers(app)).await
}

/// The sink's own routes and JSON fallbacks, without layers, `/v1/meta` and
/// `/metrics` (those need process-wide state).
pub fn routes(store: SinkStore, admin_token: Option<Secret>) -> Router {
    let state = SinkState {
        store: Arc::new(Mutex::new(store)),
        fail: Arc::new(Mutex::new(FailMode::None)),
        admin_token,
    };
    router(state)
        .fallback(http::not_found_json)
        .method_not_allowed_fallback(http::method_not_allowed_json)
}

fn router(state: SinkState) -> Router {
    Router::new()
        .route("/deliver", post(deliver))
        .route("/deliveries", get(deliveries))
        .route("/admin/fail", post(set_fail_mode))
        .route(
            "/health",
            get(|| async { Json(json!({"ok": true, "version": VERSION})) }),
        )
        .with_state(state)
}

/// The event id: a non-empty string (or an integer, kept as its digits).
fn event_id_of(payload: &Value) -> Result<String, AppError> {
    let id = match payload.get("event_id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
        _ => {
            return Err(AppError::invalid(
                "event_id",
                "required: a non-empty string or an integer",
            ))
        }
    };
    if id.is_empty() || id.chars().count() > MAX_EVENT_ID_CHARS {
        return Err(AppError::invalid(
            "event_id",
            format!("must be 1 to {MAX_EVENT_ID_CHARS} characters"),
        ));
    }
    Ok(id)
}

async fn deliver(
    State(state): State<SinkState>,
    JsonBody(payload): JsonBody<Value>,
) -> Result<Json<Value>, AppError> {
    if !payload.is_object() {
        return Err(AppError::invalid("body", "must be a JSON object"));
    }
    let event_id = event_id_of(&payload)?;
    let mode = *state.fail.lock().expect("fail mode lock");
    if mode.fails(rand::random::<f64>()) {
        metrics::counter!(INJECTED_FAILURES).increment(1);
        tracing::info!(event_id, mode = %mode, "delivery failed on purpose");
        return Err(AppError::Unavailable(format!(
            "delivery refused on purpose (sink fail mode: {mode})"
        )));
    }
    let store = state.store.clone();
    let id = event_id.clone();
    let recorded = tokio::task::spawn_blocking(move || {
        store
            .lock()
            .expect("sink store lock")
            .record(id, payload, chrono::Utc::now())
    })
    .await
    .map_err(|e| AppError::Internal(format!("sink write task failed: {e}")))?
    .map_err(|e| AppError::Internal(format!("sink write failed: {e}")))?;
    tracing::info!(
        event_id,
        duplicate = recorded.duplicate,
        count = recorded.count,
        "delivery recorded"
    );
    Ok(Json(json!({
        "event_id": event_id,
        "duplicate": recorded.duplicate,
        "count": recorded.count,
    })))
}

async fn deliveries(State(state): State<SinkState>) -> Result<Json<Snapshot>, AppError> {
    let store = state.store.clone();
    let snapshot =
        tokio::task::spawn_blocking(move || store.lock().expect("sink store lock").snapshot())
            .await
            .map_err(|e| AppError::Internal(format!("sink read task failed: {e}")))?;
    Ok(Json(snapshot))
}

async fn set_fail_mode(
    State(state): State<SinkState>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<FailRequest>,
) -> Result<(StatusCode, Json<FailMode>), AppError> {
    check_admin(state.admin_token.as_ref(), &headers)?;
    let mode = FailMode::try_from(request)?;
    *state.fail.lock().expect("fail mode lock") = mode;
    tracing::info!(mode = %mode, "sink fail mode set");
    Ok((StatusCode::OK, Json(mode)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_modes_parse_and_validate() {
        let parse = |v: Value| -> Result<FailMode, String> {
            let req: FailRequest = serde_json::from_value(v).map_err(|e| e.to_string())?;
            FailMode::try_from(req).map_err(|e| e.to_string())
        };
        assert_eq!(parse(json!({"mode": "none"})), Ok(FailMode::None));
        assert_eq!(
            parse(json!({"mode": "none", "ratio": 0.0})),
            Ok(FailMode::None)
        );
        assert_eq!(parse(json!({"mode": "always"})), Ok(FailMode::Always));
        let half = parse(json!({"mode": "ratio", "ratio": 0.5}));
        assert_eq!(half, Ok(FailMode::Ratio { ratio: 0.5 }));
        assert!(parse(json!({"mode": "ratio"})).is_err());
        assert!(parse(json!({"mode": "ratio", "ratio": 1.5})).is_err());
        assert!(parse(json!({"mode": "ratio", "ratio": -0.1})).is_err());
        assert!(parse(json!({"mode": "sometimes"})).is_err());
        assert!(parse(json!({"mode": "none", "extra": 1})).is_err());
        let shown = serde_json::to_value(FailMode::Ratio { ratio: 0.25 }).unwrap();
        assert_eq!(shown, json!({"mode": "ratio", "ratio": 0.25}));
    }

    #[test]
    fn fail_decision_follows_the_mode() {
        assert!(!FailMode::None.fails(0.0));
        assert!(FailMode::Always.fails(0.99));
        assert!(FailMode::Ratio { ratio: 0.3 }.fails(0.29));
        assert!(!FailMode::Ratio { ratio: 0.3 }.fails(0.3));
        assert!(!FailMode::Ratio { ratio: 0.0 }.fails(0.0));
    }

    #[test]
    fn event_id_must_be_present_and_sane() {
        assert_eq!(event_id_of(&json!({"event_id": "abc"})).unwrap(), "abc");
        assert_eq!(event_id_of(&json!({"event_id": 42})).unwrap(), "42");
        assert!(event_id_of(&json!({"event_id": ""})).is_err());
        assert!(event_id_of(&json!({"event_id": 1.5})).is_err());
        assert!(event_id_of(&json!({"other": 1})).is_err());
        assert!(event_id_of(&json!({"event_id": "x".repeat(201)})).is_err());
    }
}
