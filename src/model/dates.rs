//! Promise dates (scenario format, version 2, "Dates"): node calendars, cut-offs, processing
//! days and carrier delivery days, on calendar dates counted as days since 1970-01-01.
//!
//! Time zones come from the IANA database compiled into `chrono-tz`, so daylight saving is the
//! real one of each zone.

use chrono::{NaiveDate, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;

/// A calendar date as days since 1970-01-01 (negative before).
pub type Day = i32;

/// No inbound floor: a shipment handled on its node's handling day.
pub const NO_FLOOR: Day = Day::MIN;

/// How far date walks look for an open day before giving up (a calendar closed for ten years).
const MAX_WALK_DAYS: i32 = 3660;

/// The date of a day number.
pub fn date_of(day: Day) -> NaiveDate {
    NaiveDate::default() + chrono::Duration::days(i64::from(day))
}

/// The day number of a date.
pub fn day_of(date: NaiveDate) -> Day {
    (date - NaiveDate::default()).num_days() as Day
}

/// `YYYY-MM-DD` of a day number.
pub fn format_day(day: Day) -> String {
    use chrono::Datelike;
    let d = date_of(day);
    let (y, m, dd) = (d.year(), d.month(), d.day());
    let mut s = String::with_capacity(10);
    let digits = |s: &mut String, v: u32, n: u32| {
        for i in (0..n).rev() {
            s.push(char::from(b'0' + (v / 10u32.pow(i) % 10) as u8));
        }
    };
    if !(0..=9999).contains(&y) {
        return d.format("%Y-%m-%d").to_string();
    }
    digits(&mut s, y as u32, 4);
    s.push('-');
    digits(&mut s, m, 2);
    s.push('-');
    digits(&mut s, dd, 2);
    s
}

/// Parses `YYYY-MM-DD` (exactly that shape) into a day number.
pub fn parse_day(text: &str) -> Option<Day> {
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(day_of)
}

/// Weekday of a day number, Monday = 0.
#[inline]
pub fn weekday(day: Day) -> usize {
    // 1970-01-01 was a Thursday (3).
    (day + 3).rem_euclid(7) as usize
}

/// Parses a weekday name as the spec spells it (`mon` … `sun`).
pub fn parse_weekday(text: &str) -> Option<usize> {
    let w = match text {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    };
    Some(w.num_days_from_monday() as usize)
}

/// The spelling of a weekday index (Monday = 0).
pub fn weekday_name(i: usize) -> &'static str {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][i % 7]
}

/// A node's open days: weekdays it works, and dates it is shut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Calendar {
    /// Monday = 0.
    pub open: [bool; 7],
    /// Local dates on which it is shut, sorted, without duplicates.
    pub closed: Vec<Day>,
}

impl Default for Calendar {
    /// Every day open.
    fn default() -> Self {
        Calendar {
            open: [true; 7],
            closed: Vec::new(),
        }
    }
}

impl Calendar {
    /// Whether the node works on `day`.
    #[inline]
    pub fn is_open(&self, day: Day) -> bool {
        self.open[weekday(day)] && self.closed.binary_search(&day).is_err()
    }

    /// The first open day on or after `day`; `None` if none within ten years.
    pub fn first_open(&self, day: Day) -> Option<Day> {
        (day..day.saturating_add(MAX_WALK_DAYS)).find(|&d| self.is_open(d))
    }

    /// `day` advanced by `n` further open days (`day` itself when `n` is 0).
    pub fn advance_open(&self, day: Day, n: u32) -> Option<Day> {
        let mut d = day;
        for _ in 0..n {
            d = self.first_open(d + 1)?;
        }
        Some(d)
    }
}

/// Minutes after local midnight; 1440 (`24:00`) means no cut-off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cutoff(pub u16);

impl Default for Cutoff {
    fn default() -> Self {
        Cutoff(24 * 60)
    }
}

impl Cutoff {
    /// Parses `HH:MM` (00:00 to 24:00).
    pub fn parse(text: &str) -> Option<Cutoff> {
        let (h, m) = text.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        if m >= 60 || h > 24 || (h == 24 && m != 0) {
            return None;
        }
        Some(Cutoff(h * 60 + m))
    }

    /// `HH:MM`.
    pub fn format(self) -> String {
        format!("{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// When a node works: its zone, cut-off, processing days and calendar.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Clock {
    pub timezone: Tz,
    pub cutoff: Cutoff,
    pub processing_days: u32,
    pub calendar: Calendar,
}

impl Clock {
    /// The handling day (step 1 of the spec) of an order created at `created` (Unix seconds):
    /// its local date if before the cut-off, else the next day.
    pub fn handling_day(&self, created: i64) -> Day {
        let utc = Utc.timestamp_opt(created, 0).single().unwrap_or_default();
        let local = utc.with_timezone(&self.timezone);
        let minute = (local.hour() * 60 + local.minute()) as u16;
        let day = day_of(local.date_naive());
        if minute < self.cutoff.0 { day } else { day + 1 }
    }

    /// The handling day of an order created at `created`, and the UTC instants (Unix seconds)
    /// `[from, to)` between which every order gets that same handling day: from the cut-off of
    /// the day before to the cut-off of that day.
    pub fn handling_window(&self, created: i64) -> (Day, i64, i64) {
        let day = self.handling_day(created);
        let from = self.cutoff_instant(day - 1).unwrap_or(created).min(created);
        let to = self
            .cutoff_instant(day)
            .unwrap_or(created + 1)
            .max(created + 1);
        (day, from, to)
    }

    /// The UTC instant of `day`'s cut-off (24:00 being the next midnight); in a daylight-saving
    /// gap, the first instant after it.
    pub fn cutoff_instant(&self, day: Day) -> Option<i64> {
        let local = date_of(day).and_hms_opt(0, 0, 0)?
            + chrono::Duration::minutes(i64::from(self.cutoff.0));
        self.timezone
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                self.timezone
                    .from_local_datetime(&(local + chrono::Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc).timestamp())
    }

    /// The dispatch day of a shipment handled no earlier than `handling` (steps 2 and 3); `None`
    /// when the calendar never opens.
    pub fn dispatch_day(&self, handling: Day) -> Option<Day> {
        let first = self.calendar.first_open(handling)?;
        self.calendar.advance_open(first, self.processing_days)
    }
}

/// The delivery day of a parcel dispatched on `dispatch`, `transit_days` delivery days later:
/// Monday to Friday, and Saturday and Sunday too where `weekend` is set.
pub fn delivery_day(dispatch: Day, transit_days: u32, weekend: bool) -> Day {
    let mut d = dispatch;
    let mut left = transit_days;
    while left > 0 {
        d += 1;
        if weekend || weekday(d) < 5 {
            left -= 1;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Day {
        parse_day(text).expect("date")
    }

    #[test]
    fn days_and_weekdays() {
        assert_eq!(day("1970-01-01"), 0);
        assert_eq!(format_day(day("2026-12-18")), "2026-12-18");
        assert_eq!(weekday(day("2026-12-18")), 4); // a Friday
        assert_eq!(weekday(day("1969-12-31")), 2); // a Wednesday
        assert_eq!(parse_day("2026-2-1"), None);
        assert_eq!(parse_day("2026-02-30"), None);
    }

    #[test]
    fn cutoffs_parse_strictly() {
        assert_eq!(Cutoff::parse("17:00"), Some(Cutoff(1020)));
        assert_eq!(Cutoff::parse("24:00"), Some(Cutoff(1440)));
        for bad in ["24:01", "7:00", "17:60", "17", "ab:cd", "-1:00"] {
            assert_eq!(Cutoff::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn weekend_delivery_skips_or_counts_saturday_and_sunday() {
        let friday = day("2026-12-18");
        assert_eq!(delivery_day(friday, 0, false), friday);
        assert_eq!(delivery_day(friday, 1, false), day("2026-12-21"));
        assert_eq!(delivery_day(friday, 1, true), day("2026-12-19"));
        assert_eq!(delivery_day(friday, 2, false), day("2026-12-22"));
    }

    #[test]
    fn los_angeles_cutoff_follows_daylight_saving() {
        let clock = Clock {
            timezone: chrono_tz::America::Los_Angeles,
            cutoff: Cutoff::parse("14:00").expect("cutoff"),
            ..Clock::default()
        };
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .expect("ts")
                .timestamp()
        };
        // Summer: UTC−7, so 20:59Z is 13:59 local (before) and 21:00Z is 14:00 (after).
        // Winter: UTC−8, so 21:59Z is 13:59 local.
        for (at_utc, handled) in [
            ("2026-07-01T20:59:00Z", "2026-07-01"),
            ("2026-07-01T21:00:00Z", "2026-07-02"),
            ("2026-12-01T21:59:00Z", "2026-12-01"),
            ("2026-12-01T22:00:00Z", "2026-12-02"),
        ] {
            assert_eq!(clock.handling_day(at(at_utc)), day(handled), "{at_utc}");
        }
        // The window of a handling day runs from one cut-off to the next.
        let (d, from, to) = clock.handling_window(at("2026-12-01T23:00:00Z"));
        assert_eq!(d, day("2026-12-02"));
        assert_eq!(from, at("2026-12-01T22:00:00Z"));
        assert_eq!(to, at("2026-12-02T22:00:00Z"));
    }
}
