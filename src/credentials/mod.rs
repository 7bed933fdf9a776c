//! Passwords for new Cognito users, and their encryption for the caller (Baton protocol §1.8).
//!
//! `CreateAccount` may ask for a random password (`CredentialOptions.random_password`). The connector
//! makes one that the pool's password policy accepts ([`generate_password`]), and hands it back only
//! encrypted, once per `EncryptionConfig` of the request ([`encrypt_secret`]), in exactly the form the
//! Baton SDK's encryption providers produce, so that every Baton client can decrypt it:
//!
//! - `baton/jwk/v1`: the caller's public JWK. Ed25519 and RSA keys get an age file to the key's
//!   `ssh-ed25519` / `ssh-rsa` recipient, standard-base64 encoded (ASCII, padded); `key_id` and
//!   `key_ids[0]` are the hex SHA-256 JWK thumbprint (RFC 7638). ECDSA keys, which upstream turns
//!   into a JWE, are refused.
//! - `baton/age/v1`: a native age X25519 recipient (`age1…`); the binary age file, with `key_ids[0]`
//!   the hex SHA-256 of the recipient text and no `key_id`.
//!
//! The plaintext password lives only in a [`Secret`] and never appears in an error or a log line.

mod encrypt;
mod jwk;
mod password;

pub use encrypt::{PROVIDER_AGE, PROVIDER_JWK, PROVIDER_JWK_PRIVATE, encrypt_secret};
pub use password::{
    COGNITO_MAX_PASSWORD_LENGTH, COGNITO_SYMBOLS, DEFAULT_PASSWORD_LENGTH, PasswordPolicy,
    generate_password,
};

#[cfg(doc)]
use crate::secret::Secret;

/// Why a password could not be made or encrypted. No variant carries the password, and none
/// repeats a key or recipient from the request (a caller may paste a private key by mistake).
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// `random_password.length` is negative or above Cognito's maximum.
    #[error(
        "random_password.length {0} is out of range: use 0 for the default of {DEFAULT_PASSWORD_LENGTH}, or 8 to {COGNITO_MAX_PASSWORD_LENGTH}"
    )]
    InvalidLength(i64),
    /// A `PasswordConstraint` that cannot be honoured.
    #[error("random_password.constraints[{index}]: {reason}")]
    InvalidConstraint { index: usize, reason: &'static str },
    /// The constraints and the pool policy together need more characters than Cognito accepts.
    #[error(
        "the password would need {required} characters to satisfy the constraints and the pool's password policy, more than Cognito's maximum of {COGNITO_MAX_PASSWORD_LENGTH}"
    )]
    TooLong { required: u64 },
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    /// An `EncryptionConfig` that names no provider this connector knows.
    #[error(
        "encryption_configs[{index}]: unknown encryption provider {provider:?}; supported: \"baton/jwk/v1\", \"baton/age/v1\""
    )]
    UnknownProvider { index: usize, provider: String },
    /// An `EncryptionConfig` whose key or recipient is missing or malformed.
    #[error("encryption_configs[{index}]: {reason}")]
    InvalidConfig { index: usize, reason: String },
    /// A well-formed key of a kind this connector cannot encrypt to.
    #[error("encryption_configs[{index}]: unsupported key type: {reason}")]
    UnsupportedKeyType { index: usize, reason: String },
    /// The age encryption itself failed (an I/O error into memory: not expected).
    #[error("encryption_configs[{index}]: encryption failed: {reason}")]
    Encrypt { index: usize, reason: String },
}

impl CredentialError {
    /// Whether the request was at fault (gRPC `INVALID_ARGUMENT`) rather than this process
    /// (`INTERNAL`): only a failing random source or a failing encryption is ours.
    pub fn is_invalid_argument(&self) -> bool {
        !matches!(self, Self::Random(_) | Self::Encrypt { .. })
    }
}
