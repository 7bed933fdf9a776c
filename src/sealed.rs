//! Opaque tokens this connector hands out and later takes back: gRPC page tokens and event-feed
//! cursors. A token is `base64url(JSON).base64url(MAC)`, the MAC keyed by what the token is
//! for and the listing it belongs to (pool, user filter), so garbage, a token damaged in
//! transit, or one issued for another pool or purpose is recognised as not ours instead of
//! being acted on. The key is derived, not random, so tokens survive restarts. It is an
//! integrity check, not a secret: no token carries anything a caller may not see.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

const MAC_LEN: usize = 16;
/// Tokens stay far below this; anything longer is not one of them, and is refused before it is
/// decoded.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// Seals and opens the tokens of one purpose.
#[derive(Clone)]
pub struct Sealer {
    key: [u8; 32],
}

impl Sealer {
    /// A sealer for `purpose` (e.g. "baton-cognito page token key") bound to `parts`.
    pub fn new(purpose: &str, parts: &[&str]) -> Self {
        let mut hash = Sha256::new().chain_update(purpose.as_bytes());
        for part in parts {
            hash.update(b"\0");
            hash.update(part.as_bytes());
        }
        Self {
            key: hash.finalize().into(),
        }
    }

    fn mac(&self, bytes: &[u8]) -> [u8; MAC_LEN] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(bytes);
        let full = mac.finalize().into_bytes();
        let mut out = [0; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    /// The token carrying `body`.
    pub fn seal_bytes(&self, body: &[u8]) -> String {
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(body),
            URL_SAFE_NO_PAD.encode(self.mac(body))
        )
    }

    /// The token carrying `payload` as JSON.
    pub fn seal<T: Serialize>(&self, payload: &T) -> String {
        let json = serde_json::to_vec(payload).expect("token payloads always serialize");
        self.seal_bytes(&json)
    }

    /// The body of a token this sealer issued; `None` for anything else, checked in constant
    /// time.
    pub fn open_bytes(&self, token: &str) -> Option<Vec<u8>> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let (body, mac) = token.split_once('.')?;
        let body = URL_SAFE_NO_PAD.decode(body).ok()?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        let expected = self.mac(&body);
        let equal = mac.len() == MAC_LEN
            && mac
                .iter()
                .zip(expected)
                .fold(0, |acc, (a, b)| acc | (a ^ b))
                == 0;
        equal.then_some(body)
    }

    /// The payload of a token this sealer issued; `None` for anything else, including a
    /// genuine token whose payload is not a `T`.
    pub fn open<T: DeserializeOwned>(&self, token: &str) -> Option<T> {
        serde_json::from_slice(&self.open_bytes(token)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_over_the_limit_is_refused_even_if_sealed() {
        let sealer = Sealer::new("purpose", &["pool"]);
        let long = sealer.seal_bytes(&vec![b'x'; MAX_TOKEN_LEN]);
        assert!(long.len() > MAX_TOKEN_LEN);
        assert_eq!(sealer.open_bytes(&long), None);
        let short = sealer.seal_bytes(b"x");
        assert_eq!(sealer.open_bytes(&short), Some(b"x".to_vec()));
    }

    #[test]
    fn tokens_open_only_with_the_same_purpose_and_parts() {
        let sealer = Sealer::new("purpose", &["pool", ""]);
        let token = sealer.seal(&(1u8, "x"));
        assert_eq!(sealer.open::<(u8, String)>(&token), Some((1, "x".into())));
        for other in [
            Sealer::new("other purpose", &["pool", ""]),
            Sealer::new("purpose", &["pool2", ""]),
            Sealer::new("purpose", &["pool", "filter"]),
            // The separator keeps ("ab", "") and ("a", "b") apart.
            Sealer::new("purpose", &["poo", "l"]),
        ] {
            assert_eq!(other.open::<(u8, String)>(&token), None);
        }
        assert_eq!(sealer.open::<(u8, u8)>(&token), None, "wrong payload type");
        assert_eq!(sealer.open_bytes("no-dot"), None);
        assert_eq!(sealer.open_bytes(&token[1..]), None);
    }
}
