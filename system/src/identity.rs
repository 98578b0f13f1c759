//! Process identity, served at `GET /v1/meta` by every HTTP process.
//!
//! The harness refuses to send traffic to a target whose identity does not
//! match, so `app` is a fixed string and `instance_id` changes on every start
//! (a restart is visible from outside).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use uuid::Uuid;

pub const APP_NAME: &str = "gauntlet-reference-system";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    pub app: &'static str,
    pub service: &'static str,
    pub version: &'static str,
    pub instance_id: Uuid,
    pub started_at: String,
}

impl Identity {
    /// A fresh identity for `service`, started now.
    pub fn new(service: &'static str) -> Self {
        Self::at(service, Utc::now())
    }

    fn at(service: &'static str, started: DateTime<Utc>) -> Self {
        Identity {
            app: APP_NAME,
            service,
            version: VERSION,
            instance_id: Uuid::new_v4(),
            started_at: started.to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }
}

/// `GET /v1/meta`, with its own state, to merge into a process's router.
pub fn meta_router(identity: Arc<Identity>) -> Router {
    Router::new()
        .route("/v1/meta", get(meta))
        .with_state(identity)
}

async fn meta(State(identity): State<Arc<Identity>>) -> Json<Arc<Identity>> {
    Json(identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_serialises_with_the_spec_fields() {
        let started = DateTime::parse_from_rfc3339("2025-01-02T03:04:05Z").unwrap();
        let id = Identity::at("api", started.with_timezone(&Utc));
        let json = serde_json::to_value(&id).unwrap();
        assert_eq!(json["app"], "gauntlet-reference-system");
        assert_eq!(json["service"], "api");
        assert_eq!(json["started_at"], "2025-01-02T03:04:05.000Z");
        assert!(json["instance_id"].as_str().unwrap().len() == 36);
        assert_ne!(Identity::new("api").instance_id, id.instance_id);
    }
}
