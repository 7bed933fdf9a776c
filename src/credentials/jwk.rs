//! The public JWKs of the `baton/jwk/v1` provider: reading them as the Baton SDK (go-jose) does,
//! their SSH wire form (what the age `ssh-*` recipients are built from) and their RFC 7638
//! thumbprint, which Baton uses as the key id.

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// base64url without padding, as JWKs carry their members. Like Go's `RawURLEncoding`, padding is
/// refused and non-zero trailing bits are tolerated.
const B64URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// A public key this provider can encrypt to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum PublicJwk {
    /// `kty: OKP, crv: Ed25519`: the 32-byte compressed point.
    Ed25519 { x: [u8; 32] },
    /// `kty: RSA`: modulus and exponent, big-endian without leading zero bytes.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

/// Why a JWK was refused: malformed, or well-formed but of a kind not supported.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum JwkError {
    Invalid(String),
    Unsupported(String),
}

/// The members that matter; others (`kid`, `use`, `alg`, a private `d`, …) are ignored, as go-jose
/// ignores what it does not need for the public key.
#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

impl PublicJwk {
    /// Reads a JWK from its JSON. Error messages name members, never their values.
    pub(super) fn parse(json: &[u8]) -> Result<Self, JwkError> {
        let raw: RawJwk = serde_json::from_slice(json).map_err(|e| {
            // serde_json's messages can quote a value; only the position is repeated.
            JwkError::Invalid(format!(
                "pub_key is not a JSON web key (JSON {} at line {}, column {})",
                match e.classify() {
                    serde_json::error::Category::Data => "of the wrong shape",
                    serde_json::error::Category::Eof => "cut short",
                    _ => "syntax error",
                },
                e.line(),
                e.column()
            ))
        })?;
        match raw.kty.as_deref() {
            None | Some("") => Err(JwkError::Invalid(
                "pub_key has no \"kty\" (key type)".to_string(),
            )),
            Some("OKP") => match raw.crv.as_deref() {
                Some("Ed25519") => {
                    let x = member(&raw.x, "x")?;
                    let x: [u8; 32] = x.try_into().map_err(|x: Vec<u8>| {
                        JwkError::Invalid(format!(
                            "Ed25519 key member \"x\" is {} bytes long, not 32",
                            x.len()
                        ))
                    })?;
                    Ok(Self::Ed25519 { x })
                }
                _ => Err(JwkError::Unsupported(
                    "OKP keys are supported only on curve \"Ed25519\"".to_string(),
                )),
            },
            Some("RSA") => {
                let n = strip_leading_zeros(member(&raw.n, "n")?);
                let e = strip_leading_zeros(member(&raw.e, "e")?);
                if n.is_empty() || e.is_empty() {
                    return Err(JwkError::Invalid(
                        "RSA key has a zero modulus or exponent".to_string(),
                    ));
                }
                if e.len() > 8 {
                    return Err(JwkError::Invalid(
                        "RSA key exponent \"e\" is larger than 64 bits".to_string(),
                    ));
                }
                Ok(Self::Rsa { n, e })
            }
            Some("EC") => Err(JwkError::Unsupported(
                "ECDSA (kty \"EC\") keys are not supported: the Baton SDK encrypts to them with \
                 JWE (ECDH-ES, A256GCM), which this connector does not implement; use an Ed25519 \
                 or RSA key"
                    .to_string(),
            )),
            Some("oct") => Err(JwkError::Unsupported(
                "symmetric (kty \"oct\") keys cannot be encrypted to; send a public key"
                    .to_string(),
            )),
            Some(_) => Err(JwkError::Unsupported(
                "unknown \"kty\"; supported: \"OKP\" (Ed25519) and \"RSA\"".to_string(),
            )),
        }
    }

    /// The RFC 7638 thumbprint, hex SHA-256 over the required members in lexicographic order,
    /// encoded afresh from the key (so the input's own spelling, e.g. leading zero bytes in `n`,
    /// does not change it), as go-jose computes it.
    pub(super) fn thumbprint(&self) -> String {
        let canonical = match self {
            Self::Ed25519 { x } => format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                general_purpose::URL_SAFE_NO_PAD.encode(x)
            ),
            Self::Rsa { n, e } => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                general_purpose::URL_SAFE_NO_PAD.encode(e),
                general_purpose::URL_SAFE_NO_PAD.encode(n)
            ),
        };
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }

    /// The key in the SSH public key wire format (RFC 4253 §6.6, RFC 8709), as Go's
    /// `ssh.NewPublicKey(..).Marshal()` writes it.
    pub(super) fn ssh_wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Self::Ed25519 { x } => {
                ssh_string(&mut out, b"ssh-ed25519");
                ssh_string(&mut out, x);
            }
            Self::Rsa { n, e } => {
                ssh_string(&mut out, b"ssh-rsa");
                ssh_mpint(&mut out, e);
                ssh_mpint(&mut out, n);
            }
        }
        out
    }

    /// The key as an OpenSSH `authorized_keys` line without comment, which the age crate parses
    /// into an `ssh-ed25519` / `ssh-rsa` recipient.
    pub(super) fn ssh_public_key_line(&self) -> String {
        let kind = match self {
            Self::Ed25519 { .. } => "ssh-ed25519",
            Self::Rsa { .. } => "ssh-rsa",
        };
        // The age crate reads the key in unpadded base64.
        format!(
            "{kind} {}",
            general_purpose::STANDARD_NO_PAD.encode(self.ssh_wire())
        )
    }
}

fn member(value: &Option<String>, name: &str) -> Result<Vec<u8>, JwkError> {
    match value.as_deref() {
        None | Some("") => Err(JwkError::Invalid(format!(
            "pub_key has no \"{name}\" member"
        ))),
        Some(text) => B64URL_LENIENT.decode(text).map_err(|_| {
            JwkError::Invalid(format!(
                "pub_key member \"{name}\" is not unpadded base64url"
            ))
        }),
    }
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

fn ssh_string(out: &mut Vec<u8>, value: &[u8]) {
    // JWK members of keys we accept are far below 4 GiB.
    out.extend_from_slice(&(value.len() as u32).to_be_bytes());
    out.extend_from_slice(value);
}

/// A non-negative SSH `mpint`: minimal big-endian two's complement, so a leading 0 byte when the
/// top bit is set. `value` has no leading zeros already.
fn ssh_mpint(out: &mut Vec<u8>, value: &[u8]) {
    if value.first().is_some_and(|b| b & 0x80 != 0) {
        out.extend_from_slice(&(value.len() as u32 + 1).to_be_bytes());
        out.push(0);
        out.extend_from_slice(value);
    } else {
        ssh_string(out, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1 (the RSA key of RFC 7517 appendix A.1).
    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    fn b64url_to_hex(s: &str) -> String {
        hex::encode(general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap())
    }

    #[test]
    fn rfc7638_rsa_thumbprint() {
        let json = format!(
            r#"{{"kty":"RSA","n":"{RFC7638_N}","e":"AQAB","alg":"RS256","kid":"2011-04-29"}}"#
        );
        let key = PublicJwk::parse(json.as_bytes()).unwrap();
        // RFC 7638 §3.1: NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs
        assert_eq!(
            key.thumbprint(),
            b64url_to_hex("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn rfc8037_ed25519_thumbprint() {
        // RFC 8037 appendix A.3.
        let json =
            br#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        let key = PublicJwk::parse(json).unwrap();
        assert_eq!(
            key.thumbprint(),
            "90facafea9b1556698540f70c0117a22ea37bd5cf3ed3c47093c1707282b4b89"
        );
        assert_eq!(
            key.thumbprint(),
            b64url_to_hex("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
        );
    }

    #[test]
    fn rsa_thumbprint_ignores_leading_zeros_like_go_jose() {
        let n = general_purpose::URL_SAFE_NO_PAD.decode(RFC7638_N).unwrap();
        let padded_n = general_purpose::URL_SAFE_NO_PAD.encode([&[0u8, 0][..], &n].concat());
        let json = format!(r#"{{"kty":"RSA","n":"{padded_n}","e":"AAEAAQ"}}"#);
        let key = PublicJwk::parse(json.as_bytes()).unwrap();
        assert_eq!(
            key.thumbprint(),
            b64url_to_hex("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn a_private_jwk_is_read_for_its_public_part() {
        // RFC 8037 A.2: the private key carries "d"; upstream encrypts to its public half.
        let json = br#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        let key = PublicJwk::parse(json).unwrap();
        assert_eq!(
            key.thumbprint(),
            "90facafea9b1556698540f70c0117a22ea37bd5cf3ed3c47093c1707282b4b89"
        );
    }

    #[test]
    fn ssh_wire_format() {
        let x = [7u8; 32];
        let wire = PublicJwk::Ed25519 { x }.ssh_wire();
        let mut want = vec![0, 0, 0, 11];
        want.extend_from_slice(b"ssh-ed25519");
        want.extend_from_slice(&[0, 0, 0, 32]);
        want.extend_from_slice(&x);
        assert_eq!(wire, want);

        let wire = PublicJwk::Rsa {
            n: vec![0x80, 1],
            e: vec![1, 0, 1],
        }
        .ssh_wire();
        let mut want = vec![0, 0, 0, 7];
        want.extend_from_slice(b"ssh-rsa");
        want.extend_from_slice(&[0, 0, 0, 3, 1, 0, 1]); // e: top bit clear
        want.extend_from_slice(&[0, 0, 0, 3, 0, 0x80, 1]); // n: top bit set, so a 0 first
        assert_eq!(wire, want);
    }

    #[test]
    fn bad_jwks_are_refused_without_echoing_values() {
        let invalid = [
            &b"not json"[..],
            b"[]",
            br#"{"crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
            br#"{"kty":"OKP","crv":"Ed25519"}"#,
            br#"{"kty":"OKP","crv":"Ed25519","x":""}"#,
            br#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo="}"#,
            br#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS+7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
            br#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcH"}"#,
            br#"{"kty":"OKP","crv":"Ed25519","x":12}"#,
            br#"{"kty":"RSA","e":"AQAB"}"#,
            br#"{"kty":"RSA","n":"AAAA","e":"AQAB"}"#,
        ];
        for json in invalid {
            match PublicJwk::parse(json) {
                Err(JwkError::Invalid(message)) => {
                    assert!(!message.contains("11qYAYKx"), "{message}");
                }
                other => panic!("{} gave {other:?}", String::from_utf8_lossy(json)),
            }
        }
        let unsupported = [
            &br#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#[..],
            br#"{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}"#,
            br#"{"kty":"oct","k":"GawgguFyGrWKav7AX4VKUg"}"#,
            br#"{"kty":"PQ"}"#,
        ];
        for json in unsupported {
            assert!(
                matches!(PublicJwk::parse(json), Err(JwkError::Unsupported(_))),
                "{}",
                String::from_utf8_lossy(json)
            );
        }
    }
}
