//! IAM's wildcards: `*` matches any run of characters (including none), `?` exactly one.
//! Patterns are compiled once, when the policy is parsed; matching never allocates.

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Char(char),
    One,
    Star,
}

/// A compiled wildcard pattern, with fast paths for the two shapes most policies use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Glob {
    /// `*`: everything.
    Any,
    /// No wildcard at all: plain equality.
    Exact(String),
    Pattern(Vec<Tok>),
}

impl Glob {
    /// Compiles `pattern`, where every `*` and `?` is a wildcard.
    pub(crate) fn compile(pattern: &str) -> Glob {
        Glob::from_tokens(tokenize(pattern))
    }

    /// Builds a pattern from tokens (runs of `*` collapse into one).
    pub(crate) fn from_tokens(toks: Vec<Tok>) -> Glob {
        let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
        for t in toks {
            if t == Tok::Star && out.last() == Some(&Tok::Star) {
                continue;
            }
            out.push(t);
        }
        if out == [Tok::Star] {
            return Glob::Any;
        }
        if out.iter().all(|t| matches!(t, Tok::Char(_))) {
            return Glob::Exact(
                out.iter()
                    .map(|t| match t {
                        Tok::Char(c) => *c,
                        _ => unreachable!("checked above"),
                    })
                    .collect(),
            );
        }
        Glob::Pattern(out)
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        match self {
            Glob::Any => true,
            Glob::Exact(s) => s == text,
            Glob::Pattern(toks) => match_tokens(toks, text),
        }
    }
}

/// `*` and `?` as wildcards, every other character literal.
pub(crate) fn tokenize(pattern: &str) -> Vec<Tok> {
    pattern
        .chars()
        .map(|c| match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::Char(c),
        })
        .collect()
}

/// Iterative matcher that backtracks only to the most recent `*`: linear space, and
/// O(pattern × text) time at worst, so a hostile pattern cannot blow up evaluation.
fn match_tokens(toks: &[Tok], text: &str) -> bool {
    let mut pi = 0;
    let mut ti = 0;
    // (token index after the last star, text index that star currently absorbs up to)
    let mut star: Option<(usize, usize)> = None;
    loop {
        let next = text[ti..].chars().next();
        if pi < toks.len() {
            match toks[pi] {
                Tok::Star => {
                    pi += 1;
                    star = Some((pi, ti));
                    continue;
                }
                Tok::One => {
                    if let Some(c) = next {
                        pi += 1;
                        ti += c.len_utf8();
                        continue;
                    }
                }
                Tok::Char(p) => {
                    if let Some(c) = next
                        && c == p
                    {
                        pi += 1;
                        ti += c.len_utf8();
                        continue;
                    }
                }
            }
        } else if next.is_none() {
            return true;
        }
        // Mismatch: let the last star swallow one more character and retry.
        let Some((sp, st)) = star else {
            return false;
        };
        let Some(c) = text[st..].chars().next() else {
            return false;
        };
        let st = st + c.len_utf8();
        star = Some((sp, st));
        pi = sp;
        ti = st;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Glob::compile(p).matches(t)
    }

    #[test]
    fn fast_paths() {
        assert_eq!(Glob::compile("*"), Glob::Any);
        assert_eq!(Glob::compile("**"), Glob::Any);
        assert_eq!(Glob::compile("abc"), Glob::Exact("abc".into()));
        assert!(matches!(Glob::compile("a*"), Glob::Pattern(_)));
    }

    #[test]
    fn stars_and_questions() {
        assert!(m("s3:*", "s3:GetObject"));
        assert!(m("s3:Get*", "s3:Get"));
        assert!(!m("s3:Get*", "s3:Put"));
        assert!(m("*Object", "s3:GetObject"));
        assert!(m("s3:?etObject", "s3:GetObject"));
        assert!(!m("s3:?etObject", "s3:etObject"));
        assert!(m("a*b*c", "aXbYc"));
        assert!(m("a*b*c", "abc"));
        assert!(!m("a*b*c", "acb"));
        assert!(m("a*a*a", "aaaaa"));
        assert!(!m("a*a*a", "aa"));
        assert!(m("*", ""));
        assert!(!m("?", ""));
        assert!(m("?", "é"));
        assert!(m("file?txt", "file.txt"));
        assert!(m("a?c", "a/c") && m("a?c", "a:c") && m("a?c", "a*c"));
        assert!(m("é*ü", "éxxü"));
        assert!(!m("abc", "abcd"));
        assert!(m("mybucket/*", "mybucket/"));
        assert!(!m("mybucket/*", "mybucket"));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let text = "a".repeat(2000);
        let pat = format!("{}b", "a*".repeat(50));
        assert!(!m(&pat, &text));
    }
}
