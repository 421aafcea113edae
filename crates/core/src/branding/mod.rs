//! Managed login branding (CreateManagedLoginBranding) applied to the hosted pages:
//! the parts of a style's `Settings` document that idpool's pages have (page, header,
//! footer, form, buttons, inputs, links, text) become CSS, and its `FORM_LOGO`,
//! `FORM_BACKGROUND`, `PAGE_BACKGROUND`, `PAGE_HEADER_LOGO`, `PAGE_HEADER_BACKGROUND`,
//! `PAGE_FOOTER_LOGO`, `PAGE_FOOTER_BACKGROUND`, favicon and per-factor graphic
//! (`FACTOR_GRAPHICS`) assets become images, and the spacing density and form location
//! become layout rules. What
//! a style leaves unset comes from idpool's own look, `default_settings`, which is
//! also what DescribeManagedLoginBranding's `ReturnMergedResources` fills in. `categories.global.colorSchemeMode` picks the light settings and
//! assets, the dark ones, or (DYNAMIC) both, the dark ones for browsers that prefer
//! dark, as Cognito's managed login follows the browser.
//!
//! The document comes from an admin but ends up inside a page's `<style>`: only
//! colours of hex digits and plain numbers are taken from it, so nothing it says can
//! close the style element or reach outside the properties listed here.

use serde::Serialize;
use serde_json::Value;

/// A colour of the settings document (`rrggbb` or `rrggbbaa`, Cognito writes the
/// latter) as CSS, or None for anything else.
fn color(v: &Value) -> Option<String> {
    let hex = v.as_str()?;
    let ok = matches!(hex.len(), 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| format!("#{hex}"))
}

/// A length in pixels (`borderRadius`), bounded to what a page can use.
fn pixels(v: &Value) -> Option<String> {
    let n = v.as_f64()?;
    (0.0..=100.0).contains(&n).then(|| format!("{n}px"))
}

/// The value at `path` (keys separated by `.`).
fn at<'a>(settings: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(settings, |v, key| &v[key])
}

/// `categories.global.spacingDensity`: how much room the form's fields get.
fn spacing_css(settings: &Value) -> &'static str {
    match at(settings, "categories.global.spacingDensity").as_str() {
        Some("COMPACT") => {
            "main { padding: 1.2rem; margin-top: 1.5rem; }
label { margin: .6rem 0 .2rem; }
button { margin-top: .9rem; }
"
        }
        Some("COMFORTABLE" | "SPACIOUS") => {
            "main { padding: 2.8rem; margin-top: 4rem; }
label { margin: 1.4rem 0 .45rem; }
button { margin-top: 2rem; }
"
        }
        _ => "",
    }
}

/// `categories.form.location`: where the form sits on the page.
fn location_css(settings: &Value) -> String {
    let mut css = String::new();
    match at(settings, "categories.form.location.horizontal").as_str() {
        Some("START") => css.push_str(
            "main { margin-left: 2rem; margin-right: auto; }
",
        ),
        Some("END") => css.push_str(
            "main { margin-left: auto; margin-right: 2rem; }
",
        ),
        _ => {}
    }
    match at(settings, "categories.form.location.vertical").as_str() {
        Some("START") => css.push_str(
            "main { margin-top: 1rem; }
",
        ),
        Some("END") => css.push_str(
            "main { margin-top: 30vh; }
",
        ),
        _ => {}
    }
    css
}

/// The per-factor pictures managed login shows above a sign-in step's form, when
/// `categories.form.displayGraphics` is on.
pub const FACTOR_GRAPHICS: &[&str] = &[
    "PASSWORD_GRAPHIC",
    "PASSKEY_GRAPHIC",
    "EMAIL_GRAPHIC",
    "SMS_GRAPHIC",
    "AUTH_APP_GRAPHIC",
];

mod defaults;
mod rules;
#[cfg(test)]
mod tests;

pub use defaults::default_settings;
use rules::RULES;

/// Lays `over` onto `base`: objects merge key by key, anything else replaces.
pub fn merge_settings(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (key, value) in o {
                match b.get_mut(key) {
                    Some(existing) => merge_settings(existing, value),
                    None => {
                        b.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, over) => *base = over.clone(),
    }
}

/// A style's settings over idpool's defaults.
pub fn merged_settings(settings: &Value) -> Value {
    let mut merged = default_settings();
    if settings.is_object() {
        merge_settings(&mut merged, settings);
    }
    merged
}

/// The colour scheme a style asks for (`categories.global.colorSchemeMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Light,
    Dark,
    /// Light, and dark where the browser prefers it.
    Dynamic,
}

impl Scheme {
    pub fn of(settings: &Value) -> Scheme {
        match at(settings, "categories.global.colorSchemeMode").as_str() {
            Some("DARK") => Scheme::Dark,
            Some("DYNAMIC") => Scheme::Dynamic,
            _ => Scheme::Light,
        }
    }
}

/// The rules for one mode: `darkMode` reads the settings' dark values. With
/// `mode_only`, rules that do not depend on the mode (radii) are left out.
fn rules_css(settings: &Value, dark: bool, mode_only: bool) -> String {
    let mut css = String::new();
    for (selector, property, path, convert) in RULES {
        let moded = path.contains(".lightMode.");
        if mode_only && !moded {
            continue;
        }
        let path = if dark {
            path.replace(".lightMode.", ".darkMode.")
        } else {
            path.to_string()
        };
        if let Some(value) = convert(at(settings, &path)) {
            css.push_str(&format!("{selector} {{ {property}: {value}; }}\n"));
        }
    }
    css
}

/// The CSS a branding style's `Settings` document asks for, in source order after the
/// pages' own rules so it wins over them.
pub fn settings_css(settings: &Value) -> String {
    match Scheme::of(settings) {
        Scheme::Light => rules_css(settings, false, false),
        Scheme::Dark => rules_css(settings, true, false),
        Scheme::Dynamic => format!(
            "{}@media (prefers-color-scheme: dark) {{\n{}}}\n",
            rules_css(settings, false, false),
            rules_css(settings, true, true)
        ),
    }
}

/// The content type of an asset's `Extension`.
fn content_type(extension: &str) -> Option<&'static str> {
    Some(match extension {
        "PNG" => "image/png",
        "JPEG" => "image/jpeg",
        "SVG" => "image/svg+xml",
        "WEBP" => "image/webp",
        "ICO" => "image/x-icon",
        _ => return None,
    })
}

/// An asset's `data:` URI, which the pages' CSP allows for images (an SVG in `<img>`
/// runs no script).
fn data_uri(asset: &Value) -> Option<String> {
    let kind = content_type(asset["Extension"].as_str()?)?;
    let bytes = asset["Bytes"].as_str()?;
    // Base64 only: the URI ends up in an attribute and in CSS.
    let clean = bytes
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    clean.then(|| format!("data:{kind};base64,{bytes}"))
}

/// The asset of `category` for `color_mode` (LIGHT or DARK) pages, else its DYNAMIC
/// (browser-adaptive) one, as a `data:` URI.
pub fn asset_data_uri(assets: &Value, category: &str, color_mode: &str) -> Option<String> {
    let list = assets.as_array()?;
    let pick = |mode: &str| {
        list.iter()
            .find(|a| a["Category"] == category && a["ColorMode"] == mode)
    };
    data_uri(pick(color_mode).or_else(|| pick("DYNAMIC"))?)
}

/// An image of the pages, with the one to show instead where the browser prefers dark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Image {
    pub src: String,
    pub dark_src: Option<String>,
}

impl Image {
    pub fn plain(src: String) -> Image {
        Image {
            src,
            dark_src: None,
        }
    }
}

/// The page header or footer a style turns on (`categories.global.pageHeader.enabled`,
/// `pageFooter.enabled`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    pub logo: Option<Image>,
    /// `start`, `center` or `end` (`components.pageHeader.logo.location`).
    pub logo_align: &'static str,
}

/// Everything a branding style changes on the pages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Look {
    pub css: String,
    pub logo: Option<Image>,
    pub header: Option<Header>,
    pub footer: Option<Header>,
    pub favicon: Option<String>,
    /// The per-factor pictures (`FACTOR_GRAPHICS`) the style has, by category.
    pub graphics: std::collections::BTreeMap<&'static str, Image>,
    /// The icons of identity-provider buttons (`IDP_BUTTON_ICON`), by provider name.
    pub idp_icons: std::collections::BTreeMap<String, Image>,
    /// How the sign-in page offers identity providers.
    pub federation: Federation,
    /// `categories.form.languageSelector.enabled`: the pages end with a language
    /// selector (Cognito reserves the setting; its pages take `lang=` only).
    pub language_selector: bool,
}

/// `categories.auth`: how the sign-in page offers the app client's identity providers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Federation {
    /// `federation.interfaceStyle` DROPDOWN: one list and a button instead of a button
    /// per provider.
    pub dropdown: bool,
    /// `federation.order`: the providers named first, in this order.
    pub order: Vec<String>,
    /// `authMethodOrder` puts the username and password form before the providers.
    pub after_form: bool,
}

impl Federation {
    fn of(settings: &Value) -> Federation {
        let auth = at(settings, "categories.auth");
        let methods: Vec<&str> = auth["authMethodOrder"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|group| group.as_array().into_iter().flatten())
            .filter_map(|method| method["type"].as_str())
            .collect();
        let position = |kind: &str| methods.iter().position(|m| *m == kind);
        Federation {
            dropdown: auth["federation"]["interfaceStyle"] == "DROPDOWN",
            order: auth["federation"]["order"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(String::from))
                .collect(),
            after_form: matches!(
                (position("USERNAME_PASSWORD"), position("FEDERATED")),
                (Some(form), Some(federated)) if form < federated
            ),
        }
    }

    /// The client's providers in the style's order: those it names first, then the
    /// rest as they were.
    pub fn arrange(&self, mut providers: Vec<String>) -> Vec<String> {
        providers.sort_by_key(|p| {
            self.order
                .iter()
                .position(|o| o == p)
                .unwrap_or(self.order.len())
        });
        providers
    }
}

/// The `IDP_BUTTON_ICON` assets, each for the provider its `ResourceId` names, unless
/// `componentClasses.idpButtons.icons.enabled` is off.
fn idp_icons(
    settings: &Value,
    assets: &Value,
    scheme: Scheme,
) -> std::collections::BTreeMap<String, Image> {
    if at(settings, "componentClasses.idpButtons.icons.enabled") == &Value::Bool(false) {
        return Default::default();
    }
    let providers: std::collections::BTreeSet<&str> = assets
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["Category"] == "IDP_BUTTON_ICON")
        .filter_map(|a| a["ResourceId"].as_str())
        .collect();
    providers
        .into_iter()
        .filter_map(|provider| {
            let of_provider: Value = assets
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["Category"] == "IDP_BUTTON_ICON" && a["ResourceId"] == provider)
                .cloned()
                .collect();
            let icon = image(settings, &of_provider, scheme, "IDP_BUTTON_ICON", "")?;
            Some((provider.to_string(), icon))
        })
        .collect()
}

/// The image of `category` for the scheme, unless the setting at `enabled` is false.
fn image(
    settings: &Value,
    assets: &Value,
    scheme: Scheme,
    category: &str,
    enabled: &str,
) -> Option<Image> {
    if at(settings, enabled) == &Value::Bool(false) {
        return None;
    }
    match scheme {
        Scheme::Light => asset_data_uri(assets, category, "LIGHT").map(Image::plain),
        Scheme::Dark => asset_data_uri(assets, category, "DARK").map(Image::plain),
        Scheme::Dynamic => {
            let src = asset_data_uri(assets, category, "LIGHT")?;
            let dark = asset_data_uri(assets, category, "DARK").filter(|d| *d != src);
            Some(Image {
                src,
                dark_src: dark,
            })
        }
    }
}

/// A background image rule, with its dark variant under a media query.
fn background_css(selector: &str, image: &Image) -> String {
    let rule = |uri: &str| {
        format!("{selector} {{ background-image: url(\"{uri}\"); background-size: cover; }}\n")
    };
    let mut css = rule(&image.src);
    if let Some(dark) = &image.dark_src {
        css.push_str(&format!(
            "@media (prefers-color-scheme: dark) {{\n{}}}\n",
            rule(dark)
        ));
    }
    css
}

/// A header or footer (`bar` is `pageHeader` or `pageFooter`) when the style turns
/// it on, its background image added to `css`.
fn bar(
    settings: &Value,
    assets: &Value,
    scheme: Scheme,
    bar: &str,
    css: &mut String,
) -> Option<Header> {
    if at(settings, &format!("categories.global.{bar}.enabled")) != &Value::Bool(true) {
        return None;
    }
    let (element, category) = match bar {
        "pageHeader" => ("header.page-header", "PAGE_HEADER"),
        _ => ("footer.page-footer", "PAGE_FOOTER"),
    };
    if let Some(bg) = image(
        settings,
        assets,
        scheme,
        &format!("{category}_BACKGROUND"),
        &format!("components.{bar}.backgroundImage.enabled"),
    ) {
        css.push_str(&background_css(element, &bg));
    }
    Some(Header {
        logo: image(
            settings,
            assets,
            scheme,
            &format!("{category}_LOGO"),
            &format!("components.{bar}.logo.enabled"),
        ),
        logo_align: match at(settings, &format!("components.{bar}.logo.location")).as_str() {
            Some("CENTER") => "center",
            Some("END") => "end",
            _ => "start",
        },
    })
}

/// The whole look of a branding style: its settings over idpool's defaults.
pub fn style(doc: &Value) -> Look {
    let settings = &merged_settings(&doc["Settings"]);
    let assets = &doc["Assets"];
    let scheme = Scheme::of(settings);
    let mut css = settings_css(settings);
    for (selector, category, enabled) in [
        (
            "body",
            "PAGE_BACKGROUND",
            "components.pageBackground.image.enabled",
        ),
        (
            "main",
            "FORM_BACKGROUND",
            "components.form.backgroundImage.enabled",
        ),
    ] {
        if let Some(bg) = image(settings, assets, scheme, category, enabled) {
            css.push_str(&background_css(selector, &bg));
        }
    }
    css.push_str(spacing_css(settings));
    css.push_str(
        match at(settings, "components.form.logo.location").as_str() {
            Some("START") => "img.logo { margin-left: 0; }\n",
            Some("END") => "img.logo { margin-right: 0; }\n",
            _ => "",
        },
    );
    css.push_str(&location_css(settings));
    let header = bar(settings, assets, scheme, "pageHeader", &mut css);
    let footer = bar(settings, assets, scheme, "pageFooter", &mut css);
    let graphics = FACTOR_GRAPHICS
        .iter()
        .filter_map(|category| {
            let picture = image(
                settings,
                assets,
                scheme,
                category,
                "categories.form.displayGraphics",
            )?;
            Some((*category, picture))
        })
        .collect();
    let mode = if scheme == Scheme::Dark {
        "DARK"
    } else {
        "LIGHT"
    };
    // Browsers take an SVG favicon where they can; the ICO is the fallback Cognito
    // also accepts.
    let favicon = asset_data_uri(assets, "FAVICON_SVG", mode)
        .or_else(|| asset_data_uri(assets, "FAVICON_ICO", mode));
    Look {
        css,
        logo: image(
            settings,
            assets,
            scheme,
            "FORM_LOGO",
            "components.form.logo.enabled",
        ),
        header,
        footer,
        favicon,
        graphics,
        idp_icons: idp_icons(settings, assets, scheme),
        federation: Federation::of(settings),
        language_selector: at(settings, "categories.form.languageSelector.enabled") == true,
    }
}
