//! The one error type of the connector; mapped to a gRPC status once, in `server`.

use crate::cognito::CognitoError;
use crate::credentials::CredentialError;

/// Why a connector request failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error(transparent)]
    Cognito(#[from] CognitoError),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    NotFound(String),
    /// The pool itself is gone: nothing read from it can be trusted to be complete.
    #[error("{0}")]
    PoolMissing(String),
    /// A failure of this connector itself (e.g. no secure randomness), not of the request.
    #[error("{0}")]
    Internal(String),
}

impl From<CredentialError> for ConnectorError {
    fn from(err: CredentialError) -> Self {
        if err.is_invalid_argument() {
            Self::InvalidArgument(err.to_string())
        } else {
            Self::Internal(err.to_string())
        }
    }
}

pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;
