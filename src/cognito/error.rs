//! The one error type of the Cognito layer, and the mapping from AWS SDK errors to it.

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};

use super::operation::Operation;
use crate::http::error_chain;
use crate::text::quoted;

/// A failed Cognito call, classified by what a caller should do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CognitoError {
    /// `ResourceNotFoundException`: the pool or the group does not exist.
    #[error("{operation}: {message}")]
    NotFound {
        operation: Operation,
        message: String,
    },
    #[error("{operation}: user not found: {message}")]
    UserNotFound {
        operation: Operation,
        message: String,
    },
    #[error("{operation}: {message}")]
    UsernameExists {
        operation: Operation,
        message: String,
    },
    /// Bad filter, attribute, parameter, or a pagination token Cognito no longer accepts.
    #[error("{operation}: {} rejected the request: {message}", operation.service())]
    InvalidParameter {
        operation: Operation,
        message: String,
    },
    /// A continuation page refused: the page token expired, or the item it points at was
    /// deleted. The listing can only start over.
    #[error(
        "{operation}: Cognito no longer accepts the page token (it expired, or what it points at was deleted); the listing must start over: {message}"
    )]
    StaleToken {
        operation: Operation,
        message: String,
    },
    /// The credentials are missing, wrong or expired.
    #[error("{operation}: AWS did not accept the credentials ({code}): {message}")]
    Unauthenticated {
        operation: Operation,
        code: String,
        message: String,
    },
    /// The credentials are valid but IAM does not allow the call.
    #[error("{operation}: access denied ({code}): {message}")]
    AccessDenied {
        operation: Operation,
        code: String,
        message: String,
    },
    /// The pool's feature plan or add-ons do not offer the operation
    /// (`UserPoolAddOnNotEnabledException`: threat protection is off;
    /// `FeatureUnavailableInTierException`: not in the pool's feature plan).
    #[error("{operation}: not available in this user pool ({code}): {message}")]
    FeatureOff {
        operation: Operation,
        code: String,
        message: String,
    },
    /// Still throttled after the retry budget.
    #[error(
        "{operation}: still throttled by {} after {attempts} attempts: {message}",
        operation.service()
    )]
    Throttled {
        operation: Operation,
        attempts: u32,
        message: String,
    },
    /// A quota that retrying cannot fix (e.g. the default email sender's daily limit).
    #[error("{operation}: limit exceeded: {message}")]
    LimitExceeded {
        operation: Operation,
        message: String,
    },
    /// Cognito or the network failed, still after the retry budget.
    #[error(
        "{operation}: {} unavailable after {attempts} attempts: {message}",
        operation.service()
    )]
    Unavailable {
        operation: Operation,
        attempts: u32,
        message: String,
    },
    /// An answer that is not what the operation returns: an error body with a success status, a
    /// page without its list, a record without its name, more items than asked for, a page token
    /// that comes back. Asking again does not help an endpoint that answers so.
    #[error("{operation}: the answer is not a valid {operation} answer: {message}")]
    BadAnswer {
        operation: Operation,
        message: String,
    },
    /// A listing was given a page token it had already followed (A→A, A→B→A): followed again, it
    /// would never end.
    #[error(
        "Cognito repeated a page token this listing had already followed, so the listing would never end; it is stopped"
    )]
    RepeatedToken,
    /// Anything else Cognito answered.
    #[error("{operation}: {code}: {message}")]
    Other {
        operation: Operation,
        code: String,
        message: String,
    },
}

impl CognitoError {
    /// Whether trying the same call again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Unavailable { .. })
    }

    /// How an error reads when the request carried a page token (`continued`): a parameter
    /// Cognito accepted on the first page and now refuses can only be the token.
    pub fn on_page(self, continued: bool) -> Self {
        match self {
            Self::InvalidParameter { operation, message } if continued => {
                Self::StaleToken { operation, message }
            }
            other => other,
        }
    }

    pub fn is_throttling(&self) -> bool {
        matches!(self, Self::Throttled { .. })
    }

    /// Records how many attempts a retryable error took before it was given up on.
    pub(super) fn after_attempts(self, attempts: u32) -> Self {
        match self {
            Self::Throttled {
                operation, message, ..
            } => Self::Throttled {
                operation,
                attempts,
                message,
            },
            Self::Unavailable {
                operation, message, ..
            } => Self::Unavailable {
                operation,
                attempts,
                message,
            },
            other => other,
        }
    }

    /// Classifies an SDK error by its AWS error code and HTTP status. Its text is the bounded
    /// error chain ([`error_chain`]), never the raw answer: a body can be megabytes long and hold
    /// other users' attributes.
    pub(super) fn from_sdk<E, R>(operation: Operation, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + HttpStatus + 'static,
    {
        let status = err.raw_response().map(HttpStatus::status_code);
        if let Some(credentials) = find_source::<CredentialsError>(&err) {
            return credentials_failure(operation, credentials, &err);
        }
        if let Some(error_body) = find_source::<ErrorBodyWithSuccess>(&err) {
            return Self::BadAnswer {
                operation,
                message: error_body.to_string(),
            };
        }
        match &err {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let code = quoted(inner.code().unwrap_or("UnknownError"));
                let message = quoted(inner.message().unwrap_or("(no message)"));
                Self::from_code(operation, code, message, status)
            }
            SdkError::ResponseError(_) => Self::Unavailable {
                operation,
                attempts: 1,
                message: format!(
                    "HTTP {} with a body that is not a {operation} answer: {}",
                    status.unwrap_or_default(),
                    error_chain(&err)
                ),
            },
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => Self::Unavailable {
                operation,
                attempts: 1,
                message: error_chain(&err),
            },
            _ => Self::Other {
                operation,
                code: "ClientError".to_string(),
                message: error_chain(&err),
            },
        }
    }

    fn from_code(operation: Operation, code: String, message: String, status: Option<u16>) -> Self {
        match code.as_str() {
            "ResourceNotFoundException" => Self::NotFound { operation, message },
            "UserNotFoundException" => Self::UserNotFound { operation, message },
            "UsernameExistsException" | "GroupExistsException" => {
                Self::UsernameExists { operation, message }
            }
            // Another user already has this email or phone as an alias: a bad request, not
            // this user existing.
            "InvalidParameterException"
            | "InvalidToken"
            | "InvalidTokenException"
            | "AliasExistsException" => Self::InvalidParameter { operation, message },
            "NotAuthorizedException"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch"
            | "ExpiredTokenException"
            | "MissingAuthenticationToken"
            | "IncompleteSignature" => Self::Unauthenticated {
                operation,
                code,
                message,
            },
            "AccessDeniedException" | "AccessDenied" => Self::AccessDenied {
                operation,
                code,
                message,
            },
            "TooManyRequestsException" | "ThrottlingException" | "Throttling" => Self::Throttled {
                operation,
                attempts: 1,
                message,
            },
            "LimitExceededException" => Self::LimitExceeded { operation, message },
            "UserPoolAddOnNotEnabledException"
            | "FeatureUnavailableInTierException"
            | "OperationNotEnabledException" => Self::FeatureOff {
                operation,
                code,
                message,
            },
            "InternalErrorException" | "ServiceUnavailable" | "InternalFailure" => {
                Self::Unavailable {
                    operation,
                    attempts: 1,
                    message: format!("{code}: {message}"),
                }
            }
            _ if status.is_some_and(|s| s >= 500) => Self::Unavailable {
                operation,
                attempts: 1,
                message: format!("{code}: {message}"),
            },
            _ => Self::Other {
                operation,
                code,
                message,
            },
        }
    }
}

/// The error of type `T` behind an SDK error, if there is one: a credentials failure (which the
/// SDK reports as a dispatch failure, otherwise read as "Cognito unavailable" and retried), or
/// an error body that came with a success status.
fn find_source<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut source = Some(err);
    while let Some(current) = source {
        if let Some(found) = current.downcast_ref::<T>() {
            return Some(found);
        }
        source = current.source();
    }
    None
}

/// A success status carrying an AWS error body (`{"__type": ...}`): the SDK would read it as an
/// empty answer, so a check on every response (in `answers.rs`) turns it into this error.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status} carrying an error ({code}: {message})")]
pub struct ErrorBodyWithSuccess {
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// Credentials that cannot be had fail at once and loudly, like credentials AWS refuses; only
/// a credential source that timed out may be tried again.
fn credentials_failure(
    operation: Operation,
    credentials: &CredentialsError,
    err: &(dyn std::error::Error + 'static),
) -> CognitoError {
    let message = error_chain(err);
    match credentials {
        CredentialsError::ProviderTimedOut(_) => CognitoError::Unavailable {
            operation,
            attempts: 1,
            message,
        },
        _ => CognitoError::Unauthenticated {
            operation,
            code: "CredentialsError".to_string(),
            message,
        },
    }
}

/// The HTTP status of a raw response, whichever response type the SDK hands back.
pub trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(code: &str, status: u16) -> CognitoError {
        CognitoError::from_code(
            Operation::ListUsers,
            code.into(),
            "msg".into(),
            Some(status),
        )
    }

    #[test]
    fn codes_map_to_what_a_caller_should_do() {
        assert!(classify("TooManyRequestsException", 400).is_throttling());
        assert!(classify("TooManyRequestsException", 400).is_retryable());
        assert!(classify("InternalErrorException", 500).is_retryable());
        assert!(classify("SomethingNew", 503).is_retryable());
        assert!(!classify("LimitExceededException", 400).is_retryable());
        assert!(matches!(
            classify("NotAuthorizedException", 400),
            CognitoError::Unauthenticated { .. }
        ));
        assert!(matches!(
            classify("UnrecognizedClientException", 400),
            CognitoError::Unauthenticated { .. }
        ));
        assert!(matches!(
            classify("AccessDeniedException", 400),
            CognitoError::AccessDenied { .. }
        ));
        assert!(matches!(
            classify("ResourceNotFoundException", 400),
            CognitoError::NotFound { .. }
        ));
        assert!(matches!(
            classify("InvalidParameterException", 400),
            CognitoError::InvalidParameter { .. }
        ));
        assert!(matches!(classify("Weird", 400), CognitoError::Other { .. }));
    }

    #[test]
    fn a_parameter_refused_on_a_continued_page_is_a_stale_token() {
        for code in ["InvalidParameterException", "InvalidToken"] {
            assert!(matches!(
                classify(code, 400).on_page(true),
                CognitoError::StaleToken { .. }
            ));
            assert!(matches!(
                classify(code, 400).on_page(false),
                CognitoError::InvalidParameter { .. }
            ));
        }
        assert!(matches!(
            classify("TooManyRequestsException", 400).on_page(true),
            CognitoError::Throttled { .. }
        ));
    }

    #[test]
    fn attempts_are_recorded_on_retryable_errors_only() {
        let err = classify("TooManyRequestsException", 400).after_attempts(6);
        assert!(err.to_string().contains("after 6 attempts"), "{err}");
        let err = classify("NotAuthorizedException", 400).after_attempts(6);
        assert!(!err.to_string().contains("attempts"));
    }
}
