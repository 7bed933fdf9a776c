//! The connector binary served over real gRPC on a loopback socket, reading pools from the
//! Cognito emulator (moto) over HTTP.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::*;
use baton_cognito::pb::v2::connector_service_client::ConnectorServiceClient;
use baton_cognito::pb::v2::entitlements_service_client::EntitlementsServiceClient;
use baton_cognito::pb::v2::grant_manager_service_client::GrantManagerServiceClient;
use baton_cognito::pb::v2::resource_getter_service_client::ResourceGetterServiceClient;
use baton_cognito::pb::v2::resource_types_service_client::ResourceTypesServiceClient;
use baton_cognito::pb::v2::resources_service_client::ResourcesServiceClient;
use baton_cognito::pb::v2::status::ResourceStatus;
use baton_cognito::pb::v2::*;
use serde_json::json;
use tonic::Code;

fn users(names: impl IntoIterator<Item = String>) -> Vec<serde_json::Value> {
    names
        .into_iter()
        .map(|name| json!({"username": name, "attributes": {"email": format!("{}@example.com", name.len())}}))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn users_page_without_loss_or_duplication_at_every_page_size() {
    let emulator = Emulator::shared();
    let names: Vec<String> = (0..130).map(|i| format!("user-{i:03}")).collect();
    let pool =
        emulator.create_pool(json!({"name": unique("paging"), "users": users(names.clone())}));
    let server = Server::start(&pool_env(emulator, &pool), &[]);
    let channel = server.channel().await;
    let expected: BTreeSet<String> = names.into_iter().collect();
    for page_size in [1, 7, 60, 0, 250] {
        let listed = list_all_resources(&channel, "user", page_size).await;
        let ids: Vec<String> = listed.iter().map(rid).collect();
        let unique_ids: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(
            ids.len(),
            unique_ids.len(),
            "duplicates at page size {page_size}"
        );
        assert_eq!(unique_ids, expected, "loss at page size {page_size}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_with_more_than_sixty_members_grants_each_once() {
    let emulator = Emulator::shared();
    let names: Vec<String> = (0..125).map(|i| format!("m{i}")).collect();
    let memberships: Vec<_> = names.iter().map(|n| json!(["big group", n])).collect();
    let pool = emulator.create_pool(json!({
        "name": unique("members"),
        "users": users(names.clone()),
        "groups": [{"name": "big group", "description": "many members", "precedence": 1}, {"name": "empty"}],
        "memberships": memberships,
    }));
    let server = Server::start(&pool_env(emulator, &pool), &[]);
    let channel = server.channel().await;
    let groups = list_all_resources(&channel, "group", 0).await;
    assert_eq!(
        groups.iter().map(rid).collect::<BTreeSet<_>>(),
        BTreeSet::from(["big group".to_string(), "empty".to_string()])
    );
    let big = groups.iter().find(|g| rid(g) == "big group").unwrap();
    for page_size in [1, 7, 60] {
        let grants = list_all_grants(&channel, big, page_size).await;
        let ids: BTreeSet<String> = grants.iter().map(|g| g.id.clone()).collect();
        assert_eq!(
            ids.len(),
            grants.len(),
            "duplicates at page size {page_size}"
        );
        let expected: BTreeSet<String> = names
            .iter()
            .map(|n| format!("group:big group:member:user:{n}"))
            .collect();
        assert_eq!(ids, expected, "page size {page_size}");
        for grant in &grants {
            let principal = grant.principal.as_ref().unwrap().id.as_ref().unwrap();
            assert_eq!(principal.resource_type, "user");
            assert_eq!(
                grant.entitlement.as_ref().unwrap().id,
                "group:big group:member"
            );
        }
    }
    let empty = groups.iter().find(|g| rid(g) == "empty").unwrap();
    assert!(list_all_grants(&channel, empty, 0).await.is_empty());

    let entitlements = list_entitlements(&channel, big).await;
    assert_eq!(entitlements.len(), 1);
    let member = &entitlements[0];
    assert_eq!(member.id, "group:big group:member");
    assert_eq!(member.slug, "member");
    assert_eq!(member.purpose, entitlement::PurposeValue::Assignment as i32);
    assert_eq!(
        member
            .grantable_to
            .iter()
            .map(|t| t.id.as_str())
            .collect::<Vec<_>>(),
        vec!["user"]
    );
    assert_eq!(big.description, "many members");
    assert_eq!(profile_text(big, "precedence").as_deref(), Some("1"));
    assert!(
        list_entitlements(&channel, &list_all_resources(&channel, "user", 1).await[0])
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn odd_names_survive_listing_getting_and_granting() {
    let emulator = Emulator::shared();
    let odd_users = [
        "ann lee",
        "ops:oncall",
        "a/b/c",
        "quote\"d",
        "zoë-ü-東京",
        "x:y:member:user:z",
    ];
    let odd_groups = [
        "team: red/blue",
        "\"quoted\" group",
        "Ünïcødé 群組",
        "a:b:c",
    ];
    let memberships: Vec<_> = odd_groups
        .iter()
        .flat_map(|g| odd_users.iter().map(move |u| json!([g, u])))
        .collect();
    let pool = emulator.create_pool(json!({
        "name": unique("odd"),
        "users": odd_users.iter().map(|u| json!({"username": u})).collect::<Vec<_>>(),
        "groups": odd_groups.iter().map(|g| json!({"name": g})).collect::<Vec<_>>(),
        "memberships": memberships,
    }));
    let server = Server::start(&pool_env(emulator, &pool), &[]);
    let channel = server.channel().await;
    let listed_users = list_all_resources(&channel, "user", 2).await;
    assert_eq!(
        listed_users.iter().map(rid).collect::<BTreeSet<_>>(),
        odd_users.iter().map(|s| s.to_string()).collect()
    );
    let listed_groups = list_all_resources(&channel, "group", 3).await;
    assert_eq!(
        listed_groups.iter().map(rid).collect::<BTreeSet<_>>(),
        odd_groups.iter().map(|s| s.to_string()).collect()
    );
    let mut getter = ResourceGetterServiceClient::new(channel.clone());
    for (type_id, name) in odd_users
        .iter()
        .map(|u| ("user", u))
        .chain(odd_groups.iter().map(|g| ("group", g)))
    {
        let got = getter
            .get_resource(ResourceGetterServiceGetResourceRequest {
                resource_id: Some(ResourceId {
                    resource_type: type_id.into(),
                    resource: name.to_string(),
                    baton_resource: false,
                }),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("get {type_id} {name:?}: {e}"))
            .into_inner()
            .resource
            .unwrap();
        assert_eq!(rid(&got), *name);
    }
    for group in &listed_groups {
        let grants = list_all_grants(&channel, group, 4).await;
        let principals: BTreeSet<String> = grants
            .iter()
            .map(|g| rid(g.principal.as_ref().unwrap()))
            .collect();
        assert_eq!(
            principals,
            odd_users.iter().map(|s| s.to_string()).collect()
        );
        for grant in grants {
            let user = rid(grant.principal.as_ref().unwrap());
            assert_eq!(grant.id, format!("group:{}:member:user:{user}", rid(group)));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn user_records_map_status_traits_and_profile() {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(json!({
        "name": unique("records"),
        "users": [
            {"username": "full", "status": "CONFIRMED", "attributes": {
                "email": "full@example.com", "given_name": "Ada", "family_name": "Lovelace",
                "preferred_username": "ada", "custom:department": "R&D", "phone_number": "+15555550100"}},
            {"username": "no-email", "status": "UNCONFIRMED", "attributes": {}},
            {"username": "off", "enabled": false, "status": "RESET_REQUIRED", "attributes": {"email": "off@example.com"}},
            {"username": "forced", "status": "FORCE_CHANGE_PASSWORD", "attributes": {"name": "Forced Person"}},
            {"username": "Google_1234567890", "status": "EXTERNAL_PROVIDER", "attributes": {"email": "g@example.com"}},
        ],
    }));
    let server = Server::start(&pool_env(emulator, &pool), &[]);
    let channel = server.channel().await;
    let listed: BTreeMap<String, Resource> = list_all_resources(&channel, "user", 0)
        .await
        .into_iter()
        .map(|r| (rid(&r), r))
        .collect();
    assert_eq!(listed.len(), 5);

    let full = &listed["full"];
    assert_eq!(full.display_name, "Ada Lovelace");
    assert_eq!(
        full.status.as_ref().unwrap().status,
        ResourceStatus::Enabled as i32
    );
    assert_eq!(full.status.as_ref().unwrap().details, "CONFIRMED");
    assert!(full.created_at.is_some());
    let t = user_trait(full);
    assert_eq!(t.login, "full");
    assert_eq!(t.login_aliases, vec!["ada", "full@example.com"]);
    assert_eq!(t.emails.len(), 1);
    assert!(t.emails[0].is_primary);
    assert_eq!(t.structured_name.as_ref().unwrap().family_name, "Lovelace");
    assert_eq!(t.account_type, user_trait::AccountType::Human as i32);
    assert_eq!(
        profile_text(full, "custom:department").as_deref(),
        Some("R&D")
    );
    assert_eq!(
        profile_text(full, "phone_number").as_deref(),
        Some("+15555550100")
    );
    assert!(profile_text(full, "sub").is_some_and(|s| s.len() == 36));
    assert_eq!(
        profile_text(full, "cognito:user_status").as_deref(),
        Some("CONFIRMED")
    );
    assert!(profile_text(full, "cognito:user_create_date").is_some());

    let no_email = &listed["no-email"];
    assert_eq!(no_email.display_name, "no-email");
    assert!(user_trait(no_email).emails.is_empty());
    assert_eq!(no_email.status.as_ref().unwrap().details, "UNCONFIRMED");

    let off = &listed["off"];
    assert_eq!(
        off.status.as_ref().unwrap().status,
        ResourceStatus::Disabled as i32
    );
    assert_eq!(off.status.as_ref().unwrap().details, "RESET_REQUIRED");
    #[allow(deprecated)]
    let trait_status = user_trait(off).status.unwrap();
    assert_eq!(
        trait_status.status,
        user_trait::status::Status::Disabled as i32,
        "trait status agrees with the resource"
    );
    assert_eq!(
        profile_text(off, "cognito:enabled").as_deref(),
        Some("false")
    );

    assert_eq!(listed["forced"].display_name, "Forced Person");
    assert_eq!(
        listed["forced"].status.as_ref().unwrap().details,
        "FORCE_CHANGE_PASSWORD"
    );
    let federated = user_trait(&listed["Google_1234567890"]);
    assert!(federated.sso_status.unwrap().sso_enabled);
}

#[tokio::test(flavor = "multi_thread")]
async fn get_resource_finds_existing_and_refuses_missing() {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(json!({
        "name": unique("get"),
        "users": [{"username": "ann", "attributes": {"email": "ann@example.com"}}],
        "groups": [{"name": "admins", "description": "Admins", "precedence": 2, "role_arn": "arn:aws:iam::123456789012:role/admin"}],
    }));
    let server = Server::start(&pool_env(emulator, &pool), &[]);
    let mut getter = ResourceGetterServiceClient::new(server.channel().await);
    let get = |type_id: &str, id: &str| ResourceGetterServiceGetResourceRequest {
        resource_id: Some(ResourceId {
            resource_type: type_id.into(),
            resource: id.into(),
            baton_resource: false,
        }),
        ..Default::default()
    };
    let user = getter
        .get_resource(get("user", "ann"))
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    assert_eq!(user.display_name, "ann@example.com");
    assert_eq!(
        user_trait(&user).mfa_status,
        None,
        "#19: a targeted read costs what a listing does, so MFA is as unknown as in a listing"
    );
    let group = getter
        .get_resource(get("group", "admins"))
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    assert_eq!(
        profile_text(&group, "role_arn").as_deref(),
        Some("arn:aws:iam::123456789012:role/admin")
    );

    for (type_id, id, code) in [
        ("user", "nobody", Code::NotFound),
        ("group", "nogroup", Code::NotFound),
        ("widget", "x", Code::NotFound),
        ("user", "", Code::InvalidArgument),
    ] {
        let err = getter.get_resource(get(type_id, id)).await.unwrap_err();
        assert_eq!(err.code(), code, "{type_id} {id:?}: {err}");
    }
    let err = getter
        .get_resource(ResourceGetterServiceGetResourceRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = list_grants_status(&server, "group", "nogroup").await;
    assert_eq!(
        err,
        Code::NotFound,
        "a missing group's grants are NOT_FOUND, which the syncer treats as a warning"
    );
}

/// #19: GetResource of a user reads it with ListUsers and an exact `username` filter, which
/// does not make the user a billable monthly active user; AdminGetUser (which does) is left for
/// the one username no filter can hold. Counted per operation by the emulator.
#[tokio::test(flavor = "multi_thread")]
async fn a_targeted_user_read_costs_one_listing_call_and_no_admin_read() {
    let emulator = Emulator::shared();
    let quoted = "quote\"d";
    let mut names: Vec<String> = (0..130).map(|i| format!("ann{i:03}")).collect();
    names.extend(["ann".to_string(), "Ann".to_string(), quoted.to_string()]);
    let pool = emulator.create_pool(json!({"name": unique("cheap-get"), "users": users(names)}));
    let server = Server::start(&pool_env(emulator, &pool), &[]);
    let mut getter = ResourceGetterServiceClient::new(server.channel().await);
    let mut get = async |id: &str| {
        let before = emulator.pool_calls(&pool);
        let got = getter
            .get_resource(ResourceGetterServiceGetResourceRequest {
                resource_id: Some(ResourceId {
                    resource_type: "user".into(),
                    resource: id.into(),
                    baton_resource: false,
                }),
                ..Default::default()
            })
            .await;
        let spent = emulator.pool_calls_since(&pool, &before);
        (got.map(|r| r.into_inner().resource.unwrap()), spent)
    };
    let one_listing = BTreeMap::from([("ListUsers".to_string(), 1)]);
    let (_, first) = get("ann").await;
    assert_eq!(
        first,
        BTreeMap::from([
            ("DescribeUserPool".to_string(), 1),
            ("ListUsers".to_string(), 1)
        ]),
        "the server's first read learns, once, whether the pool records sign-ins"
    );
    for name in ["ann", "Ann", "ann129"] {
        let (got, spent) = get(name).await;
        assert_eq!(
            rid(&got.unwrap()),
            name,
            "the exact username, not a prefix or a case"
        );
        assert_eq!(spent, one_listing, "get {name}");
    }
    let (missing, spent) = get("nobody").await;
    assert_eq!(missing.unwrap_err().code(), Code::NotFound);
    assert_eq!(spent, one_listing, "a missing user costs one listing too");
    let (got, spent) = get(quoted).await;
    assert_eq!(rid(&got.unwrap()), quoted);
    assert_eq!(
        spent,
        BTreeMap::from([("AdminGetUser".to_string(), 1)]),
        "a username no ListUsers filter can hold is read with AdminGetUser"
    );
}

async fn list_grants_status(server: &Server, type_id: &str, id: &str) -> Code {
    let mut client = baton_cognito::pb::v2::grants_service_client::GrantsServiceClient::new(
        server.channel().await,
    );
    client
        .list_grants(GrantsServiceListGrantsRequest {
            resource: Some(Resource {
                id: Some(ResourceId {
                    resource_type: type_id.into(),
                    resource: id.into(),
                    baton_resource: false,
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .map(|_| Code::Ok)
        .unwrap_or_else(|e| e.code())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_user_filter_limits_users_and_their_grants() {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(json!({
        "name": unique("filter"),
        "users": [
            {"username": "u1", "attributes": {"email": "alice@example.com"}},
            {"username": "u2", "attributes": {"email": "albert@example.com"}},
            {"username": "u3", "attributes": {"email": "bob@example.com"}},
            {"username": "u4", "attributes": {}},
        ],
        "groups": [{"name": "g"}],
        "memberships": [["g", "u1"], ["g", "u3"], ["g", "u4"]],
    }));
    let server = Server::start(
        &pool_env(emulator, &pool),
        &["--user-filter", "email ^= \"al\""],
    );
    let channel = server.channel().await;
    let listed: BTreeSet<String> = list_all_resources(&channel, "user", 1)
        .await
        .iter()
        .map(rid)
        .collect();
    assert_eq!(listed, BTreeSet::from(["u1".to_string(), "u2".to_string()]));
    let group = &list_all_resources(&channel, "group", 0).await[0];
    let grants: Vec<String> = list_all_grants(&channel, group, 0)
        .await
        .iter()
        .map(|g| rid(g.principal.as_ref().unwrap()))
        .collect();
    assert_eq!(
        grants,
        vec!["u1".to_string()],
        "grants name only users the filter lets through"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn protocol_surface_metadata_validate_types_and_absent_features() {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(json!({"name": unique("surface")}));
    let server = Server::start(&pool_env(emulator, &pool), &[]);
    let channel = server.channel().await;

    let mut connector = ConnectorServiceClient::new(channel.clone());
    let validate = connector
        .validate(ConnectorServiceValidateRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(validate.sdk_version, "v0.25.0");
    let metadata = connector
        .get_metadata(ConnectorServiceGetMetadataRequest {})
        .await
        .unwrap()
        .into_inner()
        .metadata
        .unwrap();
    assert!(!metadata.display_name.is_empty());
    assert!(metadata.description.contains(&pool.id));
    assert!(metadata.help_url.starts_with("https://"));
    let capabilities = metadata.capabilities.unwrap();
    let expected = [
        Capability::Provision,
        Capability::Sync,
        Capability::AccountProvisioning,
        Capability::ResourceDelete,
        Capability::Actions,
        Capability::TargetedSync,
        Capability::EventFeedV2,
        Capability::ServiceModeTargetedSync,
    ];
    assert_eq!(
        capabilities.connector_capabilities,
        expected.map(|c| c as i32).to_vec()
    );
    let account_options = capabilities
        .credential_details
        .unwrap()
        .capability_account_provisioning
        .unwrap();
    assert_eq!(
        account_options.supported_credential_options,
        vec![
            CapabilityDetailCredentialOption::NoPassword as i32,
            CapabilityDetailCredentialOption::RandomPassword as i32
        ]
    );
    let schema = metadata.account_creation_schema.unwrap().field_map;
    assert!(schema["login"].required);
    for key in ["email", "given_name", "family_name", "send_invite_email"] {
        assert!(schema.contains_key(key), "account creation asks for {key}");
    }
    connector
        .cleanup(ConnectorServiceCleanupRequest::default())
        .await
        .unwrap();

    let types = ResourceTypesServiceClient::new(channel.clone())
        .list_resource_types(ResourceTypesServiceListResourceTypesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .list;
    let user_type = types.iter().find(|t| t.id == "user").unwrap();
    assert_eq!(user_type.traits, vec![resource_type::Trait::User as i32]);
    let annotation_types: Vec<&str> = user_type
        .annotations
        .iter()
        .map(|a| a.type_url.as_str())
        .collect();
    assert!(
        annotation_types.contains(&"type.googleapis.com/c1.connector.v2.SkipEntitlementsAndGrants")
    );
    assert!(
        annotation_types.contains(&"type.googleapis.com/c1.connector.v2.CapabilityPermissions")
    );
    let group_type = types.iter().find(|t| t.id == "group").unwrap();
    assert_eq!(group_type.traits, vec![resource_type::Trait::Group as i32]);

    let mut entitlements = EntitlementsServiceClient::new(channel.clone());
    for type_id in ["user", "group"] {
        let statics = entitlements
            .list_static_entitlements(EntitlementsServiceListStaticEntitlementsRequest {
                resource_type_id: type_id.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(statics.list.is_empty() && statics.next_page_token.is_empty());
    }

    let err = GrantManagerServiceClient::new(channel.clone())
        .grant(GrantManagerServiceGrantRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(err.message(), "provisioning is not enabled");

    let err = ResourcesServiceClient::new(channel.clone())
        .list_resources(ResourcesServiceListResourcesRequest {
            resource_type_id: "widget".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_tampered_and_foreign_page_tokens_are_invalid_arguments() {
    let emulator = Emulator::shared();
    let pool = emulator.create_pool(
        json!({"name": unique("tokens"), "users": users((0..5).map(|i| format!("t{i}")))}),
    );
    let server = Server::start(&pool_env(emulator, &pool), &[]);
    let mut client = ResourcesServiceClient::new(server.channel().await);
    let list = |type_id: &str, token: &str, page_size: u32| ResourcesServiceListResourcesRequest {
        resource_type_id: type_id.into(),
        page_token: token.into(),
        page_size,
        ..Default::default()
    };
    let first = client
        .list_resources(list("user", "", 2))
        .await
        .unwrap()
        .into_inner();
    let good = first.next_page_token;
    assert!(!good.is_empty());
    let mut tampered = good.clone().into_bytes();
    tampered[3] ^= 0x01;
    let tampered = String::from_utf8_lossy(&tampered).to_string();
    for (type_id, token, page_size) in [
        ("user", "garbage", 2),
        ("user", "a.b", 2),
        ("user", tampered.as_str(), 2),
        ("group", good.as_str(), 2),
        ("user", "", 251),
    ] {
        let err = client
            .list_resources(list(type_id, token, page_size))
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Code::InvalidArgument,
            "{type_id} {token:?}: {err}"
        );
    }
    let second = client
        .list_resources(list("user", &good, 2))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.list.len(), 2, "the untouched token still works");
}

/// Cognito calls one full listing costs, from the emulator's own count: ceil(N/60) ListUsers,
/// ceil(G/60) ListGroups and, per group, ceil(m/60) ListUsersInGroup (one for an empty group).
#[tokio::test(flavor = "multi_thread")]
async fn a_full_listing_makes_the_minimum_number_of_cognito_calls() {
    let emulator = Emulator::start();
    let user_count = 1000;
    let member_counts = [
        0, 1, 5, 10, 30, 59, 60, 61, 100, 119, 120, 121, 200, 250, 300, 400, 500, 600, 800, 1000,
    ];
    let names: Vec<String> = (0..user_count).map(|i| format!("u{i:04}")).collect();
    let groups: Vec<_> = (0..member_counts.len())
        .map(|g| json!({"name": format!("g{g:02}")}))
        .collect();
    let memberships: Vec<_> = member_counts
        .iter()
        .enumerate()
        .flat_map(|(g, m)| {
            names
                .iter()
                .take(*m)
                .map(move |u| json!([format!("g{g:02}"), u]))
        })
        .collect();
    let pool = emulator.create_pool(json!({"name": unique("counts"), "users": users(names), "groups": groups, "memberships": memberships}));
    let server = Server::start(&pool_env(&emulator, &pool), &[]);
    let channel = server.channel().await;
    emulator.reset_calls();

    ConnectorServiceClient::new(channel.clone())
        .validate(ConnectorServiceValidateRequest {})
        .await
        .unwrap();
    let users = list_all_resources(&channel, "user", 0).await;
    let groups = list_all_resources(&channel, "group", 0).await;
    let mut grants = 0;
    for group in &groups {
        assert_eq!(list_entitlements(&channel, group).await.len(), 1);
        grants += list_all_grants(&channel, group, 0).await.len();
    }
    assert_eq!(users.len(), user_count);
    assert_eq!(groups.len(), member_counts.len());
    assert_eq!(grants, member_counts.iter().sum::<usize>());

    let pages = |n: usize| n.div_ceil(60).max(1) as u64;
    let calls = emulator.calls();
    eprintln!(
        "Cognito calls for {user_count} users, {} groups, {grants} memberships: {calls}",
        groups.len()
    );
    assert_eq!(calls["DescribeUserPool"], json!(1));
    assert_eq!(calls["ListUsers"], json!(pages(user_count)));
    assert_eq!(calls["ListGroups"], json!(pages(member_counts.len())));
    assert_eq!(
        calls["ListUsersInGroup"],
        json!(member_counts.iter().map(|m| pages(*m)).sum::<u64>())
    );
    assert!(
        calls.get("AdminGetUser").is_none_or(|v| v == 0),
        "no per-user reads in a listing"
    );
    assert_eq!(
        calls.as_object().unwrap().len(),
        4,
        "no other operations: {calls}"
    );
}

/// Credentials from an assumed role (STS AssumeRole, which the emulator also serves), with every
/// log line at the most verbose level free of the secrets involved.
#[tokio::test(flavor = "multi_thread")]
async fn an_assumed_role_reads_the_pool_and_no_secret_reaches_the_logs() {
    let emulator = Emulator::shared();
    let pool =
        emulator.create_pool(json!({"name": unique("role"), "users": users(["r1".to_string()])}));
    let mut env = pool_env(emulator, &pool);
    env.push((
        "BATON_ROLE_ARN".into(),
        "arn:aws:iam::123456789012:role/baton-reader".into(),
    ));
    env.push(("BATON_EXTERNAL_ID".into(), "ext-id-7f3a9c".into()));
    env.push(("BATON_LOG_LEVEL".into(), "trace".into()));
    let server = Server::start(&env, &[]);
    let channel = server.channel().await;
    ConnectorServiceClient::new(channel.clone())
        .validate(ConnectorServiceValidateRequest {})
        .await
        .expect("validate through the assumed role");
    assert_eq!(list_all_resources(&channel, "user", 0).await.len(), 1);
    let logs = server.logs();
    assert!(
        logs.contains("user pool is reachable"),
        "trace logging is on: {logs}"
    );
    let secret = env
        .iter()
        .find(|(k, _)| k == "BATON_AWS_SECRET_ACCESS_KEY")
        .unwrap()
        .1
        .clone();
    for needle in [secret.as_str(), "ext-id-7f3a9c"] {
        assert!(!logs.contains(needle), "{needle:?} leaked into the logs");
    }
}

/// Reflection advertises exactly the connector services the server implements, not the
/// service-mode API compiled into the same binary for its client side.
#[tokio::test(flavor = "multi_thread")]
async fn reflection_lists_the_served_connector_services_only() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let emulator = Emulator::shared();
    let pool = emulator.create_pool(json!({"name": unique("reflection")}));
    let server = Server::start(&pool_env(emulator, &pool), &[]);
    let mut client = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection answers")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("a reply")
        .expect("one reply");
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("not a service list: {answer:?}");
    };
    let names: BTreeSet<String> = list.service.into_iter().map(|s| s.name).collect();
    let served: BTreeSet<String> = [
        "ConnectorService",
        "ResourceTypesService",
        "ResourcesService",
        "ResourceGetterService",
        "EntitlementsService",
        "GrantsService",
        "ActionService",
        "AssetService",
        "EventService",
        "TicketsService",
        "GrantManagerService",
        "ResourceManagerService",
        "ResourceDeleterService",
        "AccountManagerService",
        "CredentialManagerService",
    ]
    .into_iter()
    .map(|name| format!("c1.connector.v2.{name}"))
    .collect();
    assert_eq!(names, served, "exactly the services the server serves");
}

/// Found by the SDK conformance suite: a listing the connector holds whole still pages at the
/// caller's page size, so a page is never larger than asked for.
#[tokio::test(flavor = "multi_thread")]
async fn resource_types_page_at_the_callers_page_size() {
    let emulator = Emulator::shared();
    let pool =
        emulator.create_pool(json!({"name": unique("type-pages"), "groups": [{"name": "g"}]}));
    let server = Server::start(&pool_env(emulator, &pool), &[]);
    let mut client = ResourceTypesServiceClient::new(server.channel().await);
    let mut token = String::new();
    let mut pages = Vec::new();
    loop {
        let page = client
            .list_resource_types(ResourceTypesServiceListResourceTypesRequest {
                page_size: 1,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages.push(page.list.iter().map(|t| t.id.clone()).collect::<Vec<_>>());
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        pages,
        vec![vec!["user".to_string()], vec!["group".to_string()]]
    );

    let all = client
        .list_resource_types(ResourceTypesServiceListResourceTypesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.list.len(), 2);
    assert!(all.next_page_token.is_empty());

    let group = list_all_resources(&server.channel().await, "group", 0).await;
    let page = EntitlementsServiceClient::new(server.channel().await)
        .list_entitlements(EntitlementsServiceListEntitlementsRequest {
            resource: Some(group[0].clone()),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.list.len(), 1);
    assert!(page.next_page_token.is_empty(), "one entitlement, one page");
}
