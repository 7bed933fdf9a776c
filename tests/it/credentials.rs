//! Passwords encrypted as a Baton client receives them, opened by an independent age
//! implementation: `tests/it/support/age_decrypt.py`, written from the age specification with the
//! Python `cryptography` package only. A round trip through it shows the connector's output is a
//! real age file in upstream's framing, not just something the Rust age crate can read back.

use crate::support::age_decrypt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use baton_cognito::credentials::{
    CredentialError, PasswordPolicy, encrypt_secret, generate_password,
};
use baton_cognito::pb::v2::credential_options::RandomPassword;
use baton_cognito::pb::v2::encryption_config::{AgeRecipientConfig, Config, JwkPublicKeyConfig};
use baton_cognito::pb::v2::{EncryptedData, EncryptionConfig};
use baton_cognito::secret::Secret;
use rand::TryRngCore;
use sha2::{Digest, Sha256};

fn random_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut seed).unwrap();
    seed
}

/// A fresh Ed25519 key as Baton's one-shot `--create-account` path makes one: the private seed
/// (hex, for the decryptor) and the public JWK JSON.
fn ed25519_key() -> (String, String) {
    let seed = random_seed();
    let public = ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes();
    let jwk = format!(
        r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    let seed_hex = hex::encode(seed);
    (seed_hex, jwk)
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn jwk_config(jwk: &str) -> EncryptionConfig {
    EncryptionConfig {
        provider: "baton/jwk/v1".to_string(),
        config: Some(Config::JwkPublicKeyConfig(JwkPublicKeyConfig {
            pub_key: jwk.as_bytes().to_vec(),
        })),
        ..Default::default()
    }
}

fn age_config(recipient: &str) -> EncryptionConfig {
    EncryptionConfig {
        provider: "baton/age/v1".to_string(),
        config: Some(Config::AgeRecipientConfig(AgeRecipientConfig {
            recipient: recipient.to_string(),
        })),
        ..Default::default()
    }
}

/// What Baton's one-shot `--create-account-*` path asks for.
fn baton_password() -> Secret {
    generate_password(
        &PasswordPolicy::default(),
        &RandomPassword {
            length: 20,
            constraints: vec![],
        },
    )
    .unwrap()
}

/// `encrypted_bytes` of the JWK provider: the age file in standard, padded base64, as ASCII
/// (Go's `base64.StdEncoding.EncodeToString`). Returns the binary age file.
fn unwrap_jwk_framing(data: &EncryptedData) -> Vec<u8> {
    let text = std::str::from_utf8(&data.encrypted_bytes).expect("encrypted_bytes is ASCII");
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)),
        "only the standard base64 alphabet, no line breaks"
    );
    assert_eq!(text.len() % 4, 0, "padded");
    let file = STANDARD.decode(text).expect("standard base64");
    assert_eq!(STANDARD.encode(&file), text, "canonical");
    assert!(file.starts_with(b"age-encryption.org/v1\n"), "binary age");
    file
}

#[test]
fn ed25519_jwk_password_opens_with_an_independent_age_implementation() {
    let (seed, jwk) = ed25519_key();
    let password = baton_password();
    let configs = [jwk_config(&jwk)];
    let out = encrypt_secret(&password, "password", "initial password", &configs).unwrap();
    assert_eq!(out.len(), 1);
    let data = &out[0];

    assert_eq!(data.provider, "baton/jwk/v1");
    assert_eq!(data.name, "password");
    assert_eq!(data.description, "initial password");
    // RFC 7638 thumbprint, computed here from the JWK's required members in sorted order.
    let x = serde_json::from_str::<serde_json::Value>(&jwk).unwrap()["x"]
        .as_str()
        .unwrap()
        .to_string();
    let thumbprint = hex_sha256(format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#).as_bytes());
    #[allow(deprecated)]
    let key_id = data.key_id.clone();
    assert_eq!(key_id, thumbprint);
    assert_eq!(data.key_ids, vec![thumbprint]);

    let file = unwrap_jwk_framing(data);
    let header = String::from_utf8_lossy(&file[..file.len().min(200)]).into_owned();
    assert!(
        header.contains("\n-> ssh-ed25519 "),
        "an ssh-ed25519 stanza"
    );
    let plain = age_decrypt(&["ssh-ed25519", &seed], &file).unwrap();
    assert_eq!(plain, password.expose().as_bytes());

    // Another key cannot open it: the decryptor is not waving everything through.
    let (other_seed, _) = ed25519_key();
    let err = age_decrypt(&["ssh-ed25519", &other_seed], &file).unwrap_err();
    assert!(err.contains("another key"), "{err}");
}

#[test]
fn age_recipient_password_opens_with_an_independent_age_implementation() {
    use age::secrecy::ExposeSecret;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let secret_key = identity.to_string().expose_secret().to_string();
    let password = baton_password();
    let out = encrypt_secret(&password, "password", "", &[age_config(&recipient)]).unwrap();
    let data = &out[0];

    assert_eq!(data.provider, "baton/age/v1");
    #[allow(deprecated)]
    let key_id = data.key_id.clone();
    assert_eq!(
        key_id, "",
        "upstream leaves the deprecated key_id empty here"
    );
    assert_eq!(data.key_ids, vec![hex_sha256(recipient.as_bytes())]);
    // The binary age file itself: neither base64 nor ASCII armor.
    assert!(
        data.encrypted_bytes
            .starts_with(b"age-encryption.org/v1\n-> X25519 ")
    );

    // The decryptor also checks that the recipient string is the identity's public key.
    let plain = age_decrypt(&["x25519", &secret_key, &recipient], &data.encrypted_bytes).unwrap();
    assert_eq!(plain, password.expose().as_bytes());
}

#[test]
fn rsa_jwk_password_opens_with_an_independent_age_implementation() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("rsa.pem");
    let jwk = age_decrypt(&["rsa-keygen", pem.to_str().unwrap()], b"").unwrap();
    let jwk = String::from_utf8(jwk).unwrap();
    let password = baton_password();
    let out = encrypt_secret(&password, "password", "", &[jwk_config(jwk.trim())]).unwrap();
    let data = &out[0];
    assert_eq!(data.provider, "baton/jwk/v1");

    let parsed: serde_json::Value = serde_json::from_str(&jwk).unwrap();
    let thumbprint = hex_sha256(
        format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            parsed["e"].as_str().unwrap(),
            parsed["n"].as_str().unwrap()
        )
        .as_bytes(),
    );
    assert_eq!(data.key_ids, vec![thumbprint]);

    let file = unwrap_jwk_framing(data);
    let plain = age_decrypt(&["ssh-rsa", pem.to_str().unwrap()], &file).unwrap();
    assert_eq!(plain, password.expose().as_bytes());
}

#[test]
fn every_config_gets_its_own_file() {
    use age::secrecy::ExposeSecret;
    let (seed_a, jwk_a) = ed25519_key();
    let (seed_b, jwk_b) = ed25519_key();
    let identity = age::x25519::Identity::generate();
    let secret_key = identity.to_string().expose_secret().to_string();
    let password = baton_password();
    let out = encrypt_secret(
        &password,
        "password",
        "",
        &[
            jwk_config(&jwk_a),
            age_config(&identity.to_public().to_string()),
            jwk_config(&jwk_b),
        ],
    )
    .unwrap();
    assert_eq!(out.len(), 3);
    let want = password.expose().as_bytes();
    assert_eq!(
        age_decrypt(&["ssh-ed25519", &seed_a], &unwrap_jwk_framing(&out[0])).unwrap(),
        want
    );
    assert_eq!(
        age_decrypt(&["x25519", &secret_key], &out[1].encrypted_bytes).unwrap(),
        want
    );
    assert_eq!(
        age_decrypt(&["ssh-ed25519", &seed_b], &unwrap_jwk_framing(&out[2])).unwrap(),
        want
    );
}

#[test]
fn tampering_is_detected_by_the_decryptor() {
    use age::secrecy::ExposeSecret;
    let identity = age::x25519::Identity::generate();
    let secret_key = identity.to_string().expose_secret().to_string();
    let out = encrypt_secret(
        &baton_password(),
        "password",
        "",
        &[age_config(&identity.to_public().to_string())],
    )
    .unwrap();
    let file = &out[0].encrypted_bytes;

    // The last byte is in the payload's authentication tag.
    let mut payload_flipped = file.clone();
    *payload_flipped.last_mut().unwrap() ^= 1;
    let err = age_decrypt(&["x25519", &secret_key], &payload_flipped).unwrap_err();
    assert!(err.contains("does not decrypt"), "{err}");

    // A changed header MAC.
    let mac_at = file.windows(4).position(|w| w == b"--- ").unwrap() + 4;
    let mut mac_flipped = file.clone();
    mac_flipped[mac_at] = if mac_flipped[mac_at] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let err = age_decrypt(&["x25519", &secret_key], &mac_flipped).unwrap_err();
    assert!(err.contains("MAC"), "{err}");
}

#[test]
fn bad_configs_are_invalid_arguments_that_never_show_the_password() {
    let password = baton_password();
    for configs in [
        vec![EncryptionConfig {
            provider: "baton/jwe/v1".into(),
            ..jwk_config(&ed25519_key().1)
        }],
        vec![jwk_config(
            r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#,
        )],
        vec![jwk_config("{}")],
        vec![age_config("age1qqqq")],
    ] {
        let err: CredentialError = encrypt_secret(&password, "password", "", &configs).unwrap_err();
        assert!(err.is_invalid_argument(), "{err}");
        assert!(!err.to_string().contains(password.expose()));
        assert!(!format!("{err:?}").contains(password.expose()));
    }
}
