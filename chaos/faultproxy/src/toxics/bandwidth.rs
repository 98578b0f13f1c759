//! `bandwidth`: data leaves at most `rate` KB/s (Toxiproxy's KB is 1000
//! bytes; rate 0 or less passes data unlimited). Chunks are cut into pieces
//! of at most 100 ms worth of data, as Toxiproxy does, so a large read is
//! spread out instead of released in one burst after a long wait.

use std::time::Duration;

use tokio::time::Instant;

use super::{Item, Stage, TimedQueue};
use crate::model::ToxicKind;

pub(crate) struct Bandwidth {
    rate: i64,
    /// When the link is next free: the due time of the last piece queued.
    free_at: Option<Instant>,
    queue: TimedQueue,
}

impl Bandwidth {
    pub(crate) fn new(kind: &ToxicKind) -> Self {
        let mut stage = Bandwidth {
            rate: 0,
            free_at: None,
            queue: TimedQueue::default(),
        };
        stage.update(kind, Instant::now());
        stage
    }
}

impl Stage for Bandwidth {
    fn push(&mut self, item: Item, now: Instant) {
        let Item::Data(mut data) = item else {
            self.queue.push(now, item);
            return;
        };
        if self.rate <= 0 {
            self.queue.push(now, Item::Data(data));
            return;
        }
        let rate = self.rate as u64; // bytes per millisecond
        let piece_len = (rate * 100) as usize;
        // Time spent idle is not saved up as credit for a later burst.
        let mut cursor = self.free_at.map_or(now, |free| free.max(now));
        while !data.is_empty() {
            let piece = data.split_to(piece_len.min(data.len()));
            // A piece is delivered once it has had time to cross the link.
            cursor += Duration::from_nanos(piece.len() as u64 * 1_000_000 / rate);
            self.queue.push(cursor, Item::Data(piece));
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
        if let ToxicKind::Bandwidth { rate } = *kind {
            self.rate = rate;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use bytes::Bytes;

    #[test]
    fn paces_data_at_the_rate() {
        let t0 = Instant::now();
        // 10 KB/s: 1000 bytes take 100 ms.
        let mut s = Bandwidth::new(&ToxicKind::Bandwidth { rate: 10 });
        s.push(Item::Data(Bytes::from(vec![0u8; 2500])), t0);
        assert!(pop_all(&mut s, t0 + ms(99)).is_empty());
        assert_eq!(pop_all(&mut s, t0 + ms(100)).len(), 1);
        assert_eq!(pop_all(&mut s, t0 + ms(200)).len(), 1);
        assert_eq!(s.wake_at(), Some(t0 + ms(250)));
        // Later data queues behind what is still crossing.
        s.push(Item::Data(Bytes::from(vec![0u8; 100])), t0 + ms(200));
        assert_eq!(pop_all(&mut s, t0 + ms(259)).len(), 1);
        assert_eq!(pop_all(&mut s, t0 + ms(260)).len(), 1);
    }

    #[test]
    fn zero_rate_is_unlimited() {
        let t0 = Instant::now();
        let mut s = Bandwidth::new(&ToxicKind::Bandwidth { rate: 0 });
        s.push(data("abc"), t0);
        assert_eq!(pop_all(&mut s, t0), vec![data("abc")]);
    }
}
