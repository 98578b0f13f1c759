//! Chaos experiments and the write ledger (skeleton; issue 7).
