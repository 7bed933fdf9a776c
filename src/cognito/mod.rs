//! The only code that talks to AWS: Cognito, and CloudWatch Logs for the sign-in logs a pool
//! exports (`sign_in_logs`).
//!
//! One [`PoolClient`] per user pool. Every call goes through [`PoolClient::call`], which paces it
//! against its quota category, retries throttling and transient failures with jittered
//! exponential backoff, counts it, and maps its error to [`CognitoError`]. Callers get Cognito
//! records, never Baton messages.

pub mod answers;
pub mod error;
pub mod filter;
pub mod operation;
pub mod pacing;
pub mod quota;
pub mod records;
pub mod retry;
pub mod settings;
pub mod sign_in_logs;
pub mod stats;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::config::{Credentials as AwsCredentials, Region};
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};

use answers::{Asked, ErrorBodyCheck, TokenTrail};
pub use error::CognitoError;
use filter::UserFilter;
pub use operation::Operation;
use pacing::{Pacer, QuotaKey, QuotaScopes};
use records::{AuthEvent, CognitoGroup, CognitoUser, Page, PoolDescription};
use retry::RetryPolicy;
use sign_in_logs::{LogGroup, LogPage};
use stats::CallStats;

use settings::{ClientSettings, Credentials};

/// The most items Cognito returns in one page of any listing this connector uses.
pub const MAX_PAGE_SIZE: u32 = 60;

/// Clamps a requested page size to what Cognito accepts; 0 means "as many as allowed".
pub fn page_limit(requested: u32) -> i32 {
    match requested {
        0 => MAX_PAGE_SIZE as i32,
        n => n.min(MAX_PAGE_SIZE) as i32,
    }
}

/// A page size for the SDK: Cognito refuses anything outside 1..=60.
fn sdk_limit(limit: i32) -> i32 {
    limit.clamp(1, MAX_PAGE_SIZE as i32)
}

/// Picks a listing answer's records and its next token.
type PageParts<O, R> = fn(&O) -> (Option<&[R]>, Option<&str>);

/// Whose quotas a pool's calls draw on: its account's (the role's, or the base credentials'
/// own) in its Region.
fn quota_key(settings: &ClientSettings) -> QuotaKey {
    QuotaKey {
        account: settings
            .assume_role
            .as_ref()
            .map(|role| role.account().to_string())
            .unwrap_or_default(),
        region: settings.region.clone(),
    }
}

/// What every pool client of one process shares: the quota buckets of each account and Region,
/// so that pools there pace together, and the call counts a sync reports.
#[derive(Default)]
pub struct SharedCalls {
    quotas: QuotaScopes,
    stats: Arc<CallStats>,
}

/// A client for one user pool.
pub struct PoolClient {
    sdk: Client,
    /// CloudWatch Logs, for the sign-in logs a pool exports (`sign_in_logs`).
    logs: aws_sdk_cloudwatchlogs::Client,
    pool_id: String,
    region: String,
    pacer: Pacer,
    retry: RetryPolicy,
    stats: Arc<CallStats>,
}

impl fmt::Debug for PoolClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolClient")
            .field("pool_id", &self.pool_id)
            .finish_non_exhaustive()
    }
}

impl PoolClient {
    /// Builds the AWS client for a pool: region, credentials (static, assumed role or the default
    /// chain), endpoint. The SDK's own retries are off: pacing and retries happen here, where
    /// they are counted; the pacing of its account and Region and the counts are `shared`.
    pub async fn connect(settings: &ClientSettings, shared: &SharedCalls) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(settings.attempt_timeout)
                    .build(),
            );
        if let Credentials::Static {
            access_key_id,
            secret_access_key,
            session_token,
        } = &settings.credentials
        {
            loader = loader.credentials_provider(AwsCredentials::new(
                access_key_id,
                secret_access_key.expose(),
                session_token.as_ref().map(|t| t.expose().to_string()),
                None,
                "baton-cognito-flags",
            ));
        }
        if let Some(endpoint) = &settings.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let mut sdk_config = loader.load().await;
        if let Some(role) = &settings.assume_role {
            let mut provider = aws_config::sts::AssumeRoleProvider::builder(&role.role_arn)
                .session_name("baton-cognito")
                .configure(&sdk_config);
            if let Some(external_id) = &role.external_id {
                provider = provider.external_id(external_id.expose());
            }
            let provider = provider.build().await;
            sdk_config = sdk_config
                .into_builder()
                .credentials_provider(
                    aws_credential_types::provider::SharedCredentialsProvider::new(provider),
                )
                .build();
        }
        let config = aws_sdk_cognitoidentityprovider::config::Builder::from(&sdk_config)
            .interceptor(ErrorBodyCheck)
            .build();
        let logs = aws_sdk_cloudwatchlogs::config::Builder::from(&sdk_config)
            .interceptor(ErrorBodyCheck)
            .build();
        Self {
            sdk: Client::from_conf(config),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs),
            pool_id: settings.pool.id.clone(),
            region: settings.region.clone(),
            pacer: shared
                .quotas
                .pacer(quota_key(settings), &settings.api_budget),
            retry: RetryPolicy::default(),
            stats: shared.stats.clone(),
        }
    }

    pub fn pool_id(&self) -> &str {
        &self.pool_id
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn stats(&self) -> &CallStats {
        &self.stats
    }

    /// Calls per second the budget allows for `op`'s quota category (infinite when unpaced).
    pub fn rate_of(&self, op: Operation) -> f64 {
        self.pacer.ceiling(op.category())
    }

    /// How many listings that page with `op` to run side by side (see [`Pacer::concurrency_for`]).
    pub fn concurrency_for(&self, op: Operation) -> usize {
        self.pacer.concurrency_for(op.category())
    }

    /// Sends one Cognito call through pacing, retries, counting and error mapping, in a span
    /// (`cognito call`) that says the operation, its quota category, the attempts it took, the
    /// throttled ones and the time spent pacing.
    async fn call<T, E, F, Fut>(&self, op: Operation, send: F) -> Result<T, CognitoError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, aws_smithy_runtime_api::http::Response>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let span = tracing::info_span!(
            "cognito call",
            operation = op.name(),
            quota_category = %op.category(),
            pool_id = %self.pool_id,
            attempts = tracing::field::Empty,
            throttled = tracing::field::Empty,
            paced_ms = tracing::field::Empty,
            error = tracing::field::Empty,
        );
        self.call_attempts(op, send).instrument(span).await
    }

    async fn call_attempts<T, E, F, Fut>(&self, op: Operation, send: F) -> Result<T, CognitoError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, aws_smithy_runtime_api::http::Response>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let span = tracing::Span::current();
        let (mut throttled, mut paced) = (0_u32, Duration::ZERO);
        let record = |attempt: u32, throttled: u32, paced: Duration| {
            span.record("attempts", attempt);
            span.record("throttled", throttled);
            span.record("paced_ms", paced.as_millis() as u64);
        };
        let mut attempt = 1;
        loop {
            let waited = self.pacer.acquire(op.category()).await;
            paced += waited;
            self.stats.record_call(op, waited, attempt > 1);
            let sent = std::time::Instant::now();
            let err = match send().await {
                Ok(output) => {
                    self.pacer.succeeded(op.category());
                    record(attempt, throttled, paced);
                    return Ok(output);
                }
                Err(err) => CognitoError::from_sdk(op, err),
            };
            if err.is_throttling() {
                throttled += 1;
                self.stats.record_throttled(op);
                self.pacer.throttled(op.category());
            }
            let may_repeat = err.is_throttling() || op.is_idempotent();
            if !err.is_retryable() || !may_repeat || attempt >= self.retry.max_attempts {
                record(attempt, throttled, paced);
                span.record("error", tracing::field::display(&err));
                return Err(err.after_attempts(attempt));
            }
            let pause = self.retry.backoff(attempt);
            tracing::warn!(operation = op.name(), attempt, pause_ms = pause.as_millis() as u64, error = %err, "retrying Cognito call");
            // A failed attempt and its backoff say nothing of how long an answer takes.
            pacing::note_waited(sent.elapsed() + pause);
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    /// One page of a listing: `send` called as [`call`](Self::call) does, a refused page token
    /// told apart from other refusals, and the answer held against what was asked (`parts`
    /// picks its list and next token).
    async fn call_page<O, R, T, E, F, Fut>(
        &self,
        asked: Asked<'_>,
        send: F,
        parts: PageParts<O, R>,
    ) -> Result<Page<T>, CognitoError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<O, SdkError<E, aws_smithy_runtime_api::http::Response>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        T: for<'r> From<&'r R> + answers::Named,
    {
        let out = self
            .call(asked.operation, send)
            .await
            .map_err(|err| err.on_page(asked.token.is_some()))?;
        let (records, next_token) = parts(&out);
        asked.page(records, next_token)
    }

    pub async fn describe_user_pool(&self) -> Result<PoolDescription, CognitoError> {
        let out = self
            .call(Operation::DescribeUserPool, || {
                self.sdk
                    .describe_user_pool()
                    .user_pool_id(&self.pool_id)
                    .send()
            })
            .await?;
        let Some(pool) = out.user_pool() else {
            return Err(CognitoError::BadAnswer {
                operation: Operation::DescribeUserPool,
                message: "it has no UserPool".to_string(),
            });
        };
        Ok(PoolDescription {
            id: pool.id().unwrap_or(&self.pool_id).to_string(),
            name: pool.name().unwrap_or_default().to_string(),
            arn: pool.arn().map(str::to_string),
            estimated_users: pool.estimated_number_of_users().max(0) as u64,
            tier: pool.user_pool_tier().map(|t| t.as_str().to_string()),
            threat_protection: pool
                .user_pool_add_ons()
                .map(|add_ons| add_ons.advanced_security_mode().as_str().to_string()),
            mfa_configuration: pool.mfa_configuration().map(|m| m.as_str().to_string()),
            password_policy: pool
                .policies()
                .and_then(|p| p.password_policy())
                .map(records::password_policy),
        })
    }

    /// One page of ListUsers. `token` must come from a previous page with the same filter.
    pub async fn list_users(
        &self,
        filter: Option<&UserFilter>,
        token: Option<&str>,
        limit: i32,
    ) -> Result<Page<CognitoUser>, CognitoError> {
        let filter = filter.map(ToString::to_string);
        let asked = Asked::new(Operation::ListUsers, "Users", token, sdk_limit(limit));
        let send = || {
            self.sdk
                .list_users()
                .user_pool_id(&self.pool_id)
                .limit(asked.limit)
                .set_filter(filter.clone())
                .set_pagination_token(token.map(str::to_string))
                .send()
        };
        self.call_page(asked, send, |out| {
            (out.users.as_deref(), out.pagination_token())
        })
        .await
    }

    pub async fn list_groups(
        &self,
        token: Option<&str>,
        limit: i32,
    ) -> Result<Page<CognitoGroup>, CognitoError> {
        let asked = Asked::new(Operation::ListGroups, "Groups", token, sdk_limit(limit));
        let send = || {
            self.sdk
                .list_groups()
                .user_pool_id(&self.pool_id)
                .limit(asked.limit)
                .set_next_token(token.map(str::to_string))
                .send()
        };
        self.call_page(asked, send, |out| (out.groups.as_deref(), out.next_token()))
            .await
    }

    pub async fn list_users_in_group(
        &self,
        group: &str,
        token: Option<&str>,
        limit: i32,
    ) -> Result<Page<CognitoUser>, CognitoError> {
        let asked = Asked::new(
            Operation::ListUsersInGroup,
            "Users",
            token,
            sdk_limit(limit),
        );
        let send = || {
            self.sdk
                .list_users_in_group()
                .user_pool_id(&self.pool_id)
                .group_name(group)
                .limit(asked.limit)
                .set_next_token(token.map(str::to_string))
                .send()
        };
        self.call_page(asked, send, |out| (out.users.as_deref(), out.next_token()))
            .await
    }

    pub async fn get_group(&self, group: &str) -> Result<CognitoGroup, CognitoError> {
        let out = self
            .call(Operation::GetGroup, || {
                self.sdk
                    .get_group()
                    .user_pool_id(&self.pool_id)
                    .group_name(group)
                    .send()
            })
            .await?;
        match out.group().map(CognitoGroup::from) {
            Some(found) if !found.name.is_empty() => Ok(found),
            _ => Err(CognitoError::BadAnswer {
                operation: Operation::GetGroup,
                message: "it has no Group with a GroupName".to_string(),
            }),
        }
    }

    /// One user by its exact username, read with ListUsers and `filter` (`username = "…"`):
    /// unlike AdminGetUser, a listing does not make the user a billable monthly active user.
    /// `None` when no user has exactly this name (a pool with case-insensitive usernames may
    /// answer with another spelling, which is not it). Pages are followed until the user shows:
    /// Cognito may answer a filtered listing with an empty page and a token.
    pub async fn find_user(
        &self,
        filter: &UserFilter,
        username: &str,
    ) -> Result<Option<CognitoUser>, CognitoError> {
        let mut token: Option<String> = None;
        let mut trail = TokenTrail::default();
        loop {
            let page = self
                .list_users(Some(filter), token.as_deref(), MAX_PAGE_SIZE as i32)
                .await?;
            if let Some(user) = page.items.into_iter().find(|u| u.username == username) {
                return Ok(Some(user));
            }
            if !trail.advance(&mut token, page.next_token)? {
                return Ok(None);
            }
        }
    }

    /// Reads one user, consistently and with MFA settings. Cognito counts the user as active
    /// for billing: call it for targeted reads only, never per user in a listing.
    pub async fn get_user(&self, username: &str) -> Result<CognitoUser, CognitoError> {
        let out = self
            .call(Operation::AdminGetUser, || {
                self.sdk
                    .admin_get_user()
                    .user_pool_id(&self.pool_id)
                    .username(username)
                    .send()
            })
            .await?;
        let user = CognitoUser::from(out);
        if user.username.is_empty() {
            return Err(CognitoError::BadAnswer {
                operation: Operation::AdminGetUser,
                message: "it has no Username".to_string(),
            });
        }
        Ok(user)
    }
}

/// A user to create with AdminCreateUser.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub attributes: &'a [(String, String)],
    /// `None`: Cognito generates the temporary password itself.
    pub temporary_password: Option<&'a crate::secret::Secret>,
    /// Send Cognito's invitation message; otherwise it is suppressed.
    pub send_invitation: bool,
}

impl PoolClient {
    /// One page of the groups a user is in (AdminListGroupsForUser).
    pub async fn list_groups_of_user(
        &self,
        username: &str,
        token: Option<&str>,
        limit: i32,
    ) -> Result<Page<CognitoGroup>, CognitoError> {
        let asked = Asked::new(
            Operation::AdminListGroupsForUser,
            "Groups",
            token,
            sdk_limit(limit),
        );
        let send = || {
            self.sdk
                .admin_list_groups_for_user()
                .user_pool_id(&self.pool_id)
                .username(username)
                .limit(asked.limit)
                .set_next_token(token.map(str::to_string))
                .send()
        };
        self.call_page(asked, send, |out| (out.groups.as_deref(), out.next_token()))
            .await
    }

    /// The names of every group a user is in (a user is in at most 100 groups: two pages).
    pub async fn groups_of_user(&self, username: &str) -> Result<Vec<String>, CognitoError> {
        let mut groups = Vec::new();
        let mut token: Option<String> = None;
        let mut trail = TokenTrail::default();
        loop {
            let page = self
                .list_groups_of_user(username, token.as_deref(), MAX_PAGE_SIZE as i32)
                .await?;
            groups.extend(page.items.into_iter().map(|g| g.name));
            if !trail.advance(&mut token, page.next_token)? {
                return Ok(groups);
            }
        }
    }

    /// One page of a user's events (AdminListUserAuthEvents), newest first. Only a pool with
    /// threat protection records them; elsewhere Cognito answers [`CognitoError::FeatureOff`].
    pub async fn list_auth_events(
        &self,
        username: &str,
        token: Option<&str>,
        limit: i32,
    ) -> Result<Page<AuthEvent>, CognitoError> {
        let asked = Asked::new(
            Operation::AdminListUserAuthEvents,
            "AuthEvents",
            token,
            sdk_limit(limit),
        );
        let send = || {
            self.sdk
                .admin_list_user_auth_events()
                .user_pool_id(&self.pool_id)
                .username(username)
                .max_results(asked.limit)
                .set_next_token(token.map(str::to_string))
                .send()
        };
        self.call_page(asked, send, |out| {
            (out.auth_events.as_deref(), out.next_token())
        })
        .await
    }

    /// One page of the pool's successful sign-ins in its exported user-activity log (CloudWatch
    /// Logs FilterLogEvents, paced in its own quota category), from `start_ms` on, oldest first.
    /// `token` continues a page of the same `start_ms`; a refused one is a stale token.
    pub async fn filter_sign_in_logs(
        &self,
        group: &LogGroup,
        start_ms: i64,
        token: Option<&str>,
        limit: i32,
    ) -> Result<LogPage, CognitoError> {
        let pattern = sign_in_logs::sign_in_pattern(&self.pool_id);
        let out = self
            .call(Operation::FilterLogEvents, || {
                self.logs
                    .filter_log_events()
                    .log_group_name(&group.name)
                    .start_time(start_ms)
                    .filter_pattern(&pattern)
                    .limit(limit.clamp(1, 10_000))
                    .set_next_token(token.map(str::to_string))
                    .send()
            })
            .await
            .map_err(|err| err.on_page(token.is_some()))?;
        let events = out.events();
        let next_token = out
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if next_token.is_some() && next_token.as_deref() == token {
            return Err(CognitoError::RepeatedToken);
        }
        Ok(LogPage {
            sign_ins: events
                .iter()
                .filter_map(|e| {
                    sign_in_logs::sign_in_of(&self.pool_id, e.timestamp(), e.message()?)
                })
                .collect(),
            next_token,
        })
    }

    /// Signs the user out everywhere: Cognito revokes every refresh token it issued to the user,
    /// so no app gets new tokens without a new sign-in (access and ID tokens already issued
    /// stay valid until they expire, an hour by default).
    pub async fn sign_out_everywhere(&self, username: &str) -> Result<(), CognitoError> {
        self.call(Operation::AdminUserGlobalSignOut, || {
            self.sdk
                .admin_user_global_sign_out()
                .user_pool_id(&self.pool_id)
                .username(username)
                .send()
        })
        .await
        .map(drop)
    }

    pub async fn add_user_to_group(&self, username: &str, group: &str) -> Result<(), CognitoError> {
        self.call(Operation::AdminAddUserToGroup, || {
            self.sdk
                .admin_add_user_to_group()
                .user_pool_id(&self.pool_id)
                .username(username)
                .group_name(group)
                .send()
        })
        .await
        .map(drop)
    }

    pub async fn remove_user_from_group(
        &self,
        username: &str,
        group: &str,
    ) -> Result<(), CognitoError> {
        self.call(Operation::AdminRemoveUserFromGroup, || {
            self.sdk
                .admin_remove_user_from_group()
                .user_pool_id(&self.pool_id)
                .username(username)
                .group_name(group)
                .send()
        })
        .await
        .map(drop)
    }

    /// Creates a user. An invitation goes by email when the user has an email (Cognito's default
    /// medium is SMS, which it refuses for a user without a phone number), otherwise by SMS.
    pub async fn create_user(&self, user: &NewUser<'_>) -> Result<(), CognitoError> {
        use aws_sdk_cognitoidentityprovider::types::{
            AttributeType, DeliveryMediumType, MessageActionType,
        };
        let has_email = user
            .attributes
            .iter()
            .any(|(name, value)| name == "email" && !value.is_empty());
        let mediums = (user.send_invitation && has_email).then(|| vec![DeliveryMediumType::Email]);
        let attributes: Vec<AttributeType> = user
            .attributes
            .iter()
            .filter_map(|(name, value)| {
                AttributeType::builder()
                    .name(name)
                    .value(value)
                    .build()
                    .ok()
            })
            .collect();
        self.call(Operation::AdminCreateUser, || {
            self.sdk
                .admin_create_user()
                .user_pool_id(&self.pool_id)
                .username(user.username)
                .set_user_attributes(Some(attributes.clone()))
                .set_temporary_password(user.temporary_password.map(|p| p.expose().to_string()))
                .set_message_action((!user.send_invitation).then_some(MessageActionType::Suppress))
                .set_desired_delivery_mediums(mediums.clone())
                .send()
        })
        .await
        .map(drop)
    }

    /// Makes a password the user's permanent one (no change required at first sign-in).
    pub async fn set_permanent_password(
        &self,
        username: &str,
        password: &crate::secret::Secret,
    ) -> Result<(), CognitoError> {
        self.call(Operation::AdminSetUserPassword, || {
            self.sdk
                .admin_set_user_password()
                .user_pool_id(&self.pool_id)
                .username(username)
                .password(password.expose())
                .permanent(true)
                .send()
        })
        .await
        .map(drop)
    }

    pub async fn delete_user(&self, username: &str) -> Result<(), CognitoError> {
        self.call(Operation::AdminDeleteUser, || {
            self.sdk
                .admin_delete_user()
                .user_pool_id(&self.pool_id)
                .username(username)
                .send()
        })
        .await
        .map(drop)
    }

    /// Enables or disables sign-in for a user; both are no-ops when already so.
    pub async fn set_user_enabled(
        &self,
        username: &str,
        enabled: bool,
    ) -> Result<(), CognitoError> {
        if enabled {
            self.call(Operation::AdminEnableUser, || {
                self.sdk
                    .admin_enable_user()
                    .user_pool_id(&self.pool_id)
                    .username(username)
                    .send()
            })
            .await
            .map(drop)
        } else {
            self.call(Operation::AdminDisableUser, || {
                self.sdk
                    .admin_disable_user()
                    .user_pool_id(&self.pool_id)
                    .username(username)
                    .send()
            })
            .await
            .map(drop)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quota::QuotaCategory;

    #[test]
    fn page_limits_never_exceed_cognitos_maximum() {
        assert_eq!(page_limit(0), 60);
        assert_eq!(page_limit(1), 1);
        assert_eq!(page_limit(60), 60);
        assert_eq!(page_limit(250), 60);
    }

    #[test]
    fn every_operation_has_a_category_and_a_distinct_name() {
        let names: std::collections::BTreeSet<_> =
            Operation::ALL.iter().map(|op| op.name()).collect();
        assert_eq!(names.len(), Operation::ALL.len());
        for (i, op) in Operation::ALL.iter().enumerate() {
            assert_eq!(
                *op as usize, i,
                "ALL must list operations in declaration order"
            );
        }
        assert_eq!(
            Operation::ListUsersInGroup.category(),
            QuotaCategory::UserList
        );
    }
}
