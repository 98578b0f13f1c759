//! Merging shards: the checks that they are parts of one run, the exact
//! sum of their data, and the summary of the merged run.
//!
//! Counts and histograms add exactly, so every percentile, count and
//! outcome map of the merged `load.json` is what one generator that sent
//! every request would have recorded. Requests per second divide by the
//! longest shard's seconds, phase by phase and for the run: the shards
//! send at the same time, so the whole run's requests took at least the
//! longest shard's time (the sum would count that time N times; the
//! shortest would claim requests that were still being sent after it).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::data::{ShardData, ShardError};
use crate::report::LoadReport;
use crate::slo::Verdict;

/// Shards merged into one run's data.
#[derive(Debug, Clone)]
pub struct Merged {
    pub data: ShardData,
    /// Shards of the run that were not among the inputs (`--partial`).
    pub missing: Vec<u32>,
    /// Things worth saying that do not stop the merge (seeds that differ).
    pub notes: Vec<String>,
}

/// Merges `parts` (each with the name it came from). Refused unless they
/// are parts of one run: the same profile, mode and phase clock, the same
/// timeline bucket width, the same shard count, no shard twice; and,
/// unless `partial`, every shard there. A shard written before the
/// timeline existed (no timeline) leaves the merged run without one, with
/// a note.
pub fn merge(parts: Vec<(String, ShardData)>, partial: bool) -> Result<Merged, ShardError> {
    let mut parts = parts;
    parts.sort_by_key(|(_, d)| d.indices.first().copied());
    let Some((first_origin, first)) = parts.first() else {
        return Err(ShardError::Mismatch("no shard to merge".into()));
    };
    let mut notes = Vec::new();
    let mut seen: Vec<(u32, &str)> = Vec::new();
    // The first shard with a timeline, and its bucket width.
    let mut timed: Option<(&str, f64)> = None;
    for (origin, d) in &parts {
        let differ = |what: &str, a: &dyn std::fmt::Display, b: &dyn std::fmt::Display| {
            ShardError::Mismatch(format!(
                "{first_origin} has {what} {a}, {origin} has {what} {b}"
            ))
        };
        if d.info.profile != first.info.profile {
            return Err(differ("profile", &first.info.profile, &d.info.profile));
        }
        if d.info.mode != first.info.mode {
            return Err(differ("mode", &first.info.mode, &d.info.mode));
        }
        if d.clock != first.clock {
            return Err(differ(
                "phases",
                &first.clock.describe(),
                &d.clock.describe(),
            ));
        }
        match (timed, d.bucket_s) {
            (Some((other, a)), Some(b)) if a != b => {
                return Err(ShardError::Mismatch(format!(
                    "{other} has timeline buckets of {a} s, {origin} of {b} s"
                )));
            }
            (None, Some(b)) => timed = Some((origin.as_str(), b)),
            _ => {}
        }
        if d.count != first.count {
            return Err(ShardError::Mismatch(format!(
                "{first_origin} is one of {} shards, {origin} one of {}",
                first.count, d.count
            )));
        }
        if d.run_seed != first.run_seed {
            notes.push(format!(
                "{origin} ran with seed {} and {first_origin} with {}: shards of one run \
                 usually share the run's --seed",
                d.run_seed, first.run_seed
            ));
        }
        for i in &d.indices {
            if let Some((_, other)) = seen.iter().find(|(j, _)| j == i) {
                return Err(ShardError::Mismatch(format!(
                    "shard {i} of {} is in both {other} and {origin}",
                    d.count
                )));
            }
            seen.push((*i, origin.as_str()));
        }
    }
    let have: BTreeSet<u32> = seen.iter().map(|(i, _)| *i).collect();
    let missing: Vec<u32> = (0..first.count).filter(|i| !have.contains(i)).collect();
    if !missing.is_empty() && !partial {
        return Err(ShardError::Missing {
            missing,
            count: first.count,
        });
    }

    let mut merged = first.clone();
    for (_, d) in &parts[1..] {
        add(&mut merged, d);
    }
    let untimed: Vec<&str> = parts
        .iter()
        .filter(|(_, d)| d.bucket_s.is_none())
        .map(|(origin, _)| origin.as_str())
        .collect();
    if !untimed.is_empty() {
        if untimed.len() < parts.len() {
            notes.push(format!(
                "{} {} no timeline (written by an older gauntlet): the merged load.json has none",
                untimed.join(", "),
                if untimed.len() == 1 { "has" } else { "have" }
            ));
        }
        merged.bucket_s = None;
        merged.recorded.series.clear();
    }
    merged.indices = have.into_iter().collect();
    merged.seed = merged.run_seed;
    if parts.len() > 1 {
        if let Some(g) = merged.info.goose.as_mut() {
            g.reports.clear();
        }
        merged.info.generator = None;
    }
    let aborted: Vec<String> = parts
        .iter()
        .filter_map(|(_, d)| {
            let reason = d.info.aborted.as_ref()?;
            Some(match d.indices.as_slice() {
                [i] if d.count > 1 && !reason.starts_with("shard ") => {
                    format!("shard {i}: {reason}")
                }
                _ => reason.clone(),
            })
        })
        .collect();
    merged.info.aborted = (!aborted.is_empty()).then(|| aborted.join("; "));
    Ok(Merged {
        data: merged,
        missing,
        notes,
    })
}

/// Adds `d` into `into` (the same run's clock, checked).
fn add(into: &mut ShardData, d: &ShardData) {
    into.recorded.add(&d.recorded);
    for (have, more) in into.phase_seconds.iter_mut().zip(&d.phase_seconds) {
        *have = have.max(*more);
    }
    into.run_seconds = into.run_seconds.max(d.run_seconds);
    into.planned = match (into.planned, d.planned) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    for name in &d.apart {
        if !into.apart.contains(name) {
            into.apart.push(name.clone());
        }
    }
    let info = &mut into.info;
    let more = &d.info;
    info.duration_s = info.duration_s.max(more.duration_s);
    info.users += more.users;
    if more.started_at < info.started_at {
        info.started_at = more.started_at.clone();
    }
    if !info.target.split(", ").any(|t| t == more.target) {
        info.target = format!("{}, {}", info.target, more.target);
    }
    for (w, m) in info.phases.iter_mut().zip(&more.phases) {
        w.users += m.users;
        w.rate = match (w.rate, m.rate) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        };
    }
    info.goose = match (info.goose.take(), &more.goose) {
        (Some(mut g), Some(m)) => {
            g.requests += m.requests;
            g.failures += m.failures;
            g.co_events += m.co_events;
            g.co_synthetic_requests += m.co_synthetic_requests;
            Some(g)
        }
        // Some shards without goose's metrics: no sum to tell.
        _ => None,
    };
    for (txn, example) in &more.error_examples {
        info.error_examples
            .entry(txn.clone())
            .or_insert_with(|| example.clone());
    }
}

/// `summary.md` of a merged run: which shards, the transaction table and
/// the SLO verdicts.
pub fn summary_markdown(merged: &Merged, report: &LoadReport, verdicts: &[Verdict]) -> String {
    let d = &merged.data;
    let mut s = String::new();
    let passed = verdicts.iter().all(|v| v.passed) && report.aborted.is_none();
    let _ = writeln!(
        s,
        "# Load `{}`: {}\n",
        report.profile,
        if passed { "PASS" } else { "FAIL" }
    );
    let _ = writeln!(
        s,
        "Merged from {} of {} shards ({}), seed {}, {} mode, {} users, {:.1} s, target {}, started {}.\n",
        d.indices.len(),
        d.count,
        d.indices
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        d.run_seed,
        report.mode,
        report.users,
        report.duration_s,
        report.target,
        report.started_at
    );
    if !merged.missing.is_empty() {
        let _ = writeln!(
            s,
            "**Partial**: {} of {} {} missing; the figures are those of the shards merged, \
             not of the whole run.\n",
            super::data::listed(&merged.missing),
            d.count,
            if merged.missing.len() == 1 {
                "is"
            } else {
                "are"
            }
        );
    }
    if let Some(reason) = &report.aborted {
        let _ = writeln!(s, "**Aborted**: {reason}\n");
    }
    let _ = writeln!(
        s,
        "Requests per second divide by the longest shard's seconds ({:.1} s for the run).\n",
        d.run_seconds
    );
    let _ = writeln!(
        s,
        "| transaction | count | errors | refused | rps | p50 ms | p95 ms | p99 ms | max ms |"
    );
    let _ = writeln!(s, "|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    let all = "all".to_string();
    for (name, b) in report.transactions.iter().chain([(&all, &report.all)]) {
        let r = &b.run;
        let l = &r.latency_ms;
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            r.count, r.errors_total, r.refusals_total, r.rps, l.p50, l.p95, l.p99, l.max
        );
    }
    let _ = writeln!(s, "\n## SLO verdicts\n");
    let _ = writeln!(
        s,
        "| phase | slo | observed | threshold | samples | result |"
    );
    let _ = writeln!(s, "|---|---|--:|--:|--:|---|");
    for v in verdicts {
        let _ = writeln!(
            s,
            "| {} | {} | {:.2} {} | < {} {} | {} | {} |",
            v.phase.as_deref().unwrap_or("(run)"),
            v.slo,
            v.observed,
            v.unit,
            v.threshold,
            v.unit,
            v.samples,
            if v.passed { "pass" } else { "**FAIL**" }
        );
    }
    let violations = report.violation_lines();
    if !violations.is_empty() {
        let _ = writeln!(s, "\n```\n{}\n```", violations.trim());
    }
    s
}
