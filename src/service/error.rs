//! What can go wrong talking to the governance platform, and which of it is worth retrying.

use std::path::PathBuf;

use super::identity::IdentityError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("--c1-api-host {0:?} is not a host[:port]")]
    ApiHost(String),
    #[error("--c1-api-ca-file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error(
        "no trusted CA certificates: the system has none; name a PEM file with --c1-api-ca-file"
    )]
    NoTrustedRoots,
    #[error("the platform refused this client's credentials (HTTP {status} from {url}): {reason}")]
    TokenRefused {
        url: String,
        status: u16,
        reason: String,
    },
    #[error("cannot get a token from {url}: {reason}")]
    TokenUnreachable { url: String, reason: String },
    #[error("{url} answered with something that is not a token: {reason}")]
    TokenResponse { url: String, reason: String },
    #[error("platform call {rpc} failed: {code:?}: {message}")]
    Rpc {
        rpc: &'static str,
        code: tonic::Code,
        message: String,
    },
    #[error("cannot upload {path}: {reason}")]
    Upload { path: PathBuf, reason: String },
    #[error("cannot serve the health endpoint on {addr}: {source}")]
    Health {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

impl ServiceError {
    pub fn rpc(rpc: &'static str, status: tonic::Status) -> Self {
        Self::Rpc {
            rpc,
            code: status.code(),
            message: status.message().to_string(),
        }
    }

    /// Errors that no retry can fix: refused credentials, and the gRPC codes Baton's client
    /// gives up on at once. Everything else (transport trouble, a platform that is briefly
    /// unavailable) is retried with backoff.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::TokenUnreachable { .. } => false,
            Self::Rpc { code, .. } => matches!(
                code,
                tonic::Code::Unauthenticated
                    | tonic::Code::PermissionDenied
                    | tonic::Code::InvalidArgument
                    | tonic::Code::Unimplemented
                    | tonic::Code::FailedPrecondition
                    | tonic::Code::NotFound
            ),
            _ => true,
        }
    }
}
