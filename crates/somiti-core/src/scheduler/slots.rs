//! Slots from the real timezone. A job's cron expression is read as wall-clock time in its
//! IANA zone (croner matches the fields against the wall clock, never against UTC), and
//! each wall-clock match becomes an instant by the rules cronie follows across daylight
//! saving changes (tokio-cron-scheduler keeps a fixed UTC offset instead, its issues #87 and
//! #107):
//!
//! - **Spring forward** (a wall-clock time that does not exist, e.g. 02:30 on the night the
//!   clocks jump from 02:00 to 03:00): a *fixed-time* job runs once, at the first instant
//!   after the gap (03:00), and only for slots that fell inside the gap — a 01:30 job still
//!   runs once, at 01:30. An *interval* job (`*` in its second, minute or hour field, or
//!   `@hourly`) has no slot in the gap and carries on at its next real slot, as cronie does.
//! - **Fall back** (a wall-clock time that happens twice): a fixed-time job runs once, at
//!   the first of the two; an interval job runs at both, so `*/15 * * * *` keeps running
//!   every 15 minutes and `0 * * * *` every hour through the repeated hour.
//! - A next slot is always strictly after the instant asked about, so no status ever shows
//!   a next run earlier than now.
//!
//! croniter gives the same slots except that it runs a fixed-time job twice in a repeated
//! hour; cronie (and this module) run it once. The tests hold the table for Europe/Berlin,
//! America/New_York, Australia/Lord_Howe (a 30-minute shift) and Asia/Dhaka.

use chrono::offset::LocalResult;
use chrono::{DateTime, Duration, NaiveDateTime, Offset, SubsecRound, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    pub expr: String,
    pub tz: Tz,
    interval: bool,
}

/// Wider than any change of a UTC offset (2 hours at most in the tz database).
const WINDOW: Duration = Duration::hours(3);
/// Wall-clock matches looked at per search: a 3-hour window of a every-second job.
const SEARCH_LIMIT: usize = 20_000;

/// A wall-clock time as a UTC instant with the same fields: croner matches the fields on
/// a clock that never jumps, and the zone's rules are applied afterwards.
fn floating(n: NaiveDateTime) -> DateTime<Utc> {
    Utc.from_utc_datetime(&n)
}

/// `*` in the second, minute or hour field (or `@hourly`): the job runs by the interval,
/// not at a time of day.
fn interval_expr(expr: &str) -> bool {
    let e = expr.trim();
    if let Some(m) = e.strip_prefix('@') {
        return m.eq_ignore_ascii_case("hourly");
    }
    let f: Vec<&str> = e.split_whitespace().collect();
    let time_fields = if f.len() == 6 {
        &f[..3]
    } else {
        &f[..2.min(f.len())]
    };
    time_fields.iter().any(|x| x.contains('*'))
}

impl Schedule {
    /// Parse a 5-field (crontab, pg_cron) or 6-field (seconds first) expression in `tz`.
    pub fn parse(job: &str, expr: &str, tz: &str) -> Result<Schedule> {
        let tz: Tz = tz.parse().map_err(|_| {
            Error::Config(format!(
                "schedule {job:?}: timezone {tz:?} is not an IANA timezone such as Asia/Dhaka"
            ))
        })?;
        let fields = expr.split_whitespace().count();
        if !(5..=6).contains(&fields) && !expr.trim_start().starts_with('@') {
            return Err(Error::Config(format!(
                "schedule {job:?}: cron {expr:?} has {fields} fields; use 5 (min hour day month weekday) or 6 (seconds first)"
            )));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(expr)
            .map_err(|e| {
                Error::Config(format!("schedule {job:?}: cron {expr:?} is not valid: {e}"))
            })?;
        Ok(Schedule {
            cron,
            interval: interval_expr(expr),
            expr: expr.trim().to_string(),
            tz,
        })
    }

    /// Whether this is an interval job (`*` in the second, minute or hour field, or
    /// `@hourly`), which keeps its interval across clock changes, rather than a fixed-time
    /// job, which runs once per wall-clock time.
    pub fn is_interval(&self) -> bool {
        self.interval
    }

    /// The first slot strictly after `t`. Slots are whole seconds: a slot is a unique key
    /// that every process must agree on.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let t = t.trunc_subsecs(0);
        // A slot after `t` can have an earlier wall-clock time than `t` only when the clocks
        // go back within the window; only then does the search start before `t`.
        let back = if self.offset(t + WINDOW) < self.offset(t) {
            WINDOW
        } else {
            Duration::zero()
        };
        let mut from = self.local(t) - back;
        let mut inclusive = true;
        let mut best: Option<DateTime<Utc>> = None;
        let mut stop: Option<NaiveDateTime> = None;
        for _ in 0..SEARCH_LIMIT {
            let Ok(m) = self.cron.find_next_occurrence(&floating(from), inclusive) else {
                break;
            };
            let m = m.naive_utc();
            if stop.is_some_and(|s| m > s) {
                break;
            }
            for i in self.instants(m) {
                if i > t && best.is_none_or(|b| i < b) {
                    best = Some(i);
                }
            }
            if let Some(b) = best {
                // A later wall-clock match can still come first in real time only across a
                // fall-back between `t` and `b`.
                let slack = if self.offset((b - WINDOW).max(t)) > self.offset(b) {
                    WINDOW
                } else {
                    Duration::zero()
                };
                stop = Some(self.local(b) + slack);
            }
            from = m;
            inclusive = false;
        }
        best
    }

    /// The latest slot at or before `t`.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let t = t.trunc_subsecs(0);
        let ahead = if self.offset(t - WINDOW) > self.offset(t) {
            WINDOW
        } else {
            Duration::zero()
        };
        let mut from = self.local(t) + ahead;
        let mut inclusive = true;
        let mut best: Option<DateTime<Utc>> = None;
        let mut stop: Option<NaiveDateTime> = None;
        for _ in 0..SEARCH_LIMIT {
            let Ok(m) = self
                .cron
                .find_previous_occurrence(&floating(from), inclusive)
            else {
                break;
            };
            let m = m.naive_utc();
            if stop.is_some_and(|s| m < s) {
                break;
            }
            for i in self.instants(m) {
                if i <= t && best.is_none_or(|b| i > b) {
                    best = Some(i);
                }
            }
            if let Some(b) = best {
                let slack = if self.offset(b) > self.offset((b + WINDOW).min(t)) {
                    WINDOW
                } else {
                    Duration::zero()
                };
                stop = Some(self.local(b) - slack);
            }
            from = m;
            inclusive = false;
        }
        best
    }

    /// The instants at which the wall-clock match `w` runs (see the module's rules).
    fn instants(&self, w: NaiveDateTime) -> Vec<DateTime<Utc>> {
        match self.tz.from_local_datetime(&w) {
            LocalResult::Single(d) => vec![d.with_timezone(&Utc)],
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
                let (first, second) = (a.min(b), a.max(b));
                if self.interval {
                    vec![first, second]
                } else {
                    vec![first]
                }
            }
            LocalResult::None if self.interval => Vec::new(),
            LocalResult::None => self.after_gap(w).into_iter().collect(),
        }
    }

    /// The first instant after the gap that swallowed the wall-clock time `w`. Every
    /// transition in the tz database since 1970 falls on a whole minute.
    fn after_gap(&self, w: NaiveDateTime) -> Option<DateTime<Utc>> {
        let base = w.with_second(0)?.with_nanosecond(0)?;
        (1..=24 * 60).find_map(|k| {
            match self.tz.from_local_datetime(&(base + Duration::minutes(k))) {
                LocalResult::Single(d) | LocalResult::Ambiguous(d, _) => {
                    Some(d.with_timezone(&Utc))
                }
                LocalResult::None => None,
            }
        })
    }

    fn offset(&self, t: DateTime<Utc>) -> i32 {
        self.tz
            .offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
    }

    fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&self.tz).naive_local()
    }

    /// The next `n` slots after `t`.
    pub fn upcoming(&self, t: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut at = t;
        while out.len() < n {
            match self.next_after(at) {
                Some(s) => {
                    out.push(s);
                    at = s;
                }
                None => break,
            }
        }
        out
    }

    /// The longest gap between two consecutive slots over the next few weeks: how old the
    /// newest backup may be before the schedule is late.
    pub fn max_interval(&self, from: DateTime<Utc>) -> chrono::Duration {
        let slots = self.upcoming(from, 64);
        slots
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_else(|| chrono::Duration::days(1))
    }

    /// In words: "daily at 02:00 Asia/Dhaka", "every Sunday at 03:00 …", or croner's text.
    pub fn describe(&self) -> String {
        let f: Vec<&str> = self.expr.split_whitespace().collect();
        let tz = self.tz.name();
        let (sec, rest) = if f.len() == 6 {
            (f[0], &f[1..])
        } else {
            ("0", &f[..])
        };
        if rest.len() == 5 && sec == "0" {
            let (min, hour, dom, mon, dow) = (rest[0], rest[1], rest[2], rest[3], rest[4]);
            let hm = match (hour.parse::<u32>(), min.parse::<u32>()) {
                (Ok(h), Ok(m)) if h < 24 && m < 60 => Some(format!("{h:02}:{m:02}")),
                _ => None,
            };
            if let Some(hm) = hm
                && mon == "*"
            {
                if dom == "*" && dow == "*" {
                    return format!("daily at {hm} {tz}");
                }
                if dom == "*"
                    && let Some(day) = weekday_name(dow)
                {
                    return format!("every {day} at {hm} {tz}");
                }
                if dow == "*" && dom.parse::<u32>().is_ok() {
                    return format!("monthly on day {dom} at {hm} {tz}");
                }
            }
        }
        if f.len() == 6
            && let Some(n) = f[0].strip_prefix("*/")
            && f[1..].iter().all(|x| *x == "*")
        {
            return format!("every {n} seconds");
        }
        if f.len() == 5
            && let Some(n) = f[0].strip_prefix("*/")
            && f[1..].iter().all(|x| *x == "*")
        {
            return format!("every {n} minutes");
        }
        format!("{} ({tz})", self.cron.describe())
    }
}

fn weekday_name(dow: &str) -> Option<&'static str> {
    Some(match dow.to_ascii_uppercase().as_str() {
        "0" | "7" | "SUN" => "Sunday",
        "1" | "MON" => "Monday",
        "2" | "TUE" => "Tuesday",
        "3" | "WED" => "Wednesday",
        "4" | "THU" => "Thursday",
        "5" | "FRI" => "Friday",
        "6" | "SAT" => "Saturday",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn daily_0200_berlin_keeps_wall_clock_across_both_dst_changes() {
        let s = Schedule::parse("b", "0 2 * * *", "Europe/Berlin").unwrap();
        // Winter (CET, UTC+1): 02:00 local = 01:00 UTC.
        assert_eq!(
            s.next_after(utc(2026, 3, 27, 12, 0)),
            Some(utc(2026, 3, 28, 1, 0))
        );
        // 2026-03-29 02:00 does not exist (clocks jump 02:00 → 03:00); the slot after the
        // gap is the next real 02:00, on the 30th, in summer time (CEST, UTC+2).
        let after_gap = s.next_after(utc(2026, 3, 29, 12, 0)).unwrap();
        assert_eq!(after_gap, utc(2026, 3, 30, 0, 0));
        // Autumn: 2026-10-25 back to CET. The 26th is 02:00 CET = 01:00 UTC.
        assert_eq!(
            s.next_after(utc(2026, 10, 23, 12, 0)),
            Some(utc(2026, 10, 24, 0, 0))
        );
        assert_eq!(
            s.next_after(utc(2026, 10, 25, 12, 0)),
            Some(utc(2026, 10, 26, 1, 0))
        );
    }

    #[test]
    fn new_york_0930_moves_in_utc_when_clocks_change() {
        let s = Schedule::parse("b", "30 9 * * *", "America/New_York").unwrap();
        // EST (UTC-5) before 2026-03-08, EDT (UTC-4) after; EST again after 2026-11-01.
        assert_eq!(
            s.next_after(utc(2026, 3, 7, 0, 0)),
            Some(utc(2026, 3, 7, 14, 30))
        );
        assert_eq!(
            s.next_after(utc(2026, 3, 8, 0, 0)),
            Some(utc(2026, 3, 8, 13, 30))
        );
        assert_eq!(
            s.next_after(utc(2026, 10, 31, 0, 0)),
            Some(utc(2026, 10, 31, 13, 30))
        );
        assert_eq!(
            s.next_after(utc(2026, 11, 1, 0, 0)),
            Some(utc(2026, 11, 1, 14, 30))
        );
    }

    #[test]
    fn dhaka_has_no_dst_and_is_utc_plus_6() {
        let s = Schedule::parse("b", "0 2 * * *", "Asia/Dhaka").unwrap();
        assert_eq!(
            s.next_after(utc(2026, 11, 22, 0, 0)),
            Some(utc(2026, 11, 22, 20, 0))
        );
        assert_eq!(s.describe(), "daily at 02:00 Asia/Dhaka");
    }

    #[test]
    fn end_of_month_and_last_day() {
        let s = Schedule::parse("m", "0 3 31 * *", "Asia/Dhaka").unwrap();
        // after Jan 31 the next 31st is March 31 (February and April have none... March has)
        assert_eq!(
            s.next_after(utc(2027, 1, 31, 0, 0)),
            Some(utc(2027, 3, 30, 21, 0))
        );
        let last = Schedule::parse("l", "0 0 L * *", "UTC").unwrap();
        assert_eq!(
            last.next_after(utc(2028, 2, 1, 0, 0)),
            Some(utc(2028, 2, 29, 0, 0))
        );
    }

    #[test]
    fn slots_are_whole_seconds_whatever_the_start() {
        let s = Schedule::parse("b", "0 2 * * *", "Asia/Dhaka").unwrap();
        let a = utc(2026, 11, 22, 0, 0) + chrono::Duration::milliseconds(214);
        let b = utc(2026, 11, 22, 0, 0) + chrono::Duration::milliseconds(987);
        assert_eq!(s.next_after(a), s.next_after(b));
        assert_eq!(s.next_after(a), Some(utc(2026, 11, 22, 20, 0)));
        assert_eq!(s.latest_at_or_before(a), Some(utc(2026, 11, 21, 20, 0)));
    }

    #[test]
    fn five_and_six_fields_and_bad_input() {
        let s = Schedule::parse("s", "*/5 * * * * *", "UTC").unwrap();
        assert_eq!(
            s.next_after(utc(2026, 1, 1, 0, 0)),
            Some(utc(2026, 1, 1, 0, 0) + chrono::Duration::seconds(5))
        );
        assert_eq!(s.describe(), "every 5 seconds");
        let e = Schedule::parse("nightly", "0 2 * *", "UTC")
            .unwrap_err()
            .to_string();
        assert!(e.contains("nightly") && e.contains("4 fields"), "{e}");
        let e = Schedule::parse("nightly", "0 25 * * *", "UTC")
            .unwrap_err()
            .to_string();
        assert!(e.contains("nightly") && e.contains("not valid"), "{e}");
        let e = Schedule::parse("nightly", "0 2 * * *", "Mars/Base")
            .unwrap_err()
            .to_string();
        assert!(e.contains("nightly") && e.contains("Mars/Base"), "{e}");
        let w = Schedule::parse("p", "0 3 * * SUN", "Asia/Dhaka").unwrap();
        assert_eq!(w.describe(), "every Sunday at 03:00 Asia/Dhaka");
    }
}
