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
        Self {
            left: budget,
            resumed: Instant::now(),
        }
    }

    /// Charges the guest for the time since it last resumed (it now enters the host); false
    /// when its budget is spent.
    pub fn pause(&mut self) -> bool {
        let now = Instant::now();
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
        self.pause();
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

    #[test]
    fn time_in_the_guest_is_charged_across_host_calls() {
        let mut clock = GuestClock::start(Duration::from_millis(30));
        std::thread::sleep(Duration::from_millis(12));
        assert!(clock.pause());
        // In the host: not charged.
        std::thread::sleep(Duration::from_millis(40));
        clock.resume();
        std::thread::sleep(Duration::from_millis(12));
        assert!(clock.pause());
        assert!(
            clock.left() <= Duration::from_millis(6),
            "{:?}",
            clock.left()
        );
        clock.resume();
        std::thread::sleep(Duration::from_millis(12));
        assert!(!clock.pause(), "spent after 36 ms of guest time");
        assert_eq!(clock.lap(), None);
    }

    #[test]
    fn a_lap_grants_the_whole_ticks_left() {
        let mut clock = GuestClock::start(Duration::from_millis(500));
        let ticks = clock.lap().unwrap_or_default();
        assert!((99..=100).contains(&ticks), "{ticks}");
        let mut short = GuestClock::start(Duration::from_millis(4));
        assert_eq!(short.lap(), None, "less than one tick left");
    }

    #[test]
    fn ticks_round_down_to_at_least_one() {
        assert_eq!(ticks(Duration::from_millis(500)), 100);
        assert_eq!(ticks(Duration::from_millis(7)), 1);
        assert_eq!(ticks(Duration::ZERO), 1);
    }
}
