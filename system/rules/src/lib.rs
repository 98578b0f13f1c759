//! Rules engines (skeleton; filled in by issue 6).
