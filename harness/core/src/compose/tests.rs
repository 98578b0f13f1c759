use super::*;

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn parse_str(text: &str) -> Result<ComposeFile> {
    parse(
        text,
        Path::new("/repo/docker-compose.yml"),
        &vars(&[("TAG", "abc")]),
    )
}

#[test]
fn the_repository_compose_file_parses_into_a_startable_order() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The reference system's project file names its endpoints and PM2
    // service; the workspace writes them onto the services as labels.
    let workspace = crate::workspace::Workspace::locate(
        Some(&root.join("gauntlet.toml")),
        crate::config::Overrides::default(),
    )
    .unwrap();
    let file = workspace
        .compose(&HashMap::from([("GAUNTLET_APP_TAG".into(), "t1".into())]))
        .unwrap();
    let names: Vec<_> = file.services.iter().map(|s| s.name.as_str()).collect();
    let pos = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(
        pos("postgres") < pos("app") && pos("redis") < pos("app"),
        "{names:?}"
    );
    let app = file.service("app").unwrap();
    assert_eq!(app.image, "gauntlet/app:t1");
    assert!(app.runs_pm2());
    assert_eq!(
        file.endpoint("api").map(|(s, p)| (s.name.as_str(), p)),
        Some(("app", 8080))
    );
    assert!(app.ports.iter().all(|p| p.host_ip.is_loopback()));
    assert!(app.depends_on.iter().all(|d| d.healthy));
    assert!(file.services.iter().all(|s| s.healthcheck.is_some()));
}

#[test]
fn interpolation_follows_compose_rules() {
    let v = vars(&[("SET", "x"), ("EMPTY", "")]);
    let cases = [
        ("${SET}", "x"),
        ("${UNSET}", ""),
        ("${UNSET:-d}", "d"),
        ("${EMPTY:-d}", "d"),
        ("${EMPTY-d}", ""),
        ("${UNSET-d}", "d"),
        ("$SET/y", "x/y"),
        ("a$$b", "a$b"),
        ("pre-${SET}-post", "pre-x-post"),
    ];
    for (input, want) in cases {
        assert_eq!(interpolate(input, &v).unwrap(), want, "input {input}");
    }
    assert!(interpolate("${OPEN", &v)
        .unwrap_err()
        .contains("unterminated"));
    assert!(interpolate("cost $ 5", &v).unwrap_err().contains("$$"));
}

#[test]
fn durations() {
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
    assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
    for bad in ["", "10", "s", "1x", "-1s"] {
        assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
    }
}

/// Config errors name the service and what is wrong with it.
#[test]
fn bad_files_are_rejected_with_the_reason() {
    let cases = [
        ("services:\n  a:\n    image: x\n    ports: [\"8080:8080\"]\n", "service `a`: port `8080:8080`"),
        ("services:\n  a:\n    image: x\n    ports: [\"0.0.0.0::8080\"]\n", "only loopback"),
        ("services:\n  a:\n    image: x\n    privileged: true\n", "unsupported key `privileged`"),
        ("services:\n  a:\n    build: .\n", "`image` is required"),
        ("services:\n  a:\n    image: x\n    volumes: [\"./data:/d\"]\n", "not a named volume"),
        ("services:\n  a:\n    image: x\n    depends_on: [b]\n", "unknown service `b`"),
        (
            "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: y\n    depends_on: [a]\n",
            "dependency cycle",
        ),
        ("services:\n  a:\n    image: x\n    healthcheck:\n      test: [\"echo\"]\n", "CMD or CMD-SHELL"),
        ("services:\n  a:\n    image: x\n    stop_grace_period: soon\n", "not a duration"),
        ("services:\n  a:\n    image: x\nnetworks: {}\n", "unsupported top-level key `networks`"),
        ("services: [\n", "invalid compose file"),
    ];
    for (text, want) in cases {
        let err = parse_str(text).unwrap_err().to_string();
        assert!(
            err.contains(want),
            "for\n{text}\nexpected `{want}` in: {err}"
        );
        assert!(
            err.starts_with("/repo/docker-compose.yml"),
            "error names the file: {err}"
        );
    }
}

#[test]
fn accepted_forms() {
    let text = r#"
x-common: &c {}
services:
  db:
    image: pg:${TAG}
    environment: ["A=1", "B"]
    ports: ["127.0.0.1:5433:5432", "127.0.0.1::6000/tcp"]
    volumes: ["data:/var/lib/data"]
    healthcheck:
      test: pg_isready
      interval: 2s
  app:
    image: app
    depends_on: [db]
    command: serve --fast
    labels: ["dev.gauntlet.endpoints=api=80"]
volumes:
  data:
"#;
    let f = parse_str(text).unwrap();
    let db = f.service("db").unwrap();
    assert_eq!(db.image, "pg:abc");
    assert_eq!(
        db.environment,
        vec![("A".into(), "1".into()), ("B".into(), "".into())]
    );
    assert_eq!(db.ports[0].host_port, Some(5433));
    assert_eq!(db.ports[1].host_port, None);
    assert_eq!(db.ports[1].container_port, 6000);
    assert_eq!(
        db.healthcheck.as_ref().unwrap().test,
        vec!["CMD-SHELL", "pg_isready"]
    );
    assert_eq!(
        db.healthcheck.as_ref().unwrap().interval,
        Duration::from_secs(2)
    );
    assert_eq!(
        db.volumes[0],
        VolumeMount {
            volume: "data".into(),
            target: "/var/lib/data".into()
        }
    );
    let app = f.service("app").unwrap();
    assert_eq!(
        app.command.as_deref(),
        Some(&["serve".to_string(), "--fast".to_string()][..])
    );
    assert_eq!(app.endpoints(), vec![("api".to_string(), 80)]);
    assert_eq!(f.services[0].name, "db");
}
