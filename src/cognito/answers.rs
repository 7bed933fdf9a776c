//! What makes an answer from Cognito an answer: checks on every response before anything is
//! taken from it. The AWS SDK reads a success status carrying an error body, or a page missing
//! its list, as an empty answer; a sync would then "succeed" with no users and replace the
//! previous file. Each check here turns such an answer into [`CognitoError::BadAnswer`].

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use super::error::{CognitoError, ErrorBodyWithSuccess};
use super::operation::Operation;
use super::records::{AuthEvent, CognitoGroup, CognitoUser, Page};
use crate::text::quoted;

/// Refuses a success status whose body is an AWS error (`{"__type": "...", "message": ...}`).
#[derive(Debug)]
pub struct ErrorBodyCheck;

impl Intercept for ErrorBodyCheck {
    fn name(&self) -> &'static str {
        "ErrorBodyCheck"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Ok(());
        }
        match response.body().bytes().and_then(error_body) {
            Some((code, message)) => Err(Box::new(ErrorBodyWithSuccess {
                status,
                code,
                message,
            })),
            None => Ok(()),
        }
    }
}

/// The code and message of an AWS JSON error body, if `body` is one. Only a body that mentions
/// `"__type"` is parsed, so a normal page costs one scan.
fn error_body(body: &[u8]) -> Option<(String, String)> {
    const MARK: &[u8] = b"\"__type\"";
    if !body.windows(MARK.len()).any(|w| w == MARK) {
        return None;
    }
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body).ok()?;
    let code = object.get("__type")?.as_str().unwrap_or("(not a string)");
    // Codes may come qualified: `com.amazonaws.cognito#ResourceNotFoundException`.
    let code = code.rsplit('#').next().unwrap_or(code);
    let message = object
        .get("message")
        .or_else(|| object.get("Message"))
        .and_then(|m| m.as_str())
        .unwrap_or("(no message)");
    Some((quoted(code), quoted(message)))
}

/// A record a listing returns, which must have the name it is known by.
pub trait Named {
    /// The field of Cognito's record that names it (`Username`, `GroupName`).
    const NAME_FIELD: &'static str;
    fn name(&self) -> &str;
}

impl Named for CognitoUser {
    const NAME_FIELD: &'static str = "Username";
    fn name(&self) -> &str {
        &self.username
    }
}

impl Named for AuthEvent {
    const NAME_FIELD: &'static str = "EventId";
    fn name(&self) -> &str {
        &self.id
    }
}

impl Named for CognitoGroup {
    const NAME_FIELD: &'static str = "GroupName";
    fn name(&self) -> &str {
        &self.name
    }
}

/// What a listing request asked for, to hold the page against it.
#[derive(Clone, Copy, Debug)]
pub struct Asked<'a> {
    pub operation: Operation,
    /// The list the answer must carry (`Users`, `Groups`).
    pub list: &'static str,
    pub token: Option<&'a str>,
    pub limit: i32,
}

impl<'a> Asked<'a> {
    pub fn new(
        operation: Operation,
        list: &'static str,
        token: Option<&'a str>,
        limit: i32,
    ) -> Self {
        Self {
            operation,
            list,
            token,
            limit,
        }
    }

    fn bad(&self, message: String) -> CognitoError {
        CognitoError::BadAnswer {
            operation: self.operation,
            message,
        }
    }

    /// The page an answer carries, if it is one: its list present, no more records than the
    /// limit, each named, and a next token other than the one sent.
    pub fn page<'r, R, T>(
        &self,
        records: Option<&'r [R]>,
        next_token: Option<&str>,
    ) -> Result<Page<T>, CognitoError>
    where
        T: From<&'r R> + Named,
    {
        let Some(records) = records else {
            return Err(self.bad(format!("it has no {} list", self.list)));
        };
        if records.len() > self.limit.max(0) as usize {
            return Err(self.bad(format!(
                "it has {} records, more than the {} asked for",
                records.len(),
                self.limit
            )));
        }
        let page = Page::from_sdk(records, next_token);
        if let Some(position) = page
            .items
            .iter()
            .position(|item: &T| item.name().is_empty())
        {
            return Err(self.bad(format!(
                "record {} of the {} list has no {}",
                position + 1,
                self.list,
                T::NAME_FIELD
            )));
        }
        if page.next_token.is_some() && page.next_token.as_deref() == self.token {
            return Err(CognitoError::RepeatedToken);
        }
        Ok(page)
    }
}

/// The page tokens one listing has followed, so that a token given twice (A→A, A→B→A) ends the
/// listing with an error instead of looping. Tokens are kept as keyed 64-bit hashes: a
/// million-user listing follows about 17,000.
#[derive(Debug, Default)]
pub struct TokenTrail {
    hasher: RandomState,
    seen: HashSet<u64>,
}

impl TokenTrail {
    /// Notes the token a page pointed to; an error when the listing was given it before.
    pub fn follow(&mut self, token: &str) -> Result<(), CognitoError> {
        if self.seen.insert(self.hasher.hash_one(token)) {
            Ok(())
        } else {
            Err(CognitoError::RepeatedToken)
        }
    }

    /// Moves `token` on to a page's `next` token, following it; `false` once the listing is
    /// complete (no next token).
    pub fn advance(
        &mut self,
        token: &mut Option<String>,
        next: Option<String>,
    ) -> Result<bool, CognitoError> {
        let Some(next) = next else {
            return Ok(false);
        };
        self.follow(&next)?;
        *token = Some(next);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_top_level_type_is_an_error_body() {
        assert_eq!(
            error_body(br#"{"__type":"com.amazonaws#InternalErrorException","message":"boom"}"#),
            Some(("InternalErrorException".into(), "boom".into()))
        );
        assert_eq!(
            error_body(br#"{"__type":"X","Message":"m"}"#),
            Some(("X".into(), "m".into()))
        );
        assert_eq!(error_body(br#"{"Users":[]}"#), None);
        assert_eq!(
            error_body(br#"{"Users":[{"Username":"\"__type\""}]}"#),
            None,
            "a name that mentions __type is not an error"
        );
        assert_eq!(error_body(br#"{"__type" broken"#), None);
    }

    #[test]
    fn a_trail_refuses_a_token_it_followed_before() {
        let mut trail = TokenTrail::default();
        trail.follow("A").unwrap();
        trail.follow("B").unwrap();
        let err = trail.follow("A").unwrap_err();
        assert!(matches!(err, CognitoError::RepeatedToken), "{err}");
    }
}
