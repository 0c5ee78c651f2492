//! The `Chat` table's sort key, shared by both stores so they order lines identically.
//!
//! The original backend keyed chat lines by their timestamp alone, so two lines sent in the same
//! millisecond overwrote each other. The key is now the timestamp, `#`, and a random suffix:
//! lines still sort by time (the timestamp has a fixed width, so string order is time order),
//! and a line never replaces another. Lines within one millisecond come back in suffix order,
//! which is as good as any: their true order was decided by a race anyway.

use quiz_core::game::Millis;

/// How many hex digits of randomness follow the `#`. 32 bits make a collision within one
/// millisecond of one room unlikely, and the stores' conditional writes retry on the rare one.
const SUFFIX_LEN: usize = 8;

/// The sort key of a chat line sent at `sent_at` with a given unique `suffix`:
/// `2023-11-14T22:13:20.000Z#3f2a9c1e`.
///
/// ```
/// assert_eq!(
///     quiz_store::chat_sort_key(1_700_000_000_123, "3f2a9c1e"),
///     "2023-11-14T22:13:20.123Z#3f2a9c1e",
/// );
/// ```
pub fn chat_sort_key(sent_at: Millis, suffix: &str) -> String {
    format!("{}#{suffix}", iso8601_millis(sent_at))
}

/// A fresh random suffix for [`chat_sort_key`]: eight lowercase hex digits.
pub fn chat_key_suffix() -> String {
    let mut hex = uuid::Uuid::new_v4().simple().to_string();
    hex.truncate(SUFFIX_LEN);
    hex
}

/// An ISO-8601 UTC timestamp with milliseconds (`1970-01-01T00:00:00.000Z`).
///
/// Written out by hand (days to a civil date, Howard Hinnant's algorithm) because the store
/// needs this one format and nothing else from a date library. Every year up to 9999 has
/// the same width, so the strings sort in time order.
///
/// ```
/// assert_eq!(quiz_store::iso8601_millis(0), "1970-01-01T00:00:00.000Z");
/// assert_eq!(quiz_store::iso8601_millis(951_782_400_001), "2000-02-29T00:00:00.001Z");
/// ```
pub fn iso8601_millis(ms: Millis) -> String {
    let millis = ms % 1_000;
    let secs = ms / 1_000;
    let (days, secs_of_day) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        secs_of_day / 3_600,
        secs_of_day % 3_600 / 60,
        secs_of_day % 60,
    )
}

/// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so that leap days fall at the end of a year, then split
    // into 400-year eras of 146,097 days.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_700_000_000_000, "2023-11-14T22:13:20.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (951_868_799_999, "2000-02-29T23:59:59.999Z"),
            (4_107_542_400_000, "2100-03-01T00:00:00.000Z"),
            (1_709_251_199_999, "2024-02-29T23:59:59.999Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        ];
        for (ms, expected) in cases {
            assert_eq!(iso8601_millis(ms), expected, "{ms}");
        }
    }

    #[test]
    fn string_order_is_time_order() {
        let mut previous = iso8601_millis(0);
        let mut ms = 0u64;
        // Steps of ~1.3 days with varying milliseconds cross every month boundary many times.
        for step in 0..20_000u64 {
            ms += 111_111_111 + step % 997;
            let next = iso8601_millis(ms);
            assert!(next > previous, "{next} <= {previous}");
            previous = next;
        }
    }

    #[test]
    fn suffixes_are_hex_and_differ() {
        let a = chat_key_suffix();
        let b = chat_key_suffix();
        assert_eq!(a.len(), SUFFIX_LEN);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }
}
