//! What a client for one pool needs, validated: which pool, where, with which credentials, at
//! what pace. The Cognito layer owns these types; the command line only fills them in.
//!
//! Raw values are turned into these types once, at start-up, so that every later layer can rely
//! on them being well formed. Every error names the setting (its flag) and what is expected.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::quota::QuotaCategory;
use crate::secret::Secret;

/// A configuration value that cannot be used, with the flag it came from.
#[derive(Debug, thiserror::Error)]
#[error("--{flag}: {problem}")]
pub struct ConfigError {
    pub flag: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub fn new(flag: &'static str, problem: impl Into<String>) -> Self {
        Self {
            flag,
            problem: problem.into(),
        }
    }
}

/// A Cognito user pool, named by id (`us-east-1_AbC123`) or by ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolRef {
    pub id: String,
    /// The region the id names (`us-east-1` in `us-east-1_AbC123`). Emulators name pools
    /// otherwise (`local_2HVVRiVR`); such a pool needs `--region`.
    pub region: Option<String>,
    /// The account an ARN names; a bare id is in the account of the credentials.
    pub account: Option<String>,
}

impl PoolRef {
    /// The refusal when no pool is named.
    pub fn missing() -> ConfigError {
        ConfigError::new(
            "user-pool-id",
            "is required: a pool id like us-east-1_AbC123 or a pool ARN (repeat it for several pools)",
        )
    }

    /// Parses a pool id or a pool ARN (`arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID`).
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        const FLAG: &str = "user-pool-id";
        let value = value.trim();
        if value.is_empty() {
            return Err(Self::missing());
        }
        if let Some(rest) = value.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [partition, service, region, account, resource] = parts[..] else {
                return Err(ConfigError::new(
                    FLAG,
                    format!(
                        "{value:?} is not a pool ARN; expected arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID"
                    ),
                ));
            };
            if !matches!(partition, "aws" | "aws-cn" | "aws-us-gov") || service != "cognito-idp" {
                return Err(ConfigError::new(
                    FLAG,
                    format!(
                        "{value:?} is not a Cognito user pool ARN (expected arn:aws:cognito-idp:...)"
                    ),
                ));
            }
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConfigError::new(
                    FLAG,
                    format!("the account {account:?} in the ARN is not a 12-digit AWS account id"),
                ));
            }
            let Some(pool_id) = resource.strip_prefix("userpool/") else {
                return Err(ConfigError::new(
                    FLAG,
                    format!("the ARN names {resource:?}, not userpool/POOL_ID"),
                ));
            };
            if !is_region_name(region) {
                return Err(ConfigError::new(
                    FLAG,
                    format!("the region {region:?} in the ARN is not an AWS region name"),
                ));
            }
            let pool = Self::parse_id(pool_id)?;
            if pool.region.as_deref().is_some_and(|named| named != region) {
                return Err(ConfigError::new(
                    FLAG,
                    format!(
                        "the ARN's region {region} contradicts its pool id {pool_id}, which lives in {}",
                        pool.region.unwrap_or_default()
                    ),
                ));
            }
            return Ok(Self {
                region: Some(region.to_string()),
                account: Some(account.to_string()),
                ..pool
            });
        }
        Self::parse_id(value)
    }

    /// A pool id as the AWS API's own pattern accepts it (`[\w-]+_[0-9a-zA-Z]+`, at most 55
    /// characters); whether the pool exists is the endpoint's to say.
    fn parse_id(value: &str) -> Result<Self, ConfigError> {
        let bad = |why: &str| {
            ConfigError::new(
                "user-pool-id",
                format!(
                    "{value:?} is not a user pool id ({why}); expected REGION_ID like us-east-1_AbC123"
                ),
            )
        };
        let Some((prefix, suffix)) = value.rsplit_once('_') else {
            return Err(bad("no underscore"));
        };
        if value.len() > 55 {
            return Err(bad("longer than 55 characters"));
        }
        if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad(
                "the part after the last underscore must be letters and digits",
            ));
        }
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        if prefix.is_empty() || !prefix.bytes().all(word) {
            return Err(bad(
                "the part before the last underscore must be letters, digits, '_' and '-'",
            ));
        }
        Ok(Self {
            id: value.to_string(),
            region: is_region(prefix).then(|| prefix.to_string()),
            account: None,
        })
    }
}

/// `xx-name-N` or `xx-name-name-N` (e.g. `us-east-1`, `us-gov-west-1`, `ap-southeast-2`).
fn is_region(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1]
            .parse::<u8>()
            .is_ok_and(|n| n > 0 && !parts[parts.len() - 1].starts_with('0'))
}

/// Checks `--region` against the pool and returns the region to use. A region is a name the
/// SigV4 signature carries, so any AWS-shaped name is accepted (an emulator may use its own).
pub fn resolve_region(pool: &PoolRef, flag: Option<&str>) -> Result<String, ConfigError> {
    match (flag.map(str::trim).filter(|r| !r.is_empty()), &pool.region) {
        (None, Some(named)) => Ok(named.clone()),
        (None, None) => Err(ConfigError::new(
            "region",
            format!(
                "is required: the user pool id {} does not name an AWS region",
                pool.id
            ),
        )),
        (Some(region), _) if !is_region_name(region) => Err(ConfigError::new(
            "region",
            format!("{region:?} is not an AWS region name like us-east-1"),
        )),
        (Some(region), Some(named)) if region != named => Err(ConfigError::new(
            "region",
            format!(
                "{region} contradicts the user pool {}, which lives in {named}; leave --region out or make them agree",
                pool.id
            ),
        )),
        (Some(region), _) => Ok(region.to_string()),
    }
}

/// A name that may sign a request: letters, digits and '-', as AWS region names are, including
/// an emulator's own (`local`).
fn is_region_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Where AWS credentials come from.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// The AWS default chain: environment, shared profile, web identity (IRSA), instance metadata.
    DefaultChain,
    /// Keys given on the command line or in `BATON_AWS_*`.
    Static {
        access_key_id: String,
        secret_access_key: Secret,
        session_token: Option<Secret>,
    },
}

impl Credentials {
    pub fn from_flags(
        access_key_id: Option<&str>,
        secret_access_key: Option<&Secret>,
        session_token: Option<&Secret>,
    ) -> Result<Self, ConfigError> {
        let access_key_id = access_key_id.map(str::trim).filter(|v| !v.is_empty());
        let secret_access_key = secret_access_key.filter(|v| !v.is_empty());
        let session_token = session_token.filter(|v| !v.is_empty());
        match (access_key_id, secret_access_key) {
            (Some(id), Some(secret)) => {
                // AWS's own pattern (`\w+`): whether the key exists is the endpoint's to say, and
                // emulators take keys like `test`.
                if id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(ConfigError::new(
                        "aws-access-key-id",
                        "is not an AWS access key id (letters, digits and '_', like AKIA...)",
                    ));
                }
                if let Some(token) = session_token
                    && !crate::http::is_header_safe(token.expose())
                {
                    return Err(ConfigError::new(
                        "aws-session-token",
                        "cannot be sent in an HTTP header (only printable ASCII can: no line breaks, tabs or other characters)",
                    ));
                }
                Ok(Self::Static {
                    access_key_id: id.to_string(),
                    secret_access_key: secret.clone(),
                    session_token: session_token.cloned(),
                })
            }
            (Some(_), None) => Err(ConfigError::new(
                "aws-secret-access-key",
                "is required when --aws-access-key-id is set",
            )),
            (None, Some(_)) => Err(ConfigError::new(
                "aws-access-key-id",
                "is required when --aws-secret-access-key is set",
            )),
            (None, None) if session_token.is_some() => Err(ConfigError::new(
                "aws-session-token",
                "needs --aws-access-key-id and --aws-secret-access-key",
            )),
            (None, None) => Ok(Self::DefaultChain),
        }
    }
}

/// An IAM role to assume (STS AssumeRole) on top of the base credentials.
#[derive(Clone)]
pub struct AssumeRole {
    pub role_arn: String,
    pub external_id: Option<Secret>,
}

impl fmt::Debug for AssumeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRole")
            .field("role_arn", &self.role_arn)
            .field(
                "external_id",
                &self.external_id.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl AssumeRole {
    /// The account the role is in (`arn:aws:iam::ACCOUNT:role/NAME`, checked by
    /// [`from_flags`](Self::from_flags)).
    pub fn account(&self) -> &str {
        self.role_arn.split(':').nth(4).unwrap_or_default()
    }

    pub fn from_flags(
        role_arn: Option<&str>,
        external_id: Option<&Secret>,
    ) -> Result<Option<Self>, ConfigError> {
        let external_id = external_id.filter(|v| !v.is_empty());
        match role_arn.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(arn) => Self::parse("role-arn", arn, external_id).map(Some),
        }
    }

    /// A role ARN (`arn:PARTITION:iam::ACCOUNT:role/NAME`) given with `flag`.
    fn parse(
        flag: &'static str,
        arn: &str,
        external_id: Option<&Secret>,
    ) -> Result<Self, ConfigError> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let valid = parts.len() == 6
            && parts[0] == "arn"
            && parts[2] == "iam"
            && parts[4].len() == 12
            && parts[4].bytes().all(|b| b.is_ascii_digit())
            && parts[5].starts_with("role/");
        if !valid {
            return Err(ConfigError::new(
                flag,
                format!("{arn:?} is not an IAM role ARN like arn:aws:iam::123456789012:role/NAME"),
            ));
        }
        Ok(Self {
            role_arn: arn.to_string(),
            external_id: external_id.cloned(),
        })
    }
}

/// The role each pool is read with: `--account-role ACCOUNT=ROLE_ARN` for the pools whose ARN
/// names that account, otherwise `--role-arn` (or the base credentials). Cognito has no resource
/// policies, so a role reaches only its own account's pools: a pool in an account no role is
/// given for, while `--role-arn` is in another, could never be read, and is refused up front,
/// as is a role for an account no pool is in.
#[derive(Clone, Debug, Default)]
pub struct PoolRoles {
    default: Option<AssumeRole>,
    by_account: BTreeMap<String, AssumeRole>,
}

/// The `ACCOUNT=ROLE_ARN` entries of one `--account-role` value. IAM role names may hold commas
/// (`[\w+=,.@-]`), so a comma separates two entries only where an account id and `=` follow it.
fn account_role_entries(value: &str) -> Vec<&str> {
    let starts_entry = |rest: &str| {
        rest.len() > 12
            && rest.as_bytes()[..12].iter().all(u8::is_ascii_digit)
            && rest.as_bytes()[12] == b'='
    };
    let mut entries = Vec::new();
    let mut start = 0;
    for (at, _) in value.match_indices(',') {
        if starts_entry(value[at + 1..].trim_start()) {
            entries.push(&value[start..at]);
            start = at + 1;
        }
    }
    entries.push(&value[start..]);
    entries
}

impl PoolRoles {
    /// From `--role-arn`, `--account-role` (each ACCOUNT=ROLE_ARN) and `--external-id`, which
    /// every role is assumed with.
    pub fn from_flags(
        role_arn: Option<&str>,
        account_roles: &[String],
        external_id: Option<&Secret>,
    ) -> Result<Self, ConfigError> {
        const FLAG: &str = "account-role";
        let external_id = external_id.filter(|v| !v.is_empty());
        let account_roles: Vec<&str> = account_roles
            .iter()
            .flat_map(|v| account_role_entries(v))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        if external_id.is_some()
            && role_arn.is_none_or(|r| r.trim().is_empty())
            && account_roles.is_empty()
        {
            return Err(ConfigError::new(
                "external-id",
                "is only used with --role-arn or --account-role",
            ));
        }
        let mut by_account = BTreeMap::new();
        for entry in account_roles {
            let Some((account, arn)) = entry.split_once('=') else {
                return Err(ConfigError::new(
                    FLAG,
                    format!(
                        "{entry:?} is not ACCOUNT=ROLE_ARN, e.g. 123456789012=arn:aws:iam::123456789012:role/baton"
                    ),
                ));
            };
            let (account, arn) = (account.trim(), arn.trim());
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConfigError::new(
                    FLAG,
                    format!("{account:?} in {entry:?} is not a 12-digit AWS account id"),
                ));
            }
            let role = AssumeRole::parse(FLAG, arn, external_id)?;
            if role.account() != account {
                return Err(ConfigError::new(
                    FLAG,
                    format!(
                        "the role {arn} is in account {}, not {account}: a role reaches only its own account's pools",
                        role.account()
                    ),
                ));
            }
            if by_account.insert(account.to_string(), role).is_some() {
                return Err(ConfigError::new(
                    FLAG,
                    format!("account {account} is given twice"),
                ));
            }
        }
        Ok(Self {
            default: AssumeRole::from_flags(role_arn, external_id)?,
            by_account,
        })
    }

    /// The role to read `pool` with (none: the base credentials).
    pub fn for_pool(&self, pool: &PoolRef) -> Result<Option<AssumeRole>, ConfigError> {
        let Some(account) = pool.account.as_deref() else {
            return Ok(self.default.clone());
        };
        if let Some(role) = self.by_account.get(account) {
            return Ok(Some(role.clone()));
        }
        match &self.default {
            Some(role) if role.account() != account => Err(ConfigError::new(
                "account-role",
                format!(
                    "the user pool {} is in account {account}, but --role-arn is in account {}; \
                     add --account-role {account}=arn:aws:iam::{account}:role/NAME",
                    pool.id,
                    role.account()
                ),
            )),
            default => Ok(default.clone()),
        }
    }

    /// Refuses a role given for an account none of `pools` is in.
    pub fn check_used(&self, pools: &[PoolRef]) -> Result<(), ConfigError> {
        match self.by_account.keys().find(|account| {
            !pools
                .iter()
                .any(|p| p.account.as_deref() == Some(account.as_str()))
        }) {
            Some(account) => Err(ConfigError::new(
                "account-role",
                format!(
                    "no --user-pool-id is in account {account}: give those pools as ARNs \
                     (arn:aws:cognito-idp:REGION:{account}:userpool/ID)"
                ),
            )),
            None => Ok(()),
        }
    }
}

/// Checks an endpoint URL (`--endpoint-url`, or the AWS SDK's `AWS_ENDPOINT_URL` variables):
/// http or https with a host and, if given, a port from 1 to 65535. A URL with an `@` anywhere
/// is never repeated in an error, and one with a user name or password is refused: Cognito
/// requests are signed with the AWS credentials, and a password would reach the logs.
pub fn parse_endpoint_url(value: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    let shown = if value.contains('@') {
        "the URL (not repeated here: it may hold a password)".to_string()
    } else {
        format!("{value:?}")
    };
    let bad = |problem: String| ConfigError::new("endpoint-url", problem);
    let uri: http::Uri = value.parse().map_err(|_| {
        bad(format!(
            "{shown} is not a URL; expected e.g. http://127.0.0.1:5000"
        ))
    })?;
    let authority = uri.authority().map_or("", |a| a.as_str());
    if authority.contains('@') {
        return Err(bad(format!(
            "{shown} carries a user name or password (user:password@host); requests are signed \
             with the AWS credentials"
        )));
    }
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => {}
        _ => {
            return Err(bad(format!(
                "{shown} must be an http:// or https:// URL with a host"
            )));
        }
    }
    let port = match authority.rsplit_once(':') {
        Some((_, port)) if !authority.ends_with(']') => Some(port),
        _ => None,
    };
    match port {
        Some(port) if !port.parse::<u16>().is_ok_and(|n| n > 0) => Err(bad(format!(
            "{shown}: the port must be a number from 1 to 65535"
        ))),
        _ => Ok(value.trim_end_matches('/').to_string()),
    }
}

/// Share of each Cognito quota category this connector may use (`--api-budget`), with
/// per-category exceptions (`--category-budget user-list=0.2`), so operators can leave room for
/// their own applications where they need it most.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiBudget {
    share: f64,
    overrides: BTreeMap<QuotaCategory, f64>,
    quota: AssumedQuota,
}

/// The request-rate quotas the shares are taken of. Always AWS's defaults against AWS; the hidden
/// `--quota-scale` changes them only for emulators: scaled, to match an emulator that compresses
/// time, or unlimited, to measure the connector itself without any pacing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AssumedQuota {
    AwsDefaults { scale: f64 },
    Unlimited,
}

impl AssumedQuota {
    /// Parses `--quota-scale`: a positive factor, or `unlimited`.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("unlimited") {
            return Ok(Self::Unlimited);
        }
        match text.parse::<f64>() {
            Ok(scale) if scale.is_finite() && scale > 0.0 => Ok(Self::AwsDefaults { scale }),
            _ => Err(ConfigError::new(
                "quota-scale",
                format!("{text:?} is neither a positive factor (e.g. 10) nor \"unlimited\""),
            )),
        }
    }
}

impl Default for AssumedQuota {
    fn default() -> Self {
        Self::AwsDefaults { scale: 1.0 }
    }
}

impl ApiBudget {
    pub const DEFAULT: f64 = 0.5;
    /// The smallest share: a thousandth of a quota is already a few calls a minute. Below it a
    /// pause between two calls can outgrow any clock (1e-300 is 10^298 years).
    pub const MIN_SHARE: f64 = 0.001;

    fn check(flag: &'static str, share: f64) -> Result<f64, ConfigError> {
        if (Self::MIN_SHARE..=1.0).contains(&share) {
            return Ok(share);
        }
        // 1e-300 as it was written, not as 300 digits.
        let plain = share.to_string();
        let shown = if plain.len() > 12 {
            format!("{share:e}")
        } else {
            plain
        };
        Err(ConfigError::new(
            flag,
            format!(
                "{shown} is not a share of the AWS quota; expected a number from 0.001 to 1, e.g. 0.5"
            ),
        ))
    }

    pub fn new(share: f64) -> Result<Self, ConfigError> {
        Ok(Self {
            share: Self::check("api-budget", share)?,
            overrides: BTreeMap::new(),
            quota: AssumedQuota::default(),
        })
    }

    pub fn with_assumed_quota(self, quota: AssumedQuota) -> Self {
        Self { quota, ..self }
    }

    pub fn assumed_quota(&self) -> AssumedQuota {
        self.quota
    }

    /// Adds an exception given as `CATEGORY=SHARE` (e.g. `user-list=0.2`).
    pub fn with_override(mut self, text: &str) -> Result<Self, ConfigError> {
        const FLAG: &str = "category-budget";
        let (name, share) = text.split_once('=').ok_or_else(|| {
            ConfigError::new(
                FLAG,
                format!("{text:?} is not CATEGORY=SHARE, e.g. user-list=0.2"),
            )
        })?;
        let category = QuotaCategory::from_flag_name(name.trim()).ok_or_else(|| {
            let names: Vec<_> = QuotaCategory::ALL.iter().map(|c| c.flag_name()).collect();
            ConfigError::new(
                FLAG,
                format!(
                    "{name:?} is not a quota category; use one of {}",
                    names.join(", ")
                ),
            )
        })?;
        let share: f64 = share.trim().parse().map_err(|_| {
            ConfigError::new(FLAG, format!("{share:?} in {text:?} is not a number"))
        })?;
        self.overrides.insert(category, Self::check(FLAG, share)?);
        Ok(self)
    }

    /// The share of one category's AWS default rate.
    pub fn share_for(&self, category: QuotaCategory) -> f64 {
        self.overrides.get(&category).copied().unwrap_or(self.share)
    }
}

impl Default for ApiBudget {
    fn default() -> Self {
        Self {
            share: Self::DEFAULT,
            overrides: BTreeMap::new(),
            quota: AssumedQuota::default(),
        }
    }
}

/// Everything needed to talk to one user pool.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    pub pool: PoolRef,
    pub region: String,
    pub credentials: Credentials,
    pub assume_role: Option<AssumeRole>,
    pub endpoint_url: Option<String>,
    pub api_budget: ApiBudget,
    /// How long one attempt of a call may take before it is abandoned and retried.
    pub attempt_timeout: Duration,
}

/// [`ClientSettings::attempt_timeout`] unless `--http-timeout-seconds` says otherwise: a stuck
/// call is retried well before the SDK's 300 seconds.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_ids_and_arns() {
        let pool = PoolRef::parse("us-east-1_AbC123").unwrap();
        assert_eq!(
            (pool.id.as_str(), pool.region.as_deref()),
            ("us-east-1_AbC123", Some("us-east-1"))
        );

        let arn = "arn:aws:cognito-idp:us-west-2:123456789012:userpool/us-west-2_fak3p001B";
        let pool = PoolRef::parse(arn).unwrap();
        assert_eq!(pool.id, "us-west-2_fak3p001B");
        assert_eq!(pool.region.as_deref(), Some("us-west-2"));

        let gov = PoolRef::parse("us-gov-west-1_Xy9").unwrap();
        assert_eq!(gov.region.as_deref(), Some("us-gov-west-1"));
    }

    /// #17: emulators' pool ids (cognito-local's `local_2HVVRiVR`) and keys (`test`) were refused
    /// even with --endpoint-url and --region; AWS's own patterns accept them.
    #[test]
    fn what_the_aws_patterns_accept_is_accepted_and_the_endpoint_judges() {
        for id in [
            "local_2HVVRiVR",
            "useast1_AbC",
            "us-east-01_AbC",
            "my_pool_Ab1",
        ] {
            let pool = PoolRef::parse(id).expect(id);
            assert_eq!(pool.region, None, "{id}");
            let err = resolve_region(&pool, None).unwrap_err();
            assert!(
                err.to_string().starts_with("--region: is required"),
                "{err}"
            );
            assert_eq!(
                resolve_region(&pool, Some("us-east-1")).unwrap(),
                "us-east-1"
            );
            assert_eq!(resolve_region(&pool, Some("local")).unwrap(), "local");
        }
        let secret = Secret::new("test");
        assert!(Credentials::from_flags(Some("test"), Some(&secret), None).is_ok());
        let token = Secret::new("FwoG\nZXIvYXdz");
        let err = Credentials::from_flags(Some("test"), Some(&secret), Some(&token)).unwrap_err();
        assert_eq!(err.flag, "aws-session-token");
        assert!(!err.to_string().contains("FwoG"), "{err}");
        let err = Credentials::from_flags(Some("AKIA/X"), Some(&secret), None).unwrap_err();
        assert_eq!(err.flag, "aws-access-key-id");
    }

    #[test]
    fn bad_pool_references_name_the_flag() {
        for bad in [
            "",
            "AbC123",
            "us-east-1_",
            "us-east-1_Ab-C",
            "us east-1_AbC",
            "_AbC",
            "arn:aws:cognito-idp:us-west-2:123456789012:userpool/us-east-1_Abc",
            "arn:aws:s3:us-west-2:123456789012:userpool/us-west-2_Abc",
            "arn:aws:cognito-idp:us-west-2:1234:userpool/us-west-2_Abc",
            "arn:aws:cognito-idp:us-west-2:123456789012:identitypool/us-west-2_Abc",
        ] {
            let err = PoolRef::parse(bad).expect_err(bad);
            assert!(err.to_string().starts_with("--user-pool-id: "), "{err}");
        }
    }

    #[test]
    fn region_must_agree_with_the_pool() {
        let pool = PoolRef::parse("eu-west-1_Abc").unwrap();
        assert_eq!(resolve_region(&pool, None).unwrap(), "eu-west-1");
        assert_eq!(
            resolve_region(&pool, Some("eu-west-1")).unwrap(),
            "eu-west-1"
        );
        let err = resolve_region(&pool, Some("us-east-1")).unwrap_err();
        assert!(err.to_string().contains("contradicts"), "{err}");
        assert!(resolve_region(&pool, Some("mars")).is_err());
    }

    #[test]
    fn credentials_come_in_pairs() {
        let secret = Secret::new("s3cr3t-value");
        assert!(matches!(
            Credentials::from_flags(None, None, None).unwrap(),
            Credentials::DefaultChain
        ));
        assert!(matches!(
            Credentials::from_flags(Some("AKIAIOSFODNN7EXAMPLE"), Some(&secret), None).unwrap(),
            Credentials::Static { .. }
        ));
        let err = Credentials::from_flags(Some("AKIAIOSFODNN7EXAMPLE"), None, None).unwrap_err();
        assert_eq!(err.flag, "aws-secret-access-key");
        let err = Credentials::from_flags(None, Some(&secret), None).unwrap_err();
        assert_eq!(err.flag, "aws-access-key-id");
        let err = Credentials::from_flags(Some("not a key"), Some(&secret), None).unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"));
    }

    /// #20: each pool is read with the role of its account; a pool no role can reach, a role no
    /// pool needs, or one in another account than it claims, is refused before any call.
    #[test]
    fn each_pool_gets_the_role_of_its_account() {
        const A: &str = "111111111111";
        const B: &str = "222222222222";
        let role = |account: &str| format!("arn:aws:iam::{account}:role/baton");
        let pool = |account: &str, id: &str| {
            PoolRef::parse(&format!(
                "arn:aws:cognito-idp:eu-west-1:{account}:userpool/{id}"
            ))
            .unwrap()
        };
        let (in_a, in_b) = (pool(A, "eu-west-1_A"), pool(B, "eu-west-1_B"));
        let bare = PoolRef::parse("eu-west-1_C").unwrap();
        assert_eq!(in_b.account.as_deref(), Some(B));
        assert_eq!(bare.account, None);

        let roles =
            PoolRoles::from_flags(Some(&role(A)), &[format!("{B}={}", role(B))], None).unwrap();
        let arn_for = |p: &PoolRef| roles.for_pool(p).unwrap().map(|r| r.role_arn);
        assert_eq!(arn_for(&in_a), Some(role(A)));
        assert_eq!(arn_for(&in_b), Some(role(B)));
        assert_eq!(arn_for(&bare), Some(role(A)), "a bare id takes --role-arn");
        roles.check_used(&[in_a.clone(), in_b.clone()]).unwrap();
        let unused = roles.check_used(std::slice::from_ref(&in_a)).unwrap_err();
        assert!(unused.to_string().contains(B), "{unused}");

        let only_default = PoolRoles::from_flags(Some(&role(A)), &[], None).unwrap();
        let unreachable = only_default.for_pool(&in_b).unwrap_err().to_string();
        assert!(
            unreachable.contains(&format!("--account-role {B}=")),
            "{unreachable}"
        );
        let base = PoolRoles::from_flags(None, &[], None).unwrap();
        assert!(
            base.for_pool(&in_b).unwrap().is_none(),
            "the base credentials judge"
        );

        for bad in [
            B.to_string(),
            format!("12={}", role(B)),
            format!("{A}={}", role(B)),
            format!("{B}=arn:aws:iam::{B}:user/x"),
        ] {
            let err = PoolRoles::from_flags(None, std::slice::from_ref(&bad), None).unwrap_err();
            assert_eq!(err.flag, "account-role", "{bad}");
        }
        let twice = [format!("{B}={}", role(B)), format!("{B}={}", role(B))];
        assert!(PoolRoles::from_flags(None, &twice, None).is_err());

        // One comma-separated value (BATON_ACCOUNT_ROLE), with a comma in a role name.
        let listed = format!("{A}=arn:aws:iam::{A}:role/a,b, {B}={}", role(B));
        let roles = PoolRoles::from_flags(None, &[listed], None).unwrap();
        assert_eq!(
            roles.for_pool(&in_a).unwrap().map(|r| r.role_arn),
            Some(format!("arn:aws:iam::{A}:role/a,b"))
        );
        assert_eq!(
            roles.for_pool(&in_b).unwrap().map(|r| r.role_arn),
            Some(role(B))
        );
    }

    #[test]
    fn role_arns_and_endpoints() {
        let role = AssumeRole::from_flags(Some("arn:aws:iam::123456789012:role/baton"), None)
            .unwrap()
            .expect("a role");
        assert_eq!(
            role.account(),
            "123456789012",
            "whose quotas its pools draw on"
        );
        assert!(AssumeRole::from_flags(Some("arn:aws:iam::123:role/x"), None).is_err());
        let ext = Secret::new("ext");
        let err = PoolRoles::from_flags(None, &[], Some(&ext)).unwrap_err();
        assert_eq!(err.flag, "external-id");
        assert_eq!(
            parse_endpoint_url("http://127.0.0.1:5000/").unwrap(),
            "http://127.0.0.1:5000"
        );
        assert!(parse_endpoint_url("ftp://x").is_err());
        assert!(parse_endpoint_url("not a url").is_err());
        assert!(parse_endpoint_url("http://[::1]:5000").is_ok());
        assert!(parse_endpoint_url("http://[::1]").is_ok());
        assert!(parse_endpoint_url("https://cognito-idp.us-east-1.amazonaws.com").is_ok());
        // #17: an invalid port failed only after six retries.
        for bad in [
            "http://127.0.0.1:99999",
            "http://h:0",
            "http://h:",
            "http://h:x1",
        ] {
            let err = parse_endpoint_url(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("--endpoint-url: "),
                "{bad}: {err}"
            );
        }
        // #17: a password in the URL must never reach a log line, nor the error.
        for with_password in [
            "http://user:hunter2@127.0.0.1:5000",
            "https://a:hunter2@h/x@y",
        ] {
            let err = parse_endpoint_url(with_password).unwrap_err();
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
        assert!(parse_endpoint_url("http://h:5000/path@x").is_ok());
    }

    #[test]
    fn api_budget_is_a_share_with_per_category_exceptions() {
        assert!(ApiBudget::new(0.5).is_ok());
        assert!(ApiBudget::new(1.0).is_ok());
        for bad in [0.0, -0.1, 1.5, f64::NAN] {
            assert!(ApiBudget::new(bad).is_err());
        }
        let budget = ApiBudget::new(0.5)
            .unwrap()
            .with_override("user-list=0.2")
            .unwrap();
        assert_eq!(budget.share_for(QuotaCategory::UserList), 0.2);
        assert_eq!(budget.share_for(QuotaCategory::UserRead), 0.5);
        for bad in ["user-list", "nope=0.2", "user-list=x", "user-list=2"] {
            let err = ApiBudget::default().with_override(bad).unwrap_err();
            assert_eq!(err.flag, "category-budget", "{bad}");
        }
    }

    #[test]
    fn the_assumed_quota_is_a_positive_factor_or_unlimited() {
        assert_eq!(
            AssumedQuota::parse("10").unwrap(),
            AssumedQuota::AwsDefaults { scale: 10.0 }
        );
        assert_eq!(
            AssumedQuota::parse(" Unlimited ").unwrap(),
            AssumedQuota::Unlimited
        );
        for bad in ["0", "-1", "inf", "NaN", "fast", ""] {
            let err = AssumedQuota::parse(bad).unwrap_err();
            assert_eq!(err.flag, "quota-scale", "{bad}");
        }
    }
}
