//! Page tokens handed to gRPC callers.
//!
//! A token wraps a [`Cursor`] with the listing it belongs to, sealed (see [`crate::sealed`])
//! for the pool and the user filter, so that garbage, a token damaged in transit, or one from
//! another listing, pool or filter is refused with INVALID_ARGUMENT instead of silently
//! restarting or replaying a Cognito token with other parameters. A caller that checkpointed a
//! token can resume with a new process. A token only ever carries a Cognito token, which
//! Cognito itself validates.

use serde::{Deserialize, Serialize};

use crate::connector::Cursor;
use crate::sealed::Sealer;

/// Baton's validation limit on page sizes.
pub const MAX_REQUEST_PAGE_SIZE: u32 = 250;

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
    sealer: Sealer,
}

impl PageTokens {
    /// Tokens for listings of one pool under one user filter (`""` when none).
    pub fn new(pool_id: &str, user_filter: &str) -> Self {
        Self {
            sealer: Sealer::new("baton-cognito page token key", &[pool_id, user_filter]),
        }
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
        self.sealer.seal(&payload)
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
        let payload: Payload = self.sealer.open(token).ok_or(PageTokenError::Forged)?;
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

/// Property tests: whatever a caller sends as a page token, decoding answers (never panics),
/// accepts only what this connector issued for this pool, filter and listing, and gives back
/// exactly the cursor it encoded.
#[cfg(test)]
mod proptests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use proptest::collection::{btree_map, vec};
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use crate::sealed::MAX_TOKEN_LEN;

    fn cursors() -> impl Strategy<Value = Cursor> {
        (
            proptest::option::of(any::<String>()),
            prop_oneof![Just(0u32), any::<u32>()],
            prop_oneof![Just(0u32), 1u32..=60, any::<u32>()],
        )
            .prop_map(|(cognito_token, skip, limit)| Cursor {
                cognito_token,
                skip,
                limit,
            })
    }

    fn listings() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("resources/user".to_string()),
            Just("resources/group".to_string()),
            any::<String>().prop_map(|g| format!("grants/group/{g}")),
            any::<String>(),
        ]
    }

    /// Pool ids and filters as the connector has them: never a NUL (the key's separator).
    fn key_parts() -> impl Strategy<Value = (String, String)> {
        ("[^\u{0}]{0,24}", "[^\u{0}]{0,40}")
    }

    /// What `decode` gives back for a token of `cursor` at `page_size`: the cursor, with the
    /// caller's page size where the listing is at a page boundary.
    fn resumed(cursor: &Cursor, page_size: u32) -> Cursor {
        if cursor.skip == 0 {
            Cursor {
                limit: Cursor::first(page_size).limit,
                ..cursor.clone()
            }
        } else {
            cursor.clone()
        }
    }

    fn json_scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            Just(Value::from(VERSION)),
            Just(Value::from(u64::from(u32::MAX) + 1)),
            Just(Value::from(-1)),
            any::<String>().prop_map(Value::from),
        ]
    }

    fn json_any() -> impl Strategy<Value = Value> {
        json_scalar().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(Value::Array),
                btree_map("[a-z]{0,2}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// JSON shaped like a token payload, each part right or wrong: what a forger who knew the
    /// key could sign.
    fn payload_like() -> impl Strategy<Value = Value> {
        let cursor = prop_oneof![
            (
                proptest::option::of(json_any()),
                proptest::option::of(json_scalar()),
                proptest::option::of(json_scalar()),
            )
                .prop_map(|(t, s, l)| {
                    let mut object = serde_json::Map::new();
                    for (key, value) in [("t", t), ("s", s), ("l", l)] {
                        if let Some(value) = value {
                            object.insert(key.to_string(), value);
                        }
                    }
                    Value::Object(object)
                }),
            json_any(),
        ];
        (
            proptest::option::of(json_scalar()),
            proptest::option::of(prop_oneof![
                Just(Value::from("resources/user")),
                json_scalar()
            ]),
            proptest::option::of(cursor),
            proptest::option::of(json_any()),
        )
            .prop_map(|(v, k, c, extra)| {
                let mut object = serde_json::Map::new();
                for (key, value) in [("v", v), ("k", k), ("c", c), ("x", extra)] {
                    if let Some(value) = value {
                        object.insert(key.to_string(), value);
                    }
                }
                Value::Object(object)
            })
    }

    /// A token in the issued format around `body`, signed with `tokens`' key.
    fn signed(tokens: &PageTokens, body: &[u8]) -> String {
        tokens.sealer.seal_bytes(body)
    }

    proptest! {
        #![proptest_config(crate::testing::proptest_config())]

        #[test]
        fn arbitrary_text_is_never_taken_for_a_token(token in any::<String>(), page_size in 0u32..=250) {
            let tokens = PageTokens::new("us-east-1_A", "");
            match tokens.decode("resources/user", &token, page_size) {
                Ok(cursor) => {
                    prop_assert!(token.is_empty(), "accepted {token:?}");
                    prop_assert_eq!(cursor, Cursor::first(page_size));
                }
                Err(err) => prop_assert_eq!(err, PageTokenError::Forged),
            }
        }

        #[test]
        fn arbitrary_bytes_are_refused(bytes in vec(any::<u8>(), 1..2048)) {
            let tokens = PageTokens::new("us-east-1_A", "");
            let token = String::from_utf8_lossy(&bytes);
            prop_assert_eq!(
                tokens.decode("resources/user", &token, 0),
                Err(PageTokenError::Forged)
            );
        }

        /// Right format, wrong MAC: the shape alone opens nothing.
        #[test]
        fn well_formed_but_unsigned_tokens_are_refused(
            body in vec(any::<u8>(), 0..256),
            mac in vec(any::<u8>(), 0..40),
        ) {
            let tokens = PageTokens::new("us-east-1_A", "");
            let token = format!("{}.{}", URL_SAFE_NO_PAD.encode(&body), URL_SAFE_NO_PAD.encode(&mac));
            prop_assert_eq!(tokens.decode("resources/user", &token, 0), Err(PageTokenError::Forged));
        }

        #[test]
        fn issued_tokens_round_trip(
            cursor in cursors(),
            listing in listings(),
            (pool, filter) in key_parts(),
            page_size in 0u32..=MAX_REQUEST_PAGE_SIZE,
        ) {
            let tokens = PageTokens::new(&pool, &filter);
            let token = tokens.encode(&listing, Some(&cursor));
            prop_assert!(!token.is_empty());
            prop_assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{token}");
            prop_assert_eq!(tokens.decode(&listing, &token, page_size), Ok(resumed(&cursor, page_size)));
            // The end of a listing is the empty token, which starts over only when sent again.
            prop_assert_eq!(tokens.encode(&listing, None), "");
        }

        #[test]
        fn one_changed_character_is_refused(
            cursor in cursors(),
            listing in listings(),
            at in any::<prop::sample::Index>(),
            replacement in prop_oneof![
                proptest::char::range('A', 'Z'),
                proptest::char::range('a', 'z'),
                proptest::char::range('0', '9'),
                Just('-'), Just('_'), Just('.'), Just('='), Just('+'), Just('/'), any::<char>(),
            ],
        ) {
            let tokens = PageTokens::new("us-east-1_A", "email ^= \"a\"");
            let token = tokens.encode(&listing, Some(&cursor));
            let mut chars: Vec<char> = token.chars().collect();
            let i = at.index(chars.len());
            prop_assume!(chars[i] != replacement);
            chars[i] = replacement;
            let altered: String = chars.into_iter().collect();
            prop_assert_eq!(tokens.decode(&listing, &altered, 0), Err(PageTokenError::Forged));
        }

        #[test]
        fn cut_or_extended_tokens_are_refused(
            cursor in cursors(),
            cut in any::<prop::sample::Index>(),
            tail in "[A-Za-z0-9_.-]{1,8}",
        ) {
            let tokens = PageTokens::new("us-east-1_A", "");
            let token = tokens.encode("resources/user", Some(&cursor));
            let cut_at = cut.index(token.len());
            prop_assert_eq!(tokens.decode("resources/user", &token[..cut_at], 0).err(), (cut_at > 0).then_some(PageTokenError::Forged));
            prop_assert_eq!(tokens.decode("resources/user", &token[cut_at..], 0).err(), (cut_at > 0).then_some(PageTokenError::Forged));
            prop_assert_eq!(tokens.decode("resources/user", &format!("{token}{tail}"), 0), Err(PageTokenError::Forged));
        }

        #[test]
        fn tokens_of_another_pool_or_filter_are_refused(
            cursor in cursors(),
            issuer in key_parts(),
            reader in key_parts(),
        ) {
            prop_assume!(issuer != reader);
            let token = PageTokens::new(&issuer.0, &issuer.1).encode("resources/user", Some(&cursor));
            prop_assert_eq!(
                PageTokens::new(&reader.0, &reader.1).decode("resources/user", &token, 0),
                Err(PageTokenError::Forged)
            );
        }

        #[test]
        fn tokens_of_another_listing_name_both(cursor in cursors(), issued in listings(), asked in listings()) {
            prop_assume!(issued != asked);
            let tokens = PageTokens::new("us-east-1_A", "");
            let token = tokens.encode(&issued, Some(&cursor));
            prop_assert_eq!(
                tokens.decode(&asked, &token, 0),
                Err(PageTokenError::WrongListing { found: issued, expected: asked })
            );
        }

        #[test]
        fn page_sizes_over_the_limit_are_refused_whatever_the_token(
            page_size in (MAX_REQUEST_PAGE_SIZE + 1)..=u32::MAX,
            token in prop_oneof![Just(String::new()), any::<String>()],
            cursor in cursors(),
        ) {
            let tokens = PageTokens::new("us-east-1_A", "");
            let issued = tokens.encode("resources/user", Some(&cursor));
            for token in [token, issued] {
                let err = tokens.decode("resources/user", &token, page_size).unwrap_err();
                prop_assert_eq!(&err, &PageTokenError::PageSize(page_size));
                prop_assert!(err.to_string().contains(&page_size.to_string()));
            }
        }

        /// Even a payload signed with the right key (which only this connector holds) is
        /// checked: anything but a version-1 payload of this listing with a well-formed
        /// cursor is refused, and decoding never panics on it.
        #[test]
        fn signed_payloads_of_any_shape_are_checked(payload in prop_oneof![payload_like(), json_any()]) {
            let tokens = PageTokens::new("us-east-1_A", "");
            let body = serde_json::to_vec(&payload).unwrap();
            let decoded = tokens.decode("resources/user", &signed(&tokens, &body), 7);
            match serde_json::from_value::<Payload>(payload.clone()) {
                Ok(p) if p.v == VERSION && p.k == "resources/user" => {
                    prop_assert_eq!(decoded, Ok(resumed(&p.c, 7)));
                }
                Ok(p) if p.v == VERSION => {
                    prop_assert_eq!(
                        decoded,
                        Err(PageTokenError::WrongListing { found: p.k, expected: "resources/user".into() })
                    );
                }
                _ => prop_assert_eq!(decoded, Err(PageTokenError::Forged), "{}", payload),
            }
        }

        /// Signed bytes that are not JSON at all.
        #[test]
        fn signed_garbage_is_refused(body in vec(any::<u8>(), 0..512)) {
            prop_assume!(serde_json::from_slice::<Payload>(&body).is_err());
            let tokens = PageTokens::new("us-east-1_A", "");
            prop_assert_eq!(tokens.decode("resources/user", &signed(&tokens, &body), 0), Err(PageTokenError::Forged));
        }
    }

    #[test]
    fn tokens_longer_than_the_limit_are_refused_before_any_decoding() {
        let tokens = PageTokens::new("us-east-1_A", "");
        let cursor = Cursor {
            cognito_token: Some("t".repeat(MAX_TOKEN_LEN)),
            skip: 0,
            limit: 60,
        };
        let token = tokens.encode("resources/user", Some(&cursor));
        assert!(token.len() > MAX_TOKEN_LEN);
        assert_eq!(
            tokens.decode("resources/user", &token, 0),
            Err(PageTokenError::Forged),
            "over the limit, even an issued token is not read"
        );
    }
}
