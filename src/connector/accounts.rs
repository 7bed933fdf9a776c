//! Account creation: Baton's `CreateAccount` as Cognito's AdminCreateUser. The login becomes
//! the username, the primary email and every other profile key become attributes, and the
//! password is Cognito's own temporary one or a random one to the pool's policy, returned
//! encrypted to the caller.

use super::error::{ConnectorError, Result};
use super::model;
use super::users;
use crate::cognito::{CognitoError, NewUser, PoolClient};
use crate::credentials;
use crate::pb::v2::{
    CreateAccountRequest, CreateAccountResponse, Resource, create_account_response,
    credential_options,
};
use crate::secret::Secret;

/// Profile keys that steer account creation instead of becoming Cognito attributes.
const LOGIN: &str = "login";
const EMAIL: &str = "email";
pub const SEND_INVITE_EMAIL: &str = "send_invite_email";

/// The password the new account starts with.
enum InitialPassword {
    /// Cognito generates a temporary one (sent only with the invitation).
    Cognito,
    /// A random one that satisfies the pool's policy, returned encrypted to the caller.
    Random { password: Secret, permanent: bool },
}

/// A profile value as Cognito attribute text.
fn attribute_text(key: &str, value: &prost_types::Value) -> Result<Option<String>> {
    use prost_types::value::Kind;
    match value.kind.as_ref() {
        None | Some(Kind::NullValue(_)) => Ok(None),
        Some(Kind::StringValue(text)) => Ok(Some(text.clone())),
        Some(Kind::BoolValue(flag)) => Ok(Some(flag.to_string())),
        Some(Kind::NumberValue(n)) if n.fract() == 0.0 && n.abs() < 1e15 => {
            Ok(Some(format!("{}", *n as i64)))
        }
        Some(Kind::NumberValue(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(ConnectorError::InvalidArgument(format!(
            "profile key {key:?} must be a string, number or boolean to become a Cognito attribute"
        ))),
    }
}

/// The profile key of a new account that names its pool, when the process holds several.
pub const POOL_KEY: &str = "user_pool_id";

/// Creates a Cognito user from Baton's account request: login = username, the primary email,
/// and every other profile key forwarded as an attribute under its exact name
/// (`given_name`, `custom:department`, ...). Cognito's invitation is suppressed unless the
/// profile asks for it with `send_invite_email`.
pub async fn create_account(
    pool: &PoolClient,
    request: &CreateAccountRequest,
) -> Result<CreateAccountResponse> {
    if !matches!(request.resource_type_id.as_str(), "" | users::TYPE_ID) {
        return Err(ConnectorError::InvalidArgument(format!(
            "accounts are users; resource type {:?} cannot be created",
            request.resource_type_id
        )));
    }
    let info = request
        .account_info
        .as_ref()
        .ok_or_else(|| ConnectorError::InvalidArgument("account_info is required".to_string()))?;
    let empty = prost_types::Struct::default();
    let profile = info.profile.as_ref().unwrap_or(&empty);
    let profile_text = |key: &str| -> Result<Option<String>> {
        profile
            .fields
            .get(key)
            .map_or(Ok(None), |v| attribute_text(key, v))
    };
    let login = Some(info.login.trim().to_string())
        .filter(|l| !l.is_empty())
        .or(profile_text(LOGIN)?.filter(|l| !l.trim().is_empty()))
        .ok_or_else(|| {
            ConnectorError::InvalidArgument(
                "account_info.login (the Cognito username) is required".to_string(),
            )
        })?;
    if login.chars().count() > model::MAX_USERNAME_CHARS {
        return Err(ConnectorError::InvalidArgument(format!(
            "account_info.login is {} characters long; Cognito usernames are at most {} ({})",
            login.chars().count(),
            model::MAX_USERNAME_CHARS,
            model::shown(&login)
        )));
    }
    let email = info
        .emails
        .iter()
        .find(|e| e.is_primary)
        .or_else(|| info.emails.first())
        .map(|e| e.address.clone())
        .filter(|e| !e.is_empty())
        .or(profile_text(EMAIL)?);
    let send_invitation = match profile_text(SEND_INVITE_EMAIL)?.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ConnectorError::InvalidArgument(format!(
                "profile key {SEND_INVITE_EMAIL:?} must be true or false, not {other:?}"
            )));
        }
    };
    let mut attributes: Vec<(String, String)> = email
        .iter()
        .map(|e| (EMAIL.to_string(), e.clone()))
        .collect();
    for (key, value) in &profile.fields {
        if [LOGIN, EMAIL, SEND_INVITE_EMAIL].contains(&key.as_str()) {
            continue;
        }
        if let Some(text) = attribute_text(key, value)? {
            attributes.push((key.clone(), text));
        }
    }

    let options = request.credential_options.as_ref();
    let initial = match options.and_then(|o| o.options.as_ref()) {
        None | Some(credential_options::Options::NoPassword(_)) => InitialPassword::Cognito,
        Some(credential_options::Options::RandomPassword(random)) => {
            let policy = pool
                .describe_user_pool()
                .await?
                .password_policy
                .unwrap_or_default();
            let password = credentials::generate_password(&policy, random)?;
            InitialPassword::Random {
                password,
                permanent: !options.is_some_and(|o| o.force_change_at_next_login),
            }
        }
        Some(_) => {
            return Err(ConnectorError::InvalidArgument(
                "only the no-password and random-password credential options are supported"
                    .to_string(),
            ));
        }
    };
    // Encrypt before creating anything, so a bad encryption config changes nothing.
    let encrypted_data = match &initial {
        InitialPassword::Cognito => Vec::new(),
        InitialPassword::Random { password, .. } => {
            if request.encryption_configs.is_empty() {
                return Err(ConnectorError::InvalidArgument(
                    "a random password needs at least one encryption config to be returned in"
                        .to_string(),
                ));
            }
            credentials::encrypt_secret(
                password,
                "password",
                "Initial password of the new Cognito user",
                &request.encryption_configs,
            )?
        }
    };
    let temporary_password = match &initial {
        InitialPassword::Random { password, .. } => Some(password),
        InitialPassword::Cognito => None,
    };
    let created = pool
        .create_user(&NewUser {
            username: &login,
            attributes: &attributes,
            temporary_password,
            send_invitation,
        })
        .await;
    match created {
        Ok(()) => {}
        Err(CognitoError::UsernameExists { .. }) => {
            // Only a user that reads back is reported as existing.
            let resource = Some(users::get(pool, &login).await?);
            return Ok(CreateAccountResponse {
                result: Some(create_account_response::Result::AlreadyExists(
                    create_account_response::AlreadyExistsResult {
                        resource,
                        is_create_account_result: true,
                    },
                )),
                ..CreateAccountResponse::default()
            });
        }
        Err(err) => return Err(err.into()),
    }
    if let InitialPassword::Random {
        password,
        permanent: true,
    } = &initial
    {
        pool.set_permanent_password(&login, password).await?;
    }
    tracing::info!(username = %login, send_invitation, "created user");
    // Read back consistently: ListUsers is eventually consistent, and may not list it yet.
    let resource = users::get_consistently(pool, &login).await?;
    Ok(CreateAccountResponse {
        result: Some(create_account_response::Result::Success(
            create_account_response::SuccessResult {
                resource: Some(resource),
                is_create_account_result: true,
                invitation_expires_at: None,
            },
        )),
        encrypted_data,
        annotations: Vec::new(),
    })
}

/// Changes the resource a creation answer carries, whichever result it is (the connector
/// qualifies its id when the process holds several pools).
pub fn map_resource(
    response: &mut CreateAccountResponse,
    change: impl FnOnce(Resource) -> Resource,
) {
    use create_account_response::Result as Answer;
    let resource = match response.result.as_mut() {
        Some(Answer::Success(done)) => &mut done.resource,
        Some(Answer::AlreadyExists(done)) => &mut done.resource,
        Some(Answer::ActionRequired(done)) => &mut done.resource,
        Some(Answer::InProgress(done)) => &mut done.resource,
        None => return,
    };
    *resource = resource.take().map(change);
}
