//! Why a password could not be made or encrypted, and the lengths those errors quote.

/// The length used when the request leaves `random_password.length` at 0, as the one-shot
/// `--create-account` path of Baton asks for.
pub const DEFAULT_PASSWORD_LENGTH: usize = 20;

/// Cognito refuses longer passwords.
pub const COGNITO_MAX_PASSWORD_LENGTH: usize = 256;

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
