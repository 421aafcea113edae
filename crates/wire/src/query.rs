//! The AWS Query protocol that STS and IAM speak: a form-encoded body
//! (`Action=...&Version=...&Param.member.1=...`) in, XML out. Errors are
//! `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`
//! with the HTTP status the service documents for the code (botocore reads the code
//! from the XML, so both must be right for `ClientError.response["Error"]["Code"]`).

use std::collections::BTreeMap;
use std::fmt::Write;

pub const STS_VERSION: &str = "2011-06-15";
pub const IAM_VERSION: &str = "2010-05-08";
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// The error codes idpool's STS and IAM return, as the services name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryErrorCode {
    // Both services (the Query protocol's own).
    InvalidAction,
    MissingParameter,
    ValidationError,
    MissingAuthenticationToken,
    InvalidClientTokenId,
    SignatureDoesNotMatch,
    IncompleteSignature,
    AccessDenied,
    ExpiredToken,
    MalformedPolicyDocument,
    // STS
    InvalidIdentityToken,
    ExpiredTokenException,
    IdpRejectedClaim,
    PackedPolicyTooLarge,
    // IAM
    NoSuchEntity,
    EntityAlreadyExists,
    DeleteConflict,
    InvalidInput,
    LimitExceeded,
    ServiceFailure,
}

impl QueryErrorCode {
    pub fn name(self) -> &'static str {
        use QueryErrorCode::*;
        match self {
            InvalidAction => "InvalidAction",
            MissingParameter => "MissingParameter",
            ValidationError => "ValidationError",
            MissingAuthenticationToken => "MissingAuthenticationToken",
            InvalidClientTokenId => "InvalidClientTokenId",
            SignatureDoesNotMatch => "SignatureDoesNotMatch",
            IncompleteSignature => "IncompleteSignature",
            AccessDenied => "AccessDenied",
            ExpiredToken => "ExpiredToken",
            MalformedPolicyDocument => "MalformedPolicyDocument",
            InvalidIdentityToken => "InvalidIdentityToken",
            ExpiredTokenException => "ExpiredTokenException",
            IdpRejectedClaim => "IDPRejectedClaim",
            PackedPolicyTooLarge => "PackedPolicyTooLarge",
            NoSuchEntity => "NoSuchEntity",
            EntityAlreadyExists => "EntityAlreadyExists",
            DeleteConflict => "DeleteConflict",
            InvalidInput => "InvalidInput",
            LimitExceeded => "LimitExceeded",
            ServiceFailure => "ServiceFailure",
        }
    }

    pub fn status(self) -> u16 {
        use QueryErrorCode::*;
        match self {
            MissingAuthenticationToken | InvalidClientTokenId | SignatureDoesNotMatch => 403,
            AccessDenied | InvalidIdentityToken | IdpRejectedClaim => 403,
            NoSuchEntity => 404,
            EntityAlreadyExists | DeleteConflict | LimitExceeded => 409,
            ServiceFailure => 500,
            _ => 400,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub code: QueryErrorCode,
    pub message: String,
}

impl QueryError {
    pub fn new(code: QueryErrorCode, message: impl Into<String>) -> Self {
        QueryError {
            code,
            message: message.into(),
        }
    }

    pub fn body(&self, request_id: &str) -> String {
        let kind = if self.code.status() >= 500 {
            "Receiver"
        } else {
            "Sender"
        };
        format!(
            "<ErrorResponse><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            self.code.name(),
            escape(&self.message),
            escape(request_id)
        )
    }
}

/// The parameters of a form-encoded body; a repeated name keeps its last value.
pub fn parse_form(body: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (k, v) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        out.insert(form_decode(k), form_decode(v));
    }
    out
}

fn form_decode(raw: &[u8]) -> String {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_encoding::percent_decode(&plus_as_space)
        .decode_utf8_lossy()
        .into_owned()
}

/// The members of a Query list parameter: `Name.member.1`, `Name.member.2`, ...
pub fn members(params: &BTreeMap<String, String>, name: &str) -> Vec<String> {
    (1..)
        .map_while(|i| params.get(&format!("{name}.member.{i}")).cloned())
        .collect()
}

/// Key/value pairs of a Query list of structures such as `Tags.member.N.Key` /
/// `Tags.member.N.Value`.
pub fn member_pairs(
    params: &BTreeMap<String, String>,
    name: &str,
    key: &str,
    value: &str,
) -> Vec<(String, String)> {
    (1..)
        .map_while(|i| {
            let k = params.get(&format!("{name}.member.{i}.{key}"))?;
            let v = params
                .get(&format!("{name}.member.{i}.{value}"))
                .cloned()
                .unwrap_or_default();
            Some((k.clone(), v))
        })
        .collect()
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 has no way to write NUL and most other control characters, even
            // escaped: an answer echoing one would be ill-formed and unreadable to every
            // SDK, so it carries the replacement character instead.
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || matches!(c, '\u{fffe}' | '\u{ffff}') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A small XML writer for Query responses: elements are opened and closed in order,
/// text is escaped.
#[derive(Default)]
pub struct Xml {
    out: String,
}

impl Xml {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn open(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.out, "<{name}>");
        self
    }
    pub fn close(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.out, "</{name}>");
        self
    }
    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        let _ = write!(self.out, "<{name}>{}</{name}>", escape(value));
        self
    }
    /// An element only when there is a value.
    pub fn opt(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.text(name, v);
        }
        self
    }
    pub fn finish(self) -> String {
        self.out
    }
}

/// `2026-12-04T13:05:39Z`, the timestamp form of Query responses.
pub fn iso8601(unix_s: i64) -> String {
    let (y, m, d) = crate::sigv4::civil_from_days(unix_s.div_euclid(86_400));
    let secs = unix_s.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The whole response document: `<{Action}Response xmlns=...><{Action}Result>...`.
pub fn response(action: &str, namespace: &str, result: &str, request_id: &str) -> String {
    format!(
        "<{action}Response xmlns=\"{namespace}\"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        escape(request_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding_handles_plus_percent_and_lists() {
        let p = parse_form(
            b"Action=CreateRole&AssumeRolePolicyDocument=%7B%22a%22%3A+1%7D&Tags.member.1.Key=k&Tags.member.1.Value=v&X.member.1=a&X.member.2=b",
        );
        assert_eq!(p["Action"], "CreateRole");
        assert_eq!(p["AssumeRolePolicyDocument"], "{\"a\": 1}");
        assert_eq!(members(&p, "X"), vec!["a", "b"]);
        assert_eq!(
            member_pairs(&p, "Tags", "Key", "Value"),
            vec![("k".to_string(), "v".to_string())]
        );
    }

    #[test]
    fn timestamps_are_iso8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_796_389_539), "2026-12-04T13:05:39Z");
    }

    #[test]
    fn errors_escape_their_message_and_carry_the_documented_status() {
        let e = QueryError::new(QueryErrorCode::NoSuchEntity, "Role <x> & y");
        assert!(
            e.body("r1")
                .contains("<Code>NoSuchEntity</Code><Message>Role &lt;x&gt; &amp; y</Message>")
        );
        assert_eq!(e.code.status(), 404);
        assert_eq!(QueryErrorCode::IdpRejectedClaim.name(), "IDPRejectedClaim");
    }

    #[test]
    fn text_xml_cannot_carry_becomes_the_replacement_character() {
        assert_eq!(escape("a\u{0}b\u{1b}c"), "a\u{fffd}b\u{fffd}c");
        assert_eq!(escape("tab\tline\nret\r"), "tab\tline\nret\r");
        assert_eq!(escape("\u{ffff}é"), "\u{fffd}é");
    }
}
