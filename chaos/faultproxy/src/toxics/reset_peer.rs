//! `reset_peer`: when data (or the end of the stream) next arrives, it is
//! dropped and `timeout` ms later the connection is reset: both sockets are
//! closed with `SO_LINGER` 0, so both peers get a TCP RST
//! (`ECONNRESET`) instead of an orderly FIN. This mirrors Toxiproxy, whose
//! reset toxic also waits for the first chunk before starting its timer.

use tokio::time::Instant;

use super::{millis, Item, Stage};
use crate::model::ToxicKind;

pub(crate) struct ResetPeer {
    timeout: i64,
    reset_at: Option<Instant>,
    fired: bool,
    /// An end of stream swallowed while waiting; given back if the toxic is
    /// removed before it fires, so the connection can still end.
    pending_end: Option<Item>,
}

impl ResetPeer {
    pub(crate) fn new(kind: &ToxicKind) -> Self {
        let mut stage = ResetPeer {
            timeout: 0,
            reset_at: None,
            fired: false,
            pending_end: None,
        };
        stage.update(kind, Instant::now());
        stage
    }
}

impl Stage for ResetPeer {
    fn push(&mut self, item: Item, now: Instant) {
        if self.reset_at.is_none() {
            self.reset_at = Some(now + millis(self.timeout));
        }
        if !matches!(item, Item::Data(_)) && self.pending_end.is_none() {
            self.pending_end = Some(item);
        }
    }
    fn pop(&mut self, now: Instant) -> Option<Item> {
        if self.fired || self.reset_at? > now {
            return None;
        }
        self.fired = true;
        Some(Item::Reset)
    }
    fn wake_at(&self) -> Option<Instant> {
        if self.fired {
            None
        } else {
            self.reset_at
        }
    }
    fn buffered(&self) -> usize {
        0
    }
    fn flush(&mut self) -> Vec<Item> {
        self.pending_end.take().into_iter().collect()
    }
    fn update(&mut self, kind: &ToxicKind, _: Instant) {
        if let ToxicKind::ResetPeer { timeout } = *kind {
            self.timeout = timeout;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn resets_after_the_timeout_following_data() {
        let t0 = Instant::now();
        let mut s = ResetPeer::new(&ToxicKind::ResetPeer { timeout: 100 });
        assert_eq!(s.wake_at(), None);
        s.push(data("x"), t0 + ms(50));
        assert!(pop_all(&mut s, t0 + ms(149)).is_empty());
        assert_eq!(pop_all(&mut s, t0 + ms(150)), vec![Item::Reset]);
        assert_eq!(s.wake_at(), None);
    }
}
