//! Plain HTTP helpers shared by the Cognito client, the platform's token exchange and the
//! CloudEvents sink.

/// An error with its causes, which is where hyper and the AWS SDK keep the useful part (refused,
/// bad certificate, unreadable body): the Display of each, cut short by [`crate::text::quoted`]
/// (a cause can carry a whole answer body, megabytes long and holding other users' data), and a
/// cause the error before it already quotes left out.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![crate::text::quoted(&err.to_string())];
    let mut source = err.source();
    while let Some(cause) = source {
        let part = crate::text::quoted(&cause.to_string());
        if !parts.last().is_some_and(|last| last.contains(&part)) {
            parts.push(part);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// Whether every gRPC and HTTP client can send `text` in a header: printable ASCII only. (The
/// `http` crate also takes tabs and bytes above 0x7F; gRPC-Go refuses them in metadata.)
pub fn is_header_safe(text: &str) -> bool {
    text.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// Statuses that say "not now" rather than "no": a timeout, throttling, or a server error.
/// A request answered with one is worth sending again.
pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Layer(String, #[source] Option<Box<Layer>>);

    #[test]
    fn chains_are_bounded_and_skip_what_was_already_said() {
        let inner = Layer("connection refused".into(), None);
        let outer = Layer(
            "dispatch failure: connection refused".into(),
            Some(Box::new(inner)),
        );
        assert_eq!(error_chain(&outer), "dispatch failure: connection refused");
        let huge = Layer("x".repeat(3_000_000), None);
        let outer = Layer("response error".into(), Some(Box::new(huge)));
        assert!(error_chain(&outer).len() < crate::text::MAX_QUOTED_BYTES + 100);
    }

    #[test]
    fn only_printable_ascii_is_header_safe() {
        assert!(is_header_safe("Bearer abc-123_=/+"));
        for bad in ["a\nb", "a\tb", "tökén", "a\rb"] {
            assert!(!is_header_safe(bad), "{bad:?}");
        }
    }
}
