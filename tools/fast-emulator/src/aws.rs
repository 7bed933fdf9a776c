//! The AWS JSON 1.1 side: one handler per Cognito operation the connector calls, answering with
//! the fields, types and error shapes that moto 5.2 answers with (and that
//! aws-sdk-cognitoidentityprovider parses): dates as epoch seconds, `Attributes` vs
//! `UserAttributes`, `PaginationToken` for ListUsers and `NextToken` elsewhere.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::filter::Filter;
use super::pool::{GroupRec, Pool, UserRec};
use super::stats::{FaultRule, LogEntry};
use super::synth::mix;
use super::{Outcome, Reply, State, epoch_now, lock, read, write};

/// An AWS error answer: HTTP status, `__type` and message.
#[derive(Debug)]
pub struct AwsError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl AwsError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: code.to_string(),
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", message)
    }

    fn pool_not_found(id: &str) -> Self {
        Self::new(
            "ResourceNotFoundException",
            format!("User pool {id} does not exist."),
        )
    }

    fn group_not_found() -> Self {
        Self::new("ResourceNotFoundException", "Group not found.")
    }

    pub fn user_not_found() -> Self {
        Self::new("UserNotFoundException", "User does not exist.")
    }

    fn invalid_token(message: &str) -> Self {
        Self::new("InvalidToken", format!("Invalid Token: {message}"))
    }

    pub fn reply(&self) -> Reply {
        Reply::aws_error(self.status, &self.code, &self.message)
    }
}

pub type Params = Map<String, Value>;

/// Serves one AWS call: counts it, applies the first matching fault rule, the quotas and the
/// configured latency, then the operation itself.
pub async fn handle(state: &State, op: &str, region: Option<String>, body: &[u8]) -> Outcome {
    let started = Instant::now();
    let parsed: Result<Params, _> = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(Map::new())
    } else {
        serde_json::from_slice(body)
    };
    let params = parsed.as_ref().ok();
    let pool_id = params
        .and_then(|p| p.get("UserPoolId"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut entry = LogEntry {
        t: epoch_now(),
        operation: op.to_string(),
        region: region.clone(),
        pool_id: pool_id.clone(),
        ..LogEntry::default()
    };
    if let Some(p) = params {
        entry.limit = p.get("Limit").cloned();
        entry.filter = p.get("Filter").cloned();
        entry.group = p.get("GroupName").cloned();
        entry.username = p.get("Username").cloned();
        entry.token = ["PaginationToken", "NextToken"].iter().any(|k| {
            p.get(*k)
                .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        });
    }
    let rule = lock(&state.stats).begin(op, pool_id.as_deref());
    let region = region.unwrap_or_else(|| "us-east-1".to_string());

    let outcome = 'answer: {
        if let Some(rule) = &rule {
            entry.fault = Some(rule.kind.clone());
            if rule.kind == "delay" {
                let ms = rule.delay_ms.unwrap_or(0.0);
                tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)).await;
            } else {
                state.pause().await;
                break 'answer fault(state, rule, op, pool_id.as_deref(), &region);
            }
        }
        if let Err(over) = state.quotas.admit(op, &region, pool_id.as_deref()) {
            lock(&state.stats).throttled(op);
            entry.throttled = true;
            state.pause().await;
            let why = if over.per_pool {
                format!("Rate exceeded ({op}: 5 requests per second per user pool)")
            } else {
                format!("Rate exceeded ({} quota)", over.category.name())
            };
            break 'answer Outcome::Reply(Reply::aws_error(400, "TooManyRequestsException", &why));
        }
        state.pause().await;
        let result = match parsed {
            Ok(params) => dispatch(state, op, &region, &params),
            Err(e) => Err(AwsError::new(
                "SerializationException",
                format!("the request body is not a JSON object: {e}"),
            )),
        };
        Outcome::Reply(match result {
            Ok(body) => Reply::aws_ok(body),
            Err(err) => err.reply(),
        })
    };

    entry.status = match &outcome {
        Outcome::Reply(r) => r.status,
        Outcome::Reset => 0,
    };
    entry.ms = started.elapsed().as_secs_f64() * 1000.0;
    lock(&state.stats).end(entry);
    outcome
}

/// The answer a fault rule asks for, formatted exactly as `cognito_emulator.py` formats it.
fn fault(
    state: &State,
    rule: &FaultRule,
    op: &str,
    pool_id: Option<&str>,
    region: &str,
) -> Outcome {
    let msg = |default: &str| rule.message.clone().unwrap_or_else(|| default.to_string());
    let reply = match rule.kind.as_str() {
        "throttle" => Reply::aws_error(400, "TooManyRequestsException", &msg("Too many requests")),
        "internal" => {
            Reply::aws_error(500, "InternalErrorException", &msg("Internal server error"))
        }
        "not_authorized" => Reply::aws_error(
            400,
            "NotAuthorizedException",
            &msg("The security token included in the request is invalid."),
        ),
        "access_denied" => {
            let account = &state.account;
            let resource = match pool_id {
                Some(p) => format!("arn:aws:cognito-idp:{region}:{account}:userpool/{p}"),
                None => "*".to_string(),
            };
            let default = format!(
                "User: arn:aws:iam::{account}:user/baton-test is not authorized to perform: \
                 cognito-idp:{op} on resource: {resource} because no identity-based policy \
                 allows the cognito-idp:{op} action"
            );
            Reply::aws_error(400, "AccessDeniedException", &msg(&default))
        }
        "error" => {
            let code = rule.error_type.clone().unwrap_or_default();
            Reply::aws_error(rule.status.unwrap_or(400), &code, &msg(&code))
        }
        "unavailable" => Reply::plain(503, msg("Service Unavailable")),
        _ => return Outcome::Reset,
    };
    Outcome::Reply(reply)
}

fn dispatch(state: &State, op: &str, region: &str, p: &Params) -> Result<String, AwsError> {
    match op {
        "DescribeUserPool" => describe_user_pool(state, region, p),
        "ListUsers" => list_users(state, region, p),
        "ListGroups" => list_groups(state, region, p),
        "ListUsersInGroup" => list_users_in_group(state, region, p),
        "GetGroup" => get_group(state, region, p),
        "AdminGetUser" => admin_get_user(state, region, p),
        "AdminListGroupsForUser" => admin_list_groups_for_user(state, region, p),
        "AdminAddUserToGroup" => membership(state, region, p, true),
        "AdminRemoveUserFromGroup" => membership(state, region, p, false),
        "AdminCreateUser" => admin_create_user(state, region, p),
        "AdminDeleteUser" => admin_delete_user(state, region, p),
        "AdminEnableUser" => set_enabled(state, region, p, true),
        "AdminDisableUser" => set_enabled(state, region, p, false),
        "AdminSetUserPassword" => admin_set_user_password(state, region, p),
        "AdminUpdateUserAttributes" => admin_update_user_attributes(state, region, p),
        "AdminListUserAuthEvents" => {
            super::auth_events::admin_list_user_auth_events(state, region, p)
        }
        _ => Err(AwsError::new(
            "UnknownOperationException",
            format!("the fast emulator does not implement {op}"),
        )),
    }
}

// ---------------------------------------------------------------------- parameters

fn req_str<'a>(p: &'a Params, key: &str) -> Result<&'a str, AwsError> {
    match p.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(AwsError::invalid(format!(
            "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have length greater than or equal to 1",
            lower_first(key)
        ))),
        Some(_) => Err(AwsError::new(
            "SerializationException",
            format!("{key} must be a string"),
        )),
        None => Err(AwsError::invalid(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(key)
        ))),
    }
}

fn opt_str<'a>(p: &'a Params, key: &str) -> Result<Option<&'a str>, AwsError> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AwsError::new(
            "SerializationException",
            format!("{key} must be a string"),
        )),
    }
}

fn lower_first(key: &str) -> String {
    let mut out = key.to_string();
    if let Some(first) = out.get_mut(..1) {
        first.make_ascii_lowercase();
    }
    out
}

/// `Limit`: absent or 0 means 60; above 60 is refused as AWS refuses it (moto accepts it).
fn limit(p: &Params) -> Result<usize, AwsError> {
    match p.get("Limit") {
        None | Some(Value::Null) => Ok(60),
        Some(v) => match v.as_i64() {
            Some(0) => Ok(60),
            Some(n @ 1..=60) => Ok(n as usize),
            Some(n) if n > 60 => Err(AwsError::invalid(format!(
                "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 60"
            ))),
            Some(n) => Err(AwsError::invalid(format!(
                "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 0"
            ))),
            None => Err(AwsError::new(
                "SerializationException",
                "Limit must be an integer",
            )),
        },
    }
}

/// The pool a request's `UserPoolId` names, in the request's region.
pub fn pool(state: &State, region: &str, p: &Params) -> Result<Arc<RwLock<Pool>>, AwsError> {
    let id = req_str(p, "UserPoolId")?;
    let found = read(&state.pools).get(id).cloned();
    match found {
        Some(pool) if read(&pool).region == region => Ok(pool),
        _ => Err(AwsError::pool_not_found(id)),
    }
}

// ---------------------------------------------------------------------- page tokens

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A token: the cursor plus a check of the request it belongs to (pool, operation and the
/// filter, group or user), so a token replayed with other parameters is refused as moto does.
fn encode_token(pool: &str, op: &str, scope: &str, cursor: u64) -> String {
    let check = mix(
        fnv(pool.as_bytes()),
        mix(fnv(op.as_bytes()), fnv(scope.as_bytes())),
    );
    URL_SAFE_NO_PAD.encode(format!("{cursor}.{:08x}", check as u32))
}

fn decode_token(token: Option<&str>, pool: &str, op: &str, scope: &str) -> Result<u64, AwsError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let text = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .ok_or_else(|| AwsError::invalid_token("Invalid token"))?;
    let (cursor, check) = text
        .split_once('.')
        .ok_or_else(|| AwsError::invalid_token("Invalid token"))?;
    let cursor: u64 = cursor
        .parse()
        .map_err(|_| AwsError::invalid_token("Invalid token"))?;
    let expected = encode_token(pool, op, scope, cursor);
    let given = URL_SAFE_NO_PAD.encode(format!("{cursor}.{check}"));
    if expected != given {
        return Err(AwsError::invalid_token(
            "Input inconsistent with page token",
        ));
    }
    Ok(cursor)
}

// ---------------------------------------------------------------------- JSON output

/// Appends `s` as a JSON string literal.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub fn push_num(out: &mut String, value: f64) {
    use std::fmt::Write as _;
    let _ = write!(out, "{value}");
}

/// A user as ListUsers / ListUsersInGroup / AdminCreateUser answer it, or AdminGetUser's shape.
fn push_user(out: &mut String, u: &UserRec, get_user: bool, only: Option<&[String]>) {
    out.push_str("{\"Username\":");
    push_json_str(out, &u.username);
    out.push_str(if get_user {
        ",\"UserAttributes\":["
    } else {
        ",\"Attributes\":["
    });
    let mut first = true;
    for (name, value) in &u.attrs {
        if only.is_some_and(|names| !names.iter().any(|n| n == name)) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str("{\"Name\":");
        push_json_str(out, name);
        out.push_str(",\"Value\":");
        push_json_str(out, value);
        out.push('}');
    }
    out.push_str("],\"UserCreateDate\":");
    push_num(out, u.created);
    out.push_str(",\"UserLastModifiedDate\":");
    push_num(out, u.modified);
    out.push_str(if u.enabled {
        ",\"Enabled\":true"
    } else {
        ",\"Enabled\":false"
    });
    out.push_str(",\"UserStatus\":");
    push_json_str(out, &u.status);
    out.push_str(",\"MFAOptions\":[]");
    if get_user {
        out.push_str(",\"PreferredMfaSetting\":\"\",\"UserMFASettingList\":[]");
    }
    out.push('}');
}

fn push_users(out: &mut String, users: &[UserRec], only: Option<&[String]>) {
    out.push_str("{\"Users\":[");
    for (i, u) in users.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_user(out, u, false, only);
    }
    out.push(']');
}

fn push_group(out: &mut String, g: &GroupRec, pool_id: &str) {
    out.push_str("{\"GroupName\":");
    push_json_str(out, &g.name);
    out.push_str(",\"UserPoolId\":");
    push_json_str(out, pool_id);
    out.push_str(",\"Description\":");
    push_json_str(out, &g.description);
    if let Some(role) = &g.role_arn {
        out.push_str(",\"RoleArn\":");
        push_json_str(out, role);
    }
    if let Some(prec) = g.precedence {
        out.push_str(&format!(",\"Precedence\":{prec}"));
    }
    out.push_str(",\"LastModifiedDate\":");
    push_num(out, g.modified);
    out.push_str(",\"CreationDate\":");
    push_num(out, g.created);
    out.push('}');
}

fn push_groups(out: &mut String, groups: &[&GroupRec], pool_id: &str) {
    out.push_str("{\"Groups\":[");
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_group(out, g, pool_id);
    }
    out.push(']');
}

fn push_token(out: &mut String, key: &str, token: Option<String>) {
    if let Some(t) = token {
        out.push_str(&format!(",\"{key}\":"));
        push_json_str(out, &t);
    }
}

// ---------------------------------------------------------------------- operations

fn describe_user_pool(state: &State, region: &str, p: &Params) -> Result<String, AwsError> {
    let pool = pool(state, region, p)?;
    let pool = read(&pool);
    let mut up = pool.config.clone();
    up.insert("Id".into(), json!(pool.id));
    up.insert("Name".into(), json!(pool.name));
    up.insert("Arn".into(), json!(pool.arn));
    up.insert("CreationDate".into(), json!(pool.created));
    up.insert("LastModifiedDate".into(), json!(pool.modified));
    up.insert("EstimatedNumberOfUsers".into(), json!(pool.user_count()));
    up.insert("SchemaAttributes".into(), Value::Array(pool.schema.clone()));
    Ok(json!({ "UserPool": up }).to_string())
}

fn list_users(state: &State, region: &str, p: &Params) -> Result<String, AwsError> {
    let pool = pool(state, region, p)?;
    let limit = limit(p)?;
    let filter_text = opt_str(p, "Filter")?.unwrap_or("");
    let filter = Filter::parse(filter_text).map_err(|e| AwsError::invalid(e.to_string()))?;
    let only: Option<Vec<String>> = match p.get("AttributesToGet") {
        Some(Value::Array(names)) => Some(
            names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect(),
        ),
        _ => None,
    };
    let pool = read(&pool);
    let token = opt_str(p, "PaginationToken")?;
    let cursor = decode_token(token, &pool.id, "ListUsers", filter_text)?;
    let page = pool.list_users(filter.as_ref(), cursor, limit);
    let mut out = String::with_capacity(page.items.len() * 700 + 64);
    push_users(&mut out, &page.items, only.as_deref());
    let next = page
        .next
        .map(|c| encode_token(&pool.id, "ListUsers", filter_text, c));
    push_token(&mut out, "PaginationToken", next);
    out.push('}');
    Ok(out)
}

fn list_groups(state: &State, region: &str, p: &Params) -> Result<String, AwsError> {
    let pool = pool(state, region, p)?;
    let limit = limit(p)?;
    let pool = read(&pool);
    let cursor = decode_token(opt_str(p, "NextToken")?, &pool.id, "ListGroups", "")?;
    let page = pool.list_groups(cursor, limit);
    let mut out = String::with_capacity(page.items.len() * 300 + 64);
    push_groups(&mut out, &page.items, &pool.id);
    let next = page
        .next
        .map(|c| encode_token(&pool.id, "ListGroups", "", c));
    push_token(&mut out, "NextToken", next);
    out.push('}');
    Ok(out)
}

fn list_users_in_group(state: &State, region: &str, p: &Params) -> Result<String, AwsError> {
    let pool = pool(state, region, p)?;
    let group = req_str(p, "GroupName")?;
    let limit = limit(p)?;
    let pool = read(&pool);
    let gpos = pool
        .find_group(group)
        .ok_or_else(AwsError::group_not_found)?;
    let cursor = decode_token(
        opt_str(p, "NextToken")?,
        &pool.id,
        "ListUsersInGroup",
        group,
    )?;
    let page = pool.list_members(gpos, cursor, limit);
    let mut out = String::with_capacity(page.items.len() * 700 + 64);
    push_users(&mut out, &page.items, None);
    let next = page
        .next
        .map(|c| encode_token(&pool.id, "ListUsersInGroup", group, c));
    push_token(&mut out, "NextToken", next);
    out.push('}');
    Ok(out)
}

fn get_group(state: &State, region: &str, p: &Params) -> Result<String, AwsError> {
    let pool = pool(state, region, p)?;
    let name = req_str(p, "GroupName")?;
    let pool = read(&pool);
    let group = pool
        .find_group(name)
        .and_then(|g| pool.group(g))
        .ok_or_else(AwsError::group_not_found)?;
    let mut out = String::from("{\"Group\":");
    push_group(&mut out, group, &pool.id);
    out.push('}');
    Ok(out)
}

fn admin_get_user(state: &State, region: &str, p: &Params) -> Result<String, AwsError> {
    let pool = pool(state, region, p)?;
    let name = req_str(p, "Username")?;
    let pool = read(&pool);
    let user = pool
        .find_user(name)
        .and_then(|pos| pool.user_at(pos))
        .ok_or_else(AwsError::user_not_found)?;
    let mut out = String::with_capacity(800);
    push_user(&mut out, &user, true, None);
    Ok(out)
}

fn admin_list_groups_for_user(state: &State, region: &str, p: &Params) -> Result<String, AwsError> {
    let pool = pool(state, region, p)?;
    let name = req_str(p, "Username")?;
    let limit = limit(p)?;
    let pool = read(&pool);
    let pos = pool.find_user(name).ok_or_else(AwsError::user_not_found)?;
    let cursor = decode_token(
        opt_str(p, "NextToken")?,
        &pool.id,
        "AdminListGroupsForUser",
        name,
    )?;
    let mine: Vec<u64> = pool
        .groups_of(pos)
        .into_iter()
        .filter(|g| *g >= cursor)
        .take(limit + 1)
        .collect();
    let groups: Vec<&GroupRec> = mine
        .iter()
        .take(limit)
        .filter_map(|g| pool.group(*g))
        .collect();
    let mut out = String::with_capacity(groups.len() * 300 + 64);
    push_groups(&mut out, &groups, &pool.id);
    let next = mine
        .get(limit)
        .map(|g| encode_token(&pool.id, "AdminListGroupsForUser", name, *g));
    push_token(&mut out, "NextToken", next);
    out.push('}');
    Ok(out)
}

fn membership(state: &State, region: &str, p: &Params, add: bool) -> Result<String, AwsError> {
    let pool = pool(state, region, p)?;
    let group = req_str(p, "GroupName")?;
    let name = req_str(p, "Username")?;
    let mut pool = write(&pool);
    let gpos = pool
        .find_group(group)
        .ok_or_else(AwsError::group_not_found)?;
    let pos = pool.find_user(name).ok_or_else(AwsError::user_not_found)?;
    if add {
        pool.add_member(gpos, pos);
    } else {
        pool.remove_member(gpos, pos);
    }
    Ok("{}".into())
}

/// `UserAttributes` as (name, value) pairs, later duplicates updating earlier ones in place.
fn attribute_list(p: &Params, key: &str) -> Result<Vec<(String, String)>, AwsError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let Some(list) = p.get(key).filter(|v| !v.is_null()) else {
        return Ok(out);
    };
    let Some(items) = list.as_array() else {
        return Err(AwsError::new(
            "SerializationException",
            format!("{key} must be a list"),
        ));
    };
    for item in items {
        let name = item.get("Name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            return Err(AwsError::invalid(format!(
                "1 validation error detected: Value null at '{}.member.name' failed to satisfy constraint: Member must not be null",
                lower_first(key)
            )));
        }
        let value = item.get("Value").and_then(Value::as_str).unwrap_or("");
        match out.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.to_string(),
            None => out.push((name.to_string(), value.to_string())),
        }
    }
    Ok(out)
}

fn admin_create_user(state: &State, region: &str, p: &Params) -> Result<String, AwsError> {
    let pool = pool(state, region, p)?;
    let name = req_str(p, "Username")?;
    let mut attrs = attribute_list(p, "UserAttributes")?;
    let temporary = opt_str(p, "TemporaryPassword")?.map(str::to_string);
    let resend = opt_str(p, "MessageAction")? == Some("RESEND");
    let mut pool = write(&pool);
    if let Some(pos) = pool.find_user(name) {
        if resend {
            let user = pool.user_at(pos).ok_or_else(AwsError::user_not_found)?;
            let mut out = String::from("{\"User\":");
            push_user(&mut out, &user, false, None);
            out.push('}');
            return Ok(out);
        }
        return Err(AwsError::new(
            "UsernameExistsException",
            "User account already exists",
        ));
    }
    if resend {
        return Err(AwsError::user_not_found());
    }
    // Cognito assigns the sub; moto keeps a given `sub` entry's position but not its value.
    let sub = loop {
        let candidate = random_uuid();
        if !pool.sub_taken(&candidate) {
            break candidate;
        }
    };
    match attrs.iter_mut().find(|(n, _)| n == "sub") {
        Some(slot) => slot.1 = sub,
        None => attrs.push(("sub".into(), sub)),
    }
    let now = epoch_now();
    let user = UserRec {
        username: name.to_string(),
        attrs,
        enabled: true,
        status: "FORCE_CHANGE_PASSWORD".into(),
        created: now,
        modified: now,
        password: temporary,
    };
    let mut out = String::from("{\"User\":");
    push_user(&mut out, &user, false, None);
    out.push('}');
    pool.insert_user(user);
    Ok(out)
}

fn admin_delete_user(state: &State, region: &str, p: &Params) -> Result<String, AwsError> {
    let pool = pool(state, region, p)?;
    let name = req_str(p, "Username")?;
    let mut pool = write(&pool);
    let pos = pool.find_user(name).ok_or_else(AwsError::user_not_found)?;
    pool.delete_user(pos);
    Ok("{}".into())
}

/// AdminEnableUser / AdminDisableUser; like moto, the modification date stays.
fn set_enabled(state: &State, region: &str, p: &Params, enabled: bool) -> Result<String, AwsError> {
    let pool = pool(state, region, p)?;
    let name = req_str(p, "Username")?;
    let mut pool = write(&pool);
    let pos = pool.find_user(name).ok_or_else(AwsError::user_not_found)?;
    let already = pool.user_at(pos).is_some_and(|u| u.enabled == enabled);
    if !already && let Some(user) = pool.user_mut(pos) {
        user.enabled = enabled;
    }
    Ok("{}".into())
}

/// The pool's password policy, checked as moto checks it.
fn check_password(pool: &Pool, password: &str) -> Result<(), AwsError> {
    let policy = pool
        .config
        .get("Policies")
        .and_then(|v| v.get("PasswordPolicy"))
        .cloned()
        .unwrap_or_else(|| json!({}));
    let flag = |key: &str| policy.get(key).and_then(Value::as_bool).unwrap_or(true);
    let minimum = policy
        .get("MinimumLength")
        .and_then(Value::as_u64)
        .unwrap_or(5) as usize;
    let maximum = policy
        .get("MaximumLength")
        .and_then(Value::as_u64)
        .unwrap_or(99) as usize;
    let len = password.chars().count();
    const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ";
    let ok = (minimum..maximum).contains(&len)
        && (!flag("RequireNumbers") || password.chars().any(|c| c.is_ascii_digit()))
        && (!flag("RequireSymbols") || password.chars().any(|c| SYMBOLS.contains(c)))
        && (!flag("RequireUppercase") || password.chars().any(|c| c.is_ascii_uppercase()))
        && (!flag("RequireLowercase") || password.chars().any(|c| c.is_ascii_lowercase()));
    if ok {
        Ok(())
    } else {
        Err(AwsError::new(
            "InvalidPasswordException",
            "The provided password does not confirm to the configured password policy",
        ))
    }
}

fn admin_set_user_password(state: &State, region: &str, p: &Params) -> Result<String, AwsError> {
    let pool = pool(state, region, p)?;
    let name = req_str(p, "Username")?;
    let password = req_str(p, "Password")?;
    let permanent = p.get("Permanent").and_then(Value::as_bool).unwrap_or(false);
    let mut pool = write(&pool);
    let pos = pool.find_user(name).ok_or_else(AwsError::user_not_found)?;
    check_password(&pool, password)?;
    if let Some(user) = pool.user_mut(pos) {
        user.password = Some(password.to_string());
        user.status = if permanent {
            "CONFIRMED"
        } else {
            "FORCE_CHANGE_PASSWORD"
        }
        .into();
    }
    Ok("{}".into())
}

fn admin_update_user_attributes(
    state: &State,
    region: &str,
    p: &Params,
) -> Result<String, AwsError> {
    let pool = pool(state, region, p)?;
    let name = req_str(p, "Username")?;
    let attrs = attribute_list(p, "UserAttributes")?;
    if attrs.iter().any(|(n, _)| n == "sub") {
        return Err(AwsError::invalid(
            "Invalid user attributes: sub: Attribute cannot be updated.",
        ));
    }
    let mut pool = write(&pool);
    let pos = pool.find_user(name).ok_or_else(AwsError::user_not_found)?;
    if let Some(user) = pool.user_mut(pos) {
        user.update_attrs(&attrs);
        user.modified = epoch_now();
    }
    Ok("{}".into())
}

/// A random version-4 UUID.
pub fn random_uuid() -> String {
    super::synth::uuid(rand::random(), rand::random())
}
