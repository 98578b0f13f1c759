//! Property tests over HTTP (skeleton; filled in by issue 6).
