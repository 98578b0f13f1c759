//! gauntlet-journeys as a library: how a team runs its own Rust journeys
//! and its journey files from its own crate (the README's "Journeys as a
//! library" points here). Add to the team's Cargo.toml:
//!
//! ```toml
//! gauntlet-journeys = { path = "..." }   # and gauntlet-harness
//! ```
//!
//! A Rust journey is a `Definition` (a name, a line about it, and an async
//! function over a `Journey`); files come from the project's journeys
//! folder through `Catalog::load`. Both run on the same runner, with the
//! same retries, flaky marking, budget and `RunReport`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use gauntlet_harness::config::{Config, Overrides};
use gauntlet_harness::sut::{Secrets, Sut};
use gauntlet_journeys::{
    Catalog, Definition, Journey, JourneyDef, JourneyResult, Outcome, Req, RunConfig, Service,
};

/// The team's own journey, in Rust: anything a file cannot say.
async fn version_is_semver(j: &mut Journey) -> Outcome {
    j.step("read the version");
    let r = j.send(Req::get("/version").to(Service::Api)).await?;
    r.expect_status(200)?;
    let version = r.str_at("/version")?;
    j.ensure(version.split('.').count() == 3, || {
        format!("GET /version: `{version}` is not MAJOR.MINOR.PATCH")
    })
}

static VERSION: Definition = Definition {
    name: "version",
    about: "the service reports a semantic version",
    run: |j| Box::pin(version_is_semver(j)),
};

#[tokio::test]
async fn a_users_rust_journey_and_journey_file_run_together() {
    let app = Router::new()
        .route(
            "/version",
            get(|| async { Json(json!({"version": "1.4.2"})) }),
        )
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gauntlet.toml"),
        "[endpoints.api]\nservice = \"api\"\nport = 80\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("journeys")).unwrap();
    std::fs::write(
        dir.path().join("journeys/health.toml"),
        "about = \"healthy\"\n[[step]]\npath = \"/health\"\nexpect = { status = 200, json = { \"/status\" = \"ok\" } }\n",
    )
    .unwrap();
    let config = Config::load(
        Some(&dir.path().join("gauntlet.toml")),
        Overrides::default(),
    )
    .unwrap();

    let mut catalog = Catalog::load(&config).unwrap();
    catalog.journeys.push(JourneyDef::Compiled(&VERSION));
    let journeys = catalog.select(&[]).unwrap();

    let sut = Sut::assemble(
        Arc::new(config),
        BTreeMap::from([("api".to_string(), url)]),
        Secrets::default(),
        7,
    );
    let run = RunConfig {
        run_id: sut.run_id.clone(),
        seed: 7,
        sut,
        budget: Duration::from_secs(20),
        retries: 1,
    };
    let report =
        gauntlet_journeys::run(&journeys, &run, &|j| println!("{} {:?}", j.name, j.result)).await;
    let results: Vec<(&str, JourneyResult)> = report
        .journeys
        .iter()
        .map(|j| (j.name.as_str(), j.result))
        .collect();
    assert_eq!(
        results,
        vec![
            ("health", JourneyResult::Passed),
            ("version", JourneyResult::Passed)
        ]
    );
    assert!(report.passed(false));
}
