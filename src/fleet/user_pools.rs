//! The `user_pool` resource type: when one process holds several pools, each pool is a resource
//! whose children are its users and groups (`ChildResourceType`), so that Baton lists and shows
//! them per pool. It has no entitlements or grants of its own.

use crate::cognito::records::PoolDescription;
use crate::connector::model::{self, Profile};
use crate::connector::pool_ids::POOL_TYPE_ID;
use crate::connector::{groups, users};
use crate::pb::pack;
use crate::pb::v2::{ChildResourceType, Resource, ResourceType, SkipEntitlementsAndGrants};

pub fn resource_type() -> ResourceType {
    ResourceType {
        id: POOL_TYPE_ID.to_string(),
        display_name: "User Pool".to_string(),
        description: "An Amazon Cognito user pool; its users and groups are its children"
            .to_string(),
        annotations: vec![pack(&SkipEntitlementsAndGrants {})],
        ..ResourceType::default()
    }
}

/// A pool as DescribeUserPool gives it: its name, id, ARN, Region, feature plan and estimated
/// number of users, with its users and groups as child types.
pub fn resource(pool: &PoolDescription, region: &str) -> Resource {
    let mut profile = Profile::default();
    profile
        .text("user_pool_id", &pool.id)
        .text("user_pool_name", &pool.name)
        .text_opt("user_pool_arn", pool.arn.as_deref())
        .text("region", region)
        .text_opt("feature_plan", pool.tier.as_deref())
        .number("estimated_users", pool.estimated_users as f64);
    let child = |type_id: &str| {
        pack(&ChildResourceType {
            resource_type_id: type_id.to_string(),
        })
    };
    Resource {
        id: Some(model::resource_id(POOL_TYPE_ID, &pool.id)),
        display_name: crate::text::truncate(
            if pool.name.is_empty() {
                &pool.id
            } else {
                &pool.name
            },
            model::MAX_NAME_BYTES,
        ),
        description: format!("Cognito user pool {} in {region}", pool.id),
        annotations: vec![child(users::TYPE_ID), child(groups::TYPE_ID)],
        profile: Some(profile.build()),
        ..Resource::default()
    }
}
