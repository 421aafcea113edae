//! The typed values conditions compare: numbers, dates (ISO 8601 or epoch seconds), and
//! IP addresses with CIDR ranges. Each parser returns `None` for text it cannot read;
//! a comparison with such a value is false.

use std::net::IpAddr;

/// A finite number (`NumericEquals` and friends compare integers and decimals alike).
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    // Rust also reads "inf", "NaN" and "infinity": not numbers to IAM.
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A point in time as nanoseconds since the Unix epoch. Accepts what IAM's date
/// operators document: epoch seconds (`1767225600`, optionally with a fraction) and
/// ISO 8601 dates and times: `2026-01-01`, `2026-01-01T00:00Z`, `2026-01-01T00:00:00Z`,
/// `2026-01-01T00:00:00.123Z`, `2026-01-01T01:00:00+01:00` (also `+0100`, `+01`). A time
/// without a zone is UTC.
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    let s = s.trim();
    if let Some(n) = parse_epoch(s) {
        return Some(n);
    }
    let b = s.as_bytes();
    let year = digits(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let mut nanos = i128::from(days) * 86_400 * NANOS;
    if b.len() == 10 {
        return Some(nanos);
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let minute = digits(b, 14, 2)?;
    let mut i = 16;
    let mut second = 0;
    let mut frac: i128 = 0;
    if b.get(i) == Some(&b':') {
        second = digits(b, i + 1, 2)?;
        i += 3;
        if matches!(b.get(i), Some(b'.' | b',')) {
            i += 1;
            let start = i;
            let mut scale = NANOS;
            while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
                if scale > 1 {
                    scale /= 10;
                    frac += i128::from(d - b'0') * scale;
                }
                i += 1;
            }
            if i == start {
                return None;
            }
        }
    }
    // 24:00:00 is the end of the day in ISO 8601; 60 seconds is a leap second.
    if hour > 24
        || minute > 59
        || second > 60
        || (hour == 24 && (minute, second, frac) != (0, 0, 0))
    {
        return None;
    }
    nanos += i128::from(hour * 3600 + minute * 60 + second) * NANOS + frac;
    let offset_secs = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, i + 1, 2)?;
            let rest = &b[i + 3..];
            let om = match rest {
                [] => 0,
                [b':', _, _] => digits(b, i + 4, 2)?,
                [_, _] => digits(b, i + 3, 2)?,
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    Some(nanos - i128::from(offset_secs) * NANOS)
}

const NANOS: i128 = 1_000_000_000;

/// `[-]digits[.digits]`: seconds since the epoch.
fn parse_epoch(s: &str) -> Option<i128> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int.is_empty()
        || int.len() > 15
        || !int.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
        || (body.contains('.') && frac.is_empty())
    {
        return None;
    }
    let mut n = int.parse::<i128>().ok()? * NANOS;
    let mut scale = NANOS;
    for d in frac.bytes() {
        if scale > 1 {
            scale /= 10;
            n += i128::from(d - b'0') * scale;
        }
    }
    Some(if neg { -n } else { n })
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let slice = b.get(at..at + n)?;
    if !slice.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        slice
            .iter()
            .fold(0, |acc, d| acc * 10 + i64::from(d - b'0')),
    )
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An address range: `10.0.0.0/8`, `2001:db8::/32`, or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cidr {
    V4 { net: u32, prefix: u8 },
    V6 { net: u128, prefix: u8 },
}

pub fn parse_cidr(s: &str) -> Option<Cidr> {
    let s = s.trim();
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            (a, Some(p.parse::<u8>().ok()?))
        }
        None => (s, None),
    };
    match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => {
            let prefix = prefix.unwrap_or(32);
            (prefix <= 32).then_some(Cidr::V4 {
                net: u32::from(a),
                prefix,
            })
        }
        IpAddr::V6(a) => {
            let prefix = prefix.unwrap_or(128);
            (prefix <= 128).then_some(Cidr::V6 {
                net: u128::from(a),
                prefix,
            })
        }
    }
}

pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    s.trim().parse().ok()
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (*self, ip) {
            (Cidr::V4 { net, prefix }, IpAddr::V4(a)) => same_prefix32(net, u32::from(a), prefix),
            // An IPv4 client seen through a dual-stack socket arrives as ::ffff:a.b.c.d.
            (Cidr::V4 { net, prefix }, IpAddr::V6(a)) => a
                .to_ipv4_mapped()
                .is_some_and(|v4| same_prefix32(net, u32::from(v4), prefix)),
            (Cidr::V6 { net, prefix }, IpAddr::V6(a)) => {
                let mask = if prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(prefix))
                };
                (net ^ u128::from(a)) & mask == 0
            }
            (Cidr::V6 { .. }, IpAddr::V4(_)) => false,
        }
    }
}

fn same_prefix32(a: u32, b: u32, prefix: u8) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    (a ^ b) & mask == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i128 = NANOS;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("10"), Some(10.0));
        assert_eq!(parse_number("-2.5"), Some(-2.5));
        assert_eq!(parse_number("1e3"), Some(1000.0));
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("ten"), None);
        assert_eq!(parse_number(""), None);
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-01-01T00:00:00Z"), Some(1_767_225_600 * S));
        assert_eq!(parse_date("2026-01-01"), Some(1_767_225_600 * S));
        assert_eq!(parse_date("2026-01-01T00:00Z"), Some(1_767_225_600 * S));
        assert_eq!(parse_date("2026-01-01T00:00:00"), Some(1_767_225_600 * S));
        assert_eq!(parse_date("1767225600"), Some(1_767_225_600 * S));
        assert_eq!(parse_date("1767225600.5"), Some(1_767_225_600 * S + S / 2));
        assert_eq!(
            parse_date("2026-01-01T00:00:00.250Z"),
            Some(1_767_225_600 * S + S / 4)
        );
        assert_eq!(
            parse_date("2026-01-01T01:00:00+01:00"),
            Some(1_767_225_600 * S)
        );
        assert_eq!(
            parse_date("2026-01-01T01:00:00+0100"),
            Some(1_767_225_600 * S)
        );
        assert_eq!(
            parse_date("2025-12-31T23:00:00-01"),
            Some(1_767_225_600 * S)
        );
        assert_eq!(parse_date("2024-02-29T12:00:00Z"), Some(1_709_208_000 * S));
        assert_eq!(parse_date("2000-03-01"), Some(951_868_800 * S));
        assert_eq!(parse_date("1969-12-31T23:59:59Z"), Some(-S));
        assert_eq!(parse_date("2026-01-01T24:00:00Z"), parse_date("2026-01-02"));
    }

    #[test]
    fn bad_dates() {
        for bad in [
            "",
            "tomorrow",
            "2023-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-01-32",
            "2026-1-1",
            "2026-01-01T25:00:00Z",
            "2026-01-01T10:60Z",
            "2026-01-01T10:00:00.Z",
            "2026-01-01T10:00:00ZZ",
            "2026-01-01T10:00:00+1",
            "2026-01-01X10:00",
            "1.",
            "-",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        let c = parse_cidr("203.0.113.0/24").unwrap();
        assert!(c.contains(parse_ip("203.0.113.77").unwrap()));
        assert!(!c.contains(parse_ip("203.0.114.1").unwrap()));
        assert!(c.contains(parse_ip("::ffff:203.0.113.9").unwrap()));
        let single = parse_cidr("10.1.2.3").unwrap();
        assert!(single.contains(parse_ip("10.1.2.3").unwrap()));
        assert!(!single.contains(parse_ip("10.1.2.4").unwrap()));
        let all = parse_cidr("0.0.0.0/0").unwrap();
        assert!(all.contains(parse_ip("8.8.8.8").unwrap()));
        assert!(!all.contains(parse_ip("::1").unwrap()));
        let v6 = parse_cidr("2001:DB8:1234:5678::/64").unwrap();
        assert!(v6.contains(parse_ip("2001:db8:1234:5678::abcd").unwrap()));
        assert!(!v6.contains(parse_ip("2001:db8:1234:5679::1").unwrap()));
        assert!(!v6.contains(parse_ip("10.0.0.1").unwrap()));
        assert!(
            parse_cidr("::/0")
                .unwrap()
                .contains(parse_ip("::1").unwrap())
        );
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/",
            "x",
            "10.0.0.0/-1",
        ] {
            assert_eq!(parse_cidr(bad), None, "{bad}");
        }
    }
}
