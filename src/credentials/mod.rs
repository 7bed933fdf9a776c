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
mod error;
mod jwk;
mod password;

pub use encrypt::{PROVIDER_AGE, PROVIDER_JWK, PROVIDER_JWK_PRIVATE, encrypt_secret};
pub use error::{COGNITO_MAX_PASSWORD_LENGTH, CredentialError, DEFAULT_PASSWORD_LENGTH};
pub use password::{COGNITO_SYMBOLS, PasswordPolicy, generate_password};

#[cfg(doc)]
use crate::secret::Secret;
