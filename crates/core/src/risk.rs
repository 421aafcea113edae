//! Threat protection's judgements, free of storage: how risky a sign-in looks next to
//! the user's history (adaptive authentication) and whether a password is known from
//! breaches (compromised-credentials detection).
//!
//! Cognito scores risk with a model it does not publish, from the device, the IP
//! address and the place of a sign-in compared with the user's earlier ones. idpool
//! scores from what it can see and explain, in this order:
//! * no earlier trusted sign-in (a new user), a confirmed device of the user, or an IP
//!   address the user signed in from before: no risk;
//! * three or more failed sign-ins from this address in the last 24 hours (someone who
//!   guessed their way in), or a network the user marked as not them: high;
//! * a new address in a network (IPv4 /24, IPv6 /48) the user signed in from before,
//!   or (with a GeoIP database) in a city they signed in from before: low;
//! * any other new address: medium.
//!
//! "Trusted" sign-ins are the passed ones the user did not disown through feedback
//! (`Invalid`), plus any the user or an administrator confirmed (`Valid`).

use crate::crypto;
use serde_json::Value;
use std::net::IpAddr;
use std::path::Path;

/// Cognito's `RiskLevelType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RiskLevel {
    Low,
    Medium,
    High,
}

impl RiskLevel {
    pub fn name(self) -> &'static str {
        match self {
            RiskLevel::Low => "Low",
            RiskLevel::Medium => "Medium",
            RiskLevel::High => "High",
        }
    }
}

/// Failed sign-ins from one address within a day that make a later success there high
/// risk: more than a typo or two.
const FAILURES_FOR_HIGH_RISK: usize = 3;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// One earlier event of the user, as threat protection reads it from the stored
/// `AuthEventType` document.
#[derive(Debug, Clone, Copy)]
pub struct PastEvent<'a> {
    pub doc: &'a Value,
    pub created_at: i64,
}

impl PastEvent<'_> {
    fn ip(&self) -> Option<IpAddr> {
        self.doc["EventContextData"]["IpAddress"]
            .as_str()
            .and_then(|s| s.parse().ok())
    }

    fn place(&self) -> Option<Place<'_>> {
        let data = &self.doc["EventContextData"];
        Some(Place {
            city: data["City"].as_str()?,
            country: data["Country"].as_str()?,
        })
    }

    fn is_sign_in(&self) -> bool {
        self.doc["EventType"] == "SignIn"
    }

    fn feedback(&self) -> Option<&str> {
        self.doc["EventFeedback"]["FeedbackValue"].as_str()
    }

    /// The keyed hash of the device fingerprint the event's device reported.
    fn device(&self) -> Option<&str> {
        self.doc[DEVICE_KEY].as_str()
    }

    fn trusted(&self) -> bool {
        self.is_sign_in()
            && match self.feedback() {
                Some("Valid") => true,
                Some("Invalid") => false,
                _ => self.doc["EventResponse"] == "Pass",
            }
    }
}

/// The event document's field that keeps the keyed hash of the device's reported
/// fingerprint (`EncodedData`'s `DeviceFingerprint`). Not part of Cognito's event:
/// AdminListUserAuthEvents and log export leave it out, and it is a hash so that the
/// history holds no fingerprint.
pub const DEVICE_KEY: &str = "idpoolDeviceHash";

/// A sign-in being assessed: where it comes from and from what.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attempt<'a> {
    /// None when unknown: nothing to compare, so no risk.
    pub ip: Option<IpAddr>,
    /// Where the address is, when known.
    pub place: Option<Place<'a>>,
    /// The request named one of the user's confirmed devices.
    pub known_device: bool,
    /// The hash of the fingerprint the device reported, if it did.
    pub device: Option<&'a str>,
}

/// Where an address is, as a GeoIP database names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    pub city: &'a str,
    pub country: &'a str,
}

/// The network an address belongs to for "same place" comparisons.
fn same_network(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.octets()[..3] == b.octets()[..3],
        (IpAddr::V6(a), IpAddr::V6(b)) => a.segments()[..3] == b.segments()[..3],
        _ => false,
    }
}

/// The risk of a sign-in whose first factor was just proven.
///
/// A device that reported the fingerprint of one the user signed in from before makes
/// a new network low risk, not riskless: the fingerprint is what the device says of
/// itself, signed with a key anyone can read (the app client id), so it may be copied.
pub fn assess_sign_in(
    history: &[PastEvent<'_>],
    attempt: &Attempt<'_>,
    now: i64,
) -> Option<RiskLevel> {
    let Attempt {
        ip,
        place,
        known_device,
        device,
    } = *attempt;
    let trusted: Vec<IpAddr> = history
        .iter()
        .filter(|e| e.trusted())
        .filter_map(PastEvent::ip)
        .collect();
    let ip = ip?;
    if trusted.is_empty() || known_device || trusted.contains(&ip) {
        return None;
    }
    let recent_failures = history
        .iter()
        .filter(|e| e.is_sign_in() && e.doc["EventResponse"] == "Fail")
        .filter(|e| e.created_at > now - DAY_MS && e.ip() == Some(ip))
        .count();
    let disowned_network = history
        .iter()
        .filter(|e| e.is_sign_in() && e.feedback() == Some("Invalid"))
        .filter_map(PastEvent::ip)
        .any(|other| same_network(other, ip));
    if recent_failures >= FAILURES_FOR_HIGH_RISK || disowned_network {
        Some(RiskLevel::High)
    } else if trusted.iter().any(|t| same_network(*t, ip))
        || place.is_some_and(|here| {
            history
                .iter()
                .filter(|e| e.trusted())
                .any(|e| e.place() == Some(here))
        })
        || device.is_some_and(|here| {
            history
                .iter()
                .filter(|e| e.trusted())
                .any(|e| e.device() == Some(here))
        })
    {
        Some(RiskLevel::Low)
    } else {
        Some(RiskLevel::Medium)
    }
}

/// Passwords found in every public breach corpus near the top. They are refused even
/// without a breach list file, so compromised-credentials detection does something out
/// of the box; production deployments add the full list with `--breached-passwords`.
const WELL_KNOWN_BREACHED: &[&str] = &[
    "123456",
    "12345678",
    "123456789",
    "1234567890",
    "password",
    "password1",
    "password123",
    "qwerty",
    "qwerty123",
    "qwertyuiop",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "abc123",
    "iloveyou",
    "admin123",
    "welcome",
    "welcome1",
    "letmein",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "sunshine",
    "princess",
    "Password",
    "Password1",
    "Password1!",
    "Password12",
    "Password123",
    "Password123!",
    "Password@123",
    "P@ssw0rd",
    "P@ssw0rd1",
    "P@ssw0rd!",
    "P@ssw0rd123",
    "P@ssword1",
    "P@ssword123",
    "Passw0rd",
    "Passw0rd!",
    "Passw0rd1",
    "Welcome1",
    "Welcome1!",
    "Welcome123",
    "Welcome@123",
    "Qwerty123",
    "Qwerty123!",
    "Qwerty@123",
    "Admin@123",
    "Abc@1234",
    "Abcd@1234",
    "Test@123",
    "Test1234!",
    "Summer2024!",
    "Winter2024!",
    "Changeme1!",
    "Letmein1!",
];

/// The SHA-1 of a password in upper-case hex: the key of the Pwned Passwords lists.
fn sha1_hex_upper(password: &str) -> String {
    hex::encode_upper(crypto::sha1_for_breach_lists(password.as_bytes()))
}

/// Whether `password` is known to be breached: in the built-in list, or in `list`, a
/// file in the format of the downloadable Pwned Passwords list "ordered by hash" (one
/// upper- or lower-case SHA-1 per line, sorted, optionally followed by `:count`; CRLF or
/// LF). The file is searched in place, so a list of a billion hashes costs about 30
/// small reads and no memory.
pub fn is_breached(password: &str, list: Option<&Path>) -> std::io::Result<bool> {
    if WELL_KNOWN_BREACHED.contains(&password) {
        return Ok(true);
    }
    match list {
        Some(path) => sorted_file_contains(path, &sha1_hex_upper(password)),
        None => Ok(false),
    }
}

/// Binary search for the line whose hash is `key` in a sorted file of lines.
fn sorted_file_contains(path: &Path, key: &str) -> std::io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    // A line: 40 hex digits, ":" and a count; anything longer is not this format.
    const MAX_LINE: usize = 128;
    let read_at = |pos: u64, buf: &mut [u8]| -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match file.read_at(&mut buf[filled..], pos + filled as u64)? {
                0 => break,
                n => filled += n,
            }
        }
        Ok(filled)
    };
    let malformed = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the breached-password list is not one SHA-1 per line",
        )
    };
    // The first line starting at or after `pos`.
    let line_start = |pos: u64| -> std::io::Result<u64> {
        if pos == 0 {
            return Ok(0);
        }
        let mut buf = [0u8; MAX_LINE + 1];
        let n = read_at(pos - 1, &mut buf)?;
        match buf[..n].iter().position(|b| *b == b'\n') {
            Some(i) => Ok(pos + i as u64),
            // A full buffer without a line end: not this format.
            None if n == buf.len() => Err(malformed()),
            None => Ok(len),
        }
    };
    // Invariant: a line equal to `key`, if any, starts in [lo, hi); lo is a line start.
    let (mut lo, mut hi) = (0u64, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let start = line_start(mid)?;
        if start >= hi {
            hi = mid;
            continue;
        }
        let mut buf = [0u8; MAX_LINE];
        let n = read_at(start, &mut buf)?;
        let end = buf[..n].iter().position(|b| *b == b'\n').unwrap_or(n);
        let line = std::str::from_utf8(&buf[..end]).map_err(|_| malformed())?;
        let hash = line.trim_end_matches('\r');
        let hash = hash.split_once(':').map_or(hash, |(h, _)| h);
        match hash.to_ascii_uppercase().as_str().cmp(key) {
            std::cmp::Ordering::Equal => return Ok(true),
            std::cmp::Ordering::Less => lo = start + end as u64 + 1,
            std::cmp::Ordering::Greater => hi = mid,
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000_000;

    fn event(kind: &str, response: &str, ip: &str, feedback: Option<&str>) -> Value {
        let mut doc = json!({
            "EventType": kind,
            "EventResponse": response,
            "EventContextData": {"IpAddress": ip},
        });
        if let Some(f) = feedback {
            doc["EventFeedback"] = json!({"FeedbackValue": f});
        }
        doc
    }

    /// The events as an hour old.
    fn recent(docs: &[Value]) -> Vec<PastEvent<'_>> {
        docs.iter()
            .map(|doc| PastEvent {
                doc,
                created_at: NOW - 3600_000,
            })
            .collect()
    }

    fn assess(docs: &[Value], ip: &str, known_device: bool) -> Option<RiskLevel> {
        let history = recent(docs);
        let attempt = Attempt {
            ip: ip.parse().ok(),
            known_device,
            ..Attempt::default()
        };
        assess_sign_in(&history, &attempt, NOW)
    }

    #[test]
    fn familiar_places_and_devices_carry_no_risk() {
        let home = [event("SignIn", "Pass", "203.0.113.7", None)];
        assert_eq!(assess(&[], "198.51.100.1", false), None, "a new user");
        assert_eq!(assess(&home, "203.0.113.7", false), None);
        assert_eq!(assess(&home, "198.51.100.1", true), None, "known device");
        assert_eq!(assess(&home, "not an ip", false), None);
    }

    #[test]
    fn a_known_city_is_low_risk() {
        let mut home = event("SignIn", "Pass", "203.0.113.7", None);
        home["EventContextData"]["City"] = json!("Lyon");
        home["EventContextData"]["Country"] = json!("France");
        let history = [PastEvent {
            doc: &home,
            created_at: NOW - 3600_000,
        }];
        let at = |city, country| {
            let attempt = Attempt {
                ip: "198.51.100.1".parse().ok(),
                place: Some(Place { city, country }),
                ..Attempt::default()
            };
            assess_sign_in(&history, &attempt, NOW)
        };
        assert_eq!(at("Lyon", "France"), Some(RiskLevel::Low));
        assert_eq!(at("Lyon", "United States"), Some(RiskLevel::Medium));
        assert_eq!(at("Paris", "France"), Some(RiskLevel::Medium));
    }

    #[test]
    fn a_device_seen_before_is_low_risk_from_a_new_network() {
        let mut home = event("SignIn", "Pass", "203.0.113.7", None);
        home[DEVICE_KEY] = json!("hash-of-laptop");
        let mut refused = event("SignIn", "Fail", "192.0.2.1", None);
        refused[DEVICE_KEY] = json!("hash-of-stranger");
        let docs = [home, refused];
        let history = recent(&docs);
        let from = |device| {
            let attempt = Attempt {
                ip: "198.51.100.1".parse().ok(),
                device,
                ..Attempt::default()
            };
            assess_sign_in(&history, &attempt, NOW)
        };
        assert_eq!(from(Some("hash-of-laptop")), Some(RiskLevel::Low));
        assert_eq!(from(Some("hash-of-stranger")), Some(RiskLevel::Medium));
        assert_eq!(from(None), Some(RiskLevel::Medium));
    }

    #[test]
    fn new_places_are_low_or_medium() {
        let home = [event("SignIn", "Pass", "203.0.113.7", None)];
        assert_eq!(assess(&home, "203.0.113.99", false), Some(RiskLevel::Low));
        assert_eq!(
            assess(&home, "198.51.100.1", false),
            Some(RiskLevel::Medium)
        );
        let v6 = [event("SignIn", "Pass", "2001:db8:1:2::1", None)];
        assert_eq!(
            assess(&v6, "2001:db8:1:ffff::9", false),
            Some(RiskLevel::Low)
        );
        assert_eq!(assess(&v6, "2001:db8:2::1", false), Some(RiskLevel::Medium));
        // Events other than sign-ins, and failed sign-ins, do not make a place familiar.
        let other = [
            event("SignIn", "Pass", "203.0.113.7", None),
            event("PasswordChange", "Pass", "198.51.100.1", None),
            event("SignIn", "Fail", "192.0.2.1", None),
        ];
        assert_eq!(
            assess(&other, "198.51.100.1", false),
            Some(RiskLevel::Medium)
        );
    }

    #[test]
    fn guessing_and_disowned_networks_are_high() {
        let mut docs = vec![event("SignIn", "Pass", "203.0.113.7", None)];
        for _ in 0..2 {
            docs.push(event("SignIn", "Fail", "198.51.100.1", None));
        }
        assert_eq!(
            assess(&docs, "198.51.100.1", false),
            Some(RiskLevel::Medium)
        );
        docs.push(event("SignIn", "Fail", "198.51.100.1", None));
        assert_eq!(assess(&docs, "198.51.100.1", false), Some(RiskLevel::High));
        // Old failures do not count.
        let history: Vec<PastEvent> = docs
            .iter()
            .map(|doc| PastEvent {
                doc,
                created_at: NOW - 2 * DAY_MS,
            })
            .collect();
        assert_eq!(
            assess_sign_in(
                &history,
                &Attempt {
                    ip: "198.51.100.1".parse().ok(),
                    ..Attempt::default()
                },
                NOW
            ),
            Some(RiskLevel::Medium)
        );
        let disowned = [
            event("SignIn", "Pass", "203.0.113.7", None),
            event("SignIn", "Pass", "198.51.100.1", Some("Invalid")),
        ];
        assert_eq!(
            assess(&disowned, "198.51.100.1", false),
            Some(RiskLevel::High)
        );
        assert_eq!(
            assess(&disowned, "198.51.100.2", false),
            Some(RiskLevel::High)
        );
        let confirmed = [event("SignIn", "Fail", "198.51.100.1", Some("Valid"))];
        assert_eq!(assess(&confirmed, "198.51.100.1", false), None);
    }

    #[test]
    fn breach_lists_are_searched_in_place() {
        let dir = std::env::temp_dir().join(format!("idpool-breach-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pwned.txt");
        let mut hashes: Vec<String> = (0..2000)
            .map(|i| sha1_hex_upper(&format!("leaked-{i}")))
            .collect();
        hashes.sort();
        let text: String = hashes
            .iter()
            .enumerate()
            .map(|(i, h)| format!("{h}:{}\r\n", i + 1))
            .collect();
        std::fs::write(&path, text).unwrap();
        for i in [0, 1, 777, 1998, 1999] {
            assert!(
                is_breached(&format!("leaked-{i}"), Some(&path)).unwrap(),
                "{i}"
            );
        }
        for p in ["leaked-2000", "Correct-Horse-9!", ""] {
            assert!(!is_breached(p, Some(&path)).unwrap(), "{p}");
        }
        // The first and last lines, lower case and without counts.
        let lower: String = hashes.iter().map(|h| h.to_lowercase() + "\n").collect();
        std::fs::write(&path, lower).unwrap();
        for i in [0, 1999, 5] {
            assert!(is_breached(&format!("leaked-{i}"), Some(&path)).unwrap());
        }
        assert!(is_breached("Password1!", None).unwrap());
        assert!(!is_breached("Correct-Horse-9!", None).unwrap());
        std::fs::write(&path, "x".repeat(1000)).unwrap();
        assert!(is_breached("leaked-1", Some(&path)).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
