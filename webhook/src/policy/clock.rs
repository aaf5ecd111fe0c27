//! The guest's share of a call's deadline. Wall-clock time spent running guest code counts;
//! time inside a host call (`resolve-image` waiting on a registry) does not. The budget is
//! charged at every host call and whenever the store's epoch deadline comes, so no number of
//! host calls can refill it.

use std::time::{Duration, Instant};

use super::engine::EPOCH_TICK;

/// What is left of the guest's budget, and since when the guest has been running.
#[derive(Debug)]
pub struct GuestClock {
    left: Duration,
    resumed: Instant,
}

impl GuestClock {
    /// A clock with `budget`, the guest running from now.
    pub fn start(budget: Duration) -> Self {
        Self::start_at(budget, Instant::now())
    }

    fn start_at(budget: Duration, now: Instant) -> Self {
        Self {
            left: budget,
            resumed: now,
        }
    }

    /// Charges the guest for the time since it last resumed (it now enters the host); false
    /// when its budget is spent.
    pub fn pause(&mut self) -> bool {
        self.pause_at(Instant::now())
    }

    fn pause_at(&mut self, now: Instant) -> bool {
        self.left = self.left.saturating_sub(now.duration_since(self.resumed));
        self.resumed = now;
        !self.left.is_zero()
    }

    /// The guest runs again from now (the host call returns).
    pub fn resume(&mut self) {
        self.resumed = Instant::now();
    }

    /// What is left of the budget.
    #[cfg(test)]
    pub fn left(&self) -> Duration {
        self.left
    }

    /// Charges the guest for the time since it last resumed and lets it run on: the whole
    /// epoch ticks left, or `None` when less than one is (its deadline has come).
    pub fn lap(&mut self) -> Option<u64> {
        self.lap_at(Instant::now())
    }

    fn lap_at(&mut self, now: Instant) -> Option<u64> {
        self.pause_at(now);
        let whole = self.left.as_micros() / EPOCH_TICK.as_micros();
        (whole > 0).then(|| u64::try_from(whole).unwrap_or(u64::MAX))
    }
}

/// `duration` in epoch ticks, rounded down, at least one (a deadline of zero ticks would
/// stop the guest before it starts).
pub fn ticks(duration: Duration) -> u64 {
    let ticks = duration.as_micros() / EPOCH_TICK.as_micros();
    u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The clock is driven by explicit instants: a test that slept instead failed whenever
    // the machine was busy enough to oversleep.
    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn time_in_the_guest_is_charged_across_host_calls() {
        let t0 = Instant::now();
        let mut clock = GuestClock::start_at(ms(30), t0);
        assert!(clock.pause_at(t0 + ms(12)));
        // In the host from 12 to 52 ms: not charged.
        clock.resumed = t0 + ms(52);
        assert!(clock.pause_at(t0 + ms(64)));
        assert_eq!(clock.left(), ms(6));
        clock.resumed = t0 + ms(70);
        assert!(
            !clock.pause_at(t0 + ms(82)),
            "spent after 36 ms of guest time"
        );
        assert_eq!(clock.lap_at(t0 + ms(82)), None);
    }

    #[test]
    fn a_lap_grants_the_whole_ticks_left() {
        let t0 = Instant::now();
        let mut clock = GuestClock::start_at(ms(500), t0);
        assert_eq!(clock.lap_at(t0), Some(100));
        assert_eq!(
            clock.lap_at(t0 + ms(7)),
            Some(98),
            "493 ms left: 98 whole ticks"
        );
        let mut short = GuestClock::start_at(ms(4), t0);
        assert_eq!(short.lap_at(t0), None, "less than one tick left");
    }

    #[test]
    fn ticks_round_down_to_at_least_one() {
        assert_eq!(ticks(Duration::from_millis(500)), 100);
        assert_eq!(ticks(Duration::from_millis(7)), 1);
        assert_eq!(ticks(Duration::ZERO), 1);
    }
}
