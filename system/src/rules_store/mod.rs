//! Persistence of the rules engines (SYSTEM-SPEC section 8): work orders,
//! the credit ledger and the feed. The decisions come from the pure crate
//! `gauntlet-rules`; this module loads their inputs from Postgres, applies
//! their outputs in one transaction with the rows locked, and knows nothing
//! of HTTP (handlers live in `crate::api::rules`).

pub mod billing;
pub mod feed;
pub mod work_orders;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// The JSON name of a rules enum (`"READY_FOR_RENDER"`, `"consume"`), as
/// stored in the text columns.
pub(crate) fn name_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        other => panic!("rules enum did not serialise to a string: {other:?}"),
    }
}

/// A stored enum name back into its rules type; `None` for a value the
/// schema's CHECK should have kept out.
pub(crate) fn parse_name<T: DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_value(Value::String(text.to_owned())).ok()
}

/// A row whose stored value the rules do not know (a CHECK constraint
/// should make this impossible).
#[derive(Debug, thiserror::Error)]
#[error("stored {what} {value:?} is not a known value")]
pub struct Corrupt {
    pub what: &'static str,
    pub value: String,
}

pub(crate) fn parse_column<T: DeserializeOwned>(
    what: &'static str,
    text: &str,
) -> Result<T, Corrupt> {
    parse_name(text).ok_or_else(|| Corrupt {
        what,
        value: text.to_owned(),
    })
}
