//! How a full sync lists a pool: which parts each resource type is listed in (the users
//! sliced by `sub` prefix, or not), which side memberships are read from, and how many
//! membership listings run at once. The connector lists whatever part it is asked for; the
//! choices live here, with the numbers that justify them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::cognito::filter::{FilterOp, UserFilter};
use crate::cognito::records::PoolDescription;
use crate::cognito::{MAX_PAGE_SIZE, Operation};
use crate::connector::{Connector, Partition, ResourceKind, UserSlicing};

/// What one full sync decided from the options and DescribeUserPool's answer.
#[derive(Clone, Debug)]
pub struct ListingPlan {
    user_filter: Option<UserFilter>,
    slicing: UserSlicing,
    observed: PoolObservation,
}

impl ListingPlan {
    pub fn new(connector: &Connector, pool: &PoolDescription) -> Self {
        let options = connector.options();
        Self {
            user_filter: options.user_filter.clone(),
            slicing: options.user_slicing,
            observed: PoolObservation {
                estimated_users: pool.estimated_users,
                user_list_rate: connector.pool().rate_of(Operation::ListUsers),
                reads_user_history: connector.reads_user_history(),
            },
        }
    }

    /// How to split a full listing of a type at its start (see [`UserSlicing`]); groups are
    /// one part.
    pub fn partitions(&self, kind: ResourceKind) -> Vec<Partition> {
        match kind {
            ResourceKind::User => slices(self.user_filter.clone(), self.slicing, &self.observed)
                .into_iter()
                .map(|user_filter| Partition { user_filter })
                .collect(),
            ResourceKind::Group => vec![Partition { user_filter: None }],
        }
    }

    /// The partitions to re-list a type in, from the start, when the one chain it began as has
    /// measured that slices finish sooner (see [`slicing_pays`]); `None` to carry on. Only an
    /// unsliced user listing without an operator's filter is ever re-sliced.
    pub fn measured_partitions(
        &self,
        kind: ResourceKind,
        pace: &ChainPace,
    ) -> Option<Vec<Partition>> {
        let eligible = kind == ResourceKind::User
            && self.user_filter.is_none()
            && self.slicing == UserSlicing::Auto;
        if !eligible || !slicing_pays(&self.observed, pace) {
            return None;
        }
        Some(
            sub_slices()
                .into_iter()
                .map(|user_filter| Partition { user_filter })
                .collect(),
        )
    }
}

/// How many resources of a type to list memberships of at once: enough to use the whole
/// budget of the operation that reads them from that side, which still bounds the rate.
pub fn membership_concurrency(connector: &Connector, side: ResourceKind) -> usize {
    connector
        .pool()
        .concurrency_for(side.syncer().membership_operation())
}

/// Pools from this size on are listed in 16 `sub` slices: each slice may end in one partial
/// page, and 15 extra calls are under 1% of the `ceil(users / 60)` a full listing needs.
pub const SLICE_FROM_USERS: u64 = 90_000;

/// A smaller pool begun as one chain of pages is re-listed in slices only when its first pages
/// show that the chain is latency-bound (each page waits for the last, slower than the UserList
/// budget allows) and would still take at least this long. Below that, the few seconds slicing
/// could save are not worth its extra calls.
pub const LATENCY_BOUND_FROM: Duration = Duration::from_secs(5);

/// Re-listing in slices must save at least this share of the chain's remaining time: a chain
/// measured only a little slower than the budget keeps its calls.
const SLICING_SAVES_AT_LEAST: f64 = 0.2;

/// Where each user also costs a sign-in history read (last login), a pool from this size on is
/// sliced from the start: the history reads, not the listing, set the pace, and a single chain
/// leaves their quota idle while it waits for each next page of users (measured 1.10x the
/// floor on 2,000 users); side by side, the other slices' reads fill those waits. At 16 pages
/// (one per slice) the slices' partial pages cost at most 16 more ListUsers calls, against at
/// least 960 history reads.
pub const SLICE_HISTORY_FROM_USERS: u64 = 16 * MAX_PAGE_SIZE as u64;

/// What Validate saw of the pool, to plan a full listing of its users.
#[derive(Clone, Copy, Debug, Default)]
struct PoolObservation {
    /// DescribeUserPool's estimate: 0 or stale at times, so only ever a plan, never a fact.
    estimated_users: u64,
    /// ListUsers calls per second the budget allows (infinite when unpaced).
    user_list_rate: f64,
    /// Whether the listing reads each user's sign-in history too (last login, MFA status).
    reads_user_history: bool,
}

/// The ListUsers filters that together list every user once at the start of a full listing: the
/// operator's filter alone, or, for a pool large enough that the slices' partial last pages are
/// under 1% of its calls, the 16 `sub ^= "<hex digit>"` slices (a `sub` is a UUID). Cognito
/// takes one filter per request, so an operator's filter is never sliced. A smaller pool starts
/// as one chain, and [`slicing_pays`] decides from its measured pages.
fn slices(
    filter: Option<UserFilter>,
    slicing: UserSlicing,
    pool: &PoolObservation,
) -> Vec<Option<UserFilter>> {
    let slice = match (slicing, &filter) {
        (_, Some(_)) | (UserSlicing::Never, None) => false,
        (UserSlicing::Always, None) => true,
        (UserSlicing::Auto, None) => {
            pool.estimated_users >= SLICE_FROM_USERS
                || (pool.reads_user_history && pool.estimated_users >= SLICE_HISTORY_FROM_USERS)
        }
    };
    if !slice {
        return vec![filter];
    }
    sub_slices()
}

/// The 16 `sub ^= "<hex digit>"` filters.
fn sub_slices() -> Vec<Option<UserFilter>> {
    "0123456789abcdef"
        .chars()
        .filter_map(|digit| UserFilter::new("sub", FilterOp::StartsWith, &digit.to_string()).ok())
        .map(Some)
        .collect()
}

/// What the first pages of an unsliced user listing measured.
#[derive(Clone, Copy, Debug)]
pub struct ChainPace {
    /// Pages listed so far, and the users they held.
    pub pages: u64,
    pub users: u64,
    /// The time their calls took, waits for the rate left out: a chain that mostly waits for
    /// the rate (other listings take it) is rate-bound, and slices would only wait too.
    pub calling: Duration,
}

impl ChainPace {
    /// How long one page takes here, queueing for the rate left out.
    pub fn page_latency(&self) -> Duration {
        self.calling / u32::try_from(self.pages.max(1)).unwrap_or(u32::MAX)
    }
}

/// Whether a user listing begun as one chain finishes sooner re-listed from the start in 16
/// slices. The chain's own pages tell how long a page takes here (one DescribeUserPool round
/// trip, connection set-up and all, does not); the pool's size comes from the estimate or what
/// the chain has already seen, whichever is more, and an unknown size never pays. Slices re-list
/// every page and may each end in a partial one, and the budget bounds them all together.
fn slicing_pays(pool: &PoolObservation, pace: &ChainPace) -> bool {
    if pace.pages == 0 {
        return false;
    }
    let latency = pace.page_latency().as_secs_f64();
    let total_pages = pool
        .estimated_users
        .max(pace.users)
        .div_ceil(u64::from(MAX_PAGE_SIZE));
    // One chain takes a page's latency or the budget's interval, whichever is longer.
    let page = latency.max(1.0 / pool.user_list_rate);
    let remaining = total_pages.saturating_sub(pace.pages) as f64 * page;
    let sliced_pages = (total_pages + 16) as f64;
    let sliced =
        (sliced_pages / pool.user_list_rate).max((total_pages.div_ceil(16) + 1) as f64 * latency);
    remaining >= LATENCY_BOUND_FROM.as_secs_f64()
        && sliced <= remaining * (1.0 - SLICING_SAVES_AT_LEAST)
}

/// How far a full sync's listings have got: resources stored per type, and which types are
/// completely listed, and the membership side they settle.
#[derive(Clone, Debug, Default)]
pub struct Listed {
    stored: BTreeMap<ResourceKind, u64>,
    done: BTreeSet<ResourceKind>,
}

impl Listed {
    pub fn add(&mut self, kind: ResourceKind, count: u64) {
        *self.stored.entry(kind).or_default() += count;
    }

    /// Takes back what a listing that starts over had counted: its second pass counts again.
    pub fn retract(&mut self, kind: ResourceKind, count: u64) {
        let stored = self.stored.entry(kind).or_default();
        *stored = stored.saturating_sub(count);
    }

    pub fn finish(&mut self, kind: ResourceKind) {
        self.done.insert(kind);
    }

    pub fn stored(&self, kind: ResourceKind) -> u64 {
        self.stored.get(&kind).copied().unwrap_or_default()
    }

    pub fn is_done(&self, kind: ResourceKind) -> bool {
        self.done.contains(&kind)
    }

    /// Which side a full sync reads memberships from, as soon as what has been listed settles
    /// it: per user (AdminListGroupsForUser, about one call per user) when the pool has fewer
    /// users than groups, else per group (ListUsersInGroup, at least one call per group). Only
    /// counts listed decide, never DescribeUserPool's estimate: at 0 or stale, it read a
    /// 150-user, 10-group pool per user (150 calls instead of 10). Per user is settled once the
    /// users are all listed and fewer than the groups seen so far, and per group once the groups
    /// are all listed and no more than the users seen so far. `None` until then. (A listing that
    /// starts over takes its count back; the sync keeps the side it chose first.)
    pub fn membership_side(&self) -> Option<ResourceKind> {
        let users = self.stored(ResourceKind::User);
        let groups = self.stored(ResourceKind::Group);
        if self.is_done(ResourceKind::User) && users < groups {
            Some(ResourceKind::User)
        } else if self.is_done(ResourceKind::Group) && users >= groups {
            Some(ResourceKind::Group)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_pools_are_sliced_by_sub_from_the_start_unless_filtered() {
        let one = |f: Option<UserFilter>| vec![f];
        let pool = |estimated_users| PoolObservation {
            estimated_users,
            user_list_rate: 30.0,
            reads_user_history: false,
        };
        assert_eq!(slices(None, UserSlicing::Auto, &pool(1_000)), one(None));
        // #17: a noisy DescribeUserPool round trip no longer slices a pool this size up front.
        assert_eq!(slices(None, UserSlicing::Auto, &pool(10_000)), one(None));
        let sliced = slices(None, UserSlicing::Auto, &pool(SLICE_FROM_USERS));
        assert_eq!(sliced.len(), 16);
        assert_eq!(sliced[10].as_ref().unwrap().to_string(), r#"sub ^= "a""#);
        assert_eq!(slices(None, UserSlicing::Always, &pool(1)).len(), 16);
        assert_eq!(
            slices(None, UserSlicing::Never, &pool(10_000_000)),
            one(None)
        );
        let filter: UserFilter = r#"email ^= "a""#.parse().unwrap();
        assert_eq!(
            slices(Some(filter.clone()), UserSlicing::Always, &pool(10_000_000)),
            one(Some(filter))
        );
    }

    /// #19: where each user costs a history read, a pool of 16 pages or more is sliced from the
    /// start, so that the reads of other slices fill each chain's wait for its next page.
    #[test]
    fn reading_each_users_history_slices_pools_of_sixteen_pages_or_more() {
        let pool = |estimated_users| PoolObservation {
            estimated_users,
            user_list_rate: 30.0,
            reads_user_history: true,
        };
        assert_eq!(slices(None, UserSlicing::Auto, &pool(2_000)).len(), 16);
        assert_eq!(
            slices(None, UserSlicing::Auto, &pool(SLICE_HISTORY_FROM_USERS)).len(),
            16
        );
        assert_eq!(slices(None, UserSlicing::Auto, &pool(959)).len(), 1);
        assert_eq!(slices(None, UserSlicing::Never, &pool(2_000)).len(), 1);
        let filter: UserFilter = r#"email ^= "a""#.parse().unwrap();
        assert_eq!(
            slices(Some(filter), UserSlicing::Auto, &pool(2_000)).len(),
            1
        );
    }

    /// #17: one noisy round trip chose 16 slices for 2,000 users (45 calls instead of 34, and
    /// slower). Slicing now follows what the listing's own pages measured.
    #[test]
    fn a_chain_is_resliced_only_when_its_pages_show_slicing_shortens_the_sync() {
        let pool = |estimated_users, user_list_rate| PoolObservation {
            estimated_users,
            user_list_rate,
            reads_user_history: false,
        };
        let pace = |pages, ms_per_page| ChainPace {
            pages,
            users: pages * 60,
            calling: Duration::from_millis(pages * ms_per_page),
        };
        // 10,000 users at 55 ms a page with 30 calls a second allowed: 165 more pages take 9 s
        // one after another, 6 s in slices at the budget. Sliced.
        assert!(slicing_pays(&pool(10_000, 30.0), &pace(2, 55)));
        // 2,000 users: 32 pages left take under 5 s whatever the latency here. Not sliced.
        assert!(!slicing_pays(&pool(2_000, 15.0), &pace(2, 100)));
        // The chain keeps up with the budget (15 a second, 60 ms a page): nothing to gain.
        assert!(!slicing_pays(&pool(10_000, 15.0), &pace(2, 60)));
        // Fast calls that queue for the rate (other listings take it): rate-bound, and slices
        // would only queue too.
        assert!(!slicing_pays(&pool(10_000, 30.0), &pace(4, 2)));
        // An estimate of 0 (or one below what was seen) is no size: never sliced on it.
        assert!(!slicing_pays(&pool(0, 30.0), &pace(3, 500)));
        // Slow pages on a mid-sized pool: 3,000 users at 300 ms, 15 a second. Sliced.
        assert!(slicing_pays(&pool(3_000, 15.0), &pace(2, 300)));
        // Unpaced and slow: the slices run 16 at a time.
        assert!(slicing_pays(&pool(10_000, f64::INFINITY), &pace(2, 50)));
        assert!(!slicing_pays(&pool(10_000, 30.0), &pace(0, 50)));
    }

    fn listed(users: u64, users_done: bool, groups: u64, groups_done: bool) -> Listed {
        let mut listed = Listed::default();
        listed.add(ResourceKind::User, users);
        listed.add(ResourceKind::Group, groups);
        if users_done {
            listed.finish(ResourceKind::User);
        }
        if groups_done {
            listed.finish(ResourceKind::Group);
        }
        listed
    }

    /// #17: the side followed DescribeUserPool's estimate, so at 0 a 150-user, 10-group pool
    /// was read per user. Only what has been listed decides now.
    #[test]
    fn the_membership_side_is_settled_by_what_has_been_listed() {
        use ResourceKind::{Group, User};
        // Nothing settled while both listings run, whatever the counts so far.
        assert_eq!(listed(0, false, 10, false).membership_side(), None);
        assert_eq!(listed(5, false, 10, true).membership_side(), None);
        // All groups listed and at least as many users seen: per group, users still listing.
        assert_eq!(listed(10, false, 10, true).membership_side(), Some(Group));
        assert_eq!(listed(150, true, 10, true).membership_side(), Some(Group));
        // All users listed and fewer than the groups seen so far: per user, groups still listing.
        assert_eq!(listed(5, true, 60, false).membership_side(), Some(User));
        assert_eq!(listed(0, true, 1, false).membership_side(), Some(User));
        // As many users as groups: per group (at least one call a group either way).
        assert_eq!(listed(10, true, 10, true).membership_side(), Some(Group));
        // Users all listed but not fewer than the groups seen while groups still list: wait.
        assert_eq!(listed(60, true, 60, false).membership_side(), None);
        // A listing that starts over takes its count back.
        let mut restarted = listed(10, false, 10, true);
        restarted.retract(User, 10);
        assert_eq!(restarted.membership_side(), None);
    }
}
