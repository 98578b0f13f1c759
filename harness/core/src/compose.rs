//! Reads `docker-compose.yml`, the single definition of the stack.
//!
//! Only the part of the Compose specification the stack uses is accepted;
//! anything else is an error naming the service and key, so the file can
//! never mean one thing to `docker-compose` and another to gauntlet.
//! Variables are interpolated as Compose does (`${VAR}`, `${VAR:-default}`,
//! `${VAR-default}`, `$$`), from the harness's own values first, then the
//! process environment.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_yaml::Value;

use crate::error::{Error, Result};

/// Label keys gauntlet reads from a service's `labels:` in the compose file.
pub mod service_labels {
    /// `"true"` on the service whose processes run under PM2.
    pub const PM2: &str = "dev.gauntlet.pm2";
    /// `"api=8080,web=8081"`: named HTTP endpoints by container port.
    pub const ENDPOINTS: &str = "dev.gauntlet.endpoints";
}

#[derive(Debug, Clone)]
pub struct ComposeFile {
    pub path: PathBuf,
    /// Services in an order that starts every dependency before its dependents.
    pub services: Vec<Service>,
    /// Named volumes declared at the top level.
    pub volumes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub image: String,
    /// Build context, absolute.
    pub build_context: Option<PathBuf>,
    pub environment: Vec<(String, String)>,
    pub volumes: Vec<VolumeMount>,
    pub ports: Vec<PortSpec>,
    pub healthcheck: Option<Healthcheck>,
    pub depends_on: Vec<Dependency>,
    pub stop_grace_period: Option<Duration>,
    pub command: Option<Vec<String>>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VolumeMount {
    pub volume: String,
    pub target: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    /// Always 127.0.0.1: gauntlet publishes on loopback only.
    pub host_ip: std::net::Ipv4Addr,
    /// `None`: Docker picks a free port.
    pub host_port: Option<u16>,
    pub container_port: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Healthcheck {
    /// Docker's form: `["CMD", ...]` or `["CMD-SHELL", "..."]`.
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    pub service: String,
    pub healthy: bool,
}

impl Service {
    pub fn runs_pm2(&self) -> bool {
        self.labels
            .get(service_labels::PM2)
            .is_some_and(|v| v == "true")
    }

    /// Named HTTP endpoints (`api`, `web`, ...) and their container ports.
    pub fn endpoints(&self) -> Vec<(String, u16)> {
        let Some(spec) = self.labels.get(service_labels::ENDPOINTS) else {
            return Vec::new();
        };
        spec.split(',')
            .filter_map(|pair| {
                let (name, port) = pair.trim().split_once('=')?;
                Some((name.trim().to_string(), port.trim().parse().ok()?))
            })
            .collect()
    }
}

impl ComposeFile {
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The service and container port that serve the named endpoint.
    pub fn endpoint(&self, endpoint: &str) -> Option<(&Service, u16)> {
        self.services.iter().find_map(|s| {
            s.endpoints()
                .into_iter()
                .find(|(n, _)| n == endpoint)
                .map(|(_, p)| (s, p))
        })
    }

    pub fn pm2_service(&self) -> Option<&Service> {
        self.services.iter().find(|s| s.runs_pm2())
    }

    pub fn load(path: &Path, vars: &HashMap<String, String>) -> Result<ComposeFile> {
        ComposeFile::load_all(&[path.to_path_buf()], vars)
    }

    /// Loads a base file and its overrides (later files win), merged the way
    /// Compose merges them: mappings key by key, every other value (lists
    /// included) replaced whole. Paths are relative to the base file.
    pub fn load_all(paths: &[PathBuf], vars: &HashMap<String, String>) -> Result<ComposeFile> {
        let base = paths
            .first()
            .ok_or_else(|| Error::Usage("no compose file given".into()))?;
        let lookup = |name: &str| vars.get(name).cloned().or_else(|| std::env::var(name).ok());
        let read = |path: &Path| {
            std::fs::read_to_string(path)
                .map_err(|e| Error::config(path, format!("cannot read compose file: {e}")))
        };
        if paths.len() == 1 {
            return parse(&read(base)?, base, &lookup);
        }
        let mut merged = Value::Null;
        for path in paths {
            let value: Value = serde_yaml::from_str(&read(path)?)
                .map_err(|e| Error::config(path, format!("invalid compose file: {e}")))?;
            merge(&mut merged, value);
        }
        let text = serde_yaml::to_string(&merged).expect("a YAML value serialises");
        parse(&text, base, &lookup)
    }
}

fn merge(into: &mut Value, over: Value) {
    match (into, over) {
        (Value::Mapping(base), Value::Mapping(over)) => {
            for (k, v) in over {
                match base.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        base.insert(k, v);
                    }
                }
            }
        }
        (slot, over) => *slot = over,
    }
}

// ---------------------------------------------------------------- raw model

#[derive(Deserialize)]
struct RawFile {
    services: BTreeMap<String, RawService>,
    #[serde(default)]
    volumes: BTreeMap<String, Option<Value>>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct RawService {
    image: Option<String>,
    build: Option<RawBuild>,
    environment: Option<RawMap>,
    #[serde(default)]
    volumes: Vec<String>,
    #[serde(default)]
    ports: Vec<String>,
    healthcheck: Option<RawHealthcheck>,
    depends_on: Option<RawDepends>,
    stop_grace_period: Option<String>,
    command: Option<StringOrList>,
    labels: Option<RawMap>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawBuild {
    Context(String),
    Full { context: String },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawMap {
    Map(BTreeMap<String, Option<Value>>),
    List(Vec<String>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrList {
    String(String),
    List(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealthcheck {
    test: StringOrList,
    interval: Option<String>,
    timeout: Option<String>,
    retries: Option<u32>,
    start_period: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawDepends {
    List(Vec<String>),
    Map(BTreeMap<String, RawCondition>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    condition: Option<String>,
}

// ------------------------------------------------------------------ parsing

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub(crate) fn parse(text: &str, path: &Path, lookup: Lookup) -> Result<ComposeFile> {
    let raw: RawFile = serde_yaml::from_str(text)
        .map_err(|e| Error::config(path, format!("invalid compose file: {e}")))?;
    if let Some(key) = raw
        .other
        .keys()
        .find(|k| !k.starts_with("x-") && *k != "version")
    {
        return Err(Error::config(
            path,
            format!("unsupported top-level key `{key}`"),
        ));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let volumes: Vec<String> = raw.volumes.keys().cloned().collect();
    let mut services = Vec::new();
    for (name, svc) in raw.services {
        let err = |msg: String| Error::config(path, format!("service `{name}`: {msg}"));
        services.push(parse_service(&name, svc, base, &volumes, lookup).map_err(err)?);
    }
    let services = start_order(services).map_err(|m| Error::config(path, m))?;
    Ok(ComposeFile {
        path: path.to_path_buf(),
        services,
        volumes,
    })
}

fn parse_service(
    name: &str,
    raw: RawService,
    base: &Path,
    volumes: &[String],
    lookup: Lookup,
) -> std::result::Result<Service, String> {
    if let Some(key) = raw.other.keys().find(|k| !k.starts_with("x-")) {
        return Err(format!("unsupported key `{key}`"));
    }
    let image = interpolate(
        &raw.image
            .ok_or("`image` is required (gauntlet tags what it builds)")?,
        lookup,
    )?;
    let build_context = raw.build.map(|b| match b {
        RawBuild::Context(c) | RawBuild::Full { context: c } => base.join(c),
    });
    let environment = map_entries(raw.environment, lookup, "environment")?;
    let labels = map_entries(raw.labels, lookup, "labels")?
        .into_iter()
        .collect();
    let volumes = raw
        .volumes
        .iter()
        .map(|v| parse_volume(&interpolate(v, lookup)?, volumes))
        .collect::<std::result::Result<_, _>>()?;
    let ports = raw
        .ports
        .iter()
        .map(|p| parse_port(&interpolate(p, lookup)?))
        .collect::<std::result::Result<_, _>>()?;
    let healthcheck = raw
        .healthcheck
        .map(|h| parse_healthcheck(h, lookup))
        .transpose()?;
    let depends_on = match raw.depends_on {
        None => Vec::new(),
        Some(RawDepends::List(names)) => names
            .into_iter()
            .map(|service| Dependency {
                service,
                healthy: false,
            })
            .collect(),
        Some(RawDepends::Map(map)) => map
            .into_iter()
            .map(|(service, c)| match c.condition.as_deref() {
                None | Some("service_started") => Ok(Dependency {
                    service,
                    healthy: false,
                }),
                Some("service_healthy") => Ok(Dependency {
                    service,
                    healthy: true,
                }),
                Some(other) => Err(format!("depends_on condition `{other}` is not supported")),
            })
            .collect::<std::result::Result<_, _>>()?,
    };
    let stop_grace_period = raw
        .stop_grace_period
        .as_deref()
        .map(parse_duration)
        .transpose()?;
    let command = raw
        .command
        .map(|c| match c {
            StringOrList::List(l) => l.iter().map(|s| interpolate(s, lookup)).collect(),
            StringOrList::String(s) => Ok(interpolate(&s, lookup)?
                .split_whitespace()
                .map(String::from)
                .collect()),
        })
        .transpose()?;
    Ok(Service {
        name: name.to_string(),
        image,
        build_context,
        environment,
        volumes,
        ports,
        healthcheck,
        depends_on,
        stop_grace_period,
        command,
        labels,
    })
}

fn map_entries(
    raw: Option<RawMap>,
    lookup: Lookup,
    what: &str,
) -> std::result::Result<Vec<(String, String)>, String> {
    let pairs: Vec<(String, String)> = match raw {
        None => Vec::new(),
        Some(RawMap::List(items)) => items
            .into_iter()
            .map(|item| match item.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (item, String::new()),
            })
            .collect(),
        Some(RawMap::Map(map)) => map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s,
                    Some(Value::Number(n)) => n.to_string(),
                    Some(Value::Bool(b)) => b.to_string(),
                    Some(_) => {
                        return Err(format!("{what}.{k}: expected a string, number or bool"))
                    }
                };
                Ok((k, v))
            })
            .collect::<std::result::Result<_, _>>()?,
    };
    pairs
        .into_iter()
        .map(|(k, v)| Ok((k, interpolate(&v, lookup)?)))
        .collect()
}

fn parse_volume(spec: &str, declared: &[String]) -> std::result::Result<VolumeMount, String> {
    let (volume, target) = spec
        .split_once(':')
        .ok_or_else(|| format!("volume `{spec}`: expected NAME:/path"))?;
    if !declared.iter().any(|v| v == volume) {
        return Err(format!(
            "volume `{spec}`: `{volume}` is not a named volume declared under top-level `volumes:` \
             (bind mounts are not supported: runs must not share host paths)"
        ));
    }
    let target = target.trim_end_matches(":rw").to_string();
    Ok(VolumeMount {
        volume: volume.to_string(),
        target,
    })
}

fn parse_port(spec: &str) -> std::result::Result<PortSpec, String> {
    let spec_no_proto = spec.strip_suffix("/tcp").unwrap_or(spec);
    let parts: Vec<&str> = spec_no_proto.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [ip, host, container] => (*ip, *host, *container),
        _ => {
            return Err(format!(
                "port `{spec}`: publish on loopback only, as `127.0.0.1::PORT` (random host port) \
                 or `127.0.0.1:HOST:PORT`"
            ))
        }
    };
    let host_ip: std::net::Ipv4Addr = ip
        .parse()
        .map_err(|_| format!("port `{spec}`: `{ip}` is not an IPv4 address"))?;
    if !host_ip.is_loopback() {
        return Err(format!(
            "port `{spec}`: only loopback addresses may be published, not {ip}"
        ));
    }
    let host_port = if host.is_empty() {
        None
    } else {
        Some(
            host.parse()
                .map_err(|_| format!("port `{spec}`: bad host port `{host}`"))?,
        )
    };
    let container_port = container
        .parse()
        .map_err(|_| format!("port `{spec}`: bad container port `{container}`"))?;
    Ok(PortSpec {
        host_ip,
        host_port,
        container_port,
    })
}

fn parse_healthcheck(
    raw: RawHealthcheck,
    lookup: Lookup,
) -> std::result::Result<Healthcheck, String> {
    let test = match raw.test {
        StringOrList::String(s) => vec!["CMD-SHELL".to_string(), interpolate(&s, lookup)?],
        StringOrList::List(l) => l
            .iter()
            .map(|s| interpolate(s, lookup))
            .collect::<std::result::Result<_, _>>()?,
    };
    if !matches!(test.first().map(String::as_str), Some("CMD" | "CMD-SHELL")) {
        return Err("healthcheck.test must start with CMD or CMD-SHELL".into());
    }
    let dur = |d: Option<String>, default: u64| {
        d.as_deref()
            .map(parse_duration)
            .transpose()
            .map(|d| d.unwrap_or(Duration::from_secs(default)))
    };
    Ok(Healthcheck {
        test,
        interval: dur(raw.interval, 30)?,
        timeout: dur(raw.timeout, 30)?,
        retries: raw.retries.unwrap_or(3),
        start_period: dur(raw.start_period, 0)?,
    })
}

/// Compose durations: `500ms`, `10s`, `1m30s`, `2h`.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration (examples: 500ms, 10s, 1m30s)");
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            _ => return Err(bad()),
        };
        total = total.saturating_add(unit);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Compose variable interpolation.
pub fn interpolate(text: &str, lookup: Lookup) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = rest.strip_prefix('{') {
            let end = r
                .find('}')
                .ok_or_else(|| format!("unterminated `${{` in `{text}`"))?;
            let expr = &r[..end];
            rest = &r[end + 1..];
            let value = if let Some((name, default)) = expr.split_once(":-") {
                lookup(name)
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| default.to_string())
            } else if let Some((name, default)) = expr.split_once('-') {
                lookup(name).unwrap_or_else(|| default.to_string())
            } else {
                lookup(expr).unwrap_or_default()
            };
            out.push_str(&value);
        } else {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if len == 0 {
                return Err(format!(
                    "lone `$` in `{text}` (write `$$` for a literal dollar)"
                ));
            }
            out.push_str(&lookup(&rest[..len]).unwrap_or_default());
            rest = &rest[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Orders services so each starts after its dependencies; rejects unknown
/// dependencies and cycles.
fn start_order(services: Vec<Service>) -> std::result::Result<Vec<Service>, String> {
    let mut remaining = services;
    let mut ordered: Vec<Service> = Vec::new();
    while !remaining.is_empty() {
        for s in &remaining {
            for d in &s.depends_on {
                let known = remaining
                    .iter()
                    .chain(ordered.iter())
                    .any(|o| o.name == d.service);
                if !known {
                    return Err(format!(
                        "service `{}` depends on unknown service `{}`",
                        s.name, d.service
                    ));
                }
            }
        }
        let ready = remaining.iter().position(|s| {
            s.depends_on
                .iter()
                .all(|d| ordered.iter().any(|o| o.name == d.service))
        });
        match ready {
            Some(i) => ordered.push(remaining.remove(i)),
            None => {
                let names: Vec<_> = remaining.iter().map(|s| s.name.as_str()).collect();
                return Err(format!(
                    "dependency cycle among services: {}",
                    names.join(", ")
                ));
            }
        }
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests;
