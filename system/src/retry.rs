//! Capped exponential backoff for reconnect loops.

use std::time::Duration;

/// 200 ms, doubling, capped at 5 s. `reset` after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    initial: Duration,
    max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(200), Duration::from_secs(5))
    }
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            next: initial,
            initial,
            max,
        }
    }

    /// The delay the next `wait` will sleep.
    pub fn peek(&self) -> Duration {
        self.next
    }

    /// Sleeps for the current delay, then doubles it (up to the cap).
    pub async fn wait(&mut self) {
        let delay = self.advance();
        tokio::time::sleep(delay).await;
    }

    /// The current delay, advancing to the next one: for callers that sleep
    /// themselves (e.g. racing the sleep against a shutdown signal).
    pub fn next_delay(&mut self) -> Duration {
        self.advance()
    }

    fn advance(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let delays: Vec<u128> = (0..5).map(|_| b.advance().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 500, 500]);
        b.reset();
        assert_eq!(b.peek(), Duration::from_millis(100));
    }
}
