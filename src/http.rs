//! Plain HTTP client helpers shared by the platform's token exchange and the CloudEvents sink.

/// An error with its causes, which is where hyper keeps the useful part (refused, bad
/// certificate).
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Statuses that say "not now" rather than "no": a timeout, throttling, or a server error.
/// A request answered with one is worth sending again.
pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}
