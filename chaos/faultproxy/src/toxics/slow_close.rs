//! `slow_close`: data passes untouched; the end of the stream (half-close
//! or close) is passed on only `delay` ms after it arrived.

use tokio::time::Instant;

use super::{millis, Item, Stage, TimedQueue};
use crate::model::ToxicKind;

pub(crate) struct SlowClose {
    delay: i64,
    queue: TimedQueue,
}

impl SlowClose {
    pub(crate) fn new(kind: &ToxicKind) -> Self {
        let mut stage = SlowClose {
            delay: 0,
            queue: TimedQueue::default(),
        };
        stage.update(kind, Instant::now());
        stage
    }
}

impl Stage for SlowClose {
    fn push(&mut self, item: Item, now: Instant) {
        let due = match item {
            Item::Eof | Item::Close => now + millis(self.delay),
            // A reset is not a close: it is not held back.
            Item::Data(_) | Item::Reset => now,
        };
        self.queue.push(due, item);
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
        if let ToxicKind::SlowClose { delay } = *kind {
            self.delay = delay;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn holds_the_close_only() {
        let t0 = Instant::now();
        let mut s = SlowClose::new(&ToxicKind::SlowClose { delay: 300 });
        s.push(data("bye"), t0);
        s.push(Item::Eof, t0);
        assert_eq!(pop_all(&mut s, t0), vec![data("bye")]);
        assert_eq!(s.wake_at(), Some(t0 + ms(300)));
        assert_eq!(pop_all(&mut s, t0 + ms(300)), vec![Item::Eof]);
    }
}
