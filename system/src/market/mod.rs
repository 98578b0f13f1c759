//! The marketplace domain (SYSTEM-SPEC sections 4, 6 and 7): accounts and
//! tokens, orders and their stages, checkout, stock, events and flags.
//! HTTP lives in `crate::api`; this module only knows Postgres and Redis.

pub mod cart;
pub mod checkout;
pub mod events;
pub mod flags;
pub mod idempotency;
pub mod orders;
pub mod products;
pub mod stage_change;
pub mod stages;
pub mod stock;
pub mod tokens;
pub mod users;
