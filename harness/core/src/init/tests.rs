use std::path::{Path, PathBuf};

use super::*;
use crate::config::{Config, Overrides};
use crate::workspace::Workspace;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn compose_at(text: &str, path: &Path) -> ComposeFile {
    crate::compose::parse(text, path, &|_| None).unwrap()
}

fn compose(text: &str) -> ComposeFile {
    compose_at(text, Path::new("/project/docker-compose.yml"))
}

fn default_paths() -> crate::config::Paths {
    crate::config::Paths {
        journeys: "journeys".into(),
        profiles: "scenarios/profiles".into(),
        slo: "scenarios/slo.toml".into(),
        experiments: "chaos/experiments".into(),
        regressions: "props/regressions".into(),
    }
}

/// Writes the rendered files and a copy of the compose text into a fresh
/// folder; loads the project file with the project's loader and checks it
/// against the compose file, as every command does.
fn write_and_load(system: &System, compose_text: &str) -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), compose_text).unwrap();
    let layout = Layout {
        compose: vec!["docker-compose.yml".into()],
        paths: default_paths(),
    };
    for file in render(system, &layout) {
        let path = dir.path().join(&file.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &file.text).unwrap();
    }
    let config = Config::load(
        Some(&dir.path().join("gauntlet.toml")),
        Overrides::default(),
    )
    .unwrap_or_else(|e| panic!("the generated gauntlet.toml does not load: {e}"));
    let workspace = Workspace::new(config).unwrap_or_else(|e| {
        panic!("the generated gauntlet.toml does not fit the compose file: {e}")
    });
    (dir, workspace)
}

fn python_example() -> (String, ComposeFile) {
    let path = repo().join("examples/python-counter/docker-compose.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    (text.clone(), compose_at(&text, &path))
}

#[test]
fn the_python_example_gets_its_web_endpoint_health_route_and_redis() {
    let (text, compose) = python_example();
    let hints = gather_hints(&compose);
    assert_eq!(
        hints.health_routes.get("web"),
        Some(&("/health".to_string(), "web/counter.py".to_string())),
        "{hints:?}"
    );
    let system = infer(&compose, &hints, "python-counter", None).unwrap();
    assert_eq!(system.project, "python-counter");
    assert_eq!(system.endpoints.len(), 1, "{system:#?}");
    let web = system.primary();
    assert_eq!(
        (web.name.as_str(), web.service.as_str(), web.port),
        ("web", "web", 8000)
    );
    let r = system.primary_readiness();
    assert_eq!((r.path.as_str(), r.status), ("/health", 200));
    assert_eq!(r.evidence, Evidence::Source("web/counter.py".into()));
    assert_eq!(system.data.len(), 1);
    assert_eq!(
        (system.data[0].service.as_str(), system.data[0].kind),
        ("cache", DataKind::Redis)
    );
    assert!(system.pm2.is_none());
    assert_eq!(
        system.secrets,
        vec![SecretGuess {
            name: "counter_token".into(),
            variable: "COUNTER_TOKEN".into(),
            service: "web".into(),
            env: "COUNTER_TOKEN".into(),
        }]
    );

    let (_dir, ws) = write_and_load(&system, &text);
    let c = &ws.config;
    assert_eq!(c.system.project, "python-counter");
    let e = &c.endpoints["web"];
    assert_eq!((e.service.as_str(), e.port), ("web", 8000));
    let readiness = e.readiness.as_ref().unwrap();
    assert_eq!(
        (readiness.path.as_str(), readiness.status),
        ("/health", 200)
    );
    assert_eq!(c.data["cache"].kind, DataKind::Redis);
    assert!(c.pm2.is_none() && c.secrets.is_empty() && c.identity.is_none());
    assert!(c.checks.is_empty() && c.invariants.is_empty());
}

#[test]
fn the_generated_files_are_the_ones_the_paths_name() {
    let (_, compose) = python_example();
    let system = infer(&compose, &gather_hints(&compose), "python-counter", None).unwrap();
    let mut paths = default_paths();
    paths.experiments = "experiments".into();
    let files = render(
        &system,
        &Layout {
            compose: vec!["docker-compose.yml".into()],
            paths,
        },
    );
    let names: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    assert_eq!(
        names,
        [
            "gauntlet.toml",
            "journeys/smoke.toml",
            "scenarios/profiles/smoke.toml",
            "scenarios/slo.toml",
            "experiments/restart_web.toml"
        ]
    );
    assert!(files[0].text.contains("experiments = \"experiments\""));
    for f in &files {
        toml::from_str::<toml::Table>(&f.text)
            .unwrap_or_else(|e| panic!("{} is not TOML: {e}\n{}", f.path.display(), f.text));
    }
    let journey: toml::Table = toml::from_str(&files[1].text).unwrap();
    let step = &journey["step"].as_array().unwrap()[0];
    assert_eq!(step["path"].as_str(), Some("/health"));
    assert_eq!(step["expect"]["status"].as_integer(), Some(200));
    assert_eq!(journey["endpoint"].as_str(), Some("web"));
    let profile: toml::Table = toml::from_str(&files[2].text).unwrap();
    assert_eq!(profile["mode"].as_str(), Some("closed"));
    assert_eq!(profile["users"].as_integer(), Some(5));
    assert_eq!(profile["duration"].as_str(), Some("10s"));
    assert_eq!(profile["mix"]["readiness"].as_integer(), Some(1));
    let txn = &profile["transactions"]["readiness"];
    assert_eq!(txn["path"].as_str(), Some("/health"));
    assert_eq!(txn["endpoint"].as_str(), Some("web"));
}

#[test]
fn the_reference_system_gets_app_toxiproxy_postgres_redis_and_pm2() {
    let path = repo().join("docker-compose.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let compose = compose_at(&text, &path);
    let hints = gather_hints(&compose);
    let system = infer(&compose, &hints, "main", None).unwrap();
    let endpoints: Vec<(&str, &str, u16, Option<&str>)> = system
        .endpoints
        .iter()
        .map(|e| {
            (
                e.name.as_str(),
                e.service.as_str(),
                e.port,
                e.readiness.as_ref().map(|r| r.path.as_str()),
            )
        })
        .collect();
    assert_eq!(
        endpoints,
        vec![
            ("app", "app", 8080, Some("/api/healthz")),
            ("toxiproxy", "toxiproxy", 8474, Some("/version")),
            ("app_8081", "app", 8081, None),
            ("app_8082", "app", 8082, None),
            ("app_8083", "app", 8083, None),
        ]
    );
    assert!(matches!(
        system.primary_readiness().evidence,
        Evidence::Healthcheck(_)
    ));
    let data: Vec<(&str, DataKind, Option<&str>)> = system
        .data
        .iter()
        .map(|d| (d.service.as_str(), d.kind, d.database.as_deref()))
        .collect();
    assert_eq!(
        data,
        vec![
            ("postgres", DataKind::Postgres, Some("gauntlet")),
            ("redis", DataKind::Redis, None)
        ],
        "the backup service runs the postgres image but is not the database"
    );
    let (pm2, why) = system.pm2.clone().expect("the app runs PM2");
    assert_eq!(pm2, "app");
    assert!(why.contains("system/images/app/"), "{why}");
    let variables: Vec<&str> = system.secrets.iter().map(|s| s.variable.as_str()).collect();
    assert!(variables.contains(&"GAUNTLET_ADMIN_TOKEN"), "{variables:?}");

    // Loaded and checked against a copy of the compose file whose build
    // contexts point back at the repository.
    let copy = text.replace(
        "context: system/",
        &format!("context: {}/system/", repo().display()),
    );
    let (_dir, ws) = write_and_load(&system, &copy);
    assert_eq!(ws.config.pm2.as_ref().unwrap().service, "app");
    assert_eq!(ws.config.endpoints.len(), 5);
    assert_eq!(
        ws.config.data["postgres"].database.as_deref(),
        Some("gauntlet")
    );
}

#[test]
fn without_any_health_check_readiness_is_an_assumption_and_the_journey_is_loose() {
    let text = "services:\n  front:\n    image: acme/front:1\n    ports: [\"127.0.0.1::3000\"]\n";
    let system = infer(&compose(text), &Hints::default(), "Acme Shop!", None).unwrap();
    assert_eq!(system.project, "acme-shop");
    assert_eq!(system.name, "Acme Shop!");
    let r = system.primary_readiness();
    assert_eq!(
        (r.path.as_str(), r.status, &r.evidence),
        ("/", 200, &Evidence::Assumed)
    );
    let (_dir, ws) = write_and_load(&system, text);
    assert_eq!(ws.config.system.name, "Acme Shop!");
    let files = render(
        &system,
        &Layout {
            compose: vec!["docker-compose.yml".into()],
            paths: default_paths(),
        },
    );
    assert!(files[0].text.contains("ASSUMPTION"), "{}", files[0].text);
    let journey: toml::Table = toml::from_str(&files[1].text).unwrap();
    let status = &journey["step"].as_array().unwrap()[0]["expect"]["status"];
    assert_eq!(status["lt"].as_integer(), Some(500), "{status}");
}

#[test]
fn a_healthcheck_url_gives_the_port_and_the_readiness_path() {
    let text = r#"
services:
  db:
    image: postgres:16
    environment:
      POSTGRES_DB: shop
      POSTGRES_USER: shop
      POSTGRES_PASSWORD: ${DB_PASSWORD:-dev}
    ports: ["127.0.0.1::5432"]
  api:
    image: acme/api:1
    command: ["pm2-runtime", "ecosystem.config.js"]
    ports: ["127.0.0.1::9000", "127.0.0.1::7000", "127.0.0.1::8080"]
    healthcheck:
      test: ["CMD-SHELL", "wget -qO- http://localhost:7000/internal/ready || exit 1"]
    depends_on: [db]
"#;
    let text = format!(
        "{text}  commander:\n    image: rediscommander/redis-commander:latest\n    ports: [\"127.0.0.1::8081\"]\n    depends_on: [api]\n"
    );
    let text = text.as_str();
    let system = infer(&compose(text), &Hints::default(), "shop", None).unwrap();
    let names: Vec<(&str, u16)> = system
        .endpoints
        .iter()
        .map(|e| (e.name.as_str(), e.port))
        .collect();
    // The redis web UI is an endpoint, not a data service; the api, which
    // it depends on, stays the primary one (it has a health check).
    assert_eq!(
        names,
        vec![("api", 7000), ("api_8080", 8080), ("commander", 8081)]
    );
    assert_eq!(system.data.len(), 1);
    assert_eq!(system.primary_readiness().path, "/internal/ready");
    assert!(
        system.notes.iter().any(|n| n.contains("9000")),
        "{:?}",
        system.notes
    );
    assert_eq!(system.pm2.as_ref().unwrap().0, "api");
    let db = &system.data[0];
    assert_eq!(
        (db.kind, db.database.as_deref(), db.user.as_deref()),
        (DataKind::Postgres, Some("shop"), Some("shop"))
    );
    let (_dir, ws) = write_and_load(&system, text);
    assert_eq!(ws.config.data["db"].user.as_deref(), Some("shop"));
}

#[test]
fn health_probes_are_found_in_common_command_lines() {
    let cases = [
        ("curl -fsS -o /dev/null http://127.0.0.1:8080/api/healthz", Some(8080), "/api/healthz"),
        ("wget -qO- localhost:8000/health || exit 1", Some(8000), "/health"),
        ("curl -f http://localhost/ping", None, "/ping"),
        ("curl -f \"http://0.0.0.0:3000\"", Some(3000), "/"),
        (
            "bash -c exec 3<>/dev/tcp/127.0.0.1/8474 && printf 'GET /version HTTP/1.0\\r\\n\\r\\n' >&3",
            Some(8474),
            "/version",
        ),
        ("HEALTHCHECK CMD curl -f http://localhost:5000/healthz?deep=1", Some(5000), "/healthz?deep=1"),
    ];
    for (command, port, path) in cases {
        assert_eq!(
            probe_in(command),
            Some(HealthProbe {
                port,
                path: path.into()
            }),
            "{command}"
        );
    }
    assert_eq!(probe_in("redis-cli ping"), None);
    assert_eq!(probe_in("pg_isready -h 127.0.0.1"), None);
}

#[test]
fn unusable_compose_files_name_the_file() {
    let no_services = compose("services: {}\n");
    let err = infer(&no_services, &Hints::default(), "x", None).unwrap_err();
    assert_eq!(err.exit_code(), crate::exit_codes::USAGE);
    let text = err.to_string();
    assert!(text.starts_with("/project/docker-compose.yml: "), "{text}");
    assert!(text.contains("no services"), "{text}");

    let unpublished = compose("services:\n  web:\n    image: a/b:1\n  cache:\n    image: redis:7\n    ports: [\"127.0.0.1::6379\"]\n");
    let err = infer(&unpublished, &Hints::default(), "x", None).unwrap_err();
    let text = err.to_string();
    assert_eq!(err.exit_code(), crate::exit_codes::USAGE);
    assert!(text.starts_with("/project/docker-compose.yml: "), "{text}");
    assert!(
        text.contains("no published port usable as an HTTP endpoint"),
        "{text}"
    );
}

#[test]
fn names_are_sanitised() {
    assert_eq!(project_name("My Project_2"), "my-project-2");
    assert_eq!(project_name(".tmpAbC"), "tmpabc");
    assert_eq!(project_name("---"), "app");
    assert_eq!(project_name(&"x".repeat(60)).len(), 40);
    crate::stack::validate_name("project", &project_name("Über Shop -- v2 -")).unwrap();
    assert_eq!(key_name("web-front.v2"), "web_front_v2");
    assert_eq!(
        relative_to(Path::new("/a/b/docker-compose.yml"), Path::new("/a/c")),
        "../b/docker-compose.yml"
    );
    assert_eq!(
        relative_to(Path::new("/a/b/docker-compose.yml"), Path::new("/a/b")),
        "docker-compose.yml"
    );
}
