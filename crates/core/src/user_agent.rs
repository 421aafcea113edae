//! A device name for the event history (`EventContextData.DeviceName`) and threat
//! protection's emails, from a request's User-Agent: "Chrome 126, Windows 10",
//! "Safari 17.4, iOS 17.4", or the first product of a non-browser client ("Boto3 1.35").
//! Only the well-known browsers and systems are told apart: the name helps a user
//! recognise their own sign-in, it is not a fingerprint.

/// The product tokens `name/version` of a User-Agent, in order.
fn products(ua: &str) -> impl Iterator<Item = (&str, &str)> {
    ua.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ';')
        .filter_map(|token| token.split_once('/'))
        .filter(|(name, version)| !name.is_empty() && !version.is_empty())
}

fn version_of<'a>(ua: &'a str, product: &str) -> Option<&'a str> {
    products(ua)
        .find(|(name, _)| *name == product)
        .map(|(_, version)| version)
}

/// The major version, or major.minor when the minor is not zero.
fn short_version(version: &str) -> String {
    let mut parts = version.split(['.', '_']);
    let major = parts.next().unwrap_or_default();
    match parts.next() {
        Some(minor) if minor != "0" && minor.chars().all(|c| c.is_ascii_digit()) => {
            format!("{major}.{minor}")
        }
        _ => major.to_string(),
    }
}

fn browser(ua: &str) -> Option<String> {
    // Order matters: Edge and Opera also say Chrome, Chrome also says Safari.
    let known = [
        ("Edg", "Edge"),
        ("EdgA", "Edge"),
        ("OPR", "Opera"),
        ("SamsungBrowser", "Samsung Internet"),
        ("Firefox", "Firefox"),
        ("FxiOS", "Firefox"),
        ("CriOS", "Chrome"),
        ("Chrome", "Chrome"),
    ];
    for (product, name) in known {
        if let Some(v) = version_of(ua, product) {
            return Some(format!("{name} {}", short_version(v)));
        }
    }
    if version_of(ua, "Safari").is_some() {
        return Some(match version_of(ua, "Version") {
            Some(v) => format!("Safari {}", short_version(v)),
            None => "Safari".to_string(),
        });
    }
    None
}

fn system(ua: &str) -> Option<String> {
    let after = |marker: &str| {
        ua.find(marker).map(|i| {
            ua[i + marker.len()..]
                .split([';', ')'])
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        })
    };
    if let Some(v) = after("Windows NT ") {
        let name = match v.as_str() {
            "10.0" => "10",
            "6.3" => "8.1",
            "6.2" => "8",
            "6.1" => "7",
            other => other,
        };
        return Some(format!("Windows {name}"));
    }
    for marker in ["iPhone OS ", "CPU OS "] {
        if let Some(v) = after(marker) {
            let v = v.split_whitespace().next().unwrap_or_default();
            return Some(format!("iOS {}", v.replace('_', ".")));
        }
    }
    if let Some(v) = after("Android ") {
        return Some(format!("Android {v}"));
    }
    if let Some(v) = after("Mac OS X ") {
        return Some(format!("macOS {}", v.replace('_', ".")));
    }
    if ua.contains("CrOS") {
        return Some("ChromeOS".to_string());
    }
    if ua.contains("Linux") {
        return Some("Linux".to_string());
    }
    None
}

/// The name of the device a User-Agent describes; None when it says nothing usable.
pub fn device_name(ua: &str) -> Option<String> {
    let ua = ua.trim();
    if ua.is_empty() {
        return None;
    }
    if ua.starts_with("Mozilla/") {
        return match (browser(ua), system(ua)) {
            (Some(b), Some(s)) => Some(format!("{b}, {s}")),
            (Some(b), None) => Some(b),
            (None, Some(s)) => Some(s),
            (None, None) => None,
        };
    }
    // A library or app names itself first: "Boto3/1.35.0 md/Botocore#1.35.0 ...".
    let (name, version) = products(ua).next()?;
    let mut chars = name.chars();
    let first = chars.next()?.to_uppercase().collect::<String>();
    Some(format!(
        "{first}{} {}",
        chars.as_str(),
        short_version(version)
    ))
}

#[cfg(test)]
mod tests {
    use super::device_name;

    #[test]
    fn browsers_and_systems() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
                "Chrome 126, Windows 10",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87",
                "Edge 126, Windows 10",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
                "Safari 17.4, macOS 10.15.7",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
                "Safari 17.4, iOS 17.4",
            ),
            (
                "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
                "Firefox 127, Linux",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36",
                "Chrome 126, Android 14",
            ),
            (
                "Boto3/1.35.10 md/Botocore#1.35.10 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.2",
                "Boto3 1.35",
            ),
            ("aws-sdk-js/3.600.0 ua/2.1 os/linux", "Aws-sdk-js 3.600"),
        ];
        for (ua, name) in cases {
            assert_eq!(device_name(ua).as_deref(), Some(name), "{ua}");
        }
        for nothing in ["", "   ", "curl", "Mozilla/5.0 (compatible)"] {
            assert_eq!(device_name(nothing), None, "{nothing:?}");
        }
    }
}
