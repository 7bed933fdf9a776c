//! The one place connector errors become gRPC statuses.
//!
//! Codes follow what Baton callers act on: NOT_FOUND on a grant listing is a warning, UNAVAILABLE
//! is retried (after the `RateLimitDescription` detail's `reset_at` when present), auth failures
//! are UNAUTHENTICATED / PERMISSION_DENIED, and anything else fails the sync.

use std::time::{Duration, SystemTime};

use prost::Message;
use tonic::{Code, Status};

use super::page_token::PageTokenError;
use crate::changes::FeedError;
use crate::cognito::CognitoError;
use crate::connector::ConnectorError;
use crate::event_journal::event_feed::EventFeedError;
use crate::event_journal::journal::JournalError;
use crate::pb::google::rpc::Status as RpcStatus;
use crate::pb::pack;
use crate::pb::v2::RateLimitDescription;
use crate::pb::v2::rate_limit_description::Status as LimitStatus;
use crate::sync::SyncError;

/// The longest status message sent: gRPC carries it in a header, and a client refuses headers
/// beyond its metadata limit (8 KiB by default) with RESOURCE_EXHAUSTED instead of the error.
const MAX_STATUS_MESSAGE_BYTES: usize = 2048;

/// How long a throttled caller is told to wait before trying again.
const THROTTLED_RETRY_AFTER: Duration = Duration::from_secs(2);

impl From<ConnectorError> for Status {
    fn from(err: ConnectorError) -> Self {
        connector_status(&err)
    }
}

fn connector_status(err: &ConnectorError) -> Status {
    let message = crate::text::excerpt(&err.to_string(), MAX_STATUS_MESSAGE_BYTES);
    let code = match err {
        ConnectorError::InvalidArgument(_) => Code::InvalidArgument,
        ConnectorError::NotFound(_) => Code::NotFound,
        ConnectorError::Internal(_) => Code::Internal,
        // Not NOT_FOUND, which a syncer takes for one missing item and carries on.
        ConnectorError::PoolMissing(_) => Code::FailedPrecondition,
        ConnectorError::Cognito(cognito) => match cognito {
            CognitoError::NotFound { .. } | CognitoError::UserNotFound { .. } => Code::NotFound,
            CognitoError::UsernameExists { .. } => Code::AlreadyExists,
            CognitoError::InvalidParameter { .. } => Code::InvalidArgument,
            // The client's page token is no good any more: it must list again from the start.
            CognitoError::StaleToken { .. } => Code::Aborted,
            CognitoError::Unauthenticated { .. } => Code::Unauthenticated,
            CognitoError::AccessDenied { .. } => Code::PermissionDenied,
            CognitoError::Throttled { .. } => return throttled(message),
            CognitoError::LimitExceeded { .. } => Code::ResourceExhausted,
            CognitoError::FeatureOff { .. } => Code::FailedPrecondition,
            CognitoError::Unavailable { .. } => Code::Unavailable,
            // Cognito's side broke its own contract; asking again would not help.
            CognitoError::BadAnswer { .. } | CognitoError::RepeatedToken => Code::Internal,
            CognitoError::Other { .. } => Code::Unknown,
        },
    };
    tracing::warn!(code = ?code, error = %message, "request failed");
    Status::new(code, message)
}

impl From<EventFeedError> for Status {
    fn from(err: EventFeedError) -> Self {
        event_feed_status(&err)
    }
}

fn event_feed_status(err: &EventFeedError) -> Status {
    let message = crate::text::excerpt(&err.to_string(), MAX_STATUS_MESSAGE_BYTES);
    let code = match err {
        EventFeedError::UnknownFeed(_) => Code::NotFound,
        EventFeedError::PageSize(_)
        | EventFeedError::BadCursor
        | EventFeedError::FeedNotNamed(_) => Code::InvalidArgument,
        EventFeedError::OtherJournal
        | EventFeedError::Pruned { .. }
        | EventFeedError::NoLogGroup { .. } => Code::FailedPrecondition,
        EventFeedError::Journal(JournalError::Db { .. }) => Code::Internal,
        // The directory cannot be used (permissions, another process, another pool): the
        // operator's to fix.
        EventFeedError::Journal(_) => Code::FailedPrecondition,
        EventFeedError::Snapshot(FeedError::Sync(SyncError::Connector(err))) => {
            return connector_status(err);
        }
        EventFeedError::Snapshot(FeedError::Interrupted) => Code::Unavailable,
        EventFeedError::Snapshot(_) | EventFeedError::File(_) | EventFeedError::Task(_) => {
            Code::Internal
        }
        EventFeedError::Refresh(err) => return event_feed_status(err),
        EventFeedError::Reading(err) => return connector_status(err),
    };
    tracing::warn!(code = ?code, error = %message, "event feed request failed");
    Status::new(code, message)
}

impl From<PageTokenError> for Status {
    fn from(err: PageTokenError) -> Self {
        Status::invalid_argument(err.to_string())
    }
}

/// UNAVAILABLE with a `RateLimitDescription` detail, which Baton's retry logic reads to decide
/// how long to wait.
fn throttled(message: String) -> Status {
    let reset_at = SystemTime::now() + THROTTLED_RETRY_AFTER;
    let description = RateLimitDescription {
        status: LimitStatus::Overlimit as i32,
        limit: 0,
        remaining: 0,
        reset_at: Some(prost_types::Timestamp::from(reset_at)),
    };
    let details = RpcStatus {
        code: Code::Unavailable as i32,
        message: message.clone(),
        details: vec![pack(&description)],
    };
    tracing::warn!(error = %message, "request throttled");
    Status::with_details(Code::Unavailable, message, details.encode_to_vec().into())
}

/// A status as `google.rpc.Status`, for the platform's FinishTask: the details it carries (a
/// throttled call's `RateLimitDescription`) go along, not only its code and message.
pub fn rpc_status(status: &Status) -> RpcStatus {
    RpcStatus::decode(status.details())
        .ok()
        .filter(|carried| carried.code == status.code() as i32)
        .unwrap_or_else(|| RpcStatus {
            code: status.code() as i32,
            message: status.message().to_string(),
            details: Vec::new(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cognito::Operation;

    #[test]
    fn throttling_carries_a_rate_limit_description() {
        let status = Status::from(ConnectorError::Cognito(CognitoError::Throttled {
            operation: Operation::ListUsers,
            attempts: 6,
            message: "slow down".into(),
        }));
        assert_eq!(status.code(), Code::Unavailable);
        let details = RpcStatus::decode(status.details()).unwrap();
        let description: RateLimitDescription = details.details[0].to_msg().unwrap();
        assert_eq!(description.status, LimitStatus::Overlimit as i32);
        assert!(description.reset_at.is_some());
    }

    #[test]
    fn a_status_keeps_its_details_as_google_rpc_status() {
        let throttled = Status::from(ConnectorError::Cognito(CognitoError::Throttled {
            operation: Operation::ListUsers,
            attempts: 6,
            message: "slow down".into(),
        }));
        let rpc = rpc_status(&throttled);
        assert_eq!(rpc.code, Code::Unavailable as i32);
        let description: RateLimitDescription = rpc.details[0].to_msg().unwrap();
        assert_eq!(description.status, LimitStatus::Overlimit as i32);
        let plain = rpc_status(&Status::not_found("no such group"));
        assert_eq!(
            (plain.code, plain.message.as_str(), plain.details.len()),
            (Code::NotFound as i32, "no such group", 0)
        );
    }

    #[test]
    fn auth_and_missing_things_have_their_own_codes() {
        let unauth = CognitoError::Unauthenticated {
            operation: Operation::DescribeUserPool,
            code: "UnrecognizedClientException".into(),
            message: "bad".into(),
        };
        assert_eq!(
            Status::from(ConnectorError::from(unauth)).code(),
            Code::Unauthenticated
        );
        let missing = ConnectorError::NotFound("no such group".into());
        assert_eq!(Status::from(missing).code(), Code::NotFound);
    }
}
