//! KSUIDs, the ids Baton gives its syncs, actions and tasks.
//!
//! Readers break ties between syncs that ended at the same instant by comparing sync ids as
//! text, so the id must sort by creation time the way a KSUID does: 4 bytes of big-endian
//! seconds since the KSUID epoch, 16 random bytes, the 160-bit number written in base 62 with
//! the alphabet `0-9A-Za-z` (ASCII order, so string order is numeric order), left-padded with
//! `0` to 27 characters. The `svix-ksuid` crate does the encoding; the clock reading stays here
//! because the crate's own (`Ksuid::new`) panics on a clock before 1970 and wraps one before the
//! KSUID epoch, where this one holds the seconds to what 4 bytes can say.

use std::time::{SystemTime, UNIX_EPOCH};

use svix_ksuid::{KSUID_EPOCH, Ksuid};

/// A new KSUID for the current time.
pub fn new() -> String {
    let epoch = KSUID_EPOCH.unsigned_abs();
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(epoch, |d| d.as_secs());
    let timestamp = u32::try_from(unix.saturating_sub(epoch)).unwrap_or(u32::MAX);
    from_parts(timestamp, rand::random())
}

/// The KSUID with these components.
pub(crate) fn from_parts(timestamp: u32, payload: [u8; 16]) -> String {
    Ksuid::new_raw(timestamp, Some(&payload)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Characters in a KSUID string: enough base-62 digits for 2^160 - 1.
    const LEN: usize = 27;

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
        assert_eq!(from_parts(0, [0; 16]), "000000000000000000000000000");
        assert_eq!(
            from_parts(u32::MAX, [0xFF; 16]),
            "aWgEPTl1tmebfsQzFP4bxwgy80V"
        );
        let mut one = [0u8; 16];
        one[15] = 61;
        assert_eq!(from_parts(0, one), "00000000000000000000000000z");
        one[15] = 62;
        assert_eq!(from_parts(0, one), "000000000000000000000000010");
    }

    #[test]
    fn leading_zero_bytes_still_give_27_chars_in_numeric_order() {
        // 20 bytes: `zeros` zero bytes, then 0xFF bytes; more zeros, a smaller number.
        let with_zeros = |zeros: usize| {
            let mut raw = [0xFFu8; 20];
            raw[..zeros].fill(0);
            let timestamp = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
            let mut payload = [0u8; 16];
            payload.copy_from_slice(&raw[4..]);
            from_parts(timestamp, payload)
        };
        let ids: Vec<String> = (0..=20).map(with_zeros).collect();
        for id in &ids {
            assert_eq!(id.len(), LEN, "{id}");
        }
        for pair in ids.windows(2) {
            assert!(pair[1] < pair[0], "{} !< {}", pair[1], pair[0]);
        }
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
