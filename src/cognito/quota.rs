//! Cognito's request-rate quota categories: what AWS allows each, and their names. The budget
//! (`settings`) and the pacer (`pacing`) both speak of them. One is CloudWatch Logs' quota on
//! FilterLogEvents, which reads the sign-in logs a pool exports: paced like the others.

use std::fmt;

/// Cognito's request-rate quota categories that this connector calls into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuotaCategory {
    UserList,
    UserRead,
    UserResourceRead,
    UserPoolResourceRead,
    UserPoolRead,
    UserUpdate,
    UserCreation,
    /// CloudWatch Logs' FilterLogEvents (per account and Region).
    LogFilter,
}

impl QuotaCategory {
    pub const ALL: [Self; 8] = [
        Self::UserList,
        Self::UserRead,
        Self::UserResourceRead,
        Self::UserPoolResourceRead,
        Self::UserPoolRead,
        Self::UserUpdate,
        Self::UserCreation,
        Self::LogFilter,
    ];

    /// AWS's default requests per second for the category.
    pub fn aws_default_rps(self) -> f64 {
        match self {
            Self::UserList => 30.0,
            Self::UserRead => 120.0,
            Self::UserResourceRead => 50.0,
            Self::UserPoolResourceRead => 20.0,
            Self::UserPoolRead => 15.0,
            Self::UserUpdate => 25.0,
            Self::UserCreation => 50.0,
            Self::LogFilter => 5.0,
        }
    }

    /// A hard per-pool cap that holds whatever the account quota: ListGroups and GetGroup are
    /// limited to 5 requests per second per pool and operation.
    pub(super) fn per_pool_cap_rps(self) -> Option<f64> {
        match self {
            Self::UserPoolResourceRead => Some(5.0),
            _ => None,
        }
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }

    /// The category's name on the command line (`--category-budget user-list=0.2`).
    pub fn flag_name(self) -> &'static str {
        match self {
            Self::UserList => "user-list",
            Self::UserRead => "user-read",
            Self::UserResourceRead => "user-resource-read",
            Self::UserPoolResourceRead => "user-pool-resource-read",
            Self::UserPoolRead => "user-pool-read",
            Self::UserUpdate => "user-update",
            Self::UserCreation => "user-creation",
            Self::LogFilter => "log-filter",
        }
    }

    pub fn from_flag_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.flag_name() == name)
    }
}

impl fmt::Display for QuotaCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
