//! Command-line definitions. Every flag is documented here, and `--help`
//! shows it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "gauntlet", version, about = "Test and chaos harness for any system in containers: journeys, load, properties, chaos, restore drills", long_about = None)]
#[command(
    after_help = "Exit codes: 0 ok, 1 a check failed, 2 usage or configuration error, \
3 environment error (e.g. no Docker), 130 interrupted."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The project file describing the system under test (default: the
    /// nearest gauntlet.toml upward; env GAUNTLET_CONFIG).
    #[arg(long, global = true, env = "GAUNTLET_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Namespace for runs (like compose's project name); `down --all` reaps
    /// only this project's runs. Overrides [system] project (env
    /// GAUNTLET_PROJECT; default `gauntlet`).
    #[arg(long, global = true, value_name = "NAME")]
    pub project: Option<String>,
    /// The compose file defining the stack; overrides [stack] compose (env
    /// GAUNTLET_COMPOSE; default: the project's, or the nearest
    /// docker-compose.yml).
    #[arg(long, global = true, value_name = "FILE")]
    pub compose: Option<PathBuf>,
}

// Parsed once per process: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build what is missing, start a new run's stack, wait until it serves.
    Up(UpArgs),
    /// Remove a run's containers, network and volumes (default: the latest run).
    Down(DownArgs),
    /// Show each service and PM2 process of a run (default: the latest run).
    Status(StatusArgs),
    /// Check the machine (Docker, base image, CA bundle, tools); --fix repairs.
    Doctor(DoctorArgs),
    /// Stage the system binary and build the stack's images.
    Build(BuildArgs),
    /// Smoke-check a running target: identity, deep health, API, web, PM2.
    Check(CheckArgs),
    /// Run the synthetic journeys against the latest run or any target.
    Journeys(JourneysArgs),
    /// The CI gate: up, journeys, down. Exits 1 if any journey fails.
    Gate(GateArgs),
    /// Run a load profile (goose) and judge it against the SLOs.
    Load(LoadArgs),
    /// Property tests of the rules engines, black-box over HTTP, with
    /// shrinking and replayable cases.
    Props(PropsArgs),
    /// Chaos experiments: faults with proven injection and removal,
    /// recovery time, and a write ledger reconciled afterwards.
    Chaos(ChaosArgs),
    /// Backup and restore drills: back up while writes flow, destroy the
    /// database, restore into a new one, verify it, measure RTO and RPO.
    #[command(subcommand)]
    Drill(DrillCommand),
    /// Backups of a running stack: take one now, list them, or check that
    /// the newest is fresh (exit 1 when stale or missing).
    Backup(BackupArgs),
    /// Benchmarks of gauntlet itself.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Print the effective configuration (gauntlet.toml, environment,
    /// flags, defaults) with the origin of every value; secrets masked.
    Config(ConfigArgs),
    /// Write a first gauntlet.toml, smoke journey, load profile, SLO file
    /// and restart experiment, inferred from the compose file (--compose,
    /// else ./docker-compose.yml). Never overwrites a file.
    Init(InitArgs),
    /// Render a run directory's report.html again from its JSON files
    /// (run.json, load.json, chaos.json, drill.json, journeys.json,
    /// props.json); --open shows it in a browser.
    Report(ReportArgs),
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Print as JSON (values and origins) instead of annotated TOML.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct BinaryArgs {
    /// Do not run the project's build hook ([stack] build_hook); build the
    /// images from what is staged.
    #[arg(long, alias = "no-cargo", conflicts_with = "system_bin")]
    pub no_build_hook: bool,
    /// Passed to the build hook as GAUNTLET_SYSTEM_BIN (the reference
    /// system's hook stages this prebuilt binary instead of running cargo).
    #[arg(long, value_name = "PATH")]
    pub system_bin: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Seed for fixtures and everything random in the run (default: random,
    /// always printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Defect switches to enable in the system, comma separated; each must
    /// be declared in the project's [defects] switches.
    #[arg(long, value_name = "LIST", default_value = "")]
    pub defects: String,
    /// Seconds each service may take to become ready (overrides [stack]
    /// service_timeout; env GAUNTLET_SERVICE_TIMEOUT; default 120).
    #[arg(long, value_name = "SECONDS")]
    pub service_timeout: Option<u64>,
    #[command(flatten)]
    pub binary: BinaryArgs,
}

#[derive(Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Use this run id instead of a random one.
    #[arg(long)]
    pub run_id: Option<String>,
    /// If start-up fails, leave the run in place to inspect it.
    #[arg(long)]
    pub keep_on_failure: bool,
    /// Print the run as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DownArgs {
    /// The run to remove (default: the latest run started from this checkout).
    pub run_id: Option<String>,
    /// Remove every run of the project, including leftovers of crashed runs.
    #[arg(long, conflicts_with = "run_id")]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The run to show (default: the latest run started from this checkout).
    pub run_id: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// List every run of the project instead.
    #[arg(long, conflicts_with = "run_id")]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Run ci/bootstrap.sh to fix what is missing (needs root).
    #[arg(long)]
    pub fix: bool,
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    #[command(flatten)]
    pub binary: BinaryArgs,
    /// Print `GAUNTLET_<SERVICE>_TAG=...` lines for `docker-compose` by hand.
    #[arg(long)]
    pub env: bool,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Base URL of a deployment's primary endpoint (default: the latest run's).
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Base URL of the web front end (with --target; same as --endpoint web=URL).
    #[arg(long, value_name = "URL", requires = "target")]
    pub web: Option<String>,
    /// Allow a target that is not on this machine.
    #[arg(long)]
    pub allow_remote: bool,
    /// Another endpoint of the deployment, as NAME=URL (repeatable; e.g.
    /// web=http://127.0.0.1:8081). Secrets come from each [secrets]
    /// variable in the environment.
    #[arg(long, value_name = "NAME=URL", requires = "target", value_parser = parse_endpoint)]
    pub endpoint: Vec<(String, String)>,
    /// Check this run instead of the latest.
    #[arg(long, conflicts_with = "target")]
    pub run: Option<String>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// What to run and how long it may take; shared by `journeys` and `gate`.
#[derive(Args, Debug, Clone)]
pub struct JourneyArgs {
    /// Run only these journeys (comma separated); `--list` shows them.
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub only: Vec<String>,
    /// Time budget for all journeys together (e.g. 60s, 2m); over it, the run fails.
    #[arg(long, default_value = "60s", value_parser = parse_budget)]
    pub budget: std::time::Duration,
    /// A journey that fails and then passes on retry is reported as flaky
    /// and fails the run, unless this is given.
    #[arg(long)]
    pub allow_flaky: bool,
    /// Write junit.xml, summary.md and journeys.json here (default:
    /// target/gauntlet/<run-id>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `--endpoint NAME=URL`, parsed.
fn parse_endpoint(text: &str) -> Result<(String, String), String> {
    let (name, url) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=URL"))?;
    if name.is_empty() || url.is_empty() {
        return Err(format!("`{text}` is not NAME=URL"));
    }
    Ok((name.to_string(), url.to_string()))
}

fn parse_budget(text: &str) -> Result<std::time::Duration, String> {
    gauntlet_harness::compose::parse_duration(text).and_then(|d| {
        if d.is_zero() {
            Err("the budget must be more than zero".into())
        } else {
            Ok(d)
        }
    })
}

#[derive(Args, Debug)]
pub struct JourneysArgs {
    #[command(flatten)]
    pub journeys: JourneyArgs,
    /// Seed for the journeys' fake data (default: random, always printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Base URL of an already running deployment's primary endpoint (the
    /// identity endpoint, else `api`); no containers. Secrets come from each
    /// [secrets] variable in the environment.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Base URL of the web front end (with --target).
    #[arg(long, value_name = "URL", requires = "target")]
    pub web: Option<String>,
    /// Base URL of the notification sink (with --target).
    #[arg(long, value_name = "URL", requires = "target")]
    pub sink: Option<String>,
    /// Allow a target that is not a loopback address.
    #[arg(long)]
    pub allow_remote: bool,
    /// Another endpoint of the deployment, as NAME=URL (repeatable; e.g.
    /// web=http://127.0.0.1:8081). Secrets come from each [secrets]
    /// variable in the environment.
    #[arg(long, value_name = "NAME=URL", requires = "target", value_parser = parse_endpoint)]
    pub endpoint: Vec<(String, String)>,
    /// Run against this run instead of the latest.
    #[arg(long, conflicts_with = "target")]
    pub run: Option<String>,
    /// List the journeys and exit.
    #[arg(long)]
    pub list: bool,
}

#[derive(Args, Debug)]
pub struct GateArgs {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub journeys: JourneyArgs,
    /// Keep the stack after the gate (default: always torn down).
    #[arg(long)]
    pub keep: bool,
}

/// `gauntlet load`: a profile against a stack or target; or, with a
/// subcommand, merging shards (`merge`) or rendering them for a cluster
/// (`k8s`).
///
/// Exit codes: 0 when every SLO passes (and the invariants hold), 1 on a
/// breach, a broken invariant or contract, or an aborted attack; 2 for bad
/// options or files; 3 when Docker or the stack is missing. With `--shard
/// I/N` the run is one part of a sharded run: its verdicts are printed,
/// but it exits 0 once its results are written (the merge judges the run).
#[derive(Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Exit codes: 0 every SLO passes and the invariants hold; 1 a breach, a broken \
invariant or contract, or an aborted attack; 2 bad options or files (profile, SLOs, shards that \
do not belong together); 3 no Docker or a generator that crashed; 130 interrupted. With --shard \
I/N: 0 once the shard's results are written (its verdicts are printed; `load merge` judges the run)."
)]
pub struct LoadArgs {
    #[command(subcommand)]
    pub command: Option<LoadCommand>,
    /// Profile name (scenarios/profiles/NAME.toml) or a path to a profile file.
    #[arg(long, required = true)]
    pub profile: Option<String>,
    /// SLO file (default: scenarios/slo.toml).
    #[arg(long, value_name = "FILE")]
    pub slo: Option<PathBuf>,
    /// Base URL of an already running deployment's primary endpoint (no
    /// stack is started, no invariant check). Secrets from each [secrets]
    /// variable in the environment.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Allow a target that is not a loopback address.
    #[arg(long)]
    pub allow_remote: bool,
    /// Another endpoint of the deployment, as NAME=URL (repeatable; e.g.
    /// web=http://127.0.0.1:8081). Secrets come from each [secrets]
    /// variable in the environment.
    #[arg(long, value_name = "NAME=URL", requires = "target", value_parser = parse_endpoint)]
    pub endpoint: Vec<(String, String)>,
    /// Load this running stack (from `gauntlet up`) instead of starting one.
    #[arg(long = "run", value_name = "RUN_ID", conflicts_with = "target")]
    pub run_id: Option<String>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Keep the stack after the run.
    #[arg(long, conflicts_with_all = ["target", "run_id"])]
    pub keep: bool,
    /// Where the reports go (default: target/gauntlet/<run-id>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also keep goose's own per-request metrics and write its reports
    /// (goose-report.{html,json,md}); costs generator throughput.
    #[arg(long)]
    pub goose_reports: bool,
    /// Run shard I of N (0-based) of a sharded run: floor(U/N) users of
    /// every phase, plus one for the first U % N shards; open-mode rates
    /// divided by N; a seed of its own derived from --seed and I. Pass the
    /// same --seed to every shard, then `gauntlet load merge` their folders.
    #[arg(long, value_name = "I/N", value_parser = parse_shard, conflicts_with = "shards")]
    pub shard: Option<gauntlet_scenarios::ShardSpec>,
    /// With --local: run the profile as N shards, each in a generator
    /// container on the run's own Docker network, and merge them.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub shards: Option<u32>,
    /// Run the --shards generators on this machine (a rehearsal of a
    /// cluster run: `gauntlet load k8s`).
    #[arg(long, conflicts_with = "target")]
    pub local: bool,
    /// Scale each shard down to at most N users in any phase (open mode:
    /// the pool, with the rates scaled alike): to rehearse a profile made
    /// for a cluster (e.g. tier-100k) on one machine.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub users_per_shard: Option<u32>,
}

#[derive(Subcommand, Debug)]
pub enum LoadCommand {
    /// Merge the results of a sharded run (folders holding shard.json, or
    /// the files) into one load.json, shard.json and summary.md, and judge
    /// the SLOs. Exit 0 when every SLO passes, 1 on a breach, 2 when the
    /// shards do not belong together or some are missing (see --partial).
    Merge(LoadMergeArgs),
    /// Render Kubernetes manifests for a sharded run: a ConfigMap with the
    /// profile and SLOs, a ReadWriteMany claim for the results, an Indexed
    /// Job of N generators and a collector Job that merges them.
    K8s(LoadK8sArgs),
}

#[derive(Args, Debug)]
pub struct LoadMergeArgs {
    /// Shard results: folders holding shard.json, or shard.json files.
    #[arg(value_name = "DIR", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Merge the shards that are there when some are missing (the summary
    /// says which); without it, a missing shard is an error.
    #[arg(long)]
    pub partial: bool,
    /// SLO file (default: the project's [paths] slo).
    #[arg(long, value_name = "FILE")]
    pub slo: Option<PathBuf>,
    /// Where load.json, shard.json and summary.md go (default:
    /// target/gauntlet/<new run id>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct LoadK8sArgs {
    /// Profile name (scenarios/profiles/NAME.toml) or a path to a profile file.
    #[arg(long)]
    pub profile: String,
    /// How many load generators (default: the profile's `shards`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub shards: Option<u32>,
    /// The container image, with `gauntlet` on its PATH.
    #[arg(long, value_name = "IMAGE")]
    pub image: String,
    /// The primary endpoint's URL as the pods reach it (e.g.
    /// http://api.shop.svc:8080).
    #[arg(long, value_name = "URL")]
    pub target: String,
    /// Another endpoint, as NAME=URL (repeatable).
    #[arg(long, value_name = "NAME=URL", value_parser = parse_endpoint)]
    pub endpoint: Vec<(String, String)>,
    /// The namespace of every object (default: kubectl's current one).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// SLO file (default: the project's [paths] slo).
    #[arg(long, value_name = "FILE")]
    pub slo: Option<PathBuf>,
    /// The run's seed, passed to every shard (default: random, printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Passed to every generator: at most N users per shard.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub users_per_shard: Option<u32>,
    /// Size of the results claim.
    #[arg(long, value_name = "SIZE", default_value = "1Gi")]
    pub storage: String,
    /// Storage class of the results claim (one that offers ReadWriteMany;
    /// default: the cluster's default class).
    #[arg(long, value_name = "CLASS")]
    pub storage_class: Option<String>,
    /// Where load.yaml and merge.yaml go (default: target/gauntlet/<run-id>/k8s/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

fn parse_shard(text: &str) -> Result<gauntlet_scenarios::ShardSpec, String> {
    gauntlet_scenarios::ShardSpec::parse(text)
}

#[derive(Args, Debug)]
pub struct PropsArgs {
    /// Cases per property (default: each property's own count; see --list).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub cases: Option<u32>,
    /// Run only these properties (comma separated); --list shows them.
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub only: Vec<String>,
    /// Run exactly one recorded case: the token a failure prints (needs one --only).
    #[arg(long, value_name = "TOKEN")]
    pub replay: Option<String>,
    /// Where recorded failing cases are read from (re-run first) and new
    /// ones recorded (default: read [paths] regressions of the checkout,
    /// record into the run directory).
    #[arg(long, value_name = "DIR")]
    pub regressions: Option<PathBuf>,
    /// Record new failing cases into the checkout's regressions folder
    /// ([paths] regressions), to commit them, instead of the run directory.
    #[arg(long, conflicts_with = "regressions")]
    pub record: bool,
    /// Base URL of an already running deployment's primary endpoint (no
    /// stack is started). Secrets from each [secrets] variable in the
    /// environment (the admin token: GAUNTLET_ADMIN_TOKEN).
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Allow a target that is not a loopback address.
    #[arg(long)]
    pub allow_remote: bool,
    /// Another endpoint of the deployment, as NAME=URL (repeatable; e.g.
    /// web=http://127.0.0.1:8081). Secrets come from each [secrets]
    /// variable in the environment.
    #[arg(long, value_name = "NAME=URL", requires = "target", value_parser = parse_endpoint)]
    pub endpoint: Vec<(String, String)>,
    /// Use this running stack (from `gauntlet up`) instead of starting one;
    /// its admin token is read from the stack.
    #[arg(long = "run", value_name = "RUN_ID", conflicts_with = "target")]
    pub run_id: Option<String>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Keep the stack after the run.
    #[arg(long, conflicts_with_all = ["target", "run_id"])]
    pub keep: bool,
    /// Where the reports go (default: target/gauntlet/<run-id>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// List the properties and exit.
    #[arg(long)]
    pub list: bool,
}

#[derive(Args, Debug)]
pub struct ChaosArgs {
    /// Experiments to run (file stems in the experiments folder).
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// Run every experiment, one after another.
    #[arg(long, conflicts_with = "names")]
    pub all: bool,
    /// List the experiments and exit.
    #[arg(long)]
    pub list: bool,
    /// The experiments folder (default: the project's [paths] experiments).
    #[arg(long, value_name = "DIR")]
    pub experiments: Option<PathBuf>,
    /// Use this running stack (from `gauntlet up`) instead of starting one.
    #[arg(long = "run", value_name = "RUN_ID")]
    pub run_id: Option<String>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Keep the stack after the run.
    #[arg(long, conflicts_with = "run_id")]
    pub keep_stack: bool,
    /// Where chaos.json, junit.xml and summary.md go (default: target/gauntlet/<run-id>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum DrillCommand {
    /// The restore drill on a fresh stack: exit 0 when the restore is
    /// verified and within its thresholds, 1 when not (the reasons are
    /// printed), 2 for bad options, 3 when Docker or the stack is missing.
    Restore(DrillRestoreArgs),
}

#[derive(Args, Debug)]
pub struct DrillRestoreArgs {
    /// Fixture loaded into the stack before the backup.
    #[arg(long, default_value = "small", value_parser = ["small", "medium", "large"])]
    pub fixture: String,
    #[command(flatten)]
    pub run: RunArgs,
    /// Pause the writers before the backup: everything acknowledged is in
    /// it, so no write may be lost (threshold rpo_writes <= 0).
    #[arg(long, conflicts_with = "no_writes")]
    pub writes_paused: bool,
    /// No background writes (no ledger, no RPO).
    #[arg(long)]
    pub no_writes: bool,
    /// Writes per second of each kind (checkouts, webhooks, credit reservations).
    #[arg(long, default_value_t = 2.0, value_name = "N")]
    pub write_rate: f64,
    /// Seconds of writing after the backup, before the disaster.
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    pub write_after: u64,
    /// Threshold: RTO (disaster to journeys passing) below this many seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub max_rto: u64,
    /// Threshold: at most this many acknowledged writes lost (default: none,
    /// or 0 with --writes-paused).
    #[arg(long, value_name = "N")]
    pub max_rpo_writes: Option<u64>,
    /// Damage the backup or the restore on purpose, to see the drill fail:
    /// truncate-backup, exclude-table:TABLE, delete-rows:TABLE (comma list).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub sabotage: Vec<String>,
    /// Keep the stack after the drill.
    #[arg(long)]
    pub keep_stack: bool,
    /// Where drill.json, junit.xml and summary.md go (default: target/gauntlet/<run-id>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// take: one backup now (prints its manifest); list: every backup kept;
    /// check: is the newest younger than BACKUP_MAX_AGE?
    #[arg(value_enum)]
    pub action: BackupAction,
    /// The run (default: the latest run started from this checkout).
    #[arg(long = "run", value_name = "RUN_ID")]
    pub run_id: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupAction {
    Take,
    List,
    Check,
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Maximum request rate of gauntlet's load generator against wrk on one
    /// trivial endpoint, and latency accuracy against a known delay.
    Loadgen(BenchLoadgenArgs),
}

#[derive(Args, Debug)]
pub struct BenchLoadgenArgs {
    /// URL to hammer (default: the latest run's primary endpoint at --path).
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Path on the latest run's primary endpoint (default: its readiness
    /// path, else `/`).
    #[arg(long, value_name = "PATH", conflicts_with = "target")]
    pub path: Option<String>,
    /// Concurrent connections for both generators.
    #[arg(long, default_value_t = 64)]
    pub connections: u32,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Rounds: every generator runs once per round, in turn (interleaved,
    /// so a noisy moment hits all alike); the table shows medians.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// Skip the latency-accuracy check (throughput table only).
    #[arg(long)]
    pub no_accuracy: bool,
    /// Compare with these generators only (comma separated: wrk, oha,
    /// locust; `none` for gauntlet alone). Default: every one installed.
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub peers: Option<Vec<String>>,
    /// The delay (ms) of the in-process server for the accuracy check.
    #[arg(long, default_value_t = 50)]
    pub delay_ms: u64,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Where to write the files (default: the compose file's folder).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `gauntlet report DIR`: exit 0 when the page was written, 2 when DIR holds
/// no gauntlet results or a file in it is not what gauntlet writes.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The run directory (default: the newest under target/gauntlet/).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Open the page in a browser ($BROWSER, else xdg-open, else
    /// chromium/firefox), where one exists.
    #[arg(long)]
    pub open: bool,
}
