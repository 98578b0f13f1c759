//! gauntlet's load-testing library.
//!
//! - [`profile`]: load profiles (`scenarios/profiles/*.toml`), parsed and
//!   validated with `FILE:LINE:COL` errors
//! - [`slo`]: the SLO file (`scenarios/slo.toml`) and verdicts per run and
//!   per phase
//! - [`transactions`]: the goose transactions (browse, cart, checkout,
//!   signed webhooks, orders, contention bursts with contract checks),
//!   each user with its own account, and the profile's own request
//!   templates (`[transactions.NAME]`)
//! - [`http`]: each user's own kept-alive HTTP/1.1 connection
//! - [`host`]: the generator's open-file limit (raised), CPU and memory
//! - [`schedule`]: the open-model (constant arrival rate) schedule
//! - [`run`]: one attack against a target, reports into a folder
//! - [`report`]: what a run measured (`load.json`)
//! - [`shard`]: distributed load: splitting a profile across N generators,
//!   each one's raw data (`shard.json`), and merging them exactly
//! - [`k8s`]: Kubernetes manifests for a sharded run (an Indexed Job)
//! - [`bench`]: the generator's own rate against wrk, oha and Locust, and
//!   its latency accuracy

pub mod bench;
pub mod host;
pub mod http;
pub mod k8s;
pub mod profile;
pub mod report;
pub mod run;
pub mod schedule;
pub mod shard;
pub mod slo;
pub mod transactions;

pub use bench::{
    latency_accuracy, loadgen_max_rate, stall_visibility, wrk_max_rate, AccuracyResult, BenchError,
    RateResult, StallResult,
};
pub use profile::{
    MixEntry, Mode, Phase, Profile, ProfileError, TemplateTransaction, ThinkTime, TransactionKind,
};
pub use report::{Breakdown, LatencyMs, LoadReport, OpenModelStats, Summary};
pub use run::{load_endpoint, run, LoadError, LoadPlan, Progress, ProgressSink};
pub use schedule::OpenSchedule;
pub use shard::{ShardData, ShardError, ShardSpec};
pub use slo::{evaluate, SloError, SloFile, SloSet, Verdict};

/// The shipped profiles and SLO file (`scenarios/profiles`, `scenarios/slo.toml`).
pub fn shipped_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}
