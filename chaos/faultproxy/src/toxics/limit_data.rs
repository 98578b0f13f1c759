//! `limit_data`: once `bytes` bytes have passed in this direction, the
//! connection is closed. The count belongs to the connection and survives
//! updates of the toxic, like Toxiproxy's stateful toxic.

use tokio::time::Instant;

use super::{Item, Stage, TimedQueue};
use crate::model::ToxicKind;

pub(crate) struct LimitData {
    limit: i64,
    passed: i64,
    closed: bool,
    queue: TimedQueue,
}

impl LimitData {
    pub(crate) fn new(kind: &ToxicKind) -> Self {
        let mut stage = LimitData {
            limit: 0,
            passed: 0,
            closed: false,
            queue: TimedQueue::default(),
        };
        stage.update(kind, Instant::now());
        stage
    }
}

impl Stage for LimitData {
    fn push(&mut self, item: Item, now: Instant) {
        if self.closed {
            return;
        }
        let Item::Data(mut data) = item else {
            self.queue.push(now, item);
            return;
        };
        let remaining = (self.limit - self.passed).max(0) as usize;
        data.truncate(remaining);
        if !data.is_empty() {
            self.passed += data.len() as i64;
            self.queue.push(now, Item::Data(data));
        }
        if self.limit - self.passed <= 0 {
            self.closed = true;
            self.queue.push(now, Item::Close);
        }
    }
    fn pop(&mut self, now: Instant) -> Option<Item> {
        self.queue.pop(now)
    }
    fn wake_at(&self) -> Option<Instant> {
        self.queue.wake_at()
    }
    fn buffered(&self) -> usize {
        self.queue.bytes()
    }
    fn flush(&mut self) -> Vec<Item> {
        self.queue.drain()
    }
    fn update(&mut self, kind: &ToxicKind, _: Instant) {
        if let ToxicKind::LimitData { bytes } = *kind {
            self.limit = bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn passes_exactly_the_limit_then_closes() {
        let t0 = Instant::now();
        let mut s = LimitData::new(&ToxicKind::LimitData { bytes: 5 });
        s.push(data("abc"), t0);
        s.push(data("defg"), t0);
        s.push(data("hij"), t0);
        assert_eq!(
            pop_all(&mut s, t0),
            vec![data("abc"), data("de"), Item::Close]
        );
    }
}
