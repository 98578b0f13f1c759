//! `gauntlet load`: one load profile against a fresh stack (or `--target`),
//! judged against the SLOs, with the stock invariant checked in SQL
//! afterwards. Exits 1 on any SLO breach or broken invariant.

use std::path::{Path, PathBuf};

use gauntlet_harness::target::Target;
use gauntlet_harness::{docker, exit_codes, invariants, launch, stack, Error, Result};
use gauntlet_scenarios::slo::{all_passed, verdict_table};
use gauntlet_scenarios::{evaluate, LoadPlan, LoadReport, Profile, SloFile};

use super::journeys::stack_targets;
use super::up::launch_options;
use super::{interruptible, teardown, workspace};
use crate::cli::{Global, LoadArgs};

pub async fn run(global: &Global, args: LoadArgs) -> Result<i32> {
    let workspace = workspace(global)?;
    let scenarios = workspace.root.join("scenarios");
    let profile = load_profile(&scenarios.join("profiles"), &args.profile)?;
    let slo_path = args
        .slo
        .clone()
        .unwrap_or_else(|| scenarios.join("slo.toml"));
    let slos = SloFile::load(&slo_path)
        .map_err(|e| Error::Usage(e.to_string()))?
        .for_profile(&profile.name);
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

    if let Some(url) = &args.target {
        let api = Target::new(url, args.allow_remote)?;
        api.verify_identity().await?;
        let mut target = gauntlet_scenarios::Target::new(api.base())
            .expecting_app(gauntlet_harness::target::EXPECTED_APP);
        target.allow_remote = args.allow_remote;
        if let Ok(t) = std::env::var("GAUNTLET_ADMIN_TOKEN") {
            target = target.with_admin_token(t);
        }
        if let Ok(s) = std::env::var("GAUNTLET_SHOPIFY_SECRET") {
            target = target.with_webhook_secret(s);
        }
        let out = args.out.clone().unwrap_or_else(|| {
            workspace
                .root
                .join("target/gauntlet")
                .join(stack::new_run_id())
        });
        let report = interruptible(attack(&plan, &target, &out)).await?;
        errln!("stock invariant: not checked (needs a stack gauntlet started; --target has no SQL access)");
        return Ok(judge(&report, &slos, None, &out));
    }

    let docker = docker::connect().await?;
    let run_id = stack::new_run_id();
    let mut run_args = args.run.clone();
    run_args.seed = Some(seed);
    let mut options = launch_options(global, &run_args, run_id.clone());
    // The profile says what the system needs for it (raised rate limits...).
    options.extra_vars.extend(profile.system.clone());
    let out = match &args.out {
        Some(dir) => dir.clone(),
        None => workspace.run_dir(&run_id)?,
    };
    errln!("load run {run_id}: defects [{}]", options.defects);
    let outcome = interruptible(async {
        let launched = launch::launch(&docker, &workspace, &options).await?;
        let (targets, secrets) = stack_targets(&launched.stack).await?;
        let mut target = gauntlet_scenarios::Target::new(targets.api)
            .expecting_app(gauntlet_harness::target::EXPECTED_APP);
        if let Some(t) = secrets.admin_token {
            target = target.with_admin_token(t);
        }
        if let Some(s) = secrets.shopify_secret {
            target = target.with_webhook_secret(s);
        }
        let report = attack(&plan, &target, &out).await?;
        let invariant = invariants::stock_invariant(&launched.stack).await?;
        Ok((report, invariant))
    })
    .await;
    if args.keep && !matches!(outcome, Err(Error::Interrupted)) {
        errln!("keeping run {run_id}; remove it with `gauntlet down {run_id}`");
    } else {
        teardown(&docker, &global.project, &run_id).await?;
    }
    let (report, invariant) = outcome?;
    Ok(judge(&report, &slos, Some(&invariant), &out))
}

fn load_profile(dir: &Path, name: &str) -> Result<Profile> {
    let as_path = PathBuf::from(name);
    let loaded = if name.ends_with(".toml") || as_path.is_file() {
        Profile::load(&as_path)
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
        Profile::load_named(dir, name)
    };
    loaded.map_err(|e| Error::Usage(e.to_string()))
}

async fn attack(
    plan: &LoadPlan,
    target: &gauntlet_scenarios::Target,
    out: &Path,
) -> Result<LoadReport> {
    std::fs::create_dir_all(out).map_err(Error::io(format!("creating {}", out.display())))?;
    gauntlet_scenarios::run(plan, target, out)
        .await
        .map_err(|e| Error::CheckFailed(format!("load run failed: {e}")))
}

fn judge(
    report: &LoadReport,
    slos: &gauntlet_scenarios::SloSet,
    invariant: Option<&invariants::StockInvariant>,
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
    let invariant_ok = match invariant {
        Some(inv) if inv.holds() => {
            outln!(
                "stock invariant: holds for {} products",
                inv.products_checked
            );
            true
        }
        Some(inv) => {
            outln!(
                "stock invariant: BROKEN for {} of {} products (stock + ordered != initial + restocks), e.g. {:?}",
                inv.violations.len(),
                inv.products_checked,
                inv.violations.first()
            );
            false
        }
        None => true,
    };
    outln!("reports in {}", out.display());
    if all_passed(&verdicts) && invariant_ok && report.aborted.is_none() {
        exit_codes::OK
    } else {
        exit_codes::CHECK_FAILED
    }
}
