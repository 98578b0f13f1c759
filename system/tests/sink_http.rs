//! The sink through its HTTP surface (no network: requests go straight into
//! the router): dedupe, fail modes, admin token, error shapes, request ids,
//! and persistence across a "restart" (a new router on the same directory).

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use axum::Router;
use gauntlet_system::config::Secret;
use gauntlet_system::http::with_common_layers;
use gauntlet_system::sink::routes;
use gauntlet_system::sink_store::SinkStore;
use serde_json::{json, Value};
use tower::ServiceExt;

const TOKEN: &str = "test-admin-token";

fn sink(dir: &std::path::Path) -> Router {
    let store = SinkStore::open(dir).unwrap();
    with_common_layers(routes(store, Some(Secret::new(TOKEN))))
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let id = res
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = to_bytes(res.into_body(), 4 << 20).await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, id, body)
}

fn post(path: &str, body: Value) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn admin_fail(mode: Value) -> Request<Body> {
    let mut req = post("/admin/fail", mode);
    req.headers_mut()
        .insert("x-admin-token", TOKEN.parse().unwrap());
    req
}

#[tokio::test]
async fn dedupes_counts_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = sink(dir.path());
    for id in ["a", "b", "a", "a"] {
        let (status, _, _) = call(&app, post("/deliver", json!({"event_id": id, "x": 1}))).await;
        assert_eq!(status, StatusCode::OK);
    }
    let get = || Request::get("/deliveries").body(Body::empty()).unwrap();
    let (_, _, before) = call(&app, get()).await;
    assert_eq!(
        (before["unique"].as_u64(), before["duplicates"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(before["deliveries"][0]["count"], 3);

    let restarted = sink(dir.path());
    let (_, _, after) = call(&restarted, get()).await;
    assert_eq!(after, before);
}

#[tokio::test]
async fn fail_mode_needs_the_admin_token_and_refuses_without_recording() {
    let dir = tempfile::tempdir().unwrap();
    let app = sink(dir.path());
    let (status, _, body) = call(&app, post("/admin/fail", json!({"mode": "always"}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "AUTH001");

    let (status, _, _) = call(&app, admin_fail(json!({"mode": "always"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = call(&app, post("/deliver", json!({"event_id": "x"}))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "UNAVAILABLE");

    call(&app, admin_fail(json!({"mode": "none"}))).await;
    let (_, _, body) = call(&app, post("/deliver", json!({"event_id": "x"}))).await;
    assert_eq!(
        body["duplicate"], false,
        "the refused delivery was not recorded"
    );
}

#[tokio::test]
async fn no_admin_token_configured_means_always_401() {
    let dir = tempfile::tempdir().unwrap();
    let app = with_common_layers(routes(SinkStore::open(dir.path()).unwrap(), None));
    let (status, _, _) = call(&app, admin_fail(json!({"mode": "none"}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn errors_use_the_json_shape_and_every_response_has_a_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let app = sink(dir.path());

    let (status, id, body) = call(&app, Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
    );
    assert_eq!(id.unwrap().len(), 36);

    let req = Request::post("/deliver")
        .header("content-type", "application/json")
        .header("x-request-id", "client-id-7")
        .body(Body::from("{not json"))
        .unwrap();
    let (status, id, body) = call(&app, req).await;
    assert_eq!(
        (status, id.as_deref()),
        (StatusCode::BAD_REQUEST, Some("client-id-7"))
    );
    assert_eq!(body["error"]["code"], "BAD_REQUEST");

    let big = json!({"event_id": "big", "pad": "x".repeat(1024 * 1024)});
    let (status, _, body) = call(&app, post("/deliver", big)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("PAYLOAD_TOO_LARGE"))
    );

    let (status, _, body) = call(
        &app,
        post("/admin/fail", json!({"mode": "none", "bogus": 1})),
    )
    .await;
    assert!(status.is_client_error(), "{status} {body}");

    let req = Request::get("/deliver").body(Body::empty()).unwrap();
    let (status, _, body) = call(&app, req).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("METHOD_NOT_ALLOWED"))
    );
}
