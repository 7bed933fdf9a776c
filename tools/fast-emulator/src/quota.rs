//! Cognito's request-rate quotas, enforced the way AWS does: a token bucket per quota category
//! and Region (one second of burst), plus the 5-per-second cap per pool on ListGroups and
//! GetGroup. A call over quota is answered at once with TooManyRequestsException; nothing waits.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

// The variants are AWS's category names, prefix and all.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    UserList,
    UserRead,
    UserResourceRead,
    UserPoolResourceRead,
    UserPoolRead,
    UserUpdate,
    UserCreation,
}

impl Category {
    const COUNT: usize = 7;

    /// The quota category AWS counts an operation against (AdminSetUserPassword with the
    /// updates, as the connector's own pacing does).
    pub fn of(op: &str) -> Option<Self> {
        Some(match op {
            "ListUsers" | "ListUsersInGroup" => Self::UserList,
            "AdminGetUser" => Self::UserRead,
            "AdminListGroupsForUser" | "AdminListUserAuthEvents" => Self::UserResourceRead,
            "ListGroups" | "GetGroup" => Self::UserPoolResourceRead,
            "DescribeUserPool" => Self::UserPoolRead,
            "AdminAddUserToGroup"
            | "AdminRemoveUserFromGroup"
            | "AdminEnableUser"
            | "AdminDisableUser"
            | "AdminDeleteUser"
            | "AdminUpdateUserAttributes"
            | "AdminSetUserPassword" => Self::UserUpdate,
            "AdminCreateUser" => Self::UserCreation,
            _ => return None,
        })
    }

    /// AWS's default requests per second.
    fn default_rps(self) -> f64 {
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

    pub fn name(self) -> &'static str {
        match self {
            Self::UserList => "UserList",
            Self::UserRead => "UserRead",
            Self::UserResourceRead => "UserResourceRead",
            Self::UserPoolResourceRead => "UserPoolResourceRead",
            Self::UserPoolRead => "UserPoolRead",
            Self::UserUpdate => "UserUpdate",
            Self::UserCreation => "UserCreation",
        }
    }

    const ALL: [Self; Self::COUNT] = [
        Self::UserList,
        Self::UserRead,
        Self::UserResourceRead,
        Self::UserPoolResourceRead,
        Self::UserPoolRead,
        Self::UserUpdate,
        Self::UserCreation,
    ];
}

/// ListGroups and GetGroup: at most this many per second per pool and operation.
const PER_POOL_RPS: f64 = 5.0;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(rate: f64, now: Instant) -> Self {
        Self {
            tokens: rate.max(1.0),
            last: now,
        }
    }

    /// Takes a token if there is one; the capacity (burst) is one second of the rate.
    fn admit(&mut self, rate: f64, now: Instant) -> bool {
        let capacity = rate.max(1.0);
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct State {
    scale: f64,
    disabled: bool,
    by_region: HashMap<String, [Bucket; Category::COUNT]>,
    /// Per pool: ListGroups, GetGroup.
    by_pool: HashMap<String, [Bucket; 2]>,
}

pub struct Quotas {
    state: Mutex<State>,
}

/// Why a call was refused.
pub struct OverQuota {
    pub category: Category,
    pub per_pool: bool,
}

impl Quotas {
    pub fn new(scale: f64, disabled: bool) -> Self {
        Self {
            state: Mutex::new(State {
                scale,
                disabled,
                by_region: HashMap::new(),
                by_pool: HashMap::new(),
            }),
        }
    }

    /// Changes the rates (or turns quotas off) from now on; every bucket starts full again.
    pub fn configure(&self, scale: Option<f64>, disabled: Option<bool>) -> (f64, bool) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(scale) = scale {
            st.scale = scale;
        }
        if let Some(disabled) = disabled {
            st.disabled = disabled;
        }
        st.by_region.clear();
        st.by_pool.clear();
        (st.scale, st.disabled)
    }

    pub fn describe(&self) -> serde_json::Value {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let rates: serde_json::Map<String, serde_json::Value> = Category::ALL
            .iter()
            .map(|c| (c.name().to_string(), (c.default_rps() * st.scale).into()))
            .collect();
        serde_json::json!({
            "scale": st.scale,
            "disabled": st.disabled,
            "rates": rates,
            "per_pool_list_groups_get_group": PER_POOL_RPS * st.scale,
        })
    }

    /// Admits or refuses one call of `op` on `pool` in `region`.
    pub fn admit(&self, op: &str, region: &str, pool: Option<&str>) -> Result<(), OverQuota> {
        let Some(category) = Category::of(op) else {
            return Ok(());
        };
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let st = &mut *guard;
        if st.disabled {
            return Ok(());
        }
        let now = Instant::now();
        let scale = st.scale;
        let pool_slot = match (op, pool) {
            ("ListGroups", Some(p)) => Some((p, 0)),
            ("GetGroup", Some(p)) => Some((p, 1)),
            _ => None,
        };
        // Check the per-pool cap first without spending the category token if it refuses.
        if let Some((pool, slot)) = pool_slot {
            let rate = PER_POOL_RPS * scale;
            if !st.by_pool.contains_key(pool) {
                st.by_pool
                    .insert(pool.to_string(), [Bucket::full(rate, now); 2]);
            }
            if let Some(buckets) = st.by_pool.get_mut(pool) {
                let mut probe = buckets[slot];
                if !probe.admit(rate, now) {
                    buckets[slot] = probe;
                    return Err(OverQuota {
                        category,
                        per_pool: true,
                    });
                }
            }
        }
        if !st.by_region.contains_key(region) {
            let buckets = Category::ALL.map(|c| Bucket::full(c.default_rps() * scale, now));
            st.by_region.insert(region.to_string(), buckets);
        }
        let Some(buckets) = st.by_region.get_mut(region) else {
            return Ok(());
        };
        let ix = Category::ALL
            .iter()
            .position(|c| *c == category)
            .unwrap_or(0);
        if !buckets[ix].admit(category.default_rps() * scale, now) {
            return Err(OverQuota {
                category,
                per_pool: false,
            });
        }
        if let Some((pool, slot)) = pool_slot
            && let Some(buckets) = st.by_pool.get_mut(pool)
        {
            buckets[slot].admit(PER_POOL_RPS * scale, now);
        }
        Ok(())
    }
}
