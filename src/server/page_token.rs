//! Page tokens handed to gRPC callers.
//!
//! A token wraps a [`Cursor`] with the listing it belongs to and a MAC keyed by the pool and the
//! user filter, so that garbage, a token damaged in transit, or one from another listing, pool
//! or filter is refused with INVALID_ARGUMENT instead of silently restarting or replaying a
//! Cognito token with other parameters. The key is stable across restarts, so a caller that
//! checkpointed a token can resume with a new process. It is an integrity check, not a secret:
//! a token only ever carries a Cognito token, which Cognito itself validates.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::connector::Cursor;

/// Baton's validation limit on page sizes.
pub const MAX_REQUEST_PAGE_SIZE: u32 = 250;

/// Tokens this connector issues stay far below this; anything longer is not one of them.
const MAX_TOKEN_LEN: usize = 64 * 1024;
const MAC_LEN: usize = 16;
const VERSION: u8 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PageTokenError {
    #[error(
        "page_token was not issued by this connector for this user pool and filter, or was altered"
    )]
    Forged,
    #[error("page_token belongs to another listing ({found}), not to {expected}")]
    WrongListing { found: String, expected: String },
    #[error("page_size {0} is larger than the maximum of {MAX_REQUEST_PAGE_SIZE}")]
    PageSize(u32),
}

#[derive(Serialize, Deserialize)]
struct Payload {
    v: u8,
    /// The listing: e.g. `resources/user` or `grants/group/<name>`.
    k: String,
    c: Cursor,
}

/// Encodes and checks page tokens for one pool.
#[derive(Clone)]
pub struct PageTokens {
    key: [u8; 32],
}

impl PageTokens {
    /// Tokens for listings of one pool under one user filter (`""` when none).
    pub fn new(pool_id: &str, user_filter: &str) -> Self {
        let key = Sha256::new()
            .chain_update(b"baton-cognito page token key\0")
            .chain_update(pool_id.as_bytes())
            .chain_update(b"\0")
            .chain_update(user_filter.as_bytes())
            .finalize()
            .into();
        Self { key }
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

    /// The token for resuming `listing` at `cursor`; `None` (the listing is complete) is "".
    pub fn encode(&self, listing: &str, cursor: Option<&Cursor>) -> String {
        let Some(cursor) = cursor else {
            return String::new();
        };
        let payload = Payload {
            v: VERSION,
            k: listing.to_string(),
            c: cursor.clone(),
        };
        let json = serde_json::to_vec(&payload).expect("a cursor always serializes");
        let mac = self.mac(&json);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&json),
            URL_SAFE_NO_PAD.encode(mac)
        )
    }

    /// Where to resume `listing`: the start for an empty token, else the cursor inside it.
    pub fn decode(
        &self,
        listing: &str,
        token: &str,
        page_size: u32,
    ) -> Result<Cursor, PageTokenError> {
        if page_size > MAX_REQUEST_PAGE_SIZE {
            return Err(PageTokenError::PageSize(page_size));
        }
        if token.is_empty() {
            return Ok(Cursor::first(page_size));
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(PageTokenError::Forged);
        }
        let (body, mac) = token.split_once('.').ok_or(PageTokenError::Forged)?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| PageTokenError::Forged)?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| PageTokenError::Forged)?;
        let expected = self.mac(&json);
        let equal = mac.len() == MAC_LEN
            && mac
                .iter()
                .zip(expected)
                .fold(0, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !equal {
            return Err(PageTokenError::Forged);
        }
        let payload: Payload = serde_json::from_slice(&json).map_err(|_| PageTokenError::Forged)?;
        if payload.v != VERSION {
            return Err(PageTokenError::Forged);
        }
        if payload.k != listing {
            return Err(PageTokenError::WrongListing {
                found: payload.k,
                expected: listing.to_string(),
            });
        }
        let mut cursor = payload.c;
        // A resumed page keeps the page size it started with, unless it is at a page boundary,
        // where the caller may change it.
        if cursor.skip == 0 {
            cursor.limit = Cursor::first(page_size).limit;
        }
        Ok(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> Cursor {
        Cursor {
            cognito_token: Some("cognito-token/+=".into()),
            skip: 3,
            limit: 7,
        }
    }

    #[test]
    fn round_trips_and_binds_to_the_listing_and_pool() {
        let tokens = PageTokens::new("us-east-1_A", "");
        let token = tokens.encode("resources/user", Some(&cursor()));
        assert_eq!(
            tokens.decode("resources/user", &token, 0).unwrap(),
            cursor()
        );
        assert!(matches!(
            tokens.decode("resources/group", &token, 0),
            Err(PageTokenError::WrongListing { .. })
        ));
        let other_pool = PageTokens::new("us-east-1_B", "");
        assert_eq!(
            other_pool.decode("resources/user", &token, 0),
            Err(PageTokenError::Forged)
        );
        assert_eq!(tokens.encode("resources/user", None), "");
        assert_eq!(
            tokens.decode("resources/user", "", 5).unwrap(),
            Cursor::first(5)
        );
    }

    #[test]
    fn garbage_and_tampering_are_refused() {
        let tokens = PageTokens::new("us-east-1_A", "");
        let token = tokens.encode("resources/user", Some(&cursor()));
        for bad in [
            "x",
            "....",
            "%%%.%%%",
            "e30.AAAA",
            &token[1..],
            &format!("{token}A"),
            &"A".repeat(70_000),
        ] {
            assert!(
                tokens.decode("resources/user", bad, 0).is_err(),
                "accepted {bad:?}"
            );
        }
        // Flip one character of the body.
        let mut altered = token.clone().into_bytes();
        altered[5] = if altered[5] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(
            tokens.decode("resources/user", &altered, 0),
            Err(PageTokenError::Forged)
        );
        assert_eq!(
            tokens.decode("resources/user", "", 251),
            Err(PageTokenError::PageSize(251))
        );
    }

    #[test]
    fn page_size_changes_apply_only_at_page_boundaries() {
        let tokens = PageTokens::new("p", "");
        let at_boundary = Cursor {
            skip: 0,
            ..cursor()
        };
        let token = tokens.encode("l", Some(&at_boundary));
        assert_eq!(tokens.decode("l", &token, 1).unwrap().limit, 1);
        let mid_page = tokens.encode("l", Some(&cursor()));
        assert_eq!(tokens.decode("l", &mid_page, 1).unwrap().limit, 7);
    }
}
