//! ListUsers `Filter` expressions: `attribute op "value"`, `op` being `=` or `^=`.
//!
//! Parsed as AWS documents it (one attribute, the value in double quotes, `\"` and `\\` escapes)
//! and matched as moto does: a user matches if any attribute of that name matches, or the
//! inherent field (`username`, `status` = Enabled/Disabled, `cognito:user_status`) does.

use super::pool::UserRec;

const SEARCHABLE: &[&str] = &[
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub attribute: String,
    /// `=` (true) or `^=` (false).
    pub exact: bool,
    pub value: String,
}

/// Why a filter was refused, in moto's words (InvalidParameterException).
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("Error while parsing filter")]
    Syntax,
    #[error("Invalid search attribute: {0}")]
    Attribute(String),
}

impl Filter {
    /// `Ok(None)` for an empty filter (all users), as Cognito and moto treat it.
    pub fn parse(text: &str) -> Result<Option<Self>, FilterError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let name_len = text
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(text.len());
        if name_len == 0 {
            return Err(FilterError::Syntax);
        }
        let (attribute, rest) = text.split_at(name_len);
        let rest = rest.trim_start();
        let (exact, rest) = if let Some(r) = rest.strip_prefix("^=") {
            (false, r)
        } else if let Some(r) = rest.strip_prefix('=') {
            (true, r)
        } else {
            return Err(FilterError::Syntax);
        };
        let quoted = rest
            .trim_start()
            .strip_prefix('"')
            .ok_or(FilterError::Syntax)?;
        let mut value = String::with_capacity(quoted.len());
        let mut chars = quoted.chars();
        loop {
            match chars.next() {
                None => return Err(FilterError::Syntax),
                Some('"') => break,
                Some('\\') => match chars.next() {
                    Some(c @ ('"' | '\\')) => value.push(c),
                    Some(c) => {
                        value.push('\\');
                        value.push(c);
                    }
                    None => return Err(FilterError::Syntax),
                },
                Some(c) => value.push(c),
            }
        }
        if !chars.as_str().trim().is_empty() {
            return Err(FilterError::Syntax);
        }
        if !SEARCHABLE.contains(&attribute) {
            return Err(FilterError::Attribute(attribute.to_string()));
        }
        Ok(Some(Self {
            attribute: attribute.to_string(),
            exact,
            value,
        }))
    }

    fn compare(&self, actual: &str) -> bool {
        if self.exact {
            actual == self.value
        } else {
            actual.starts_with(&self.value)
        }
    }

    pub fn matches(&self, user: &UserRec) -> bool {
        let by_attribute = user
            .attrs
            .iter()
            .any(|(n, v)| *n == self.attribute && self.compare(v));
        by_attribute
            || match self.attribute.as_str() {
                "username" => self.compare(&user.username),
                "status" => self.compare(if user.enabled { "Enabled" } else { "Disabled" }),
                "cognito:user_status" => self.compare(&user.status),
                _ => false,
            }
    }
}
