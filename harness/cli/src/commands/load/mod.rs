//! `gauntlet load`: one load profile against a fresh stack (or `--run ID`,
//! or `--target`), judged against the SLOs, with the project's invariants
//! checked afterwards. Exits 1 on any SLO breach or broken invariant.

use std::path::{Path, PathBuf};

use gauntlet_harness::config::Config;
use gauntlet_harness::invariants::{self, InvariantResult};
use gauntlet_harness::sut::Sut;
use gauntlet_harness::{exit_codes, stack, Error, Result};
use gauntlet_scenarios::slo::{all_passed, verdict_table};
use gauntlet_scenarios::{evaluate, LoadPlan, LoadReport, Profile, SloFile};

use super::{launch_options, out_dir, project_for, with_sut, Interrupts, Source};
use crate::cli::{Global, LoadArgs};

pub async fn run(global: &Global, args: LoadArgs) -> Result<i32> {
    let (config, workspace) = project_for(global, args.target.as_deref(), Some(&args.run))?;
    let profile = load_profile(
        &config.path_of(&config.paths.profiles),
        &args.profile,
        &config,
    )?;
    let slo_path = args
        .slo
        .clone()
        .unwrap_or_else(|| config.path_of(&config.paths.slo));
    // SLOs may name the profile's own transactions: checked against it.
    let slos = SloFile::load(&slo_path)
        .and_then(|file| file.for_run(&profile))
        .map_err(|e| Error::Usage(e.to_string()))?;
    let seed = args.run.seed.unwrap_or_else(rand::random);
    errln!(
        "profile {} ({} mode, {} users, {:?}), seed {seed}",
        profile.name,
        profile.mode.name(),
        profile.users,
        profile.total_duration()
    );
    let plan = LoadPlan::new(profile.clone())
        .with_slo(slos.clone())
        .with_seed(seed);

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
            let out = out_dir(args.out.as_ref(), &config, &sut.run_id)?;
            let report = attack(&plan, &sut, &out).await?;
            // Invariants need the data services: a stack gauntlet reaches.
            let invariants = match sut.stack_opt() {
                Some(_) => Some(invariants::check_all(&sut).await?),
                None => None,
            };
            Ok((report, invariants, out))
        },
    )
    .await?;
    Ok(judge(&report, &slos, invariants.as_deref(), &out))
}

/// A profile by name or path, checked against the project (its own
/// transactions' endpoints and secrets).
fn load_profile(dir: &Path, name: &str, config: &Config) -> Result<Profile> {
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

fn judge(
    report: &LoadReport,
    slos: &gauntlet_scenarios::SloSet,
    invariants: Option<&[InvariantResult]>,
    out: &Path,
) -> i32 {
    let verdicts = evaluate(report, slos);
    let _ = std::fs::write(
        out.join("verdicts.json"),
        serde_json::to_string_pretty(&verdicts).expect("serialisable") + "\n",
    );
    outln!("latency: {}", report.latency_mode);
    if let Some(reason) = &report.aborted {
        outln!("ABORTED: {reason}");
    }
    outln!("\n{}", report.transaction_table());
    outln!("{}", verdict_table(&verdicts));
    let invariant_ok = match invariants {
        Some(results) => {
            for result in results {
                outln!("invariant {}", result.summary());
            }
            results.iter().all(InvariantResult::holds)
        }
        None => {
            outln!("invariants: not checked (they need a stack gauntlet reaches; --target has no data access)");
            true
        }
    };
    outln!("reports in {}", out.display());
    if all_passed(&verdicts) && invariant_ok && report.aborted.is_none() {
        exit_codes::OK
    } else {
        exit_codes::CHECK_FAILED
    }
}
