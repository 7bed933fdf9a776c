//! A string that must never reach a log line, an error message or `Debug` output.
//!
//! The value lives in a [`secrecy::SecretString`], which keeps it out of `Debug` and zeroes its
//! memory on drop. [`Secret`] stays as a thin adapter because secrecy leaves out what this crate
//! relies on: `FromStr` (clap parses the secret flags and `BATON_*` variables into it), a
//! `Display` placeholder (messages and the leak tests format secrets with `{}`), and one short,
//! greppable way to read the value, [`Secret::expose`].

use std::fmt;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};

/// Holds a credential. `Debug` and `Display` print a fixed placeholder; the value is reachable
/// only through [`Secret::expose`], so every place that uses it is easy to find and review.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The secret value itself, for handing to the one API that needs it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("wJalrXUtnFEMI/K7MDENG");
        assert!(!format!("{secret:?}").contains("wJalr"));
        assert!(!format!("{secret}").contains("wJalr"));
        assert_eq!(secret.expose(), "wJalrXUtnFEMI/K7MDENG");
    }
}
