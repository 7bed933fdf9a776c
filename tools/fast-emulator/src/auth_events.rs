//! Feature plans, threat protection and users' sign-in events (AdminListUserAuthEvents), with
//! the request checks, errors and answer shapes of `tests/emulator/auth_events.py` (see its
//! README, "Threat protection and sign-in events").
//!
//! Every pool reports a `UserPoolTier` (`ESSENTIALS` unless its config names one). A pool has
//! threat protection when its `UserPoolAddOns.AdvancedSecurityMode` is `AUDIT` or `ENFORCED`:
//! `--sign-ins` synthetic pools (PLUS, AUDIT) and control-API pools whose `config` says so.
//! Sign-in events are never stored: a synthetic user's history is made up from (seed, index)
//! on every call ([`crate::synth::Synth::sign_ins`]), so a call costs O(1) on any pool size;
//! explicit users have none.

use serde_json::{Map, Value, json};

use super::aws::{self, AwsError, Params, push_json_str, push_num};
use super::synth::SignIn;
use super::{State, read};

const TIERS: &[&str] = &["LITE", "ESSENTIALS", "PLUS"];
/// CreateUserPool: "UserPoolTier ... Defaults to ESSENTIALS".
pub const DEFAULT_TIER: &str = "ESSENTIALS";
const SECURITY_MODES: &[&str] = &["OFF", "AUDIT", "ENFORCED"];
/// The modes in which Cognito logs sign-in events.
const PROTECTED_MODES: &[&str] = &["AUDIT", "ENFORCED"];

/// AdminListUserAuthEvents: MaxResults 0..60, 0 or absent meaning 60.
const MAX_RESULTS: i64 = 60;

/// The IP address of every synthetic sign-in (TEST-NET-1, RFC 5737), as the Python emulator's
/// seeded events.
const SIGN_IN_IP: &str = "192.0.2.1";

const POOL_ID_PATTERN: &str = r"[\w-]+_[0-9a-zA-Z]+";
const USERNAME_PATTERN: &str = r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+";
const TOKEN_PATTERN: &str = r"[\S]+";

/// The config of a `--sign-ins` synthetic pool: the Plus plan with threat protection in audit
/// mode, the least a pool needs for Cognito to log sign-in events.
pub fn sign_ins_config() -> Map<String, Value> {
    let mut config = Map::new();
    config.insert("UserPoolTier".into(), json!("PLUS"));
    config.insert(
        "UserPoolAddOns".into(),
        json!({"AdvancedSecurityMode": "AUDIT"}),
    );
    config
}

fn validation_error(errors: &[String]) -> AwsError {
    let n = errors.len();
    AwsError::new(
        "InvalidParameterException",
        format!(
            "{n} validation error{} detected: {}",
            if n > 1 { "s" } else { "" },
            errors.join("; ")
        ),
    )
}

/// A member of the wrong JSON type (AWS's wording for Cognito is not known; the Python
/// emulator's).
fn wrong_type(key: &str, expected: &str) -> AwsError {
    AwsError::new(
        "SerializationException",
        format!("'{key}' must be {expected}"),
    )
}

fn enum_error(value: &str, member: &str, allowed: &[&str]) -> String {
    format!(
        "Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        allowed.join(", ")
    )
}

// ---------------------------------------------------------------------- feature plan

/// Checks a control-API pool's `config` as CreateUserPool checks its parameters: the enums
/// first (InvalidParameterException listing every violation), then the plan: threat
/// protection (AUDIT or ENFORCED) needs `PLUS`, and an omitted tier is `ESSENTIALS`
/// (FeatureUnavailableInTierException).
pub fn check_pool_config(config: &Map<String, Value>) -> Result<(), AwsError> {
    let mut errors = Vec::new();
    let mut mode = "OFF";
    match config.get("UserPoolAddOns") {
        None | Some(Value::Null) => {}
        Some(Value::Object(addons)) => match addons.get("AdvancedSecurityMode") {
            None | Some(Value::Null) => {
                // Required in UserPoolAddOnsType.
                mode = "";
                errors.push(
                    "Value null at 'userPoolAddOns.advancedSecurityMode' failed to satisfy \
                     constraint: Member must not be null"
                        .to_string(),
                );
            }
            Some(Value::String(m)) => {
                if !SECURITY_MODES.contains(&m.as_str()) {
                    errors.push(enum_error(
                        m,
                        "userPoolAddOns.advancedSecurityMode",
                        SECURITY_MODES,
                    ));
                }
                mode = m;
            }
            Some(_) => {
                return Err(wrong_type(
                    "UserPoolAddOns.AdvancedSecurityMode",
                    "a string",
                ));
            }
        },
        Some(_) => return Err(wrong_type("UserPoolAddOns", "an object")),
    }
    let tier = match config.get("UserPoolTier") {
        None | Some(Value::Null) => DEFAULT_TIER,
        Some(Value::String(t)) => {
            if !TIERS.contains(&t.as_str()) {
                errors.push(enum_error(t, "userPoolTier", TIERS));
            }
            t
        }
        Some(_) => return Err(wrong_type("UserPoolTier", "a string")),
    };
    if !errors.is_empty() {
        return Err(validation_error(&errors));
    }
    if PROTECTED_MODES.contains(&mode) && tier != "PLUS" {
        // The exception is AWS's; its message is not checked against AWS.
        return Err(AwsError::new(
            "FeatureUnavailableInTierException",
            "Threat protection requires the Plus feature plan",
        ));
    }
    Ok(())
}

/// Whether a pool's DescribeUserPool config has threat protection on (AUDIT or ENFORCED).
pub fn threat_protection_on(config: &Map<String, Value>) -> bool {
    config
        .get("UserPoolAddOns")
        .and_then(|a| a.get("AdvancedSecurityMode"))
        .and_then(Value::as_str)
        .is_some_and(|m| PROTECTED_MODES.contains(&m))
}

// ---------------------------------------------------------------------- request

/// `[\w-]+_[0-9a-zA-Z]+` (ASCII `\w`), matched whole.
fn pool_id_ok(id: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    match id.rsplit_once('_') {
        Some((head, tail)) => {
            !head.is_empty()
                && head.chars().all(word)
                && !tail.is_empty()
                && tail.chars().all(|c| c.is_ascii_alphanumeric())
        }
        None => false,
    }
}

/// Whether `c` is in Unicode's general categories L, M, S, N or P, that is, not a separator
/// (Z) nor "other" (C). std has no category tables: separators and controls are
/// `is_whitespace` / `is_control`, the format characters (Cf), private use (Co) and
/// noncharacters are listed; unassigned code points (the rest of Cn) pass.
fn username_char_ok(c: char) -> bool {
    const FORMAT: &[(u32, u32)] = &[
        (0x00AD, 0x00AD),
        (0x0600, 0x0605),
        (0x061C, 0x061C),
        (0x06DD, 0x06DD),
        (0x070F, 0x070F),
        (0x0890, 0x0891),
        (0x08E2, 0x08E2),
        (0x180E, 0x180E),
        (0x200B, 0x200F),
        (0x202A, 0x202E),
        (0x2060, 0x2064),
        (0x2066, 0x206F),
        (0xFEFF, 0xFEFF),
        (0xFFF9, 0xFFFB),
        (0x110BD, 0x110BD),
        (0x110CD, 0x110CD),
        (0x13430, 0x1343F),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0001, 0xE0001),
        (0xE0020, 0xE007F),
    ];
    const PRIVATE_USE: &[(u32, u32)] =
        &[(0xE000, 0xF8FF), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD)];
    let cp = c as u32;
    let listed = |ranges: &[(u32, u32)]| ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&cp));
    let noncharacter = (0xFDD0..=0xFDEF).contains(&cp) || cp & 0xFFFE == 0xFFFE;
    !(c.is_whitespace() || c.is_control() || listed(FORMAT) || listed(PRIVATE_USE) || noncharacter)
}

fn username_ok(name: &str) -> bool {
    !name.is_empty() && name.chars().all(username_char_ok)
}

/// `[\S]+` (ASCII `\s`: space, tab, newline, return, vertical tab, form feed).
fn token_ok(token: &str) -> bool {
    !token.is_empty() && !token.contains([' ', '\t', '\n', '\r', '\x0b', '\x0c'])
}

/// One string member checked against the API reference's constraints, one message per
/// violation (pattern, then length). A sensitive member (Username) is not echoed.
struct StringMember<'k> {
    key: &'k str,
    pattern: &'static str,
    matches: fn(&str) -> bool,
    max_len: usize,
    required: bool,
    sensitive: bool,
}

impl StringMember<'_> {
    fn check<'p>(
        &self,
        p: &'p Params,
        errors: &mut Vec<String>,
    ) -> Result<Option<&'p str>, AwsError> {
        let mut member = self.key.to_string();
        if let Some(first) = member.get_mut(..1) {
            first.make_ascii_lowercase();
        }
        let val = match p.get(self.key) {
            None | Some(Value::Null) => {
                if self.required {
                    errors.push(format!(
                        "Value null at '{member}' failed to satisfy constraint: Member must not be null"
                    ));
                }
                return Ok(None);
            }
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(wrong_type(self.key, "a string")),
        };
        let shown = if self.sensitive {
            format!("Value at '{member}'")
        } else {
            format!("Value '{val}' at '{member}'")
        };
        if !(self.matches)(val) {
            errors.push(format!(
                "{shown} failed to satisfy constraint: Member must satisfy regular expression pattern: {}",
                self.pattern
            ));
        }
        if val.is_empty() {
            errors.push(format!(
                "{shown} failed to satisfy constraint: Member must have length greater than or equal to 1"
            ));
        }
        if val.chars().count() > self.max_len {
            errors.push(format!(
                "{shown} failed to satisfy constraint: Member must have length less than or equal to {}",
                self.max_len
            ));
        }
        Ok(Some(val))
    }
}

/// A valid AdminListUserAuthEvents request.
struct ListRequest<'p> {
    username: &'p str,
    limit: usize,
    token: Option<&'p str>,
}

/// The request's members, checked in member order: InvalidParameterException naming every
/// violated constraint, or SerializationException at the first member of the wrong type.
fn list_request(p: &Params) -> Result<ListRequest<'_>, AwsError> {
    let mut errors = Vec::new();
    StringMember {
        key: "UserPoolId",
        pattern: POOL_ID_PATTERN,
        matches: pool_id_ok,
        max_len: 55,
        required: true,
        sensitive: false,
    }
    .check(p, &mut errors)?;
    let username = StringMember {
        key: "Username",
        pattern: USERNAME_PATTERN,
        matches: username_ok,
        max_len: 128,
        required: true,
        sensitive: true,
    }
    .check(p, &mut errors)?;
    let limit = match p.get("MaxResults") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {
            let v = n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from))
                .unwrap_or_default();
            if v < 0 {
                errors.push(format!(
                    "Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 0"
                ));
            }
            if v > i128::from(MAX_RESULTS) {
                errors.push(format!(
                    "Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to {MAX_RESULTS}"
                ));
            }
            v.clamp(0, i128::from(MAX_RESULTS)) as usize
        }
        Some(_) => return Err(wrong_type("MaxResults", "an integer")),
    };
    let token = StringMember {
        key: "NextToken",
        pattern: TOKEN_PATTERN,
        matches: token_ok,
        max_len: 131_072,
        required: false,
        sensitive: false,
    }
    .check(p, &mut errors)?;
    if !errors.is_empty() {
        return Err(validation_error(&errors));
    }
    Ok(ListRequest {
        username: username.unwrap_or_default(),
        limit: if limit == 0 {
            MAX_RESULTS as usize
        } else {
            limit
        },
        token,
    })
}

// ---------------------------------------------------------------------- answer

/// The NextToken of a page that starts at this event, shaped like AWS's and the Python
/// emulator's: `<EventId>#<ISO 8601 date, ms, Z>`.
fn token_of(event: &SignIn) -> String {
    let date = chrono::DateTime::from_timestamp_millis(event.at_ms as i64)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default();
    format!("{}#{date}", event.event_id)
}

/// One event as AuthEventType: dates as epoch seconds (a number); no RiskLevel, feedback nor
/// device or location fields (all optional).
fn push_event(out: &mut String, event: &SignIn) {
    let (response, outcome) = if event.passed {
        ("Pass", "Success")
    } else {
        ("Fail", "Failure")
    };
    out.push_str("{\"EventId\":");
    push_json_str(out, &event.event_id);
    out.push_str(",\"EventType\":\"SignIn\",\"CreationDate\":");
    push_num(out, event.at_ms as f64 / 1000.0);
    out.push_str(",\"EventResponse\":\"");
    out.push_str(response);
    out.push_str(
        "\",\"EventRisk\":{\"RiskDecision\":\"NoRisk\",\"CompromisedCredentialsDetected\":false},\
         \"ChallengeResponses\":[{\"ChallengeName\":\"Password\",\"ChallengeResponse\":\"",
    );
    out.push_str(outcome);
    out.push_str("\"}],\"EventContextData\":{\"IpAddress\":");
    push_json_str(out, SIGN_IN_IP);
    out.push_str("}}");
}

/// AdminListUserAuthEvents. In order: the request's constraints, the pool
/// (ResourceNotFoundException), its threat protection (UserPoolAddOnNotEnabledException), the
/// user (UserNotFoundException), the page token (InvalidParameterException). O(1): a user has
/// at most two events, made up on the spot.
pub fn admin_list_user_auth_events(
    state: &State,
    region: &str,
    p: &Params,
) -> Result<String, AwsError> {
    let req = list_request(p)?;
    let pool = aws::pool(state, region, p)?;
    let pool = read(&pool);
    if !threat_protection_on(&pool.config) {
        // The exception is AWS's; its message is not checked against AWS.
        return Err(AwsError::new(
            "UserPoolAddOnNotEnabledException",
            "Threat protection is not enabled for this user pool",
        ));
    }
    let pos = pool
        .find_user(req.username)
        .ok_or_else(AwsError::user_not_found)?;
    let events = pool.sign_ins(pos);
    let start = match req.token {
        None => 0,
        // Only a token this listing handed out: it names the page's first event.
        Some(token) => events
            .iter()
            .position(|e| token_of(e) == token)
            .ok_or_else(|| AwsError::new("InvalidParameterException", "Invalid NextToken."))?,
    };
    let end = (start + req.limit).min(events.len());
    let mut out = String::with_capacity(64 + 360 * (end - start));
    out.push_str("{\"AuthEvents\":[");
    for (i, event) in events[start..end].iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_event(&mut out, event);
    }
    out.push(']');
    if let Some(next) = events.get(end) {
        out.push_str(",\"NextToken\":");
        push_json_str(&mut out, &token_of(next));
    }
    out.push('}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Mutex, RwLock};
    use std::time::Duration;

    use clap::Parser as _;

    use super::*;
    use crate::quota::{Category, Quotas};
    use crate::stats::Stats;
    use crate::{Cli, Outcome, control, lock};

    fn state(quota_scale: Option<f64>) -> State {
        State {
            pools: RwLock::new(HashMap::new()),
            stats: Mutex::new(Stats::default()),
            quotas: Quotas::new(quota_scale.unwrap_or(1.0), quota_scale.is_none()),
            latency: Duration::ZERO,
            account: "123456789012".into(),
        }
    }

    fn ctl(state: &State, method: &str, path: &str, body: Value) -> (u16, Value) {
        let segs: Vec<String> = path.split('/').map(str::to_string).collect();
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        match control::route(state, method, &segs, body.as_bytes(), &[]) {
            Ok(answer) => answer,
            Err(e) => (e.status, json!({ "error": e.message })),
        }
    }

    /// A synthetic pool of 1,000 users (seed 7) through `POST /_emulator/sample`.
    fn sample(state: &State, sign_ins: Option<bool>) -> String {
        let mut body = json!({"users": 1000, "groups": 5, "seed": 7});
        if let Some(on) = sign_ins {
            body["sign_ins"] = json!(on);
        }
        let (status, answer) = ctl(state, "POST", "sample", body);
        assert_eq!(status, 200, "{answer}");
        answer["pool_id"].as_str().unwrap_or_default().to_string()
    }

    /// An AWS call through the whole path (stats, faults, quotas): (status, `__type`, body).
    async fn call(state: &State, op: &str, params: Value) -> (u16, String, Value) {
        let body = params.to_string();
        let Outcome::Reply(reply) = aws::handle(state, op, None, body.as_bytes()).await else {
            panic!("{op}: connection reset");
        };
        let value: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        let code = reply.error_type.clone().unwrap_or_default();
        (reply.status, code, value)
    }

    async fn events(state: &State, pool: &str, username: &str, extra: Value) -> Value {
        let mut params = json!({"UserPoolId": pool, "Username": username});
        if let (Some(p), Some(more)) = (params.as_object_mut(), extra.as_object()) {
            p.extend(more.clone());
        }
        let (status, code, body) = call(state, "AdminListUserAuthEvents", params).await;
        assert_eq!((status, code.as_str()), (200, ""), "{body}");
        body
    }

    async fn error(state: &State, op: &str, params: Value) -> (String, String) {
        let (status, code, body) = call(state, op, params).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["__type"].as_str(), Some(code.as_str()));
        (
            code,
            body["message"].as_str().unwrap_or_default().to_string(),
        )
    }

    /// Username and `sub` of the first synthetic user with `n` events.
    fn user_with(state: &State, pool: &str, n: usize) -> (String, String) {
        let pools = read(&state.pools);
        let pool = read(&pools[pool]);
        let pos = (0..1000)
            .find(|i| pool.sign_ins(*i).len() == n)
            .expect("such a user");
        let user = pool.user_at(pos).expect("a user").into_owned();
        let sub = user.attr("sub").unwrap_or_default().to_string();
        (user.username, sub)
    }

    async fn describe(state: &State, id: String) -> Map<String, Value> {
        let (status, _, body) = call(state, "DescribeUserPool", json!({"UserPoolId": id})).await;
        assert_eq!(status, 200, "{body}");
        body["UserPool"].as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_flag_parses() {
        let cli = Cli::try_parse_from(["fast_emulator", "--users", "10", "--sign-ins"]);
        assert!(cli.is_ok_and(|c| c.sign_ins));
        let cli = Cli::try_parse_from(["fast_emulator", "--users", "10"]);
        assert!(cli.is_ok_and(|c| !c.sign_ins));
    }

    #[tokio::test]
    async fn describe_user_pool_reports_the_plan_and_threat_protection() {
        let st = state(None);
        let plain = sample(&st, None);
        let off = sample(&st, Some(false));
        let signed = sample(&st, Some(true));
        let (status, answer) = ctl(&st, "POST", "pools", json!({"users": []}));
        assert_eq!(status, 200);
        let seeded = answer["pool_id"].as_str().unwrap_or_default().to_string();
        let plain = describe(&st, plain).await;
        let off = describe(&st, off).await;
        let signed = describe(&st, signed).await;
        for pool in [&plain, &off, &describe(&st, seeded).await] {
            assert_eq!(pool["UserPoolTier"], json!("ESSENTIALS"));
            assert!(!pool.contains_key("UserPoolAddOns"));
        }
        assert_eq!(signed["UserPoolTier"], json!("PLUS"));
        assert_eq!(
            signed["UserPoolAddOns"],
            json!({"AdvancedSecurityMode": "AUDIT"})
        );
        // Everything else is the same as without --sign-ins.
        let strip = |mut pool: Map<String, Value>| {
            for key in [
                "Id",
                "Arn",
                "CreationDate",
                "LastModifiedDate",
                "UserPoolTier",
                "UserPoolAddOns",
            ] {
                pool.remove(key);
            }
            pool
        };
        assert_eq!(strip(plain), strip(signed));
    }

    #[tokio::test]
    async fn a_users_history_is_newest_first_deterministic_and_shaped_like_the_python_emulators() {
        let st = state(None);
        let pool = sample(&st, Some(true));
        let (two, sub) = user_with(&st, &pool, 2);
        let first = events(&st, &pool, &two, json!({})).await;
        assert_eq!(
            first,
            events(&st, &pool, &two, json!({"MaxResults": 0})).await
        );
        assert_eq!(
            first,
            events(&st, &pool, &two, json!({"MaxResults": 60})).await
        );
        // Found by sub as well, as the other Admin* calls find users.
        assert_eq!(first, events(&st, &pool, &sub, json!({})).await);
        let list = first["AuthEvents"].as_array().cloned().unwrap_or_default();
        assert_eq!(list.len(), 2, "{first}");
        assert!(first.get("NextToken").is_none());
        let (fail, pass) = (&list[0], &list[1]);
        let keys: Vec<&str> = pass
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            [
                "EventId",
                "EventType",
                "CreationDate",
                "EventResponse",
                "EventRisk",
                "ChallengeResponses",
                "EventContextData"
            ]
        );
        assert_eq!(pass["EventType"], json!("SignIn"));
        assert_eq!(pass["EventResponse"], json!("Pass"));
        assert_eq!(
            pass["ChallengeResponses"],
            json!([{"ChallengeName": "Password", "ChallengeResponse": "Success"}])
        );
        assert_eq!(
            pass["EventRisk"],
            json!({"RiskDecision": "NoRisk", "CompromisedCredentialsDetected": false})
        );
        assert_eq!(pass["EventContextData"], json!({"IpAddress": "192.0.2.1"}));
        assert_eq!(fail["EventType"], json!("SignIn"));
        assert_eq!(fail["EventResponse"], json!("Fail"));
        assert_eq!(
            fail["ChallengeResponses"],
            json!([{"ChallengeName": "Password", "ChallengeResponse": "Failure"}])
        );
        let at = |e: &Value| e["CreationDate"].as_f64().unwrap_or_default();
        assert!(at(fail) > at(pass));
        // Within 2025.
        for e in [fail, pass] {
            assert!((1_735_689_600.0..1_767_225_600.0).contains(&at(e)), "{e}");
            let id = e["EventId"].as_str().unwrap_or_default();
            assert_eq!(id.len(), 36, "{id}");
        }
        assert_ne!(fail["EventId"], pass["EventId"]);
        // The same pool made again (same seed) tells the same history.
        let again = sample(&st, Some(true));
        assert_eq!(first, events(&st, &again, &two, json!({})).await);

        let (one, _) = user_with(&st, &pool, 1);
        let answer = events(&st, &pool, &one, json!({})).await;
        let list = answer["AuthEvents"].as_array().cloned().unwrap_or_default();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["EventResponse"], json!("Pass"));
        assert_ne!(list[0]["EventId"], pass["EventId"]);
    }

    #[tokio::test]
    async fn max_results_1_pages_with_next_token() {
        let st = state(None);
        let pool = sample(&st, Some(true));
        let (two, _) = user_with(&st, &pool, 2);
        let (one, _) = user_with(&st, &pool, 1);
        let whole = events(&st, &pool, &two, json!({})).await;
        let page1 = events(&st, &pool, &two, json!({"MaxResults": 1})).await;
        assert_eq!(page1["AuthEvents"], json!([whole["AuthEvents"][0]]));
        let token = page1["NextToken"].as_str().unwrap_or_default().to_string();
        // `<EventId>#<ISO date>` of the next page's first event.
        let next_id = whole["AuthEvents"][1]["EventId"]
            .as_str()
            .unwrap_or_default();
        assert!(token.starts_with(&format!("{next_id}#2025-")), "{token}");
        assert!(token.ends_with('Z'), "{token}");
        let page2 = events(
            &st,
            &pool,
            &two,
            json!({"MaxResults": 1, "NextToken": token}),
        )
        .await;
        assert_eq!(page2, json!({"AuthEvents": [whole["AuthEvents"][1]]}));
        // A larger page from the token, too.
        let rest = events(&st, &pool, &two, json!({"NextToken": token})).await;
        assert_eq!(rest, page2);
        // A one-event user: one page, no token.
        let single = events(&st, &pool, &one, json!({"MaxResults": 1})).await;
        assert_eq!(single["AuthEvents"].as_array().map(Vec::len), Some(1));
        assert!(single.get("NextToken").is_none());
        // Another user's token, or garbage.
        for bad in [token.as_str(), "nope"] {
            let who = if bad == token { &one } else { &two };
            let params = json!({"UserPoolId": pool, "Username": who, "NextToken": bad});
            let (code, message) = error(&st, "AdminListUserAuthEvents", params).await;
            assert_eq!(
                (code.as_str(), message.as_str()),
                ("InvalidParameterException", "Invalid NextToken.")
            );
        }
    }

    #[tokio::test]
    async fn errors_in_the_python_emulators_order_and_words() {
        let st = state(None);
        let signed = sample(&st, Some(true));
        let plain = sample(&st, None);
        let op = "AdminListUserAuthEvents";
        let (two, _) = user_with(&st, &signed, 2);
        let cases = [
            (
                json!({"UserPoolId": signed, "Username": "nobody.here1000000"}),
                "UserNotFoundException",
                "User does not exist.".to_string(),
            ),
            (
                json!({"UserPoolId": plain, "Username": "nobody"}),
                "UserPoolAddOnNotEnabledException",
                "Threat protection is not enabled for this user pool".to_string(),
            ),
            (
                json!({"UserPoolId": "us-east-1_Nope0", "Username": two}),
                "ResourceNotFoundException",
                "User pool us-east-1_Nope0 does not exist.".to_string(),
            ),
            (
                json!({"UserPoolId": signed, "Username": two, "MaxResults": 61}),
                "InvalidParameterException",
                "1 validation error detected: Value '61' at 'maxResults' failed to satisfy \
                 constraint: Member must have value less than or equal to 60"
                    .to_string(),
            ),
            (
                json!({"MaxResults": -1}),
                "InvalidParameterException",
                "3 validation errors detected: Value null at 'userPoolId' failed to satisfy \
                 constraint: Member must not be null; Value null at 'username' failed to \
                 satisfy constraint: Member must not be null; Value '-1' at 'maxResults' \
                 failed to satisfy constraint: Member must have value greater than or equal \
                 to 0"
                    .to_string(),
            ),
            (
                json!({"UserPoolId": "bad pool", "Username": "a b", "NextToken": ""}),
                "InvalidParameterException",
                format!(
                    "4 validation errors detected: Value 'bad pool' at 'userPoolId' failed to \
                     satisfy constraint: Member must satisfy regular expression pattern: \
                     {POOL_ID_PATTERN}; Value at 'username' failed to satisfy constraint: \
                     Member must satisfy regular expression pattern: {USERNAME_PATTERN}; \
                     Value '' at 'nextToken' failed to satisfy constraint: Member must \
                     satisfy regular expression pattern: {TOKEN_PATTERN}; Value '' at \
                     'nextToken' failed to satisfy constraint: Member must have length \
                     greater than or equal to 1"
                ),
            ),
            (
                json!({"UserPoolId": signed, "Username": two, "MaxResults": "5"}),
                "SerializationException",
                "'MaxResults' must be an integer".to_string(),
            ),
        ];
        for (params, code, message) in cases {
            let got = error(&st, op, params.clone()).await;
            assert_eq!(got, (code.to_string(), message), "{params}");
        }
        // A pool in another region is not found.
        let body = json!({"UserPoolId": signed, "Username": two}).to_string();
        let Outcome::Reply(reply) =
            aws::handle(&st, op, Some("eu-west-1".into()), body.as_bytes()).await
        else {
            panic!("reset");
        };
        assert_eq!(
            reply.error_type.as_deref(),
            Some("ResourceNotFoundException")
        );
        // Unicode letters, symbols and punctuation are fine in a username; separators and
        // format characters are not.
        assert!(username_ok("Zoë_Ünïcode@日本語+%/#"));
        assert!(!username_ok("zero\u{200b}width") && !username_ok("tab\t") && !username_ok(""));
        assert!(
            pool_id_ok("us-east-1_AbC9") && !pool_id_ok("_Abc") && !pool_id_ok("us-east-1_a-b")
        );
    }

    #[tokio::test]
    async fn control_api_pools_get_threat_protection_from_their_config() {
        let st = state(None);
        let users = json!([{"username": "alice"}]);
        let (status, answer) = ctl(
            &st,
            "POST",
            "pools",
            json!({"users": users, "config": {"UserPoolAddOns": {"AdvancedSecurityMode": "AUDIT"}}}),
        );
        assert_eq!(
            (status, answer),
            (
                400,
                json!({"error": "config: FeatureUnavailableInTierException: Threat protection requires the Plus feature plan"})
            )
        );
        let (status, answer) = ctl(
            &st,
            "POST",
            "pools",
            json!({"config": {"UserPoolTier": "GOLD", "UserPoolAddOns": {"AdvancedSecurityMode": "LOUD"}}}),
        );
        assert_eq!(status, 400);
        assert_eq!(
            answer["error"],
            json!(
                "config: InvalidParameterException: 2 validation errors detected: Value 'LOUD' \
                 at 'userPoolAddOns.advancedSecurityMode' failed to satisfy constraint: Member \
                 must satisfy enum value set: [OFF, AUDIT, ENFORCED]; Value 'GOLD' at \
                 'userPoolTier' failed to satisfy constraint: Member must satisfy enum value \
                 set: [LITE, ESSENTIALS, PLUS]"
            )
        );
        assert!(read(&st.pools).is_empty());
        let (status, answer) = ctl(
            &st,
            "POST",
            "pools",
            json!({"users": users, "config": {"UserPoolTier": "PLUS", "UserPoolAddOns": {"AdvancedSecurityMode": "ENFORCED"}}}),
        );
        assert_eq!(status, 200);
        let id = answer["pool_id"].as_str().unwrap_or_default().to_string();
        let (_, _, described) = call(&st, "DescribeUserPool", json!({"UserPoolId": id})).await;
        assert_eq!(described["UserPool"]["UserPoolTier"], json!("PLUS"));
        // Seeded users have no events (nothing seeds any).
        let answer = events(&st, &id, "alice", json!({})).await;
        assert_eq!(answer, json!({"AuthEvents": []}));
        // Nor do users created in a --sign-ins synthetic pool.
        let synthetic = sample(&st, Some(true));
        let (status, _, _) = call(
            &st,
            "AdminCreateUser",
            json!({"UserPoolId": synthetic, "Username": "newcomer"}),
        )
        .await;
        assert_eq!(status, 200);
        let answer = events(&st, &synthetic, "newcomer", json!({})).await;
        assert_eq!(answer, json!({"AuthEvents": []}));
        // `sign_ins` must be a boolean.
        let (status, answer) = ctl(&st, "POST", "sample", json!({"sign_ins": "yes"}));
        assert_eq!(
            (status, answer),
            (400, json!({"error": "'sign_ins' must be a boolean"}))
        );
    }

    #[tokio::test]
    async fn counted_faulted_and_throttled_as_user_resource_read() {
        assert_eq!(
            Category::of("AdminListUserAuthEvents"),
            Some(Category::UserResourceRead)
        );
        // Scale 0.02: UserResourceRead is 1 call/s with a burst of 1, UserRead 2.4/s.
        let st = state(Some(0.02));
        let pool = sample(&st, Some(true));
        let (two, _) = user_with(&st, &pool, 2);
        let params = json!({"UserPoolId": pool, "Username": two});
        let (status, _, _) = call(&st, "AdminListUserAuthEvents", params.clone()).await;
        assert_eq!(status, 200);
        let (code, message) = error(&st, "AdminListUserAuthEvents", params.clone()).await;
        assert_eq!(
            (code.as_str(), message.as_str()),
            (
                "TooManyRequestsException",
                "Rate exceeded (UserResourceRead quota)"
            )
        );
        // The bucket is the category's: AdminListGroupsForUser finds it empty too, while
        // AdminGetUser (UserRead) passes.
        let (code, _) = error(&st, "AdminListGroupsForUser", params.clone()).await;
        assert_eq!(code, "TooManyRequestsException");
        let (status, _, _) = call(&st, "AdminGetUser", params.clone()).await;
        assert_eq!(status, 200);

        let (status, stats) = ctl(&st, "GET", "stats", Value::Null);
        assert_eq!(status, 200);
        assert_eq!(stats["calls"]["AdminListUserAuthEvents"], json!(2));
        assert_eq!(
            stats["throttled_by_operation"]["AdminListUserAuthEvents"],
            json!(1)
        );
        let (_, calls) = ctl(&st, "GET", "calls", Value::Null);
        assert_eq!(calls["AdminListUserAuthEvents"], json!(2));

        // Fault rules apply to it like to any operation.
        let (status, _) = ctl(
            &st,
            "POST",
            "faults",
            json!({"rules": [{"operation": "AdminListUserAuthEvents", "kind": "internal"}]}),
        );
        assert_eq!(status, 200);
        let (status, code, _) = call(&st, "AdminListUserAuthEvents", params).await;
        assert_eq!((status, code.as_str()), (500, "InternalErrorException"));
        assert_eq!(lock(&st.stats).total, 5);
    }
}
