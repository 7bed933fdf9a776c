//! How often and how long to retry a Cognito call that failed in a retryable way.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff with jitter, bounded in attempts.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The pause before attempt `attempt + 1`, after `attempt` failures: a random time between a
    /// quarter of and all of `base * 2^(attempt-1)` (capped), so that clients throttled together
    /// do not come back together, and none comes back at once.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let millis = ceiling.as_millis() as u64;
        let jittered = rand::rng().random_range(millis / 4..=millis.max(1));
        Duration::from_millis(jittered)
    }

    fn ceiling(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        self.base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default();
        for attempt in 1..20 {
            let pause = policy.backoff(attempt);
            assert!(pause <= policy.max_delay);
            assert!(pause <= policy.ceiling(attempt));
            assert!(pause >= policy.ceiling(attempt) / 4);
        }
        assert!(policy.ceiling(3) > policy.ceiling(1));
    }
}
