//! Policy variables (`${aws:username}`, `${key, 'default'}`, and the escapes `${*}`,
//! `${?}`, `${$}`), as IAM substitutes them in Resource and in the values of string, ARN
//! and Bool conditions of `2012-10-17` documents.
//!
//! A value taken from the request is always literal text: an identity id containing `*`
//! must not become a wildcard that widens the policy.

use super::context::RequestContext;
use super::glob::{Glob, Tok, tokenize};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Policy text, where `*` and `?` are wildcards for the operators that have them.
    Text(String),
    /// Text from an escape (`${*}`): never a wildcard.
    Literal(String),
    Var {
        /// Lower-cased: variables name condition keys, which are case-insensitive.
        key: String,
        default: Option<String>,
    },
}

/// A policy string split at its variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Splits `s`; with `variables` false (a `2008-10-17` document) all of it is text.
    pub(crate) fn parse(s: &str, variables: bool) -> Template {
        let mut pieces = Vec::new();
        if !variables {
            pieces.push(Piece::Text(s.to_string()));
            return Template { pieces };
        }
        let mut text = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            text.push_str(&rest[..i]);
            match parse_variable(&rest[i + 2..]) {
                Some((piece, used)) => {
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(piece);
                    rest = &rest[i + 2 + used..];
                }
                None => {
                    // Not a well-formed variable: IAM leaves such text as it is.
                    text.push('$');
                    rest = &rest[i + 1..];
                }
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Template { pieces }
    }

    /// True when some piece depends on the request.
    pub(crate) fn has_variables(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::Var { .. }))
    }

    /// The string with variables substituted; `None` when a variable has no value (and
    /// no default), which makes the value match nothing.
    pub(crate) fn resolve(&self, ctx: Option<&RequestContext>) -> Option<String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) | Piece::Literal(t) => out.push_str(t),
                Piece::Var { key, default } => out.push_str(lookup(ctx, key, default)?),
            }
        }
        Some(out)
    }

    /// Wildcard tokens with variables substituted as literal text.
    pub(crate) fn resolve_tokens(&self, ctx: Option<&RequestContext>) -> Option<Vec<Tok>> {
        let mut out = Vec::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.extend(tokenize(t)),
                Piece::Literal(t) => out.extend(t.chars().map(Tok::Char)),
                Piece::Var { key, default } => {
                    out.extend(lookup(ctx, key, default)?.chars().map(Tok::Char))
                }
            }
        }
        Some(out)
    }

    /// The compiled wildcard pattern, or `None` when a variable has no value.
    pub(crate) fn glob(&self, ctx: Option<&RequestContext>) -> Option<Glob> {
        self.resolve_tokens(ctx).map(Glob::from_tokens)
    }
}

fn lookup<'a>(
    ctx: Option<&'a RequestContext>,
    key: &str,
    default: &'a Option<String>,
) -> Option<&'a str> {
    ctx.and_then(|c| c.variable(key)).or(default.as_deref())
}

/// Parses what follows `${`: `name}` or `name, 'default'}` (a `''` in the default is one
/// quote; whitespace around the name and the default is ignored). Returns the piece and
/// the number of bytes consumed, including the closing brace.
fn parse_variable(s: &str) -> Option<(Piece, usize)> {
    let end_name = s.find([',', '}'])?;
    let name = s[..end_name].trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    let (default, used) = if s[end_name..].starts_with('}') {
        (None, end_name + 1)
    } else {
        let after = &s[end_name + 1..];
        let trimmed = after.trim_start();
        let mut pos = end_name + 1 + (after.len() - trimmed.len());
        let body = trimmed.strip_prefix('\'')?;
        pos += 1;
        let mut value = String::new();
        let mut chars = body.char_indices().peekable();
        let close = loop {
            let (i, c) = chars.next()?;
            if c == '\'' {
                if let Some((_, '\'')) = chars.peek() {
                    chars.next();
                    value.push('\'');
                    continue;
                }
                break i;
            }
            value.push(c);
        };
        pos += close + 1;
        let tail = &s[pos..];
        let tail_trimmed = tail.trim_start();
        pos += tail.len() - tail_trimmed.len();
        if !tail_trimmed.starts_with('}') {
            return None;
        }
        (Some(value), pos + 1)
    };
    let piece = match name {
        "*" | "?" | "$" if default.is_none() => Piece::Literal(name.to_string()),
        _ => Piece::Var {
            key: name.to_lowercase(),
            default,
        },
    };
    Some((piece, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RequestContext {
        RequestContext::new("s3:GetObject", "x")
            .with("aws:username", "alice")
            .with("weird", "a*b")
            .with_values("multi", vec!["one".into()])
    }

    fn res(t: &str) -> Option<String> {
        Template::parse(t, true).resolve(Some(&ctx()))
    }

    #[test]
    fn substitutes_case_insensitively() {
        assert_eq!(
            res("home/${aws:username}/*").as_deref(),
            Some("home/alice/*")
        );
        assert_eq!(res("${AWS:UserName}").as_deref(), Some("alice"));
        assert_eq!(res("${ aws:username }").as_deref(), Some("alice"));
    }

    #[test]
    fn missing_and_multi_valued_have_no_value() {
        assert_eq!(res("${aws:userid}"), None);
        assert_eq!(res("${multi}"), None);
        assert_eq!(res("${multi, 'd'}").as_deref(), Some("d"));
    }

    #[test]
    fn defaults() {
        assert_eq!(res("${aws:userid, 'anon'}").as_deref(), Some("anon"));
        assert_eq!(res("${aws:username, 'anon'}").as_deref(), Some("alice"));
        assert_eq!(res("${x,'it''s'}").as_deref(), Some("it's"));
        assert_eq!(res("${x, ''}").as_deref(), Some(""));
        assert_eq!(res("${x, 'a}b' }").as_deref(), Some("a}b"));
    }

    #[test]
    fn escapes_are_literal() {
        let t = Template::parse("a${*}b${?}c${$}d", true);
        assert!(!t.has_variables());
        assert_eq!(t.resolve(None).as_deref(), Some("a*b?c$d"));
        let g = t.glob(None).unwrap();
        assert!(g.matches("a*b?c$d"));
        assert!(!g.matches("aXb?c$d"));
    }

    #[test]
    fn substituted_values_are_not_wildcards() {
        let g = Template::parse("${weird}", true)
            .glob(Some(&ctx()))
            .unwrap();
        assert!(g.matches("a*b"));
        assert!(!g.matches("aXXb"));
    }

    #[test]
    fn malformed_variables_stay_text() {
        assert_eq!(res("${unclosed").as_deref(), Some("${unclosed"));
        assert_eq!(res("${}").as_deref(), Some("${}"));
        assert_eq!(res("${a b}").as_deref(), Some("${a b}"));
        assert_eq!(res("${x, noquote}").as_deref(), Some("${x, noquote}"));
        assert_eq!(res("$${aws:username}").as_deref(), Some("$alice"));
    }

    #[test]
    fn old_version_has_no_variables() {
        let t = Template::parse("${aws:username}", false);
        assert!(!t.has_variables());
        assert_eq!(t.resolve(Some(&ctx())).as_deref(), Some("${aws:username}"));
    }
}
