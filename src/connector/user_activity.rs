//! What a user's record does not say: when the user last signed in, and whether they use MFA.
//!
//! Cognito keeps a sign-in history only in pools with threat protection (the Plus feature plan,
//! `AdvancedSecurityMode` AUDIT or ENFORCED); AdminListUserAuthEvents reads it, one call per
//! user (quota category UserResourceRead), and does not make the user a billable monthly active
//! user the way AdminGetUser does. Elsewhere no call is made and one log line says why. A pool
//! that refuses the call (threat protection turned off since, or IAM denies it) turns the reads
//! off for an hour, with a warning: last login is worth a call, never a failed sync.
//!
//! MFA status (`--mfa-status`) comes from the pool's `MfaConfiguration`, which DescribeUserPool
//! already reported: OFF means no user uses MFA, ON that every user must. In an OPTIONAL pool it
//! is per user: the legacy SMS MFA options a listing shows, else whether the user's latest
//! successful sign-in answered an MFA challenge (the same call as last login); without either it
//! is left unknown.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use aws_smithy_types::DateTime;
use futures_util::future::join_all;

use super::error::Result;
use crate::cognito::records::{AuthEvent, CognitoUser, PoolDescription};
use crate::cognito::{CognitoError, MAX_PAGE_SIZE, Operation, PoolClient};

/// Whether a sync reads each user's last sign-in (`--last-login`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LastLogin {
    /// Where the pool records sign-ins (Plus with threat protection), one call per user.
    #[default]
    Auto,
    Off,
}

/// What the operator asked to learn about users beyond their records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActivityOptions {
    pub last_login: LastLogin,
    /// Report MFA status (`UserTrait.mfa_status`) from the pool's MFA setting and sign-ins.
    pub mfa_status: bool,
}

/// What the sign-in history and the pool's settings add to one user's record.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Activity {
    /// The user's most recent successful sign-in.
    pub last_login: Option<DateTime>,
    /// Whether the user uses MFA, when known.
    pub mfa_enabled: Option<bool>,
}

impl Activity {
    /// What the record alone says: legacy SMS MFA options mean MFA; nothing else is known.
    pub fn of_record(user: &CognitoUser) -> Self {
        Self {
            last_login: None,
            mfa_enabled: user.mfa_enabled(),
        }
    }
}

/// The pool's `MfaConfiguration`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PoolMfa {
    Off,
    Required,
    /// OPTIONAL, or not reported: it depends on the user.
    PerUser,
}

/// What DescribeUserPool told about the pool, as far as user activity goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PoolFacts {
    /// Whether Cognito records sign-in events (threat protection in AUDIT or ENFORCED).
    records_sign_ins: bool,
    mfa: PoolMfa,
}

impl PoolFacts {
    fn of(pool: &PoolDescription) -> Self {
        let mode = pool.threat_protection.as_deref().unwrap_or("OFF");
        Self {
            records_sign_ins: matches!(mode, "AUDIT" | "ENFORCED"),
            mfa: match pool.mfa_configuration.as_deref() {
                Some("OFF") => PoolMfa::Off,
                Some("ON") => PoolMfa::Required,
                _ => PoolMfa::PerUser,
            },
        }
    }
}

/// How often a failed history read is logged: the first, then one in this many.
const MISS_LOG_EVERY: u64 = 1000;

/// How long a refusal of the history holds before it is asked again: long enough to cover a
/// sync, short enough that a fixed IAM policy or pool is read without a restart.
const REFUSAL_HOLD: Duration = Duration::from_secs(3600);

/// Reads user activity for one connector: the operator's options, what the pool offers, and
/// whether Cognito has lately refused the history.
#[derive(Debug, Default)]
pub struct UserActivity {
    options: ActivityOptions,
    facts: RwLock<Option<PoolFacts>>,
    /// When Cognito refused the history (threat protection off, or IAM denies it): no calls
    /// for [`REFUSAL_HOLD`] after.
    refused_at: Mutex<Option<Instant>>,
    /// History reads that failed otherwise (their users' activity is left unknown).
    misses: AtomicU64,
    /// Held while the pool is described for a listing that found nothing known.
    describing: tokio::sync::Mutex<()>,
}

impl UserActivity {
    pub fn new(options: ActivityOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    /// Whether anything beyond the records was asked for.
    fn wanted(&self) -> bool {
        self.options.last_login == LastLogin::Auto || self.options.mfa_status
    }

    /// Takes in what DescribeUserPool says (each sync and health check describes the pool) and,
    /// when that is news, says in one line what will be read and at what cost, or why nothing.
    pub fn learn(&self, client: &PoolClient, pool: &PoolDescription) {
        let facts = PoolFacts::of(pool);
        let Ok(mut known) = self.facts.write() else {
            return;
        };
        let news = known.replace(facts) != Some(facts);
        drop(known);
        if !news || !self.wanted() {
            return;
        }
        let tier = pool.tier.as_deref().unwrap_or("not reported");
        let mode = pool.threat_protection.as_deref().unwrap_or("OFF");
        if !facts.records_sign_ins {
            tracing::info!(
                tier,
                threat_protection = mode,
                "sign-in history is not read: Cognito records sign-ins only with threat protection (AUDIT or ENFORCED, Plus feature plan), so last login is left unknown and costs no call"
            );
            return;
        }
        if !self.reads_history(&facts) {
            return;
        }
        let rate = client.rate_of(Operation::AdminListUserAuthEvents);
        let hours = pool.estimated_users as f64 / rate / 3600.0;
        tracing::info!(
            tier,
            threat_protection = mode,
            estimated_users = pool.estimated_users,
            calls_per_second = rate,
            estimated_hours = (hours * 100.0).round() / 100.0,
            "reading each user's last sign-in: one AdminListUserAuthEvents call per user (turn it off with --last-login off)"
        );
    }

    /// Whether users' sign-in histories are read in a pool like this.
    fn reads_history(&self, facts: &PoolFacts) -> bool {
        let for_mfa = self.options.mfa_status && facts.mfa == PoolMfa::PerUser;
        facts.records_sign_ins
            && (self.options.last_login == LastLogin::Auto || for_mfa)
            && !self.lately_refused()
    }

    fn lately_refused(&self) -> bool {
        self.refused_at
            .lock()
            .is_ok_and(|at| at.is_some_and(|at| at.elapsed() < REFUSAL_HOLD))
    }

    /// Notes a refusal; whether it is news (the first since the hold began).
    fn refuse(&self) -> bool {
        let Ok(mut at) = self.refused_at.lock() else {
            return false;
        };
        let news = !at.is_some_and(|at| at.elapsed() < REFUSAL_HOLD);
        if news {
            *at = Some(Instant::now());
        }
        news
    }

    fn known_facts(&self) -> Option<PoolFacts> {
        self.facts.read().ok().and_then(|known| *known)
    }

    /// What the pool offers, described once if no sync has done it yet (a gRPC listing): the
    /// first caller describes it, concurrent ones wait for that answer.
    async fn facts(&self, client: &PoolClient) -> Result<PoolFacts> {
        if let Some(facts) = self.known_facts() {
            return Ok(facts);
        }
        let _describing = self.describing.lock().await;
        if let Some(facts) = self.known_facts() {
            return Ok(facts);
        }
        let pool = client.describe_user_pool().await?;
        self.learn(client, &pool);
        Ok(PoolFacts::of(&pool))
    }

    /// Whether listings read each user's history, as far as the pool was last described (a
    /// sync's plan asks after its Validate).
    pub fn reads_history_now(&self) -> bool {
        self.known_facts()
            .is_some_and(|facts| self.reads_history(&facts))
    }

    /// Whether the pool keeps a sign-in history (threat protection on), as last described.
    pub async fn records_sign_ins(&self, client: &PoolClient) -> Result<bool> {
        Ok(self.facts(client).await?.records_sign_ins)
    }

    /// The activity of each user, in order: their histories read side by side (each call paced
    /// like every other), or no call at all where nothing is read.
    pub async fn of_users(
        &self,
        client: &PoolClient,
        users: &[CognitoUser],
    ) -> Result<Vec<Activity>> {
        if !self.wanted() || users.is_empty() {
            return Ok(users.iter().map(Activity::of_record).collect());
        }
        let facts = self.facts(client).await?;
        let reads = users.iter().map(|user| async move {
            let latest = if self.reads_history(&facts) {
                self.latest_sign_in(client, &user.username).await
            } else {
                None
            };
            self.activity(&facts, user, latest.as_ref())
        });
        Ok(join_all(reads).await)
    }

    fn activity(
        &self,
        facts: &PoolFacts,
        user: &CognitoUser,
        latest: Option<&AuthEvent>,
    ) -> Activity {
        let mfa_enabled = if self.options.mfa_status {
            match facts.mfa {
                PoolMfa::Off => Some(false),
                PoolMfa::Required => Some(true),
                PoolMfa::PerUser => user
                    .mfa_enabled()
                    .filter(|uses| *uses)
                    .or_else(|| latest.map(answered_mfa)),
            }
        } else {
            user.mfa_enabled()
        };
        Activity {
            last_login: latest
                .and_then(|event| event.at)
                .filter(|_| self.options.last_login == LastLogin::Auto),
            mfa_enabled,
        }
    }

    /// The user's most recent successful sign-in among their latest events (one page, at most
    /// 60: a user with more failed attempts since has no last login read). A refusal turns the
    /// reads off; other failures leave this user's activity unknown.
    async fn latest_sign_in(&self, client: &PoolClient, username: &str) -> Option<AuthEvent> {
        match client
            .list_auth_events(username, None, MAX_PAGE_SIZE as i32)
            .await
        {
            Ok(page) => latest_successful_sign_in(page.items),
            Err(CognitoError::UserNotFound { .. }) => None,
            Err(err @ (CognitoError::FeatureOff { .. } | CognitoError::AccessDenied { .. })) => {
                if self.refuse() {
                    tracing::warn!(error = %err, "Cognito refused the sign-in history: last login is not read for an hour");
                }
                None
            }
            Err(err) => {
                let misses = self.misses.fetch_add(1, Ordering::Relaxed);
                if misses.is_multiple_of(MISS_LOG_EVERY) {
                    tracing::warn!(username, error = %err, failed_reads = misses + 1, "could not read a user's sign-in history; their last login is left unknown");
                }
                None
            }
        }
    }
}

/// The newest sign-in that passed (by date: the order of the answer is not relied on).
fn latest_successful_sign_in(events: Vec<AuthEvent>) -> Option<AuthEvent> {
    events
        .into_iter()
        .filter(|e| e.kind == "SignIn" && e.response == "Pass" && e.at.is_some())
        .max_by_key(|e| e.at.map(|at| (at.secs(), at.subsec_nanos())))
}

/// Whether a sign-in answered an MFA challenge successfully.
fn answered_mfa(sign_in: &AuthEvent) -> bool {
    sign_in
        .challenges
        .iter()
        .any(|(name, response)| name == "Mfa" && response == "Success")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, response: &str, secs: i64, challenges: &[(&str, &str)]) -> AuthEvent {
        AuthEvent {
            id: format!("{kind}-{secs}"),
            kind: kind.into(),
            at: Some(DateTime::from_secs(secs)),
            response: response.into(),
            challenges: challenges
                .iter()
                .map(|(n, r)| (n.to_string(), r.to_string()))
                .collect(),
        }
    }

    #[test]
    fn the_latest_sign_in_is_the_newest_that_passed() {
        let events = vec![
            event("SignIn", "Fail", 500, &[("Password", "Failure")]),
            event("PasswordChange", "Pass", 400, &[]),
            event("SignIn", "Pass", 100, &[("Password", "Success")]),
            event(
                "SignIn",
                "Pass",
                300,
                &[("Password", "Success"), ("Mfa", "Success")],
            ),
            event("SignIn", "InProgress", 450, &[("Password", "Success")]),
        ];
        let latest = latest_successful_sign_in(events).unwrap();
        assert_eq!(latest.at, Some(DateTime::from_secs(300)));
        assert!(answered_mfa(&latest));
        assert_eq!(
            latest_successful_sign_in(vec![event("SignUp", "Pass", 9, &[])]),
            None
        );
    }

    fn facts(mfa: PoolMfa) -> PoolFacts {
        PoolFacts {
            records_sign_ins: true,
            mfa,
        }
    }

    #[test]
    fn mfa_status_follows_the_pool_then_the_user() {
        let on = UserActivity::new(ActivityOptions {
            last_login: LastLogin::Off,
            mfa_status: true,
        });
        let user = CognitoUser::default();
        let with_mfa = event(
            "SignIn",
            "Pass",
            9,
            &[("Password", "Success"), ("Mfa", "Success")],
        );
        let without = event("SignIn", "Pass", 9, &[("Password", "Success")]);
        let mfa = |f: PoolMfa, latest: Option<&AuthEvent>| {
            on.activity(&facts(f), &user, latest).mfa_enabled
        };
        assert_eq!(mfa(PoolMfa::Off, Some(&with_mfa)), Some(false));
        assert_eq!(mfa(PoolMfa::Required, None), Some(true));
        assert_eq!(mfa(PoolMfa::PerUser, Some(&with_mfa)), Some(true));
        assert_eq!(mfa(PoolMfa::PerUser, Some(&without)), Some(false));
        assert_eq!(
            mfa(PoolMfa::PerUser, None),
            None,
            "unknown without a sign-in"
        );
        let sms = CognitoUser {
            mfa_options: vec!["SMS:phone_number".into()],
            ..CognitoUser::default()
        };
        assert_eq!(
            on.activity(&facts(PoolMfa::PerUser), &sms, None)
                .mfa_enabled,
            Some(true)
        );
        assert_eq!(
            on.activity(&facts(PoolMfa::PerUser), &user, Some(&with_mfa))
                .last_login,
            None,
            "last login off: not reported even when read for MFA"
        );
    }

    #[test]
    fn history_is_read_only_where_recorded_and_asked_for() {
        let off = UserActivity::new(ActivityOptions {
            last_login: LastLogin::Off,
            mfa_status: false,
        });
        assert!(!off.reads_history(&facts(PoolMfa::PerUser)));
        let auto = UserActivity::new(ActivityOptions::default());
        assert!(auto.reads_history(&facts(PoolMfa::Off)));
        let essentials = PoolFacts {
            records_sign_ins: false,
            mfa: PoolMfa::PerUser,
        };
        assert!(!auto.reads_history(&essentials));
        assert!(auto.refuse(), "the first refusal is news");
        assert!(!auto.refuse(), "later ones are not");
        assert!(!auto.reads_history(&facts(PoolMfa::Off)));
        let mfa_only = UserActivity::new(ActivityOptions {
            last_login: LastLogin::Off,
            mfa_status: true,
        });
        assert!(mfa_only.reads_history(&facts(PoolMfa::PerUser)));
        assert!(!mfa_only.reads_history(&facts(PoolMfa::Required)));
    }
}
