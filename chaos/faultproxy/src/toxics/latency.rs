//! `latency`: every chunk leaves `latency` ms (± up to `jitter` ms) after
//! it arrived, as in Toxiproxy, where the delay is measured from the time
//! the chunk was read rather than added after the previous chunk's delay,
//! so a burst of chunks is delayed once, not once per chunk.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;
use tokio::time::Instant;

use super::{millis, Item, Stage, TimedQueue};
use crate::model::ToxicKind;

pub(crate) struct Latency {
    latency: i64,
    jitter: i64,
    rng: StdRng,
    queue: TimedQueue,
}

impl Latency {
    pub(crate) fn new(kind: &ToxicKind, rng: StdRng) -> Self {
        let mut stage = Latency {
            latency: 0,
            jitter: 0,
            rng,
            queue: TimedQueue::default(),
        };
        stage.update(kind, Instant::now());
        stage
    }

    /// Toxiproxy's formula: `latency + rand[0, 2·jitter) − jitter`.
    fn delay(&mut self) -> Duration {
        let mut delay = self.latency;
        if self.jitter > 0 {
            delay += self.rng.random_range(0..self.jitter * 2) - self.jitter;
        }
        millis(delay)
    }
}

impl Stage for Latency {
    fn push(&mut self, item: Item, now: Instant) {
        let due = match item {
            Item::Data(_) => now + self.delay(),
            // A close follows the data ahead of it without a delay of its own.
            _ => now,
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
        if let ToxicKind::Latency { latency, jitter } = *kind {
            self.latency = latency;
            self.jitter = jitter;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use rand::SeedableRng;

    fn stage(latency: i64, jitter: i64) -> Latency {
        Latency::new(
            &ToxicKind::Latency { latency, jitter },
            StdRng::seed_from_u64(7),
        )
    }

    #[test]
    fn delays_each_chunk_from_its_arrival() {
        let t0 = Instant::now();
        let mut s = stage(100, 0);
        s.push(data("a"), t0);
        s.push(data("b"), t0 + ms(30));
        assert!(pop_all(&mut s, t0 + ms(99)).is_empty());
        assert_eq!(pop_all(&mut s, t0 + ms(100)), vec![data("a")]);
        assert_eq!(s.wake_at(), Some(t0 + ms(130)));
        assert_eq!(pop_all(&mut s, t0 + ms(130)), vec![data("b")]);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let t0 = Instant::now();
        let mut s = stage(100, 20);
        for _ in 0..200 {
            s.push(data("x"), t0);
            let due = s.wake_at().unwrap();
            assert!(due >= t0 + ms(80) && due < t0 + ms(120), "{:?}", due - t0);
            s.flush();
        }
    }

    #[test]
    fn removal_hands_data_on_at_once() {
        let t0 = Instant::now();
        let mut s = stage(1000, 0);
        s.push(data("a"), t0);
        s.push(Item::Eof, t0);
        assert_eq!(s.flush(), vec![data("a"), Item::Eof]);
    }
}
