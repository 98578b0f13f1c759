//! Synthetic journeys: named sequences of steps a real user (or a
//! storefront, or a notification pipeline) goes through, run against the
//! system's public interfaces only, so they work on any deployment.
//!
//! A project's journeys are files: one TOML file each in its journeys
//! folder, in the step format of `docs/steps.md` ([`declared`]). The
//! [`Catalog`] holds them, with the Rust journeys compiled into gauntlet
//! when the project asks for them (`[journeys] builtin = true`: they were
//! written for the reference system). A team's own Rust journeys run from
//! its own crate the same way (`tests/as_library.rs` shows how).
//!
//! A compiled journey is one file in `src/journeys/` (found by `build.rs`):
//!
//! ```ignore
//! pub const NAME: &str = "shopper";
//! pub const ABOUT: &str = "register, browse, cart, checkout, see the order";
//! pub async fn run(j: &mut Journey) -> Outcome {
//!     j.step("register");
//!     let r = j.send(Req::post("/api/v1/auth/register").json(body)).await?;
//!     r.expect_status(201)?;
//!     Ok(())
//! }
//! ```
//!
//! Each step records its duration, every request's method, path and status,
//! and the assertion that failed. Assertion messages name the symptom a
//! user would see ("the same Idempotency-Key created a second order").

pub mod actions;
mod catalog;
pub mod declared;
mod journey;
mod report;
mod request;
mod runner;

pub mod registry {
    include!(concat!(env!("OUT_DIR"), "/registry.rs"));
}

pub use catalog::{Catalog, JourneyDef};
pub use declared::{DeclaredJourney, FileError};
pub use journey::{Failure, Journey, Outcome};
pub use report::{Exchange, JourneyReport, JourneyResult, RunReport, StepReport, StepResult};
pub use request::{Req, Resp, Service};
pub use runner::{run, RunConfig};

/// A journey as the registry lists it.
pub struct Definition {
    pub name: &'static str,
    pub about: &'static str,
    pub run: for<'a> fn(&'a mut Journey) -> futures::future::BoxFuture<'a, Outcome>,
}
