//! KSUIDs, the ids Baton gives its syncs, actions and tasks.
//!
//! Readers break ties between syncs that ended at the same instant by comparing sync ids as
//! text, so the id must sort by creation time the way a KSUID does: 4 bytes of big-endian
//! seconds since the KSUID epoch, 16 random bytes, the 160-bit number written in base 62 with
//! the alphabet `0-9A-Za-z` (ASCII order, so string order is numeric order), left-padded with
//! `0` to 27 characters.

use std::time::{SystemTime, UNIX_EPOCH};

/// The KSUID epoch, 2014-05-13T16:53:20Z, in Unix seconds.
pub(crate) const EPOCH: u64 = 1_400_000_000;
/// Characters in a KSUID string: enough base-62 digits for 2^160 - 1.
pub(crate) const LEN: usize = 27;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new KSUID for the current time.
pub fn new() -> String {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(EPOCH);
    let timestamp = u32::try_from(unix.saturating_sub(EPOCH)).unwrap_or(u32::MAX);
    from_parts(timestamp, rand::random())
}

/// The KSUID with these components.
pub(crate) fn from_parts(timestamp: u32, payload: [u8; 16]) -> String {
    let mut raw = [0u8; 20];
    raw[..4].copy_from_slice(&timestamp.to_be_bytes());
    raw[4..].copy_from_slice(&payload);
    base62(&raw)
}

/// `raw` as a big-endian number in base 62, zero-padded to [`LEN`] digits.
fn base62(raw: &[u8; 20]) -> String {
    // Five big-endian 32-bit words, divided by 62 repeatedly (schoolbook long division).
    let mut words = [0u32; 5];
    for (word, chunk) in words.iter_mut().zip(raw.chunks_exact(4)) {
        *word = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    let mut digits = [ALPHABET[0]; LEN];
    let mut pos = LEN;
    while words.iter().any(|&w| w != 0) {
        let mut remainder = 0u64;
        for word in &mut words {
            let value = (remainder << 32) | u64::from(*word);
            *word = (value / 62) as u32;
            remainder = value % 62;
        }
        pos -= 1;
        digits[pos] = ALPHABET[remainder as usize];
    }
    digits.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_reference_ksuid() {
        // The example KSUID of the reference implementation's documentation.
        let payload = [
            0xB5, 0xA1, 0xCD, 0x34, 0xB5, 0xF9, 0x9D, 0x11, 0x54, 0xFB, 0x68, 0x53, 0x34, 0x5C,
            0x97, 0x35,
        ];
        assert_eq!(
            from_parts(107_608_047, payload),
            "0ujtsYcgvSTl8PAuAdqWYSMnLOv"
        );
    }

    #[test]
    fn base62_extremes_are_zero_padded_to_27_chars() {
        assert_eq!(base62(&[0; 20]), "000000000000000000000000000");
        assert_eq!(base62(&[0xFF; 20]), "aWgEPTl1tmebfsQzFP4bxwgy80V");
        let mut one = [0u8; 20];
        one[19] = 61;
        assert_eq!(base62(&one), "00000000000000000000000000z");
        one[19] = 62;
        assert_eq!(base62(&one), "000000000000000000000000010");
    }

    #[test]
    fn new_ids_are_27_base62_chars_and_unique() {
        let a = new();
        let b = new();
        assert_eq!(a.len(), LEN);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn text_order_follows_time_order() {
        let seconds = [
            0u32,
            1,
            61,
            62,
            3_843,
            1_000_000,
            380_000_000,
            u32::MAX - 1,
            u32::MAX,
        ];
        for pair in seconds.windows(2) {
            // Every id of a later second sorts after every id of an earlier second.
            let last_of_earlier = from_parts(pair[0], [0xFF; 16]);
            let first_of_later = from_parts(pair[1], [0; 16]);
            assert!(
                last_of_earlier < first_of_later,
                "{last_of_earlier} !< {first_of_later}"
            );
        }
        // Within a second the payload orders them, also as text.
        assert!(from_parts(5, [1; 16]) < from_parts(5, [2; 16]));
        // The current time lands in the middle of the range, far from overflow.
        let now = new();
        assert!(now > from_parts(300_000_000, [0; 16]));
        assert!(now < from_parts(3_000_000_000, [0; 16]));
    }
}
