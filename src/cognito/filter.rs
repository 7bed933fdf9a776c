//! ListUsers filter expressions (`attribute op "value"`), checked before they reach Cognito.
//!
//! Cognito accepts one attribute per request, the operators `=` (exact) and `^=` (prefix), and only
//! a fixed set of searchable attributes. User input is never pasted into the expression: it is
//! parsed into a [`UserFilter`] and rendered back from that, so a value can never break out of
//! its quotes.

use std::fmt;
use std::str::FromStr;

use super::records::CognitoUser;

/// Attributes ListUsers can search on. Custom attributes are not searchable.
pub const SEARCHABLE_ATTRIBUTES: &[&str] = &[
    "username",
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "cognito:user_status",
    "status",
    "sub",
];

/// Values of `cognito:user_status`.
pub const USER_STATUSES: &[&str] = &[
    "UNCONFIRMED",
    "CONFIRMED",
    "ARCHIVED",
    "COMPROMISED",
    "UNKNOWN",
    "RESET_REQUIRED",
    "FORCE_CHANGE_PASSWORD",
    "EXTERNAL_PROVIDER",
];

/// Cognito's limit on the whole filter string.
const MAX_FILTER_LEN: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterOp {
    /// `=`: exact match.
    Equals,
    /// `^=`: starts with.
    StartsWith,
}

impl FilterOp {
    fn as_str(self) -> &'static str {
        match self {
            Self::Equals => "=",
            Self::StartsWith => "^=",
        }
    }
}

/// A filter that Cognito will accept, built only from checked parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserFilter {
    attribute: &'static str,
    op: FilterOp,
    value: String,
}

/// Why a filter was refused. The text is written for the person who typed the filter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(String);

impl UserFilter {
    /// Builds a filter from parts, checking each.
    pub fn new(attribute: &str, op: FilterOp, value: &str) -> Result<Self, FilterError> {
        let Some(attribute) = SEARCHABLE_ATTRIBUTES
            .iter()
            .copied()
            .find(|a| *a == attribute)
        else {
            let hint = if attribute.starts_with("custom:") {
                " (Cognito cannot search custom attributes)"
            } else {
                ""
            };
            return Err(FilterError(format!(
                "{attribute:?} is not a searchable attribute{hint}; use one of {}",
                SEARCHABLE_ATTRIBUTES.join(", ")
            )));
        };
        if value.contains('"') || value.contains('\\') {
            return Err(FilterError(
                "the value may not contain a double quote or a backslash".to_string(),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(FilterError(
                "the value may not contain control characters".to_string(),
            ));
        }
        if op == FilterOp::Equals {
            match attribute {
                "status" if !matches!(value, "Enabled" | "Disabled") => {
                    return Err(FilterError(format!(
                        "status is \"Enabled\" or \"Disabled\", not {value:?}"
                    )));
                }
                "cognito:user_status" if !USER_STATUSES.contains(&value) => {
                    return Err(FilterError(format!(
                        "cognito:user_status is one of {}, not {value:?}",
                        USER_STATUSES.join(", ")
                    )));
                }
                _ => {}
            }
        }
        let filter = Self {
            attribute,
            op,
            value: value.to_string(),
        };
        if filter.to_string().len() > MAX_FILTER_LEN {
            return Err(FilterError(format!(
                "the filter is longer than Cognito's limit of {MAX_FILTER_LEN} characters"
            )));
        }
        Ok(filter)
    }

    pub fn attribute(&self) -> &'static str {
        self.attribute
    }

    /// Whether a user record satisfies this filter, evaluated the way Cognito does, so that
    /// records reached by other listings (group members) can be held to the same filter.
    pub fn matches(&self, user: &CognitoUser) -> bool {
        let actual = match self.attribute {
            "username" => Some(user.username.as_str()),
            "status" => Some(if user.enabled { "Enabled" } else { "Disabled" }),
            "cognito:user_status" => Some(user.status.as_str()),
            name => user.attribute(name),
        };
        actual.is_some_and(|actual| match self.op {
            FilterOp::Equals => actual == self.value,
            FilterOp::StartsWith => actual.starts_with(&self.value),
        })
    }
}

impl fmt::Display for UserFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} \"{}\"",
            self.attribute,
            self.op.as_str(),
            self.value
        )
    }
}

impl FromStr for UserFilter {
    type Err = FilterError;

    /// Parses `attribute op "value"`; an unquoted single-word value is accepted and quoted.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim();
        let expected =
            "expected ATTRIBUTE = \"VALUE\" or ATTRIBUTE ^= \"VALUE\", e.g. email ^= \"a\"";
        let op_at = text
            .find(['=', '^'])
            .ok_or_else(|| FilterError(format!("no operator in {input:?}; {expected}")))?;
        let attribute = text[..op_at].trim();
        let rest = &text[op_at..];
        let (op, rest) = if let Some(rest) = rest.strip_prefix("^=") {
            (FilterOp::StartsWith, rest)
        } else if let Some(rest) = rest.strip_prefix('=') {
            (FilterOp::Equals, rest)
        } else {
            return Err(FilterError(format!(
                "unknown operator in {input:?}; {expected}"
            )));
        };
        if attribute.is_empty() || attribute.contains(char::is_whitespace) {
            return Err(FilterError(format!(
                "no single attribute name in {input:?}; {expected}"
            )));
        }
        let rest = rest.trim();
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            quoted.strip_suffix('"').ok_or_else(|| {
                FilterError(format!(
                    "the value in {input:?} has no closing quote; {expected}"
                ))
            })?
        } else if rest.is_empty() || rest.contains(char::is_whitespace) || rest.contains('"') {
            return Err(FilterError(format!(
                "the value in {input:?} must be one word or in double quotes; {expected}"
            )));
        } else {
            rest
        };
        Self::new(attribute, op, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders_the_cognito_grammar() {
        let filter: UserFilter = r#"email ^= "ann""#.parse().unwrap();
        assert_eq!(filter.to_string(), r#"email ^= "ann""#);
        let filter: UserFilter = r#"  cognito:user_status="CONFIRMED" "#.parse().unwrap();
        assert_eq!(filter.to_string(), r#"cognito:user_status = "CONFIRMED""#);
        let filter: UserFilter = "status = Disabled".parse().unwrap();
        assert_eq!(filter.to_string(), r#"status = "Disabled""#);
        let filter: UserFilter = r#"name = "Ann Lee""#.parse().unwrap();
        assert_eq!(filter.to_string(), r#"name = "Ann Lee""#);
    }

    #[test]
    fn refuses_what_cognito_would_refuse_or_what_could_inject() {
        for bad in [
            "",
            "email",
            r#"email ~ "a""#,
            r#"custom:dept = "x""#,
            r#"email = "a" or username = "b""#,
            r#"email = "a"b""#,
            r#"email = "a\"#,
            r#"status = "enabled""#,
            r#"cognito:user_status = "ACTIVE""#,
            r#"email = "unterminated"#,
            "email = two words",
            r#"email username = "x""#,
        ] {
            assert!(bad.parse::<UserFilter>().is_err(), "accepted {bad:?}");
        }
        let err = r#"custom:dept = "x""#.parse::<UserFilter>().unwrap_err();
        assert!(err.to_string().contains("cannot search custom attributes"));
        let long = format!(r#"email ^= "{}""#, "a".repeat(300));
        assert!(long.parse::<UserFilter>().is_err());
    }

    #[test]
    fn matches_records_like_cognito() {
        let user = CognitoUser {
            username: "ann".into(),
            attributes: vec![("email".into(), "ann@example.com".into())],
            enabled: false,
            status: "CONFIRMED".into(),
            ..CognitoUser::default()
        };
        let yes = |f: &str| f.parse::<UserFilter>().unwrap().matches(&user);
        assert!(yes(r#"email ^= "ann@""#));
        assert!(yes(r#"username = "ann""#));
        assert!(yes(r#"status = "Disabled""#));
        assert!(yes(r#"cognito:user_status = "CONFIRMED""#));
        assert!(!yes(r#"email = "ann""#));
        assert!(!yes(r#"phone_number ^= "+1""#));
    }
}
