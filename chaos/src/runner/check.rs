//! Before anything runs: does the system have what the experiment names?
//! Two looks: the project file ([`check_config`], known before any stack
//! exists, so the CLI refuses such an experiment with exit 2), then the
//! running stack ([`check_stack`]).

use std::collections::BTreeSet;

use gauntlet_harness::config::{Config, DataKind};

use crate::experiment::{Action, Experiment, IdSource, ProbeKind};
use crate::names::{ADMIN_TOKEN, API, SINK, TOXIPROXY, WEBHOOK_SECRET};
use crate::probes::resolve_data;
use crate::workload::default_endpoint;
use crate::ChaosContext;

/// What the experiment needs from the project file, each only if the
/// experiment uses it: PM2 (PM2 actions and probes), each HTTP probe's and
/// `http` action's endpoint, the data service each SQL or Redis probe,
/// `publish` and `[accounting]` source reads or writes, the `toxiproxy`
/// endpoint (fault-proxy actions), the `api` and `sink` endpoints and the
/// secrets the writers send, and every secret a template names. Each
/// problem names the experiment and what is missing where.
pub fn check_config(exp: &Experiment, config: &Config) -> Vec<String> {
    let who = match &exp.path {
        Some(path) => format!("experiment `{}` ({})", exp.name, path.display()),
        None => format!("experiment `{}`", exp.name),
    };
    let source = config.describe_source();
    let endpoints = || join(config.endpoints.keys().map(String::as_str));
    let mut problems = BTreeSet::new();
    let steps = exp.method.iter().chain(&exp.rollbacks);
    let after: &[crate::experiment::Probe] = exp
        .after_fault
        .as_ref()
        .map(|a| a.probes.as_slice())
        .unwrap_or_default();
    let probes = exp
        .steady_state
        .iter()
        .chain(&exp.expect_during_fault)
        .chain(after);

    let uses_pm2 = steps.clone().any(|s| s.action.uses_pm2())
        || probes
            .clone()
            .any(|p| matches!(p.kind, ProbeKind::Pm2 { .. }));
    if uses_pm2 {
        if let Err(e) = config.require_pm2(&who) {
            problems.insert(e.to_string());
        }
    }
    let endpoint = |user: String, name: &str| {
        (!config.endpoints.contains_key(name)).then(|| {
            format!(
                "{who}: {user} uses the endpoint `{name}`, which {source} does not declare \
                 (endpoints: {})",
                endpoints()
            )
        })
    };
    for probe in probes.clone() {
        if let ProbeKind::Journey { journey } = &probe.kind {
            match gauntlet_journeys::Catalog::load(config) {
                Err(e) => {
                    problems.insert(format!("{who}: probe `{}`: {e}", probe.name));
                }
                Ok(catalog) if !catalog.names().contains(&journey.as_str()) => {
                    problems.insert(format!(
                        "{who}: probe `{}`: unknown journey `{journey}`; journeys of {source}: {}",
                        probe.name,
                        join(catalog.names().into_iter())
                    ));
                }
                Ok(_) => {}
            }
        }
        if let ProbeKind::Http { endpoint: e, .. } = &probe.kind {
            match (e, default_endpoint(config)) {
                (Some(e), _) => problems.extend(endpoint(format!("probe `{}`", probe.name), e)),
                (None, Some(_)) => {}
                (None, None) => {
                    problems.insert(format!(
                        "{who}: probe `{}` names no `endpoint`, and {source} has no default \
                         one (no identity endpoint, no `api`, and not exactly one endpoint; \
                         endpoints: {})",
                        probe.name,
                        endpoints()
                    ));
                }
            }
        }
    }
    for step in steps.clone() {
        if let Action::Http(h) = &step.action {
            match (&h.request.endpoint, default_endpoint(config)) {
                (Some(e), _) => {
                    problems.extend(endpoint(
                        format!("line {}: http {}", step.line, h.describe()),
                        e,
                    ));
                }
                (None, Some(_)) => {}
                (None, None) => {
                    problems.insert(format!(
                        "{who}: line {}: http {} names no `endpoint`, and {source} has no \
                         default one (no identity endpoint, no `api`, and not exactly one \
                         endpoint; endpoints: {})",
                        step.line,
                        h.describe(),
                        endpoints()
                    ));
                }
            }
        }
    }
    if let Some(a) = &exp.accounting {
        for (what, s) in std::iter::once(("delivered", &a.delivered))
            .chain(a.dead_letter.as_ref().map(|d| ("dead_letter", d)))
        {
            if let IdSource::Http { endpoint: e, .. } = s {
                problems.extend(endpoint(format!("[accounting] {what}"), e));
            }
        }
    }

    let data = |user: String, kind: DataKind, name: Option<&str>, service: Option<&str>| {
        resolve_data(config, kind, name, service)
            .err()
            .map(|e| format!("{who}: {user}: {e}"))
    };
    for probe in probes {
        match &probe.kind {
            ProbeKind::Sql { data: d, .. } => problems.extend(data(
                format!("probe `{}` runs SQL", probe.name),
                DataKind::Postgres,
                d.as_deref(),
                None,
            )),
            ProbeKind::Redis {
                data: d, service, ..
            } => problems.extend(data(
                format!("probe `{}` runs redis-cli", probe.name),
                DataKind::Redis,
                d.as_deref(),
                service.as_deref(),
            )),
            _ => {}
        }
    }
    for step in steps.clone() {
        if let Action::Publish(p) = &step.action {
            let kind = if p.into.is_redis() {
                DataKind::Redis
            } else {
                DataKind::Postgres
            };
            problems.extend(data(
                format!("line {}: {}", step.line, step.action),
                kind,
                p.data.as_deref(),
                None,
            ));
        }
    }
    if let Some(a) = &exp.accounting {
        for (what, s) in std::iter::once(("delivered", &a.delivered))
            .chain(a.dead_letter.as_ref().map(|d| ("dead_letter", d)))
        {
            let user = format!("[accounting] {what} reads {}", s.describe());
            match s {
                IdSource::Sql { data: d, .. } => {
                    problems.extend(data(user, DataKind::Postgres, d.as_deref(), None))
                }
                other => {
                    if let Some(d) = other.redis_data() {
                        problems.extend(data(user, DataKind::Redis, d, None));
                    }
                }
            }
        }
        if let Some(p) = &a.pending {
            problems.extend(data(
                "[accounting] pending reads XPENDING".to_string(),
                DataKind::Redis,
                p.data.as_deref(),
                None,
            ));
        }
    }

    if steps.clone().any(|s| s.action.proxy().is_some())
        && !config.endpoints.contains_key(TOXIPROXY)
    {
        problems.insert(format!(
            "{who}: uses the fault proxy, but {source} declares no endpoint `{TOXIPROXY}` \
             ([endpoints] or the label dev.gauntlet.endpoints; endpoints: {})",
            endpoints()
        ));
    }
    if let Some(w) = &exp.writers {
        for endpoint in [API, SINK] {
            if !config.endpoints.contains_key(endpoint) {
                problems.insert(format!(
                    "{who}: its [writers] need the endpoint `{endpoint}`, which {source} does \
                     not declare (endpoints: {})",
                    endpoints()
                ));
            }
        }
        let secrets = [
            (
                ADMIN_TOKEN,
                w.checkouts_per_sec > 0.0 || w.credits_per_sec > 0.0,
            ),
            (WEBHOOK_SECRET, w.webhooks_per_sec > 0.0),
        ];
        for (secret, needed) in secrets {
            if needed && !config.secrets.contains_key(secret) {
                problems.insert(format!(
                    "{who}: its [writers] need the secret `{secret}`, which [secrets] of \
                     {source} does not declare"
                ));
            }
        }
    }
    for secret in &exp.secrets {
        if !config.secrets.contains_key(secret) {
            problems.insert(format!(
                "{who}: a template names `{{{{secret.{secret}}}}}`, which [secrets] of {source} \
                 does not declare (secrets: {})",
                join(config.secrets.keys().map(String::as_str))
            ));
        }
    }
    problems.into_iter().collect()
}

/// Every experiment against the project file, before anything starts: a
/// usage error (exit 2) with every problem, experiment by experiment.
pub fn check_experiments(
    experiments: &[Experiment],
    config: &Config,
) -> gauntlet_harness::Result<()> {
    let problems: Vec<String> = experiments
        .iter()
        .flat_map(|e| check_config(e, config))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(gauntlet_harness::Error::Usage(problems.join("\n")))
    }
}

/// The project file's problems ([`check_config`]), then what the experiment
/// names that the running stack must have: services, fault-proxy links,
/// PM2 processes. Each problem says what is missing and what there is.
pub async fn check_stack(ctx: &ChaosContext, exp: &Experiment) -> Vec<String> {
    let problems = check_config(exp, &ctx.sut().config);
    if !problems.is_empty() {
        return problems;
    }
    let compose = ctx.stack().compose();
    let services: Vec<&str> = compose.services.iter().map(|s| s.name.as_str()).collect();
    let mut problems = BTreeSet::new();
    let steps = exp.method.iter().chain(&exp.rollbacks);

    let file = exp
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| exp.name.clone());
    let after: &[crate::experiment::Probe] = exp
        .after_fault
        .as_ref()
        .map(|a| a.probes.as_slice())
        .unwrap_or_default();
    for probe in exp
        .steady_state
        .iter()
        .chain(&exp.expect_during_fault)
        .chain(after)
    {
        if let ProbeKind::Exec { service, .. } = &probe.kind {
            if !services.contains(&service.as_str()) {
                problems.insert(format!(
                    "{file}: probe `{}` runs a command in the service `{service}`, which {} \
                     does not have (services: {})",
                    probe.name,
                    compose.path.display(),
                    services.join(", ")
                ));
            }
        }
    }
    for step in steps.clone() {
        if let Some(service) = step.action.service() {
            if !services.contains(&service) {
                problems.insert(format!(
                    "{file}:{}: {} names service `{service}`, which {} does not have \
                     (services: {})",
                    step.line,
                    step.action.kind(),
                    compose.path.display(),
                    services.join(", ")
                ));
            }
        }
    }

    let proxies: BTreeSet<&str> = steps.clone().filter_map(|s| s.action.proxy()).collect();
    if !proxies.is_empty() {
        let api = ctx.proxy().await;
        match api.proxies().await {
            Ok(list) => {
                let known: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
                for p in proxies.iter().filter(|p| !known.contains(p)) {
                    problems.insert(format!(
                        "the fault proxy has no proxy `{p}` (proxies: {})",
                        known.join(", ")
                    ));
                }
            }
            Err(e) => {
                problems.insert(format!(
                    "the fault proxy at {} is unreachable: {e}",
                    api.url()
                ));
            }
        }
    }

    // Processes must exist now; a method that first kills PM2 cannot be
    // checked further than that.
    let processes: BTreeSet<&str> = steps
        .filter_map(|s| match &s.action {
            Action::KillProcess { process, .. }
            | Action::Pm2Restart { process }
            | Action::CrashLoop { process, .. } => Some(process.as_str()),
            _ => None,
        })
        .collect();
    if !processes.is_empty() {
        if let Ok(list) = gauntlet_harness::pm2::processes(ctx.stack()).await {
            let known: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
            if !known.is_empty() {
                for p in processes.iter().filter(|p| !known.contains(p)) {
                    problems.insert(format!(
                        "PM2 has no process `{p}` (processes: {})",
                        known.join(", ")
                    ));
                }
            }
        }
    }
    problems.into_iter().collect()
}

/// `a, b`, or `none`.
fn join<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use gauntlet_harness::config::Overrides;

    use super::*;
    use crate::experiment::{load_dir, parse, shipped_dir};

    fn experiment(name: &str, text: &str) -> Experiment {
        parse(text, Path::new("t.toml"), name).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A system with a web endpoint and a Redis in `cache`, nothing else.
    fn foreign() -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gauntlet.toml");
        std::fs::write(
            &path,
            "[endpoints.web]\nservice = \"web\"\nport = 80\n\
             [data.cache]\nservice = \"cache\"\nkind = \"redis\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&path), Overrides::default()).unwrap();
        (dir, config)
    }

    #[test]
    fn the_reference_system_has_what_every_shipped_experiment_needs() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gauntlet.toml");
        let config = Config::load(Some(&path), Overrides::default()).unwrap();
        let all = load_dir(shipped_dir()).unwrap();
        check_experiments(&all, &config).unwrap();
    }

    #[test]
    fn a_journey_probe_names_a_journey_of_the_project() {
        let (dir, config) = foreign();
        std::fs::create_dir(dir.path().join("journeys")).unwrap();
        std::fs::write(
            dir.path().join("journeys/visit.toml"),
            "[[step]]\npath = \"/\"\n",
        )
        .unwrap();
        let probe = |name: &str| {
            experiment(
                "j",
                &format!(
                    "title = \"t\"\n[steady_state]\nprobes = [ {{ journey = \"{name}\" }} ]\n\
                     [[method]]\naction = \"kill_container\"\nservice = \"cache\"\n"
                ),
            )
        };
        assert!(check_experiments(&[probe("visit")], &config).is_ok());
        let err = check_experiments(&[probe("shopper")], &config)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown journey `shopper`; journeys of") && err.contains(": visit"),
            "{err}"
        );
    }

    #[test]
    fn an_experiment_that_needs_pm2_is_refused_without_it_naming_both() {
        let (_dir, config) = foreign();
        let exp = experiment(
            "pm2_only",
            "title = \"t\"\n[steady_state]\nprobes = [ { pm2 = \"api\" } ]\n\
             [[method]]\naction = \"pm2_kill\"\n",
        );
        let err = check_experiments(&[exp], &config).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(
            text.contains("experiment `pm2_only` needs PM2") && text.contains("no [pm2] section"),
            "{text}"
        );
    }

    #[test]
    fn endpoints_data_services_and_secrets_are_needed_only_when_used() {
        let (_dir, config) = foreign();
        let plain = experiment(
            "plain",
            "title = \"t\"\n[steady_state]\nprobes = [\n\
             { http = \"/\", endpoint = \"web\" },\n\
             { http = \"/health\" },\n\
             { redis = \"PING\", expect = \"PONG\", service = \"cache\" },\n]\n\
             [[method]]\naction = \"kill_container\"\nservice = \"cache\"\n",
        );
        assert_eq!(check_config(&plain, &config), Vec::<String>::new());

        let needy = experiment(
            "needy",
            "title = \"t\"\n[steady_state]\nprobes = [\n\
             { http = \"/api/healthz\", endpoint = \"api\" },\n\
             { sql = \"SELECT 1\", expect = \"1\" },\n\
             { redis = \"PING\", expect = \"PONG\", service = \"redis\" },\n]\n\
             [[method]]\naction = \"proxy_down\"\nproxy = \"db\"\n\
             [writers]\ncheckouts_per_sec = 1\nwebhooks_per_sec = 1\n",
        );
        let problems = check_config(&needy, &config).join("\n");
        for missing in [
            "uses the endpoint `api`, which",
            "declares no postgres data service",
            "runs redis-cli: the service `redis` is not declared in [data]",
            "declares no endpoint `toxiproxy`",
            "need the endpoint `sink`",
            "need the secret `admin_token`",
            "need the secret `webhook_secret`",
        ] {
            assert!(problems.contains(missing), "{missing}: {problems}");
        }
        assert!(
            problems
                .lines()
                .all(|l| l.starts_with("experiment `needy`")),
            "{problems}"
        );
    }

    #[test]
    fn the_new_actions_probes_and_checks_need_only_what_they_use() {
        let (_dir, config) = foreign();
        // A redis probe without `data` or `service` uses the only redis
        // data service; publish, http and accounting likewise.
        let plain = experiment(
            "plain",
            r#"title = "t"
[steady_state]
probes = [
  { redis = ["XLEN", "events"], expect = { ge = 0 } },
  { exec = ["true"], service = "web" },
  { http = "/health", endpoint = "web", json = { "/status" = "ok" } },
]
[[method]]
action = "publish"
stream = "events"
fields = { id = "{{unique}}-{{index}}" }
count = 3
[[method]]
action = "http"
method = "POST"
path = "/hits"
[[method]]
action = "exec"
service = "web"
command = ["true"]
[after_fault]
within = "10s"
probes = [ { redis = "PING", expect = "PONG", data = "cache" } ]
[accounting]
delivered = { redis = "set", key = "done" }
dead_letter = { redis = "list", key = "dead", field = "id" }
within = "5s"
pending = { group = "g", stream = "events" }
"#,
        );
        assert_eq!(check_config(&plain, &config), Vec::<String>::new());

        let needy = experiment(
            "needy",
            r#"title = "t"
[steady_state]
probes = [ { http = "/", endpoint = "web" } ]
[[method]]
action = "publish"
table = "events"
row = { id = "{{unique}}" }
[[method]]
action = "http"
endpoint = "api"
path = "/x"
headers = { x-token = "{{secret.nope}}" }
[after_fault]
within = "10s"
probes = [ { sql = "SELECT 1", expect = { ge = 1 } }, { redis = "PING", expect = "PONG", data = "other" } ]
[accounting]
delivered = { http = "/delivered", endpoint = "sink", pointer = "/ids" }
dead_letter = { sql = "SELECT id FROM dead" }
within = "5s"
"#,
        );
        let problems = check_config(&needy, &config).join("\n");
        for missing in [
            "line 4: publish 1 event into table events: [data] of",
            "line 8: http GET /x on api uses the endpoint `api`, which",
            "[accounting] delivered uses the endpoint `sink`",
            "[accounting] dead_letter reads sql SELECT id FROM dead: [data] of",
            "probe `sql SELECT 1 >= 1` runs SQL",
            "declares no data service `other`",
            "a template names `{{secret.nope}}`",
        ] {
            assert!(problems.contains(missing), "{missing}: {problems}");
        }
        assert_eq!(problems.lines().count(), 7, "{problems}");
    }
}
