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
        self.accepts(match self.attribute {
            "username" => Some(user.username.as_str()),
            "status" => Some(Self::status(user.enabled)),
            "cognito:user_status" => Some(user.status.as_str()),
            name => user.attribute(name),
        })
    }

    /// Whether the value of this filter's attribute (none: the user has no such attribute)
    /// satisfies it.
    pub fn accepts(&self, actual: Option<&str>) -> bool {
        actual.is_some_and(|actual| match self.op {
            FilterOp::Equals => actual == self.value,
            FilterOp::StartsWith => actual.starts_with(&self.value),
        })
    }

    /// What the `status` attribute reads for a user enabled or not.
    pub fn status(enabled: bool) -> &'static str {
        if enabled { "Enabled" } else { "Disabled" }
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

/// Property tests: whatever an operator types as `--user-filter`, parsing answers (never
/// panics), accepts only what renders back to itself within Cognito's limits, and refuses every
/// value that could break out of its quotes.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    fn attributes() -> impl Strategy<Value = &'static str> {
        proptest::sample::select(SEARCHABLE_ATTRIBUTES)
    }

    fn ops() -> impl Strategy<Value = FilterOp> {
        prop_oneof![Just(FilterOp::Equals), Just(FilterOp::StartsWith)]
    }

    /// Values Cognito could be asked for: no quote, backslash or control character.
    fn plain_values() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9@._+ -]{0,30}",
            "[^\"\\\\\\p{Cc}]{0,30}",
            // Around Cognito's limit on the whole filter.
            "[a-z]{220,250}",
            Just("Enabled".to_string()),
            Just("Disabled".to_string()),
            proptest::sample::select(USER_STATUSES).prop_map(str::to_string),
        ]
    }

    /// Text from the grammar's own alphabet, so parsing meets its edge cases more often than
    /// it would in arbitrary text.
    fn grammar_soup() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                attributes().prop_map(str::to_string),
                Just("=".to_string()),
                Just("^=".to_string()),
                Just("^".to_string()),
                Just("\"".to_string()),
                Just("\\".to_string()),
                Just(" ".to_string()),
                Just("\t".to_string()),
                Just("\n".to_string()),
                Just("custom:x".to_string()),
                "[a-zA-Z0-9]{1,4}",
                any::<char>().prop_map(String::from),
            ],
            0..10,
        )
        .prop_map(|parts| parts.concat())
    }

    /// What every accepted filter must be.
    fn check_accepted(filter: &UserFilter) -> Result<(), TestCaseError> {
        let rendered = filter.to_string();
        prop_assert!(SEARCHABLE_ATTRIBUTES.contains(&filter.attribute()));
        prop_assert!(rendered.len() <= MAX_FILTER_LEN, "{rendered}");
        prop_assert!(
            !filter
                .value
                .chars()
                .any(|c| c == '"' || c == '\\' || c.is_control()),
            "{rendered}"
        );
        let reparsed = rendered.parse::<UserFilter>();
        prop_assert_eq!(reparsed.as_ref(), Ok(filter), "{}", rendered);
        Ok(())
    }

    fn check_any(text: &str) -> Result<(), TestCaseError> {
        match text.parse::<UserFilter>() {
            Ok(filter) => check_accepted(&filter),
            Err(err) => {
                prop_assert!(!err.to_string().is_empty());
                Ok(())
            }
        }
    }

    proptest! {
        #![proptest_config(crate::testing::proptest_config())]

        #[test]
        fn arbitrary_text_is_accepted_only_as_a_well_formed_filter(text in any::<String>()) {
            check_any(&text)?;
        }

        #[test]
        fn text_from_the_grammar_is_accepted_only_as_a_well_formed_filter(text in grammar_soup()) {
            check_any(&text)?;
        }

        /// Parsing `ATTRIBUTE OP "VALUE"` is exactly building the filter from its parts, for
        /// any value: the same filter, or the same refusal.
        #[test]
        fn the_quoted_form_parses_to_the_checked_parts(
            attribute in attributes(),
            op in ops(),
            value in prop_oneof![plain_values(), any::<String>()],
            (before, around, after) in ("[ \t]{0,2}", "[ ]{0,2}", "[ \t\n]{0,2}"),
        ) {
            let text = format!("{before}{attribute}{around}{}{around}\"{value}\"{after}", op.as_str());
            prop_assert_eq!(text.parse::<UserFilter>(), UserFilter::new(attribute, op, &value), "{}", text);
        }

        #[test]
        fn valid_filters_round_trip(attribute in attributes(), op in ops(), value in plain_values()) {
            if let Ok(filter) = UserFilter::new(attribute, op, &value) {
                check_accepted(&filter)?;
                prop_assert_eq!(filter.attribute(), attribute);
                prop_assert_eq!(&filter.value, &value);
                prop_assert_eq!(filter.op, op);
            }
        }

        /// A single word may go without quotes and means the same.
        #[test]
        fn an_unquoted_word_is_the_quoted_word(attribute in attributes(), op in ops(), word in "[a-zA-Z0-9@._+:-]{1,20}") {
            let bare = format!("{attribute} {} {word}", op.as_str());
            let quoted = format!("{attribute} {} \"{word}\"", op.as_str());
            prop_assert_eq!(bare.parse::<UserFilter>(), quoted.parse::<UserFilter>());
        }

        /// A quote or a backslash anywhere in a value is refused, never escaped or passed on.
        #[test]
        fn values_that_could_break_out_of_their_quotes_are_refused(
            attribute in attributes(),
            op in ops(),
            (head, bad, tail) in ("[^\\p{Cc}]{0,10}", prop_oneof![Just('"'), Just('\\')], "[^\\p{Cc}]{0,10}"),
        ) {
            let value = format!("{head}{bad}{tail}");
            let err = UserFilter::new(attribute, op, &value).unwrap_err();
            prop_assert!(err.to_string().contains("double quote or a backslash"), "{err}");
            let text = format!("{attribute} {} \"{value}\"", op.as_str());
            prop_assert!(text.parse::<UserFilter>().is_err(), "{text}");
        }

        #[test]
        fn unsearchable_attributes_are_named_in_the_refusal(name in "[a-zA-Z_:]{1,20}", value in "[a-z]{1,5}") {
            prop_assume!(!SEARCHABLE_ATTRIBUTES.contains(&name.as_str()));
            let err = format!("{name} = \"{value}\"").parse::<UserFilter>().unwrap_err();
            prop_assert!(err.to_string().contains(&format!("{name:?} is not a searchable attribute")), "{err}");
        }

        /// A filter a user record was listed under also matches it when met elsewhere.
        #[test]
        fn a_filter_matches_the_records_it_describes(value in "[a-zA-Z0-9@.]{1,20}", cut in any::<prop::sample::Index>()) {
            let user = CognitoUser {
                username: value.clone(),
                attributes: vec![("email".into(), value.clone())],
                enabled: true,
                status: "CONFIRMED".into(),
                ..CognitoUser::default()
            };
            let prefix = &value[..cut.index(value.len()) + 1];
            for attribute in ["username", "email"] {
                prop_assert!(UserFilter::new(attribute, FilterOp::Equals, &value).unwrap().matches(&user));
                prop_assert!(UserFilter::new(attribute, FilterOp::StartsWith, prefix).unwrap().matches(&user));
                let longer = format!("{value}x");
                prop_assert!(!UserFilter::new(attribute, FilterOp::Equals, &longer).unwrap().matches(&user));
            }
            prop_assert!(!UserFilter::new("phone_number", FilterOp::StartsWith, prefix).unwrap().matches(&user));
        }
    }
}
