//! `gauntlet load`: one load profile against a fresh stack (or `--run ID`,
//! or `--target`), judged against the SLOs, with the project's invariants
//! checked afterwards. Exits 1 on any SLO breach or broken invariant.
//!
//! Distributed load: `--shard I/N` runs one part of a sharded run,
//! `--shards N --local` runs N generator containers on the run's own
//! network and merges them ([`local`]), `load merge` merges shard results
//! ([`merge`]) and `load k8s` renders a sharded run for a cluster ([`k8s`]).

mod k8s;
mod local;
mod merge;

use std::path::{Path, PathBuf};

use gauntlet_harness::config::Config;
use gauntlet_harness::invariants::{self, InvariantResult};
use gauntlet_harness::sut::Sut;
use gauntlet_harness::{exit_codes, stack, Error, Result};
use gauntlet_scenarios::slo::{all_passed, verdict_table, Verdict};
use gauntlet_scenarios::{evaluate, LoadPlan, LoadReport, Profile, SloFile};

use super::{evidence, launch_options, project_for, with_sut, Interrupts, Source};
use crate::cli::{Global, LoadArgs, LoadCommand};

pub async fn run(global: &Global, mut args: LoadArgs) -> Result<i32> {
    match args.command.take() {
        Some(LoadCommand::Merge(merge_args)) => return merge::run(global, merge_args).await,
        Some(LoadCommand::K8s(k8s_args)) => return k8s::run(global, k8s_args).await,
        None => {}
    }
    check_shard_flags(&args)?;
    let (config, workspace) = project_for(global, args.target.as_deref(), Some(&args.run))?;
    let name = args
        .profile
        .clone()
        .expect("clap requires --profile without a subcommand");
    let profile = load_profile(&config.path_of(&config.paths.profiles), &name, &config)?;
    require_sharding(&profile, &args)?;
    let slo_path = args
        .slo
        .clone()
        .unwrap_or_else(|| config.path_of(&config.paths.slo));
    // SLOs may name the profile's own transactions: checked against it.
    let slos = SloFile::load(&slo_path)
        .and_then(|file| file.for_run(&profile))
        .map_err(|e| Error::Usage(e.to_string()))?;
    let seed = args.run.seed.unwrap_or_else(rand::random);
    // Every user holds a connection: the soft limit is raised to the hard one.
    let files = gauntlet_scenarios::host::raise_open_files();
    errln!(
        "open files: limit {}{} (hard {})",
        files.soft,
        if files.was < files.soft {
            format!(", raised from {}", files.was)
        } else {
            String::new()
        },
        files.hard
    );
    if let Some(count) = args.shards {
        let rehearsal = local::Rehearsal {
            config,
            workspace: workspace.expect("--local conflicts with --target: there is a workspace"),
            profile,
            slos,
            slo_path,
            seed,
            count,
        };
        return local::run(args, rehearsal).await;
    }
    let mut plan = LoadPlan::new(profile.clone())
        .with_slo(slos.clone())
        .with_seed(seed)
        .with_goose_reports(args.goose_reports)
        .with_progress(|p| errln!("{p}"));
    if let Some(spec) = args.shard {
        profile.check_split(spec.count).map_err(Error::Usage)?;
        plan = plan.sharded(spec);
        if let Some(max) = args.users_per_shard {
            plan.profile = plan.profile.capped_users(max);
        }
        errln!(
            "shard {spec} of profile {} ({} mode, {} of {} users, {:?}), seed {} (run seed {seed})",
            profile.name,
            profile.mode.name(),
            plan.profile.users,
            profile.users,
            profile.total_duration(),
            plan.seed
        );
    } else {
        errln!(
            "profile {} ({} mode, {} users, {:?}), seed {seed}",
            profile.name,
            profile.mode.name(),
            profile.users,
            profile.total_duration()
        );
    }
    let shard = args.shard;

    let source = match (
        &workspace,
        Source::from_target_flags(
            &config,
            args.target.as_deref(),
            &args.endpoint,
            args.allow_remote,
            seed,
        ),
    ) {
        (_, Some(target)) => target,
        (Some(ws), None) => match &args.run_id {
            Some(run) => Source::Existing {
                run: Some(run.clone()),
                seed: Some(seed),
            },
            None => {
                let mut run_args = args.run.clone();
                run_args.seed = Some(seed);
                let mut options = launch_options(ws, &run_args, stack::new_run_id())?;
                // The profile says what the system needs for it (raised
                // rate limits...).
                options.extra_vars.extend(profile.system.clone());
                Source::Fresh {
                    options,
                    keep: args.keep,
                }
            }
        },
        (None, None) => unreachable!("no workspace only with --target"),
    };
    let (report, invariants, out) = with_sut(
        "load",
        config.clone(),
        workspace.as_ref(),
        source,
        Interrupts::Drop,
        |sut| async move {
            let out = evidence::run_dir(args.out.as_ref(), &config, &sut.run_id)?;
            let report = attack(&plan, &sut, &out).await?;
            // Invariants need the data services: a stack gauntlet reaches,
            // and the whole load (not one shard while others still run).
            let invariants = match (sut.stack_opt(), shard) {
                (Some(_), None) => Some(invariants::check_all(&sut).await?),
                _ => None,
            };
            Ok((report, invariants, out))
        },
    )
    .await?;
    let verdicts = evaluate(&report, &slos);
    write_summary(&report, &verdicts, &out);
    let code = judge(&report, &verdicts, invariants.as_deref(), &out);
    match shard {
        None => Ok(code),
        Some(spec) => {
            // One part of a run: its verdicts are its own part's; the run's
            // come from the merge. It ran and wrote its results: 0.
            outln!(
                "shard {spec}: results in {}; the run's verdict comes from `gauntlet load merge` \
                 of every shard's folder (invariants too: check them once every shard is done)",
                out.join(gauntlet_scenarios::shard::SHARD_FILE).display()
            );
            Ok(exit_codes::OK)
        }
    }
}

/// Flags of a sharded run that only make sense together.
fn check_shard_flags(args: &LoadArgs) -> Result<()> {
    if args.shards.is_some() && !args.local {
        return Err(Error::Usage(
            "--shards N runs N load generators on this machine with --local \
             (`gauntlet load --profile P --shards N --local`); for a cluster, render them with \
             `gauntlet load k8s --profile P --shards N ...`; one shard of a run is --shard I/N"
                .into(),
        ));
    }
    if args.local && args.shards.is_none() {
        return Err(Error::Usage(
            "--local runs a sharded rehearsal: say how many generators with --shards N".into(),
        ));
    }
    if args.users_per_shard.is_some() && args.shard.is_none() && args.shards.is_none() {
        return Err(Error::Usage(
            "--users-per-shard scales the shards of a sharded run: use it with --shard I/N \
             or --shards N --local"
                .into(),
        ));
    }
    Ok(())
}

/// A sharded profile (`shards = N`) is more load than one generator
/// should carry: run unsharded, it is an error that says what to pass.
fn require_sharding(profile: &Profile, args: &LoadArgs) -> Result<()> {
    let Some(n) = profile.shards else {
        return Ok(());
    };
    if args.shard.is_some() || args.shards.is_some() {
        return Ok(());
    }
    let file = profile
        .source
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| profile.name.clone());
    Err(Error::Usage(format!(
        "profile `{name}` is sharded (`shards = {n}` in {file}): it is meant for {n} load \
         generators, not one. Pass --shards {n} --local to rehearse it on this machine \
         (--users-per-shard N scales each shard down), --shard I/{n} to run one part of it \
         (then `gauntlet load merge` the parts), or render it for a cluster with \
         `gauntlet load k8s --profile {name} --shards {n} --image IMAGE --target URL`",
        name = profile.name
    )))
}

/// A profile by name or path, checked against the project (its own
/// transactions' endpoints and secrets).
pub(super) fn load_profile(dir: &Path, name: &str, config: &Config) -> Result<Profile> {
    let as_path = PathBuf::from(name);
    let loaded = if name.ends_with(".toml") || as_path.is_file() {
        Profile::load_with_config(&as_path, config)
    } else {
        if !dir.join(format!("{name}.toml")).is_file() {
            let mut known: Vec<String> = std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok())
                        .filter_map(|e| {
                            e.file_name()
                                .to_str()
                                .and_then(|n| n.strip_suffix(".toml"))
                                .map(String::from)
                        })
                        .collect()
                })
                .unwrap_or_default();
            known.sort();
            return Err(Error::Usage(format!(
                "unknown profile `{name}` (profiles in {}: {})",
                dir.display(),
                known.join(", ")
            )));
        }
        Profile::load_named_with_config(dir, name, config)
    };
    loaded.map_err(|e| Error::Usage(e.to_string()))
}

async fn attack(plan: &LoadPlan, sut: &Sut, out: &Path) -> Result<LoadReport> {
    std::fs::create_dir_all(out).map_err(Error::io(format!("creating {}", out.display())))?;
    // LoadError -> Error keeps usage and environment errors 2 and 3.
    Ok(gauntlet_scenarios::run(plan, sut, out).await?)
}

/// `summary.md` of a single run (a merge writes its own): the verdict,
/// the transaction and verdict tables as the terminal shows them.
fn write_summary(report: &LoadReport, verdicts: &[Verdict], out: &Path) {
    let path = out.join("summary.md");
    let passed = all_passed(verdicts) && report.aborted.is_none();
    let text = format!(
        "# Load `{}`: {}\n\n{} mode, {} users, {:.1} s, target {}, started {}.{}\n\n\
         ```\n{}```\n\n```\n{}\n```\n",
        report.profile,
        if passed { "PASS" } else { "FAIL" },
        report.mode,
        report.users,
        report.duration_s,
        report.target,
        report.started_at,
        report
            .aborted
            .as_ref()
            .map(|r| format!(" **Aborted**: {r}"))
            .unwrap_or_default(),
        report.transaction_table(),
        verdict_table(verdicts).trim_end()
    );
    if let Err(e) = std::fs::write(&path, text) {
        errln!("warning: writing {}: {e}", path.display());
    }
}

/// Prints the tables and verdicts, writes `verdicts.json`, and returns
/// the exit code: 0 when every SLO passes, the invariants hold and the
/// attack ran to its end; 1 otherwise.
fn judge(
    report: &LoadReport,
    verdicts: &[Verdict],
    invariants: Option<&[InvariantResult]>,
    out: &Path,
) -> i32 {
    let _ = std::fs::write(
        out.join("verdicts.json"),
        serde_json::to_string_pretty(verdicts).expect("serialisable") + "\n",
    );
    outln!("latency: {}", report.latency_mode);
    if let Some(reason) = &report.aborted {
        outln!("ABORTED: {reason}");
    }
    outln!("\n{}", report.transaction_table());
    outln!("{}", verdict_table(verdicts));
    if let Some(g) = &report.generator {
        outln!(
            "generator: {:.1} CPU s ({:.1} ms per 1,000 requests, {:.0} % of one core of {}), peak memory {:.0} MiB, open-file limit {}",
            g.cpu_seconds,
            g.cpu_ms_per_1k_requests,
            g.cpu_percent,
            g.cores,
            g.max_rss_mib,
            g.open_files.soft
        );
    }
    let invariant_ok = match invariants {
        Some(results) => {
            for result in results {
                outln!("invariant {}", result.summary());
            }
            results.iter().all(InvariantResult::holds)
        }
        None => {
            outln!(
                "invariants: not checked (they need a stack gauntlet reaches, after the whole \
                 load: not with --target, --shard or `load merge`)"
            );
            true
        }
    };
    outln!("reports in {}", out.display());
    if all_passed(verdicts) && invariant_ok && report.aborted.is_none() {
        exit_codes::OK
    } else {
        exit_codes::CHECK_FAILED
    }
}
