//! One user pool: explicit users and groups kept as ordinary records, optionally on top of a
//! synthetic base ([`Synth`]) whose users exist only as a function of their index.
//!
//! Users live at *positions*: `0..synth_users` are the synthetic ones, explicit users get
//! increasing positions after them. Listings walk positions in order and page tokens carry the
//! next position, so a page costs O(page) and a token stays valid when users are deleted (unlike
//! moto's, which name an anchor user). Changes to a synthetic user copy it into `changed`; a
//! deleted one is remembered in `deleted`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value};

use super::filter::Filter;
use super::synth::{Perm, SignIn, Synth};

pub type Pos = u64;

/// The most user positions one listing request looks at before it answers with a short page and
/// a token: keeps a sparse filter on a huge pool O(1) per request.
pub const SCAN_BUDGET: u64 = 10_000;

#[derive(Clone, Debug)]
pub struct UserRec {
    pub username: String,
    /// In Cognito's order; `sub` is one of them.
    pub attrs: Vec<(String, String)>,
    pub enabled: bool,
    pub status: String,
    pub created: f64,
    pub modified: f64,
    pub password: Option<String>,
}

impl UserRec {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets or adds attributes, keeping the position of existing ones (moto's dict update).
    pub fn update_attrs(&mut self, new: &[(String, String)]) {
        for (name, value) in new {
            match self.attrs.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value.clone(),
                None => self.attrs.push((name.clone(), value.clone())),
            }
        }
    }
}

/// Members of a group: a synthetic base (minus removals) plus explicit additions.
#[derive(Clone, Debug, Default)]
pub struct Members {
    pub base: Option<Perm>,
    /// Base members taken out of the group.
    pub removed: HashSet<Pos>,
    /// Members added explicitly, listed in user-position (= pool insertion) order as moto does.
    pub added: BTreeSet<Pos>,
}

impl Members {
    fn base_size(&self) -> u64 {
        self.base.as_ref().map_or(0, |p| p.size)
    }

    fn in_base(&self, pos: Pos) -> bool {
        self.base.as_ref().is_some_and(|p| p.contains(pos)) && !self.removed.contains(&pos)
    }

    pub fn contains(&self, pos: Pos) -> bool {
        self.added.contains(&pos) || self.in_base(pos)
    }
}

#[derive(Clone, Debug)]
pub struct GroupRec {
    pub name: String,
    pub description: String,
    pub precedence: Option<i64>,
    pub role_arn: Option<String>,
    pub created: f64,
    pub modified: f64,
    pub members: Members,
}

/// One page of a listing: the items and, if the listing may go on, the cursor to resume at.
pub struct PageOf<T> {
    pub items: Vec<T>,
    pub next: Option<u64>,
}

pub struct Pool {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub region: String,
    pub created: f64,
    pub modified: f64,
    /// DescribeUserPool's extra fields: moto's defaults overlaid with the seed's `config`.
    pub config: Map<String, Value>,
    /// Schema attributes (DescribeUserPool's `SchemaAttributes`), standard ones first.
    pub schema: Vec<Value>,
    synth: Option<Synth>,
    synth_users: u64,
    deleted: HashSet<Pos>,
    changed: HashMap<Pos, UserRec>,
    explicit: BTreeMap<Pos, UserRec>,
    next_pos: Pos,
    by_name: HashMap<String, Pos>,
    by_sub: HashMap<String, Pos>,
    groups: BTreeMap<u64, GroupRec>,
    next_group: u64,
    group_by_name: HashMap<String, u64>,
}

impl Pool {
    pub fn new(
        id: String,
        account: &str,
        name: String,
        region: String,
        config: Map<String, Value>,
        now: f64,
    ) -> Self {
        let arn = format!("arn:aws:cognito-idp:{region}:{account}:userpool/{id}");
        let (config, schema) = super::schema::extended_config(config);
        Self {
            id,
            arn,
            name,
            region,
            created: now,
            modified: now,
            config,
            schema,
            synth: None,
            synth_users: 0,
            deleted: HashSet::new(),
            changed: HashMap::new(),
            explicit: BTreeMap::new(),
            next_pos: 0,
            by_name: HashMap::new(),
            by_sub: HashMap::new(),
            groups: BTreeMap::new(),
            next_group: 0,
            group_by_name: HashMap::new(),
        }
    }

    /// Makes this pool a synthetic one: `synth.users` users at positions `0..users`.
    pub fn set_synth(&mut self, synth: Synth) {
        self.synth_users = synth.users;
        self.next_pos = self.next_pos.max(synth.users);
        self.synth = Some(synth);
    }

    pub fn is_synthetic(&self) -> bool {
        self.synth.is_some()
    }

    /// The sign-in history of the user at `pos`, newest first: a synthetic user's is made up
    /// from the generator (see [`Synth::sign_ins`]); an explicit user has none.
    pub fn sign_ins(&self, pos: Pos) -> Vec<SignIn> {
        match &self.synth {
            Some(s) if pos < self.synth_users => s.sign_ins(pos),
            _ => Vec::new(),
        }
    }

    /// Declares `custom:*` attributes in the schema (String, mutable), as the Python emulator does
    /// for seeded users.
    pub fn declare_customs<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        let mut missing: Vec<&str> = names
            .into_iter()
            .filter(|n| n.starts_with("custom:"))
            .filter(|n| !self.schema.iter().any(|s| s["Name"].as_str() == Some(*n)))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        for name in missing {
            self.schema.push(super::schema::custom_attribute(name));
        }
    }

    // ------------------------------------------------------------------ users

    pub fn user_count(&self) -> u64 {
        self.synth_users - self.deleted.len() as u64 + self.explicit.len() as u64
    }

    pub fn user_at(&self, pos: Pos) -> Option<Cow<'_, UserRec>> {
        if pos < self.synth_users {
            if self.deleted.contains(&pos) {
                return None;
            }
            if let Some(u) = self.changed.get(&pos) {
                return Some(Cow::Borrowed(u));
            }
            return self.synth.as_ref().map(|s| Cow::Owned(s.user(pos)));
        }
        self.explicit.get(&pos).map(Cow::Borrowed)
    }

    fn live(&self, pos: Pos) -> bool {
        if pos < self.synth_users {
            !self.deleted.contains(&pos)
        } else {
            self.explicit.contains_key(&pos)
        }
    }

    /// The position of a user by username or, for local users, by `sub` (as AWS allows; moto
    /// only finds usernames).
    pub fn find_user(&self, name: &str) -> Option<Pos> {
        if let Some(pos) = self.by_name.get(name) {
            return Some(*pos);
        }
        if let Some(s) = &self.synth
            && let Some(i) = s.find(name).filter(|i| !self.deleted.contains(i))
        {
            return Some(i);
        }
        if let Some(pos) = self.find_by_sub(name) {
            let local = self
                .user_at(pos)
                .is_some_and(|u| u.status != "EXTERNAL_PROVIDER");
            if local {
                return Some(pos);
            }
        }
        None
    }

    fn find_by_sub(&self, sub: &str) -> Option<Pos> {
        if let Some(pos) = self.by_sub.get(sub) {
            return Some(*pos);
        }
        let s = self.synth.as_ref()?;
        let (lo, hi) = s.sub_range(sub, true);
        (lo < hi && !self.deleted.contains(&lo)).then_some(lo)
    }

    /// Whether a `sub` is taken (explicit users may bring their own).
    pub fn sub_taken(&self, sub: &str) -> bool {
        self.find_by_sub(sub).is_some()
    }

    pub fn username_taken(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
            || self
                .synth
                .as_ref()
                .and_then(|s| s.find(name))
                .is_some_and(|i| !self.deleted.contains(&i))
    }

    /// Adds an explicit user after every existing one. The caller checked the name and `sub`.
    pub fn insert_user(&mut self, user: UserRec) -> Pos {
        let pos = self.next_pos;
        self.next_pos += 1;
        self.by_name.insert(user.username.clone(), pos);
        if let Some(sub) = user.attr("sub") {
            self.by_sub.insert(sub.to_string(), pos);
        }
        self.explicit.insert(pos, user);
        pos
    }

    /// A user to change in place (a synthetic one is copied out of the generator first).
    pub fn user_mut(&mut self, pos: Pos) -> Option<&mut UserRec> {
        if pos < self.synth_users {
            if self.deleted.contains(&pos) {
                return None;
            }
            let synth = self.synth.as_ref()?;
            return Some(self.changed.entry(pos).or_insert_with(|| synth.user(pos)));
        }
        self.explicit.get_mut(&pos)
    }

    pub fn delete_user(&mut self, pos: Pos) {
        if pos < self.synth_users {
            self.deleted.insert(pos);
            self.changed.remove(&pos);
        } else if let Some(user) = self.explicit.remove(&pos) {
            self.by_name.remove(&user.username);
            if let Some(sub) = user.attr("sub") {
                self.by_sub.remove(sub);
            }
        }
        for group in self.groups.values_mut() {
            group.members.added.remove(&pos);
            group.members.removed.remove(&pos);
        }
    }

    /// The synthetic index range a filter can match: `sub` filters map to a contiguous range,
    /// `username =` to at most one index; anything else may match anywhere.
    fn synth_range(&self, filter: Option<&Filter>) -> (u64, u64) {
        let Some(s) = &self.synth else {
            return (0, 0);
        };
        match filter {
            Some(f) if f.attribute == "sub" => s.sub_range(&f.value, f.exact),
            Some(f) if f.attribute == "username" && f.exact => match s.find(&f.value) {
                Some(i) => (i, i + 1),
                None => (0, 0),
            },
            _ => (0, self.synth_users),
        }
    }

    /// One page of ListUsers from position `cursor`. A page is short (with a cursor) when the
    /// scan budget runs out first; the cursor is absent only when nothing can follow.
    pub fn list_users(
        &self,
        filter: Option<&Filter>,
        cursor: u64,
        limit: usize,
    ) -> PageOf<UserRec> {
        // One look-ahead item tells whether another page follows, and where it starts.
        let want = limit + 1;
        let mut items: Vec<(u64, UserRec)> = Vec::with_capacity(want);
        let mut scanned = 0u64;
        let mut resume = None;
        let mut pos = cursor;
        'scan: {
            if pos < self.synth_users {
                let (lo, hi) = self.synth_range(filter);
                pos = pos.max(lo);
                while pos < hi && items.len() < want {
                    if scanned >= SCAN_BUDGET {
                        resume = Some(pos);
                        break 'scan;
                    }
                    scanned += 1;
                    if let Some(user) = self.user_at(pos)
                        && filter.is_none_or(|f| f.matches(&user))
                    {
                        items.push((pos, user.into_owned()));
                    }
                    pos += 1;
                }
                if items.len() == want {
                    break 'scan;
                }
                pos = self.synth_users;
            }
            for (p, user) in self.explicit.range(pos..) {
                if items.len() == want {
                    break;
                }
                if scanned >= SCAN_BUDGET {
                    resume = Some(*p);
                    break;
                }
                scanned += 1;
                if filter.is_none_or(|f| f.matches(user)) {
                    items.push((*p, user.clone()));
                }
            }
        }
        finish(items, limit, resume)
    }

    // ------------------------------------------------------------------ groups

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    pub fn find_group(&self, name: &str) -> Option<u64> {
        self.group_by_name.get(name).copied()
    }

    pub fn group(&self, gpos: u64) -> Option<&GroupRec> {
        self.groups.get(&gpos)
    }

    pub fn group_mut(&mut self, gpos: u64) -> Option<&mut GroupRec> {
        self.groups.get_mut(&gpos)
    }

    pub fn groups(&self) -> impl Iterator<Item = &GroupRec> {
        self.groups.values()
    }

    pub fn insert_group(&mut self, group: GroupRec) -> u64 {
        let gpos = self.next_group;
        self.next_group += 1;
        self.group_by_name.insert(group.name.clone(), gpos);
        self.groups.insert(gpos, group);
        gpos
    }

    pub fn delete_group(&mut self, gpos: u64) {
        if let Some(group) = self.groups.remove(&gpos) {
            self.group_by_name.remove(&group.name);
        }
    }

    pub fn list_groups(&self, cursor: u64, limit: usize) -> PageOf<&GroupRec> {
        let mut iter = self.groups.range(cursor..);
        let items: Vec<&GroupRec> = iter.by_ref().take(limit).map(|(_, g)| g).collect();
        PageOf {
            items,
            next: iter.next().map(|(gpos, _)| *gpos),
        }
    }

    pub fn is_member(&self, gpos: u64, pos: Pos) -> bool {
        self.live(pos)
            && self
                .groups
                .get(&gpos)
                .is_some_and(|g| g.members.contains(pos))
    }

    /// Adds a member; false if it already was one.
    pub fn add_member(&mut self, gpos: u64, pos: Pos) -> bool {
        let Some(group) = self.groups.get_mut(&gpos) else {
            return false;
        };
        let m = &mut group.members;
        if m.contains(pos) {
            return false;
        }
        if !m.removed.remove(&pos) || !m.in_base(pos) {
            m.added.insert(pos);
        }
        true
    }

    /// Removes a member; false if it was not one.
    pub fn remove_member(&mut self, gpos: u64, pos: Pos) -> bool {
        let Some(group) = self.groups.get_mut(&gpos) else {
            return false;
        };
        let m = &mut group.members;
        if m.added.remove(&pos) {
            return true;
        }
        if m.in_base(pos) {
            m.removed.insert(pos);
            return true;
        }
        false
    }

    /// Number of live members (O(members) for synthetic groups with removals or deletions).
    pub fn member_count(&self, group: &GroupRec) -> u64 {
        let m = &group.members;
        let base = match &m.base {
            Some(p) if self.deleted.is_empty() && m.removed.is_empty() => p.size,
            Some(p) => (0..p.size)
                .map(|k| p.member(k))
                .filter(|u| !m.removed.contains(u) && !self.deleted.contains(u))
                .count() as u64,
            None => 0,
        };
        base + m.added.iter().filter(|p| self.live(**p)).count() as u64
    }

    /// One page of ListUsersInGroup. The cursor is `k < base size` for the synthetic members,
    /// then `base size + position` for the explicit ones.
    pub fn list_members(&self, gpos: u64, cursor: u64, limit: usize) -> PageOf<UserRec> {
        let want = limit + 1;
        let mut items: Vec<(u64, UserRec)> = Vec::with_capacity(want);
        let Some(group) = self.groups.get(&gpos) else {
            return PageOf {
                items: Vec::new(),
                next: None,
            };
        };
        let m = &group.members;
        let base = m.base_size();
        let mut scanned = 0u64;
        let mut resume = None;
        let mut cur = cursor;
        'scan: {
            if let Some(perm) = &m.base {
                while cur < base && items.len() < want {
                    if scanned >= SCAN_BUDGET {
                        resume = Some(cur);
                        break 'scan;
                    }
                    scanned += 1;
                    let pos = perm.member(cur);
                    if !m.removed.contains(&pos)
                        && let Some(user) = self.user_at(pos)
                    {
                        items.push((cur, user.into_owned()));
                    }
                    cur += 1;
                }
                if items.len() == want {
                    break 'scan;
                }
            }
            let start = cur.max(base) - base;
            for pos in m.added.range(start..) {
                if items.len() == want {
                    break;
                }
                if let Some(user) = self.user_at(*pos) {
                    items.push((base + pos, user.into_owned()));
                }
            }
        }
        finish(items, limit, resume)
    }

    /// The groups of a user, in group order (O(groups)).
    pub fn groups_of(&self, pos: Pos) -> Vec<u64> {
        self.groups
            .iter()
            .filter(|(_, g)| g.members.contains(pos))
            .map(|(gpos, _)| *gpos)
            .collect()
    }
}

/// Cuts the look-ahead item off a page: its cursor is where the next page starts.
fn finish(mut items: Vec<(u64, UserRec)>, limit: usize, resume: Option<u64>) -> PageOf<UserRec> {
    let next = if items.len() > limit {
        let next = items[limit].0;
        items.truncate(limit);
        Some(next)
    } else {
        resume
    };
    PageOf {
        items: items.into_iter().map(|(_, u)| u).collect(),
        next,
    }
}
