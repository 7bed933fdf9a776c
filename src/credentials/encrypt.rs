//! Encrypting a credential for each `EncryptionConfig` of a request, byte-compatible with the
//! Baton SDK's `baton/jwk/v1` and `baton/age/v1` encryption providers.

use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::error::CredentialError;
use super::jwk::{JwkError, PublicJwk};
use crate::pb::v2::encryption_config::Config;
use crate::pb::v2::{EncryptedData, EncryptionConfig};
use crate::secret::Secret;

/// The public-JWK provider; also the `provider` of everything it produces.
pub const PROVIDER_JWK: &str = "baton/jwk/v1";
/// Registered upstream as another name of the JWK provider; its output still says `baton/jwk/v1`.
pub const PROVIDER_JWK_PRIVATE: &str = "baton/jwk/v1/private";
/// The native age recipient provider.
pub const PROVIDER_AGE: &str = "baton/age/v1";

/// A config, checked and ready to encrypt to.
enum Target {
    /// An age file to an SSH recipient, base64'd; `key_id` is the JWK thumbprint.
    Jwk {
        recipient: age::ssh::Recipient,
        thumbprint: String,
    },
    /// A binary age file to an X25519 recipient; `key_ids[0]` is the SHA-256 of the recipient text.
    Age {
        recipient: age::x25519::Recipient,
        key_id: String,
    },
}

/// Encrypts `secret` once for each config, as the Baton SDK's providers do:
///
/// - `baton/jwk/v1` (also `baton/jwk/v1/private`, and a config with no provider but a JWK): an age
///   file to the key's `ssh-ed25519` or `ssh-rsa` recipient; `encrypted_bytes` is its standard
///   base64 (padded) as ASCII; `key_id` and `key_ids[0]` the hex SHA-256 JWK thumbprint.
/// - `baton/age/v1` (also a config with no provider but an age recipient): the binary age file to
///   the `age1…` recipient; `key_ids[0]` the hex SHA-256 of the recipient text; no `key_id`.
///
/// Provider names are compared trimmed and case-insensitively, as upstream's registry does.
/// `name` and `description` are copied to every result; `schema` stays empty. Any bad config
/// fails the whole call (nothing is returned half-encrypted).
pub fn encrypt_secret(
    secret: &Secret,
    name: &str,
    description: &str,
    configs: &[EncryptionConfig],
) -> Result<Vec<EncryptedData>, CredentialError> {
    let targets = configs
        .iter()
        .enumerate()
        .map(|(index, config)| target(index, config))
        .collect::<Result<Vec<_>, _>>()?;
    let plaintext = secret.expose().as_bytes();
    targets
        .into_iter()
        .enumerate()
        .map(|(index, target)| {
            let failed = |e: age::EncryptError| CredentialError::Encrypt {
                index,
                reason: e.to_string(),
            };
            #[allow(deprecated)] // key_id: deprecated in the proto, still set by upstream.
            let data = match target {
                Target::Jwk {
                    recipient,
                    thumbprint,
                } => EncryptedData {
                    provider: PROVIDER_JWK.to_string(),
                    key_id: thumbprint.clone(),
                    name: name.to_string(),
                    description: description.to_string(),
                    schema: String::new(),
                    encrypted_bytes: STANDARD
                        .encode(age::encrypt(&recipient, plaintext).map_err(failed)?)
                        .into_bytes(),
                    key_ids: vec![thumbprint],
                },
                Target::Age { recipient, key_id } => EncryptedData {
                    provider: PROVIDER_AGE.to_string(),
                    key_id: String::new(),
                    name: name.to_string(),
                    description: description.to_string(),
                    schema: String::new(),
                    encrypted_bytes: age::encrypt(&recipient, plaintext).map_err(failed)?,
                    key_ids: vec![key_id],
                },
            };
            Ok(data)
        })
        .collect()
}

/// Which provider a config asks for, as upstream's registry resolves it.
fn target(index: usize, config: &EncryptionConfig) -> Result<Target, CredentialError> {
    let provider = config.provider.trim().to_ascii_lowercase();
    let provider = match provider.as_str() {
        "" => match &config.config {
            Some(Config::JwkPublicKeyConfig(_)) => PROVIDER_JWK,
            Some(Config::AgeRecipientConfig(_)) => PROVIDER_AGE,
            None => {
                return Err(CredentialError::InvalidConfig {
                    index,
                    reason: "no provider and no key: set provider \"baton/jwk/v1\" with \
                             jwk_public_key_config, or \"baton/age/v1\" with age_recipient_config"
                        .to_string(),
                });
            }
        },
        PROVIDER_JWK | PROVIDER_JWK_PRIVATE => PROVIDER_JWK,
        PROVIDER_AGE => PROVIDER_AGE,
        _ => {
            return Err(CredentialError::UnknownProvider {
                index,
                provider: config.provider.chars().take(64).collect(),
            });
        }
    };
    if provider == PROVIDER_JWK {
        let Some(Config::JwkPublicKeyConfig(jwk)) = &config.config else {
            return Err(CredentialError::InvalidConfig {
                index,
                reason: "provider \"baton/jwk/v1\" needs jwk_public_key_config".to_string(),
            });
        };
        jwk_target(index, &jwk.pub_key)
    } else {
        let Some(Config::AgeRecipientConfig(age)) = &config.config else {
            return Err(CredentialError::InvalidConfig {
                index,
                reason: "provider \"baton/age/v1\" needs age_recipient_config".to_string(),
            });
        };
        age_target(index, &age.recipient)
    }
}

fn jwk_target(index: usize, pub_key: &[u8]) -> Result<Target, CredentialError> {
    let invalid = |reason: String| CredentialError::InvalidConfig { index, reason };
    if pub_key.is_empty() {
        return Err(invalid(
            "jwk_public_key_config.pub_key is empty".to_string(),
        ));
    }
    let key = PublicJwk::parse(pub_key).map_err(|e| match e {
        JwkError::Invalid(reason) => invalid(reason),
        JwkError::Unsupported(reason) => CredentialError::UnsupportedKeyType { index, reason },
    })?;
    let recipient = age::ssh::Recipient::from_str(&key.ssh_public_key_line()).map_err(|e| {
        use age::ssh::ParseRecipientKeyError as E;
        match (&key, e) {
            (_, E::RsaModulusTooSmall) => invalid("the RSA key is shorter than 2048 bits".into()),
            (_, E::RsaModulusTooLarge) => CredentialError::UnsupportedKeyType {
                index,
                reason: "RSA keys longer than 4096 bits are not supported".to_string(),
            },
            (PublicJwk::Ed25519 { .. }, _) => {
                invalid("the Ed25519 key \"x\" is not a point on the curve".into())
            }
            (PublicJwk::Rsa { .. }, _) => invalid("the RSA key is not valid".into()),
        }
    })?;
    // A small-order point makes the X25519 shared secret zero, readable by anyone; Go's X25519
    // refuses it, so upstream fails here too.
    if let age::ssh::Recipient::SshEd25519(_, point) = &recipient
        && point.is_small_order()
    {
        return Err(invalid(
            "the Ed25519 key \"x\" is a small-order point".to_string(),
        ));
    }
    Ok(Target::Jwk {
        recipient,
        thumbprint: key.thumbprint(),
    })
}

/// Reads the recipient as upstream does: exactly one canonical recipient string, no surrounding
/// whitespace, no line breaks. The text is never repeated in an error: a caller who pastes an
/// `AGE-SECRET-KEY-…` identity there must not see it come back in a log.
fn age_target(index: usize, text: &str) -> Result<Target, CredentialError> {
    let invalid = |reason: &str| CredentialError::InvalidConfig {
        index,
        reason: reason.to_string(),
    };
    if text.is_empty() {
        return Err(invalid("age_recipient_config.recipient is empty"));
    }
    if text.trim() != text || text.contains(['\r', '\n']) {
        return Err(invalid(
            "age_recipient_config.recipient must be a single recipient string, without \
             surrounding whitespace or line breaks",
        ));
    }
    if text.starts_with("age1pq1") {
        return Err(CredentialError::UnsupportedKeyType {
            index,
            reason: "post-quantum hybrid age recipients (age1pq1…) are not supported; use an \
                     X25519 recipient (age1…)"
                .to_string(),
        });
    }
    if text.starts_with("AGE-SECRET-KEY-") {
        return Err(invalid(
            "age_recipient_config.recipient holds a private age identity, not a recipient: send \
             the public recipient (age1…) and keep the identity secret",
        ));
    }
    if !text.starts_with("age1") {
        return Err(invalid(
            "age_recipient_config.recipient is not an age X25519 recipient (age1…)",
        ));
    }
    let recipient = age::x25519::Recipient::from_str(text).map_err(|_| {
        invalid("age_recipient_config.recipient is not a valid age X25519 recipient (age1…)")
    })?;
    // The age crate panics when a recipient makes the shared secret zero (it blames the RNG); Go's
    // X25519 refuses such a point with an error. Refuse it here, before encrypting.
    if x25519_is_small_order(text) {
        return Err(invalid(
            "age_recipient_config.recipient is a small-order X25519 point",
        ));
    }
    Ok(Target::Age {
        recipient,
        key_id: hex::encode(Sha256::digest(text.as_bytes())),
    })
}

/// Whether an `age1…` recipient (already parsed by the age crate) is an X25519 point whose shared
/// secret with any key is zero. Clamped scalars are multiples of 8, so one fixed scalar tells.
fn x25519_is_small_order(text: &str) -> bool {
    let Ok((_, bytes)) = bech32::decode(text) else {
        return true;
    };
    let Ok(point) = <[u8; 32]>::try_from(bytes.as_slice()) else {
        return true;
    };
    x25519_dalek::x25519([0x42; 32], point) == [0; 32]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::v2::encryption_config::{AgeRecipientConfig, JwkPublicKeyConfig};

    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const RFC8037_THUMBPRINT: &str =
        "90facafea9b1556698540f70c0117a22ea37bd5cf3ed3c47093c1707282b4b89";

    fn jwk_config(provider: &str, json: &str) -> EncryptionConfig {
        EncryptionConfig {
            provider: provider.to_string(),
            config: Some(Config::JwkPublicKeyConfig(JwkPublicKeyConfig {
                pub_key: json.as_bytes().to_vec(),
            })),
            ..Default::default()
        }
    }

    fn age_config(provider: &str, recipient: &str) -> EncryptionConfig {
        EncryptionConfig {
            provider: provider.to_string(),
            config: Some(Config::AgeRecipientConfig(AgeRecipientConfig {
                recipient: recipient.to_string(),
            })),
            ..Default::default()
        }
    }

    fn ed25519_jwk() -> String {
        format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{RFC8037_X}"}}"#)
    }

    fn err(configs: &[EncryptionConfig]) -> CredentialError {
        let secret = Secret::new("Pa55word!");
        let e = encrypt_secret(&secret, "password", "", configs).unwrap_err();
        assert!(!e.to_string().contains("Pa55word"));
        assert!(!format!("{e:?}").contains("Pa55word"));
        e
    }

    #[test]
    fn jwk_output_is_base64_of_an_age_file_keyed_by_thumbprint() {
        let secret = Secret::new("Pa55word!");
        let out = encrypt_secret(
            &secret,
            "password",
            "the user's first password",
            &[jwk_config(PROVIDER_JWK, &ed25519_jwk())],
        )
        .unwrap();
        assert_eq!(out.len(), 1);
        let data = &out[0];
        assert_eq!(data.provider, "baton/jwk/v1");
        #[allow(deprecated)]
        let key_id = &data.key_id;
        assert_eq!(key_id, RFC8037_THUMBPRINT);
        assert_eq!(data.key_ids, vec![RFC8037_THUMBPRINT.to_string()]);
        assert_eq!(data.name, "password");
        assert_eq!(data.description, "the user's first password");
        assert_eq!(data.schema, "");
        let text = std::str::from_utf8(&data.encrypted_bytes).unwrap();
        let file = STANDARD.decode(text).unwrap();
        assert_eq!(STANDARD.encode(&file), text, "canonical padded base64");
        assert!(file.starts_with(b"age-encryption.org/v1\n-> ssh-ed25519 "));
    }

    #[test]
    fn age_output_is_a_binary_age_file_keyed_by_recipient_hash() {
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        let secret = Secret::new("Pa55word!");
        let out = encrypt_secret(&secret, "password", "", &[age_config("", &recipient)]).unwrap();
        let data = &out[0];
        assert_eq!(data.provider, "baton/age/v1");
        #[allow(deprecated)]
        let key_id = &data.key_id;
        assert_eq!(key_id, "");
        assert_eq!(
            data.key_ids,
            vec![hex::encode(Sha256::digest(recipient.as_bytes()))]
        );
        assert!(
            data.encrypted_bytes
                .starts_with(b"age-encryption.org/v1\n-> X25519 ")
        );
        // Round trip with the age crate as a sanity check (the integration test decrypts with an
        // independent implementation).
        let plain = age::decrypt(&identity, &data.encrypted_bytes).unwrap();
        assert_eq!(plain, b"Pa55word!");
    }

    #[test]
    fn one_result_per_config_in_order() {
        let identity = age::x25519::Identity::generate();
        let configs = [
            age_config(" BATON/AGE/V1 ", &identity.to_public().to_string()),
            jwk_config("", &ed25519_jwk()),
            jwk_config("baton/jwk/v1/private", &ed25519_jwk()),
        ];
        let out = encrypt_secret(&Secret::new("x"), "n", "d", &configs).unwrap();
        let providers: Vec<_> = out.iter().map(|d| d.provider.as_str()).collect();
        assert_eq!(providers, ["baton/age/v1", "baton/jwk/v1", "baton/jwk/v1"]);
        assert!(
            encrypt_secret(&Secret::new("x"), "n", "d", &[])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn rsa_jwk_gets_an_ssh_rsa_stanza() {
        // RFC 7638 §3.1's 2048-bit key.
        let json = r#"{"kty":"RSA","e":"AQAB","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}"#;
        let out = encrypt_secret(&Secret::new("x"), "n", "", &[jwk_config("", json)]).unwrap();
        let want = "3736cbb1787cb8309c77ee8c3705c5e16ffb9e859715901f1e4c59b11182f57b";
        assert_eq!(out[0].key_ids, vec![want.to_string()]);
        let file = STANDARD.decode(&out[0].encrypted_bytes).unwrap();
        assert!(file.starts_with(b"age-encryption.org/v1\n-> ssh-rsa "));

        // Under 2048 bits: refused, as upstream's age does.
        let n = json
            .split(r#""n":""#)
            .nth(1)
            .unwrap()
            .trim_end_matches("\"}");
        let mut n = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(n)
            .unwrap();
        n.truncate(250);
        n[249] |= 1; // odd, as a modulus must be
        let short = format!(
            r#"{{"kty":"RSA","e":"AQAB","n":"{}"}}"#,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&n)
        );
        let e = err(&[jwk_config(PROVIDER_JWK, &short)]);
        assert!(e.to_string().contains("shorter than 2048"), "{e}");
    }

    #[test]
    fn unknown_provider() {
        let e = err(&[jwk_config("baton/jwe/v9", &ed25519_jwk())]);
        assert!(matches!(
            e,
            CredentialError::UnknownProvider { index: 0, .. }
        ));
        assert!(e.to_string().contains("baton/jwe/v9"));
        assert!(e.is_invalid_argument());
        let e = err(&[EncryptionConfig::default()]);
        assert!(matches!(e, CredentialError::InvalidConfig { index: 0, .. }));
    }

    #[test]
    fn provider_and_config_must_agree() {
        let identity = age::x25519::Identity::generate();
        let e = err(&[
            jwk_config(PROVIDER_JWK, &ed25519_jwk()),
            age_config(PROVIDER_JWK, &identity.to_public().to_string()),
        ]);
        assert!(matches!(e, CredentialError::InvalidConfig { index: 1, .. }));
        let e = err(&[jwk_config(PROVIDER_AGE, &ed25519_jwk())]);
        assert!(matches!(e, CredentialError::InvalidConfig { index: 0, .. }));
    }

    #[test]
    fn bad_jwks() {
        for json in [
            "",
            "{",
            r#"{"kty":"OKP","crv":"Ed25519"}"#,
            r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#,
        ] {
            let e = err(&[jwk_config(PROVIDER_JWK, json)]);
            assert!(
                matches!(e, CredentialError::InvalidConfig { index: 0, .. }),
                "{json}: {e}"
            );
            assert!(e.is_invalid_argument());
        }
        // y = 2 has no x on the curve.
        let mut not_a_point = [0u8; 32];
        not_a_point[0] = 2;
        let json = format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(not_a_point)
        );
        let e = err(&[jwk_config(PROVIDER_JWK, &json)]);
        assert!(e.to_string().contains("not a point"), "{e}");
        // The identity point (y = 1) has order 1.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let json = format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(identity)
        );
        let e = err(&[jwk_config(PROVIDER_JWK, &json)]);
        assert!(e.to_string().contains("small-order"), "{e}");
    }

    #[test]
    fn unsupported_key_types() {
        let ec = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
        let e = err(&[jwk_config(PROVIDER_JWK, ec)]);
        assert!(matches!(e, CredentialError::UnsupportedKeyType { .. }));
        assert!(e.to_string().contains("unsupported key type"), "{e}");
        assert!(e.is_invalid_argument());
        let e = err(&[age_config(PROVIDER_AGE, "age1pq1qqqq")]);
        assert!(matches!(e, CredentialError::UnsupportedKeyType { .. }));
    }

    #[test]
    fn bad_age_recipients_are_refused_without_echoing_them() {
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        let secret_key = {
            use age::secrecy::ExposeSecret;
            identity.to_string().expose_secret().to_string()
        };
        let zero =
            bech32::encode::<bech32::Bech32>(bech32::Hrp::parse("age").unwrap(), &[0; 32]).unwrap();
        for bad in [
            String::new(),
            format!(" {recipient}"),
            format!("{recipient}\n{recipient}"),
            format!("# {recipient}"),
            secret_key.clone(),
            recipient.to_uppercase(),
            format!("{recipient}x"),
            "age1notavalidrecipient".to_string(),
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
                .to_string(),
            zero.clone(),
        ] {
            let e = err(&[age_config(PROVIDER_AGE, &bad)]);
            assert!(
                matches!(e, CredentialError::InvalidConfig { index: 0, .. }),
                "{bad:?}: {e}"
            );
            assert!(!e.to_string().contains(&secret_key));
            assert!(!e.to_string().contains(&recipient[10..]));
        }
        // The age crate would panic on this one; it must be a plain error.
        let e = err(&[age_config(PROVIDER_AGE, &zero)]);
        assert!(e.to_string().contains("small-order"), "{e}");
    }

    #[test]
    fn results_hold_no_plaintext() {
        let secret = Secret::new("Pa55word!-unique-marker");
        let out =
            encrypt_secret(&secret, "password", "", &[jwk_config("", &ed25519_jwk())]).unwrap();
        let shown = format!("{out:?}");
        assert!(!shown.contains("unique-marker"));
        let bytes = String::from_utf8_lossy(&out[0].encrypted_bytes);
        assert!(!bytes.contains("unique-marker"));
    }
}
