//! `timeout`: no data passes; `timeout` ms after the toxic started acting
//! on the connection it is closed (0: never). Removing the toxic closes the
//! connection too, as in Toxiproxy, since data has been dropped and the
//! stream can no longer be trusted by either peer.

use tokio::time::Instant;

use super::{millis, Item, Stage, TimedQueue};
use crate::model::ToxicKind;

pub(crate) struct Timeout {
    timeout: i64,
    started: Instant,
    fired: bool,
    /// Ends of the stream, which are passed on (data is not).
    queue: TimedQueue,
}

impl Timeout {
    pub(crate) fn new(kind: &ToxicKind, now: Instant) -> Self {
        let mut stage = Timeout {
            timeout: 0,
            started: now,
            fired: false,
            queue: TimedQueue::default(),
        };
        stage.update(kind, now);
        stage
    }

    fn deadline(&self) -> Option<Instant> {
        (self.timeout > 0 && !self.fired).then(|| self.started + millis(self.timeout))
    }
}

impl Stage for Timeout {
    fn push(&mut self, item: Item, now: Instant) {
        match item {
            Item::Data(_) => {} // dropped on the floor
            end => self.queue.push(now, end),
        }
    }
    fn pop(&mut self, now: Instant) -> Option<Item> {
        if self.deadline().is_some_and(|deadline| deadline <= now) {
            self.fired = true;
            return Some(Item::Close);
        }
        self.queue.pop(now)
    }
    fn wake_at(&self) -> Option<Instant> {
        match (self.deadline(), self.queue.wake_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
    fn buffered(&self) -> usize {
        0
    }
    fn flush(&mut self) -> Vec<Item> {
        let mut items = vec![Item::Close];
        items.extend(self.queue.drain());
        items
    }
    /// As in Toxiproxy, where an update restarts the toxic, the timeout
    /// counts again from the update.
    fn update(&mut self, kind: &ToxicKind, now: Instant) {
        if let ToxicKind::Timeout { timeout } = *kind {
            self.timeout = timeout;
            self.started = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn drops_data_then_closes() {
        let t0 = Instant::now();
        let mut s = Timeout::new(&ToxicKind::Timeout { timeout: 200 }, t0);
        s.push(data("lost"), t0 + ms(10));
        assert!(pop_all(&mut s, t0 + ms(199)).is_empty());
        assert_eq!(s.wake_at(), Some(t0 + ms(200)));
        assert_eq!(pop_all(&mut s, t0 + ms(200)), vec![Item::Close]);
        assert_eq!(s.wake_at(), None);
    }

    #[test]
    fn zero_never_closes() {
        let t0 = Instant::now();
        let mut s = Timeout::new(&ToxicKind::Timeout { timeout: 0 }, t0);
        s.push(data("lost"), t0);
        assert!(pop_all(&mut s, t0 + ms(100_000)).is_empty());
        assert_eq!(s.wake_at(), None);
    }
}
