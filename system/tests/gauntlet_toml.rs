//! The reference system's project file (`gauntlet.toml` at the top of the
//! repository) says what the system really is: its defect switches are the
//! ones the system knows, its endpoints and identity are the ones it
//! serves. No stack needed.

use std::path::PathBuf;

use gauntlet_harness::config::{Config, Origin, Overrides};
use gauntlet_system::defects::Defect;

fn config() -> Config {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../gauntlet.toml");
    Config::load(Some(&path), Overrides::default()).unwrap()
}

#[test]
fn declares_exactly_the_systems_defect_switches() {
    let c = config();
    assert_eq!(c.defects.variable.as_deref(), Some("SYSTEM_DEFECTS"));
    let known: Vec<&str> = Defect::ALL.iter().map(|d| d.name()).collect();
    assert_eq!(c.defects.switches, known);
}

#[test]
fn names_the_endpoints_identity_and_pm2_the_system_serves() {
    let c = config();
    assert_eq!(c.system.project, "gauntlet");
    assert_eq!(
        (c.endpoints["api"].service.as_str(), c.endpoints["api"].port),
        ("app", 8080)
    );
    assert_eq!(
        c.endpoints["api"]
            .readiness
            .as_ref()
            .map(|r| r.path.as_str()),
        Some("/api/healthz")
    );
    let identity = c.identity.as_ref().unwrap();
    assert_eq!(
        (
            identity.path.as_str(),
            identity.pointer.as_str(),
            identity.expect.as_str()
        ),
        ("/v1/meta", "/app", "gauntlet-reference-system")
    );
    assert_eq!(c.pm2.as_ref().map(|p| p.service.as_str()), Some("app"));
    assert!(c.secrets["admin_token"].generate);
    assert!(c.invariants.iter().any(|i| i.name == "stock"));
    assert!(c.invariants.iter().any(|i| i.name == "credit_ledger"));
    assert_eq!(c.stack.service_timeout, std::time::Duration::from_secs(120));
    assert_eq!(c.origins.of("system.project"), Origin::File);
}
