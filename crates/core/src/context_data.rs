//! The device context an app reports with a sign-in: `UserContextData.EncodedData` (and
//! `ContextData.EncodedData` of the admin operations), which Cognito's advanced
//! security libraries build on the user's device (the browser script
//! `amazon-cognito-advanced-security-data`, and the iOS and Android SDKs).
//!
//! The encoding those libraries share: base64 of `{"payload", "signature", "version"}`,
//! where `payload` is the JSON text of `{"contextData": {...}, "username",
//! "userPoolId", "timestamp"}` and `signature` is base64 of HMAC-SHA256 keyed with the
//! app client id over `version` followed by `payload`. The key is public, so the
//! signature proves no more than that the data was made for this client; what it gives
//! is what the device says about itself (its time zone, its name), never a reason to
//! trust a sign-in more.

use crate::crypto;
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// The longest encoded context read: the libraries' own are a few kilobytes.
const MAX_ENCODED_LEN: usize = 64 * 1024;

/// What a device reported about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceContext {
    /// `ClientTimezone`, as an offset from UTC (`-08:00`).
    pub timezone: Option<String>,
    /// `DeviceName` (the native SDKs name the device model).
    pub device_name: Option<String>,
    /// `UserAgent` (the browser script reports the browser's).
    pub user_agent: Option<String>,
    /// `DeviceFingerprint`: what tells this device from others, as the library
    /// computes it.
    pub fingerprint: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    payload: String,
    signature: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    #[serde(default)]
    context_data: serde_json::Map<String, serde_json::Value>,
    user_pool_id: Option<String>,
}

/// Why an encoded context was not read. A sign-in never fails for it: Cognito takes
/// context data as advice, and an app that sends a stale or broken library's output
/// must still sign its users in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    Encoding,
    Signature,
    /// Made for another user pool.
    OtherPool,
}

pub fn decode(encoded: &str, client_id: &str, pool_id: &str) -> Result<DeviceContext, Unreadable> {
    if encoded.len() > MAX_ENCODED_LEN {
        return Err(Unreadable::Encoding);
    }
    let raw = crypto::b64_decode(encoded.trim()).ok_or(Unreadable::Encoding)?;
    let envelope: Envelope = serde_json::from_slice(&raw).map_err(|_| Unreadable::Encoding)?;
    let expected = crypto::hmac_sha256(
        client_id.as_bytes(),
        format!("{}{}", envelope.version, envelope.payload).as_bytes(),
    );
    let given = crypto::b64_decode(&envelope.signature).ok_or(Unreadable::Signature)?;
    if !bool::from(expected.ct_eq(&given)) {
        return Err(Unreadable::Signature);
    }
    let payload: Payload =
        serde_json::from_str(&envelope.payload).map_err(|_| Unreadable::Encoding)?;
    if payload
        .user_pool_id
        .as_deref()
        .is_some_and(|p| p != pool_id)
    {
        return Err(Unreadable::OtherPool);
    }
    let text = |key: &str| {
        payload
            .context_data
            .get(key)?
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            // Shown in the event history: a bounded, printable value.
            .map(|s| s.chars().filter(|c| !c.is_control()).take(256).collect())
    };
    Ok(DeviceContext {
        timezone: text("ClientTimezone").filter(|tz: &String| is_utc_offset(tz)),
        device_name: text("DeviceName"),
        user_agent: text("UserAgent"),
        fingerprint: text("DeviceFingerprint"),
    })
}

/// `+hh:mm` / `-hh:mm`, as the libraries write a time zone.
pub fn is_utc_offset(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 6
        && matches!(b[0], b'+' | b'-')
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && b[3] == b':'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
}

/// Encodes a context as the libraries do (tests, and the bench's simulated devices).
pub fn encode(
    context: &serde_json::Value,
    username: &str,
    client_id: &str,
    pool_id: &str,
    timestamp_ms: i64,
    version: &str,
) -> String {
    let payload = serde_json::json!({
        "contextData": context,
        "username": username,
        "userPoolId": pool_id,
        "timestamp": timestamp_ms.to_string(),
    })
    .to_string();
    let signature = crypto::b64(&crypto::hmac_sha256(
        client_id.as_bytes(),
        format!("{version}{payload}").as_bytes(),
    ));
    crypto::b64(
        serde_json::json!({"payload": payload, "signature": signature, "version": version})
            .to_string()
            .as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(client: &str, pool: &str) -> String {
        encode(
            &json!({"ClientTimezone": "-07:00", "DeviceName": "iPhone15,2", "Platform": "iOS"}),
            "alice",
            client,
            pool,
            1_700_000_000_000,
            "IOS20171114",
        )
    }

    #[test]
    fn a_signed_context_is_read() {
        let c = decode(
            &sample("client1", "us-east-1_abc"),
            "client1",
            "us-east-1_abc",
        )
        .unwrap();
        assert_eq!(c.timezone.as_deref(), Some("-07:00"));
        assert_eq!(c.device_name.as_deref(), Some("iPhone15,2"));
        assert_eq!(c.user_agent, None);
    }

    #[test]
    fn another_clients_or_pools_context_is_refused() {
        let encoded = sample("client1", "us-east-1_abc");
        assert_eq!(
            decode(&encoded, "client2", "us-east-1_abc"),
            Err(Unreadable::Signature)
        );
        assert_eq!(
            decode(&encoded, "client1", "us-east-1_other"),
            Err(Unreadable::OtherPool)
        );
        assert_eq!(decode("not base64!", "c", "p"), Err(Unreadable::Encoding));
        assert_eq!(
            decode(&crypto::b64(b"{\"x\":1}"), "c", "p"),
            Err(Unreadable::Encoding)
        );
    }

    #[test]
    fn a_time_zone_must_be_an_offset() {
        let encoded = encode(
            &json!({"ClientTimezone": "<b>"}),
            "u",
            "c",
            "p",
            0,
            "JS20171115",
        );
        assert_eq!(decode(&encoded, "c", "p").unwrap().timezone, None);
        for ok in ["+05:30", "-00:00"] {
            assert!(is_utc_offset(ok), "{ok}");
        }
        for bad in ["05:30", "+5:30", "+05:3x", "+05:300"] {
            assert!(!is_utc_offset(bad), "{bad}");
        }
    }
}
