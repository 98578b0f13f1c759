//! The reference model: the rules of SYSTEM-SPEC sections 7 and 8 and the
//! issue-6 contract, written again from the text. It never calls the
//! system's rules crate: a differential property is only worth something
//! when the two sides were written independently.

pub mod feed;
pub mod flags;
pub mod ledger;
pub mod round;
pub mod token_bucket;
pub mod valuation;
pub mod workorder;
