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

    /// The category's name on the command line (`--category-budget user-list=0.2`).
    pub fn flag_name(self) -> &'static str {
        match self {
            Self::UserList => "user-list",
            Self::UserRead => "user-read",
            Self::UserResourceRead => "user-resource-read",
            Self::UserPoolResourceRead => "user-pool-resource-read",
            Self::UserPoolRead => "user-pool-read",
            Self::UserUpdate => "user-update",
            Self::UserCreation => "user-creation",
        }
    }

    pub fn from_flag_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.flag_name() == name)
    }
}

impl fmt::Display for QuotaCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The lowest share of its configured rate a throttled category backs off to.
const MIN_RATE_FRACTION: f64 = 0.05;
/// Throttled answers closer together than this are one episode, cut once: calls in flight
/// together are throttled together.
const CUT_INTERVAL: Duration = Duration::from_secs(1);
/// What each successful call gives back of the configured rate after a back-off: about fifty
/// calls from the floor to full speed (additive increase).
const RECOVERY_STEP: f64 = 0.02;

/// A token bucket that hands out reservations: a caller that finds it empty takes a token on
/// credit and sleeps until that token would have arrived, so waiters are served in order
/// without polling. Its rate follows AIMD: halved when Cognito throttles (someone else is using
/// the quota), raised a step with every success, never above the configured ceiling.
struct TokenBucket {
    ceiling: f64,
    state: Mutex<BucketState>,
}

struct BucketState {
    rate: f64,
    tokens: f64,
    refilled_at: Instant,
    /// When the rate was last cut: one burst of throttled answers is one signal, not many.
    cut_at: Option<Instant>,
}

impl TokenBucket {
    fn new(rate_per_sec: f64) -> Self {
        Self {
            ceiling: rate_per_sec,
            state: Mutex::new(BucketState {
                rate: rate_per_sec,
                tokens: 1.0,
                refilled_at: Instant::now(),
                cut_at: None,
            }),
        }
    }

    /// Takes one token and returns how long the caller must wait for it.
    async fn reserve(&self) -> Duration {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        let elapsed = now.duration_since(state.refilled_at).as_secs_f64();
        // No bursts: a bucket of one call means no second ever sees more than the rate.
        state.tokens = (state.tokens + elapsed * state.rate).min(1.0);
        state.refilled_at = now;
        state.tokens -= 1.0;
        if state.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-state.tokens / state.rate)
        }
    }

    async fn throttled(&self) {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if state
            .cut_at
            .is_some_and(|at| now.duration_since(at) < CUT_INTERVAL)
        {
            return;
        }
        state.cut_at = Some(now);
        state.rate = (state.rate / 2.0).max(self.ceiling * MIN_RATE_FRACTION);
        // The burst is spent: whoever throttled us is using it.
        state.tokens = state.tokens.min(0.0);
    }

    async fn succeeded(&self) {
        let mut state = self.state.lock().await;
        state.rate = (state.rate + self.ceiling * RECOVERY_STEP).min(self.ceiling);
    }

    #[cfg(test)]
    async fn rate(&self) -> f64 {
        self.state.lock().await.rate
    }
}

/// Paces calls per quota category.
pub struct Pacer {
    buckets: Vec<TokenBucket>,
}

impl Pacer {
    pub fn new(budget: &ApiBudget) -> Self {
        let buckets = QuotaCategory::ALL
            .iter()
            .map(|category| TokenBucket::new(Self::rate_for(*category, budget)))
            .collect();
        Self { buckets }
    }

    /// Requests per second allowed for a category under a budget.
    pub fn rate_for(category: QuotaCategory, budget: &ApiBudget) -> f64 {
        let share = category.aws_default_rps() * budget.share_for(category);
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

    /// Cognito throttled a call: slow the category down (multiplicative decrease).
    pub async fn throttled(&self, category: QuotaCategory) {
        self.buckets[category.index()].throttled().await;
    }

    /// A call went through: speed the category back up towards its budget (additive increase).
    pub async fn succeeded(&self, category: QuotaCategory) {
        self.buckets[category.index()].succeeded().await;
    }

    /// The category's current rate, in requests per second.
    #[cfg(test)]
    pub async fn rate(&self, category: QuotaCategory) -> f64 {
        self.buckets[category.index()].rate().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_follow_the_budget_and_the_per_pool_cap() {
        let half = ApiBudget::new(0.5).unwrap();
        assert_eq!(Pacer::rate_for(QuotaCategory::UserList, &half), 15.0);
        assert_eq!(
            Pacer::rate_for(QuotaCategory::UserPoolResourceRead, &half),
            5.0
        );
        let tenth = ApiBudget::new(0.1).unwrap();
        assert_eq!(
            Pacer::rate_for(QuotaCategory::UserPoolResourceRead, &tenth),
            2.0
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_beyond_capacity_is_spread_at_the_rate() {
        let pacer = Pacer::new(&ApiBudget::new(0.1).unwrap()); // UserList: 3 per second
        let start = Instant::now();
        for _ in 0..9 {
            pacer.acquire(QuotaCategory::UserList).await;
        }
        // The first at once, then 8 more at 3 per second: never more than 3 in any second.
        let elapsed = start.elapsed().as_secs_f64();
        assert!((2.6..2.7).contains(&elapsed), "took {elapsed}s");
        // Other categories are not held up by this one.
        let before = Instant::now();
        pacer.acquire(QuotaCategory::UserRead).await;
        assert_eq!(before.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_halves_the_rate_and_successes_bring_it_back() {
        let pacer = Pacer::new(&ApiBudget::new(1.0).unwrap()); // UserList: 30 per second
        let category = QuotaCategory::UserList;
        pacer.throttled(category).await;
        assert_eq!(pacer.rate(category).await, 15.0);
        pacer.throttled(category).await;
        assert_eq!(pacer.rate(category).await, 15.0, "one episode, one cut");
        for _ in 0..10 {
            tokio::time::advance(CUT_INTERVAL).await;
            pacer.throttled(category).await;
        }
        assert_eq!(
            pacer.rate(category).await,
            1.5,
            "never below 5% of the budget"
        );
        for _ in 0..100 {
            pacer.succeeded(category).await;
        }
        assert_eq!(
            pacer.rate(category).await,
            30.0,
            "recovers, but never above the budget"
        );

        // While backed off, calls really are spread at the lower rate.
        tokio::time::advance(CUT_INTERVAL).await;
        pacer.throttled(category).await; // 15 per second, no burst left
        let start = Instant::now();
        for _ in 0..15 {
            pacer.acquire(category).await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!((0.9..1.1).contains(&elapsed), "took {elapsed}s");
    }
}
