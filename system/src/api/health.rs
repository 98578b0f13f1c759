//! `GET /api/health` (liveness) and `GET /api/healthz` (deep health).

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use serde_json::json;

use super::ApiState;
use crate::defects::Defect;
use crate::identity::VERSION;
use crate::telemetry::DB_ERRORS;

/// Hard limit for each dependency check.
const CHECK_TIMEOUT: Duration = Duration::from_millis(1500);

pub async fn liveness() -> impl IntoResponse {
    Json(json!({"ok": true, "version": VERSION}))
}

#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub db: &'static str,
    pub redis: &'static str,
    pub version: &'static str,
    pub git_sha: String,
}

impl Health {
    fn new(db_ok: bool, redis_ok: bool, git_sha: &str) -> Self {
        let word = |ok| if ok { "ok" } else { "down" };
        Health {
            status: if db_ok && redis_ok { "ok" } else { "degraded" },
            db: word(db_ok),
            redis: word(redis_ok),
            version: VERSION,
            git_sha: git_sha.to_owned(),
        }
    }

    fn status_code(&self) -> StatusCode {
        if self.status == "ok" {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// 200 only when Postgres (migrated, fixtures loaded) and Redis both answer
/// within [`CHECK_TIMEOUT`]; otherwise 503 naming what is down.
pub async fn deep(State(state): State<ApiState>) -> impl IntoResponse {
    let (db_ok, redis_ok) = tokio::join!(check_db(&state), async {
        match state.redis.ping().await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "health: redis check failed");
                false
            }
        }
    });
    let health = Health::new(db_ok, redis_ok, &state.git_sha);
    (health.status_code(), Json(health))
}

async fn check_db(state: &ApiState) -> bool {
    if state.defects.is_on(Defect::HealthIgnoresDb) {
        return true;
    }
    if !state.ready.load(Ordering::Acquire) {
        tracing::warn!("health: database not migrated / fixtures not loaded yet");
        return false;
    }
    let result =
        tokio::time::timeout(CHECK_TIMEOUT, sqlx::query("SELECT 1").execute(&state.db)).await;
    match result {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            metrics::counter!(DB_ERRORS).increment(1);
            tracing::warn!(error = %e, "health: postgres check failed");
            false
        }
        Err(_) => {
            metrics::counter!(DB_ERRORS).increment(1);
            tracing::warn!(
                timeout_ms = CHECK_TIMEOUT.as_millis() as u64,
                "health: postgres check timed out"
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_only_when_both_are_up() {
        let h = Health::new(true, true, "abc");
        assert_eq!((h.status, h.status_code()), ("ok", StatusCode::OK));
        let h = Health::new(false, true, "abc");
        assert_eq!((h.status, h.db, h.redis), ("degraded", "down", "ok"));
        assert_eq!(h.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        let h = Health::new(true, false, "abc");
        assert_eq!(
            (h.db, h.redis, h.status_code().as_u16()),
            ("ok", "down", 503)
        );
    }
}
