//! API conformance with Toxiproxy 2.x: raw HTTP, exact JSON and statuses.

mod common;

use common::*;
use serde_json::{json, Value};

struct Api {
    base: String,
    http: reqwest::Client,
    _h: Harness,
}

impl Api {
    async fn start() -> Api {
        let h = Harness::start().await;
        Api {
            base: h.server.url(),
            http: reqwest::Client::new(),
            _h: h,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
        };
        (status, value)
    }
}

fn error(status: u16, message: &str) -> (u16, Value) {
    (status, json!({"error": message, "status": status}))
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn version_is_json() {
    let api = Api::start().await;
    let (status, body) = api.call("GET", "/version", None).await;
    assert_eq!(status, 200);
    assert!(
        body["version"].as_str().unwrap().starts_with("2."),
        "{body}"
    );
}

#[tokio::test]
async fn proxy_routes() {
    let api = Api::start().await;
    let echo = echo_server().await;
    let create =
        json!({"name": "pg", "listen": "127.0.0.1:0", "upstream": echo.to_string()}).to_string();

    let (status, proxy) = api.call("POST", "/proxies", Some(&create)).await;
    assert_eq!(status, 201);
    assert_eq!(
        keys(&proxy),
        ["enabled", "listen", "name", "toxics", "upstream"]
    );
    assert_eq!(proxy["name"], "pg");
    assert_eq!(proxy["enabled"], true);
    assert_eq!(proxy["toxics"], json!([]));
    assert_eq!(proxy["upstream"], echo.to_string());
    let listen = proxy["listen"].as_str().unwrap().to_string();
    assert!(
        listen.starts_with("127.0.0.1:") && !listen.ends_with(":0"),
        "bound address reported: {listen}"
    );

    assert_eq!(
        api.call("POST", "/proxies", Some(&create)).await,
        error(409, "proxy already exists")
    );
    assert_eq!(
        api.call("POST", "/proxies", Some(r#"{"upstream": "x:1"}"#))
            .await,
        error(400, "missing required field: name")
    );
    assert_eq!(
        api.call("POST", "/proxies", Some(r#"{"name": "x"}"#)).await,
        error(400, "missing required field: upstream")
    );
    let (status, bad) = api.call("POST", "/proxies", Some("{not json")).await;
    assert_eq!(status, 400);
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .starts_with("bad request body: "),
        "{bad}"
    );
    assert_eq!(bad["status"], 400);

    let (status, all) = api.call("GET", "/proxies", None).await;
    assert_eq!(status, 200);
    assert_eq!(all, json!({"pg": proxy}));
    assert_eq!(
        api.call("GET", "/proxies/pg", None).await,
        (200, proxy.clone())
    );
    assert_eq!(
        api.call("GET", "/proxies/nope", None).await,
        error(404, "proxy not found")
    );

    let (status, off) = api
        .call("POST", "/proxies/pg", Some(r#"{"enabled": false}"#))
        .await;
    assert_eq!((status, &off["enabled"]), (200, &json!(false)));
    assert_eq!(off["listen"], listen.as_str());
    let (status, on) = api
        .call("PATCH", "/proxies/pg", Some(r#"{"enabled": true}"#))
        .await;
    assert_eq!((status, &on["enabled"]), (200, &json!(true)));
    assert_eq!(
        api.call("POST", "/proxies/nope", Some(r#"{"enabled": true}"#))
            .await,
        error(404, "proxy not found")
    );

    assert_eq!(
        api.call("DELETE", "/proxies/pg", None).await,
        (204, Value::Null)
    );
    assert_eq!(
        api.call("DELETE", "/proxies/pg", None).await,
        error(404, "proxy not found")
    );
    assert_eq!(api.call("GET", "/proxies", None).await, (200, json!({})));
}

#[tokio::test]
async fn toxic_routes() {
    let api = Api::start().await;
    let create =
        json!({"name": "redis", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"}).to_string();
    assert_eq!(api.call("POST", "/proxies", Some(&create)).await.0, 201);

    // Defaults: downstream, toxicity 1, name {type}_{stream}, attributes 0.
    let (status, toxic) = api
        .call(
            "POST",
            "/proxies/redis/toxics",
            Some(r#"{"type": "latency", "attributes": {"latency": 100}}"#),
        )
        .await;
    assert_eq!(status, 200, "Toxiproxy answers a created toxic with 200");
    assert_eq!(
        toxic,
        json!({"attributes": {"latency": 100, "jitter": 0}, "name": "latency_downstream",
               "type": "latency", "stream": "downstream", "toxicity": 1.0})
    );
    assert_eq!(
        api.call(
            "POST",
            "/proxies/redis/toxics",
            Some(r#"{"type": "latency"}"#)
        )
        .await,
        error(409, "toxic already exists")
    );
    assert_eq!(
        api.call(
            "POST",
            "/proxies/redis/toxics",
            Some(r#"{"type": "bogus"}"#)
        )
        .await,
        error(400, "invalid toxic type")
    );
    assert_eq!(
        api.call(
            "POST",
            "/proxies/redis/toxics",
            Some(r#"{"type": "latency", "stream": "sideways"}"#)
        )
        .await,
        error(
            400,
            "stream was invalid, can be either upstream or downstream"
        )
    );
    let (status, bad) = api
        .call(
            "POST",
            "/proxies/redis/toxics",
            Some(r#"{"type": "timeout", "attributes": {"timeout": "soon"}}"#),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .starts_with("bad request body: "),
        "{bad}"
    );
    assert_eq!(
        api.call(
            "POST",
            "/proxies/nope/toxics",
            Some(r#"{"type": "latency"}"#)
        )
        .await,
        error(404, "proxy not found")
    );

    // Every type, upstream, with its full attribute set.
    let all = [
        json!({"type": "bandwidth", "attributes": {"rate": 10}}),
        json!({"type": "slow_close", "attributes": {"delay": 10}}),
        json!({"type": "timeout", "attributes": {"timeout": 10}}),
        json!({"type": "slicer", "attributes": {"average_size": 10, "size_variation": 2, "delay": 5}}),
        json!({"type": "limit_data", "attributes": {"bytes": 10}}),
        json!({"type": "reset_peer", "attributes": {"timeout": 10}}),
    ];
    for mut toxic in all {
        toxic["stream"] = json!("upstream");
        toxic["toxicity"] = json!(0.5);
        let (status, created) = api
            .call("POST", "/proxies/redis/toxics", Some(&toxic.to_string()))
            .await;
        assert_eq!(status, 200, "{created}");
        let name = format!("{}_upstream", toxic["type"].as_str().unwrap());
        toxic["name"] = json!(name);
        assert_eq!(created, toxic);
    }

    let (status, list) = api.call("GET", "/proxies/redis/toxics", None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "bandwidth_upstream",
            "slow_close_upstream",
            "timeout_upstream",
            "slicer_upstream",
            "limit_data_upstream",
            "reset_peer_upstream",
            "latency_downstream"
        ],
        "upstream toxics first, as Toxiproxy lists them"
    );
    assert_eq!(
        api.call("GET", "/proxies/redis", None).await.1["toxics"],
        list
    );

    assert_eq!(
        api.call("GET", "/proxies/redis/toxics/latency_downstream", None)
            .await,
        (200, toxic)
    );
    assert_eq!(
        api.call("GET", "/proxies/redis/toxics/nope", None).await,
        error(404, "toxic not found")
    );

    // Update: attributes merge, toxicity replaces, name/stream/type stay.
    let (status, updated) = api
        .call(
            "POST",
            "/proxies/redis/toxics/latency_downstream",
            Some(r#"{"attributes": {"jitter": 5}, "toxicity": 0.25, "stream": "upstream"}"#),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        updated,
        json!({"attributes": {"latency": 100, "jitter": 5}, "name": "latency_downstream",
               "type": "latency", "stream": "downstream", "toxicity": 0.25})
    );
    assert_eq!(
        api.call("PATCH", "/proxies/redis/toxics/nope", Some("{}"))
            .await,
        error(404, "toxic not found")
    );

    assert_eq!(
        api.call("DELETE", "/proxies/redis/toxics/latency_downstream", None)
            .await,
        (204, Value::Null)
    );
    assert_eq!(
        api.call("DELETE", "/proxies/redis/toxics/latency_downstream", None)
            .await,
        error(404, "toxic not found")
    );

    assert_eq!(api.call("POST", "/reset", None).await, (204, Value::Null));
    assert_eq!(
        api.call("GET", "/proxies/redis/toxics", None).await,
        (200, json!([]))
    );
}

#[tokio::test]
async fn populate_creates_replaces_and_keeps() {
    let api = Api::start().await;
    let body = json!([
        {"name": "a", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"},
        {"name": "b", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9", "enabled": false},
    ]);
    let (status, answer) = api.call("POST", "/populate", Some(&body.to_string())).await;
    assert_eq!(status, 201);
    assert_eq!(keys(&answer), ["proxies"]);
    let proxies = answer["proxies"].as_array().unwrap();
    assert_eq!(proxies.len(), 2);
    assert_eq!(proxies[1]["enabled"], false);
    let a_listen = proxies[0]["listen"].as_str().unwrap().to_string();

    // Same listen and upstream: left as it is, toxics included.
    api.call("POST", "/proxies/a/toxics", Some(r#"{"type": "latency"}"#))
        .await;
    let again = json!({"proxies": [{"name": "a", "listen": a_listen, "upstream": "127.0.0.1:9"}]});
    let (status, answer) = api
        .call("POST", "/populate", Some(&again.to_string()))
        .await;
    assert_eq!(status, 201);
    assert_eq!(answer["proxies"][0]["toxics"].as_array().unwrap().len(), 1);

    // A different upstream: replaced, toxics gone.
    let moved = json!([{"name": "a", "listen": a_listen, "upstream": "127.0.0.1:10"}]);
    let (status, answer) = api
        .call("POST", "/populate", Some(&moved.to_string()))
        .await;
    assert_eq!(status, 201);
    assert_eq!(answer["proxies"][0]["upstream"], "127.0.0.1:10");
    assert_eq!(answer["proxies"][0]["toxics"], json!([]));
    assert_eq!(answer["proxies"][0]["listen"], a_listen.as_str());

    let (status, answer) = api
        .call(
            "POST",
            "/populate",
            Some(r#"[{"name": "c", "listen": "127.0.0.1:0"}]"#),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        answer,
        json!({"error": "missing required field: upstream at proxy 1", "status": 400, "proxies": []})
    );
    assert_eq!(api.call("GET", "/proxies/c", None).await.0, 404);
}
