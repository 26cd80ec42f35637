//! Kong's fixed rate-limit windows, aligned to the UTC calendar: second, minute at :00, hour,
//! day at 00:00 UTC, month on the 1st, year on 1 January.

use chrono::{Datelike, TimeZone, Utc};

/// One count per configured period, kept inline (there are six periods at most).
pub type PerPeriod = smallvec::SmallVec<[i64; 6]>;

/// A rate-limit period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    Second,
    Minute,
    Hour,
    Day,
    Month,
    Year,
}

impl Period {
    /// All periods, shortest first.
    pub const ALL: [Period; 6] = [
        Period::Second,
        Period::Minute,
        Period::Hour,
        Period::Day,
        Period::Month,
        Period::Year,
    ];

    /// Kong's name (`minute`).
    pub fn name(self) -> &'static str {
        match self {
            Period::Second => "second",
            Period::Minute => "minute",
            Period::Hour => "hour",
            Period::Day => "day",
            Period::Month => "month",
            Period::Year => "year",
        }
    }

    /// The header suffix (`Minute`).
    pub fn title(self) -> &'static str {
        match self {
            Period::Second => "Second",
            Period::Minute => "Minute",
            Period::Hour => "Hour",
            Period::Day => "Day",
            Period::Month => "Month",
            Period::Year => "Year",
        }
    }

    /// Kong's nominal length in seconds (months are 30 days, years 365, as Kong reports them).
    pub fn seconds(self) -> i64 {
        match self {
            Period::Second => 1,
            Period::Minute => 60,
            Period::Hour => 3600,
            Period::Day => 86_400,
            Period::Month => 2_592_000,
            Period::Year => 31_536_000,
        }
    }

    /// Start of the window holding `now` (Unix seconds).
    pub fn window_start(self, now: i64) -> i64 {
        match self {
            Period::Month | Period::Year => {
                let Some(t) = Utc.timestamp_opt(now, 0).single() else {
                    return now;
                };
                let month = if self == Period::Month { t.month() } else { 1 };
                Utc.with_ymd_and_hms(t.year(), month, 1, 0, 0, 0)
                    .single()
                    .map(|d| d.timestamp())
                    .unwrap_or(now)
            }
            p => now - now.rem_euclid(p.seconds()),
        }
    }

    /// Seconds until the window resets, as Kong computes it: `max(1, length - elapsed)`.
    pub fn reset_in(self, now: i64) -> i64 {
        (self.seconds() - (now - self.window_start(now))).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-02-29T23:59:59Z, a leap day, one second before March.
    const T: i64 = 1_709_251_199;

    #[test]
    fn windows_align_to_the_utc_calendar() {
        assert_eq!(Period::Second.window_start(T), T);
        assert_eq!(Period::Minute.window_start(T), T - 59);
        assert_eq!(Period::Hour.window_start(T), T - 3599);
        assert_eq!(Period::Day.window_start(T), T - 86_399);
        assert_eq!(Period::Month.window_start(T), 1_706_745_600); // 2024-02-01
        assert_eq!(Period::Year.window_start(T), 1_704_067_200); // 2024-01-01
        assert_eq!(Period::Month.window_start(T + 1), T + 1); // 2024-03-01 starts a window
        assert_eq!(Period::Minute.window_start(T + 1), T + 1);
    }

    #[test]
    fn reset_is_kongs_nominal_length_minus_elapsed() {
        assert_eq!(Period::Minute.reset_in(T), 1);
        assert_eq!(Period::Minute.reset_in(T + 1), 60);
        assert_eq!(Period::Second.reset_in(T), 1);
        // Kong's 30-day month: 29 days elapsed on the last second of February.
        assert_eq!(Period::Month.reset_in(T), 2_592_000 - (T - 1_706_745_600));
    }
}
