use std::path::{Path, PathBuf};

use super::*;
use crate::compose::ComposeFile;
use crate::error::Error;

/// Writes `text` as gauntlet.toml (and a small compose file) in a fresh
/// folder and loads it.
fn load(text: &str) -> (tempfile::TempDir, Result<Config>) {
    load_with(text, Overrides::default())
}

fn load_with(text: &str, overrides: Overrides) -> (tempfile::TempDir, Result<Config>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(CONFIG_FILE), text).unwrap();
    std::fs::write(dir.path().join(DEFAULT_COMPOSE), COMPOSE).unwrap();
    let config = Config::load(Some(&dir.path().join(CONFIG_FILE)), overrides);
    (dir, config)
}

const COMPOSE: &str = r#"
services:
  cache:
    image: redis:7
    ports: ["127.0.0.1::6379"]
  web:
    image: example/web:1
    ports: ["127.0.0.1::8000"]
    depends_on: [cache]
"#;

fn usage_message(result: Result<Config>) -> String {
    match result {
        Err(Error::Usage(message)) => message,
        Err(other) => panic!("expected a usage error, got {other:?}"),
        Ok(_) => panic!("expected a usage error, the file loaded"),
    }
}

#[test]
fn an_empty_file_is_all_defaults() {
    let (dir, c) = load("");
    let c = c.unwrap();
    assert_eq!(c.system.project, DEFAULT_PROJECT);
    assert_eq!(
        c.stack.compose,
        vec![dir.path().canonicalize().unwrap().join(DEFAULT_COMPOSE)]
    );
    assert_eq!(c.stack.service_timeout, DEFAULT_SERVICE_TIMEOUT);
    assert!(c.identity.is_none() && c.pm2.is_none() && c.endpoints.is_empty());
    assert_eq!(c.origins.of("system.project"), Origin::Default);
    assert_eq!(c.origins.of("stack.service_timeout"), Origin::Default);
}

#[test]
fn an_unknown_key_is_named_with_its_line_and_column() {
    let (dir, c) = load("[system]\nname = \"x\"\n\n[endpoints.web]\nservice = \"web\"\nport = 8000\nreadyness = { path = \"/\" }\n");
    let message = usage_message(c);
    let file = dir.path().join(CONFIG_FILE);
    assert!(
        message.starts_with(&format!("{}:7:1: ", file.display())),
        "{message}"
    );
    assert!(message.contains("readyness"), "{message}");
}

#[test]
fn a_wrong_type_is_named_with_its_position() {
    let (_dir, c) = load("[endpoints.web]\nservice = \"web\"\nport = \"eight thousand\"\n");
    let message = usage_message(c);
    assert!(message.contains("gauntlet.toml:3:8: "), "{message}");
    assert!(
        message.contains("u16") || message.contains("integer"),
        "{message}"
    );
}

#[test]
fn a_bad_identity_pointer_is_refused_at_its_key() {
    let (_dir, c) = load(
        "[endpoints.web]\nservice = \"web\"\nport = 8000\n\n[identity]\nendpoint = \"web\"\npath = \"/meta\"\npointer = \"app\"\nexpect = \"x\"\n",
    );
    let message = usage_message(c);
    assert!(
        message.contains("gauntlet.toml:8:11: identity.pointer:"),
        "{message}"
    );
    assert!(message.contains("JSON pointer"), "{message}");
}

#[test]
fn a_bad_duration_is_refused_at_its_key() {
    let (_dir, c) = load("[stack]\nservice_timeout = \"soon\"\n");
    let message = usage_message(c);
    assert!(
        message.contains("gauntlet.toml:2:19: stack.service_timeout"),
        "{message}"
    );
}

#[test]
fn an_invariant_must_use_a_declared_data_service() {
    let (_dir, c) = load(
        "[data.db]\nservice = \"cache\"\nkind = \"redis\"\n\n[[invariants]]\nname = \"n\"\ndata = \"pg\"\nsql = \"SELECT 1\"\n",
    );
    let message = usage_message(c);
    assert!(
        message.contains("gauntlet.toml:7:8: invariants.0.data"),
        "{message}"
    );
    assert!(message.contains("declared: db"), "{message}");
}

#[test]
fn flags_and_environment_override_the_file_and_say_so() {
    let overrides = Overrides {
        project: Some(("other".into(), Origin::Flag("--project"))),
        service_timeout: Some((
            std::time::Duration::from_secs(5),
            Origin::Env("GAUNTLET_SERVICE_TIMEOUT"),
        )),
        no_build_hook: true,
        ..Default::default()
    };
    let (_dir, c) = load_with(
        "[system]\nproject = \"mine\"\n[stack]\nservice_timeout = \"30s\"\nbuild_hook = [\"make\"]\n",
        overrides,
    );
    let c = c.unwrap();
    assert_eq!(c.system.project, "other");
    assert_eq!(c.origins.of("system.project"), Origin::Flag("--project"));
    assert_eq!(c.stack.service_timeout, std::time::Duration::from_secs(5));
    assert_eq!(
        c.origins.of("stack.service_timeout"),
        Origin::Env("GAUNTLET_SERVICE_TIMEOUT")
    );
    assert_eq!(c.stack.build_hook, None);
    assert_eq!(
        c.origins.of("stack.build_hook"),
        Origin::Flag("--no-build-hook")
    );
}

#[test]
fn defects_are_checked_against_the_declared_switches() {
    let (_dir, c) =
        load("[defects]\nvariable = \"BUGS\"\nswitches = [\"slow_cache\", \"lost_writes\"]\n");
    let c = c.unwrap();
    assert_eq!(
        c.check_defects("lost_writes, slow_cache").unwrap(),
        vec!["lost_writes", "slow_cache"]
    );
    assert!(c.check_defects("").unwrap().is_empty());
    let message = match c.check_defects("lost_writes,no_such_switch") {
        Err(Error::Usage(m)) => m,
        other => panic!("{other:?}"),
    };
    assert!(message.contains("`no_such_switch`"), "{message}");
    assert!(message.contains("slow_cache, lost_writes"), "{message}");
    let (_dir, bare) = load("");
    assert!(matches!(
        bare.unwrap().check_defects("x"),
        Err(Error::Usage(_))
    ));
}

#[test]
fn endpoints_are_checked_against_the_compose_file() {
    let compose =
        |dir: &Path| ComposeFile::load(&dir.join(DEFAULT_COMPOSE), &Default::default()).unwrap();
    let (dir, c) = load("[endpoints.api]\nservice = \"api\"\nport = 8000\n");
    let c = c.unwrap();
    let message = match against_compose(&c, &compose(dir.path())) {
        Err(Error::Usage(m)) => m,
        other => panic!("{other:?}"),
    };
    assert!(
        message.contains("gauntlet.toml:2:11: endpoints.api.service"),
        "{message}"
    );
    assert!(message.contains("services: cache, web"), "{message}");

    let (dir, c) = load("[endpoints.api]\nservice = \"web\"\nport = 9999\n");
    let message = match against_compose(&c.unwrap(), &compose(dir.path())) {
        Err(Error::Usage(m)) => m,
        other => panic!("{other:?}"),
    };
    assert!(message.contains("endpoints.api.port"), "{message}");
    assert!(message.contains("published: 8000"), "{message}");

    let (dir, c) = load("[pm2]\nservice = \"worker\"\n");
    let message = match against_compose(&c.unwrap(), &compose(dir.path())) {
        Err(Error::Usage(m)) => m,
        other => panic!("{other:?}"),
    };
    assert!(message.contains("pm2.service"), "{message}");
}

#[test]
fn a_project_without_pm2_rejects_what_needs_it() {
    let (_dir, c) = load("");
    let message = match c.unwrap().require_pm2("experiment `api_process_killed`") {
        Err(Error::Usage(m)) => m,
        other => panic!("{other:?}"),
    };
    assert!(message.contains("[pm2]"), "{message}");
}

#[test]
fn compose_overrides_merge_service_by_service() {
    let dir = tempfile::tempdir().unwrap();
    let base: PathBuf = dir.path().join("base.yml");
    let over: PathBuf = dir.path().join("over.yml");
    std::fs::write(&base, COMPOSE).unwrap();
    std::fs::write(
        &over,
        "services:\n  web:\n    image: example/web:2\n    environment:\n      MODE: test\n",
    )
    .unwrap();
    let merged = ComposeFile::load_all(&[base, over], &Default::default()).unwrap();
    let web = merged.service("web").unwrap();
    assert_eq!(web.image, "example/web:2");
    assert_eq!(
        web.environment,
        vec![("MODE".to_string(), "test".to_string())]
    );
    assert_eq!(web.ports.len(), 1, "keys the override does not name stay");
}
