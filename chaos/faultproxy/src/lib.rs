//! Fault proxy (skeleton; issue 7).
