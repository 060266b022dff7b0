//! Simulated time.
//!
//! Simulated time is a `u64` count of nanoseconds since the start of the run.
//! This module holds the unit constants, a parser and formatters for
//! durations in Go's `time.ParseDuration` / `Duration.String()` syntax, and
//! RFC 3339 timestamp conversion for wall-clock anchoring of reports.
//!
//! Nothing here panics: every parser returns a `Result` whose error message
//! names the offending input.

/// A point in simulated time or a duration, in nanoseconds.
pub type Time = u64;

/// One nanosecond.
pub const NANOSECOND: Time = 1;
/// One microsecond.
pub const MICROSECOND: Time = 1_000;
/// One millisecond.
pub const MILLISECOND: Time = 1_000_000;
/// One second.
pub const SECOND: Time = 1_000_000_000;
/// One minute.
pub const MINUTE: Time = 60 * SECOND;
/// One hour.
pub const HOUR: Time = 60 * MINUTE;

const NANOS_PER_DAY: u64 = 24 * HOUR;

/// Nanoseconds per unit for the unit suffixes `parse_duration` accepts.
fn unit_nanos(unit: &str) -> Option<u64> {
    match unit {
        "ns" => Some(NANOSECOND),
        // "µ" is U+00B5 (micro sign), "μ" is U+03BC (Greek small letter mu).
        "us" | "\u{b5}s" | "\u{3bc}s" => Some(MICROSECOND),
        "ms" => Some(MILLISECOND),
        "s" => Some(SECOND),
        "m" => Some(MINUTE),
        "h" => Some(HOUR),
        _ => None,
    }
}

/// Consumes leading ASCII digits of `s` as an integer; `None` on u64 overflow.
fn leading_int(s: &str) -> Option<(u64, &str)> {
    let end = s.bytes().take_while(u8::is_ascii_digit).count();
    let mut x: u64 = 0;
    for b in s[..end].bytes() {
        x = x.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some((x, &s[end..]))
}

/// Consumes leading ASCII digits of `s` as a fraction `x / scale`, exactly as
/// Go's `leadingFraction` does (digits past 63 bits of precision are ignored).
fn leading_fraction(s: &str) -> (u64, f64, &str) {
    let end = s.bytes().take_while(u8::is_ascii_digit).count();
    let mut x: u64 = 0;
    let mut scale = 1.0_f64;
    let mut overflow = false;
    for b in s[..end].bytes() {
        if overflow {
            continue;
        }
        if x > ((1u64 << 63) - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(b - b'0');
        if y > 1u64 << 63 {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, &s[end..])
}

/// Parse a duration in Go's `time.ParseDuration` syntax and return it in
/// nanoseconds.
///
/// Accepted: a sequence of decimal numbers, each with an optional fraction
/// and a mandatory unit suffix, such as `"250us"`, `"100ms"`, `"45s"`,
/// `"11m"`, `"1h30m"`, `"1.5s"`, `".5s"`, `"5.s"`, `"3ns"`,
/// `"2h45m30.5s"`, plus the bare `"0"`. Units are `ns`, `us`, `µs` (U+00B5),
/// `μs` (U+03BC), `ms`, `s`, `m` and `h`.
///
/// Refused, with a message naming the input: the empty string, numbers
/// without a unit (other than `"0"`), unknown units, any leading sign (`'-'`
/// or `'+'`: simulated durations are never negative) and totals that do not
/// fit in a `u64`. Fractional nanoseconds are truncated, with the same
/// float64 arithmetic Go uses, so results match Go's bit for bit within the
/// range both accept.
pub fn parse_duration(s: &str) -> Result<Time, String> {
    let invalid = || format!("invalid duration {s:?}");
    if s.starts_with('-') {
        return Err(format!(
            "invalid duration {s:?}: negative durations are not allowed"
        ));
    }
    if s.starts_with('+') {
        return Err(format!(
            "invalid duration {s:?}: a leading '+' is not allowed"
        ));
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err("invalid duration \"\": empty string".to_string());
    }
    let overflow = || format!("invalid duration {s:?}: too large (overflows u64 nanoseconds)");
    let mut rest = s;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let first = rest.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(format!("{}: expected a number at {rest:?}", invalid()));
        }
        let before = rest.len();
        let (int, after_int) = leading_int(rest).ok_or_else(overflow)?;
        rest = after_int;
        let pre = before != rest.len();
        let mut frac: u64 = 0;
        let mut scale = 1.0_f64;
        let mut post = false;
        if let Some(after_dot) = rest.strip_prefix('.') {
            let (f, sc, after_frac) = leading_fraction(after_dot);
            post = after_frac.len() != after_dot.len();
            frac = f;
            scale = sc;
            rest = after_frac;
        }
        if !pre && !post {
            return Err(format!("{}: a '.' needs digits", invalid()));
        }
        // The unit runs up to the next digit or '.', both ASCII, so the
        // split point is always a char boundary.
        let unit_len = rest
            .bytes()
            .take_while(|b| !(*b == b'.' || b.is_ascii_digit()))
            .count();
        if unit_len == 0 {
            return Err(format!(
                "missing unit in duration {s:?} (use ns, us, ms, s, m or h)"
            ));
        }
        let unit_str = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit = unit_nanos(unit_str).ok_or_else(|| {
            format!("unknown unit {unit_str:?} in duration {s:?} (use ns, us, ms, s, m or h)")
        })?;
        let mut value = int.checked_mul(unit).ok_or_else(overflow)?;
        if frac > 0 {
            // Same expression as Go: float64 keeps fractions of hours
            // nanosecond-accurate; the cast truncates toward zero.
            let part = (frac as f64 * (unit as f64 / scale)) as u64;
            value = value.checked_add(part).ok_or_else(overflow)?;
        }
        total = total.checked_add(value).ok_or_else(overflow)?;
    }
    Ok(total)
}

/// Splits `v` into `v / 10^prec` and the fraction digits `".ddd"` with
/// trailing zeros removed (empty when the fraction is zero).
fn split_frac(v: u64, prec: u32) -> (u64, String) {
    let div = 10u64.pow(prec);
    let (int, frac) = (v / div, v % div);
    if frac == 0 {
        return (int, String::new());
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    (int, format!(".{}", digits.trim_end_matches('0')))
}

/// Format a duration like Go's `Duration.String()`, except that
/// microseconds use `"us"` instead of `"µs"`.
///
/// Examples: `0` → `"0s"`, 1.5 s → `"1.5s"`, 90 s → `"1m30s"`, 1 h 30 m →
/// `"1h30m0s"`, 250 µs → `"250us"`, 100 ms → `"100ms"`, 3 ns → `"3ns"`.
/// The output always parses back to the same value with [`parse_duration`].
pub fn format_duration(d: Time) -> String {
    if d == 0 {
        return "0s".to_string();
    }
    if d < SECOND {
        let (unit, prec) = if d < MICROSECOND {
            ("ns", 0)
        } else if d < MILLISECOND {
            ("us", 3)
        } else {
            ("ms", 6)
        };
        let (int, frac) = split_frac(d, prec);
        return format!("{int}{frac}{unit}");
    }
    let (secs, frac) = split_frac(d, 9);
    let mins = secs / 60;
    let hours = mins / 60;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if mins > 0 {
        out.push_str(&format!("{}m", mins % 60));
    }
    out.push_str(&format!("{}{frac}s", secs % 60));
    out
}

/// Number of decimal digits of `n` (at least 1).
fn decimal_digits(mut n: u64) -> u32 {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// Format a short human-friendly duration for tables.
///
/// Below one minute the value is rounded (half up) to at most 4 significant
/// digits and shown in the largest unit in which it is at least 1:
/// `"0"`, `"850ns"`, `"12.5us"`, `"3.2ms"`, `"1.235ms"`, `"45s"`,
/// `"59.99s"`. From one minute on (including values that round up to one
/// minute) it is [`format_duration`], e.g. `"11m0s"`.
pub fn format_short(d: Time) -> String {
    if d == 0 {
        return "0".to_string();
    }
    if d < MICROSECOND {
        return format!("{d}ns");
    }
    if d >= MINUTE {
        return format_duration(d);
    }
    let (unit, name) = if d < MILLISECOND {
        (MICROSECOND, "us")
    } else if d < SECOND {
        (MILLISECOND, "ms")
    } else {
        (SECOND, "s")
    };
    let int_digits = decimal_digits(d / unit);
    // `unit` is 10^3, 10^6 or 10^9 and int_digits <= 3, so 10^decimals
    // always divides it.
    let decimals = 4u32.saturating_sub(int_digits);
    let step = unit / 10u64.pow(decimals);
    let rounded = (d / step).saturating_add(u64::from(d % step >= step.div_ceil(2))) * step;
    if rounded != d {
        // `rounded` is a multiple of a step at least as fine as the one it
        // will be formatted with, so this recursion ends after one level.
        return format_short(rounded);
    }
    let (int, frac) = split_frac(d / step, decimals);
    format!("{int}{frac}{name}")
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 }; // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// Proleptic Gregorian `(year, month, day)` of a count of days since
/// 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both values are small and positive by construction.
    (year, month as u32, day as u32)
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        _ => 28,
    }
}

/// RFC 3339 UTC timestamp with nanosecond precision, trailing zeros of the
/// fraction trimmed (Go's `time.RFC3339Nano` layout), for `unix_ns`
/// nanoseconds since 1970-01-01T00:00:00Z.
///
/// Examples: `1_767_225_600_000_000_000` → `"2026-01-01T00:00:00Z"`, and
/// 1.5 s later → `"2026-01-01T00:00:01.5Z"`.
pub fn rfc3339_nano(unix_ns: u64) -> String {
    let days = unix_ns / NANOS_PER_DAY;
    let in_day = unix_ns % NANOS_PER_DAY;
    // days <= u64::MAX / 8.64e13 (about 213 503), far inside i64.
    let (year, month, day) = civil_from_days(days as i64);
    let (secs, frac) = split_frac(in_day, 9);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{frac}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Byte-level reader for [`parse_rfc3339`].
struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn fail(&self, what: &str) -> String {
        let found = match self.text.get(self.pos..).and_then(|r| r.chars().next()) {
            Some(c) => format!("found {c:?}"),
            None => "found end of input".to_string(),
        };
        format!(
            "invalid RFC 3339 timestamp {:?}: expected {what} at byte {}, {found}",
            self.text, self.pos
        )
    }

    /// Reads exactly `n` ASCII digits.
    fn digits(&mut self, n: usize, what: &str) -> Result<u32, String> {
        let mut v = 0u32;
        for _ in 0..n {
            match self.bytes.get(self.pos) {
                Some(b) if b.is_ascii_digit() => {
                    v = v * 10 + u32::from(b - b'0');
                    self.pos += 1;
                }
                _ => return Err(self.fail(what)),
            }
        }
        Ok(v)
    }

    /// Consumes one byte if it is one of `options`.
    fn one_of(&mut self, options: &[u8], what: &str) -> Result<u8, String> {
        match self.bytes.get(self.pos) {
            Some(b) if options.contains(b) => {
                self.pos += 1;
                Ok(*b)
            }
            _ => Err(self.fail(what)),
        }
    }
}

/// Parse an RFC 3339 timestamp of the form
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` into nanoseconds since
/// 1970-01-01T00:00:00Z.
///
/// `Z` (or `+00:00`) is UTC; other offsets are accepted and converted to
/// UTC. Lowercase `t` and `z` are accepted as RFC 3339 allows. The fraction
/// may have any number of digits; digits past nanoseconds are truncated.
/// Errors name what is wrong: the byte where the layout breaks, a field out
/// of range (month, day of that month, hour, minute, second, offset), or a
/// result before 1970 or past what `u64` nanoseconds can hold (2554).
pub fn parse_rfc3339(s: &str) -> Result<u64, String> {
    let mut c = Cursor {
        text: s,
        bytes: s.as_bytes(),
        pos: 0,
    };
    let year = c.digits(4, "a 4-digit year")?;
    c.one_of(b"-", "'-' after the year")?;
    let month = c.digits(2, "a 2-digit month")?;
    c.one_of(b"-", "'-' after the month")?;
    let day = c.digits(2, "a 2-digit day")?;
    c.one_of(b"Tt", "'T' between date and time")?;
    let hour = c.digits(2, "a 2-digit hour")?;
    c.one_of(b":", "':' after the hour")?;
    let minute = c.digits(2, "a 2-digit minute")?;
    c.one_of(b":", "':' after the minute")?;
    let second = c.digits(2, "a 2-digit second")?;
    let mut nanos: u64 = 0;
    if c.bytes.get(c.pos) == Some(&b'.') {
        c.pos += 1;
        let start = c.pos;
        while let Some(b) = c.bytes.get(c.pos).filter(|b| b.is_ascii_digit()) {
            if c.pos - start < 9 {
                nanos = nanos * 10 + u64::from(b - b'0');
            }
            c.pos += 1;
        }
        let n = c.pos - start;
        if n == 0 {
            return Err(c.fail("fraction digits after '.'"));
        }
        if n < 9 {
            nanos *= 10u64.pow((9 - n) as u32);
        }
    }
    let sign = c.one_of(b"Zz+-", "'Z' or a '+HH:MM'/'-HH:MM' offset")?;
    let mut offset_secs: i64 = 0;
    if sign == b'+' || sign == b'-' {
        let oh = c.digits(2, "a 2-digit offset hour")?;
        c.one_of(b":", "':' in the offset")?;
        let om = c.digits(2, "a 2-digit offset minute")?;
        if oh > 23 || om > 59 {
            return Err(format!(
                "invalid RFC 3339 timestamp {s:?}: offset {oh:02}:{om:02} out of range"
            ));
        }
        offset_secs = i64::from(oh * 3600 + om * 60);
        if sign == b'-' {
            offset_secs = -offset_secs;
        }
    }
    if c.pos != c.bytes.len() {
        return Err(c.fail("end of timestamp"));
    }
    let range = |field: &str, v: u32, max: u32| {
        format!("invalid RFC 3339 timestamp {s:?}: {field} {v:02} out of range (1..={max})")
    };
    if !(1..=12).contains(&month) {
        return Err(range("month", month, 12));
    }
    let year = i64::from(year);
    let dim = days_in_month(year, month);
    if !(1..=dim).contains(&day) {
        return Err(format!(
            "invalid RFC 3339 timestamp {s:?}: day {day:02} out of range for {year:04}-{month:02} (1..={dim})"
        ));
    }
    if hour > 23 {
        return Err(format!(
            "invalid RFC 3339 timestamp {s:?}: hour {hour:02} out of range (0..=23)"
        ));
    }
    if minute > 59 {
        return Err(format!(
            "invalid RFC 3339 timestamp {s:?}: minute {minute:02} out of range (0..=59)"
        ));
    }
    if second > 59 {
        return Err(format!(
            "invalid RFC 3339 timestamp {s:?}: second {second:02} out of range (0..=59)"
        ));
    }
    let secs = i128::from(days_from_civil(year, month, day)) * 86_400
        + i128::from(hour * 3600 + minute * 60 + second)
        - i128::from(offset_secs);
    let total = secs * i128::from(SECOND) + i128::from(nanos);
    if total < 0 {
        return Err(format!(
            "invalid RFC 3339 timestamp {s:?}: before 1970-01-01T00:00:00Z"
        ));
    }
    u64::try_from(total).map_err(|_| {
        format!(
            "invalid RFC 3339 timestamp {s:?}: after {} (the last u64 nanosecond)",
            rfc3339_nano(u64::MAX)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const JAN_1_2026: u64 = 1_767_225_600 * SECOND;

    #[test]
    fn unit_constants() {
        assert_eq!(NANOSECOND, 1);
        assert_eq!(MICROSECOND, 1_000 * NANOSECOND);
        assert_eq!(MILLISECOND, 1_000 * MICROSECOND);
        assert_eq!(SECOND, 1_000 * MILLISECOND);
        assert_eq!(MINUTE, 60_000_000_000);
        assert_eq!(HOUR, 3_600_000_000_000);
    }

    /// Non-negative cases of Go's `parseDurationTests` (src/time/time_test.go).
    #[test]
    fn parse_duration_go_examples() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("5s", 5 * SECOND),
            ("30s", 30 * SECOND),
            ("1478s", 1478 * SECOND),
            ("5.0s", 5 * SECOND),
            ("5.6s", 5 * SECOND + 600 * MILLISECOND),
            ("5.s", 5 * SECOND),
            (".5s", 500 * MILLISECOND),
            ("1.0s", SECOND),
            ("1.00s", SECOND),
            ("1.004s", SECOND + 4 * MILLISECOND),
            ("1.0040s", SECOND + 4 * MILLISECOND),
            ("100.00100s", 100 * SECOND + MILLISECOND),
            ("10ns", 10),
            ("11us", 11 * MICROSECOND),
            ("12\u{b5}s", 12 * MICROSECOND),
            ("12\u{3bc}s", 12 * MICROSECOND),
            ("13ms", 13 * MILLISECOND),
            ("14s", 14 * SECOND),
            ("15m", 15 * MINUTE),
            ("16h", 16 * HOUR),
            ("3h30m", 3 * HOUR + 30 * MINUTE),
            ("10.5s4m", 4 * MINUTE + 10 * SECOND + 500 * MILLISECOND),
            (
                "1h2m3s4ms5us6ns",
                HOUR + 2 * MINUTE + 3 * SECOND + 4 * MILLISECOND + 5 * MICROSECOND + 6,
            ),
            (
                "39h9m14.425s",
                39 * HOUR + 9 * MINUTE + 14 * SECOND + 425 * MILLISECOND,
            ),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 20 * MINUTE),
            ("9007199254740993ns", (1 << 53) + 1),
            ("9223372036854775807ns", (1 << 63) - 1),
            ("9223372036854775.807us", (1 << 63) - 1),
            ("9223372036s854ms775us807ns", (1 << 63) - 1),
            ("0.100000000000000000000h", 6 * MINUTE),
            (
                "0.830103483285477580700h",
                49 * MINUTE + 48 * SECOND + 372_539_827,
            ),
        ];
        for &(input, want) in cases {
            assert_eq!(parse_duration(input), Ok(want), "input {input:?}");
        }
    }

    #[test]
    fn parse_duration_brief_examples() {
        let cases: &[(&str, u64)] = &[
            ("250us", 250 * MICROSECOND),
            ("100ms", 100 * MILLISECOND),
            ("45s", 45 * SECOND),
            ("11m", 11 * MINUTE),
            ("1h30m", HOUR + 30 * MINUTE),
            ("1.5s", 1_500 * MILLISECOND),
            (".5s", 500 * MILLISECOND),
            ("1\u{b5}s", MICROSECOND),
            ("1us", MICROSECOND),
            ("3ns", 3),
            (
                "2h45m30.5s",
                2 * HOUR + 45 * MINUTE + 30 * SECOND + 500 * MILLISECOND,
            ),
            ("1.s", SECOND),
            ("0s", 0),
            ("0.0s", 0),
            ("1.9ns", 1),
            ("0.5ns", 0),
            ("1.0000000001s", SECOND),
        ];
        for &(input, want) in cases {
            assert_eq!(parse_duration(input), Ok(want), "input {input:?}");
        }
    }

    #[test]
    fn parse_duration_accepts_full_u64_range() {
        assert_eq!(parse_duration("18446744073709551615ns"), Ok(u64::MAX));
        assert_eq!(parse_duration("5124095h34m33.709551615s"), Ok(u64::MAX));
    }

    #[test]
    fn parse_duration_refusals() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("5", "missing unit"),
            ("00", "missing unit"),
            ("1.5", "missing unit"),
            ("1s1", "missing unit"),
            ("1x", "unknown unit \"x\""),
            ("1 s", "unknown unit \" s\""),
            ("1S", "unknown unit \"S\""),
            ("1e3s", "unknown unit \"e\""),
            ("-1s", "negative"),
            ("-0", "negative"),
            ("-2m3.4s", "negative"),
            ("+5s", "'+'"),
            ("+0", "'+'"),
            (".s", "needs digits"),
            ("3..5s", "missing unit"),
            ("..5s", "needs digits"),
            ("s", "expected a number"),
            (" 1s", "expected a number"),
            ("1s ", "unknown unit \"s \""),
            ("18446744073709551616ns", "overflows"),
            ("18446744073709551615ns1ns", "overflows"),
            ("5124096h", "overflows"),
            ("99999999999999999999999h", "overflows"),
        ];
        for &(input, needle) in cases {
            let err = parse_duration(input).expect_err(input);
            assert!(err.contains(needle), "{input:?}: {err}");
            assert!(err.contains(&format!("{input:?}")), "{input:?}: {err}");
        }
    }

    #[test]
    fn format_duration_examples() {
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (3, "3ns"),
            (999, "999ns"),
            (1_100, "1.1us"),
            (250 * MICROSECOND, "250us"),
            (2_200 * MICROSECOND, "2.2ms"),
            (100 * MILLISECOND, "100ms"),
            (1_500 * MILLISECOND, "1.5s"),
            (3_300 * MILLISECOND, "3.3s"),
            (90 * SECOND, "1m30s"),
            (4 * MINUTE + 5 * SECOND, "4m5s"),
            (4 * MINUTE + 5_001 * MILLISECOND, "4m5.001s"),
            (HOUR + 30 * MINUTE, "1h30m0s"),
            (5 * HOUR + 6 * MINUTE + 7_001 * MILLISECOND, "5h6m7.001s"),
            (8 * MINUTE + 1, "8m0.000000001s"),
            ((1 << 63) - 1, "2562047h47m16.854775807s"),
            (u64::MAX, "5124095h34m33.709551615s"),
        ];
        for &(d, want) in cases {
            assert_eq!(format_duration(d), want, "d = {d}");
        }
    }

    #[test]
    fn format_short_examples() {
        let cases: &[(u64, &str)] = &[
            (0, "0"),
            (1, "1ns"),
            (850, "850ns"),
            (999, "999ns"),
            (1_000, "1us"),
            (12_500, "12.5us"),
            (12_345, "12.35us"),
            (123_456, "123.5us"),
            (999_949, "999.9us"),
            (999_950, "1ms"),
            (3_200_000, "3.2ms"),
            (1_234_567, "1.235ms"),
            (999_999_999, "1s"),
            (45 * SECOND, "45s"),
            (59_994 * MILLISECOND, "59.99s"),
            (59_995 * MILLISECOND, "1m0s"),
            (11 * MINUTE, "11m0s"),
            (HOUR + 30 * MINUTE, "1h30m0s"),
            (u64::MAX, "5124095h34m33.709551615s"),
        ];
        for &(d, want) in cases {
            assert_eq!(format_short(d), want, "d = {d}");
        }
    }

    #[test]
    fn rfc3339_nano_examples() {
        assert_eq!(rfc3339_nano(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_nano(JAN_1_2026), "2026-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_nano(JAN_1_2026 + 1_500 * MILLISECOND),
            "2026-01-01T00:00:01.5Z"
        );
        assert_eq!(
            rfc3339_nano(JAN_1_2026 - 1),
            "2025-12-31T23:59:59.999999999Z"
        );
        assert_eq!(
            rfc3339_nano(951_782_400 * SECOND + 123_000),
            "2000-02-29T00:00:00.000123Z"
        );
        assert_eq!(rfc3339_nano(u64::MAX), "2554-07-21T23:34:33.709551615Z");
    }

    #[test]
    fn leap_years() {
        assert!(is_leap_year(2024));
        assert!(is_leap_year(2000));
        assert!(!is_leap_year(2100));
        assert!(!is_leap_year(2023));
        let feb29 = parse_rfc3339("2024-02-29T00:00:00Z").unwrap();
        assert_eq!(feb29, 1_709_164_800 * SECOND);
        assert_eq!(rfc3339_nano(feb29), "2024-02-29T00:00:00Z");
        assert_eq!(rfc3339_nano(feb29 + 24 * HOUR), "2024-03-01T00:00:00Z");
        assert!(parse_rfc3339("2000-02-29T00:00:00Z").is_ok());
        let err = parse_rfc3339("2100-02-29T00:00:00Z").unwrap_err();
        assert!(err.contains("day 29 out of range for 2100-02"), "{err}");
        assert!(parse_rfc3339("2023-02-29T00:00:00Z").is_err());
        let feb28_2100 = parse_rfc3339("2100-02-28T12:00:00Z").unwrap();
        assert_eq!(rfc3339_nano(feb28_2100 + 24 * HOUR), "2100-03-01T12:00:00Z");
    }

    #[test]
    fn parse_rfc3339_examples() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00Z"), Ok(JAN_1_2026));
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00+00:00"), Ok(JAN_1_2026));
        assert_eq!(parse_rfc3339("2026-01-01t00:00:00z"), Ok(JAN_1_2026));
        assert_eq!(
            parse_rfc3339("2026-01-01T00:00:01.5Z"),
            Ok(JAN_1_2026 + 1_500 * MILLISECOND)
        );
        assert_eq!(
            parse_rfc3339("2026-01-01T00:00:00.000000001Z"),
            Ok(JAN_1_2026 + 1)
        );
        assert_eq!(
            parse_rfc3339("2026-01-01T00:00:00.1234567899Z"),
            Ok(JAN_1_2026 + 123_456_789)
        );
        assert_eq!(parse_rfc3339("2026-01-01T02:30:00+02:30"), Ok(JAN_1_2026));
        assert_eq!(parse_rfc3339("2025-12-31T19:00:00-05:00"), Ok(JAN_1_2026));
        assert_eq!(
            parse_rfc3339("2554-07-21T23:34:33.709551615Z"),
            Ok(u64::MAX)
        );
    }

    #[test]
    fn parse_rfc3339_refusals() {
        let cases: &[(&str, &str)] = &[
            ("", "4-digit year"),
            ("2026", "'-' after the year"),
            ("26-01-01T00:00:00Z", "4-digit year"),
            ("2026-1-01T00:00:00Z", "2-digit month"),
            ("2026-01-01 00:00:00Z", "'T'"),
            ("2026-01-01T00:00:00", "'Z'"),
            ("2026-01-01T00:00:00.Z", "fraction digits"),
            ("2026-01-01T00:00:00+0100", "':' in the offset"),
            ("2026-01-01T00:00:00Zjunk", "end of timestamp"),
            ("2026-01-01T00:00:00Z\u{e9}", "end of timestamp"),
            ("2026-13-01T00:00:00Z", "month 13"),
            ("2026-00-01T00:00:00Z", "month 00"),
            ("2026-04-31T00:00:00Z", "day 31"),
            ("2026-01-00T00:00:00Z", "day 00"),
            ("2026-01-01T24:00:00Z", "hour 24"),
            ("2026-01-01T00:60:00Z", "minute 60"),
            ("2026-01-01T00:00:60Z", "second 60"),
            ("2026-01-01T00:00:00+24:00", "offset 24:00"),
            ("1969-12-31T23:59:59.999999999Z", "before 1970"),
            ("1970-01-01T00:00:00+00:01", "before 1970"),
            ("2554-07-21T23:34:33.709551616Z", "after 2554-07-21"),
            ("9999-12-31T23:59:59Z", "after"),
        ];
        for &(input, needle) in cases {
            let err = parse_rfc3339(input).expect_err(input);
            assert!(err.contains(needle), "{input:?}: {err}");
        }
    }

    #[test]
    fn civil_days_known_points() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(2026, 1, 1), 20_454);
    }

    proptest! {
        #[test]
        fn prop_parse_format_round_trip(d in any::<u64>()) {
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn prop_parse_format_round_trip_small(d in 0u64..10 * HOUR) {
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn prop_format_short_within_rounding(d in 0u64..MINUTE) {
            let s = format_short(d);
            let parsed = if s == "0" { 0 } else { parse_duration(&s).unwrap() };
            // 4 significant digits: relative error at most 0.05%.
            prop_assert!(parsed.abs_diff(d) * 2000 <= d, "{} -> {} -> {}", d, s, parsed);
        }

        #[test]
        fn prop_parse_duration_never_panics(s in "\\PC{0,24}") {
            let _ = parse_duration(&s);
        }

        #[test]
        fn prop_parse_duration_never_panics_durationish(s in "[-+0-9.a-z\u{b5}\u{3bc} ]{0,24}") {
            let _ = parse_duration(&s);
        }

        #[test]
        fn prop_rfc3339_round_trip(ns in 0u64..(days_from_civil(2200, 1, 1) as u64 * NANOS_PER_DAY)) {
            let text = rfc3339_nano(ns);
            prop_assert_eq!(parse_rfc3339(&text), Ok(ns), "{}", text);
        }

        #[test]
        fn prop_rfc3339_date_round_trip(
            year in 1970i64..2200,
            month in 1u32..=12,
            day in 1u32..=31,
            secs in 0u64..86_400,
            nanos in 0u64..SECOND,
        ) {
            let day = day.min(days_in_month(year, month));
            let ns = days_from_civil(year, month, day) as u64 * NANOS_PER_DAY + secs * SECOND + nanos;
            let text = rfc3339_nano(ns);
            let want = format!("{year:04}-{month:02}-{day:02}T");
            prop_assert!(text.starts_with(&want), "{} vs {}", text, want);
            prop_assert_eq!(parse_rfc3339(&text), Ok(ns));
        }

        #[test]
        fn prop_rfc3339_offsets(ns in HOUR * 24..(days_from_civil(2200, 1, 1) as u64 * NANOS_PER_DAY), oh in 0u64..24, om in 0u64..60, neg in any::<bool>()) {
            let offset = oh * HOUR + om * MINUTE;
            // Render local time = UTC + offset, then parse it back.
            let local = if neg { ns - offset } else { ns + offset };
            let utc_text = rfc3339_nano(local);
            let sign = if neg { '-' } else { '+' };
            let text = format!("{}{sign}{oh:02}:{om:02}", utc_text.trim_end_matches('Z'));
            prop_assert_eq!(parse_rfc3339(&text), Ok(ns), "{}", text);
        }

        #[test]
        fn prop_parse_rfc3339_never_panics(s in "[0-9T:.Zz+-]{0,40}") {
            let _ = parse_rfc3339(&s);
        }
    }
}
