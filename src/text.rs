//! Text cut to a bound. Errors and log lines quote what came from outside (answers, inputs,
//! files); quoted whole, a 3 MiB answer makes megabytes of log per retry and a status message
//! no gRPC client can receive.

/// The most bytes of any one thing from outside (an answer's message, an error's cause) that an
/// error message quotes.
pub const MAX_QUOTED_BYTES: usize = 300;

/// `text` as an error message quotes it: cut to [`MAX_QUOTED_BYTES`].
pub fn quoted(text: &str) -> String {
    excerpt(text, MAX_QUOTED_BYTES)
}

/// Cuts a string to at most `max` bytes on a character boundary.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// `text` cut to at most `max` bytes, saying how long it was when it had to be cut.
pub fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        text.to_string()
    } else {
        format!("{}… ({} bytes in all)", truncate(text, max), text.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_character_boundaries() {
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("ééé", 3), "é");
        assert_eq!(truncate("ééé", 4), "éé");
    }

    #[test]
    fn an_excerpt_says_how_long_the_whole_was() {
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(excerpt(&"x".repeat(5000), 4), "xxxx… (5000 bytes in all)");
    }
}
