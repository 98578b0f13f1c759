//! Checks that need more than types: references between sections, and the
//! shape of paths and pointers. Each error names the key and its position.

use super::{Config, DataKind};
use crate::error::Result;

pub(super) fn config(c: &Config) -> Result<()> {
    if let Some(i) = &c.identity {
        if !i.path.starts_with('/') {
            return Err(c.error("identity.path", format!("`{}` must start with `/`", i.path)));
        }
        if !(i.pointer.is_empty() || i.pointer.starts_with('/')) {
            return Err(c.error(
                "identity.pointer",
                format!(
                    "`{}` is not a JSON pointer (RFC 6901): it must be empty or start with `/`, e.g. `/app`",
                    i.pointer
                ),
            ));
        }
    }
    for (name, e) in &c.endpoints {
        if let Some(r) = &e.readiness {
            if !r.path.starts_with('/') {
                return Err(c.error(
                    &format!("endpoints.{name}.readiness.path"),
                    format!("`{}` must start with `/`", r.path),
                ));
            }
        }
        if e.port == 0 {
            return Err(c.error(&format!("endpoints.{name}.port"), "port 0 is not a port"));
        }
    }
    for (name, d) in &c.data {
        if let Some(secret) = &d.password_secret {
            if !c.secrets.contains_key(secret) {
                return Err(c.error(
                    &format!("data.{name}.password_secret"),
                    format!("no secret `{secret}` in [secrets]"),
                ));
            }
        }
    }
    for (n, inv) in c.invariants.iter().enumerate() {
        let key = format!("invariants.{n}.data");
        let Some(data) = c.data.get(&inv.data) else {
            return Err(c.error(
                &key,
                format!(
                    "invariant `{}` uses data service `{}`, which [data] does not declare (declared: {})",
                    inv.name,
                    inv.data,
                    names(c.data.keys())
                ),
            ));
        };
        match data.kind {
            DataKind::Postgres if inv.sql.is_none() => {
                return Err(c.error(
                    &key,
                    format!("invariant `{}` on postgres needs `sql`", inv.name),
                ))
            }
            DataKind::Redis if inv.command.is_none() || inv.expect.is_none() => {
                return Err(c.error(
                    &key,
                    format!(
                        "invariant `{}` on redis needs `command` and `expect`",
                        inv.name
                    ),
                ))
            }
            _ => {}
        }
    }
    if let Some(d) = &c.drill {
        match c.data.get(&d.database) {
            Some(data) if data.kind == DataKind::Postgres => {}
            _ => {
                return Err(c.error(
                    "drill.database",
                    format!("`{}` is not a postgres entry of [data]", d.database),
                ))
            }
        }
    }
    if !c.defects.switches.is_empty() && c.defects.variable.is_none() {
        return Err(c.error(
            "defects.variable",
            "switches are declared but no variable carries them to the system",
        ));
    }
    Ok(())
}

/// Checks the configuration against the compose files it names: every
/// service it mentions exists, every endpoint's port is published.
pub fn against_compose(c: &Config, compose: &crate::compose::ComposeFile) -> Result<()> {
    let services = || names(compose.services.iter().map(|s| &s.name));
    let source = compose.path.display();
    for (name, e) in &c.endpoints {
        let key = format!("endpoints.{name}.service");
        let Some(service) = compose.service(&e.service) else {
            return Err(c.error(
                &key,
                format!(
                    "endpoint `{name}` names service `{}`, which {source} does not define (services: {})",
                    e.service,
                    services()
                ),
            ));
        };
        if !service.ports.iter().any(|p| p.container_port == e.port) {
            return Err(c.error(
                &format!("endpoints.{name}.port"),
                format!(
                    "endpoint `{name}`: service `{}` publishes no container port {} in {source} (published: {})",
                    e.service,
                    e.port,
                    names(service.ports.iter().map(|p| p.container_port.to_string()))
                ),
            ));
        }
    }
    let endpoint_known = |name: &str| compose.endpoint(name).is_some();
    if let Some(i) = &c.identity {
        if !endpoint_known(&i.endpoint) {
            return Err(c.error(
                "identity.endpoint",
                format!(
                    "no endpoint `{}` ([endpoints] or a dev.gauntlet.endpoints label)",
                    i.endpoint
                ),
            ));
        }
    }
    for (n, check) in c.checks.iter().enumerate() {
        if !endpoint_known(&check.endpoint) {
            return Err(c.error(
                &format!("checks.{n}.endpoint"),
                format!("no endpoint `{}`", check.endpoint),
            ));
        }
    }
    if let Some(p) = &c.pm2 {
        if compose.service(&p.service).is_none() {
            return Err(c.error(
                "pm2.service",
                format!(
                    "service `{}` is not in {source} (services: {})",
                    p.service,
                    services()
                ),
            ));
        }
    }
    for (name, d) in &c.data {
        if compose.service(&d.service).is_none() {
            return Err(c.error(
                &format!("data.{name}.service"),
                format!(
                    "service `{}` is not in {source} (services: {})",
                    d.service,
                    services()
                ),
            ));
        }
    }
    Ok(())
}

fn names<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    let list: Vec<String> = items.map(|i| i.to_string()).collect();
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}
