//! The reference system's rules engines (SYSTEM-SPEC sections 7 and 8) as
//! pure functions: no I/O, no clock, no async. The HTTP layer in
//! `gauntlet-system` loads the inputs, calls these functions and stores what
//! they decide; in-process tests call them directly.
//!
//! One module per engine:
//! - [`round`]: decimal rounding shared by the engines;
//! - [`valuation`]: valuation rules (8.1);
//! - [`workorder`]: work-order readiness and transitions (8.2);
//! - [`ledger`]: credit ledger decisions and an in-memory account (8.3);
//! - [`feed`]: feed scoring, blending and keyset pagination (8.4);
//! - [`token_bucket`]: the rate limiter's bucket arithmetic (7);
//! - [`flags`]: feature-flag rollout buckets (7);
//! - [`mistakes`]: deliberate rule mistakes that prove property tests bite.
//!
//! Every function that has a deliberate mistake comes in two forms: `f(..)`
//! (the rules as specified) and `f_with(.., &Mistakes)`.

pub mod feed;
pub mod flags;
pub mod ledger;
pub mod mistakes;
pub mod round;
pub mod token_bucket;
pub mod valuation;
pub mod workorder;

pub use mistakes::Mistakes;
