//! Client-side pacing: one token bucket per Cognito quota category.
//!
//! Cognito's request-rate quotas are per account and Region and shared with the customer's own
//! applications, so the connector paces itself to a configurable share of each category instead
//! of finding the limit by being throttled.

use std::fmt;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::ApiBudget;

/// Cognito's request-rate quota categories that this connector calls into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuotaCategory {
    UserList,
    UserRead,
    UserResourceRead,
    UserPoolResourceRead,
    UserPoolRead,
    UserUpdate,
    UserCreation,
}

impl QuotaCategory {
    pub const ALL: [Self; 7] = [
        Self::UserList,
        Self::UserRead,
        Self::UserResourceRead,
        Self::UserPoolResourceRead,
        Self::UserPoolRead,
        Self::UserUpdate,
        Self::UserCreation,
    ];

    /// AWS's default requests per second for the category.
    pub fn aws_default_rps(self) -> f64 {
        match self {
            Self::UserList => 30.0,
            Self::UserRead => 120.0,
            Self::UserResourceRead => 50.0,
            Self::UserPoolResourceRead => 20.0,
            Self::UserPoolRead => 15.0,
            Self::UserUpdate => 25.0,
            Self::UserCreation => 50.0,
        }
    }

    /// A hard per-pool cap that holds whatever the account quota: ListGroups and GetGroup are
    /// limited to 5 requests per second per pool and operation.
    fn per_pool_cap_rps(self) -> Option<f64> {
        match self {
            Self::UserPoolResourceRead => Some(5.0),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for QuotaCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A token bucket that hands out reservations: a caller that finds it empty takes a token on
/// credit and sleeps until that token would have arrived, so waiters are served in order
/// without polling.
struct TokenBucket {
    rate_per_sec: f64,
    capacity: f64,
    state: Mutex<BucketState>,
}

struct BucketState {
    tokens: f64,
    refilled_at: Instant,
}

impl TokenBucket {
    fn new(rate_per_sec: f64) -> Self {
        // One second of burst, but never less than one call.
        let capacity = rate_per_sec.max(1.0);
        Self {
            rate_per_sec,
            capacity,
            state: Mutex::new(BucketState {
                tokens: capacity,
                refilled_at: Instant::now(),
            }),
        }
    }

    /// Takes one token and returns how long the caller must wait for it.
    async fn reserve(&self) -> Duration {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        let elapsed = now.duration_since(state.refilled_at).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.rate_per_sec).min(self.capacity);
        state.refilled_at = now;
        state.tokens -= 1.0;
        if state.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-state.tokens / self.rate_per_sec)
        }
    }
}

/// Paces calls per quota category.
pub struct Pacer {
    buckets: Vec<TokenBucket>,
}

impl Pacer {
    pub fn new(budget: ApiBudget) -> Self {
        let buckets = QuotaCategory::ALL
            .iter()
            .map(|category| TokenBucket::new(Self::rate_for(*category, budget)))
            .collect();
        Self { buckets }
    }

    /// Requests per second allowed for a category under a budget.
    pub fn rate_for(category: QuotaCategory, budget: ApiBudget) -> f64 {
        let share = category.aws_default_rps() * budget.share();
        category
            .per_pool_cap_rps()
            .map_or(share, |cap| share.min(cap))
    }

    /// Waits until a call in `category` may be sent; returns the time spent waiting.
    pub async fn acquire(&self, category: QuotaCategory) -> Duration {
        let wait = self.buckets[category.index()].reserve().await;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_follow_the_budget_and_the_per_pool_cap() {
        let half = ApiBudget::new(0.5).unwrap();
        assert_eq!(Pacer::rate_for(QuotaCategory::UserList, half), 15.0);
        assert_eq!(
            Pacer::rate_for(QuotaCategory::UserPoolResourceRead, half),
            5.0
        );
        let tenth = ApiBudget::new(0.1).unwrap();
        assert_eq!(
            Pacer::rate_for(QuotaCategory::UserPoolResourceRead, tenth),
            2.0
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_beyond_capacity_is_spread_at_the_rate() {
        let pacer = Pacer::new(ApiBudget::new(0.1).unwrap()); // UserList: 3 per second
        let start = Instant::now();
        for _ in 0..9 {
            pacer.acquire(QuotaCategory::UserList).await;
        }
        // 3 tokens of burst, then 6 more at 3 per second.
        let elapsed = start.elapsed().as_secs_f64();
        assert!((1.9..2.1).contains(&elapsed), "took {elapsed}s");
        // Other categories are not held up by this one.
        let before = Instant::now();
        pacer.acquire(QuotaCategory::UserRead).await;
        assert_eq!(before.elapsed(), Duration::ZERO);
    }
}
