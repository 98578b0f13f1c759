//! A profile of the profile's own transactions (request templates) run
//! against an in-process HTTP server (127.0.0.1:0; no Docker): counts per
//! transaction name, `expect` deciding what is an error, no per-user setup
//! of the built-in transactions, SLOs per template transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use gauntlet_harness::config::Config;
use gauntlet_harness::sut::{Secrets, Sut};
use gauntlet_scenarios::{evaluate, run, LoadError, LoadPlan, Profile, SloFile};
use serde_json::{json, Value};

#[derive(Default)]
struct Seen {
    /// Requests per route (`other`: anything unrouted).
    hits: Mutex<BTreeMap<&'static str, u64>>,
    /// `id` and `user` of every accepted event.
    events: Mutex<Vec<(String, String, String)>>,
    unauthorised: AtomicU64,
}

impl Seen {
    fn hit(&self, route: &'static str) {
        *self.hits.lock().unwrap().entry(route).or_default() += 1;
    }
    fn hits(&self, route: &str) -> u64 {
        self.hits.lock().unwrap().get(route).copied().unwrap_or(0)
    }
}

/// `POST /events` (needs `x-token: s3cret`; 202 `{"accepted": true}`),
/// `GET /stats` (200), `GET /boom` (500), `POST /items` (200, where the
/// profile expects 201); anything else 404.
async fn server() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    let events = move |headers: HeaderMap, Json(body): Json<Value>| {
        let s = s.clone();
        async move {
            s.hit("events");
            if headers.get("x-token").and_then(|v| v.to_str().ok()) != Some("s3cret") {
                s.unauthorised.fetch_add(1, Ordering::Relaxed);
                return (StatusCode::UNAUTHORIZED, Json(json!({"accepted": false})));
            }
            let text = |k: &str| body[k].as_str().unwrap_or_default().to_string();
            s.events
                .lock()
                .unwrap()
                .push((text("id"), body["user"].to_string(), text("by")));
            (StatusCode::ACCEPTED, Json(json!({"accepted": true})))
        }
    };
    let (a, b, c, d) = (seen.clone(), seen.clone(), seen.clone(), seen.clone());
    let app = Router::new()
        .route("/events", post(events))
        .route(
            "/stats",
            get(move || async move {
                a.hit("stats");
                Json(json!({"ok": true}))
            }),
        )
        .route(
            "/boom",
            get(move || async move {
                b.hit("boom");
                (StatusCode::INTERNAL_SERVER_ERROR, "boom")
            }),
        )
        .route(
            "/items",
            post(move || async move {
                c.hit("items");
                Json(json!({"id": 1}))
            }),
        )
        .fallback(move || async move {
            d.hit("other");
            StatusCode::NOT_FOUND
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, seen)
}

/// A project with endpoints `api` (the primary), `ingest` and `dead`, and
/// a secret `token`.
fn project(dir: &std::path::Path) -> Config {
    let path = dir.join("gauntlet.toml");
    std::fs::write(
        &path,
        "[endpoints.api]\nservice = \"app\"\nport = 8080\n\
         [endpoints.ingest]\nservice = \"ingest\"\nport = 9000\n\
         [endpoints.dead]\nservice = \"dead\"\nport = 9001\n\
         [secrets.token]\nvariable = \"GT_TEMPLATES_TEST_TOKEN\"\n",
    )
    .unwrap();
    Config::load(Some(&path), Default::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// `api` and `ingest` on the server; `dead` on a port nobody listens on.
fn sut(config: Config, url: &str, token: Option<&str>) -> Sut {
    let mut secrets = Secrets::default();
    if let Some(t) = token {
        secrets.insert("token", t);
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    Sut::assemble(
        Arc::new(config),
        BTreeMap::from([
            ("api".to_string(), url.to_string()),
            ("ingest".to_string(), url.to_string()),
            ("dead".to_string(), dead),
        ]),
        secrets,
        7,
    )
}

const USERS: u64 = 4;

const PROFILE: &str = r#"
users = 4
duration = "3s"
think_time = { min = "5ms", max = "15ms" }

[mix]
publish = 2
stats = 1
boom = 1
created = 1
gone = 1

[transactions.publish]
method = "POST"
endpoint = "ingest"
path = "/events"
headers = { x-token = "{{secret.token}}" }
json = { id = "{{unique}}", user = "{{index}}", by = "{{fake.name}}" }
expect = { status = 202, json = { "/accepted" = true } }

[transactions.stats]
path = "/stats"

[transactions.boom]
path = "/boom"

[transactions.created]
method = "POST"
path = "/items"
json = { name = "{{fake.word}}" }
expect = { status = 201 }

[transactions.gone]
endpoint = "dead"
path = "/gone"
"#;

/// Recorded requests are those whose answer was read: at most one per
/// user may be in flight when the users are stopped.
fn assert_count(name: &str, recorded: u64, served: u64) {
    assert!(recorded > 0, "{name}: nothing recorded");
    assert!(
        recorded <= served && recorded + USERS >= served,
        "{name}: recorded {recorded}, the server answered {served}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_transactions_load_a_foreign_api() {
    let (url, seen) = server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = project(dir.path());
    let profile = Profile::parse_with_config(PROFILE, "events.toml", "events", &config)
        .unwrap_or_else(|e| panic!("{e}"));
    let slos = SloFile::parse(
        "[global]\np99 = \"5s\"\n\
         [transaction.publish]\np95 = \"2s\"\nerror_rate = \"1%\"\n\
         [transaction.boom]\nerror_rate = \"1%\"\n",
        "slo.toml",
    )
    .unwrap()
    .for_run(&profile)
    .unwrap_or_else(|e| panic!("{e}"));

    // A secret the system under test has no value for: refused before any load.
    let e = run(
        &LoadPlan::new(profile.clone()),
        &sut(config.clone(), &url, None),
        dir.path(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, LoadError::Template { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("transaction `publish` (events.toml:")
            && e.to_string().contains("the secret `token` has no value"),
        "{e}"
    );
    assert_eq!(seen.hits("events"), 0);

    let out = dir.path().join("out");
    // Goose's own reports kept, to check they agree with load.json.
    let plan = LoadPlan::new(profile)
        .with_slo(slos.clone())
        .with_seed(11)
        .with_goose_reports(true);
    let report = run(&plan, &sut(config, &url, Some("s3cret")), &out)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{}", report.transaction_table());
    eprintln!("{:?}", report.error_examples);

    // Only the profile's own transactions: no account, login or catalog.
    assert_eq!(
        report
            .transactions
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["boom", "created", "gone", "publish", "stats"]
    );
    assert_eq!(seen.hits("other"), 0, "no request outside the templates");
    assert_eq!(
        seen.unauthorised.load(Ordering::Relaxed),
        0,
        "the secret was sent"
    );

    let t = |name: &str| &report.transactions[name].run;
    assert_count("publish", t("publish").count, seen.hits("events"));
    assert_count("stats", t("stats").count, seen.hits("stats"));
    assert_count("boom", t("boom").count, seen.hits("boom"));
    assert_count("created", t("created").count, seen.hits("items"));
    // `expect` passed: ok. No `expect`: a 200 is ok, a 500 an error.
    assert_eq!(t("publish").errors_total, 0, "{:?}", t("publish").errors);
    assert_eq!(t("publish").ok, t("publish").count);
    assert_eq!(t("stats").errors_total, 0);
    assert_eq!(
        t("boom").errors,
        BTreeMap::from([("500".to_string(), t("boom").count)])
    );
    // A 200 where `expect` wants 201 is an error.
    assert_eq!(
        t("created").errors,
        BTreeMap::from([("200, expected status = 201".to_string(), t("created").count)])
    );
    assert_eq!(t("created").ok, 0);
    // No answer at all: an error, named by what the OS said, and classed.
    assert!(t("gone").count > 0);
    assert_eq!(
        t("gone").errors,
        BTreeMap::from([("transport: connect refused".to_string(), t("gone").count)])
    );
    assert_eq!(
        t("gone").error_classes,
        BTreeMap::from([("connect refused".to_string(), t("gone").count)])
    );
    assert_eq!(
        t("boom").error_classes,
        BTreeMap::from([("http 5xx".to_string(), t("boom").count)])
    );
    assert!(
        report.error_examples["gone"].starts_with("dead GET /gone: no answer: "),
        "{:?}",
        report.error_examples
    );
    assert!(report.all.run.refusals_total == 0);
    let total: u64 = report.transactions.values().map(|b| b.run.count).sum();
    assert_eq!(report.all.run.count, total);
    assert_eq!(
        report.all.run.errors_total,
        t("boom").count + t("created").count + t("gone").count
    );
    let example = &report.error_examples["created"];
    assert!(
        example.starts_with("api POST /items: status: expected 201, got 200"),
        "{example}"
    );
    assert!(report.error_examples["boom"].contains("answered 500"));
    assert!(!report.error_examples.contains_key("publish"));
    // Goose's own reports agree: the 201 mismatches are failures there too.
    let goose = report.goose.as_ref().expect("goose reports were asked for");
    assert!(
        goose.failures >= t("boom").count + t("created").count,
        "{goose:?}"
    );

    // `{{unique}}` never repeats; `{{index}}` is the user's number;
    // `{{fake.name}}` is drawn per request.
    let events = seen.events.lock().unwrap().clone();
    let ids: BTreeSet<&str> = events.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "a repeated {{unique}}");
    let users: BTreeSet<&str> = events.iter().map(|(_, u, _)| u.as_str()).collect();
    assert!(
        users.iter().all(|u| ["0", "1", "2", "3"].contains(u)) && users.len() > 1,
        "{users:?}"
    );
    assert!(events.iter().all(|(_, _, by)| !by.is_empty()));
    let names: BTreeSet<&str> = events.iter().map(|(_, _, by)| by.as_str()).collect();
    assert!(names.len() > 1, "{names:?}");

    // SLOs per template transaction.
    let verdicts = evaluate(&report, &slos);
    let verdict = |slo: &str| {
        verdicts
            .iter()
            .find(|v| v.slo == slo && v.phase.is_none())
            .unwrap_or_else(|| panic!("no verdict {slo}: {verdicts:?}"))
    };
    assert!(verdict("publish p95").passed);
    assert!(verdict("publish error rate").passed);
    assert!(!verdict("boom error rate").passed);
    assert_eq!(verdict("boom error rate").observed, 100.0);

    let written = gauntlet_scenarios::LoadReport::load(&out.join("load.json")).unwrap();
    assert_eq!(written.error_examples, report.error_examples);
}

/// Open mode: the schedule carries template transactions too, with no
/// per-user setup requests in the lead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_transactions_in_open_mode() {
    let (url, seen) = server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = project(dir.path());
    let profile = Profile::parse_with_config(
        "mode = \"open\"\nusers = 4\nrate = 40\nduration = \"2s\"\n\
         [mix]\nstats = 1\n[transactions.stats]\npath = \"/stats\"\nexpect = { status = 200 }\n",
        "open.toml",
        "open",
        &config,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let report = run(
        &LoadPlan::new(profile),
        &sut(config, &url, None),
        dir.path(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{}", report.transaction_table());
    let stats = &report.transactions["stats"];
    assert_count("stats", stats.run.count, seen.hits("stats"));
    assert_eq!(stats.run.errors_total, 0);
    assert!(
        !stats.phases.contains_key("setup"),
        "{:?}",
        stats.phases.keys()
    );
    let open = report.open_model.expect("open-model stats");
    assert_eq!(open.planned, 80);
    assert!(open.sent >= 70, "{open:?}");
    assert_eq!(seen.hits("other"), 0);
}

/// Every user holds a connection, and the in-process server one more:
/// 600 users need about 1,200 descriptors. With the soft open-file limit
/// at 256 (as a low system default would set it), the run still has no
/// errors, because the generator raises the soft limit to the hard one
/// first and says so in `load.json`. Before that, runs past ~1,000 users
/// failed with connection errors under the common default of 1,024.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_users_past_a_low_open_file_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert!(
        hard >= 2048,
        "the hard open-file limit ({hard}) is too low for 600 users"
    );
    setrlimit(Resource::RLIMIT_NOFILE, 256, hard).unwrap();
    let (url, seen) = server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = project(dir.path());
    let profile = Profile::parse_with_config(
        "users = 600\nduration = \"3s\"\nthink_time = { min = \"100ms\", max = \"300ms\" }\n\
         [mix]\nstats = 1\n[transactions.stats]\npath = \"/stats\"\nexpect = { status = 200 }\n",
        "many.toml",
        "many",
        &config,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let report = run(
        &LoadPlan::new(profile),
        &sut(config, &url, None),
        dir.path(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{}", report.transaction_table());
    let stats = &report.transactions["stats"].run;
    assert_eq!(stats.errors_total, 0, "{:?}", stats.errors);
    assert!(stats.count >= 600, "{} requests", stats.count);
    assert_count("stats", stats.count, seen.hits("stats"));
    let generator = report
        .generator
        .expect("load.json says what the generator used");
    assert_eq!(generator.open_files.was, 256);
    assert_eq!(generator.open_files.soft, hard);
    assert!(generator.cpu_seconds > 0.0 && generator.max_rss_mib > 0.0);
}
