//! The open-model schedule (k6 `constant-arrival-rate` style).
//!
//! Arrivals are numbered 0, 1, 2, ... in time order; within a phase of rate
//! `r` they are `1/r` apart. Arrival `g` is sent by user `g mod N`, so user
//! `i` of `N` sends its `k`-th request at arrival `i + k·N`; at a constant
//! rate that is `start + i/rate + k·N/rate`. A user sends each request at its
//! intended time whatever happened to the previous one (if that one is
//! still running the next is late, and latency is counted from the intended
//! time, so a stalled server's queueing shows up in the figures).

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
struct Segment {
    start: Duration,
    end: Duration,
    rate: f64,
    /// Index of the segment's first arrival.
    first: u64,
    count: u64,
}

/// The arrival times of one open-model run, from its epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenSchedule {
    users: u64,
    segments: Vec<Segment>,
}

/// Whole arrivals in `x` (a count that is an integer up to float noise is
/// taken as that integer; anything above rounds up, because an arrival at
/// offset `j/r` belongs to `[0, d)` when `j/r < d`).
fn ceil_count(x: f64) -> u64 {
    if x <= 0.0 {
        return 0;
    }
    let r = x.round();
    if (x - r).abs() < 1e-9 {
        r as u64
    } else {
        x.ceil() as u64
    }
}

impl OpenSchedule {
    /// `phases`: `(rate per second, duration)` in order; `users`: the pool.
    pub fn new(phases: &[(f64, Duration)], users: u32) -> OpenSchedule {
        let mut segments = Vec::new();
        let mut at = Duration::ZERO;
        let mut first = 0;
        for (rate, d) in phases {
            let count = ceil_count(rate * d.as_secs_f64());
            segments.push(Segment {
                start: at,
                end: at + *d,
                rate: *rate,
                first,
                count,
            });
            first += count;
            at += *d;
        }
        OpenSchedule {
            users: u64::from(users.max(1)),
            segments,
        }
    }

    pub fn users(&self) -> u32 {
        self.users as u32
    }

    /// How many arrivals the schedule holds.
    pub fn planned(&self) -> u64 {
        self.segments.last().map(|s| s.first + s.count).unwrap_or(0)
    }

    pub fn duration(&self) -> Duration {
        self.segments.last().map(|s| s.end).unwrap_or_default()
    }

    /// Offset from the epoch of arrival `g`, `None` past the end.
    pub fn arrival(&self, g: u64) -> Option<Duration> {
        let s = self
            .segments
            .iter()
            .find(|s| g >= s.first && g < s.first + s.count)?;
        Some(s.start + Duration::from_secs_f64((g - s.first) as f64 / s.rate))
    }

    /// How many arrivals come strictly before offset `t`.
    pub fn arrivals_before(&self, t: Duration) -> u64 {
        let mut n = 0;
        for s in &self.segments {
            if t >= s.end {
                n += s.count;
            } else {
                if t > s.start {
                    n += ceil_count((t - s.start).as_secs_f64() * s.rate).min(s.count);
                }
                break;
            }
        }
        n
    }

    /// Offset of user `user`'s `k`-th request, `None` past the end.
    pub fn user_slot(&self, user: u32, k: u64) -> Option<Duration> {
        self.arrival(u64::from(user) + k * self.users)
    }

    /// The first slot `k` of `user` whose time is at or after offset `t`
    /// (a user that got ready at `t` starts there; earlier slots are skipped).
    pub fn first_slot_at_or_after(&self, user: u32, t: Duration) -> u64 {
        let g0 = self.arrivals_before(t);
        let u = u64::from(user);
        if g0 <= u {
            0
        } else {
            (g0 - u).div_ceil(self.users)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Duration) -> f64 {
        d.as_secs_f64() * 1000.0
    }

    #[test]
    fn constant_rate_matches_the_formula() {
        // 10 users carrying 100 requests/s for 5 s.
        let s = OpenSchedule::new(&[(100.0, Duration::from_secs(5))], 10);
        assert_eq!(s.planned(), 500);
        for user in [0u32, 3, 9] {
            for k in [0u64, 1, 7, 49] {
                // start + offset_i + k·N/rate, offset_i = i/rate
                let expected = user as f64 / 100.0 + k as f64 * 10.0 / 100.0;
                let got = s.user_slot(user, k).unwrap().as_secs_f64();
                assert!(
                    (got - expected).abs() < 1e-9,
                    "user {user} slot {k}: {got} vs {expected}"
                );
            }
            assert_eq!(s.user_slot(user, 50), None, "past the end");
        }
    }

    #[test]
    fn every_arrival_is_sent_by_exactly_one_user() {
        let s = OpenSchedule::new(&[(7.0, Duration::from_secs(3))], 4);
        let mut times: Vec<f64> = Vec::new();
        for u in 0..4 {
            let mut k = 0;
            while let Some(t) = s.user_slot(u, k) {
                times.push(ms(t));
                k += 1;
            }
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(times.len() as u64, s.planned());
        assert_eq!(times.len(), 21);
        for w in times.windows(2) {
            assert!((w[1] - w[0] - 1000.0 / 7.0).abs() < 1e-6);
        }
    }

    #[test]
    fn rates_change_by_phase() {
        // 2 s at 5/s, then 1 s at 20/s.
        let s = OpenSchedule::new(
            &[
                (5.0, Duration::from_secs(2)),
                (20.0, Duration::from_secs(1)),
            ],
            3,
        );
        assert_eq!(s.planned(), 10 + 20);
        assert_eq!(s.duration(), Duration::from_secs(3));
        assert_eq!(ms(s.arrival(9).unwrap()).round(), 1800.0);
        assert_eq!(ms(s.arrival(10).unwrap()).round(), 2000.0);
        assert_eq!(ms(s.arrival(11).unwrap()).round(), 2050.0);
        assert_eq!(s.arrival(30), None);
        // User 1 sends arrivals 1, 4, 7, 10, 13, ...
        assert_eq!(ms(s.user_slot(1, 3).unwrap()).round(), 2000.0);
        assert_eq!(ms(s.user_slot(1, 4).unwrap()).round(), 2150.0);
    }

    #[test]
    fn arrivals_before_and_first_slot() {
        let s = OpenSchedule::new(&[(10.0, Duration::from_secs(10))], 5);
        assert_eq!(s.arrivals_before(Duration::ZERO), 0);
        assert_eq!(s.arrivals_before(Duration::from_millis(1)), 1);
        assert_eq!(s.arrivals_before(Duration::from_millis(100)), 1);
        assert_eq!(s.arrivals_before(Duration::from_millis(101)), 2);
        assert_eq!(s.arrivals_before(Duration::from_secs(99)), 100);
        // A user ready at 0 starts with its first slot.
        assert_eq!(s.first_slot_at_or_after(3, Duration::ZERO), 0);
        // User 3's slots: 0.3 s, 0.8 s, 1.3 s... Ready at 0.75 s → slot 1.
        assert_eq!(s.first_slot_at_or_after(3, Duration::from_millis(750)), 1);
        assert_eq!(s.first_slot_at_or_after(3, Duration::from_millis(800)), 1);
        assert_eq!(s.first_slot_at_or_after(3, Duration::from_millis(801)), 2);
        for (user, ready_ms) in [(0u32, 0u64), (4, 1234), (2, 9_999)] {
            let ready = Duration::from_millis(ready_ms);
            let k = s.first_slot_at_or_after(user, ready);
            assert!(s.user_slot(user, k).is_none_or(|t| t >= ready));
            if k > 0 {
                assert!(s.user_slot(user, k - 1).unwrap() < ready);
            }
        }
    }

    #[test]
    fn fractional_rates() {
        let s = OpenSchedule::new(&[(2.5, Duration::from_secs(1))], 1);
        assert_eq!(s.planned(), 3, "arrivals at 0, 0.4 and 0.8 s");
        let s = OpenSchedule::new(&[(0.5, Duration::from_secs(4))], 1);
        assert_eq!(s.planned(), 2, "arrivals at 0 and 2 s");
    }
}
