//! The toxics, each a small state machine over a FIFO of scheduled items.
//!
//! Toxiproxy runs every toxic as a goroutine between two channels and
//! interrupts/rewires them when toxics change. Here a connection's task owns
//! the whole chain and drives it with explicit times instead: a stage is
//! given items (`push`), hands items on when they are due (`pop`), and says
//! when it next has something due (`wake_at`). That keeps the data of a
//! live connection in plain values, so adding, updating or removing a toxic
//! is a synchronous edit of the chain with nothing in flight to lose, and
//! the toxics can be unit-tested with made-up instants.

mod bandwidth;
mod latency;
mod limit_data;
mod reset_peer;
mod slicer;
mod slow_close;
mod timeout;

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::StdRng;
use tokio::time::Instant;

use crate::model::ToxicKind;

/// What flows through a chain.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    Data(Bytes),
    /// The source ended its side (FIN); passed on as a half-close.
    Eof,
    /// The connection is to be closed (a toxic decided so, or a socket failed).
    Close,
    /// The connection is to be reset: RST to both peers.
    Reset,
}

impl Item {
    fn len(&self) -> usize {
        match self {
            Item::Data(data) => data.len(),
            _ => 0,
        }
    }
}

/// One toxic in the chain of one direction of one connection.
pub(crate) trait Stage: Send {
    /// Takes an item from the stage before (or the socket) at `now`.
    fn push(&mut self, item: Item, now: Instant);
    /// The next item due at `now`, if any.
    fn pop(&mut self, now: Instant) -> Option<Item>;
    /// When `pop` will next have something, if it has nothing now.
    fn wake_at(&self) -> Option<Instant>;
    /// Bytes held, for back-pressure on the source.
    fn buffered(&self) -> usize;
    /// The toxic is being removed: everything held goes on at once (as
    /// Toxiproxy's removal does), plus whatever the removal itself implies.
    fn flush(&mut self) -> Vec<Item>;
    /// New attributes of the same type. Items already scheduled keep their
    /// schedule; the change applies to data arriving from now on.
    fn update(&mut self, kind: &ToxicKind, now: Instant);
}

/// Builds the stage for an active toxic.
pub(crate) fn stage_for(kind: &ToxicKind, now: Instant, rng: StdRng) -> Box<dyn Stage> {
    match kind {
        ToxicKind::Latency { .. } => Box::new(latency::Latency::new(kind, rng)),
        ToxicKind::Bandwidth { .. } => Box::new(bandwidth::Bandwidth::new(kind)),
        ToxicKind::SlowClose { .. } => Box::new(slow_close::SlowClose::new(kind)),
        ToxicKind::Timeout { .. } => Box::new(timeout::Timeout::new(kind, now)),
        ToxicKind::Slicer { .. } => Box::new(slicer::Slicer::new(kind, rng)),
        ToxicKind::LimitData { .. } => Box::new(limit_data::LimitData::new(kind)),
        ToxicKind::ResetPeer { .. } => Box::new(reset_peer::ResetPeer::new(kind)),
    }
}

/// The stage of a toxic that did not apply to this connection (toxicity).
#[derive(Default)]
pub(crate) struct Passthrough(TimedQueue);

impl Stage for Passthrough {
    fn push(&mut self, item: Item, now: Instant) {
        self.0.push(now, item);
    }
    fn pop(&mut self, now: Instant) -> Option<Item> {
        self.0.pop(now)
    }
    fn wake_at(&self) -> Option<Instant> {
        self.0.wake_at()
    }
    fn buffered(&self) -> usize {
        self.0.bytes()
    }
    fn flush(&mut self) -> Vec<Item> {
        self.0.drain()
    }
    fn update(&mut self, _: &ToxicKind, _: Instant) {}
}

/// A FIFO whose items each leave at a due time, never before the items
/// ahead of them, so a toxic can delay data but never reorder it.
#[derive(Default)]
pub(crate) struct TimedQueue {
    items: VecDeque<(Instant, Item)>,
    bytes: usize,
}

impl TimedQueue {
    pub(crate) fn push(&mut self, due: Instant, item: Item) {
        let due = match self.items.back() {
            Some((last, _)) => due.max(*last),
            None => due,
        };
        self.bytes += item.len();
        self.items.push_back((due, item));
    }

    pub(crate) fn pop(&mut self, now: Instant) -> Option<Item> {
        if self.items.front()?.0 > now {
            return None;
        }
        let (_, item) = self.items.pop_front()?;
        self.bytes -= item.len();
        Some(item)
    }

    pub(crate) fn wake_at(&self) -> Option<Instant> {
        self.items.front().map(|(due, _)| *due)
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn drain(&mut self) -> Vec<Item> {
        self.bytes = 0;
        self.items.drain(..).map(|(_, item)| item).collect()
    }
}

/// A non-negative millisecond attribute as a duration.
fn millis(value: i64) -> Duration {
    Duration::from_millis(value.max(0) as u64)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// Everything the stage hands on at `now`.
    pub(crate) fn pop_all(stage: &mut dyn Stage, now: Instant) -> Vec<Item> {
        std::iter::from_fn(|| stage.pop(now)).collect()
    }

    pub(crate) fn data(text: &str) -> Item {
        Item::Data(Bytes::copy_from_slice(text.as_bytes()))
    }

    pub(crate) fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn timed_queue_never_reorders() {
        let t0 = Instant::now();
        let mut q = TimedQueue::default();
        q.push(t0 + ms(50), data("a"));
        q.push(t0 + ms(10), data("b")); // due earlier, still after "a"
        assert_eq!(q.pop(t0 + ms(20)), None);
        assert_eq!(q.pop(t0 + ms(50)), Some(data("a")));
        assert_eq!(q.pop(t0 + ms(50)), Some(data("b")));
        assert_eq!(q.bytes(), 0);
    }
}
