//! Provisioning end to end: over gRPC against the connector server and through the one-shot CLI,
//! against the emulator; every change is checked by reading the pool back through the AWS API.

use crate::support::*;
use baton_cognito::cognito::CognitoError;
use baton_cognito::pb::v2::account_manager_service_client::AccountManagerServiceClient;
use baton_cognito::pb::v2::action_service_client::ActionServiceClient;
use baton_cognito::pb::v2::grant_manager_service_client::GrantManagerServiceClient;
use baton_cognito::pb::v2::resource_deleter_service_client::ResourceDeleterServiceClient;
use baton_cognito::pb::v2::resource_manager_service_client::ResourceManagerServiceClient;
use baton_cognito::pb::v2::*;
use baton_cognito::pb::{pack, struct_from_json};
use serde_json::json;
use test_case::test_case;
use tonic::Code;
use tonic::transport::Channel;

fn seed(emulator: &Emulator) -> Pool {
    emulator.create_pool(small_pool("provision"))
}

async fn provisioning_server(emulator: &Emulator, pool: &Pool) -> (Server, Channel) {
    let server = Server::start(&pool_env(emulator, pool), &["--provisioning"]);
    let channel = server.channel().await;
    (server, channel)
}

#[tokio::test(flavor = "multi_thread")]
async fn grant_and_revoke_change_memberships_idempotently() {
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let aws = aws_client(emulator, &pool).await;
    let (_server, channel) = provisioning_server(emulator, &pool).await;
    let mut client = GrantManagerServiceClient::new(channel);

    for group in ["admins", "team: red/blue"] {
        let first = client
            .grant(grant_request(group, resource("user", "ann")))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(first.grants.len(), 1);
        assert_eq!(first.grants[0].id, format!("group:{group}:member:user:ann"));
        assert!(
            first.annotations.is_empty(),
            "a new membership carries no annotation"
        );
        assert!(
            aws.groups_of_user("ann")
                .await
                .unwrap()
                .contains(&group.to_string()),
            "ann is in {group}"
        );

        let again = client
            .grant(grant_request(group, resource("user", "ann")))
            .await
            .unwrap()
            .into_inner();
        assert!(has_annotation::<GrantAlreadyExists>(&again.annotations));
        assert_eq!(again.grants[0].id, first.grants[0].id);
    }

    let revoked = client
        .revoke(revoke_request("admins", "bob:smith"))
        .await
        .unwrap()
        .into_inner();
    assert!(revoked.annotations.is_empty());
    assert!(
        !aws.groups_of_user("bob:smith")
            .await
            .unwrap()
            .contains(&"admins".to_string())
    );
    let again = client
        .revoke(revoke_request("admins", "bob:smith"))
        .await
        .unwrap()
        .into_inner();
    assert!(has_annotation::<GrantAlreadyRevoked>(&again.annotations));

    assert_eq!(
        aws.groups_of_user("cara").await.unwrap(),
        Vec::<String>::new(),
        "cara untouched"
    );
}

/// The pool the refused grants and revokes are sent for, each by a server of its own (seeded
/// once, as none of them may change it).
fn refusals_pool() -> &'static Pool {
    static POOL: std::sync::OnceLock<Pool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| seed(Emulator::shared()))
}

/// Grants of wrong shapes and missing things, each refused with its own code and nothing
/// changed.
#[test_case(grant_request("admins", resource("group", "team: red/blue")), Code::InvalidArgument, "not a user" ; "grant to a group")]
#[test_case(grant_request("admins", resource("user", "nobody")), Code::NotFound, "nobody" ; "grant to a missing user")]
#[test_case(grant_request("no-such-group", resource("user", "ann")), Code::NotFound, "no-such-group" ; "grant of a missing group")]
#[test_case(GrantManagerServiceGrantRequest {
    entitlement: Some(Entitlement {
        id: "group:admins:owner".into(),
        ..member_of("admins")
    }),
    principal: Some(resource("user", "ann")),
    annotations: vec![],
}, Code::InvalidArgument, "not a group membership" ; "grant of an entitlement that is no membership")]
#[test_case(GrantManagerServiceGrantRequest::default(), Code::InvalidArgument, "required" ; "empty grant request")]
#[tokio::test(flavor = "multi_thread")]
async fn refused_grants(request: GrantManagerServiceGrantRequest, code: Code, text: &str) {
    let emulator = Emulator::shared();
    let pool = refusals_pool();
    let aws = aws_client(emulator, pool).await;
    let (_server, channel) = provisioning_server(emulator, pool).await;
    let err = GrantManagerServiceClient::new(channel)
        .grant(request)
        .await
        .unwrap_err();
    assert_eq!(err.code(), code, "{err}");
    assert!(err.message().contains(text), "{}", err.message());
    assert_eq!(
        aws.groups_of_user("cara").await.unwrap(),
        Vec::<String>::new(),
        "cara untouched"
    );
}

/// Revokes of missing things and of nothing, each refused with its own code and nothing
/// changed.
#[test_case(revoke_request("admins", "nobody"), Code::NotFound ; "revoke of a missing user")]
#[test_case(revoke_request("no-such-group", "ann"), Code::NotFound ; "revoke from a missing group")]
#[test_case(GrantManagerServiceRevokeRequest::default(), Code::InvalidArgument ; "empty revoke request")]
#[tokio::test(flavor = "multi_thread")]
async fn refused_revokes(request: GrantManagerServiceRevokeRequest, code: Code) {
    let emulator = Emulator::shared();
    let pool = refusals_pool();
    let aws = aws_client(emulator, pool).await;
    let (_server, channel) = provisioning_server(emulator, pool).await;
    assert_eq!(
        GrantManagerServiceClient::new(channel)
            .revoke(request)
            .await
            .unwrap_err()
            .code(),
        code
    );
    assert_eq!(
        aws.groups_of_user("cara").await.unwrap(),
        Vec::<String>::new(),
        "cara untouched"
    );
}

fn account(login: &str, profile: serde_json::Value) -> CreateAccountRequest {
    let serde_json::Value::Object(profile) = profile else {
        panic!("profile is an object")
    };
    CreateAccountRequest {
        account_info: Some(AccountInfo {
            emails: vec![account_info::Email {
                address: format!("{login}@example.com"),
                is_primary: true,
            }],
            login: login.into(),
            login_aliases: vec![],
            profile: Some(struct_from_json(profile)),
        }),
        ..CreateAccountRequest::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn create_account_with_cognitos_password_forwards_attributes_and_is_idempotent() {
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let aws = aws_client(emulator, &pool).await;
    let (_server, channel) = provisioning_server(emulator, &pool).await;
    let mut client = AccountManagerServiceClient::new(channel);

    let request = account(
        "dana",
        json!({"given_name": "Dana", "family_name": "Scully", "custom:department": "X-Files", "custom:level": 3}),
    );
    let created = client
        .create_account(request.clone())
        .await
        .unwrap()
        .into_inner();
    let Some(create_account_response::Result::Success(success)) = created.result else {
        panic!("{created:?}")
    };
    assert!(success.is_create_account_result);
    let resource = success.resource.unwrap();
    assert_eq!(resource.id.unwrap().resource, "dana");
    assert_eq!(resource.display_name, "Dana Scully");
    assert!(
        created.encrypted_data.is_empty(),
        "Cognito's own password is never returned"
    );

    let user = aws.get_user("dana").await.unwrap();
    assert_eq!(user.attribute("email"), Some("dana@example.com"));
    assert_eq!(user.attribute("given_name"), Some("Dana"));
    assert_eq!(user.attribute("custom:department"), Some("X-Files"));
    assert_eq!(user.attribute("custom:level"), Some("3"));
    assert_eq!(user.attribute("send_invite_email"), None);
    assert_eq!(user.status, "FORCE_CHANGE_PASSWORD");

    let again = client.create_account(request).await.unwrap().into_inner();
    let Some(create_account_response::Result::AlreadyExists(existing)) = again.result else {
        panic!("{again:?}")
    };
    assert_eq!(existing.resource.unwrap().id.unwrap().resource, "dana");

    // Bad requests change nothing.
    for (request, text) in [
        (account("", json!({})), "login"),
        (
            account("eve", json!({"send_invite_email": "maybe"})),
            "send_invite_email",
        ),
        (account("eve", json!({"nested": {"a": 1}})), "nested"),
        (
            CreateAccountRequest {
                credential_options: Some(CredentialOptions {
                    force_change_at_next_login: false,
                    options: Some(credential_options::Options::RandomPassword(
                        credential_options::RandomPassword {
                            length: 20,
                            constraints: vec![],
                        },
                    )),
                }),
                ..account("eve", json!({}))
            },
            "encryption config",
        ),
        (
            CreateAccountRequest {
                resource_type_id: "group".into(),
                ..account("eve", json!({}))
            },
            "group",
        ),
    ] {
        let err = client.create_account(request).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err}");
        assert!(err.message().contains(text), "{}", err.message());
    }
    assert!(
        matches!(
            aws.get_user("eve").await,
            Err(CognitoError::UserNotFound { .. })
        ),
        "eve was never created"
    );

    // Cognito's own refusal of an attribute comes back as INVALID_ARGUMENT with its reason.
    emulator.inject(json!([{"operation": "AdminCreateUser", "kind": "error", "count": 1, "pool_id": pool.id,
        "error_type": "InvalidParameterException", "status": 400, "message": "Attributes did not conform to the schema: custom:nope"}]));
    let err = client
        .create_account(account("fay", json!({"custom:nope": "x"})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("custom:nope"), "{}", err.message());

    // Without --provisioning the same request is refused.
    let plain = Server::start(&pool_env(emulator, &pool), &[]);
    let err = AccountManagerServiceClient::new(plain.channel().await)
        .create_account(account("gil", json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
}

/// The two delete services Baton callers use; both delete the same way.
#[derive(Clone, Copy, Debug)]
enum DeleteService {
    ResourceManager,
    ResourceDeleter,
}

async fn delete(
    channel: &Channel,
    service: DeleteService,
    id: Option<ResourceId>,
) -> Result<Vec<prost_types::Any>, tonic::Status> {
    Ok(match service {
        DeleteService::ResourceManager => {
            ResourceManagerServiceClient::new(channel.clone())
                .delete_resource(DeleteResourceRequest {
                    resource_id: id,
                    parent_resource_id: None,
                })
                .await?
                .into_inner()
                .annotations
        }
        DeleteService::ResourceDeleter => {
            ResourceDeleterServiceClient::new(channel.clone())
                .delete_resource_v2(DeleteResourceV2Request {
                    resource_id: id,
                    parent_resource_id: None,
                })
                .await?
                .into_inner()
                .annotations
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_removes_users_once_and_refuses_groups() {
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let aws = aws_client(emulator, &pool).await;
    let (_server, channel) = provisioning_server(emulator, &pool).await;
    let id = |type_id: &str, name: &str| {
        Some(ResourceId {
            resource_type: type_id.into(),
            resource: name.into(),
            baton_resource: false,
        })
    };

    for (service, user) in [
        (DeleteService::ResourceManager, "cara"),
        (DeleteService::ResourceDeleter, "bob:smith"),
    ] {
        let first = delete(&channel, service, id("user", user)).await.unwrap();
        assert!(first.is_empty(), "{service:?}");
        assert!(
            matches!(
                aws.get_user(user).await,
                Err(CognitoError::UserNotFound { .. })
            ),
            "{user} is gone"
        );
        let again = delete(&channel, service, id("user", user)).await.unwrap();
        assert!(
            has_annotation::<ResourceDoesNotExist>(&again),
            "{service:?}: already gone is success"
        );

        let err = delete(&channel, service, id("group", "admins"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(
            err.message().contains("cannot be deleted"),
            "{}",
            err.message()
        );
        for bad in [None, id("widget", "x"), id("user", "")] {
            let err = delete(&channel, service, bad).await.unwrap_err();
            assert!(
                matches!(err.code(), Code::InvalidArgument | Code::NotFound),
                "{err}"
            );
        }
    }
    assert!(
        aws.get_group("admins").await.is_ok(),
        "the group is still there"
    );
    assert!(aws.get_user("ann").await.is_ok(), "ann untouched");
}

fn args(user_id: serde_json::Value) -> Option<prost_types::Struct> {
    let serde_json::Value::Object(map) = json!({ "user_id": user_id }) else {
        unreachable!()
    };
    Some(struct_from_json(map))
}

#[tokio::test(flavor = "multi_thread")]
async fn enable_and_disable_actions_are_idempotent_and_remembered() {
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let aws = aws_client(emulator, &pool).await;
    let (_server, channel) = provisioning_server(emulator, &pool).await;
    let mut client = ActionServiceClient::new(channel);

    let schemas = client
        .list_action_schemas(ListActionSchemasRequest::default())
        .await
        .unwrap()
        .into_inner()
        .schemas;
    assert_eq!(
        schemas.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        vec!["enable_user", "disable_user", "sign_out_user"]
    );
    let scoped = client
        .list_action_schemas(ListActionSchemasRequest {
            resource_type_id: "user".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(scoped.schemas.is_empty(), "the actions are global");
    let schema = client
        .get_action_schema(GetActionSchemaRequest {
            name: "disable_user".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        schema
            .schema
            .unwrap()
            .action_type
            .contains(&(ActionType::AccountDisable as i32))
    );
    assert_eq!(
        client
            .get_action_schema(GetActionSchemaRequest {
                name: "nope".into(),
                ..Default::default()
            })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );

    let invoke = |name: &str, user: serde_json::Value| InvokeActionRequest {
        name: name.into(),
        args: args(user),
        ..Default::default()
    };
    for _ in 0..2 {
        let done = client
            .invoke_action(invoke("disable_user", json!("ann")))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(done.status, BatonActionStatus::Complete as i32);
        assert_eq!(done.id.len(), 27, "a KSUID");
        assert!(!aws.get_user("ann").await.unwrap().enabled);
    }
    let done = client
        .invoke_action(invoke("enable_user", json!("ann")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.status, BatonActionStatus::Complete as i32);
    assert!(aws.get_user("ann").await.unwrap().enabled);
    let status = client
        .get_action_status(GetActionStatusRequest {
            id: done.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (status.name.as_str(), status.status),
        ("enable_user", BatonActionStatus::Complete as i32)
    );

    let failed = client
        .invoke_action(invoke("disable_user", json!("nobody")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(failed.status, BatonActionStatus::Failed as i32);
    let response = failed.response.unwrap();
    assert!(
        matches!(response.fields["error"].kind, Some(prost_types::value::Kind::StringValue(ref e)) if e.contains("nobody"))
    );

    for (request, code) in [
        (invoke("disable_user", json!(42)), Code::InvalidArgument),
        (
            InvokeActionRequest {
                name: "enable_user".into(),
                ..Default::default()
            },
            Code::InvalidArgument,
        ),
        (invoke("explode_user", json!("ann")), Code::NotFound),
    ] {
        assert_eq!(
            client.invoke_action(request).await.unwrap_err().code(),
            code
        );
    }
    assert_eq!(
        client
            .get_action_status(GetActionStatusRequest {
                id: "unknown".into(),
                ..Default::default()
            })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );

    let plain = Server::start(&pool_env(emulator, &pool), &[]);
    let err = ActionServiceClient::new(plain.channel().await)
        .invoke_action(invoke("disable_user", json!("ann")))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "changes need --provisioning"
    );
    assert!(aws.get_user("ann").await.unwrap().enabled);
}

/// #19: `sign_out_user` revokes the user's refresh tokens (AdminUserGlobalSignOut): a token that
/// refreshed before the action is refused after it. Gated and answered like enable/disable.
#[tokio::test(flavor = "multi_thread")]
async fn sign_out_user_revokes_every_refresh_token_of_the_user() {
    use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let SignedIn {
        sdk,
        app_id,
        refresh_token,
    } = sign_in_with_password(emulator, &pool, "ann").await;
    let app_id = app_id.as_str();
    let refresh = || {
        sdk.admin_initiate_auth()
            .user_pool_id(&pool.id)
            .client_id(app_id)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", &refresh_token)
            .send()
    };
    refresh()
        .await
        .expect("the token refreshes before the action");

    let sign_out = InvokeActionRequest {
        name: "sign_out_user".into(),
        args: args(json!("ann")),
        ..Default::default()
    };
    let plain = Server::start(&pool_env(emulator, &pool), &[]);
    let refused = ActionServiceClient::new(plain.channel().await)
        .invoke_action(sign_out.clone())
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Code::FailedPrecondition,
        "needs --provisioning"
    );
    refresh().await.expect("a refused action signs no one out");

    let (_server, channel) = provisioning_server(emulator, &pool).await;
    let mut client = ActionServiceClient::new(channel);
    for _ in 0..2 {
        let done = client
            .invoke_action(sign_out.clone())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(done.status, BatonActionStatus::Complete as i32, "{done:?}");
    }
    let err = refresh().await.expect_err("the refresh token is revoked");
    assert!(
        format!("{:?}", err.into_service_error()).contains("NotAuthorized"),
        "refused as not authorized"
    );
    let failed = client
        .invoke_action(InvokeActionRequest {
            args: args(json!("nobody")),
            ..sign_out
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(failed.status, BatonActionStatus::Failed as i32);
    let schema = client
        .get_action_schema(GetActionSchemaRequest {
            name: "sign_out_user".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .schema
        .unwrap();
    assert_eq!(schema.action_type, vec![ActionType::Account as i32]);
    assert_eq!(schema.arguments[0].name, "user_id");
}

#[test]
fn the_one_shot_cli_provisions_with_batons_flags() {
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let env = pool_env(emulator, &pool);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let f = file.to_str().unwrap();
    assert!(run_binary(&["-f", f], &env).status.success(), "sync first");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let aws = runtime.block_on(aws_client(emulator, &pool));
    let run = |args: &[&str]| {
        let mut argv = vec!["-f", f];
        argv.extend(args);
        let out = run_binary(&argv, &env);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };

    let grant = [
        "--grant-entitlement",
        "group:team: red/blue:member",
        "--grant-principal",
        "bob:smith",
        "--grant-principal-type",
        "user",
    ];
    let (code, out) = run(&grant);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("granted group:team: red/blue:member to user:bob:smith"),
        "{out}"
    );
    assert!(
        runtime
            .block_on(aws.groups_of_user("bob:smith"))
            .unwrap()
            .contains(&"team: red/blue".to_string())
    );
    let (code, out) = run(&grant);
    assert_eq!(code, Some(0));
    assert!(out.contains("already has"), "{out}");

    let (code, out) = run(&["--revoke-grant", "group:admins:member:user:bob:smith"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("revoked"), "{out}");
    assert!(
        !runtime
            .block_on(aws.groups_of_user("bob:smith"))
            .unwrap()
            .contains(&"admins".to_string())
    );
    let (_, out) = run(&["--revoke-grant", "group:admins:member:user:bob:smith"]);
    assert!(out.contains("already revoked"), "{out}");

    let (code, out) = run(&[
        "--create-account-login",
        "hal",
        "--create-account-email",
        "hal@example.com",
        "--create-account-profile",
        r#"{"given_name":"Hal","custom:team":"9000"}"#,
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("created user hal"), "{out}");
    let hal = runtime.block_on(aws.get_user("hal")).unwrap();
    assert_eq!(
        (hal.attribute("email"), hal.attribute("custom:team")),
        (Some("hal@example.com"), Some("9000"))
    );
    let (_, out) = run(&["--create-account-login", "hal"]);
    assert!(out.contains("already exists"), "{out}");

    let (code, out) = run(&[
        "--invoke-action",
        "disable_user",
        "--invoke-action-args",
        r#"{"user_id":"hal"}"#,
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("completed") && out.contains(r#""success":true"#),
        "{out}"
    );
    assert!(!runtime.block_on(aws.get_user("hal")).unwrap().enabled);
    let (code, out) = run(&[
        "--invoke-action",
        "disable_user",
        "--invoke-action-args",
        r#"{"user_id":"nobody"}"#,
    ]);
    assert_eq!(code, Some(1), "a failed action fails the command: {out}");

    let listed = run_binary(&["-f", f, "--list-action-schemas"], &env);
    assert!(listed.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<&str> = listed["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|schema| schema["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["enable_user", "disable_user", "sign_out_user"]);

    let (code, out) = run(&["--delete-resource", "hal", "--delete-resource-type", "user"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("deleted user:hal"), "{out}");
    assert!(matches!(
        runtime.block_on(aws.get_user("hal")),
        Err(CognitoError::UserNotFound { .. })
    ));
    let (_, out) = run(&["--delete-resource", "hal", "--delete-resource-type", "user"]);
    assert!(out.contains("did not exist"), "{out}");

    // Mistakes are caught before anything changes.
    for (args, text) in [
        (
            vec![
                "--grant-entitlement",
                "group:nope:member",
                "--grant-principal",
                "ann",
            ],
            "is not in",
        ),
        (
            vec![
                "--grant-entitlement",
                "group:admins:member",
                "--grant-principal",
                "ghost",
            ],
            "is not in",
        ),
        (
            vec!["--grant-entitlement", "group:admins:member"],
            "--grant-principal",
        ),
        (
            vec!["--revoke-grant", "group:admins:member:user:ghost"],
            "is not in",
        ),
        (
            vec![
                "--create-account-login",
                "ivy",
                "--create-account-profile",
                "{not json",
            ],
            "--create-account-profile",
        ),
        (vec!["--delete-resource", "ann"], "--delete-resource-type"),
        (
            vec![
                "--invoke-action",
                "enable_user",
                "--invoke-action-args",
                "[1]",
            ],
            "--invoke-action-args",
        ),
        (
            vec![
                "--delete-resource",
                "ann",
                "--delete-resource-type",
                "user",
                "--revoke-grant",
                "x",
            ],
            "cannot be used together",
        ),
    ] {
        let (code, out) = run(&args);
        assert_eq!(code, Some(2), "{args:?}: {out}");
        assert!(out.contains(text), "{args:?}: {out}");
    }
    assert!(runtime.block_on(aws.get_user("ann")).is_ok());
    assert!(matches!(
        runtime.block_on(aws.get_user("ivy")),
        Err(CognitoError::UserNotFound { .. })
    ));
}

/// The packed annotations are the SDK's own message names.
#[test]
fn annotations_use_batons_type_urls() {
    assert_eq!(
        pack(&GrantAlreadyExists {}).type_url,
        "type.googleapis.com/c1.connector.v2.GrantAlreadyExists"
    );
    assert_eq!(
        pack(&ResourceDoesNotExist {}).type_url,
        "type.googleapis.com/c1.connector.v2.ResourceDoesNotExist"
    );
}

/// A random password: generated to the pool's own policy, set as permanent (or temporary when
/// asked), returned only encrypted, and opened here by an independent age implementation.
#[tokio::test(flavor = "multi_thread")]
async fn a_random_password_follows_the_pool_policy_and_comes_back_encrypted() {
    use base64::Engine;
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(json!({
        "name": unique("password"),
        "config": {"Policies": {"PasswordPolicy": {"MinimumLength": 30, "RequireUppercase": true,
            "RequireLowercase": true, "RequireNumbers": true, "RequireSymbols": true}}},
    }));
    let aws = aws_client(emulator, &pool).await;
    let (server, channel) = provisioning_server(emulator, &pool).await;
    let mut client = AccountManagerServiceClient::new(channel);

    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
    let public = ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes();
    let jwk = format!(
        r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(public)
    );
    let seed_hex = hex::encode(seed);

    for (login, force_change, status) in [
        ("ivy", false, "CONFIRMED"),
        ("jon", true, "FORCE_CHANGE_PASSWORD"),
    ] {
        let request = CreateAccountRequest {
            credential_options: Some(CredentialOptions {
                force_change_at_next_login: force_change,
                options: Some(credential_options::Options::RandomPassword(
                    credential_options::RandomPassword {
                        length: 20,
                        constraints: vec![],
                    },
                )),
            }),
            encryption_configs: vec![EncryptionConfig {
                provider: "baton/jwk/v1".into(),
                config: Some(encryption_config::Config::JwkPublicKeyConfig(
                    encryption_config::JwkPublicKeyConfig {
                        pub_key: jwk.clone().into_bytes(),
                    },
                )),
                ..EncryptionConfig::default()
            }],
            ..account(login, json!({}))
        };
        let created = client.create_account(request).await.unwrap().into_inner();
        assert!(
            matches!(
                created.result,
                Some(create_account_response::Result::Success(_))
            ),
            "{created:?}"
        );
        assert_eq!(created.encrypted_data.len(), 1);
        let data = &created.encrypted_data[0];
        assert_eq!(
            (data.provider.as_str(), data.name.as_str()),
            ("baton/jwk/v1", "password")
        );
        #[allow(deprecated)]
        let key_id = data.key_id.clone();
        assert_eq!(
            data.key_ids,
            vec![key_id],
            "the JWK thumbprint, in both fields as upstream"
        );

        let age_file = base64::engine::general_purpose::STANDARD
            .decode(&data.encrypted_bytes)
            .expect("standard base64");
        let plaintext =
            age_decrypt(&["ssh-ed25519", &seed_hex], &age_file).expect("the password decrypts");
        let password = String::from_utf8(plaintext).unwrap();
        assert_eq!(
            password.chars().count(),
            30,
            "the pool's minimum length wins over the requested 20"
        );
        assert!(password.chars().any(|c| c.is_ascii_uppercase()));
        assert!(password.chars().any(|c| c.is_ascii_lowercase()));
        assert!(password.chars().any(|c| c.is_ascii_digit()));
        assert!(password.chars().any(|c| !c.is_ascii_alphanumeric()));
        assert_eq!(aws.get_user(login).await.unwrap().status, status);
        assert!(
            !server.logs().contains(&password),
            "the password reached a log line"
        );
    }
}

/// #17: AdminCreateUser went without `DesiredDeliveryMediums`, whose AWS default is SMS, so
/// Cognito refused "send invitation email" for exactly the users it is for: those with an email
/// and no phone number. The emulator now refuses as AWS does, and records where it sent.
#[tokio::test(flavor = "multi_thread")]
async fn invitations_go_by_email_when_the_user_has_one_and_by_sms_otherwise() {
    let emulator = Emulator::shared();
    let pool = seed(emulator);
    let (_server, channel) = provisioning_server(emulator, &pool).await;
    let mut client = AccountManagerServiceClient::new(channel);

    let by_email = account("ivy", json!({"send_invite_email": true}));
    let created = client.create_account(by_email).await.unwrap().into_inner();
    assert!(
        matches!(
            created.result,
            Some(create_account_response::Result::Success(_))
        ),
        "{created:?}"
    );
    let mut by_sms = account(
        "sam",
        json!({"phone_number": "+15555550100", "send_invite_email": true}),
    );
    by_sms.account_info.as_mut().unwrap().emails.clear();
    let created = client.create_account(by_sms).await.unwrap().into_inner();
    assert!(
        matches!(
            created.result,
            Some(create_account_response::Result::Success(_))
        ),
        "{created:?}"
    );

    let sent = emulator.control(
        "GET",
        &format!("/_emulator/pools/{}/invitations", pool.id),
        None,
    );
    let mediums = |name: &str| {
        sent["invitations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["username"] == name)
            .map(|i| i["mediums"].clone())
    };
    assert_eq!(mediums("ivy"), Some(json!(["EMAIL"])), "{sent}");
    assert_eq!(mediums("sam"), Some(json!(["SMS"])), "{sent}");
}
