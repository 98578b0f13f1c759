//! A TCP fault proxy whose HTTP API is Shopify Toxiproxy 2.x's (same routes,
//! statuses and JSON), plus an async client for that API.
//!
//! The harness runs it as the `toxiproxy` service of the stack (the app
//! reaches Postgres and Redis only through it) because the real Toxiproxy,
//! a Go program, cannot be installed here; the same harness code must also
//! drive the official Toxiproxy image, which is why the API copies
//! Toxiproxy's down to error texts, statuses and defaults.
//!
//! Toxics: `latency` (with `jitter`), `bandwidth`, `timeout`, `slow_close`,
//! `slicer`, `limit_data` and `reset_peer`, each per stream (`upstream`,
//! `downstream`) with a `toxicity` (probability, decided per connection).
//! Toxic changes apply to live connections; `enabled: false` closes the
//! listener (connections are refused) and drops live connections.
//!
//! # Layout
//!
//! - [`model`]: the JSON types, shared by server and client.
//! - [`api`]: routes, Go-compatible request decoding, errors.
//! - [`proxy`]: the registry of proxies, listeners, toxic lists.
//! - `link`: one proxied connection, both directions, through the toxics.
//! - `toxics`: one file per toxic, each a timed state machine.
//! - [`client`]: the async client; [`config`]: the `--config` file;
//!   [`server`] and [`cli`]: running it.
//!
//! # Why not `noxious`
//!
//! The `noxious` crate (1.0.4, the core of a Rust port of Toxiproxy) was
//! evaluated first, by reading its source. Its `ToxicKind` is a closed enum
//! without `reset_peer`, and each toxic is dispatched by a `match` inside
//! its private link runner, while `run_proxy` owns the accept loop and the
//! sockets: `reset_peer` (SO_LINGER 0 on both sockets of a connection) can
//! only be added by forking it. It also pins rand 0.8, tokio-util 0.6 and
//! `mockall_double` (a second rand and a dead tokio-util in our build); its
//! `Toxic` serialises the stream as `"direction"`, not Toxiproxy's
//! `"stream"`; and its latency toxic sleeps the full delay after each
//! chunk in turn, so a burst of chunks is delayed cumulatively rather than
//! each by `latency` as in Toxiproxy. So the core here is our own, on tokio,
//! keeping noxious's (and Toxiproxy's) design: per connection an upstream
//! and a downstream pipe, each through the chain of toxics for its stream.

pub mod api;
pub mod cli;
pub mod client;
pub mod config;
mod link;
pub mod model;
pub mod proxy;
pub mod server;
mod toxics;

pub use client::{ToxiproxyClient, ToxiproxyError};
pub use model::{Proxy, ProxyConfig, Stream, Toxic, ToxicKind};
pub use server::{RunningServer, Server};
