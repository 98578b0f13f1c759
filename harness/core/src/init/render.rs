//! A [`System`] as files: the commented `gauntlet.toml`, a smoke journey,
//! a smoke load profile and its SLO file, and a restart experiment.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{Evidence, System};
use crate::config::{DataKind, Paths};

/// Where the files go, as the generated `gauntlet.toml` says.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `[stack] compose`, relative to the project folder.
    pub compose: Vec<String>,
    /// `[paths]`: where the journey, profile, SLO file and experiment go.
    pub paths: Paths,
}

/// One file to write, relative to the project folder.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedFile {
    pub path: PathBuf,
    /// What it is, for the command's listing.
    pub what: &'static str,
    pub text: String,
}

/// The journey, profile and load transaction `gauntlet init` writes.
pub const SMOKE: &str = "smoke";
pub const TRANSACTION: &str = "readiness";

/// Every file of a first project, `gauntlet.toml` first.
pub fn render(system: &System, layout: &Layout) -> Vec<GeneratedFile> {
    let paths = &layout.paths;
    vec![
        GeneratedFile {
            path: crate::config::CONFIG_FILE.into(),
            what: "project file",
            text: project_file(system, layout),
        },
        GeneratedFile {
            path: paths.journeys.join(format!("{SMOKE}.toml")),
            what: "journey",
            text: journey(system),
        },
        GeneratedFile {
            path: paths.profiles.join(format!("{SMOKE}.toml")),
            what: "load profile",
            text: profile(system),
        },
        GeneratedFile {
            path: paths.slo.clone(),
            what: "SLO file",
            text: slo(),
        },
        GeneratedFile {
            path: paths
                .experiments
                .join(format!("{}.toml", experiment_name(system))),
            what: "chaos experiment",
            text: experiment(system),
        },
    ]
}

/// `restart_<service>`: the experiment's name (its file stem).
pub fn experiment_name(system: &System) -> String {
    format!("restart_{}", super::key_name(&system.primary().service))
}

/// A TOML string.
fn q(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// A TOML key: bare when it can be.
fn key(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        text.to_string()
    } else {
        q(text)
    }
}

fn path_text(p: &Path) -> String {
    p.display().to_string().replace('\\', "/")
}

/// `status = 200`, or `status = { lt = 500 }` when readiness was assumed.
fn expect_status(system: &System) -> String {
    let r = system.primary_readiness();
    if r.evidence == Evidence::Assumed {
        "{ lt = 500 }".into()
    } else {
        r.status.to_string()
    }
}

fn expect_words(system: &System) -> String {
    let r = system.primary_readiness();
    if r.evidence == Evidence::Assumed {
        "any status below 500".into()
    } else {
        r.status.to_string()
    }
}

fn project_file(s: &System, layout: &Layout) -> String {
    let compose_name = s
        .compose
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "docker-compose.yml".into());
    let mut t = String::new();
    let w = &mut t;
    let _ = writeln!(
        w,
        "\
# gauntlet.toml: what gauntlet needs to know about this system beyond its
# compose file. Written by `gauntlet init` from {compose_name}: every value
# below was inferred, so read it through and correct what is wrong.
#
# `gauntlet config` prints the effective configuration and where each value
# came from. Reference: the gauntlet README, section \"Bringing your own
# system (`gauntlet.toml`)\"; the reference system's gauntlet.toml uses every
# section. Unknown keys are errors (FILE:LINE:COL), never ignored.

# How messages and reports name the system, and the namespace of its runs
# (Docker names and labels; --project and GAUNTLET_PROJECT override it).
[system]
name = {name}
project = {project}

# The compose files defining the stack (later files override earlier ones),
# and how long each service may take to become ready (--service-timeout,
# GAUNTLET_SERVICE_TIMEOUT).
[stack]
compose = [{compose}]
service_timeout = \"120s\"
# build_hook = [\"make\", \"images\"]    # run before images are hashed and built
",
        name = q(&s.name),
        project = q(&s.project),
        compose = layout
            .compose
            .iter()
            .map(|c| q(c))
            .collect::<Vec<_>>()
            .join(", "),
    );

    let _ = writeln!(
        w,
        "\
# Endpoints: the services and container ports that serve HTTP. Journeys,
# `check`, load transactions and chaos probes name them. The container
# port must be published in the compose file (gauntlet picks a free host
# port on 127.0.0.1 for every run). `readiness`: after the stack is up,
# `GET path` is retried until it answers `status` (one status code; within
# `timeout`, default [stack] service_timeout).
# The first endpoint is the one the generated journey, load profile and
# experiment use."
    );
    for e in &s.endpoints {
        let _ = writeln!(w);
        let _ = writeln!(w, "# {}: port {} ({}).", e.name, e.port, e.why);
        match &e.readiness {
            Some(r) => match &r.evidence {
                Evidence::Assumed => {
                    let _ = writeln!(
                        w,
                        "\
# ASSUMPTION: no health check was found for `{service}` (no compose
# healthcheck with a URL, no Dockerfile HEALTHCHECK, no health route in its
# build context), and readiness takes a single status, so this assumes that
# `GET /` answers 200. If it does not, set `path` to a page that does (a
# health route is best) or `status` to what `/` answers when the service
# is up; `gauntlet up` names what it got instead.",
                        service = e.service
                    );
                }
                other => {
                    let _ = writeln!(
                        w,
                        "# Readiness: {}; 200 is assumed to mean ready.",
                        other.describe()
                    );
                }
            },
            None => {
                let _ = writeln!(
                    w,
                    "# No readiness of its own: the service is ready when its first endpoint is.\n\
                     # readiness = {{ path = \"/\", status = 200 }}"
                );
            }
        }
        let _ = writeln!(w, "[endpoints.{}]", key(&e.name));
        let _ = writeln!(w, "service = {}", q(&e.service));
        let _ = writeln!(w, "port = {}", e.port);
        if let Some(r) = &e.readiness {
            let _ = writeln!(
                w,
                "readiness = {{ path = {}, status = {} }}   # timeout = \"60s\" to wait less than service_timeout",
                q(&r.path),
                r.status
            );
        }
    }
    let primary = s.primary();

    let _ = writeln!(
        w,
        "
# Identity: before any traffic, prove the endpoint is your app (and not
# another program on the same port): `GET path` must hold `expect` at the
# JSON `pointer`. Without it, no identity check.
# [identity]
# endpoint = {endpoint}
# path = \"/version\"
# pointer = \"/name\"
# expect = \"my-app\"",
        endpoint = q(&primary.name)
    );

    let _ = writeln!(
        w,
        "
# PM2: the service whose container runs the PM2 daemon (`status` lists its
# processes, chaos can kill and restart them). Without it, PM2 features are
# off and an experiment that needs PM2 is refused."
    );
    match &s.pm2 {
        Some((service, why)) => {
            let _ = writeln!(w, "# {service}: {why}.\n[pm2]\nservice = {}", q(service));
        }
        None => {
            let _ = writeln!(
                w,
                "# No service's image, command or build context mentions pm2.\n\
                 # [pm2]\n# service = \"app\""
            );
        }
    }

    let _ = writeln!(
        w,
        "
# Data services: what probes, invariants and `gauntlet check` may query,
# inside their containers (redis-cli; psql over the local socket). Kinds:
# postgres (database, user, password_secret) and redis."
    );
    if s.data.is_empty() {
        let _ = writeln!(
            w,
            "# No postgres or redis service was found.\n\
             # [data.db]\n# service = \"db\"\n# kind = \"postgres\"\n# database = \"app\"\n# user = \"postgres\""
        );
    }
    for d in &s.data {
        let _ = writeln!(w, "# {}: {}.", d.service, d.why);
        let _ = writeln!(w, "[data.{}]", key(&d.name));
        let _ = writeln!(w, "service = {}", q(&d.service));
        match d.kind {
            DataKind::Postgres => {
                let _ = writeln!(w, "kind = \"postgres\"");
                match &d.database {
                    Some(db) => {
                        let _ = writeln!(w, "database = {}       # POSTGRES_DB", q(db));
                    }
                    None => {
                        let _ = writeln!(w, "# database = \"postgres\"   # the default");
                    }
                }
                match &d.user {
                    Some(u) => {
                        let _ = writeln!(w, "user = {}           # POSTGRES_USER", q(u));
                    }
                    None => {
                        let _ = writeln!(w, "# user = \"postgres\"       # the default");
                    }
                }
            }
            DataKind::Redis => {
                let _ = writeln!(w, "kind = \"redis\"");
            }
        }
    }

    let _ = writeln!(
        w,
        "
# Secrets: values gauntlet passes to the stack as compose variables
# (`generate = true`: a fresh random value for every run it starts), reads
# back from a service's environment, and takes from your environment for
# --target. Never printed; journeys use them as {{{{secret.NAME}}}}."
    );
    if s.secrets.is_empty() {
        let _ = writeln!(
            w,
            "# [secrets.api_token]\n# variable = \"API_TOKEN\"\n# generate = true\n# service = {}\n# env = \"API_TOKEN\"",
            q(&primary.service)
        );
    } else {
        let _ = writeln!(w, "# Variables of the compose file that look like secrets:");
    }
    for (i, secret) in s.secrets.iter().take(4).enumerate() {
        if i > 0 {
            let _ = writeln!(w, "#");
        }
        let _ = writeln!(
            w,
            "# [secrets.{}]\n# variable = {}\n# generate = true\n# service = {}\n# env = {}",
            key(&secret.name),
            q(&secret.variable),
            q(&secret.service),
            q(&secret.env)
        );
    }

    let _ = writeln!(
        w,
        "
# Defect switches: what `--defects` may name, passed to the system in one
# compose variable (comma separated). Without it, --defects is refused.
# [defects]
# variable = \"APP_DEFECTS\"
# switches = [\"skip_cache_invalidation\"]

# Invariants: checked after load, chaos and drills, on a [data] service.
# Postgres: `sql` whose rows are violations; redis: `command` and `expect`.
# [[invariants]]
# name = \"orders add up\"
# data = \"db\"
# sql = \"SELECT id FROM orders WHERE total < 0\"

# Checks: the probes `gauntlet check` runs besides readiness, identity, data
# services and PM2. `status` (default 200), `json` (pointer = value),
# `headers`, `contains`.
# [[checks]]
# name = \"unknown path is 404\"
# endpoint = {endpoint}
# path = \"/no-such-page\"
# status = 404

# Where journeys, load profiles, the SLO file and chaos experiments live
# (relative to this file; these are the defaults).
[paths]
journeys = {journeys}
profiles = {profiles}
slo = {slo}
experiments = {experiments}",
        endpoint = q(&primary.name),
        journeys = q(&path_text(&layout.paths.journeys)),
        profiles = q(&path_text(&layout.paths.profiles)),
        slo = q(&path_text(&layout.paths.slo)),
        experiments = q(&path_text(&layout.paths.experiments)),
    );
    if !s.notes.is_empty() {
        let _ = writeln!(w, "\n# Seen in the compose file and not used:");
        for note in &s.notes {
            let _ = writeln!(w, "#   {note}");
        }
    }
    t
}

fn journey(s: &System) -> String {
    let e = s.primary();
    let r = s.primary_readiness();
    format!(
        "\
# The first journey, written by `gauntlet init`: the file stem is its name
# (`gauntlet journeys --only {SMOKE}`). A journey is a named sequence of
# steps, each a request (or a probe) and what it must answer; journeys run
# concurrently and a failed one is retried once. Format: docs/steps.md in
# the gauntlet repository (step keys, expectations, matchers such as
# {{ lt = 500 }}, templates such as {{{{unique}}}} and {{{{secret.NAME}}}}).
about = {about}
endpoint = {endpoint}           # default endpoint of the steps ([endpoints] in gauntlet.toml)

[[step]]
name = {name}
method = \"GET\"
path = {path}
expect = {{ status = {status} }}
# expect = {{ status = 200, json = {{ \"/status\" = \"ok\" }}, max_duration = \"500ms\" }}

# Next: one step per thing a user does, e.g.
# [[step]]
# name = \"create an item\"
# method = \"POST\"
# path = \"/items\"
# json = {{ name = \"{{{{fake.word}}}}-{{{{unique}}}}\" }}
# expect = {{ status = 201 }}
# capture = {{ item = \"/id\" }}
",
        about = q(&format!("{} answers GET {}", e.name, r.path)),
        endpoint = q(&e.name),
        name = q(&format!("GET {} answers {}", r.path, expect_words(s))),
        path = q(&r.path),
        status = expect_status(s),
    )
}

fn profile(s: &System) -> String {
    let e = s.primary();
    let r = s.primary_readiness();
    format!(
        "\
# {SMOKE}: does the system take a little load at all? 5 users, 10 s.
# Written by `gauntlet init`; run it with `gauntlet load --profile {SMOKE}`
# (a fresh stack, torn down after; --run ID or --target URL to reuse one).
# Judged against the SLO file ([paths] slo in gauntlet.toml).
description = {description}
mode = \"closed\"                  # N users, each sends, waits for the answer, thinks, sends again
users = 5
duration = \"10s\"
think_time = {{ min = \"100ms\", max = \"500ms\" }}   # each user's pause between two transactions
request_timeout = \"10s\"

# The transaction mix: name = weight. Each name is a [transactions.NAME]
# below: one request template (the request and `expect` keys of a journey
# step, docs/steps.md); a response that fails `expect` counts as an error.
# SLOs are judged per name ([transaction.NAME] in the SLO file).
[mix]
{TRANSACTION} = 1

[transactions.{TRANSACTION}]
endpoint = {endpoint}
method = \"GET\"
path = {path}
expect = {{ status = {status} }}

# Compose variables the stack needs for this load (raised rate limits, say),
# passed when the stack is brought up:
# [system]
# RATE_LIMIT = \"100000/60s\"
",
        description = q(&format!("5 users for 10 s on GET {} of {}", r.path, e.name)),
        endpoint = q(&e.name),
        path = q(&r.path),
        status = expect_status(s),
    )
}

fn slo() -> String {
    format!(
        "\
# Service level objectives of the load profiles, judged by `gauntlet load`
# for the whole run and for each phase. Written by `gauntlet init` with
# loose limits: a starting point; tighten them once you know what the
# system does. Each limit is strict: the observed value must be below it.
#
# Keys per table: p50, p90, p95, p99, max (durations: \"500ms\", \"1s\"),
# error_rate (percent: \"1%\"). Per transaction: [transaction.NAME]; per
# profile: [profile.NAME] (where \"off\" removes a limit).

# Stop the attack at the first breach of a whole-run SLO instead of running
# to the end.
abort_on_breach = false

# Every request of the run.
[global]
p95 = \"1s\"
error_rate = \"5%\"

# [transaction.{TRANSACTION}]
# p95 = \"500ms\"

# [profile.{SMOKE}]
# abort_on_breach = true
"
    )
}

fn experiment(s: &System) -> String {
    let e = s.primary();
    let r = s.primary_readiness();
    let name = experiment_name(s);
    format!(
        "\
# {name}: written by `gauntlet init`. Run it with `gauntlet chaos {name}`
# (on a fresh stack, torn down after) or `gauntlet chaos {name} --run RUN_ID`
# (on a stack from `gauntlet up`). Format: chaos/experiments/README.md in the
# gauntlet repository (probes, actions, thresholds).
title = {title}
description = \"\"\"
The {service} container is restarted (SIGTERM, then SIGKILL after the grace
period) and must serve again by itself: GET {path} on {endpoint} answers
{status} before the restart, and again within the RTO after it.\"\"\"

# Must hold before the fault, and again (three good rounds in a row) for
# recovery. Other probes: sql, redis (with [data]), pm2 (with [pm2]).
[steady_state]
probes = [
  {{ http = {path_q}, endpoint = {endpoint_q}, status = {status} }},
]

# Optional: what must be seen while the fault is on, e.g. with a
# duration-bound fault (`kill_container` with `duration = \"5s\"`):
# [expect_during_fault]
# probes = [ {{ http = {path_q}, endpoint = {endpoint_q}, status = 503 }} ]

[[method]]
action = \"restart_container\"     # proven by a new container start time
service = {service_q}
# timeout = \"10s\"                # grace between SIGTERM and SIGKILL

[thresholds]
rto = \"60s\"                      # from the end of the restart until the steady state holds again
",
        title = q(&format!(
            "The {} container restarted: {} serves again",
            e.service, e.name
        )),
        service = e.service,
        path = r.path,
        endpoint = e.name,
        status = r.status,
        path_q = q(&r.path),
        endpoint_q = q(&e.name),
        service_q = q(&e.service),
    )
}
