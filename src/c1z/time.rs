//! Timestamps as the SDK stores them: Go's layout `2006-01-02 15:04:05.999999999` in local time.
//!
//! The columns are declared `datetime` but hold text, and readers compare them as text (the
//! latest finished sync is the one with the greatest `ended_at`). So the exact shape matters:
//! no zone, a space separator, and a fraction only as long as it needs to be (trailing zeros
//! trimmed, the dot left out when the fraction is zero), as Go's `.999999999` does.

use chrono::{Datelike, Local, NaiveDateTime, Timelike};

/// The current local time in the stored layout.
pub(crate) fn now() -> String {
    format(Local::now().naive_local())
}

/// A wall-clock time in the stored layout.
pub(crate) fn format(t: NaiveDateTime) -> String {
    let mut out = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    // chrono represents a leap second as nanoseconds >= 1e9; Go has no leap seconds.
    let nanos = t.nanosecond().min(999_999_999);
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn at(nanos: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2024, 3, 7)
            .and_then(|d| d.and_hms_nano_opt(9, 5, 4, nanos))
            .expect("valid date")
    }

    #[test]
    fn whole_seconds_have_no_fraction() {
        assert_eq!(format(at(0)), "2024-03-07 09:05:04");
    }

    #[test]
    fn fractions_lose_their_trailing_zeros() {
        assert_eq!(format(at(500_000_000)), "2024-03-07 09:05:04.5");
        assert_eq!(format(at(120_000_000)), "2024-03-07 09:05:04.12");
        assert_eq!(format(at(123_456_000)), "2024-03-07 09:05:04.123456");
        assert_eq!(format(at(100)), "2024-03-07 09:05:04.0000001");
        assert_eq!(format(at(1)), "2024-03-07 09:05:04.000000001");
        assert_eq!(format(at(999_999_999)), "2024-03-07 09:05:04.999999999");
    }

    #[test]
    fn leap_seconds_clamp_instead_of_overflowing() {
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
            .expect("a leap second");
        assert_eq!(format(leap), "2016-12-31 23:59:59.999999999");
    }

    #[test]
    fn small_years_are_padded_to_four_digits() {
        let t = NaiveDate::from_ymd_opt(987, 1, 2)
            .and_then(|d| d.and_hms_opt(3, 4, 5))
            .expect("valid date");
        assert_eq!(format(t), "0987-01-02 03:04:05");
    }

    #[test]
    fn now_has_the_layout() {
        let s = now();
        let (date, time) = s.split_once(' ').expect("a space separator");
        assert_eq!(date.len(), 10);
        assert_eq!(&date[4..5], "-");
        assert!(time.len() >= 8 && time.len() <= 18, "{s}");
        assert!(!s.contains('T') && !s.contains('Z') && !s.contains('+'));
        if let Some((_, fraction)) = time.split_once('.') {
            assert!(!fraction.ends_with('0'), "{s}");
        }
    }
}
