//! The resource types this connector knows, and the file that answers for each.

use super::error::{ConnectorError, Result};
use super::groups::{self, Groups};
use super::model;
use super::resource_type::ResourceSyncer;
use super::users::{self, Users};

/// A resource type of this connector, as a key (the sync engine counts and orders by it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub const ALL: [Self; 2] = [Self::User, Self::Group];

    /// The file that implements the type.
    pub fn syncer(self) -> &'static dyn ResourceSyncer {
        match self {
            Self::User => &Users,
            Self::Group => &Groups,
        }
    }

    pub fn parse(type_id: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.syncer().type_id() == type_id)
            .ok_or_else(|| {
                ConnectorError::NotFound(format!(
                    "unknown resource type {}; this connector has {:?} and {:?}",
                    model::shown(type_id),
                    users::TYPE_ID,
                    groups::TYPE_ID
                ))
            })
    }
}
