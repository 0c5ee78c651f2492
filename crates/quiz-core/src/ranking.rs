//! A room's ranking: correct answers counted per player for the current week and for all time.
//!
//! Weeks begin at a fixed local time ([`WeekStart`], by default Monday 00:00 in Korea, UTC+9,
//! which has no daylight saving). Time is a number here as everywhere in the crate: the week a
//! moment falls in is arithmetic on milliseconds, so tests cross a week's boundary by adding one.
//!
//! ```
//! use quiz_core::ranking::{Period, Ranking, WeekStart};
//!
//! let week = WeekStart::default(); // Monday 00:00, UTC+9
//! // Sunday 2026-11-29 23:59:59 in Korea is 14:59:59 UTC.
//! let sunday = 1_795_964_399_000;
//! let monday = sunday + 1_000;
//! assert_eq!(week.week_start(monday), monday);
//! assert_eq!(week.week_start(sunday), monday - 7 * 24 * 3_600_000);
//!
//! let mut ranking = Ranking::default();
//! ranking.record("민지", sunday, week);
//! ranking.record("민지", monday, week);
//! assert_eq!(ranking.top(Period::Week, monday, week, 20), [("민지", 1)]);
//! assert_eq!(ranking.top(Period::AllTime, monday, week, 20), [("민지", 2)]);
//! ```

use std::collections::BTreeMap;

use crate::game::Millis;

/// Most players each period of a ranking keeps; past it, the lowest counts are forgotten, so a
/// stored game stays small in a busy public room.
pub const MAX_RANKED_PLAYERS: usize = 1_000;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 24 * 60 * MINUTE_MS;
const WEEK_MS: i64 = 7 * DAY_MS;

/// When a ranking's week begins: a weekday and a time of day at a fixed offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeekStart {
    /// Days after Monday: 0 is Monday, 6 is Sunday.
    pub weekday: u8,
    /// Minutes after local midnight.
    pub minute_of_day: u16,
    /// The local time's offset from UTC, in minutes (Korea: 540).
    pub utc_offset_minutes: i16,
}

impl Default for WeekStart {
    /// Monday 00:00 in Korea (UTC+9).
    fn default() -> Self {
        WeekStart {
            weekday: 0,
            minute_of_day: 0,
            utc_offset_minutes: 9 * 60,
        }
    }
}

impl WeekStart {
    /// The instant the week holding `now` began (milliseconds since the Unix epoch).
    pub fn week_start(self, now: Millis) -> Millis {
        let offset = i64::from(self.utc_offset_minutes) * MINUTE_MS;
        let local = i64::try_from(now).unwrap_or(i64::MAX) + offset;
        // 1970-01-01 was a Thursday: three days after a Monday.
        let day = local.div_euclid(DAY_MS);
        let monday = (day - (day + 3).rem_euclid(7)) * DAY_MS;
        let start = i64::from(self.weekday % 7) * DAY_MS
            + i64::from(self.minute_of_day.min(24 * 60 - 1)) * MINUTE_MS;
        let mut begins = monday + start;
        if begins > local {
            begins -= WEEK_MS;
        }
        Millis::try_from(begins - offset).unwrap_or(0)
    }
}

/// Which ranking to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Week,
    AllTime,
}

/// Correct answers per player this week and for all time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase", default))]
pub struct Ranking {
    /// When the week `week` counts began.
    week_since: Millis,
    week: BTreeMap<String, u32>,
    all_time: BTreeMap<String, u32>,
}

impl Ranking {
    /// Counts one correct answer by `player` at `now`; a new week starts the week's counts
    /// over.
    pub fn record(&mut self, player: &str, now: Millis, week: WeekStart) {
        let since = week.week_start(now);
        if since != self.week_since {
            self.week_since = since;
            self.week.clear();
        }
        for counts in [&mut self.week, &mut self.all_time] {
            *counts.entry(player.to_owned()).or_insert(0) += 1;
            forget_lowest(counts, player);
        }
    }

    /// When the period holding `now` began: `None` for all time.
    pub fn since(period: Period, now: Millis, week: WeekStart) -> Option<Millis> {
        match period {
            Period::Week => Some(week.week_start(now)),
            Period::AllTime => None,
        }
    }

    /// The `limit` best players of the period holding `now`, most answers first (ties by
    /// name). A week with no answer yet is empty.
    pub fn top(
        &self,
        period: Period,
        now: Millis,
        week: WeekStart,
        limit: usize,
    ) -> Vec<(&str, u32)> {
        let counts = match period {
            Period::Week if self.week_since != week.week_start(now) => return Vec::new(),
            Period::Week => &self.week,
            Period::AllTime => &self.all_time,
        };
        let mut top: Vec<(&str, u32)> =
            counts.iter().map(|(name, n)| (name.as_str(), *n)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        top.truncate(limit);
        top
    }
}

/// Keeps `counts` within [`MAX_RANKED_PLAYERS`] by dropping the lowest (never `keep`).
fn forget_lowest(counts: &mut BTreeMap<String, u32>, keep: &str) {
    while counts.len() > MAX_RANKED_PLAYERS {
        let lowest = counts
            .iter()
            .filter(|(name, _)| name.as_str() != keep)
            .min_by_key(|(name, n)| (**n, std::cmp::Reverse((*name).clone())))
            .map(|(name, _)| name.clone());
        match lowest {
            Some(name) => counts.remove(&name),
            None => break,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Millis = 3_600_000;
    /// Monday 2026-11-23 00:00 in Korea (2026-11-22 15:00 UTC).
    const MONDAY_KST: Millis = 1_795_359_600_000;

    #[test]
    fn the_week_turns_at_monday_midnight_in_korea() {
        let week = WeekStart::default();
        assert_eq!(week.week_start(MONDAY_KST), MONDAY_KST);
        assert_eq!(
            week.week_start(MONDAY_KST - 1_000),
            MONDAY_KST - 7 * 24 * HOUR
        );
        assert_eq!(week.week_start(MONDAY_KST + 7 * 24 * HOUR - 1), MONDAY_KST);
        // Monday 17:00 in Korea: the same week.
        assert_eq!(week.week_start(MONDAY_KST + 17 * HOUR), MONDAY_KST);
    }

    #[test]
    fn other_start_days_and_offsets() {
        let utc_sunday_noon = WeekStart {
            weekday: 6,
            minute_of_day: 12 * 60,
            utc_offset_minutes: 0,
        };
        // Sunday 2026-11-29 12:00 UTC.
        let sunday_noon = MONDAY_KST + 9 * HOUR + 6 * 24 * HOUR + 12 * HOUR;
        assert_eq!(utc_sunday_noon.week_start(sunday_noon), sunday_noon);
        assert_eq!(
            utc_sunday_noon.week_start(sunday_noon - 1),
            sunday_noon - 7 * 24 * HOUR
        );
        let behind = WeekStart {
            utc_offset_minutes: -5 * 60,
            ..WeekStart::default()
        };
        // Monday 00:00 at UTC-5 is Monday 05:00 UTC.
        let monday_utc = MONDAY_KST + 9 * HOUR;
        assert_eq!(
            behind.week_start(monday_utc + 5 * HOUR),
            monday_utc + 5 * HOUR
        );
    }

    #[test]
    fn a_new_week_starts_over_and_all_time_keeps_counting() {
        let week = WeekStart::default();
        let mut ranking = Ranking::default();
        ranking.record("민지", MONDAY_KST - 1, week);
        ranking.record("서준", MONDAY_KST - 1, week);
        ranking.record("서준", MONDAY_KST, week);
        assert_eq!(
            ranking.top(Period::Week, MONDAY_KST, week, 20),
            [("서준", 1)]
        );
        assert_eq!(
            ranking.top(Period::AllTime, MONDAY_KST, week, 20),
            [("서준", 2), ("민지", 1)]
        );
        // A week later with no answer: that week is empty.
        let later = MONDAY_KST + 7 * 24 * HOUR;
        assert!(ranking.top(Period::Week, later, week, 20).is_empty());
        assert_eq!(Ranking::since(Period::Week, later, week), Some(later));
        assert_eq!(Ranking::since(Period::AllTime, later, week), None);
    }

    #[test]
    fn rankings_stay_bounded_and_keep_who_just_scored() {
        let week = WeekStart::default();
        let mut ranking = Ranking::default();
        for i in 0..MAX_RANKED_PLAYERS {
            let name = format!("p{i}");
            ranking.record(&name, MONDAY_KST, week);
            ranking.record(&name, MONDAY_KST, week);
        }
        ranking.record("newcomer", MONDAY_KST, week);
        let all = ranking.top(Period::AllTime, MONDAY_KST, week, usize::MAX);
        assert_eq!(all.len(), MAX_RANKED_PLAYERS);
        assert!(all.iter().any(|(name, n)| *name == "newcomer" && *n == 1));
    }
}
