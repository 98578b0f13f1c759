//! The generator's own machine: its open-file limit (raised before a run,
//! since every user holds a connection), and the CPU and memory a run
//! cost, so `load.json` can say whether the generator was the limit.

use nix::sys::resource::{getrlimit, getrusage, setrlimit, Resource, UsageWho};
use serde::{Deserialize, Serialize};

/// The open-file limit of this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct OpenFiles {
    /// The soft limit found at start.
    pub was: u64,
    /// The soft limit now (raised to `hard` when it was lower).
    pub soft: u64,
    pub hard: u64,
}

/// Raises the soft open-file limit to the hard one. Each goose user holds
/// at least one connection, and the default soft limit (1,024 on many
/// systems) is what made runs above ~1,000 users fail with "too many open
/// files". Never fails: on an error the limits stay as they were.
pub fn raise_open_files() -> OpenFiles {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return OpenFiles::default();
    };
    let mut now = soft;
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        now = hard;
    }
    OpenFiles {
        was: soft,
        soft: now,
        hard,
    }
}

/// CPU time and peak memory of this process so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub cpu_seconds: f64,
    pub max_rss_kib: u64,
}

pub fn usage() -> Usage {
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            Usage {
                cpu_seconds: secs(u.user_time()) + secs(u.system_time()),
                // Linux reports kilobytes.
                max_rss_kib: u.max_rss().max(0) as u64,
            }
        }
        Err(_) => Usage::default(),
    }
}

/// What the generator itself used during one run (`load.json`'s
/// `generator`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct GeneratorStats {
    pub open_files: OpenFiles,
    /// CPU (user + system) this process used during the attack.
    pub cpu_seconds: f64,
    /// CPU milliseconds per 1,000 requests recorded.
    pub cpu_ms_per_1k_requests: f64,
    /// The share of the machine's cores the generator kept busy, in %
    /// (100 % = one core).
    pub cpu_percent: f64,
    /// Peak resident memory of the process (MiB), at the run's end.
    pub max_rss_mib: f64,
    pub cores: usize,
}

impl GeneratorStats {
    pub fn between(
        open_files: OpenFiles,
        before: Usage,
        after: Usage,
        wall_seconds: f64,
        requests: u64,
    ) -> Self {
        let cpu = (after.cpu_seconds - before.cpu_seconds).max(0.0);
        let round = |x: f64| (x * 100.0).round() / 100.0;
        GeneratorStats {
            open_files,
            cpu_seconds: round(cpu),
            cpu_ms_per_1k_requests: if requests == 0 {
                0.0
            } else {
                round(cpu * 1000.0 * 1000.0 / requests as f64)
            },
            cpu_percent: if wall_seconds > 0.0 {
                round(cpu * 100.0 / wall_seconds)
            } else {
                0.0
            },
            max_rss_mib: round(after.max_rss_kib as f64 / 1024.0),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_files_limit_is_raised_to_the_hard_limit() {
        let limits = raise_open_files();
        assert!(limits.hard > 0);
        assert_eq!(limits.soft, limits.hard, "{limits:?}");
        assert!(limits.was <= limits.soft);
    }

    #[test]
    fn usage_grows_with_work() {
        let before = usage();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let after = usage();
        assert!(after.cpu_seconds > before.cpu_seconds);
        assert!(after.max_rss_kib > 0);
        let stats = GeneratorStats::between(OpenFiles::default(), before, after, 1.0, 1000);
        assert!(stats.cpu_ms_per_1k_requests > 0.0);
    }
}
