//! Labels gauntlet puts on every container, network and volume it creates.
//! They are how runs are found again (`status`, `down`) and how the reaper
//! recognises leftovers of crashed runs: nothing is tracked anywhere else.

pub const PROJECT: &str = "dev.gauntlet.project";
pub const RUN: &str = "dev.gauntlet.run";
pub const SERVICE: &str = "dev.gauntlet.service";
/// Absolute path of the checkout that started the run.
pub const CHECKOUT: &str = "dev.gauntlet.checkout";
/// RFC 3339 start time of the run.
pub const STARTED: &str = "dev.gauntlet.started";
pub const SEED: &str = "dev.gauntlet.seed";
pub const DEFECTS: &str = "dev.gauntlet.defects";
/// Process id of the gauntlet process that created the resource.
pub const OWNER_PID: &str = "dev.gauntlet.owner-pid";

/// A Docker label filter value: `key=value`.
pub fn filter(key: &str, value: &str) -> String {
    format!("{key}={value}")
}
