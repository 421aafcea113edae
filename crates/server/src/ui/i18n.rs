//! The languages of the hosted pages: managed login's twelve (the ones Cognito's
//! `LanguageIdType` names for terms documents), chosen by the `lang` query parameter
//! (Cognito's), OIDC's `ui_locales`, the language a browser chose before (a cookie), or
//! its `Accept-Language`, in that order; English when none of them is one of ours.
//!
//! Each language is one JSON catalogue in `ui/i18n/`, key to text, with the keys of
//! `en.json` (a test keeps them equal). Templates read the catalogue as `t`; messages
//! the API's handlers return in Cognito's English wording are translated where the
//! catalogue has them (`api_*` keys), and shown as they are otherwise.

use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The cookie that keeps a browser's chosen language across the pages of a sign-in.
pub const LANG_COOKIE: &str = "idpool-lang";

struct Language {
    /// The BCP 47 tag of `lang=` and of the page's `<html lang>`.
    code: &'static str,
    /// The key of a terms document's `Links` in this language.
    terms_key: &'static str,
    source: &'static str,
}

const LANGUAGES: &[Language] = &[
    Language {
        code: "en",
        terms_key: "cognito:english",
        source: include_str!("i18n/en.json"),
    },
    Language {
        code: "de",
        terms_key: "cognito:german",
        source: include_str!("i18n/de.json"),
    },
    Language {
        code: "es",
        terms_key: "cognito:spanish",
        source: include_str!("i18n/es.json"),
    },
    Language {
        code: "fr",
        terms_key: "cognito:french",
        source: include_str!("i18n/fr.json"),
    },
    Language {
        code: "id",
        terms_key: "cognito:bahasa-indonesia",
        source: include_str!("i18n/id.json"),
    },
    Language {
        code: "it",
        terms_key: "cognito:italian",
        source: include_str!("i18n/it.json"),
    },
    Language {
        code: "ja",
        terms_key: "cognito:japanese",
        source: include_str!("i18n/ja.json"),
    },
    Language {
        code: "ko",
        terms_key: "cognito:korean",
        source: include_str!("i18n/ko.json"),
    },
    Language {
        code: "nl",
        terms_key: "cognito:dutch",
        source: include_str!("i18n/nl.json"),
    },
    Language {
        code: "pt-BR",
        terms_key: "cognito:portuguese-brazil",
        source: include_str!("i18n/pt-BR.json"),
    },
    Language {
        code: "zh-CN",
        terms_key: "cognito:chinese-simplified",
        source: include_str!("i18n/zh-CN.json"),
    },
    Language {
        code: "zh-TW",
        terms_key: "cognito:chinese-traditional",
        source: include_str!("i18n/zh-TW.json"),
    },
];

/// The catalogues, parsed once. They are compiled in and checked by the tests, so a
/// broken one is a build defect, not a request's problem.
static CATALOGUES: LazyLock<Vec<BTreeMap<String, String>>> = LazyLock::new(|| {
    LANGUAGES
        .iter()
        .map(|l| {
            serde_json::from_str(l.source)
                .unwrap_or_else(|e| panic!("ui/i18n/{}.json: {e}", l.code))
        })
        .collect()
});

/// English text of an API message → its catalogue key.
static API_MESSAGES: LazyLock<BTreeMap<&'static str, &'static str>> = LazyLock::new(|| {
    CATALOGUES[0]
        .iter()
        .filter(|(key, _)| key.starts_with("api_"))
        .map(|(key, text)| (text.as_str(), key.as_str()))
        .collect()
});

/// One of the pages' languages. The default is English, the first of `LANGUAGES`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lang(usize);

impl Lang {
    /// The language a tag names: exactly (any case), or by its primary subtag, so
    /// `de-AT` is German, `pt` and `pt-PT` Brazilian Portuguese, `zh-Hant`/`zh-HK`
    /// traditional Chinese and any other `zh` simplified.
    pub fn parse(tag: &str) -> Option<Lang> {
        let tag = tag.trim().replace('_', "-").to_ascii_lowercase();
        if let Some(i) = LANGUAGES
            .iter()
            .position(|l| l.code.eq_ignore_ascii_case(&tag))
        {
            return Some(Lang(i));
        }
        let mut parts = tag.split('-');
        let primary = parts.next().unwrap_or_default();
        let code = match primary {
            "zh" => {
                let traditional = parts.any(|p| matches!(p, "hant" | "tw" | "hk" | "mo"));
                if traditional { "zh-TW" } else { "zh-CN" }
            }
            "pt" => "pt-BR",
            other => other,
        };
        LANGUAGES.iter().position(|l| l.code == code).map(Lang)
    }

    /// The first of a browser's `Accept-Language` choices we have, by quality.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut choices: Vec<(f32, &str)> = header
            .split(',')
            .filter_map(|item| {
                let mut fields = item.split(';');
                let tag = fields.next()?.trim();
                let q = fields
                    .find_map(|f| f.trim().strip_prefix("q="))
                    .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
                (q > 0.0 && !tag.is_empty() && tag != "*").then_some((q, tag))
            })
            .collect();
        // Stable: equal qualities keep the browser's order.
        choices.sort_by(|a, b| b.0.total_cmp(&a.0));
        choices.into_iter().find_map(|(_, tag)| Lang::parse(tag))
    }

    /// OIDC's `ui_locales`: space-separated tags, most preferred first.
    pub fn from_ui_locales(value: &str) -> Option<Lang> {
        value.split_whitespace().find_map(Lang::parse)
    }

    pub fn all() -> impl Iterator<Item = Lang> {
        (0..LANGUAGES.len()).map(Lang)
    }

    pub fn code(self) -> &'static str {
        LANGUAGES[self.0].code
    }

    pub fn terms_key(self) -> &'static str {
        LANGUAGES[self.0].terms_key
    }

    /// The language's name in itself, for the language selector.
    pub fn name(self) -> &'static str {
        self.text("language_name")
    }

    /// A catalogue text; English where this language lacks the key, and the key itself
    /// where English does too (a template asking for a key that does not exist).
    pub fn text(self, key: &str) -> &'static str {
        CATALOGUES[self.0]
            .get(key)
            .or_else(|| CATALOGUES[0].get(key))
            .map_or("", String::as_str)
    }

    /// A catalogue text with its `{name}` placeholders filled.
    pub fn format(self, key: &str, values: &[(&str, &str)]) -> String {
        values
            .iter()
            .fold(self.text(key).to_string(), |text, (name, value)| {
                text.replace(&format!("{{{name}}}"), value)
            })
    }

    /// An API message in this language when the catalogue knows it (the messages a
    /// user meets on the pages: a wrong password or code, a weak password); any other
    /// message as it came.
    pub fn api_message(self, message: &str) -> String {
        match API_MESSAGES.get(message) {
            Some(key) => self.text(key).to_string(),
            None => message.to_string(),
        }
    }

    /// The whole catalogue.
    pub fn catalogue(self) -> &'static BTreeMap<String, String> {
        &CATALOGUES[self.0]
    }

    /// The catalogue as templates read it (`t`), converted once: every page render
    /// takes a reference-counted clone instead of copying a hundred strings.
    pub fn template_value(self) -> minijinja::Value {
        static VALUES: LazyLock<Vec<minijinja::Value>> = LazyLock::new(|| {
            CATALOGUES
                .iter()
                .map(|c| minijinja::Value::from(minijinja::value::Serde(c)))
                .collect()
        });
        VALUES[self.0].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders(text: &str) -> Vec<&str> {
        text.match_indices('{')
            .filter_map(|(i, _)| Some(&text[i..=i + text[i..].find('}')?]))
            .collect()
    }

    #[test]
    fn every_catalogue_has_the_keys_and_placeholders_of_english() {
        let english = &CATALOGUES[0];
        for lang in Lang::all() {
            let catalogue = lang.catalogue();
            let keys: Vec<_> = catalogue.keys().collect();
            let expected: Vec<_> = english.keys().collect();
            assert_eq!(keys, expected, "{} has other keys than en", lang.code());
            for (key, text) in catalogue {
                assert!(!text.trim().is_empty(), "{}: {key} is empty", lang.code());
                let mut theirs = placeholders(text);
                let mut ours = placeholders(&english[key]);
                theirs.sort();
                ours.sort();
                assert_eq!(theirs, ours, "{}: {key} placeholders", lang.code());
            }
        }
    }

    /// `text` answers "" for a key no catalogue has, so a misspelt key would show an
    /// empty label: every key the templates (`t.key`) and handlers (`.text("key")`,
    /// `.format("key", ...)`) name must be in English's.
    #[test]
    fn every_key_the_pages_use_exists() {
        let templates = [
            include_str!("../../templates/base.html"),
            include_str!("../../templates/login.html"),
            include_str!("../../templates/passkey.html"),
            include_str!("../../templates/challenge.html"),
            include_str!("../../templates/signup.html"),
            include_str!("../../templates/confirm.html"),
            include_str!("../../templates/forgot.html"),
            include_str!("../../templates/reset.html"),
            include_str!("../../templates/error.html"),
        ];
        let handlers = [
            include_str!("mod.rs"),
            include_str!("login.rs"),
            include_str!("signup.rs"),
            include_str!("forgot.rs"),
            include_str!("../oauth/token.rs"),
        ];
        let keys_after = |source: &'static str, opener: &'static str, closer: &'static str| {
            source.match_indices(opener).filter_map(move |(at, _)| {
                let rest = &source[at + opener.len()..];
                let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
                rest[end..].starts_with(closer).then(|| &rest[..end])
            })
        };
        let used: Vec<&str> = templates
            .iter()
            .flat_map(|t| keys_after(t, " t.", " "))
            .chain(
                handlers
                    .iter()
                    .flat_map(|h| keys_after(h, ".text(\"", "\"")),
            )
            .chain(
                handlers
                    .iter()
                    .flat_map(|h| keys_after(h, ".format(\"", "\"")),
            )
            .collect();
        assert!(
            used.len() > 60,
            "only {} keys found: the scan is broken",
            used.len()
        );
        for key in used {
            assert!(CATALOGUES[0].contains_key(key), "{key} is not in en.json");
        }
    }

    #[test]
    fn tags_resolve_to_the_nearest_language() {
        let code = |t: &str| Lang::parse(t).map(Lang::code);
        assert_eq!(code("de"), Some("de"));
        assert_eq!(code("DE-at"), Some("de"));
        assert_eq!(code("pt"), Some("pt-BR"));
        assert_eq!(code("pt_PT"), Some("pt-BR"));
        assert_eq!(code("zh-Hant-HK"), Some("zh-TW"));
        assert_eq!(code("zh-tw"), Some("zh-TW"));
        assert_eq!(code("zh"), Some("zh-CN"));
        assert_eq!(code("sv"), None);
        assert_eq!(code(""), None);
    }

    #[test]
    fn accept_language_is_read_by_quality() {
        let code = |h: &str| Lang::from_accept_language(h).map(Lang::code);
        assert_eq!(code("sv-SE, fr;q=0.4, ja;q=0.8"), Some("ja"));
        assert_eq!(code("sv, *;q=0.5"), None);
        assert_eq!(code("ko;q=0, it"), Some("it"));
        assert_eq!(code("nl;q=bad, es"), Some("es"));
        assert_eq!(
            Lang::from_ui_locales("sv zh-Hant en").map(Lang::code),
            Some("zh-TW")
        );
    }

    #[test]
    fn api_messages_are_translated_and_others_kept() {
        let de = Lang::parse("de").unwrap();
        let en = Lang::default();
        let wrong = "Incorrect username or password.";
        assert_eq!(en.api_message(wrong), wrong);
        assert_ne!(de.api_message(wrong), wrong);
        assert_eq!(de.api_message("Something else."), "Something else.");
        assert_eq!(
            en.format("code_sent_to", &[("destination", "a***@e***")]),
            "We sent a code to a***@e***."
        );
    }
}
