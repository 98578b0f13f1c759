//! `gauntlet load merge DIR...`: the shards of a run (folders holding
//! `shard.json`, or the files) merged exactly into one `load.json`,
//! `shard.json` and `summary.md`, judged against the SLOs.

use std::path::Path;

use gauntlet_harness::invariants::InvariantResult;
use gauntlet_harness::{stack, Error, Result};
use gauntlet_scenarios::shard::{self, Merged, ShardData, ShardError, SHARD_FILE};
use gauntlet_scenarios::{evaluate, SloFile, SloSet};

use super::super::{evidence, target_config};
use super::judge;
use crate::cli::{Global, LoadMergeArgs};

pub async fn run(global: &Global, args: LoadMergeArgs) -> Result<i32> {
    let config = target_config(global)?;
    let slo_path = args
        .slo
        .clone()
        .unwrap_or_else(|| config.path_of(&config.paths.slo));
    let parts = read_all(args.inputs.iter().map(|p| p.as_path()))?;
    let merged = shard::merge(parts, args.partial).map_err(shard_error)?;
    // The profile itself is not at hand (only its name): its SLOs apply,
    // and transaction names are not checked against its mix.
    let slos = SloFile::load(&slo_path)
        .map(|file| file.for_profile(&merged.data.info.profile))
        .map_err(|e| Error::Usage(e.to_string()))?;
    let out = evidence::run_dir(args.out.as_ref(), &config, &stack::new_run_id())?;
    conclude(&merged, &slos, &out, None)
}

/// Each input read, named by its path.
pub(super) fn read_all<'a>(
    inputs: impl Iterator<Item = &'a Path>,
) -> Result<Vec<(String, ShardData)>> {
    inputs
        .map(|p| {
            let data = ShardData::read(p).map_err(shard_error)?;
            Ok((p.display().to_string(), data))
        })
        .collect()
}

/// Shard files that cannot be read or merged are bad input: exit 2.
pub(super) fn shard_error(e: ShardError) -> Error {
    match e {
        ShardError::Io { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
            Error::Usage(format!(
                "{}: no such file (give the folders holding each shard's {SHARD_FILE}, or the files)",
                path.display()
            ))
        }
        other => Error::Usage(other.to_string()),
    }
}

/// Writes the merged run's `load.json`, `shard.json`, `summary.md` and
/// `verdicts.json` into `out`, prints its tables and verdicts, and returns
/// the exit code (as `gauntlet load`'s).
pub(super) fn conclude(
    merged: &Merged,
    slos: &SloSet,
    out: &Path,
    invariants: Option<&[InvariantResult]>,
) -> Result<i32> {
    for note in &merged.notes {
        errln!("note: {note}");
    }
    let d = &merged.data;
    let report = d.report();
    let write_error = |path: &Path| {
        let path = path.display().to_string();
        move |e: std::io::Error| Error::Io {
            context: path,
            source: e,
        }
    };
    let path = out.join("load.json");
    report.write(&path).map_err(write_error(&path))?;
    d.write(&out.join(SHARD_FILE)).map_err(shard_error)?;
    let verdicts = evaluate(&report, slos);
    let path = out.join("summary.md");
    std::fs::write(&path, shard::summary_markdown(merged, &report, &verdicts))
        .map_err(write_error(&path))?;
    outln!(
        "merged {} of {} shards ({}): {} requests",
        d.indices.len(),
        d.count,
        d.indices
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        report.all.run.count
    );
    if !merged.missing.is_empty() {
        outln!(
            "PARTIAL: {} of {} missing: the figures are the merged shards', not the whole run's",
            shard::data::listed(&merged.missing),
            d.count
        );
    }
    Ok(judge(&report, &verdicts, invariants, out))
}
