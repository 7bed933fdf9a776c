//! The flags that say which pool to read and how: the connector's own configuration, as the
//! platform's setup form shows it (`config_schema.json`). Each flag is declared once, here: its
//! clap attributes and help, and after them (`form:`) its display name, whether it is
//! required, and the constraints between flags. Whether it is secret is its type: a
//! [`Secret`] flag is secret in the form too. Hidden flags have no `form:` and are left out.

use clap::Args;

use crate::cognito::settings::ApiBudget;
use crate::connector::UserSlicing;
use crate::connector::user_activity::LastLogin;
use crate::secret::Secret;

/// What the setup form shows of one flag (a field of Baton's `field.Configuration`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FormField {
    /// The flag's field in [`PoolArgs`], which is clap's id of the argument.
    pub id: &'static str,
    pub display_name: &'static str,
    /// From the field's type: see [`FlagType`].
    pub secret: bool,
    pub required: bool,
    /// Must be given together with this flag (Baton's `RequiredTogether` constraint).
    pub together_with: Option<&'static str>,
    /// Is only meaningful with this flag (Baton's `Dependents` constraint).
    pub needs: Option<&'static str>,
}

impl FormField {
    const fn named(display_name: &'static str) -> Self {
        Self {
            id: "",
            display_name,
            secret: false,
            required: false,
            together_with: None,
            needs: None,
        }
    }

    const fn required(self) -> Self {
        Self {
            required: true,
            ..self
        }
    }

    const fn together_with(self, id: &'static str) -> Self {
        Self {
            together_with: Some(id),
            ..self
        }
    }

    const fn needs(self, id: &'static str) -> Self {
        Self {
            needs: Some(id),
            ..self
        }
    }
}

/// Whether a flag of this type holds a secret: the form's `Secret` follows the type, so a flag
/// cannot be redacted in the code and shown in the form, or the reverse.
pub trait FlagType {
    const SECRET: bool = false;
}

impl FlagType for Option<Secret> {
    const SECRET: bool = true;
}
impl FlagType for Option<String> {}
impl FlagType for String {}
impl FlagType for Vec<String> {}
impl FlagType for f64 {}
impl FlagType for bool {}
impl FlagType for UserSlicing {}
impl FlagType for LastLogin {}

/// Declares the struct of flags as written, and `PoolArgs::FORM` from each field's `form:`.
macro_rules! pool_flags {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                $(form: $form:expr;)?
                pub $field:ident: $ty:ty,
            )*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $(
                $(#[$field_meta])*
                pub $field: $ty,
            )*
        }

        impl $name {
            /// The setup form's fields, in the order of the flags.
            pub const FORM: &'static [FormField] = &[$($(
                FormField {
                    id: stringify!($field),
                    secret: <$ty as FlagType>::SECRET,
                    ..$form
                },
            )?)*];
        }
    };
}

pool_flags! {
/// Which pool to read, where, and with which credentials.
#[derive(Debug, Args)]
pub struct PoolArgs {
    /// The user pool: an id (us-east-1_AbC123) or an ARN (arn:aws:cognito-idp:REGION:ACCOUNT:userpool/ID).
    /// Repeat it (or separate with commas) for several pools in one process: their Regions and
    /// accounts may differ, and pools in one account and Region share its quotas.
    #[arg(long, env = "BATON_USER_POOL_ID", global = true, value_name = "ID|ARN", value_delimiter = ',')]
    form: FormField::named("User pool IDs or ARNs").required();
    pub user_pool_id: Vec<String>,

    /// AWS region; defaults to the region in the pool id, and must agree with it.
    #[arg(long, env = "BATON_REGION", global = true)]
    form: FormField::named("AWS region");
    pub region: Option<String>,

    /// AWS access key id (with --aws-secret-access-key); otherwise the AWS default credential chain.
    #[arg(long, env = "BATON_AWS_ACCESS_KEY_ID", global = true, hide_env_values = true)]
    form: FormField::named("AWS access key ID").together_with("aws_secret_access_key");
    pub aws_access_key_id: Option<String>,

    /// AWS secret access key.
    #[arg(long, env = "BATON_AWS_SECRET_ACCESS_KEY", global = true, hide_env_values = true, value_name = "SECRET")]
    form: FormField::named("AWS secret access key");
    pub aws_secret_access_key: Option<Secret>,

    /// AWS session token, for temporary credentials.
    #[arg(long, env = "BATON_AWS_SESSION_TOKEN", global = true, hide_env_values = true, value_name = "TOKEN")]
    form: FormField::named("AWS session token").needs("aws_access_key_id");
    pub aws_session_token: Option<Secret>,

    /// IAM role to assume (STS AssumeRole) on top of the base credentials.
    #[arg(long, env = "BATON_ROLE_ARN", global = true, value_name = "ARN")]
    form: FormField::named("IAM role ARN to assume");
    pub role_arn: Option<String>,

    /// The role for the pools of another account, as ACCOUNT=ROLE_ARN (repeatable, or
    /// comma-separated: role names may hold commas, so a comma starts a new entry only before
    /// ACCOUNT=); those pools are given as ARNs, which name their account.
    #[arg(long, env = "BATON_ACCOUNT_ROLE", global = true, value_name = "ACCOUNT=ROLE_ARN")]
    form: FormField::named("IAM role per account");
    pub account_role: Vec<String>,

    /// External id required by the roles' trust policies (--role-arn and --account-role).
    #[arg(long, env = "BATON_EXTERNAL_ID", global = true, hide_env_values = true)]
    form: FormField::named("External ID");
    pub external_id: Option<Secret>,

    /// Endpoint of every AWS call (Cognito, STS, CloudWatch Logs), for emulators; for a private
    /// Cognito endpoint alone use AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER (AWS_ENDPOINT_URL is honoured too).
    #[arg(long, env = "BATON_ENDPOINT_URL", global = true, value_name = "URL")]
    form: FormField::named("Cognito endpoint URL");
    pub endpoint_url: Option<String>,

    /// Only users matching this ListUsers filter, e.g. 'email ^= "a"' or 'status = "Enabled"'.
    #[arg(long, env = "BATON_USER_FILTER", global = true, value_name = "FILTER")]
    form: FormField::named("User filter");
    pub user_filter: Option<String>,

    /// Read each user's last sign-in: auto = in pools that record sign-ins (Plus feature plan with
    /// threat protection), one AdminListUserAuthEvents call per user; off = never.
    #[arg(long, env = "BATON_LAST_LOGIN", global = true, value_enum, default_value_t = LastLogin::Auto)]
    form: FormField::named("Last login");
    pub last_login: LastLogin,

    /// Report whether users use MFA: from the pool's MFA setting (no call), and in pools where MFA
    /// is optional, from each user's latest sign-in (the last-login call).
    #[arg(long, env = "BATON_MFA_STATUS", global = true)]
    form: FormField::named("MFA status");
    pub mfa_status: bool,

    /// Whether a sync lists users in 16 parallel `sub` slices: auto = pools large enough that it
    /// costs under 1% more calls, and smaller ones whose first pages show slices finish sooner.
    #[arg(long, env = "BATON_USER_SLICING", global = true, value_enum, default_value_t = UserSlicing::Auto, hide = true)]
    pub user_slicing: UserSlicing,

    /// Share of each Cognito request-rate quota this connector may use, from 0.001 to 1.
    #[arg(long, env = "BATON_API_BUDGET", global = true, default_value_t = ApiBudget::DEFAULT, value_name = "SHARE", allow_negative_numbers = true)]
    form: FormField::named("API budget (share of Cognito quotas)");
    pub api_budget: f64,

    /// A different share for one quota category, as CATEGORY=SHARE (repeatable; e.g.
    /// user-list=0.2). Categories: user-list, user-read, user-resource-read,
    /// user-pool-resource-read, user-pool-read, user-update, user-creation, log-filter.
    #[arg(long, env = "BATON_CATEGORY_BUDGET", global = true, value_delimiter = ',', value_name = "CATEGORY=SHARE")]
    form: FormField::named("API budget per quota category");
    pub category_budget: Vec<String>,

    /// The quotas the shares are taken of: AWS's defaults times this factor, or `unlimited` (no
    /// pacing). Only for emulators that compress time, and for measuring the connector alone.
    #[arg(long, env = "BATON_QUOTA_SCALE", global = true, default_value = "1", value_name = "FACTOR|unlimited", hide = true)]
    pub quota_scale: String,
}
}
