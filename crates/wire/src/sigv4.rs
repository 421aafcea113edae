//! AWS Signature Version 4 verification. AWS publishes signers only; this is the
//! verifier side: rebuild the canonical request from what the client says it signed,
//! derive the signing key from the secret we hold, compare in constant time.
//!
//! Messages are AWS's, word for word, because SDK users search for them.

use aws_lc_rs::{digest, hmac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use subtle::ConstantTimeEq;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// AWS rejects requests whose X-Amz-Date is more than 15 minutes from its clock.
pub const MAX_SKEW_SECONDS: i64 = 15 * 60;

/// Characters SigV4 leaves unencoded: A-Z a-z 0-9 - _ . ~
const SIGV4_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigV4Error {
    /// No Authorization header at all.
    Missing,
    /// A header that is not a well-formed SigV4 authorization.
    Incomplete(String),
    /// Wrong signature, expired or future date.
    Invalid(String),
}

/// What a verifier needs from an HTTP request, already split by the edge.
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// The path as sent (still percent-encoded).
    pub path: &'a str,
    /// The raw query string without '?', or "".
    pub query: &'a str,
    /// Header names lower-cased; repeated headers appear repeatedly.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl RequestParts<'_> {
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Parses `AWS4-HMAC-SHA256 Credential=AKID/20200101/us-east-1/cognito-idp/aws4_request,
/// SignedHeaders=host;x-amz-date, Signature=abcd...`.
pub fn parse_authorization(header: &str) -> Result<Authorization, SigV4Error> {
    let header = header.trim();
    let Some(rest) = header.strip_prefix(ALGORITHM) else {
        return Err(SigV4Error::Incomplete(format!(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={header}"
        )));
    };
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed_headers = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let missing = |what: &str| {
        SigV4Error::Incomplete(format!(
            "Authorization header requires '{what}' parameter. Authorization={header}"
        ))
    };
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed_headers = signed_headers.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 || scope[4] != "aws4_request" {
        return Err(SigV4Error::Incomplete(format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            scope.get(2).unwrap_or(&"")
        )));
    }
    Ok(Authorization {
        access_key_id: scope[0].to_string(),
        date: scope[1].to_string(),
        region: scope[2].to_string(),
        service: scope[3].to_string(),
        signed_headers: signed_headers
            .split(';')
            .map(|s| s.to_ascii_lowercase())
            .collect(),
        signature: signature.to_string(),
    })
}

/// Verifies `auth` against the request with `secret`. `now` is Unix seconds.
pub fn verify(
    req: &RequestParts<'_>,
    auth: &Authorization,
    secret: &str,
    now: i64,
) -> Result<(), SigV4Error> {
    let amz_date = req
        .header_values("x-amz-date")
        .first()
        .map(|s| s.trim().to_string())
        .ok_or_else(|| {
            SigV4Error::Incomplete(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                    .to_string(),
            )
        })?;
    let signed_at = parse_amz_date(&amz_date).ok_or_else(|| {
        SigV4Error::Incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{amz_date}'."
        ))
    })?;
    if signed_at < now - MAX_SKEW_SECONDS {
        return Err(SigV4Error::Invalid(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
            format_amz_date(now - MAX_SKEW_SECONDS),
            format_amz_date(now)
        )));
    }
    if signed_at > now + MAX_SKEW_SECONDS {
        return Err(SigV4Error::Invalid(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
            format_amz_date(now + MAX_SKEW_SECONDS),
            format_amz_date(now)
        )));
    }
    if !amz_date.starts_with(&auth.date) {
        return Err(SigV4Error::Invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
            auth.date,
            &amz_date[..8.min(amz_date.len())]
        )));
    }
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(SigV4Error::Invalid(
            "'Host' must be a 'SignedHeader' in the AWS Authorization.".to_string(),
        ));
    }

    let canonical = canonical_request(req, &auth.signed_headers);
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
    );
    let key = signing_key(secret, &auth.date, &auth.region, &auth.service);
    let expected = hex::encode(hmac::sign(&key, string_to_sign.as_bytes()));
    if bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
        Ok(())
    } else {
        Err(SigV4Error::Invalid(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".to_string(),
        ))
    }
}

/// Signs an outgoing request (idpool calling the Lambda Invoke API): every header of
/// `req` is signed, so it must hold `host` and `x-amz-date`. Returns the Authorization
/// header value. The same canonical request as `verify`, so the two agree by
/// construction and the AWS test-suite vector below pins both.
pub fn sign(
    req: &RequestParts<'_>,
    access_key_id: &str,
    secret: &str,
    region: &str,
    service: &str,
) -> String {
    let amz_date = req
        .header_values("x-amz-date")
        .first()
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let date = &amz_date[..8.min(amz_date.len())];
    let mut signed_headers: Vec<String> = req.headers.iter().map(|(n, _)| n.clone()).collect();
    signed_headers.sort();
    signed_headers.dedup();
    let canonical = canonical_request(req, &signed_headers);
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
    );
    let key = signing_key(secret, date, region, service);
    let signature = hex::encode(hmac::sign(&key, string_to_sign.as_bytes()));
    format!(
        "{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={}, Signature={signature}",
        signed_headers.join(";")
    )
}

pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> hmac::Key {
    let k = |key: &[u8], data: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
    };
    let k_date = k(format!("AWS4{secret}").as_bytes(), date);
    let k_region = k(k_date.as_ref(), region);
    let k_service = k(k_region.as_ref(), service);
    let k_signing = k(k_service.as_ref(), "aws4_request");
    hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref())
}

pub fn canonical_request(req: &RequestParts<'_>, signed_headers: &[String]) -> String {
    let uri = canonical_uri(req.path);
    let query = canonical_query(req.query);
    let mut headers = String::new();
    for name in signed_headers {
        let values: Vec<String> = req
            .header_values(name)
            .iter()
            .map(|v| collapse(v))
            .collect();
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&values.join(","));
        headers.push('\n');
    }
    let payload = req
        .header_values("x-amz-content-sha256")
        .first()
        .map(|s| s.to_string())
        .unwrap_or_else(|| hex::encode(digest::digest(&digest::SHA256, req.body)));
    format!(
        "{}\n{uri}\n{query}\n{headers}\n{}\n{payload}",
        req.method,
        signed_headers.join(";")
    )
}

/// Non-S3 services encode each path segment twice: the client encoded it once to send
/// it, and the canonical form encodes that again.
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    path.split('/')
        .map(|seg| utf8_percent_encode(seg, SIGV4_ENCODE).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_decode_str(&s.replace('+', "%20"))
                    .decode_utf8_lossy()
                    .to_string()
            };
            (
                utf8_percent_encode(&dec(k), SIGV4_ENCODE).to_string(),
                utf8_percent_encode(&dec(v), SIGV4_ENCODE).to_string(),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn collapse(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `20150830T123600Z` -> Unix seconds.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

pub fn format_amz_date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

// Howard Hinnant's civil-date algorithms (public domain), to avoid a date crate here.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The "get-vanilla" case of the AWS SigV4 test suite.
    #[test]
    fn aws_test_suite_get_vanilla() {
        let headers = vec![
            ("host".to_string(), "example.amazonaws.com".to_string()),
            ("x-amz-date".to_string(), "20150830T123600Z".to_string()),
        ];
        let req = RequestParts {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        let auth = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        )
        .unwrap();
        let now = parse_amz_date("20150830T123600Z").unwrap();
        verify(&req, &auth, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", now).unwrap();
        assert_eq!(
            parse_authorization(&sign(
                &req,
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                "us-east-1",
                "service"
            ))
            .unwrap(),
            auth,
            "the signer produces the test suite's signature"
        );
        assert!(matches!(
            verify(&req, &auth, "wrong", now),
            Err(SigV4Error::Invalid(m)) if m.starts_with("The request signature we calculated")
        ));
        assert!(matches!(
            verify(&req, &auth, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", now + 16 * 60),
            Err(SigV4Error::Invalid(m)) if m.starts_with("Signature expired: 20150830T123600Z is now earlier than")
        ));
    }

    #[test]
    fn dates_round_trip() {
        for s in [
            "19700101T000000Z",
            "20150830T123600Z",
            "20261123T235959Z",
            "20000229T120000Z",
        ] {
            assert_eq!(format_amz_date(parse_amz_date(s).unwrap()), s);
        }
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
    }
}
