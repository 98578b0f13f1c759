//! The values an experiment's templates render against (`{{unique}}`,
//! `{{run_id}}`, `{{seed}}`, `{{index}}`, `{{secret.NAME}}`, `{{fake.*}}`):
//! one per experiment run.
//!
//! `{{unique}}` is derived from the run's seed, the run's id, the
//! experiment's name and how many times the experiment already ran in this
//! process: the same seed gives the same ids (`--seed` reproduces them), a
//! rerun gets new ones (`gauntlet chaos --run ID` draws a fresh seed unless
//! `--seed` is given), and two experiments never share one.

use gauntlet_harness::steps::Scope;

use crate::ChaosContext;

/// What every scope of one experiment run starts from.
#[derive(Debug, Clone)]
pub struct ExperimentScope {
    run_id: String,
    seed: u64,
    experiment: String,
    unique: String,
    secrets: Vec<(String, String)>,
}

impl ExperimentScope {
    /// The scope of the next run of `experiment` on `ctx`'s system.
    pub fn new(ctx: &ChaosContext, experiment: &str) -> ExperimentScope {
        let sut = ctx.sut();
        let occurrence = ctx.next_occurrence(experiment);
        let secrets = sut
            .secrets()
            .names()
            .filter_map(|n| sut.secret(n).map(|v| (n.to_string(), v.to_string())))
            .collect();
        ExperimentScope {
            run_id: sut.run_id.clone(),
            seed: sut.seed,
            experiment: experiment.to_string(),
            unique: unique_id(sut.seed, &sut.run_id, experiment, occurrence),
            secrets,
        }
    }

    /// A scope with no system, for tests.
    pub fn detached(run_id: &str, seed: u64, experiment: &str) -> ExperimentScope {
        ExperimentScope {
            run_id: run_id.to_string(),
            seed,
            experiment: experiment.to_string(),
            unique: unique_id(seed, run_id, experiment, 0),
            secrets: Vec::new(),
        }
    }

    /// `{{unique}}` of this run.
    pub fn unique(&self) -> &str {
        &self.unique
    }

    /// A fresh scope: `{{index}}` 0, `{{fake.*}}` drawn from the start of
    /// the experiment's seeded sequence.
    pub fn scope(&self) -> Scope {
        Scope::new(
            &self.run_id,
            self.seed,
            &self.experiment,
            self.unique.clone(),
        )
        .with_secrets(self.secrets.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// A template (checked when its file loaded) rendered in a fresh
    /// scope: names of streams, keys and groups, paths, queries.
    pub fn render(&self, text: &str) -> Result<String, String> {
        if !text.contains("{{") {
            return Ok(text.to_string());
        }
        let t = gauntlet_harness::steps::Template::parse(text).map_err(|e| e.message)?;
        t.render(&mut self.scope())
    }

    /// `text` with every secret value replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (_, value) in self.secrets.iter().filter(|(_, v)| !v.is_empty()) {
            out = out.replace(value.as_str(), "***");
        }
        out
    }
}

/// `EXPERIMENT-HHHHHHHHHHHH`: the experiment's name and 48 bits of a hash
/// of the seed, the run id, the name and the occurrence.
pub fn unique_id(seed: u64, run_id: &str, experiment: &str, occurrence: u64) -> String {
    // FNV-1a: stable across Rust versions and platforms, unlike the std hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    };
    eat(&seed.to_le_bytes());
    eat(run_id.as_bytes());
    eat(experiment.as_bytes());
    eat(&occurrence.to_le_bytes());
    format!("{experiment}-{:012x}", hash & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_ids_are_reproducible_and_differ_by_seed_run_name_and_rerun() {
        let base = unique_id(7, "r1", "publish", 0);
        assert_eq!(base, unique_id(7, "r1", "publish", 0));
        assert!(base.starts_with("publish-"), "{base}");
        assert_eq!(base.len(), "publish-".len() + 12);
        for other in [
            unique_id(8, "r1", "publish", 0),
            unique_id(7, "r2", "publish", 0),
            unique_id(7, "r1", "publish2", 0),
            unique_id(7, "r1", "publish", 1),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn templates_render_the_unique_id_and_index() {
        let scope = ExperimentScope::detached("r1", 7, "e");
        let mut s = scope.scope();
        s.index = 3;
        let t = gauntlet_harness::steps::Template::parse("{{unique}}-{{index}}").unwrap();
        assert_eq!(t.render(&mut s).unwrap(), format!("{}-3", scope.unique()));
    }
}
