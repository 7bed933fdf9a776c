//! The user-activity logs a Plus pool with threat protection exports to CloudWatch Logs
//! (`SetLogDeliveryConfiguration`, event source `userAuthEvents`, level INFO): which log group,
//! which of its records are this pool's successful sign-ins, and what each says. Read with
//! FilterLogEvents, whose cost grows with the sign-ins, not with the users.
//!
//! A record is JSON (the Cognito developer guide, "Exporting user activity logs"):
//! `{"eventTimestamp": "<ms>", "eventSource": "USER_ACTIVITY", "message": {"eventId", "eventType",
//! "userName", "userSub", "eventResponse", ...}, "logSourceId": {"userPoolId"}}`. AWS says the
//! schema may change and fields may be null: a record without what a sign-in needs is skipped.

use std::fmt;

use serde_json::Value;

/// The log group named by `--sign-in-log-group`: a name, or the ARN the pool's log delivery
/// configuration shows (`arn:aws:logs:REGION:ACCOUNT:log-group:NAME`, with or without `:*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogGroup {
    pub name: String,
}

/// CloudWatch Logs' limit on a log group name.
const MAX_NAME_CHARS: usize = 512;

impl LogGroup {
    /// A log group name or ARN as CloudWatch Logs accepts it; an ARN must be in `region`, where
    /// the connector's calls go.
    pub fn parse(text: &str, region: &str) -> Result<Self, String> {
        let text = text.trim();
        let name = match text.strip_prefix("arn:") {
            Some(arn) => name_in_arn(arn, region)?,
            None => text,
        };
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._-/#".contains(c);
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || !name.chars().all(allowed) {
            return Err(format!(
                "{text:?} is not a log group name (1 to {MAX_NAME_CHARS} of a-z, A-Z, 0-9, '.', '_', '-', '/', '#') or log group ARN"
            ));
        }
        Ok(Self {
            name: name.to_string(),
        })
    }
}

/// The name in `PARTITION:logs:REGION:ACCOUNT:log-group:NAME[:*]` (an ARN without `arn:`).
fn name_in_arn<'a>(arn: &'a str, region: &str) -> Result<&'a str, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_partition, service, arn_region, _account, resource, rest] = parts[..] else {
        return Err(format!("arn:{arn} is not a log group ARN"));
    };
    if service != "logs" || resource != "log-group" {
        return Err(format!("arn:{arn} is not a CloudWatch Logs log group ARN"));
    }
    if arn_region != region {
        return Err(format!(
            "the log group is in {arn_region:?}, but the connector calls AWS in {region:?}"
        ));
    }
    Ok(rest.strip_suffix(":*").unwrap_or(rest))
}

impl fmt::Display for LogGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// The FilterLogEvents pattern that keeps this pool's successful sign-ins, so that only they
/// are read (and paid for).
pub fn sign_in_pattern(pool_id: &str) -> String {
    format!(
        r#"{{ ($.logSourceId.userPoolId = "{pool_id}") && ($.message.eventType = "SignIn") && ($.message.eventResponse = "Pass") }}"#
    )
}

/// One successful sign-in as the log records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedSignIn {
    /// The event's id, the same AdminListUserAuthEvents reports.
    pub id: String,
    pub username: String,
    /// When it happened (the record's `eventTimestamp`), in milliseconds since the epoch.
    pub at_ms: i64,
    /// The log event's own timestamp (ms), which FilterLogEvents' start time filters on: where
    /// a reader is in the log is kept in this time, never in `at_ms`.
    pub logged_ms: i64,
}

/// A page of FilterLogEvents as sign-ins.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogPage {
    pub sign_ins: Vec<LoggedSignIn>,
    pub next_token: Option<String>,
}

/// The sign-in a log event holds, if it is one of `pool_id`'s successful sign-ins with an id, a
/// user and a log timestamp (its time is the record's own `eventTimestamp`, else the log's).
pub fn sign_in_of(pool_id: &str, logged_ms: Option<i64>, message: &str) -> Option<LoggedSignIn> {
    let logged_ms = logged_ms?;
    let record: Value = serde_json::from_str(message).ok()?;
    let text = |value: &Value| value.as_str().map(str::to_string);
    let event = &record["message"];
    let of_pool = record["logSourceId"]["userPoolId"].as_str() == Some(pool_id)
        || event["userPoolId"].as_str() == Some(pool_id);
    if !of_pool || event["eventType"] != "SignIn" || event["eventResponse"] != "Pass" {
        return None;
    }
    let at_ms = match &record["eventTimestamp"] {
        Value::String(ms) => ms.parse().ok(),
        Value::Number(ms) => ms.as_i64(),
        _ => None,
    }
    .unwrap_or(logged_ms);
    Some(LoggedSignIn {
        id: text(&event["eventId"]).filter(|id| !id.is_empty())?,
        username: text(&event["userName"]).filter(|name| !name.is_empty())?,
        at_ms,
        logged_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pool: &str, kind: &str, response: &str) -> String {
        serde_json::json!({
            "eventTimestamp": "1687297330677",
            "eventSource": "USER_ACTIVITY",
            "logLevel": "INFO",
            "message": {"version": "1", "eventId": "e-1", "eventType": kind, "userSub": "s",
                        "userName": "ann", "userPoolId": pool, "eventResponse": response},
            "logSourceId": {"userPoolId": pool},
        })
        .to_string()
    }

    #[test]
    fn only_this_pools_successful_sign_ins_are_read() {
        let ok = sign_in_of(
            "us-east-1_A",
            Some(5),
            &record("us-east-1_A", "SignIn", "Pass"),
        );
        assert_eq!(
            ok,
            Some(LoggedSignIn {
                id: "e-1".into(),
                username: "ann".into(),
                at_ms: 1_687_297_330_677,
                logged_ms: 5,
            })
        );
        let ok = record("us-east-1_A", "SignIn", "Pass");
        assert_eq!(
            sign_in_of("us-east-1_A", None, &ok),
            None,
            "no log time, no place in the log"
        );
        for (pool, kind, response) in [
            ("us-east-1_B", "SignIn", "Pass"),
            ("us-east-1_A", "SignIn", "Fail"),
            ("us-east-1_A", "SignUp", "Pass"),
        ] {
            assert_eq!(
                sign_in_of("us-east-1_A", None, &record(pool, kind, response)),
                None
            );
        }
        assert_eq!(sign_in_of("us-east-1_A", None, "not json"), None);
        assert_eq!(
            sign_in_of("us-east-1_A", None, r#"{"message": null}"#),
            None
        );
    }

    #[test]
    fn log_groups_are_names_or_arns_in_the_connectors_region() {
        let name = |text: &str| LogGroup::parse(text, "us-east-1").map(|g| g.name);
        assert_eq!(
            name("/aws/cognito/sign-ins").unwrap(),
            "/aws/cognito/sign-ins"
        );
        assert_eq!(
            name("arn:aws:logs:us-east-1:123456789012:log-group:pool-logs:*").unwrap(),
            "pool-logs"
        );
        assert_eq!(
            name("arn:aws:logs:us-east-1:123456789012:log-group:pool-logs").unwrap(),
            "pool-logs"
        );
        assert!(
            name("arn:aws:logs:eu-west-1:123456789012:log-group:x")
                .unwrap_err()
                .contains("eu-west-1")
        );
        assert!(name("arn:aws:s3:::bucket").is_err());
        assert!(name("arn:aws:logs").is_err());
        assert!(name("").is_err());
        assert!(name("has space").is_err());
        assert!(name(&"a".repeat(513)).is_err());
    }

    #[test]
    fn the_pattern_names_the_pool_and_passing_sign_ins() {
        let pattern = sign_in_pattern("us-east-1_A");
        assert!(pattern.starts_with('{') && pattern.ends_with('}'));
        assert!(pattern.contains(r#"$.logSourceId.userPoolId = "us-east-1_A""#));
        assert!(pattern.contains(r#"$.message.eventResponse = "Pass""#));
    }
}
