//! Account actions: `enable_user` and `disable_user` (account lifecycle) and `sign_out_user`
//! (incident response), registered as global actions with a string `user_id`, as the platform's
//! account-lifecycle steps look them up.
//!
//! Each completes inline (one Cognito call), so an invocation answers COMPLETE or FAILED at
//! once; its outcome is kept in a bounded history for GetActionStatus.

use std::collections::VecDeque;
use std::sync::Mutex;

use prost_types::value::Kind;
use prost_types::{Struct, Value};

use super::error::{ConnectorError, Result};
use super::users;
use crate::cognito::PoolClient;
use crate::pb::config::{self as config_v1, field::Field as FieldKind};
use crate::pb::v2::{ActionType, BatonActionSchema, BatonActionStatus};

pub const ENABLE_USER: &str = "enable_user";
pub const DISABLE_USER: &str = "disable_user";
pub const SIGN_OUT_USER: &str = "sign_out_user";
pub const USER_ID: &str = "user_id";

/// Finished invocations kept for GetActionStatus, as the Baton SDK keeps them.
const HISTORY: usize = 1000;

fn string_field(
    name: &str,
    display_name: &str,
    description: &str,
    required: bool,
) -> config_v1::Field {
    config_v1::Field {
        name: name.to_string(),
        display_name: display_name.to_string(),
        description: description.to_string(),
        is_required: required,
        field: Some(FieldKind::StringField(config_v1::StringField::default())),
        ..config_v1::Field::default()
    }
}

fn schema(
    name: &str,
    display_name: &str,
    description: &str,
    kinds: &[ActionType],
) -> BatonActionSchema {
    BatonActionSchema {
        name: name.to_string(),
        display_name: display_name.to_string(),
        description: description.to_string(),
        arguments: vec![string_field(
            USER_ID,
            "User ID",
            "The Cognito username of the user",
            true,
        )],
        return_types: vec![
            config_v1::Field {
                name: "success".to_string(),
                display_name: "Success".to_string(),
                field: Some(FieldKind::BoolField(config_v1::BoolField::default())),
                ..config_v1::Field::default()
            },
            string_field("error", "Error", "Why the action failed", false),
        ],
        action_type: kinds.iter().map(|kind| *kind as i32).collect(),
        ..BatonActionSchema::default()
    }
}

/// The schemas of every action, all global.
pub fn schemas() -> Vec<BatonActionSchema> {
    vec![
        schema(
            ENABLE_USER,
            "Enable user",
            "Allow the user to sign in again (AdminEnableUser)",
            &[ActionType::AccountEnable, ActionType::Account],
        ),
        schema(
            DISABLE_USER,
            "Disable user",
            "Stop the user from signing in, keeping the account (AdminDisableUser)",
            &[ActionType::AccountDisable, ActionType::Account],
        ),
        schema(
            SIGN_OUT_USER,
            "Sign user out everywhere",
            "Revoke every refresh token of the user, so that no app gets new tokens without a new \
             sign-in; tokens already issued stay valid until they expire (AdminUserGlobalSignOut)",
            &[ActionType::Account],
        ),
    ]
}

/// What an action does to its user.
enum UserChange {
    Enable,
    Disable,
    SignOut,
}

/// The outcome of one invocation.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionOutcome {
    pub id: String,
    pub name: String,
    pub status: BatonActionStatus,
    pub response: Struct,
}

/// Recent outcomes, oldest first.
#[derive(Default)]
pub struct ActionHistory(Mutex<VecDeque<ActionOutcome>>);

impl ActionHistory {
    fn record(&self, outcome: &ActionOutcome) {
        let mut history = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(outcome.clone());
    }

    pub fn find(&self, id: &str) -> Option<ActionOutcome> {
        let history = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        history.iter().find(|o| o.id == id).cloned()
    }
}

/// The `user_id` argument: a non-empty string.
/// The `user_id` argument of an action: a non-empty string.
pub fn user_id(args: Option<&Struct>) -> Result<String> {
    match args
        .and_then(|a| a.fields.get(USER_ID))
        .and_then(|v| v.kind.as_ref())
    {
        Some(Kind::StringValue(id)) if !id.trim().is_empty() => {
            Ok(super::model::checked_id(USER_ID, id)?.to_string())
        }
        Some(Kind::StringValue(_)) | None => Err(ConnectorError::InvalidArgument(format!(
            "argument {USER_ID:?} (the Cognito username) is required"
        ))),
        Some(_) => Err(ConnectorError::InvalidArgument(format!(
            "argument {USER_ID:?} must be a string"
        ))),
    }
}

fn response(success: bool, error: Option<String>) -> Struct {
    let mut fields = std::collections::BTreeMap::from([(
        "success".to_string(),
        Value {
            kind: Some(Kind::BoolValue(success)),
        },
    )]);
    if let Some(error) = error {
        fields.insert(
            "error".to_string(),
            Value {
                kind: Some(Kind::StringValue(error)),
            },
        );
    }
    Struct { fields }
}

/// Runs an action to completion. A malformed request is an error; a well-formed one that
/// fails in Cognito is a FAILED outcome carrying the reason.
pub async fn invoke(
    pool: &PoolClient,
    history: &ActionHistory,
    name: &str,
    resource_type_id: &str,
    args: Option<&Struct>,
    username_of: impl FnOnce(&str) -> Result<String>,
) -> Result<ActionOutcome> {
    let change = match name {
        ENABLE_USER => UserChange::Enable,
        DISABLE_USER => UserChange::Disable,
        SIGN_OUT_USER => UserChange::SignOut,
        _ => {
            return Err(ConnectorError::NotFound(format!(
                "action {name:?} not found"
            )));
        }
    };
    if !resource_type_id.is_empty() {
        return Err(ConnectorError::NotFound(format!(
            "action {name:?} is global, not scoped to resource type {resource_type_id:?}"
        )));
    }
    let username = username_of(&user_id(args)?)?;
    let done = match change {
        UserChange::Enable => users::set_enabled(pool, &username, true).await,
        UserChange::Disable => users::set_enabled(pool, &username, false).await,
        UserChange::SignOut => users::sign_out(pool, &username).await,
    };
    let (status, response) = match done {
        Ok(()) => (BatonActionStatus::Complete, response(true, None)),
        Err(err) => (
            BatonActionStatus::Failed,
            response(false, Some(err.to_string())),
        ),
    };
    let outcome = ActionOutcome {
        id: crate::ksuid::new(),
        name: name.to_string(),
        status,
        response,
    };
    history.record(&outcome);
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_are_global_with_a_string_user_id() {
        let schemas = schemas();
        let names: Vec<&str> = schemas.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, [ENABLE_USER, DISABLE_USER, SIGN_OUT_USER]);
        for schema in &schemas {
            assert!(schema.resource_type_id.is_empty());
            assert_eq!(schema.arguments[0].name, "user_id");
            assert!(schema.arguments[0].is_required);
            assert!(schema.action_type.contains(&(ActionType::Account as i32)));
        }
        assert!(
            schemas[0]
                .action_type
                .contains(&(ActionType::AccountEnable as i32))
        );
        assert!(
            schemas[1]
                .action_type
                .contains(&(ActionType::AccountDisable as i32))
        );
        assert_eq!(
            schemas[2].action_type,
            [ActionType::Account as i32],
            "signing out is no lifecycle change"
        );
    }

    #[test]
    fn the_user_id_must_be_a_non_empty_string() {
        let args = |value: Kind| Struct {
            fields: [(USER_ID.to_string(), Value { kind: Some(value) })].into(),
        };
        assert_eq!(
            user_id(Some(&args(Kind::StringValue("ann".into())))).unwrap(),
            "ann"
        );
        assert!(user_id(Some(&args(Kind::StringValue(" ".into())))).is_err());
        assert!(user_id(Some(&args(Kind::NumberValue(1.0)))).is_err());
        assert!(user_id(None).is_err());
    }

    #[test]
    fn the_history_is_bounded() {
        let history = ActionHistory::default();
        for i in 0..HISTORY + 5 {
            history.record(&ActionOutcome {
                id: i.to_string(),
                name: ENABLE_USER.into(),
                status: BatonActionStatus::Complete,
                response: Struct::default(),
            });
        }
        assert!(history.find("0").is_none());
        assert!(history.find(&(HISTORY + 4).to_string()).is_some());
    }
}
