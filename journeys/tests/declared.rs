//! Declarative journeys against a small HTTP service started in the test:
//! captures, concurrent groups with exact counts, `eventually`, secrets
//! and matchers pass when the service keeps its contract, and each fails,
//! naming the symptom, when it does not.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use gauntlet_harness::config::{Config, Overrides};
use gauntlet_harness::sut::{Secrets, Sut};
use gauntlet_journeys::{Catalog, JourneyResult, RunConfig};

#[derive(Default)]
struct Shop {
    next: AtomicU32,
    names: Mutex<HashMap<String, u32>>,
    polls: Mutex<HashMap<u32, u32>>,
    /// Lets two copies of the same name through (the defect a concurrent
    /// group must catch).
    racy: bool,
}

async fn create(
    State(shop): State<Arc<Shop>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    if headers.get("x-token").and_then(|v| v.to_str().ok()) != Some("s3cret-token") {
        return (
            StatusCode::UNAUTHORIZED,
            HeaderMap::new(),
            Json(json!({"error": "token"})),
        );
    }
    let name = body["name"].as_str().unwrap_or_default().to_string();
    if name.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            HeaderMap::new(),
            Json(json!({"error": "name"})),
        );
    }
    let id = {
        let mut names = shop.names.lock().unwrap();
        let seen = names.get(&name).copied();
        match seen {
            Some(n) if !(shop.racy && n < 2) => {
                return (
                    StatusCode::CONFLICT,
                    HeaderMap::new(),
                    Json(json!({"error": "duplicate"})),
                )
            }
            _ => {
                names.insert(name.clone(), seen.unwrap_or(0) + 1);
                shop.next.fetch_add(1, Ordering::SeqCst) + 1
            }
        }
    };
    let mut h = HeaderMap::new();
    h.insert("location", format!("/items/{id}").parse().unwrap());
    (
        StatusCode::CREATED,
        h,
        Json(json!({"id": id, "name": name, "qty": body["qty"]})),
    )
}

async fn show(State(shop): State<Arc<Shop>>, UrlPath(id): UrlPath<u32>) -> Json<Value> {
    let mut polls = shop.polls.lock().unwrap();
    let n = polls.entry(id).or_insert(0);
    *n += 1;
    // Ready on the third look: `eventually` has to poll.
    let state = if *n >= 3 { "ready" } else { "pending" };
    Json(json!({"id": id, "state": state, "looks": *n}))
}

async fn serve(racy: bool) -> String {
    let shop = Arc::new(Shop {
        racy,
        ..Shop::default()
    });
    let app = Router::new()
        .route("/items", post(create))
        .route("/items/{id}", get(show))
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .with_state(shop);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

const PROJECT: &str = r#"
[system]
name = "shop"
[endpoints.shop]
service = "shop"
port = 80
[secrets.token]
variable = "SHOP_TOKEN"
[paths]
journeys = "journeys"
"#;

const ITEMS: &str = r#"
about = "an item is created once, shows up, and is ready soon"
endpoint = "shop"

[vars]
item = "{{fake.word}}-{{unique}}"

[[step]]
name = "create"
method = "POST"
path = "/items"
headers = { x-token = "{{secret.token}}" }
json = { name = "{{item}}", qty = 3 }
expect = { status = 201, json = { "/id" = { ge = 1 }, "/qty" = 3, "/name" = "{{item}}" }, headers = { location = { matches = "^/items/[0-9]+$" } } }
capture = { id = "/id", where = "header:location" }

[[step]]
name = "it becomes ready"
path = "{{where}}"
eventually = { within = "5s", every = "50ms" }
expect = { status = 200, json = { "/id" = "{{id}}", "/state" = "ready" } }

[[step]]
name = "ten at once: one wins"
method = "POST"
path = "/items"
headers = { x-token = "{{secret.token}}" }
json = { name = "{{unique}}-race" }
concurrent = 10
count = { 201 = 1, 409 = 9 }

[[step]]
name = "without the token"
method = "POST"
path = "/items"
json = { name = "x" }
expect = { status = 401 }
"#;

fn project(journeys: &[(&str, &str)]) -> (tempfile::TempDir, Config) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gauntlet.toml"), PROJECT).unwrap();
    std::fs::create_dir(dir.path().join("journeys")).unwrap();
    for (name, text) in journeys {
        std::fs::write(dir.path().join("journeys").join(name), text).unwrap();
    }
    let config = Config::load(
        Some(&dir.path().join("gauntlet.toml")),
        Overrides::default(),
    )
    .unwrap();
    (dir, config)
}

async fn run(config: Config, url: String) -> gauntlet_journeys::RunReport {
    let catalog = Catalog::load(&config).unwrap();
    let selected = catalog.select(&[]).unwrap();
    let mut secrets = Secrets::default();
    secrets.insert("token", "s3cret-token");
    let sut = Sut::assemble(
        Arc::new(config),
        BTreeMap::from([("shop".to_string(), url)]),
        secrets,
        42,
    );
    let run = RunConfig {
        run_id: sut.run_id.clone(),
        seed: 42,
        sut,
        budget: Duration::from_secs(30),
        retries: 0,
    };
    gauntlet_journeys::run(&selected, &run, &|_| {}).await
}

#[tokio::test]
async fn a_journey_file_passes_against_a_service_that_keeps_its_contract() {
    let (_dir, config) = project(&[("items.toml", ITEMS)]);
    let report = run(config, serve(false).await).await;
    let j = &report.journeys[0];
    assert_eq!(j.name, "items");
    assert_eq!(j.result, JourneyResult::Passed, "{:#?}", j.steps);
    assert_eq!(j.steps.len(), 4);
    // Polled until ready: more than one request in that step.
    assert!(
        j.steps[1].exchanges.len() >= 3,
        "{:?}",
        j.steps[1].exchanges
    );
    assert_eq!(j.steps[2].exchanges.len(), 10);
    // The secret never reaches the report.
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains("s3cret-token"));
}

#[tokio::test]
async fn a_concurrent_group_catches_a_race_that_lets_two_copies_through() {
    let (_dir, config) = project(&[("items.toml", ITEMS)]);
    let report = run(config, serve(true).await).await;
    let j = &report.journeys[0];
    assert_eq!(j.result, JourneyResult::Failed);
    let step = j.failed_step().unwrap();
    assert_eq!(step.name, "ten at once: one wins");
    let failure = step.failure.as_deref().unwrap();
    assert!(
        failure.contains("expected 201 × 1, 409 × 9; got 201 × 2, 409 × 8"),
        "{failure}"
    );
}

#[tokio::test]
async fn assertions_and_eventually_name_what_they_saw() {
    let never_ready = ITEMS.replace("\"/state\" = \"ready\"", "\"/state\" = \"shipped\"");
    let (_dir, config) = project(&[("items.toml", &never_ready)]);
    let report = run(config, serve(false).await).await;
    let failure = report.journeys[0]
        .failed_step()
        .unwrap()
        .failure
        .clone()
        .unwrap();
    assert!(failure.starts_with("did not hold within 5s"), "{failure}");
    assert!(
        failure.contains("json /state: expected \"shipped\", got \"ready\""),
        "{failure}"
    );

    let wrong_status = ITEMS.replace("expect = { status = 401 }", "expect = { status = 403 }");
    let (_dir, config) = project(&[("items.toml", &wrong_status)]);
    let report = run(config, serve(false).await).await;
    let failure = report.journeys[0]
        .failed_step()
        .unwrap()
        .failure
        .clone()
        .unwrap();
    assert!(
        failure.starts_with("shop POST /items: status: expected 403, got 401"),
        "{failure}"
    );
}

fn load_error(text: &str) -> String {
    let (_dir, config) = project(&[("broken.toml", text)]);
    Catalog::load(&config).unwrap_err().to_string()
}

fn ends_with_place(error: &str, line: usize, col: usize) {
    let place = format!("broken.toml:{line}:{col}: ");
    assert!(error.contains(&place), "expected {place} in: {error}");
}

#[test]
fn an_unknown_variable_is_a_load_error_at_its_place() {
    let e = load_error("[[step]]\npath = \"/items/{{id}}\"\n");
    ends_with_place(&e, 2, 16);
    assert!(e.contains("unknown variable `id`"), "{e}");
    // Inside a JSON body, and a capture used before it is made.
    let e = load_error(
        "[[step]]\nmethod = \"POST\"\npath = \"/a\"\njson = { a = { b = \"x{{later}}\" } }\n\n[[step]]\npath = \"/b\"\ncapture = { later = \"/x\" }\n",
    );
    ends_with_place(&e, 4, 22);
    // An undeclared secret names the declared ones.
    let e = load_error("[[step]]\npath = \"/\"\nheaders = { t = \"{{secret.nope}}\" }\n");
    assert!(
        e.contains("unknown secret `nope`; [secrets] of gauntlet.toml declares: token"),
        "{e}"
    );
}

#[test]
fn broken_files_are_errors_that_name_the_place() {
    let cases: [(&str, usize, &str); 7] = [
        (
            "[[step]]\npath = \"/\"\nmethd = \"GET\"\n",
            3,
            "unknown field `methd`",
        ),
        (
            "[[step]]\npath = \"/\"\nmethod = \"FETCH\"\n",
            3,
            "not an HTTP method",
        ),
        (
            "[[step]]\npath = \"/\"\nendpoint = \"api\"\n",
            3,
            "unknown endpoint `api`",
        ),
        (
            "[[step]]\npath = \"/\"\nexpect = { status = { above = 2 } }\n",
            3,
            "unknown matcher `above`",
        ),
        (
            "[[step]]\npath = \"/\"\nconcurrent = 3\ncount = { 201 = 1 }\n",
            4,
            "add up to 1, but 3",
        ),
        (
            "[[step]]\npath = \"/\"\neventually = { within = \"soon\" }\n",
            3,
            "not a duration",
        ),
        ("[[step]]\nname = \"nothing to do\"\n", 1, "needs a `path`"),
    ];
    for (text, line, message) in cases {
        let e = load_error(text);
        assert!(
            e.contains(&format!("broken.toml:{line}:")),
            "{text}\n=> {e}"
        );
        assert!(e.contains(message), "{text}\n=> {e}");
    }
}

#[test]
fn a_journey_file_may_not_take_a_taken_name() {
    let (dir, config) = project(&[("a.toml", "[[step]]\npath = \"/\"\n")]);
    let mut config = config;
    config.journeys.builtin = true;
    std::fs::write(
        dir.path().join("journeys/shopper.toml"),
        "[[step]]\npath = \"/\"\n",
    )
    .unwrap();
    let e = Catalog::load(&config).unwrap_err().to_string();
    assert!(
        e.contains("a journey named `shopper` already exists (built in)"),
        "{e}"
    );
    assert!(Path::new(&dir.path().join("journeys/a.toml")).exists());
}
