//! Client-side pacing: one token bucket per Cognito quota category.
//!
//! Cognito's request-rate quotas are per account and Region and shared with the customer's own
//! applications, so the connector paces itself to a configurable share of each category instead
//! of finding the limit by being throttled.

use std::collections::BinaryHeap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::quota::QuotaCategory;
use super::settings::{ApiBudget, AssumedQuota};

/// The lowest share of its configured rate a throttled category backs off to.
const MIN_RATE_FRACTION: f64 = 0.05;
/// Throttled answers closer together than this are one episode, cut once: calls in flight
/// together are throttled together.
const CUT_INTERVAL: Duration = Duration::from_secs(1);
/// What each successful call gives back of the configured rate after a back-off: about fifty
/// calls from the floor to full speed (additive increase).
const RECOVERY_STEP: f64 = 0.02;

/// A token bucket that serves waiting callers by priority: when calls queue for a category's
/// rate, the deepest listing goes first (see [`prioritized`]). Its rate follows AIMD: halved
/// when Cognito throttles (someone else is using the quota), raised a step with every success,
/// never above the configured ceiling.
///
/// Why priority: a listing is a chain of pages, each needing the last one's token, so one
/// chain can never go faster than one call per round trip. Served first-come, first-served, a
/// long chain (the group everyone is in) gets only its share of the rate while dozens of short
/// listings queue beside it, and ends up alone at the end, latency-bound, well after the
/// rate could have finished everything. Served deepest-first, it runs at full speed from the
/// start and the short listings fill the rate around it.
struct TokenBucket {
    ceiling: f64,
    state: std::sync::Mutex<BucketState>,
}

struct BucketState {
    rate: f64,
    tokens: f64,
    refilled_at: Instant,
    /// When the rate was last cut: one burst of throttled answers is one signal, not many.
    cut_at: Option<Instant>,
    waiting: BinaryHeap<Waiter>,
    arrivals: u64,
    /// Whether a task is handing tokens to the waiting callers.
    dispatching: bool,
}

/// A caller waiting for a token: the highest priority first, then the earliest.
struct Waiter {
    priority: u32,
    arrival: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        (self.priority, self.arrival) == (other.priority, other.arrival)
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiter {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.priority
            .cmp(&other.priority)
            .then(other.arrival.cmp(&self.arrival))
    }
}

/// An idle bucket holds one call: no bursts, so no second sees more than the rate.
const IDLE_CAPACITY: f64 = 1.0;
/// While callers wait, the dispatcher may hold one more: it wakes up to a millisecond late (the
/// timer's resolution), and a capacity of one would throw that time away, about 8% of the rate
/// at 90 calls per second. Any second then sees at most one call more than the rate.
const DISPATCH_CAPACITY: f64 = 2.0;

impl BucketState {
    fn refill(&mut self, now: Instant, capacity: f64) {
        let elapsed = now.duration_since(self.refilled_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(capacity);
        self.refilled_at = now;
    }
}

impl TokenBucket {
    fn new(rate_per_sec: f64) -> Self {
        Self {
            ceiling: rate_per_sec,
            state: std::sync::Mutex::new(BucketState {
                rate: rate_per_sec,
                tokens: 1.0,
                refilled_at: Instant::now(),
                cut_at: None,
                waiting: BinaryHeap::new(),
                arrivals: 0,
                dispatching: false,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, BucketState> {
        // Nothing panics while holding the lock; if something did, the numbers are still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for a token: at once if one is free and nobody is waiting, else in priority order.
    async fn acquire(self: &Arc<Self>, priority: u32) {
        let woken = {
            let mut state = self.state();
            state.refill(Instant::now(), IDLE_CAPACITY);
            if state.waiting.is_empty() && state.tokens >= 1.0 {
                state.tokens -= 1.0;
                return;
            }
            let (wake, woken) = oneshot::channel();
            state.arrivals += 1;
            let arrival = state.arrivals;
            state.waiting.push(Waiter {
                priority,
                arrival,
                wake,
            });
            if !state.dispatching {
                state.dispatching = true;
                tokio::spawn(Arc::clone(self).dispatch());
            }
            woken
        };
        // The dispatcher never drops a waiter unanswered.
        let _ = woken.await;
    }

    /// Hands each token, as it arrives, to the best waiting caller; stops when none is left.
    async fn dispatch(self: Arc<Self>) {
        loop {
            let pause = {
                let mut state = self.state();
                state.refill(Instant::now(), DISPATCH_CAPACITY);
                if state.tokens >= 1.0 {
                    match state.waiting.pop() {
                        Some(waiter) => {
                            state.tokens -= 1.0;
                            // A caller that gave up (its sync was cancelled) leaves the token.
                            if waiter.wake.send(()).is_err() {
                                state.tokens += 1.0;
                            }
                            continue;
                        }
                        None => {
                            state.tokens = state.tokens.min(IDLE_CAPACITY);
                            state.dispatching = false;
                            return;
                        }
                    }
                }
                pause_for(1.0 - state.tokens, state.rate)
            };
            tokio::time::sleep(pause).await;
        }
    }

    fn throttled(&self) {
        let mut state = self.state();
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
        state.refill(now, IDLE_CAPACITY);
        state.tokens = state.tokens.min(0.0);
    }

    fn succeeded(&self) {
        let mut state = self.state();
        state.rate = (state.rate + self.ceiling * RECOVERY_STEP).min(self.ceiling);
    }

    #[cfg(test)]
    fn rate(&self) -> f64 {
        self.state().rate
    }
}

tokio::task_local! {
    /// The pacing priority of the calls a task makes (see [`prioritized`]).
    static PRIORITY: u32;
}

/// The longest a caller waits for one token. The budget's floor keeps real pauses far below it
/// (a thousandth of the smallest quota is a call every few minutes); this bound only makes sure
/// that no rate, however small, turns into a pause no `Duration` can hold.
const LONGEST_PAUSE: Duration = Duration::from_secs(3600);

/// How long until `missing` tokens have accrued at `rate` per second, at most [`LONGEST_PAUSE`].
fn pause_for(missing: f64, rate: f64) -> Duration {
    Duration::try_from_secs_f64(missing / rate)
        .unwrap_or(LONGEST_PAUSE)
        .min(LONGEST_PAUSE)
}

/// Runs `call` with its Cognito calls at `priority` when they queue for a rate: a listing
/// passes how many pages it has already read, so the longest chains go first.
pub async fn prioritized<F: Future>(priority: u32, call: F) -> F::Output {
    PRIORITY.scope(priority, call).await
}

tokio::task_local! {
    /// The time the calls of a [`timing_waits`] scope spent queueing for their rate.
    static WAITED: std::cell::Cell<Duration>;
}

/// Runs `call`, and tells how long its Cognito calls waited for their rate or for a retry: what
/// is left of the time it took is Cognito's (and the network's) answering, which only a
/// listing's own pages can measure.
pub async fn timing_waits<F: Future>(call: F) -> (F::Output, Duration) {
    WAITED
        .scope(std::cell::Cell::new(Duration::ZERO), async {
            let output = call.await;
            (output, WAITED.with(std::cell::Cell::get))
        })
        .await
}

/// Counts `waited` as waiting in the calling task's [`timing_waits`] scope, if it is in one.
pub fn note_waited(waited: Duration) {
    let _outside_a_timing_scope = WAITED.try_with(|total| total.set(total.get() + waited));
}

/// The buckets of one AWS account and Region, one per quota category: Cognito's quotas are per
/// account and Region, so every pool there draws on the same ones (see [`QuotaScopes`]).
struct SharedBuckets {
    /// One bucket per category, or none at all under an unlimited assumed quota.
    buckets: Option<Vec<Arc<TokenBucket>>>,
}

impl SharedBuckets {
    fn new(budget: &ApiBudget) -> Self {
        let buckets = match budget.assumed_quota() {
            AssumedQuota::Unlimited => None,
            AssumedQuota::AwsDefaults { scale } => Some(
                QuotaCategory::ALL
                    .iter()
                    .map(|category| {
                        let rate = category.aws_default_rps() * scale * budget.share_for(*category);
                        Arc::new(TokenBucket::new(rate))
                    })
                    .collect(),
            ),
        };
        Self { buckets }
    }
}

/// Which quotas a pool draws on: those of its account and Region. Cognito has no resource
/// policies, so the calls reach only the account of the role they are made as: the role's
/// account names it, and the base credentials' own account is the empty name (not known without
/// a call; a role into that same account counts apart from it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QuotaKey {
    /// The account of the role assumed for the pool, or empty for the base credentials'.
    pub account: String,
    pub region: String,
}

/// The shared buckets of every account and Region the process calls, so that pools in one
/// account and Region pace together: whatever their number, a category's calls per second stay
/// within the budget's share of its quota.
#[derive(Default)]
pub struct QuotaScopes {
    scopes: std::sync::Mutex<std::collections::BTreeMap<QuotaKey, Arc<SharedBuckets>>>,
}

impl QuotaScopes {
    /// The pacer of one pool: its account and Region's shared buckets (made with `budget` by
    /// the first pool there), and its own per-pool caps.
    pub fn pacer(&self, key: QuotaKey, budget: &ApiBudget) -> Pacer {
        let shared = self
            .scopes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key)
            .or_insert_with(|| Arc::new(SharedBuckets::new(budget)))
            .clone();
        let own = match budget.assumed_quota() {
            AssumedQuota::Unlimited => Vec::new(),
            AssumedQuota::AwsDefaults { scale } => QuotaCategory::ALL
                .iter()
                .map(|category| {
                    category
                        .per_pool_cap_rps()
                        .map(|cap| Arc::new(TokenBucket::new(cap * scale)))
                })
                .collect(),
        };
        Pacer { shared, own }
    }
}

/// Paces one pool's calls per quota category: the pool's own cap where Cognito has one, and
/// its account and Region's shared bucket.
pub struct Pacer {
    shared: Arc<SharedBuckets>,
    /// Per category, the pool's own cap bucket (ListGroups and GetGroup: 5 per second per
    /// pool); empty when unpaced.
    own: Vec<Option<Arc<TokenBucket>>>,
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
    /// A pacer with buckets of its own, as one pool alone has.
    #[cfg(test)]
    pub fn new(budget: &ApiBudget) -> Self {
        QuotaScopes::default().pacer(
            QuotaKey {
                account: String::new(),
                region: String::new(),
            },
            budget,
        )
    }

    /// The buckets a call in `category` passes: the pool's own cap, then the shared one. In
    /// this order a call waiting for its pool's cap holds no shared token that other pools
    /// could use meanwhile.
    fn buckets(&self, category: QuotaCategory) -> impl Iterator<Item = &Arc<TokenBucket>> {
        let own = self.own.get(category.index()).and_then(Option::as_ref);
        let shared = self.shared.buckets.as_ref().map(|b| &b[category.index()]);
        own.into_iter().chain(shared)
    }

    /// How many listings of a category to run at once: enough to hold its rate at
    /// [`PLANNED_LATENCY`] (pacing, not this number, bounds the rate).
    pub fn concurrency_for(&self, category: QuotaCategory) -> usize {
        let ceiling = self.ceiling(category);
        if ceiling.is_infinite() {
            return UNPACED_CONCURRENCY;
        }
        let wanted = (ceiling * PLANNED_LATENCY.as_secs_f64()).ceil();
        (wanted as usize).clamp(MIN_CONCURRENCY, MAX_CONCURRENCY)
    }

    /// The category's configured rate for this pool: the shared one or the pool's own cap,
    /// whichever is lower (infinite when unpaced).
    pub fn ceiling(&self, category: QuotaCategory) -> f64 {
        self.buckets(category)
            .map(|bucket| bucket.ceiling)
            .fold(f64::INFINITY, f64::min)
    }

    /// Waits until a call in `category` may be sent, in the order of the calling task's
    /// [`prioritized`] priority (0 outside one); returns the time spent waiting.
    pub async fn acquire(&self, category: QuotaCategory) -> Duration {
        let started = Instant::now();
        let priority = PRIORITY.try_with(|p| *p).unwrap_or_default();
        for bucket in self.buckets(category) {
            bucket.acquire(priority).await;
        }
        let waited = started.elapsed();
        note_waited(waited);
        waited
    }

    /// Cognito throttled a call: slow the category down (multiplicative decrease), for every
    /// pool of the account and Region, since their calls add up.
    pub fn throttled(&self, category: QuotaCategory) {
        self.buckets(category).for_each(|bucket| bucket.throttled());
    }

    /// A call went through: speed the category back up towards its budget (additive increase).
    pub fn succeeded(&self, category: QuotaCategory) {
        self.buckets(category).for_each(|bucket| bucket.succeeded());
    }

    /// The category's current rate for this pool, in requests per second.
    #[cfg(test)]
    pub fn rate(&self, category: QuotaCategory) -> f64 {
        self.buckets(category)
            .map(|bucket| bucket.rate())
            .fold(f64::INFINITY, f64::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// #17: `--api-budget 1e-300` panicked here ("cannot convert float seconds to Duration").
    #[test]
    fn no_rate_makes_a_pause_that_panics() {
        assert_eq!(pause_for(1.0, 2.0), Duration::from_millis(500));
        for rate in [1e-300, 0.0, f64::MIN_POSITIVE, -1.0, f64::NAN] {
            assert_eq!(pause_for(1.0, rate), LONGEST_PAUSE, "{rate}");
        }
    }

    #[test]
    fn rates_follow_the_budget_and_the_per_pool_cap() {
        let half = ApiBudget::new(0.5).unwrap();
        assert_eq!(Pacer::new(&half).ceiling(QuotaCategory::UserList), 15.0);
        assert_eq!(
            Pacer::new(&half).ceiling(QuotaCategory::UserPoolResourceRead),
            5.0
        );
        let tenth = ApiBudget::new(0.1).unwrap();
        assert_eq!(
            Pacer::new(&tenth).ceiling(QuotaCategory::UserPoolResourceRead),
            2.0
        );
        // An emulator that compresses time tenfold scales the per-pool cap too.
        let scaled = half
            .clone()
            .with_assumed_quota(AssumedQuota::AwsDefaults { scale: 10.0 });
        assert_eq!(Pacer::new(&scaled).ceiling(QuotaCategory::UserList), 150.0);
        assert_eq!(
            Pacer::new(&scaled).ceiling(QuotaCategory::UserPoolResourceRead),
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
    async fn waiting_calls_are_served_deepest_listing_first() {
        let pacer = Arc::new(Pacer::new(&ApiBudget::new(0.1).unwrap())); // UserList: 3 per second
        pacer.acquire(QuotaCategory::UserList).await; // the bucket is now empty
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, priority) in [("first page", 0), ("page 40", 40), ("page 2", 2)] {
            let (pacer, order) = (pacer.clone(), order.clone());
            tasks.push(tokio::spawn(prioritized(priority, async move {
                pacer.acquire(QuotaCategory::UserList).await;
                order.lock().unwrap().push(name);
            })));
            tokio::task::yield_now().await; // arrive in this order
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["page 40", "page 2", "first page"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_waiter_leaves_its_token_to_the_next() {
        let pacer = Arc::new(Pacer::new(&ApiBudget::new(0.1).unwrap())); // 3 per second
        pacer.acquire(QuotaCategory::UserList).await;
        let gone = tokio::spawn({
            let pacer = pacer.clone();
            async move { pacer.acquire(QuotaCategory::UserList).await }
        });
        tokio::task::yield_now().await;
        gone.abort();
        let start = Instant::now();
        pacer.acquire(QuotaCategory::UserList).await;
        let waited = start.elapsed().as_secs_f64();
        assert!(waited < 0.34, "waited {waited}s: one token's time, not two");
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
        pacer.throttled(QuotaCategory::UserList);
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

    fn key(region: &str) -> QuotaKey {
        QuotaKey {
            account: String::new(),
            region: region.to_string(),
        }
    }

    /// Takes `n` tokens of `category` from each pacer, all at once; how long that took.
    async fn drain(pacers: &[Pacer], category: QuotaCategory, n: usize) -> f64 {
        let start = Instant::now();
        let calls = pacers
            .iter()
            .flat_map(|pacer| (0..n).map(move |_| pacer.acquire(category)));
        futures_util::future::join_all(calls).await;
        start.elapsed().as_secs_f64()
    }

    /// #20: Cognito's quotas are per account and Region, so pools there share one rate.
    #[tokio::test(start_paused = true)]
    async fn pools_of_one_account_and_region_share_its_rate_and_others_run_beside() {
        let budget = ApiBudget::new(0.1).unwrap(); // UserList: 3 per second
        let scopes = QuotaScopes::default();
        let together = [
            scopes.pacer(key("us-east-1"), &budget),
            scopes.pacer(key("us-east-1"), &budget),
        ];
        // 10 calls: the first at once, 9 more at 3 per second, whichever pool makes them.
        let elapsed = drain(&together, QuotaCategory::UserList, 5).await;
        assert!((2.9..3.1).contains(&elapsed), "took {elapsed}s");
        let apart = [
            scopes.pacer(key("eu-west-1"), &budget),
            scopes.pacer(key("ap-south-1"), &budget),
        ];
        let elapsed = drain(&apart, QuotaCategory::UserList, 5).await;
        assert!(
            (1.2..1.4).contains(&elapsed),
            "took {elapsed}s: side by side"
        );
        let other_account = QuotaKey {
            account: "210987654321".into(),
            region: "us-east-1".into(),
        };
        let elapsed = drain(
            &[scopes.pacer(other_account, &budget)],
            QuotaCategory::UserList,
            4,
        )
        .await;
        assert!(elapsed < 1.1, "took {elapsed}s: another account's quota");
    }

    /// #20: the per-pool caps (ListGroups, GetGroup: 5 per second per pool) stay each pool's.
    #[tokio::test(start_paused = true)]
    async fn each_pool_keeps_its_own_cap_within_the_shared_rate() {
        let budget = ApiBudget::new(1.0).unwrap(); // UserPoolResourceRead: 20/s, 5/s per pool
        let scopes = QuotaScopes::default();
        let pools = [
            scopes.pacer(key("us-east-1"), &budget),
            scopes.pacer(key("us-east-1"), &budget),
        ];
        assert_eq!(pools[0].ceiling(QuotaCategory::UserPoolResourceRead), 5.0);
        // 10 calls per pool: 5 per second each, side by side, not 5 per second for both.
        let elapsed = drain(&pools, QuotaCategory::UserPoolResourceRead, 10).await;
        assert!((1.7..2.0).contains(&elapsed), "took {elapsed}s");
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_halves_the_rate_and_successes_bring_it_back() {
        let pacer = Pacer::new(&ApiBudget::new(1.0).unwrap()); // UserList: 30 per second
        let category = QuotaCategory::UserList;
        pacer.throttled(category);
        assert_eq!(pacer.rate(category), 15.0);
        pacer.throttled(category);
        assert_eq!(pacer.rate(category), 15.0, "one episode, one cut");
        for _ in 0..10 {
            tokio::time::advance(CUT_INTERVAL).await;
            pacer.throttled(category);
        }
        assert_eq!(pacer.rate(category), 1.5, "never below 5% of the budget");
        for _ in 0..100 {
            pacer.succeeded(category);
        }
        assert_eq!(
            pacer.rate(category),
            30.0,
            "recovers, but never above the budget"
        );

        // While backed off, calls really are spread at the lower rate.
        tokio::time::advance(CUT_INTERVAL).await;
        pacer.throttled(category); // 15 per second, no burst left
        let start = Instant::now();
        for _ in 0..15 {
            pacer.acquire(category).await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!((0.9..1.1).contains(&elapsed), "took {elapsed}s");
    }
}
