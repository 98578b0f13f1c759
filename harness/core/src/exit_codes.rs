//! Exit codes of the `gauntlet` binary: one definition, documented in the
//! README. Scripts and CI may rely on them.

/// Everything that was asked for ran, and every check passed.
pub const OK: i32 = 0;
/// A check failed: the system under test misbehaved (unhealthy stack, a
/// failed probe, a journey or SLO that did not hold).
pub const CHECK_FAILED: i32 = 1;
/// The invocation or a configuration file is wrong, or the target is not the
/// expected application. Nothing was changed.
pub const USAGE: i32 = 2;
/// The environment is not ready: no Docker engine, a missing base image, a
/// build that could not run. `gauntlet doctor` says what to fix.
pub const ENVIRONMENT: i32 = 3;
/// Interrupted by Ctrl-C or SIGTERM (after cleaning up), as shells expect.
pub const INTERRUPTED: i32 = 130;
