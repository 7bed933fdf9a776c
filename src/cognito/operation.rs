//! The AWS operations this project calls (Cognito's, and CloudWatch Logs' FilterLogEvents for
//! sign-in logs), and the quota category each counts against.

use std::fmt;

use super::quota::QuotaCategory;

/// Every Cognito operation this project calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    DescribeUserPool,
    ListUsers,
    ListUsersInGroup,
    ListGroups,
    GetGroup,
    AdminGetUser,
    AdminListGroupsForUser,
    AdminListUserAuthEvents,
    AdminAddUserToGroup,
    AdminRemoveUserFromGroup,
    AdminCreateUser,
    AdminDeleteUser,
    AdminEnableUser,
    AdminDisableUser,
    AdminSetUserPassword,
    AdminUserGlobalSignOut,
    /// CloudWatch Logs, reading the sign-in logs a pool exports.
    FilterLogEvents,
}

impl Operation {
    pub const ALL: [Self; 17] = [
        Self::DescribeUserPool,
        Self::ListUsers,
        Self::ListUsersInGroup,
        Self::ListGroups,
        Self::GetGroup,
        Self::AdminGetUser,
        Self::AdminListGroupsForUser,
        Self::AdminListUserAuthEvents,
        Self::AdminAddUserToGroup,
        Self::AdminRemoveUserFromGroup,
        Self::AdminCreateUser,
        Self::AdminDeleteUser,
        Self::AdminEnableUser,
        Self::AdminDisableUser,
        Self::AdminSetUserPassword,
        Self::AdminUserGlobalSignOut,
        Self::FilterLogEvents,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::DescribeUserPool => "DescribeUserPool",
            Self::ListUsers => "ListUsers",
            Self::ListUsersInGroup => "ListUsersInGroup",
            Self::ListGroups => "ListGroups",
            Self::GetGroup => "GetGroup",
            Self::AdminGetUser => "AdminGetUser",
            Self::AdminListGroupsForUser => "AdminListGroupsForUser",
            Self::AdminListUserAuthEvents => "AdminListUserAuthEvents",
            Self::AdminAddUserToGroup => "AdminAddUserToGroup",
            Self::AdminRemoveUserFromGroup => "AdminRemoveUserFromGroup",
            Self::AdminCreateUser => "AdminCreateUser",
            Self::AdminDeleteUser => "AdminDeleteUser",
            Self::AdminEnableUser => "AdminEnableUser",
            Self::AdminDisableUser => "AdminDisableUser",
            Self::AdminSetUserPassword => "AdminSetUserPassword",
            Self::AdminUserGlobalSignOut => "AdminUserGlobalSignOut",
            Self::FilterLogEvents => "FilterLogEvents",
        }
    }

    /// The AWS service the operation belongs to, as error messages name it.
    pub fn service(self) -> &'static str {
        match self {
            Self::FilterLogEvents => "CloudWatch Logs",
            _ => "Cognito",
        }
    }

    /// Whether sending the request twice does no harm. AdminCreateUser is the exception: if a
    /// first attempt timed out after Cognito created the user, a retry would report the user as
    /// already existing. Throttled requests were refused unexecuted and are always retried.
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Self::AdminCreateUser)
    }

    /// The quota category AWS counts the operation against.
    pub fn category(self) -> QuotaCategory {
        match self {
            Self::ListUsers | Self::ListUsersInGroup => QuotaCategory::UserList,
            Self::AdminGetUser => QuotaCategory::UserRead,
            Self::AdminListGroupsForUser | Self::AdminListUserAuthEvents => {
                QuotaCategory::UserResourceRead
            }
            Self::ListGroups | Self::GetGroup => QuotaCategory::UserPoolResourceRead,
            Self::DescribeUserPool => QuotaCategory::UserPoolRead,
            Self::AdminAddUserToGroup
            | Self::AdminRemoveUserFromGroup
            | Self::AdminEnableUser
            | Self::AdminDisableUser
            | Self::AdminDeleteUser
            | Self::AdminSetUserPassword
            | Self::AdminUserGlobalSignOut => QuotaCategory::UserUpdate,
            Self::AdminCreateUser => QuotaCategory::UserCreation,
            Self::FilterLogEvents => QuotaCategory::LogFilter,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
