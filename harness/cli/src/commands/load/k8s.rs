//! `gauntlet load k8s`: Kubernetes manifests for a sharded run (see
//! `gauntlet_scenarios::k8s` and docs/load-on-kubernetes.md).

use std::path::PathBuf;
use std::time::Duration;

use gauntlet_harness::target::Target;
use gauntlet_harness::{exit_codes, stack, Error, Result};
use gauntlet_scenarios::k8s::K8sPlan;
use gauntlet_scenarios::SloFile;

use super::super::{out_dir, target_config};
use super::load_profile;
use crate::cli::{Global, LoadK8sArgs};

/// Margin on the generators' Job beyond the profile's length: image
/// pulls, scheduling, the users' start-up.
const DEADLINE_MARGIN: Duration = Duration::from_secs(15 * 60);

pub async fn run(global: &Global, args: LoadK8sArgs) -> Result<i32> {
    let config = target_config(global)?;
    let profile = load_profile(
        &config.path_of(&config.paths.profiles),
        &args.profile,
        &config,
    )?;
    let shards = args.shards.or(profile.shards).ok_or_else(|| {
        Error::Usage(format!(
            "--shards N: how many load generators (profile `{}` sets no `shards`)",
            profile.name
        ))
    })?;
    profile.check_split(shards).map_err(Error::Usage)?;
    if let Some(ns) = &args.namespace {
        check_dns_label("--namespace", ns)?;
    }
    if args.image.trim().is_empty() || args.image.contains(char::is_whitespace) {
        return Err(Error::Usage(format!(
            "--image `{}` is not an image reference",
            args.image
        )));
    }
    for url in std::iter::once(&args.target).chain(args.endpoint.iter().map(|(_, u)| u)) {
        // A URL of http or https; the cluster's own names are not loopback.
        Target::new(url, true)?;
    }
    let slo_path = args
        .slo
        .clone()
        .unwrap_or_else(|| config.path_of(&config.paths.slo));
    // Checked here, so a broken file fails now and not in every pod.
    SloFile::load(&slo_path)
        .and_then(|file| file.for_run(&profile))
        .map_err(|e| Error::Usage(e.to_string()))?;
    let read = |path: &PathBuf| {
        std::fs::read_to_string(path).map_err(Error::io(format!("reading {}", path.display())))
    };
    let profile_file = profile
        .source
        .clone()
        .expect("a profile loaded from a file knows it");
    let seed = args.seed.unwrap_or_else(rand::random);
    let run_id = stack::new_run_id();
    let plan = K8sPlan {
        run_id: run_id.clone(),
        namespace: args.namespace.clone(),
        image: args.image.clone(),
        shards,
        target: args.target.clone(),
        endpoints: args.endpoint.clone(),
        seed,
        profile: profile.name.clone(),
        profile_text: read(&profile_file)?,
        slo_text: read(&slo_path)?,
        project_config: config.path.as_ref().map(read).transpose()?,
        secret_variables: config
            .secrets
            .values()
            .map(|s| s.variable.clone())
            .collect(),
        users_per_shard: args.users_per_shard,
        storage: args.storage.clone(),
        storage_class: args.storage_class.clone(),
        deadline_s: (profile.total_duration() + DEADLINE_MARGIN).as_secs(),
    };
    let manifests = plan.render();
    let dir = match &args.out {
        Some(dir) => out_dir(Some(dir), &config, &run_id)?,
        None => out_dir(None, &config, &run_id)?.join("k8s"),
    };
    std::fs::create_dir_all(&dir).map_err(Error::io(format!("creating {}", dir.display())))?;
    for (name, text) in [
        ("load.yaml", &manifests.load),
        ("merge.yaml", &manifests.merge),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(Error::io(format!("writing {}", path.display())))?;
    }
    let ns = args
        .namespace
        .as_deref()
        .map(|n| format!(" -n {n}"))
        .unwrap_or_default();
    outln!(
        "run {run_id}: profile {} as {shards} shards, seed {seed} (every shard), against {}",
        profile.name,
        args.target
    );
    outln!("manifests in {}", dir.display());
    outln!("  kubectl apply{ns} -f {}", dir.join("load.yaml").display());
    outln!(
        "  kubectl wait{ns} --for=condition=complete job/{} --timeout={}s",
        plan.name("load"),
        plan.deadline_s
    );
    outln!(
        "  kubectl apply{ns} -f {}",
        dir.join("merge.yaml").display()
    );
    outln!(
        "  kubectl wait{ns} --for=condition=complete job/{} --timeout=300s; kubectl logs{ns} job/{}",
        plan.name("merge"),
        plan.name("merge")
    );
    outln!("(docs/load-on-kubernetes.md: fetching the results, cleaning up)");
    Ok(exit_codes::OK)
}

/// A Kubernetes namespace: 1-63 of a-z, 0-9 and `-`, alphanumeric at
/// both ends (RFC 1123 label).
fn check_dns_label(flag: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{flag} `{value}` is not a Kubernetes name: 1-63 lowercase letters, digits and \
             dashes, starting and ending with a letter or digit"
        )))
    }
}
