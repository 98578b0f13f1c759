//! `slicer`: each chunk is cut into pieces of `average_size` ±
//! `size_variation` bytes sent `delay` µs apart, so the peer receives the
//! same bytes in many small reads (exercising its framing code).

use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;
use tokio::time::Instant;

use super::{Item, Stage, TimedQueue};
use crate::model::ToxicKind;

pub(crate) struct Slicer {
    average_size: i64,
    size_variation: i64,
    delay_us: i64,
    rng: StdRng,
    /// When the next piece may leave (pieces of later chunks wait too).
    free_at: Option<Instant>,
    queue: TimedQueue,
}

impl Slicer {
    pub(crate) fn new(kind: &ToxicKind, rng: StdRng) -> Self {
        let mut stage = Slicer {
            average_size: 0,
            size_variation: 0,
            delay_us: 0,
            rng,
            free_at: None,
            queue: TimedQueue::default(),
        };
        stage.update(kind, Instant::now());
        stage
    }

    fn piece_len(&mut self) -> usize {
        let mut len = self.average_size;
        if self.size_variation > 0 {
            len += self.rng.random_range(0..self.size_variation * 2) - self.size_variation;
        }
        len.max(1) as usize
    }
}

impl Stage for Slicer {
    fn push(&mut self, item: Item, now: Instant) {
        let Item::Data(mut data) = item else {
            self.queue.push(now, item);
            return;
        };
        let gap = Duration::from_micros(self.delay_us.max(0) as u64);
        let mut cursor = self.free_at.map_or(now, |free| free.max(now));
        while !data.is_empty() {
            let len = self.piece_len().min(data.len());
            self.queue.push(cursor, Item::Data(data.split_to(len)));
            cursor += gap;
        }
        self.free_at = Some(cursor);
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
        if let ToxicKind::Slicer {
            average_size,
            size_variation,
            delay,
        } = *kind
        {
            self.average_size = average_size;
            self.size_variation = size_variation;
            self.delay_us = delay;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn cuts_into_spaced_pieces() {
        let t0 = Instant::now();
        let kind = ToxicKind::Slicer {
            average_size: 4,
            size_variation: 0,
            delay: 10_000,
        };
        let mut s = Slicer::new(&kind, StdRng::seed_from_u64(1));
        s.push(data("chop chop"), t0);
        assert_eq!(pop_all(&mut s, t0), vec![data("chop")]);
        assert_eq!(pop_all(&mut s, t0 + ms(10)), vec![data(" cho")]);
        assert_eq!(pop_all(&mut s, t0 + ms(20)), vec![data("p")]);
    }

    #[test]
    fn variation_keeps_every_byte() {
        let t0 = Instant::now();
        let kind = ToxicKind::Slicer {
            average_size: 5,
            size_variation: 4,
            delay: 0,
        };
        let mut s = Slicer::new(&kind, StdRng::seed_from_u64(2));
        let text: String = (0..100)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        s.push(data(&text), t0);
        let pieces = pop_all(&mut s, t0);
        assert!(pieces.len() >= 100 / 9);
        let joined: Vec<u8> = pieces
            .iter()
            .flat_map(|p| match p {
                Item::Data(d) => d.to_vec(),
                _ => vec![],
            })
            .collect();
        assert_eq!(joined, text.as_bytes());
    }
}
