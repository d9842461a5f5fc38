//! When to try a failed delivery again: waits double from one second up
//! to a cap, each drawn from its upper half so that deliveries that failed
//! together (a provider outage) do not all come back at the same instant.

use rand::Rng;
use std::time::Duration;

/// The wait before the first retry.
const FIRST: Duration = Duration::from_secs(1);

/// Capped exponential backoff with jitter.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    max: Duration,
}

impl Backoff {
    /// Waits doubling from one second, never above `max`.
    pub(crate) fn new(max: Duration) -> Self {
        Self {
            max: max.max(FIRST),
        }
    }

    /// The nominal wait after `attempts` failed attempts (1 s, 2 s, 4 s, …,
    /// then `max`).
    pub(crate) fn ceiling(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(31);
        FIRST
            .checked_mul(1 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The wait after `attempts` failed attempts: between half the nominal
    /// wait and the nominal wait.
    pub(crate) fn delay(&self, attempts: u32) -> Duration {
        let ceiling = self.ceiling(attempts);
        let floor = ceiling / 2;
        floor + (ceiling - floor).mul_f64(rand::thread_rng().gen::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_then_stop_at_the_cap() {
        let backoff = Backoff::new(Duration::from_secs(60));
        let ceilings: Vec<u64> = (1..=9).map(|n| backoff.ceiling(n).as_secs()).collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(60));
        assert_eq!(backoff.ceiling(0), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let backoff = Backoff::new(Duration::from_secs(3600));
        for attempts in 1..40 {
            let ceiling = backoff.ceiling(attempts);
            let delay = backoff.delay(attempts);
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{delay:?} vs {ceiling:?}"
            );
        }
    }

    #[test]
    fn a_cap_below_one_second_is_raised_to_one_second() {
        let backoff = Backoff::new(Duration::ZERO);
        assert_eq!(backoff.ceiling(5), Duration::from_secs(1));
    }
}
