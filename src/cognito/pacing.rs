//! Client-side pacing: one token bucket per Cognito quota category.
//!
//! Cognito's request-rate quotas are per account and Region and shared with the customer's own
//! applications, so the connector paces itself to a configurable share of each category instead
//! of finding the limit by being throttled.

use std::fmt;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::{ApiBudget, AssumedQuota};

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
    /// One bucket per category, or none at all under an unlimited assumed quota.
    buckets: Option<Vec<TokenBucket>>,
}

/// The latency that concurrent listings are sized for: enough calls in flight to use a
/// category's whole rate even when each call takes this long.
const PLANNED_LATENCY: Duration = Duration::from_millis(500);
/// Concurrent listings never go below this (small budgets) nor above the maximum (huge assumed
/// quotas, where the machine, not Cognito, is the limit).
const MIN_CONCURRENCY: usize = 8;
const MAX_CONCURRENCY: usize = 64;
/// Without pacing (an unlimited assumed quota, for measuring the connector alone against a local
/// emulator) the machine is the limit: this many calls in flight keep it busy, and each holds a
/// page in memory.
const UNPACED_CONCURRENCY: usize = 16;

impl Pacer {
    pub fn new(budget: &ApiBudget) -> Self {
        let buckets = match budget.assumed_quota() {
            AssumedQuota::Unlimited => None,
            AssumedQuota::AwsDefaults { .. } => Some(
                QuotaCategory::ALL
                    .iter()
                    .map(|category| TokenBucket::new(Self::rate_for(*category, budget)))
                    .collect(),
            ),
        };
        Self { buckets }
    }

    /// Requests per second allowed for a category under a budget, of the assumed quota
    /// (infinite when that is unlimited).
    pub fn rate_for(category: QuotaCategory, budget: &ApiBudget) -> f64 {
        let scale = match budget.assumed_quota() {
            AssumedQuota::AwsDefaults { scale } => scale,
            AssumedQuota::Unlimited => return f64::INFINITY,
        };
        let share = category.aws_default_rps() * scale * budget.share_for(category);
        category
            .per_pool_cap_rps()
            .map_or(share, |cap| share.min(cap * scale))
    }

    /// How many listings of a category to run at once: enough to hold its rate at
    /// [`PLANNED_LATENCY`] (pacing, not this number, bounds the rate).
    pub fn concurrency_for(&self, category: QuotaCategory) -> usize {
        let Some(buckets) = &self.buckets else {
            return UNPACED_CONCURRENCY;
        };
        let wanted = (buckets[category.index()].ceiling * PLANNED_LATENCY.as_secs_f64()).ceil();
        (wanted as usize).clamp(MIN_CONCURRENCY, MAX_CONCURRENCY)
    }

    fn bucket(&self, category: QuotaCategory) -> Option<&TokenBucket> {
        self.buckets.as_ref().map(|b| &b[category.index()])
    }

    /// Waits until a call in `category` may be sent; returns the time spent waiting.
    pub async fn acquire(&self, category: QuotaCategory) -> Duration {
        let Some(bucket) = self.bucket(category) else {
            return Duration::ZERO;
        };
        let wait = bucket.reserve().await;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
    }

    /// Cognito throttled a call: slow the category down (multiplicative decrease).
    pub async fn throttled(&self, category: QuotaCategory) {
        if let Some(bucket) = self.bucket(category) {
            bucket.throttled().await;
        }
    }

    /// A call went through: speed the category back up towards its budget (additive increase).
    pub async fn succeeded(&self, category: QuotaCategory) {
        if let Some(bucket) = self.bucket(category) {
            bucket.succeeded().await;
        }
    }

    /// The category's current rate, in requests per second.
    #[cfg(test)]
    pub async fn rate(&self, category: QuotaCategory) -> f64 {
        match self.bucket(category) {
            Some(bucket) => bucket.rate().await,
            None => f64::INFINITY,
        }
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
        // An emulator that compresses time tenfold scales the per-pool cap too.
        let scaled = half
            .clone()
            .with_assumed_quota(AssumedQuota::AwsDefaults { scale: 10.0 });
        assert_eq!(Pacer::rate_for(QuotaCategory::UserList, &scaled), 150.0);
        assert_eq!(
            Pacer::rate_for(QuotaCategory::UserPoolResourceRead, &scaled),
            50.0
        );
    }

    #[test]
    fn concurrency_holds_the_rate_at_the_planned_latency() {
        let concurrency =
            |budget: &ApiBudget| Pacer::new(budget).concurrency_for(QuotaCategory::UserList);
        let half = ApiBudget::new(0.5).unwrap();
        assert_eq!(
            concurrency(&half),
            8,
            "15/s at 500 ms: 7.5, raised to the minimum"
        );
        let full = ApiBudget::new(1.0).unwrap();
        assert_eq!(concurrency(&full), 15);
        let scaled = full.with_assumed_quota(AssumedQuota::AwsDefaults { scale: 3.0 });
        assert_eq!(concurrency(&scaled), 45);
        let unlimited = half.with_assumed_quota(AssumedQuota::Unlimited);
        assert_eq!(concurrency(&unlimited), UNPACED_CONCURRENCY);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unlimited_quota_never_waits() {
        let budget = ApiBudget::new(0.1)
            .unwrap()
            .with_assumed_quota(AssumedQuota::Unlimited);
        let pacer = Pacer::new(&budget);
        let start = Instant::now();
        for _ in 0..1000 {
            pacer.acquire(QuotaCategory::UserList).await;
        }
        pacer.throttled(QuotaCategory::UserList).await;
        assert_eq!(pacer.acquire(QuotaCategory::UserList).await, Duration::ZERO);
        assert_eq!(start.elapsed(), Duration::ZERO);
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
