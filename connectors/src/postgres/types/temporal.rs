//! Dates, times, timestamps and intervals from PostgreSQL's text output under
//! `DateStyle=ISO, YMD`, `IntervalStyle=iso_8601` and `TimeZone=UTC`, and the
//! ISO-8601 strings Debezium writes for the zoned types.
//!
//! Calendar arithmetic is proleptic Gregorian, as Java's `java.time` (and so
//! Debezium) computes it: PostgreSQL's `4713-12-31 BC` is year -4712. Every quantity
//! is an `i64` of days or microseconds, computed in `i128` where a product could
//! overflow, so years beyond 9999 and before 1 BC are ordinary values.

use weir_connect::calendar::{civil_from_days, days_from_civil};

use super::Bad;

pub(super) const MICROS_PER_DAY: i64 = 86_400_000_000;

/// PostgreSQL's `infinity` and `-infinity`, which `date`, `timestamp`,
/// `timestamptz` (and, since 17, `interval`) accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Infinite<T> {
    Finite(T),
    Infinity,
    NegInfinity,
}

impl<T> Infinite<T> {
    fn parse(text: &str, finite: impl FnOnce(&str) -> Result<T, Bad>) -> Result<Self, Bad> {
        match text {
            "infinity" => Ok(Infinite::Infinity),
            "-infinity" => Ok(Infinite::NegInfinity),
            _ => finite(text).map(Infinite::Finite),
        }
    }
}

const BAD_DATE: Bad = Bad::Malformed("not an ISO date");
const BAD_TIME: Bad = Bad::Malformed("not an ISO time of day");
const BAD_OFFSET: Bad = Bad::Malformed("not a UTC offset");
const OUT_OF_RANGE: Bad = Bad::Unrepresentable("out of range for a 64-bit integer");

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn digits<T: std::str::FromStr>(s: &str, bad: Bad) -> Result<T, Bad> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad);
    }
    s.parse().map_err(|_| bad)
}

/// Splits PostgreSQL's era suffix off: ISO style writes `0044-03-15 BC`, and after
/// the offset for `timestamptz` (`… 12:00:00+00 BC`).
fn split_era(text: &str) -> (&str, bool) {
    match text.strip_suffix(" BC") {
        Some(rest) => (rest, true),
        None => (text, false),
    }
}

/// `YYYY-MM-DD` (four or more year digits) → epoch days; `bc` makes year Y into the
/// astronomical year 1 − Y.
fn parse_ymd(text: &str, bc: bool) -> Result<i64, Bad> {
    let mut parts = text.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(BAD_DATE);
    };
    if y.len() < 4 || m.len() != 2 || d.len() != 2 {
        return Err(BAD_DATE);
    }
    let year: i64 = digits(y, BAD_DATE)?;
    if year > 100_000_000 || (bc && year == 0) {
        return Err(BAD_DATE);
    }
    let year = if bc { 1 - year } else { year };
    let month: u32 = digits(m, BAD_DATE)?;
    let day: u32 = digits(d, BAD_DATE)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(BAD_DATE);
    }
    Ok(days_from_civil(year, month, day))
}

/// `HH:MM:SS[.ffffff]` → microseconds past midnight, `24:00:00` included (the only
/// time PostgreSQL writes with hour 24). Fraction digits past the sixth are dropped.
fn parse_clock(text: &str) -> Result<i64, Bad> {
    let (hms, frac) = text.split_once('.').unwrap_or((text, ""));
    let mut parts = hms.splitn(3, ':');
    let (Some(h), Some(m), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(BAD_TIME);
    };
    if h.len() != 2 || m.len() != 2 || s.len() != 2 || (text.contains('.') && frac.is_empty()) {
        return Err(BAD_TIME);
    }
    let (h, m, s): (i64, i64, i64) = (
        digits(h, BAD_TIME)?,
        digits(m, BAD_TIME)?,
        digits(s, BAD_TIME)?,
    );
    let mut micros: i64 = 0;
    for (i, b) in frac.bytes().enumerate() {
        if !b.is_ascii_digit() {
            return Err(BAD_TIME);
        }
        if i < 6 {
            micros = micros * 10 + i64::from(b - b'0');
        }
    }
    for _ in frac.len()..6 {
        micros *= 10;
    }
    let total = ((h * 60 + m) * 60 + s) * 1_000_000 + micros;
    if h > 24 || m > 59 || s > 59 || total > MICROS_PER_DAY {
        return Err(BAD_TIME);
    }
    Ok(total)
}

/// `+HH`, `+HH:MM` or `+HH:MM:SS` (old zones' local mean time has seconds) → seconds
/// east of UTC.
fn parse_offset(text: &str) -> Result<i64, Bad> {
    let sign = match text.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(BAD_OFFSET),
    };
    let mut seconds = 0;
    let mut count = 0;
    for (i, part) in text[1..].split(':').enumerate() {
        if i > 2 || part.len() != 2 {
            return Err(BAD_OFFSET);
        }
        let n: i64 = digits(part, BAD_OFFSET)?;
        seconds += n * [3600, 60, 1][i];
        count += 1;
    }
    if count == 0 {
        return Err(BAD_OFFSET);
    }
    Ok(sign * seconds)
}

/// Splits `HH:MM:SS.ffffff+HH:MM` at the offset's sign.
fn split_offset(text: &str) -> Result<(&str, i64), Bad> {
    let at = text.rfind(['+', '-']).ok_or(BAD_OFFSET)?;
    Ok((&text[..at], parse_offset(&text[at..])?))
}

/// `date` → days since the epoch.
pub(super) fn parse_date(text: &str) -> Result<Infinite<i64>, Bad> {
    Infinite::parse(text, |text| {
        let (text, bc) = split_era(text);
        parse_ymd(text, bc)
    })
}

/// `time` → microseconds past midnight.
pub(super) fn parse_time(text: &str) -> Result<i64, Bad> {
    parse_clock(text)
}

/// `timestamp` → microseconds since the epoch, the wall clock read as UTC (as
/// Debezium does, whatever the JVM's zone).
pub(super) fn parse_timestamp(text: &str) -> Result<Infinite<i64>, Bad> {
    Infinite::parse(text, |text| {
        let (text, bc) = split_era(text);
        let (date, clock) = text.split_once(' ').ok_or(BAD_DATE)?;
        to_micros(parse_ymd(date, bc)?, parse_clock(clock)?, 0)
    })
}

/// `timestamptz` → microseconds since the epoch, UTC.
pub(super) fn parse_timestamptz(text: &str) -> Result<Infinite<i64>, Bad> {
    Infinite::parse(text, |text| {
        let (text, bc) = split_era(text);
        let (date, rest) = text.split_once(' ').ok_or(BAD_DATE)?;
        let (clock, offset) = split_offset(rest)?;
        to_micros(parse_ymd(date, bc)?, parse_clock(clock)?, offset)
    })
}

fn to_micros(days: i64, micros_of_day: i64, offset_seconds: i64) -> Result<i64, Bad> {
    let micros = i128::from(days) * i128::from(MICROS_PER_DAY) + i128::from(micros_of_day)
        - i128::from(offset_seconds) * 1_000_000;
    i64::try_from(micros).map_err(|_| OUT_OF_RANGE)
}

/// `timetz` → Debezium's `ZonedTime`: the time shifted to UTC (wrapping around
/// midnight, as `OffsetTime.withOffsetSameInstant` does), fraction digits as needed.
/// `24:00:00` at a zero offset stays `24:00:00Z`, as in Debezium.
pub(super) fn parse_timetz(text: &str) -> Result<String, Bad> {
    let (clock, offset) = split_offset(text)?;
    let local = parse_clock(clock)?;
    if local == MICROS_PER_DAY && offset == 0 {
        return Ok("24:00:00Z".to_owned());
    }
    let utc = (local - offset * 1_000_000).rem_euclid(MICROS_PER_DAY);
    let mut out = String::with_capacity(16);
    push_clock(&mut out, utc, None);
    out.push('Z');
    Ok(out)
}

/// Debezium's `ZonedTimestamp` text of a UTC instant: `yyyy-MM-ddTHH:mm:ss`, then
/// `fraction_digits` fraction digits when that is 1–9 (the column's precision), else
/// as many as needed (Java's `ISO_OFFSET_DATE_TIME`), then `Z`. Years past 9999 get
/// a `+`, years before 1 AD a `-` (`-4713` is 4714 BC), as `java.time` prints them.
pub(super) fn format_zoned_timestamp(micros: i64, fraction_digits: i32) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let mut out = String::with_capacity(32);
    if year > 9999 {
        out.push('+');
    } else if year < 0 {
        out.push('-');
    }
    out.push_str(&format!("{:04}-{month:02}-{day:02}T", year.unsigned_abs()));
    let width = u8::try_from(fraction_digits)
        .ok()
        .filter(|w| (1..=9).contains(w));
    push_clock(&mut out, micros.rem_euclid(MICROS_PER_DAY), width);
    out.push('Z');
    out
}

/// `HH:mm:ss` and the fraction: exactly `width` digits, or with trailing zeros (and
/// the point) dropped when `width` is `None`.
fn push_clock(out: &mut String, micros_of_day: i64, width: Option<u8>) {
    let seconds = micros_of_day / 1_000_000;
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    let nanos = format!("{:09}", micros_of_day % 1_000_000 * 1000);
    let fraction = match width {
        Some(w) => &nanos[..usize::from(w)],
        None => nanos.trim_end_matches('0'),
    };
    if !fraction.is_empty() {
        out.push('.');
        out.push_str(fraction);
    }
}

/// An `interval` as PostgreSQL's `iso_8601` style writes it, each part signed on its
/// own: `P1Y2M3DT4H5M6.78S`, `P-1Y-2M3DT-4H`, `PT0S`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Interval {
    years: i64,
    months: i64,
    days: i64,
    hours: i64,
    minutes: i64,
    seconds: i64,
    /// The fraction of the second, with the seconds' sign.
    micros: i64,
}

const BAD_INTERVAL: Bad = Bad::Malformed("not an ISO-8601 interval (IntervalStyle=iso_8601)");

pub(super) fn parse_interval(text: &str) -> Result<Infinite<Interval>, Bad> {
    Infinite::parse(text, |text| {
        let body = text.strip_prefix('P').ok_or(BAD_INTERVAL)?;
        let (date, time) = body.split_once('T').unwrap_or((body, ""));
        if body.ends_with('T') || (date.is_empty() && time.is_empty()) {
            return Err(BAD_INTERVAL);
        }
        let mut interval = Interval::default();
        for_each_part(date, |number, unit| {
            let n = whole(number)?;
            match unit {
                'Y' => interval.years = n,
                'M' => interval.months = n,
                'D' => interval.days = n,
                'W' => interval.days = n.saturating_mul(7),
                _ => return Err(BAD_INTERVAL),
            }
            Ok(())
        })?;
        for_each_part(time, |number, unit| {
            match unit {
                'H' => interval.hours = whole(number)?,
                'M' => interval.minutes = whole(number)?,
                'S' => (interval.seconds, interval.micros) = seconds(number)?,
                _ => return Err(BAD_INTERVAL),
            }
            Ok(())
        })?;
        Ok(interval)
    })
}

/// Calls `part` with each `<number><unit letter>` of `text`.
fn for_each_part(
    text: &str,
    mut part: impl FnMut(&str, char) -> Result<(), Bad>,
) -> Result<(), Bad> {
    let mut rest = text;
    while !rest.is_empty() {
        let at = rest
            .find(|c: char| c.is_ascii_alphabetic())
            .ok_or(BAD_INTERVAL)?;
        let unit = rest[at..].chars().next().ok_or(BAD_INTERVAL)?;
        part(&rest[..at], unit)?;
        rest = &rest[at + 1..];
    }
    Ok(())
}

fn whole(number: &str) -> Result<i64, Bad> {
    let (negative, n) = match number.strip_prefix('-') {
        Some(n) => (true, n),
        None => (false, number),
    };
    let n: i64 = digits(n, BAD_INTERVAL)?;
    Ok(if negative { -n } else { n })
}

/// `-6.78` → (-6, -780000).
fn seconds(number: &str) -> Result<(i64, i64), Bad> {
    let negative = number.starts_with('-');
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let whole_seconds = whole(int)?;
    if frac.len() > 6 || (number.contains('.') && frac.is_empty()) {
        return Err(BAD_INTERVAL);
    }
    let mut micros: i64 = if frac.is_empty() {
        0
    } else {
        digits(frac, BAD_INTERVAL)?
    };
    for _ in frac.len()..6 {
        micros *= 10;
    }
    Ok((whole_seconds, if negative { -micros } else { micros }))
}

impl Interval {
    /// Debezium's `MicroDuration.durationMicros` with `DAYS_PER_MONTH_AVG` (365.25 / 12
    /// = 30.4375 days a month), computed in `f64` in the same order as the Java, so the
    /// result (truncated toward zero) is the same to the microsecond. The seconds come
    /// as pgjdbc's `PGInterval.getSeconds()` gives them: whole + micros / 1e6.
    pub(super) fn micro_duration(&self) -> i64 {
        const DAYS_PER_MONTH_AVG: f64 = 365.25 / 12.0;
        let seconds = self.seconds as f64 + self.micros as f64 / 1_000_000.0;
        let days = self.years.saturating_mul(12).saturating_add(self.months) as f64
            * DAYS_PER_MONTH_AVG
            + self.days as f64;
        let total =
            ((days * 24.0 + self.hours as f64) * 60.0 + self.minutes as f64) * 60.0 + seconds;
        (total * 1e6) as i64
    }

    /// Debezium's `Interval.toIsoString`: every part written, seconds without trailing
    /// zeros (`P1Y2M3DT4H5M6.78S`, `P0Y0M0DT0H0M0S`).
    pub(super) fn iso_string(&self) -> String {
        let mut seconds = String::new();
        if self.seconds < 0 || self.micros < 0 {
            seconds.push('-');
        }
        seconds.push_str(&self.seconds.unsigned_abs().to_string());
        let fraction = format!("{:06}", self.micros.unsigned_abs());
        let fraction = fraction.trim_end_matches('0');
        if !fraction.is_empty() {
            seconds.push('.');
            seconds.push_str(fraction);
        }
        format!(
            "P{}Y{}M{}DT{}H{}M{seconds}S",
            self.years, self.months, self.days, self.hours, self.minutes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips_across_eras() {
        for days in (-3_000_000..3_000_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-719_528), (0, 1, 1));
    }

    #[test]
    fn dates_read_eras_and_long_years() {
        let d = |t: &str| parse_date(t).unwrap();
        assert_eq!(d("1970-01-01"), Infinite::Finite(0));
        assert_eq!(d("2016-11-04"), Infinite::Finite(17_109));
        assert_eq!(d("1969-12-31"), Infinite::Finite(-1));
        // 1 BC is year 0, a leap year.
        assert_eq!(
            d("0001-02-29 BC"),
            Infinite::Finite(days_from_civil(0, 2, 29))
        );
        // Julian day 0.
        assert_eq!(d("4714-11-24 BC"), Infinite::Finite(-2_440_588));
        assert_eq!(d("5874897-12-31"), Infinite::Finite(2_145_042_905));
        assert_eq!(d("infinity"), Infinite::Infinity);
        assert_eq!(d("-infinity"), Infinite::NegInfinity);
        for bad in [
            "2024-02-30",
            "2023-02-29",
            "24-01-01",
            "2024-1-01",
            "0000-01-01 BC",
            "x",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn clocks_allow_the_end_of_day_only() {
        assert_eq!(parse_time("00:00:00"), Ok(0));
        assert_eq!(parse_time("13:51:30.123"), Ok(49_890_123_000));
        assert_eq!(parse_time("13:51:30.000001"), Ok(49_890_000_001));
        assert_eq!(parse_time("24:00:00"), Ok(MICROS_PER_DAY));
        for bad in [
            "24:00:00.000001",
            "25:00:00",
            "12:60:00",
            "12:00",
            "12:00:00.",
            "1:00:00",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_match_debezium_tests() {
        let ts = |t: &str| match parse_timestamp(t).unwrap() {
            Infinite::Finite(v) => v,
            other => panic!("{other:?}"),
        };
        // AbstractRecordsProducerTest: ts, tsneg, ts_large, ts_max, ts_min.
        assert_eq!(ts("2016-11-04 13:51:30.123456"), 1_478_267_490_123_456);
        assert_eq!(ts("1936-10-25 22:10:12.608"), -1_047_174_587_392_000);
        assert_eq!(ts("21016-11-04 13:51:30.123456"), 601_060_312_290_123_456);
        assert_eq!(
            ts("294247-01-01 23:59:59.999999"),
            9_223_371_331_200_000_000 - 1
        );
        assert_eq!(
            ts("4713-12-31 23:59:59.999999 BC"),
            -210_831_897_600_000_001
        );
        assert_eq!(ts("1970-01-01 00:00:00"), 0);
        assert!(parse_timestamp("294277-01-01 00:00:00").is_err());
        assert_eq!(parse_timestamp("infinity"), Ok(Infinite::Infinity));
    }

    #[test]
    fn zoned_timestamps_shift_to_utc() {
        let tz = |t: &str, w| match parse_timestamptz(t).unwrap() {
            Infinite::Finite(v) => format_zoned_timestamp(v, w),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            tz("2016-11-04 13:51:30.123456+02", 6),
            "2016-11-04T11:51:30.123456Z"
        );
        assert_eq!(
            tz("2024-01-02 03:04:05.6+02", 6),
            "2024-01-02T01:04:05.600000Z"
        );
        assert_eq!(
            tz("2024-01-02 03:04:05.6+02", 3),
            "2024-01-02T01:04:05.600Z"
        );
        assert_eq!(tz("2024-01-02 03:04:05+02", 0), "2024-01-02T01:04:05Z");
        assert_eq!(
            tz("2024-01-02 00:30:00+05:30", 6),
            "2024-01-01T19:00:00.000000Z"
        );
        assert_eq!(
            tz("1900-01-01 00:00:00-00:01:15", 0),
            "1900-01-01T00:01:15Z"
        );
        assert_eq!(
            tz("21016-11-04 13:51:30.123456+07", 6),
            "+21016-11-04T06:51:30.123456Z"
        );
        assert_eq!(
            tz("4714-12-31 23:59:59.999999+00 BC", 6),
            "-4713-12-31T23:59:59.999999Z"
        );
        assert_eq!(
            tz("0001-01-01 00:00:00+00 BC", 6),
            "0000-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            tz("0002-01-01 00:00:00+00 BC", 6),
            "-0001-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn zoned_times_wrap_to_utc() {
        assert_eq!(
            parse_timetz("13:51:30.123789+02").unwrap(),
            "11:51:30.123789Z"
        );
        assert_eq!(parse_timetz("13:51:30.1+02").unwrap(), "11:51:30.1Z");
        assert_eq!(parse_timetz("00:30:00+02").unwrap(), "22:30:00Z");
        assert_eq!(parse_timetz("23:00:00-02:30").unwrap(), "01:30:00Z");
        assert_eq!(parse_timetz("24:00:00+00").unwrap(), "24:00:00Z");
        assert_eq!(parse_timetz("24:00:00+02").unwrap(), "22:00:00Z");
        assert!(parse_timetz("12:00:00").is_err());
    }

    #[test]
    fn intervals_read_every_signed_part() {
        let i = |t: &str| match parse_interval(t).unwrap() {
            Infinite::Finite(v) => v,
            other => panic!("{other:?}"),
        };
        let all = i("P1Y2M3DT4H5M6.78S");
        assert_eq!(all.iso_string(), "P1Y2M3DT4H5M6.78S");
        // MicroDuration.durationMicros(1, 2, 3, 4, 5, 6.78, DAYS_PER_MONTH_AVG)
        assert_eq!(all.micro_duration(), 37_091_106_780_000);
        assert_eq!(i("PT0S").iso_string(), "P0Y0M0DT0H0M0S");
        assert_eq!(i("PT0S").micro_duration(), 0);
        let neg = i("P-1Y-2M3DT-4H-5M-6.5S");
        assert_eq!(neg.iso_string(), "P-1Y-2M3DT-4H-5M-6.5S");
        assert_eq!(neg.micro_duration(), -36_572_706_500_000);
        assert_eq!(i("PT-0.5S").iso_string(), "P0Y0M0DT0H0M-0.5S");
        assert_eq!(i("PT-0.5S").micro_duration(), -500_000);
        assert_eq!(i("P1M").micro_duration(), 2_629_800_000_000);
        assert_eq!(i("PT1000H").micro_duration(), 3_600_000_000_000);
        assert_eq!(i("PT0.000001S").micro_duration(), 1);
        assert_eq!(parse_interval("infinity"), Ok(Infinite::Infinity));
        for bad in ["1 year", "P", "PT", "P1X", "PT1.S", "P1.5Y"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }
}
