//! Who this connector is to the governance platform: the client id and secret the platform
//! issued, and the signed client assertion that is exchanged for an access token (RFC 7523
//! `private_key_jwt`, as the Baton SDK does it).
//!
//! - A client id is `<client name>@<token host>/<rest>`; the token host is also the platform's
//!   gRPC host.
//! - A client secret is four `:`-separated parts, the third `v1`, the fourth a base64url JWK of
//!   a private Ed25519 key.
//! - The assertion is a compact JWS signed with EdDSA: `iss` = `sub` = the client id, `aud` = the
//!   token host without its port, valid from two minutes before to two minutes after now.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;

use crate::secret::Secret;

/// How long an assertion is valid either side of now (clock skew between us and the platform).
const ASSERTION_LEEWAY_SECS: u64 = 120;
/// Random bytes in the `nonce` header of every assertion, so no two are alike; written in
/// lowercase hex, as the SDK's credential provider writes them.
const NONCE_BYTES: usize = 16;

/// Why `--client-id` or `--client-secret` was refused. Messages never contain the secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    #[error(
        "--client-id {0:?} is not a client id: expected <client name>@<host>/<rest>, as the platform issues it"
    )]
    ClientId(String),
    #[error("--client-secret is not a client secret: {0}")]
    ClientSecret(&'static str),
}

/// The client id, and the parts of it the protocol uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientId {
    full: String,
    name: String,
    token_host: String,
}

impl ClientId {
    pub fn parse(text: &str) -> Result<Self, IdentityError> {
        let invalid = || IdentityError::ClientId(text.to_string());
        let (name, rest) = text.split_once('@').ok_or_else(invalid)?;
        let (token_host, _) = rest.split_once('/').ok_or_else(invalid)?;
        if name.is_empty() || token_host.is_empty() || token_host.contains(char::is_whitespace) {
            return Err(invalid());
        }
        Ok(Self {
            full: text.to_string(),
            name: name.to_string(),
            token_host: token_host.to_string(),
        })
    }

    /// The whole id, as sent in `client_id` and the assertion's `iss` and `sub`.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The client's name, which leads the user agent.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The platform host (perhaps with a port) for the token endpoint and gRPC.
    pub fn token_host(&self) -> &str {
        &self.token_host
    }

    /// The assertion's audience: the token host without a port (`[::1]:8443` → `::1`).
    pub fn audience(&self) -> &str {
        let host = &self.token_host;
        if let Some(bracketed) = host.strip_prefix('[') {
            return bracketed.split_once(']').map_or(host, |(ip, _)| ip);
        }
        match host.rsplit_once(':') {
            Some((name, port)) if !name.contains(':') && port.parse::<u16>().is_ok() => name,
            _ => host,
        }
    }
}

/// The private key in the client secret.
pub struct ClientSecret {
    key: SigningKey,
    key_id: Option<String>,
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecret")
            .field("key", &"<redacted>")
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// The members of an Ed25519 JWK that matter here.
#[derive(Deserialize)]
struct PrivateJwk {
    kty: String,
    crv: Option<String>,
    d: Option<String>,
    x: Option<String>,
    kid: Option<String>,
}

impl ClientSecret {
    pub fn parse(secret: &Secret) -> Result<Self, IdentityError> {
        let fail = IdentityError::ClientSecret;
        let parts: Vec<&str> = secret.expose().splitn(4, ':').collect();
        let [_, _, version, encoded] = parts[..] else {
            return Err(fail("expected four parts separated by ':'"));
        };
        if version != "v1" {
            return Err(fail("its third part is not v1"));
        }
        let json = URL_SAFE_NO_PAD
            .decode(encoded.trim_end())
            .map_err(|_| fail("its last part is not base64url without padding"))?;
        let jwk: PrivateJwk =
            serde_json::from_slice(&json).map_err(|_| fail("its last part is not a JWK"))?;
        if jwk.kty != "OKP" || jwk.crv.as_deref() != Some("Ed25519") {
            return Err(fail("its key is not an Ed25519 (OKP) key"));
        }
        let bytes = |member: Option<String>, what| -> Result<[u8; 32], IdentityError> {
            member
                .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
                .and_then(|raw| <[u8; 32]>::try_from(raw).ok())
                .ok_or(fail(what))
        };
        let key = SigningKey::from_bytes(&bytes(jwk.d, "its key has no 32-byte private part")?);
        let public = bytes(jwk.x, "its key has no 32-byte public part")?;
        if key.verifying_key().to_bytes() != public {
            return Err(fail("its public part does not belong to its private part"));
        }
        Ok(Self {
            key,
            key_id: jwk.kid.filter(|kid| !kid.is_empty()),
        })
    }

    /// The client assertion for the token endpoint, signed now.
    pub fn assertion(&self, client: &ClientId, now: SystemTime) -> String {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let mut header = serde_json::Map::new();
        header.insert("alg".into(), json!("EdDSA"));
        if let Some(kid) = &self.key_id {
            header.insert("kid".into(), json!(kid));
        }
        header.insert("nonce".into(), json!(hex::encode(nonce)));
        // One audience is a plain string, as go-jose writes it.
        let claims = json!({
            "iss": client.as_str(),
            "sub": client.as_str(),
            "aud": client.audience(),
            "exp": now + ASSERTION_LEEWAY_SECS,
            "nbf": now.saturating_sub(ASSERTION_LEEWAY_SECS),
            "iat": now,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::Value::Object(header).to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier};
    use std::time::Duration;

    fn secret_for(key: &SigningKey, extra: serde_json::Value) -> Secret {
        let mut jwk = json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "d": URL_SAFE_NO_PAD.encode(key.to_bytes()),
            "x": URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
        });
        if let (Some(jwk), Some(extra)) = (jwk.as_object_mut(), extra.as_object()) {
            jwk.extend(extra.clone());
        }
        Secret::new(format!(
            "secret-token:conductorone.com:v1:{}",
            URL_SAFE_NO_PAD.encode(jwk.to_string())
        ))
    }

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn client_ids_name_the_token_host() {
        let id = ClientId::parse("swift-otter-1234@acme.conductor.one/pcc").unwrap();
        assert_eq!(
            (id.name(), id.token_host(), id.audience()),
            (
                "swift-otter-1234",
                "acme.conductor.one",
                "acme.conductor.one"
            )
        );
        let local = ClientId::parse("c@127.0.0.1:8443/x/y").unwrap();
        assert_eq!(
            (local.token_host(), local.audience()),
            ("127.0.0.1:8443", "127.0.0.1")
        );
        let v6 = ClientId::parse("c@[::1]:8443/x").unwrap();
        assert_eq!(v6.audience(), "::1");
        for bad in [
            "",
            "no-at-sign/x",
            "c@host-without-slash",
            "@host/x",
            "c@/x",
            "c@a b/x",
        ] {
            let err = ClientId::parse(bad).unwrap_err();
            assert!(err.to_string().contains("--client-id"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_assertion_is_an_eddsa_jws_the_public_key_verifies() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let secret = ClientSecret::parse(&secret_for(&key, json!({"kid": "k-1"}))).unwrap();
        let client = ClientId::parse("otter@acme.conductor.one:443/pcc").unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let jws = secret.assertion(&client, now);

        let parts: Vec<&str> = jws.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["kid"], "k-1");
        let nonce = header["nonce"].as_str().unwrap();
        assert_eq!(nonce.len(), 32, "16 bytes in hex, as the SDK's: {nonce}");
        assert!(
            nonce
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
            "{nonce}"
        );
        assert_eq!(
            decode(parts[1]),
            json!({"iss": "otter@acme.conductor.one:443/pcc", "sub": "otter@acme.conductor.one:443/pcc",
                   "aud": "acme.conductor.one", "exp": 1_800_000_120u64, "nbf": 1_799_999_880u64,
                   "iat": 1_800_000_000u64})
        );
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(
            key.verifying_key()
                .verify(signed.as_bytes(), &signature)
                .is_ok()
        );
        assert_ne!(
            jws,
            secret.assertion(&client, now),
            "a fresh nonce every time"
        );
    }

    #[test]
    fn malformed_secrets_get_a_reason_and_never_echo_the_value() {
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let good = secret_for(&key, json!({}));
        assert!(ClientSecret::parse(&good).is_ok());
        let other = SigningKey::from_bytes(&[8u8; 32]);
        let mismatched = secret_for(
            &key,
            json!({"x": URL_SAFE_NO_PAD.encode(other.verifying_key().to_bytes())}),
        );
        let cases = [
            Secret::new("only:three:s3cr3t-value"),
            Secret::new(good.expose().replacen(":v1:", ":v2:", 1)),
            Secret::new("a:b:v1:not base64 s3cr3t!"),
            Secret::new(format!("a:b:v1:{}", URL_SAFE_NO_PAD.encode("[]"))),
            secret_for(&key, json!({"crv": "X25519"})),
            secret_for(&key, json!({"d": null})),
            mismatched,
        ];
        for bad in cases {
            let err = ClientSecret::parse(&bad).unwrap_err().to_string();
            assert!(
                err.starts_with("--client-secret is not a client secret: "),
                "{err}"
            );
            let value = bad.expose().rsplit(':').next().unwrap_or_default();
            assert!(value.len() < 4 || !err.contains(value), "{err}");
        }
        let debug = format!("{:?}", ClientSecret::parse(&good).unwrap());
        assert!(
            !debug.contains(&URL_SAFE_NO_PAD.encode(key.to_bytes())),
            "{debug}"
        );
    }
}
