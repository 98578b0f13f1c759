//! The client-side write ledger (issue 7's "nothing lost", issue 8's RPO).
//!
//! Background [`Writers`] keep writing while an experiment or a drill runs —
//! checkouts with idempotency keys, signed storefront webhooks, credit
//! reservations — and record every write in a [`WriteLedger`] as the client
//! saw it: acknowledged (`Ok`), refused (`Failed`) or unknown (timeout,
//! connection error, 5xx). Afterwards [`reconcile`] compares the ledger with
//! Postgres, the notification sink and the DLQ and counts, Jepsen style,
//! lost, duplicated, unexpected and recovered writes, and missing or
//! duplicated events.
//!
//! ```text
//! let ledger = WriteLedger::new();
//! let writers = Writers::start(&sut, WriterConfig::default(), ledger).await?;
//! // ... inject the fault, wait for recovery ...
//! let ledger = writers.stop().await;
//! let rec = reconcile(&sut, &ledger, Duration::from_secs(30)).await?;
//! println!("{}", rec.summary_line());
//! assert!(rec.passed());
//! ```
//!
//! Files: [`record`] (the ledger and its types), [`classify`] (HTTP answer
//! → outcome), [`setup`] and [`writers`] (the background writers),
//! [`reconcile`] (the pure reconciliation), [`observe`] (SQL, sink, DLQ,
//! settling).

pub mod classify;
pub mod observe;
pub mod reconcile;
pub mod record;
pub mod setup;
pub mod writers;

pub use observe::{find_rows, reconcile};
pub use reconcile::{
    reconcile_rows, EventCounts, Found, KindCounts, LostWrite, OrderRef, OutboxRow, Reconciliation,
    SeenEvent,
};
pub use record::{OutcomeCounts, WriteKind, WriteLedger, WriteOutcome, WriteRecord};
pub use setup::WriterSetup;
pub use writers::{WriterConfig, Writers};

/// What can go wrong setting up writers or reconciling. Each says what and
/// where; [`LedgerError::hint`] says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("writer configuration: {0}")]
    Config(String),

    #[error("writer set-up: {what} is needed for {writer}, but the system under test has none")]
    MissingSetting {
        what: &'static str,
        writer: &'static str,
    },

    #[error("writer set-up: {step} failed: {detail}")]
    Setup { step: &'static str, detail: String },

    #[error("stack: {what}: {detail}")]
    Stack { what: String, detail: String },

    #[error("reconcile: {what}: {detail}")]
    Reconcile { what: String, detail: String },
}

impl LedgerError {
    pub fn hint(&self) -> &'static str {
        match self {
            LedgerError::Config(_) => "fix the writer rates / timeout in the experiment or drill settings",
            LedgerError::MissingSetting { .. } => {
                "declare it in gauntlet.toml ([endpoints], [secrets]); on a stack gauntlet started, the secret is read from the service's environment"
            }
            LedgerError::Setup { .. } => {
                "is the stack healthy and are the rate limits raised (GAUNTLET_RATE_LIMIT_*) for background writers?"
            }
            LedgerError::Stack { .. } => "is the run's stack still up? (`gauntlet status`)",
            LedgerError::Reconcile { .. } => {
                "the postgres service, the sink or the api did not answer; check `gauntlet status` and the app's logs"
            }
        }
    }
}
