//! The control API under `/_emulator/`, with the paths, bodies, validation and answers of
//! `tests/emulator/cognito_emulator.py` (see its README), plus `/_emulator/quota`.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};

use serde_json::{Map, Value, json};

use super::auth_events;
use super::pool::{GroupRec, Members, Pool, UserRec};
use super::stats::FaultRule;
use super::synth::{self, Synth};
use super::{State, epoch_now, lock, read, write};

/// A control API error, answered as `{"error": message}`.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

pub fn bad(message: impl Into<String>) -> ApiError {
    ApiError {
        status: 400,
        message: message.into(),
    }
}

fn not_found(message: impl Into<String>) -> ApiError {
    ApiError {
        status: 404,
        message: message.into(),
    }
}

/// A string as Python's `repr` shows it, so that messages read exactly like the Python
/// emulator's (`'ann'`, `"O'Brien"`).
struct Py<'a>(&'a str);

impl std::fmt::Display for Py<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let quote = if self.0.contains('\'') && !self.0.contains('"') {
            '"'
        } else {
            '\''
        };
        let mut out = String::with_capacity(self.0.len() + 2);
        out.push(quote);
        for c in self.0.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c == quote => {
                    out.push('\\');
                    out.push(c);
                }
                c if (c as u32) < 0x20 || c == '\x7f' => {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                }
                c => out.push(c),
            }
        }
        out.push(quote);
        f.write_str(&out)
    }
}

/// A list of strings as Python shows it: `['a', 'b']`.
pub fn py_list(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|i| Py(i).to_string()).collect();
    format!("[{}]", inner.join(", "))
}

const MAX_NAME_LEN: usize = 128;
const USER_STATUSES: &[&str] = &[
    "UNCONFIRMED",
    "CONFIRMED",
    "ARCHIVED",
    "COMPROMISED",
    "UNKNOWN",
    "RESET_REQUIRED",
    "FORCE_CHANGE_PASSWORD",
    "EXTERNAL_PROVIDER",
];

pub fn check_keys<'a>(
    raw: &'a Value,
    allowed: &[&str],
    what: &str,
) -> Result<&'a Map<String, Value>, ApiError> {
    let obj = raw
        .as_object()
        .ok_or_else(|| bad(format!("{what}: must be a JSON object")))?;
    check_obj_keys(obj, allowed, what)?;
    Ok(obj)
}

fn check_obj_keys(obj: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), ApiError> {
    let mut unknown: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !allowed.contains(k))
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        return Err(bad(format!(
            "{what}: unknown field(s) {}",
            py_list(&unknown)
        )));
    }
    Ok(())
}

pub fn opt_str(
    obj: &Map<String, Value>,
    key: &str,
    what: &str,
) -> Result<Option<String>, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("{what}: '{key}' must be a string"))),
    }
}

fn req_name(obj: &Map<String, Value>, key: &str, what: &str) -> Result<String, ApiError> {
    let Some(val) = obj.get(key) else {
        return Err(bad(format!("{what}: missing '{key}'")));
    };
    let Some(s) = val.as_str().filter(|s| !s.is_empty()) else {
        return Err(bad(format!("{what}: '{key}' must be a non-empty string")));
    };
    if s.chars().count() > MAX_NAME_LEN {
        return Err(bad(format!(
            "{what}: '{key}' longer than {MAX_NAME_LEN} characters"
        )));
    }
    if s.chars().any(|c| (c as u32) < 0x20 || c == '\x7f') {
        return Err(bad(format!("{what}: '{key}' contains control characters")));
    }
    Ok(s.to_string())
}

/// Epoch seconds (number) or an ISO 8601 string, to epoch seconds with millisecond precision.
fn parse_date(val: Option<&Value>, what: &str) -> Result<Option<f64>, ApiError> {
    let secs = match val {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => parse_iso(s),
        Some(_) => None,
    };
    match secs {
        Some(s) => Ok(Some((s * 1000.0).round() / 1000.0)),
        None => Err(bad(format!(
            "{what}: must be epoch seconds or an ISO 8601 string"
        ))),
    }
}

fn parse_iso(s: &str) -> Option<f64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(&s.replace('z', "Z")) {
        return Some(d.timestamp_millis() as f64 / 1000.0);
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(d.and_utc().timestamp_millis() as f64 / 1000.0);
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp() as f64)
}

/// A user of a seed request, validated.
struct UserSpec {
    username: String,
    attrs: Vec<(String, String)>,
    sub: Option<String>,
    enabled: bool,
    status: String,
    created: Option<f64>,
    modified: Option<f64>,
}

/// Attribute values may be strings, numbers or booleans (stored as strings, as Python prints them).
fn attribute_map(raw: Option<&Value>, what: &str) -> Result<Vec<(String, String)>, ApiError> {
    let attrs = match raw {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(bad(format!(
                "{what}: 'attributes' must be an object of name -> string value"
            )));
        }
    };
    let mut out = Vec::with_capacity(attrs.len());
    for (name, value) in attrs {
        if name.is_empty() {
            return Err(bad(format!(
                "{what}: attribute names must be non-empty strings"
            )));
        }
        let value = match value {
            Value::String(s) => s.clone(),
            Value::Bool(b) => if *b { "true" } else { "false" }.to_string(),
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => i.to_string(),
                (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e16 => format!("{f:.1}"),
                _ => n.to_string(),
            },
            _ => {
                return Err(bad(format!(
                    "{what}: attribute {} must be a string",
                    Py(name)
                )));
            }
        };
        if name == "sub" && value.is_empty() {
            return Err(bad(format!("{what}: 'sub' must be non-empty")));
        }
        out.push((name.clone(), value));
    }
    Ok(out)
}

impl UserSpec {
    fn parse(raw: &Value, idx: usize) -> Result<Self, ApiError> {
        let what = format!("users[{idx}]");
        let obj = check_keys(
            raw,
            &[
                "username",
                "attributes",
                "enabled",
                "status",
                "create_date",
                "last_modified_date",
            ],
            &what,
        )?;
        let username = req_name(obj, "username", &what)?;
        let attrs = attribute_map(obj.get("attributes"), &what)?;
        let sub = attrs
            .iter()
            .find(|(n, _)| n == "sub")
            .map(|(_, v)| v.clone());
        let enabled = match obj.get("enabled") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad(format!("{what}: 'enabled' must be a boolean"))),
        };
        let status = match obj.get("status") {
            None => "CONFIRMED".to_string(),
            Some(Value::String(s)) if USER_STATUSES.contains(&s.as_str()) => s.clone(),
            Some(_) => {
                return Err(bad(format!(
                    "{what}: 'status' must be one of {}",
                    py_list(USER_STATUSES)
                )));
            }
        };
        Ok(Self {
            username,
            attrs,
            sub,
            enabled,
            status,
            created: parse_date(obj.get("create_date"), &format!("{what}.create_date"))?,
            modified: parse_date(
                obj.get("last_modified_date"),
                &format!("{what}.last_modified_date"),
            )?,
        })
    }
}

struct GroupSpec {
    name: String,
    description: Option<String>,
    precedence: Option<i64>,
    role_arn: Option<String>,
    created: Option<f64>,
    modified: Option<f64>,
}

impl GroupSpec {
    fn parse(raw: &Value, idx: usize) -> Result<Self, ApiError> {
        let what = format!("groups[{idx}]");
        let obj = check_keys(
            raw,
            &[
                "name",
                "description",
                "precedence",
                "role_arn",
                "create_date",
                "last_modified_date",
            ],
            &what,
        )?;
        let name = req_name(obj, "name", &what)?;
        let description = opt_str(obj, "description", &what)?;
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 2048)
        {
            return Err(bad(format!(
                "{what}: 'description' longer than 2048 characters"
            )));
        }
        let precedence = match obj.get("precedence") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_i64() {
                Some(p) if p >= 0 => Some(p),
                _ => {
                    return Err(bad(format!(
                        "{what}: 'precedence' must be a non-negative integer or null"
                    )));
                }
            },
        };
        Ok(Self {
            name,
            description,
            precedence,
            role_arn: opt_str(obj, "role_arn", &what)?,
            created: parse_date(obj.get("create_date"), &format!("{what}.create_date"))?,
            modified: parse_date(
                obj.get("last_modified_date"),
                &format!("{what}.last_modified_date"),
            )?,
        })
    }
}

fn parse_membership(raw: &Value, idx: usize) -> Result<(String, String), ApiError> {
    let what = format!("memberships[{idx}]");
    let (g, u) = match raw {
        Value::Object(_) => {
            let obj = check_keys(raw, &["group", "username"], &what)?;
            (obj.get("group"), obj.get("username"))
        }
        Value::Array(pair) if pair.len() == 2 => (pair.first(), pair.get(1)),
        _ => {
            return Err(bad(format!(
                r#"{what}: must be ["group name", "username"] or {{"group":..,"username":..}}"#
            )));
        }
    };
    match (
        g.and_then(Value::as_str).filter(|s| !s.is_empty()),
        u.and_then(Value::as_str).filter(|s| !s.is_empty()),
    ) {
        (Some(g), Some(u)) => Ok((g.to_string(), u.to_string())),
        _ => Err(bad(format!(
            "{what}: group and username must be non-empty strings"
        ))),
    }
}

fn list_field<'a>(body: &'a Map<String, Value>, key: &str) -> Result<&'a [Value], ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(bad(format!("'{key}' must be a list"))),
    }
}

/// Validates a whole seed request against the pool, then applies it: a 400 changes nothing.
fn seed_into_pool(
    pool: &mut Pool,
    users: Vec<UserSpec>,
    groups: Vec<GroupSpec>,
    memberships: Vec<(String, String)>,
) -> Result<Value, ApiError> {
    let mut new_names: HashSet<&str> = HashSet::new();
    for (i, u) in users.iter().enumerate() {
        if !new_names.insert(&u.username) || pool.username_taken(&u.username) {
            return Err(bad(format!(
                "users[{i}]: username {} already exists",
                Py(&u.username)
            )));
        }
    }
    let mut subs: HashSet<&str> = HashSet::new();
    for sub in users.iter().filter_map(|u| u.sub.as_deref()) {
        if !subs.insert(sub) || pool.sub_taken(sub) {
            return Err(bad(format!("duplicate sub {}", Py(sub))));
        }
    }
    let mut new_groups: HashSet<&str> = HashSet::new();
    for (i, g) in groups.iter().enumerate() {
        if !new_groups.insert(&g.name) || pool.find_group(&g.name).is_some() {
            return Err(bad(format!(
                "groups[{i}]: group {} already exists",
                Py(&g.name)
            )));
        }
    }
    for (i, (g, u)) in memberships.iter().enumerate() {
        if !new_groups.contains(g.as_str()) && pool.find_group(g).is_none() {
            return Err(bad(format!("memberships[{i}]: no group {}", Py(g))));
        }
        if !new_names.contains(u.as_str()) && pool.find_user(u).is_none() {
            return Err(bad(format!("memberships[{i}]: no user {}", Py(u))));
        }
    }

    let customs: Vec<String> = users
        .iter()
        .flat_map(|u| u.attrs.iter().map(|(n, _)| n.clone()))
        .collect();
    pool.declare_customs(customs.iter().map(String::as_str));
    let now = epoch_now();
    let (n_users, n_groups) = (users.len(), groups.len());
    for g in groups {
        let created = g.created.unwrap_or(now);
        pool.insert_group(GroupRec {
            name: g.name,
            description: g.description.unwrap_or_default(),
            precedence: g.precedence,
            role_arn: g.role_arn,
            created,
            modified: g.modified.unwrap_or(created),
            members: Members::default(),
        });
    }
    for u in users {
        let mut attrs = u.attrs;
        if u.sub.is_none() {
            // moto appends a fresh sub after the given attributes.
            let sub = loop {
                let candidate = super::aws::random_uuid();
                if !pool.sub_taken(&candidate) {
                    break candidate;
                }
            };
            attrs.push(("sub".into(), sub));
        }
        let created = u.created.unwrap_or(now);
        pool.insert_user(UserRec {
            username: u.username,
            attrs,
            enabled: u.enabled,
            status: u.status,
            created,
            modified: u.modified.unwrap_or(created),
            password: None,
        });
    }
    let mut added = 0;
    for (g, u) in &memberships {
        if let (Some(gpos), Some(pos)) = (pool.find_group(g), pool.find_user(u))
            && pool.add_member(gpos, pos)
        {
            added += 1;
        }
    }
    Ok(json!({"users": n_users, "groups": n_groups, "memberships": added}))
}

fn pool_answer(pool: &Pool, added: Option<Value>) -> Value {
    let mut ans = json!({
        "pool_id": pool.id, "arn": pool.arn, "region": pool.region, "name": pool.name,
    });
    if let Some(added) = added {
        ans["added"] = added;
    }
    ans
}

/// Counts, statuses and group sizes. O(users) for a synthetic pool (about a second per million).
fn pool_summary(pool: &Pool) -> Value {
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    let mut disabled = 0u64;
    let page_size = 10_000;
    let mut cursor = 0;
    loop {
        let page = pool.list_users(None, cursor, page_size);
        for u in &page.items {
            *statuses.entry(u.status.clone()).or_default() += 1;
            if !u.enabled {
                disabled += 1;
            }
        }
        match page.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    let mut sizes = Map::new();
    let mut memberships = 0;
    for g in pool.groups() {
        let n = pool.member_count(g);
        memberships += n;
        sizes.insert(g.name.clone(), json!(n));
    }
    let customs: Vec<&str> = pool
        .schema
        .iter()
        .filter_map(|s| s["Name"].as_str())
        .filter(|n| n.starts_with("custom:"))
        .collect();
    json!({
        "pool_id": pool.id, "arn": pool.arn, "region": pool.region, "name": pool.name,
        "synthetic": pool.is_synthetic(),
        "users": pool.user_count(),
        "groups": pool.group_count(),
        "memberships": memberships,
        "disabled": disabled,
        "statuses": statuses,
        "group_sizes": sizes,
        "custom_attributes": customs,
    })
}

fn validate_region(raw: Option<&Value>) -> Result<String, ApiError> {
    let region = match raw {
        None => return Ok("us-east-1".into()),
        Some(v) => v.as_str().unwrap_or(""),
    };
    let mut parts = region.split('-');
    let ok = parts
        .next()
        .is_some_and(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_lowercase()))
        && {
            let rest: Vec<&str> = parts.collect();
            rest.len() >= 2
                && rest[..rest.len() - 1]
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
                && rest
                    .last()
                    .is_some_and(|d| d.len() == 1 && d.bytes().all(|b| b.is_ascii_digit()))
        };
    if ok {
        Ok(region.to_string())
    } else {
        Err(bad("'region' must be an AWS region name like 'us-east-1'"))
    }
}

/// A free pool id: the requested one (409 if taken), else `<region>_` + 9 alphanumerics.
fn allocate_pool_id(
    state: &State,
    region: &str,
    requested: Option<&Value>,
) -> Result<String, ApiError> {
    let pools = read(&state.pools);
    match requested {
        None | Some(Value::Null) => {}
        Some(Value::String(id)) => {
            let ok = id
                .strip_prefix(region)
                .and_then(|r| r.strip_prefix('_'))
                .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric()))
                && id.len() <= 55;
            if !ok {
                return Err(bad(format!(
                    "'pool_id' must look like '{region}_AbCdEfGhI'"
                )));
            }
            if pools.contains_key(id) {
                return Err(ApiError {
                    status: 409,
                    message: format!("user pool {} already exists", Py(id)),
                });
            }
            return Ok(id.clone());
        }
        Some(_) => return Err(bad("'pool_id' must be a string")),
    }
    loop {
        let id = synth::pool_id(region, rand::random(), 0, 0, rand::random());
        if !pools.contains_key(&id) {
            return Ok(id);
        }
    }
}

/// What a synthetic pool is made of: everything in it follows from these.
pub struct SampleSpec {
    pub users: u64,
    pub groups: u64,
    /// Average group memberships per user.
    pub per_user: f64,
    pub seed: u64,
    /// The Plus plan with threat protection (AUDIT), and a synthetic sign-in history for every
    /// user (AdminListUserAuthEvents).
    pub sign_ins: bool,
}

/// Builds a synthetic pool (not yet registered).
pub fn synthetic_pool(state: &State, id: String, region: &str, spec: &SampleSpec) -> Pool {
    let SampleSpec {
        users,
        groups,
        per_user,
        seed,
        sign_ins,
    } = *spec;
    let name = format!("synthetic-s{seed}-u{users}-g{groups}");
    let config = if sign_ins {
        auth_events::sign_ins_config()
    } else {
        Map::new()
    };
    let mut pool = Pool::new(
        id,
        &state.account,
        name,
        region.to_string(),
        config,
        epoch_now(),
    );
    pool.declare_customs(["custom:department", "custom:employee_id"]);
    pool.set_synth(Synth::new(seed, users));
    for plan in synth::groups(seed, users, groups, per_user, &state.account) {
        pool.insert_group(GroupRec {
            name: plan.name,
            description: plan.description,
            precedence: plan.precedence,
            role_arn: plan.role_arn,
            created: plan.created,
            modified: plan.created,
            members: Members {
                base: Some(plan.members),
                ..Members::default()
            },
        });
    }
    pool
}

/// The deterministic id of a synthetic pool, or a random one if that is taken.
pub fn synthetic_pool_id(
    state: &State,
    region: &str,
    seed: u64,
    users: u64,
    groups: u64,
) -> String {
    let pools = read(&state.pools);
    let id = synth::pool_id(region, seed, users, groups, 0);
    if !pools.contains_key(&id) {
        return id;
    }
    loop {
        let id = synth::pool_id(region, seed, users, groups, rand::random());
        if !pools.contains_key(&id) {
            return id;
        }
    }
}

fn find_pool(state: &State, id: &str) -> Result<Arc<RwLock<Pool>>, ApiError> {
    read(&state.pools)
        .get(id)
        .cloned()
        .ok_or_else(|| not_found(format!("user pool {} not found", Py(id))))
}

fn allow(method: &str, methods: &[&str]) -> Result<(), ApiError> {
    if methods.contains(&method) {
        Ok(())
    } else {
        Err(ApiError {
            status: 405,
            message: format!(
                "method {method} not allowed here (use {})",
                methods.join(", ")
            ),
        })
    }
}

/// Routes one control request. `segs` are the percent-decoded path segments after `_emulator`.
pub fn route(
    state: &State,
    method: &str,
    segs: &[String],
    body: &[u8],
    query: &[(String, String)],
) -> Result<(u16, Value), ApiError> {
    let data: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(body).map_err(|e| bad(format!("body is not valid JSON: {e}")))?
    };
    let empty = Map::new();
    let body_obj = || -> Result<&Map<String, Value>, ApiError> {
        match &data {
            Value::Null => Ok(&empty),
            Value::Object(m) => Ok(m),
            _ => Err(bad("body must be a JSON object")),
        }
    };
    let q = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let Some(head) = segs.first() else {
        return Err(not_found(
            "see /_emulator/health, /pools, /sample, /faults, /calls, /reset, /quota",
        ));
    };
    let single = segs.len() == 1;
    match head.as_str() {
        "health" if single => {
            allow(method, &["GET"])?;
            Ok((200, json!({"ok": true, "emulator": "fast"})))
        }
        "reset" if single => {
            allow(method, &["POST"])?;
            write(&state.pools).clear();
            let mut stats = lock(&state.stats);
            stats.faults.clear();
            stats.reset_calls();
            Ok((200, json!({"reset": true})))
        }
        "calls" if single => {
            allow(method, &["GET", "DELETE"])?;
            let mut stats = lock(&state.stats);
            if method == "DELETE" {
                stats.reset_calls();
                return Ok((200, json!({})));
            }
            Ok((200, stats.calls_json(q("pool_id"))))
        }
        "stats" if single => {
            allow(method, &["GET"])?;
            let mut out = lock(&state.stats).stats_json();
            out["quota"] = state.quotas.describe();
            Ok((200, out))
        }
        "requests" if single => {
            allow(method, &["GET", "DELETE"])?;
            let mut stats = lock(&state.stats);
            if method == "DELETE" {
                stats.clear_log();
                return Ok((200, json!({})));
            }
            Ok((200, stats.requests_json(q("operation"))))
        }
        "faults" if single => {
            allow(method, &["GET", "POST", "DELETE"])?;
            let mut stats = lock(&state.stats);
            match method {
                "GET" => {}
                "DELETE" => stats.faults.clear(),
                _ => {
                    let b = body_obj()?;
                    check_obj_keys(b, &["rules"], "body")?;
                    let rules = list_field(b, "rules")?
                        .iter()
                        .enumerate()
                        .map(|(i, r)| FaultRule::parse(r, i))
                        .collect::<Result<Vec<_>, _>>()?;
                    stats.faults.extend(rules);
                }
            }
            let rules: Vec<Value> = stats.faults.iter().map(FaultRule::to_json).collect();
            Ok((200, json!({ "rules": rules })))
        }
        "quota" if single => {
            allow(method, &["GET", "POST"])?;
            if method == "POST" {
                let b = body_obj()?;
                check_obj_keys(b, &["scale", "disabled"], "body")?;
                let scale = match b.get("scale") {
                    None | Some(Value::Null) => None,
                    Some(v) => match v.as_f64() {
                        Some(s) if s > 0.0 && s.is_finite() => Some(s),
                        _ => return Err(bad("'scale' must be a positive number")),
                    },
                };
                let disabled = match b.get("disabled") {
                    None | Some(Value::Null) => None,
                    Some(Value::Bool(d)) => Some(*d),
                    Some(_) => return Err(bad("'disabled' must be a boolean")),
                };
                // A new scale alone means "enforce at this scale".
                let disabled = disabled.or(scale.map(|_| false));
                state.quotas.configure(scale, disabled);
            }
            Ok((200, state.quotas.describe()))
        }
        "sample" if single => {
            allow(method, &["POST"])?;
            let b = body_obj()?;
            check_obj_keys(
                b,
                &[
                    "region",
                    "users",
                    "groups",
                    "seed",
                    "pool_id",
                    "memberships_per_user",
                    "sign_ins",
                ],
                "body",
            )?;
            let region = validate_region(b.get("region"))?;
            let int = |key: &str, default: u64, hi: u64| -> Result<u64, ApiError> {
                match b.get(key) {
                    None => Ok(default),
                    Some(v) => v
                        .as_u64()
                        .filter(|n| *n <= hi)
                        .ok_or_else(|| bad(format!("'{key}' must be an integer in 0..{hi}"))),
                }
            };
            let users = int("users", 3000, Synth::MAX_USERS)?;
            let groups = int("groups", 40, 10_000)?;
            let seed = match b.get("seed") {
                None => 42,
                Some(v) => v
                    .as_i64()
                    .map(|s| s as u64)
                    .ok_or_else(|| bad("'seed' must be an integer"))?,
            };
            let per_user = match b.get("memberships_per_user") {
                None => 1.5,
                Some(v) => v
                    .as_f64()
                    .filter(|m| *m >= 0.0 && m.is_finite())
                    .ok_or_else(|| bad("'memberships_per_user' must be a non-negative number"))?,
            };
            let sign_ins = match b.get("sign_ins") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(on)) => *on,
                Some(_) => return Err(bad("'sign_ins' must be a boolean")),
            };
            let id = match b.get("pool_id") {
                None | Some(Value::Null) => synthetic_pool_id(state, &region, seed, users, groups),
                requested => allocate_pool_id(state, &region, requested)?,
            };
            let spec = SampleSpec {
                users,
                groups,
                per_user,
                seed,
                sign_ins,
            };
            let pool = synthetic_pool(state, id, &region, &spec);
            let memberships: u64 = pool.groups().map(|g| pool.member_count(g)).sum();
            let answer = pool_answer(
                &pool,
                Some(
                    json!({"users": users, "groups": pool.group_count(), "memberships": memberships}),
                ),
            );
            register(state, pool)?;
            Ok((200, answer))
        }
        "pools" => route_pools(state, method, &segs[1..], body_obj),
        _ => Err(not_found(format!(
            "no control endpoint /_emulator/{}",
            segs.join("/")
        ))),
    }
}

fn register(state: &State, pool: Pool) -> Result<(), ApiError> {
    let mut pools = write(&state.pools);
    if pools.contains_key(&pool.id) {
        return Err(ApiError {
            status: 409,
            message: format!("user pool {} already exists", Py(&pool.id)),
        });
    }
    pools.insert(pool.id.clone(), Arc::new(RwLock::new(pool)));
    Ok(())
}

fn route_pools<'a>(
    state: &State,
    method: &str,
    rest: &[String],
    body_obj: impl Fn() -> Result<&'a Map<String, Value>, ApiError>,
) -> Result<(u16, Value), ApiError> {
    let Some(pool_id) = rest.first() else {
        allow(method, &["GET", "POST"])?;
        if method == "GET" {
            let pools: Vec<Arc<RwLock<Pool>>> = read(&state.pools).values().cloned().collect();
            let out: Vec<Value> = pools
                .iter()
                .map(|p| {
                    let p = read(p);
                    let mut ans = pool_answer(&p, None);
                    ans["users"] = json!(p.user_count());
                    ans["groups"] = json!(p.group_count());
                    ans
                })
                .collect();
            return Ok((200, json!({ "pools": out })));
        }
        let b = body_obj()?;
        check_obj_keys(
            b,
            &[
                "region",
                "name",
                "users",
                "groups",
                "memberships",
                "pool_id",
                "config",
            ],
            "body",
        )?;
        let region = validate_region(b.get("region"))?;
        let name = match b.get("name") {
            None => "test-pool".to_string(),
            Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= 128 => s.clone(),
            Some(_) => {
                return Err(bad(
                    "'name' must be a non-empty string of at most 128 characters",
                ));
            }
        };
        let config = match b.get("config") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(bad(
                    "'config' must be an object (extra CreateUserPool parameters)",
                ));
            }
        };
        auth_events::check_pool_config(&config)
            .map_err(|e| bad(format!("config: {}: {}", e.code, e.message)))?;
        let users = parse_users(b)?;
        let groups = parse_groups(b)?;
        let mems = parse_memberships(b)?;
        let id = allocate_pool_id(state, &region, b.get("pool_id"))?;
        let mut pool = Pool::new(id, &state.account, name, region, config, epoch_now());
        let added = seed_into_pool(&mut pool, users, groups, mems)?;
        let answer = pool_answer(&pool, Some(added));
        register(state, pool)?;
        return Ok((200, answer));
    };

    let sub = &rest[1..];
    let Some(kind) = sub.first() else {
        allow(method, &["GET", "DELETE"])?;
        if method == "GET" {
            let pool = find_pool(state, pool_id)?;
            return Ok((200, pool_summary(&read(&pool))));
        }
        if write(&state.pools).remove(pool_id.as_str()).is_none() {
            return Err(not_found(format!("user pool {} not found", Py(pool_id))));
        }
        return Ok((200, json!({ "deleted": pool_id })));
    };
    if !["users", "groups", "memberships"].contains(&kind.as_str()) {
        return Err(not_found(format!(
            "no control endpoint for pools/<id>/{kind}"
        )));
    }
    let pool = find_pool(state, pool_id)?;
    if sub.len() == 1 {
        if kind == "memberships" {
            allow(method, &["POST", "DELETE"])?;
        } else {
            allow(method, &["POST"])?;
        }
        let b = body_obj()?;
        check_obj_keys(b, &[kind.as_str()], "body")?;
        let (users, groups, mems) = match kind.as_str() {
            "users" => (parse_users(b)?, Vec::new(), Vec::new()),
            "groups" => (Vec::new(), parse_groups(b)?, Vec::new()),
            _ => (Vec::new(), Vec::new(), parse_memberships(b)?),
        };
        let mut pool = write(&pool);
        if method == "DELETE" {
            let removed = remove_memberships(&mut pool, &mems)?;
            let mut ans = pool_answer(&pool, None);
            ans["removed"] = json!(removed);
            return Ok((200, ans));
        }
        let added = seed_into_pool(&mut pool, users, groups, mems)?;
        return Ok((200, pool_answer(&pool, Some(added))));
    }
    if sub.len() != 2 || kind == "memberships" {
        return Err(not_found(
            "expected /_emulator/pools/<id>/users/<username> or .../groups/<name>",
        ));
    }
    let name = &sub[1];
    let mut pool = write(&pool);
    if kind == "groups" {
        allow(method, &["DELETE"])?;
        let gpos = pool
            .find_group(name)
            .ok_or_else(|| not_found(format!("no group {} in {pool_id}", Py(name))))?;
        pool.delete_group(gpos);
        return Ok((200, json!({ "deleted": name })));
    }
    allow(method, &["DELETE", "PATCH"])?;
    let pos = pool
        .find_user(name)
        .filter(|p| pool.user_at(*p).is_some_and(|u| u.username == *name))
        .ok_or_else(|| not_found(format!("no user {} in {pool_id}", Py(name))))?;
    if method == "DELETE" {
        pool.delete_user(pos);
        return Ok((200, json!({ "deleted": name })));
    }
    patch_user(&mut pool, pos, body_obj()?)
}

fn parse_users(b: &Map<String, Value>) -> Result<Vec<UserSpec>, ApiError> {
    list_field(b, "users")?
        .iter()
        .enumerate()
        .map(|(i, u)| UserSpec::parse(u, i))
        .collect()
}

fn parse_groups(b: &Map<String, Value>) -> Result<Vec<GroupSpec>, ApiError> {
    list_field(b, "groups")?
        .iter()
        .enumerate()
        .map(|(i, g)| GroupSpec::parse(g, i))
        .collect()
}

fn parse_memberships(b: &Map<String, Value>) -> Result<Vec<(String, String)>, ApiError> {
    list_field(b, "memberships")?
        .iter()
        .enumerate()
        .map(|(i, m)| parse_membership(m, i))
        .collect()
}

fn remove_memberships(pool: &mut Pool, mems: &[(String, String)]) -> Result<u64, ApiError> {
    let mut resolved = Vec::with_capacity(mems.len());
    for (i, (g, u)) in mems.iter().enumerate() {
        let gpos = pool
            .find_group(g)
            .ok_or_else(|| bad(format!("memberships[{i}]: no group {}", Py(g))))?;
        let pos = pool
            .find_user(u)
            .ok_or_else(|| bad(format!("memberships[{i}]: no user {}", Py(u))))?;
        resolved.push((gpos, pos));
    }
    Ok(resolved
        .into_iter()
        .filter(|(g, p)| pool.remove_member(*g, *p))
        .count() as u64)
}

fn patch_user(pool: &mut Pool, pos: u64, b: &Map<String, Value>) -> Result<(u16, Value), ApiError> {
    check_obj_keys(b, &["enabled", "status", "attributes"], "body")?;
    let enabled = match b.get("enabled") {
        None => None,
        Some(Value::Bool(e)) => Some(*e),
        Some(_) => return Err(bad("'enabled' must be a boolean")),
    };
    let status = match b.get("status") {
        None => None,
        Some(Value::String(s)) if USER_STATUSES.contains(&s.as_str()) => Some(s.clone()),
        Some(_) => {
            return Err(bad(format!(
                "'status' must be one of {}",
                py_list(USER_STATUSES)
            )));
        }
    };
    let attrs = match b.get("attributes") {
        None => None,
        raw => {
            let attrs = attribute_map(raw, "users[0]")?;
            if attrs.iter().any(|(n, _)| n == "sub") {
                return Err(bad("'sub' cannot be changed"));
            }
            Some(attrs)
        }
    };
    if let Some(attrs) = &attrs {
        pool.declare_customs(attrs.iter().map(|(n, _)| n.as_str()));
    }
    let user = pool
        .user_mut(pos)
        .ok_or_else(|| not_found("user vanished"))?;
    if let Some(e) = enabled {
        user.enabled = e;
    }
    if let Some(s) = status {
        user.status = s;
    }
    if let Some(attrs) = attrs.filter(|a| !a.is_empty()) {
        user.update_attrs(&attrs);
        user.modified = epoch_now();
    }
    Ok((
        200,
        json!({"username": user.username, "enabled": user.enabled, "status": user.status}),
    ))
}
