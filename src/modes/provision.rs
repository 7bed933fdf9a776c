//! One-shot provisioning with Baton's flags: grant, revoke, create an account, delete a user,
//! invoke or list actions. Entitlements, principals and grants are resolved from the `--file`
//! sync as Baton does, by their ids as stored there; ids are never split apart.

use std::io::Write;
use std::path::Path;

use super::{PoolSettings, RunError, fleet};
use crate::c1z::C1zReader;
use crate::connector::{Change, ConnectorError};
use crate::pb::v2::{
    AccountInfo, BatonActionStatus, CreateAccountRequest, CredentialOptions, ResourceId,
    account_info, create_account_response, credential_options,
};
use crate::pb::{struct_from_json, struct_to_json, to_protojson};

/// One provisioning request from the command line.
#[derive(Debug)]
pub enum Request {
    Grant {
        entitlement: String,
        principal: String,
        principal_type: String,
    },
    Revoke {
        grant: String,
    },
    CreateAccount {
        login: String,
        email: Option<String>,
        profile: Option<String>,
        resource_type: Option<String>,
    },
    Delete {
        resource: String,
        resource_type: String,
    },
    InvokeAction {
        name: String,
        args: String,
        resource_type: Option<String>,
    },
    ListActionSchemas {
        resource_type: Option<String>,
    },
}

impl From<ConnectorError> for RunError {
    fn from(err: ConnectorError) -> Self {
        RunError::Provision(err)
    }
}

/// The connector refusing a value from the command line before changing anything (a bad
/// argument, or an id that names nothing) is a usage error, reported against the flag the value
/// came from: `flag_for` picks it from what the connector says was wrong.
fn refused(flag_for: impl Fn(&str) -> &'static str) -> impl FnOnce(ConnectorError) -> RunError {
    move |err| match err {
        ConnectorError::InvalidArgument(message) | ConnectorError::NotFound(message) => {
            RunError::Usage(format!("{}: {message}", flag_for(&message)))
        }
        other => other.into(),
    }
}

fn json_object(
    flag: &str,
    text: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, RunError> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(RunError::Usage(format!(
            "--{flag}: expected a JSON object, e.g. {{\"key\": \"value\"}}"
        ))),
        Err(err) => Err(RunError::Usage(format!("--{flag}: not valid JSON: {err}"))),
    }
}

fn say(line: &str) -> Result<(), RunError> {
    writeln!(std::io::stdout().lock(), "{line}")?;
    Ok(())
}

pub async fn run(settings: &PoolSettings, file: &Path, request: Request) -> Result<(), RunError> {
    // Check the request fully before connecting: bad JSON and unknown ids change nothing.
    match request {
        Request::Grant {
            entitlement,
            principal,
            principal_type,
        } => {
            let reader = C1zReader::open(file)?;
            let found = reader.entitlement(&entitlement)?.ok_or_else(|| {
                RunError::Usage(format!(
                    "--grant-entitlement: {entitlement:?} is not in {}; sync first, or check the id",
                    file.display()
                ))
            })?;
            let who = reader.resource(&principal_type, &principal)?.ok_or_else(|| {
                RunError::Usage(format!(
                    "--grant-principal: {principal_type}:{principal} is not in {}; sync first, or check the id and --grant-principal-type",
                    file.display()
                ))
            })?;
            let fleet = fleet(settings).await?;
            let (grant, change) = fleet
                .grant(Some(&found), Some(&who))
                .await
                .map_err(refused(|message| {
                    if message.starts_with("principal") {
                        "--grant-principal-type"
                    } else if message.contains("user") {
                        "--grant-principal"
                    } else {
                        "--grant-entitlement"
                    }
                }))?;
            match change {
                Change::Made => say(&format!(
                    "granted {} to {principal_type}:{principal} (grant {})",
                    found.id, grant.id
                )),
                Change::AlreadySo => say(&format!(
                    "{principal_type}:{principal} already has {}; nothing changed",
                    found.id
                )),
            }
        }
        Request::Revoke { grant } => {
            let reader = C1zReader::open(file)?;
            let found = reader.grant(&grant)?.ok_or_else(|| {
                RunError::Usage(format!(
                    "--revoke-grant: {grant:?} is not in {}; sync first, or check the id",
                    file.display()
                ))
            })?;
            let fleet = fleet(settings).await?;
            match fleet
                .revoke(&found)
                .await
                .map_err(refused(|_| "--revoke-grant"))?
            {
                Change::Made => say(&format!("revoked {grant}")),
                Change::AlreadySo => say(&format!("{grant} was already revoked; nothing changed")),
            }
        }
        Request::CreateAccount {
            login,
            email,
            profile,
            resource_type,
        } => {
            let mut profile = match profile {
                Some(text) => json_object("create-account-profile", &text)?,
                None => serde_json::Map::new(),
            };
            // As Baton does: login and email are copied into the profile when absent there.
            profile
                .entry("login")
                .or_insert_with(|| login.clone().into());
            if let Some(email) = &email {
                profile
                    .entry("email")
                    .or_insert_with(|| email.clone().into());
            }
            let request = CreateAccountRequest {
                account_info: Some(AccountInfo {
                    emails: email
                        .iter()
                        .map(|address| account_info::Email {
                            address: address.clone(),
                            is_primary: true,
                        })
                        .collect(),
                    login: login.clone(),
                    login_aliases: Vec::new(),
                    profile: Some(struct_from_json(profile)),
                }),
                // Cognito's own temporary password: a password generated here could only be
                // shown in plain text, which this tool never does.
                credential_options: Some(CredentialOptions {
                    force_change_at_next_login: true,
                    options: Some(credential_options::Options::NoPassword(
                        credential_options::NoPassword {},
                    )),
                }),
                encryption_configs: Vec::new(),
                resource_type_id: resource_type.unwrap_or_default(),
            };
            let fleet = fleet(settings).await?;
            let response = fleet
                .create_account(&request)
                .await
                .map_err(refused(|message| {
                    if message.contains("resource type") {
                        "--create-account-resource-type"
                    } else if message.contains("account_info.login") {
                        "--create-account-login"
                    } else {
                        "--create-account-profile"
                    }
                }))?;
            match response.result {
                Some(create_account_response::Result::Success(done)) => {
                    let status = done
                        .resource
                        .and_then(|r| r.status)
                        .map(|s| s.details)
                        .unwrap_or_default();
                    say(&format!("created user {login} (status {status})"))
                }
                Some(create_account_response::Result::AlreadyExists(_)) => {
                    say(&format!("user {login} already exists; nothing changed"))
                }
                _ => say(&format!("create account for {login}: unexpected answer")),
            }
        }
        Request::Delete {
            resource,
            resource_type,
        } => {
            let id = ResourceId {
                resource_type: resource_type.clone(),
                resource: resource.clone(),
                baton_resource: false,
            };
            let fleet = fleet(settings).await?;
            let deleted = fleet
                .delete_resource(Some(&id))
                .await
                .map_err(refused(|message| {
                    if message.starts_with("unknown resource type") {
                        "--delete-resource-type"
                    } else {
                        "--delete-resource"
                    }
                }))?;
            match deleted {
                Change::Made => say(&format!("deleted {resource_type}:{resource}")),
                Change::AlreadySo => say(&format!(
                    "{resource_type}:{resource} did not exist; nothing changed"
                )),
            }
        }
        Request::InvokeAction {
            name,
            args,
            resource_type,
        } => {
            let args = struct_from_json(json_object("invoke-action-args", &args)?);
            let fleet = fleet(settings).await?;
            let outcome = fleet
                .invoke_action(
                    &name,
                    resource_type.as_deref().unwrap_or_default(),
                    Some(&args),
                )
                .await
                .map_err(refused(|message| {
                    if message.contains("resource type") {
                        "--invoke-action-resource-type"
                    } else if message.starts_with("action ") {
                        "--invoke-action"
                    } else {
                        "--invoke-action-args"
                    }
                }))?;
            let response = struct_to_json(&outcome.response).to_string();
            match outcome.status {
                BatonActionStatus::Complete => say(&format!(
                    "action {name} ({}) completed: {response}",
                    outcome.id
                )),
                _ => Err(RunError::ActionFailed(format!(
                    "action {name} ({}) failed: {response}",
                    outcome.id
                ))),
            }
        }
        Request::ListActionSchemas { resource_type } => {
            let fleet = fleet(settings).await?;
            let schemas: Vec<_> = fleet
                .action_schemas(resource_type.as_deref().unwrap_or_default())
                .iter()
                .map(to_protojson)
                .collect::<Result<_, _>>()?;
            let text = serde_json::to_string_pretty(&serde_json::json!({ "schemas": schemas }))
                .unwrap_or_default();
            say(&text)
        }
    }
}
