//! The step format shared by declarative journeys, load transactions and
//! experiment checks (documented in `docs/steps.md`): request templates,
//! `{{name}}` templates with seeded fake data, matchers, captures and
//! probes. Parsed once when a file loads, so an unknown name or a bad
//! matcher is an error with its place, not a surprise at run time.

pub mod matcher;
pub mod probe;
pub mod request;
pub mod step;
pub mod template;

pub use matcher::Matcher;
pub use probe::ProbeSpec;
pub use request::{Observed, Rendered, RequestTemplate};
pub use step::{Action, Allowed, Capture, Context, Eventually, Expect, Problem, RawStep, Step};
pub use template::{Known, Scope, Template};
