//! Distributed load: one profile run by N load generators ("shards") at
//! once, each recording its own part, merged exactly afterwards.
//!
//! - Splitting ([`ShardSpec`], [`Profile::for_shard`]): shard `I` of `N`
//!   runs `floor(U / N) + (I < U % N ? 1 : 0)` users in every closed phase
//!   (same phase durations), so the shards' users add up to `U` in every
//!   phase; in open mode each shard sends `rate / N` per phase from a pool
//!   split the same way (at least 1 user). Each shard has its own seed
//!   ([`ShardSpec::seed`]) and its run id carries the shard index, so no
//!   two shards make the same user.
//! - [`data`]: `shard.json`, the recorder's raw data (every cell with its
//!   HDR histogram in the V2 format, the open model's lag and counters, the
//!   timeline's cells and bucket width, the phase clock, the measured
//!   seconds), written by every run.
//! - [`merge`]: checks that shard files belong together, adds them up
//!   exactly, and builds the `load.json` of the whole run through the same
//!   breakdown and timeline code a single run uses
//!   ([`crate::report::breakdowns`], [`crate::report::timeline`]).

pub mod data;
pub mod merge;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::profile::{Mode, Profile};

pub use data::{ShardData, ShardError, SHARD_FILE};
pub use merge::{merge, summary_markdown, Merged};

/// The most shards a run may have.
pub const MAX_SHARDS: u32 = 1000;

/// Shard `index` (0-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ShardSpec {
    pub index: u32,
    pub count: u32,
}

impl ShardSpec {
    /// An unsharded run: shard 0 of 1.
    pub const WHOLE: ShardSpec = ShardSpec { index: 0, count: 1 };

    pub fn new(index: u32, count: u32) -> Result<ShardSpec, String> {
        if count == 0 || count > MAX_SHARDS {
            return Err(format!(
                "the shard count must be 1 to {MAX_SHARDS}, not {count}"
            ));
        }
        if index >= count {
            return Err(format!(
                "shard index {index} is not below the count {count} (indices are 0-based: 0/{count} to {}/{count})",
                count - 1
            ));
        }
        Ok(ShardSpec { index, count })
    }

    /// `I/N`, as `--shard` takes it.
    pub fn parse(text: &str) -> Result<ShardSpec, String> {
        let bad = || format!("`{text}` is not I/N (shard I of N, 0-based: e.g. 0/3, 1/3, 2/3)");
        let (i, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let i: u32 = i.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        ShardSpec::new(i, n)
    }

    pub fn is_whole(&self) -> bool {
        self.count == 1
    }

    /// This shard's part of `total` users: `floor(total / N)`, plus one
    /// for the first `total % N` shards.
    pub fn share(&self, total: u32) -> u32 {
        total / self.count + u32::from(self.index < total % self.count)
    }

    /// This shard's seed, from the run's: the run seed itself when
    /// unsharded (a run of one shard is the run it always was), else
    /// SplitMix64's output for the state `run_seed + (I + 1) × φ`
    /// (φ = 0x9E3779B97F4A7C15): `z ^= z >> 30; z *= 0xBF58476D1CE4E5B9;
    /// z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31`. The states
    /// differ for every index and the mix is a bijection, so every shard
    /// of a run gets its own seed, and the same one every time.
    pub fn seed(&self, run_seed: u64) -> u64 {
        if self.is_whole() {
            return run_seed;
        }
        let mut z =
            run_seed.wrapping_add(u64::from(self.index + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Every shard of this run.
    pub fn all(count: u32) -> impl Iterator<Item = ShardSpec> {
        (0..count).map(move |index| ShardSpec { index, count })
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for ShardSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<ShardSpec, String> {
        ShardSpec::parse(s)
    }
}

impl Profile {
    /// Shard `spec`'s part of this profile: users split per closed phase
    /// (see [`ShardSpec::share`]), open-mode rates divided by N and the
    /// pool split like users (at least 1). The name, mix, phases and their
    /// durations stay, so the shards' reports merge. Check the split first
    /// with [`Profile::check_split`].
    pub fn for_shard(&self, spec: &ShardSpec) -> Profile {
        let mut p = self.clone();
        if spec.is_whole() {
            return p;
        }
        match p.mode {
            Mode::Closed => {
                for phase in &mut p.phases {
                    phase.users = spec.share(phase.users);
                }
                p.users = p.phases.iter().map(|ph| ph.users).max().unwrap_or(0);
            }
            Mode::Open => {
                p.users = spec.share(p.users).max(1);
                let n = f64::from(spec.count);
                for phase in &mut p.phases {
                    phase.users = p.users;
                    phase.rate = phase.rate.map(|r| r / n);
                }
            }
        }
        p
    }

    /// Whether `count` shards can split this profile: in closed mode each
    /// needs a user in its busiest phase.
    pub fn check_split(&self, count: u32) -> Result<(), String> {
        if self.mode == Mode::Closed && self.users < count {
            return Err(format!(
                "profile `{}` has at most {} users in a phase: {count} shards would leave {} of them \
                 without any; use at most {} shards",
                self.name,
                self.users,
                count - self.users,
                self.users
            ));
        }
        Ok(())
    }

    /// The profile scaled down so that no phase has more than `max` users
    /// (a local rehearsal of a big sharded profile: `--users-per-shard`).
    /// Closed mode: every phase's users scaled by `max / users` (rounded,
    /// a phase with users keeps at least one). Open mode: the pool capped
    /// at `max` and the rates scaled by the same factor. Unchanged when
    /// the profile already fits.
    pub fn capped_users(&self, max: u32) -> Profile {
        let mut p = self.clone();
        if max == 0 || p.users <= max {
            return p;
        }
        let factor = f64::from(max) / f64::from(p.users);
        match p.mode {
            Mode::Closed => {
                for phase in &mut p.phases {
                    if phase.users > 0 {
                        let scaled = (f64::from(phase.users) * factor).round() as u32;
                        phase.users = scaled.clamp(1, max);
                    }
                }
                p.users = p.phases.iter().map(|ph| ph.users).max().unwrap_or(0);
            }
            Mode::Open => {
                p.users = max;
                for phase in &mut p.phases {
                    phase.users = max;
                    phase.rate = phase.rate.map(|r| r * factor);
                }
            }
        }
        p
    }
}
