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

/// Reads one setting as a CSS value, or None if it is not a safe one.
type Convert = fn(&Value) -> Option<String>;

/// Which setting (a path) styles which CSS property of which selector.
const RULES: &[(&str, &str, &str, Convert)] = &[
    (
        "body",
        "background-color",
        "components.pageBackground.lightMode.color",
        color,
    ),
    (
        "body",
        "color",
        "components.pageText.lightMode.bodyColor",
        color,
    ),
    (
        "h1",
        "color",
        "components.pageText.lightMode.headingColor",
        color,
    ),
    (
        "header.page-header",
        "background-color",
        "components.pageHeader.lightMode.background.color",
        color,
    ),
    (
        "header.page-header",
        "border-color",
        "components.pageHeader.lightMode.borderColor",
        color,
    ),
    (
        "footer.page-footer",
        "background-color",
        "components.pageFooter.lightMode.background.color",
        color,
    ),
    (
        "footer.page-footer",
        "border-color",
        "components.pageFooter.lightMode.borderColor",
        color,
    ),
    (
        "main",
        "background-color",
        "components.form.lightMode.backgroundColor",
        color,
    ),
    (
        "main",
        "border-color",
        "components.form.lightMode.borderColor",
        color,
    ),
    (
        "main",
        "border-radius",
        "components.form.borderRadius",
        pixels,
    ),
    (
        "button",
        "background-color",
        "components.primaryButton.lightMode.defaults.backgroundColor",
        color,
    ),
    (
        "button",
        "color",
        "components.primaryButton.lightMode.defaults.textColor",
        color,
    ),
    (
        "button:hover",
        "background-color",
        "components.primaryButton.lightMode.hover.backgroundColor",
        color,
    ),
    (
        "button",
        "border-radius",
        "componentClasses.buttons.borderRadius",
        pixels,
    ),
    (
        "input",
        "background-color",
        "componentClasses.input.lightMode.defaults.backgroundColor",
        color,
    ),
    (
        "input",
        "border-color",
        "componentClasses.input.lightMode.defaults.borderColor",
        color,
    ),
    (
        "input",
        "border-radius",
        "componentClasses.input.borderRadius",
        pixels,
    ),
    (
        "label",
        "color",
        "componentClasses.inputLabel.lightMode.textColor",
        color,
    ),
    (
        "a, button.link",
        "color",
        "componentClasses.link.lightMode.defaults.textColor",
        color,
    ),
    (
        "a:hover",
        "color",
        "componentClasses.link.lightMode.hover.textColor",
        color,
    ),
    (
        "input:focus",
        "border-color",
        "componentClasses.focusState.lightMode.borderColor",
        color,
    ),
    (
        "input:focus",
        "outline-color",
        "componentClasses.focusState.lightMode.borderColor",
        color,
    ),
    (
        ".error",
        "background-color",
        "components.alert.lightMode.error.backgroundColor",
        color,
    ),
    (
        ".error",
        "border-color",
        "components.alert.lightMode.error.borderColor",
        color,
    ),
    (
        ".error",
        "border-radius",
        "components.alert.borderRadius",
        pixels,
    ),
    (
        "a.provider",
        "background-color",
        "components.idpButton.standard.lightMode.defaults.backgroundColor",
        color,
    ),
    (
        "a.provider",
        "border-color",
        "components.idpButton.standard.lightMode.defaults.borderColor",
        color,
    ),
    (
        "a.provider",
        "color",
        "components.idpButton.standard.lightMode.defaults.textColor",
        color,
    ),
    (
        "a.provider:hover",
        "background-color",
        "components.idpButton.standard.lightMode.hover.backgroundColor",
        color,
    ),
    (
        "a.provider:hover",
        "border-color",
        "components.idpButton.standard.lightMode.hover.borderColor",
        color,
    ),
    (
        "a.provider:hover",
        "color",
        "components.idpButton.standard.lightMode.hover.textColor",
        color,
    ),
    (
        "a.provider",
        "border-radius",
        "componentClasses.buttons.borderRadius",
        pixels,
    ),
    (
        "input::placeholder",
        "color",
        "componentClasses.input.lightMode.placeholderColor",
        color,
    ),
    (
        "p.description",
        "color",
        "components.pageText.lightMode.descriptionColor",
        color,
    ),
];

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

/// idpool's own look as a `Settings` document with every key of Cognito's, in light
/// and dark: the colours and radii of the pages' stylesheet (templates/base.html),
/// header and footer off, and Cognito's default values for what the pages do not draw
/// (drop-downs, option controls, status indicators...). A style's settings are laid
/// over it (`merge_settings`), and DescribeManagedLoginBranding's
/// `ReturnMergedResources` returns the result.
pub fn default_settings() -> Value {
    serde_json::json!({
        "categories": {
            "auth": {
                "authMethodOrder": [[
                    {"display": "BUTTON", "type": "FEDERATED"},
                    {"display": "INPUT", "type": "USERNAME_PASSWORD"}
                ]],
                "federation": {"interfaceStyle": "BUTTON_LIST", "order": []}
            },
            "form": {
                "displayGraphics": true,
                "instructions": {"enabled": false},
                "languageSelector": {"enabled": false},
                "location": {"horizontal": "CENTER", "vertical": "CENTER"},
                "sessionTimerDisplay": "NONE"
            },
            "global": {
                "colorSchemeMode": "LIGHT",
                "pageHeader": {"enabled": false},
                "pageFooter": {"enabled": false},
                "spacingDensity": "REGULAR"
            },
            "signUp": {
                "acceptanceElements": [{"enforcement": "NONE", "textKey": "en"}]
            }
        },
        "components": {
            "pageBackground": {
                "image": {"enabled": true},
                "lightMode": {"color": "f4f5f7ff"},
                "darkMode": {"color": "0f141aff"}
            },
            "pageText": {
                "lightMode": {"bodyColor": "16191fff", "headingColor": "16191fff", "descriptionColor": "414d5cff"},
                "darkMode": {"bodyColor": "d1d5dbff", "headingColor": "ffffffff", "descriptionColor": "b6bec9ff"}
            },
            "alert": {
                "borderRadius": 4,
                "lightMode": {"error": {"backgroundColor": "fff1f0ff", "borderColor": "d91515ff"}},
                "darkMode": {"error": {"backgroundColor": "1a0000ff", "borderColor": "eb6f6fff"}}
            },
            "favicon": {"enabledTypes": ["ICO", "SVG"]},
            "idpButton": {
                "custom": {},
                "standard": {
                    "lightMode": {
                        "defaults": {"backgroundColor": "ffffffff", "borderColor": "424650ff", "textColor": "424650ff"},
                        "hover": {"backgroundColor": "f2f8fdff", "borderColor": "033160ff", "textColor": "033160ff"},
                        "active": {"backgroundColor": "d3e7f9ff", "borderColor": "033160ff", "textColor": "033160ff"}
                    },
                    "darkMode": {
                        "defaults": {"backgroundColor": "0f1b2aff", "borderColor": "c6c6cdff", "textColor": "c6c6cdff"},
                        "hover": {"backgroundColor": "192534ff", "borderColor": "89bdeeff", "textColor": "89bdeeff"},
                        "active": {"backgroundColor": "354150ff", "borderColor": "89bdeeff", "textColor": "89bdeeff"}
                    }
                }
            },
            "phoneNumberSelector": {"displayType": "TEXT"},
            "secondaryButton": {
                "lightMode": {
                    "defaults": {"backgroundColor": "ffffffff", "borderColor": "0972d3ff", "textColor": "0972d3ff"},
                    "hover": {"backgroundColor": "f2f8fdff", "borderColor": "033160ff", "textColor": "033160ff"},
                    "active": {"backgroundColor": "d3e7f9ff", "borderColor": "033160ff", "textColor": "033160ff"}
                },
                "darkMode": {
                    "defaults": {"backgroundColor": "0f1b2aff", "borderColor": "539fe5ff", "textColor": "539fe5ff"},
                    "hover": {"backgroundColor": "192534ff", "borderColor": "89bdeeff", "textColor": "89bdeeff"},
                    "active": {"backgroundColor": "354150ff", "borderColor": "89bdeeff", "textColor": "89bdeeff"}
                }
            },
            "pageHeader": {
                "backgroundImage": {"enabled": true},
                "logo": {"enabled": true, "location": "START"},
                "lightMode": {"background": {"color": "ffffffff"}, "borderColor": "d1d5dbff"},
                "darkMode": {"background": {"color": "161d26ff"}, "borderColor": "414d5cff"}
            },
            "pageFooter": {
                "backgroundImage": {"enabled": true},
                "logo": {"enabled": true, "location": "START"},
                "lightMode": {"background": {"color": "ffffffff"}, "borderColor": "d1d5dbff"},
                "darkMode": {"background": {"color": "161d26ff"}, "borderColor": "414d5cff"}
            },
            "form": {
                "borderRadius": 8,
                "backgroundImage": {"enabled": true},
                "logo": {"enabled": true},
                "lightMode": {"backgroundColor": "ffffffff", "borderColor": "ffffffff"},
                "darkMode": {"backgroundColor": "161d26ff", "borderColor": "161d26ff"}
            },
            "primaryButton": {
                "lightMode": {
                    "defaults": {"backgroundColor": "0972d3ff", "textColor": "ffffffff"},
                    "hover": {"backgroundColor": "033160ff", "textColor": "ffffffff"},
                    "active": {"backgroundColor": "033160ff", "textColor": "ffffffff"},
                    "disabled": {"backgroundColor": "ffffffff", "borderColor": "ffffffff"}
                },
                "darkMode": {
                    "defaults": {"backgroundColor": "539fe5ff", "textColor": "000716ff"},
                    "hover": {"backgroundColor": "89bdeeff", "textColor": "000716ff"},
                    "active": {"backgroundColor": "539fe5ff", "textColor": "000716ff"},
                    "disabled": {"backgroundColor": "ffffffff", "borderColor": "ffffffff"}
                }
            }
        },
        "componentClasses": {
            "buttons": {"borderRadius": 4},
            "divider": {
                "lightMode": {"borderColor": "ebebf0ff"},
                "darkMode": {"borderColor": "232b37ff"}
            },
            "dropDown": {
                "borderRadius": 4,
                "lightMode": {
                    "defaults": {"itemBackgroundColor": "ffffffff"},
                    "hover": {"itemBackgroundColor": "f4f4f4ff", "itemBorderColor": "7d8998ff", "itemTextColor": "000716ff"},
                    "match": {"itemBackgroundColor": "414d5cff", "itemTextColor": "0972d3ff"}
                },
                "darkMode": {
                    "defaults": {"itemBackgroundColor": "192534ff"},
                    "hover": {"itemBackgroundColor": "081120ff", "itemBorderColor": "5f6b7aff", "itemTextColor": "e9ebedff"},
                    "match": {"itemBackgroundColor": "d1d5dbff", "itemTextColor": "89bdeeff"}
                }
            },
            "focusState": {
                "lightMode": {"borderColor": "0972d3ff"},
                "darkMode": {"borderColor": "539fe5ff"}
            },
            "idpButtons": {"icons": {"enabled": true}},
            "inputDescription": {
                "lightMode": {"textColor": "5f6b7aff"},
                "darkMode": {"textColor": "8d99a8ff"}
            },
            "optionControls": {
                "lightMode": {
                    "defaults": {"backgroundColor": "ffffffff", "borderColor": "7d8998ff"},
                    "selected": {"backgroundColor": "0972d3ff", "foregroundColor": "ffffffff"}
                },
                "darkMode": {
                    "defaults": {"backgroundColor": "0f1b2aff", "borderColor": "7d8998ff"},
                    "selected": {"backgroundColor": "539fe5ff", "foregroundColor": "000716ff"}
                }
            },
            "statusIndicator": {
                "lightMode": {
                    "error": {"backgroundColor": "fff7f7ff", "borderColor": "d91515ff", "indicatorColor": "d91515ff"},
                    "pending": {"indicatorColor": "aaaaaaaa"},
                    "success": {"backgroundColor": "f2fcf3ff", "borderColor": "037f0cff", "indicatorColor": "037f0cff"},
                    "warning": {"backgroundColor": "fffce9ff", "borderColor": "8d6605ff", "indicatorColor": "8d6605ff"}
                },
                "darkMode": {
                    "error": {"backgroundColor": "1a0000ff", "borderColor": "eb6f6fff", "indicatorColor": "eb6f6fff"},
                    "pending": {"indicatorColor": "aaaaaaaa"},
                    "success": {"backgroundColor": "001a02ff", "borderColor": "29ad32ff", "indicatorColor": "29ad32ff"},
                    "warning": {"backgroundColor": "1d1906ff", "borderColor": "e0ca57ff", "indicatorColor": "e0ca57ff"}
                }
            },
            "input": {
                "borderRadius": 4,
                "lightMode": {"defaults": {"backgroundColor": "ffffffff", "borderColor": "879596ff"}, "placeholderColor": "5f6b7aff"},
                "darkMode": {"defaults": {"backgroundColor": "0f141aff", "borderColor": "8d99a8ff"}, "placeholderColor": "8d99a8ff"}
            },
            "inputLabel": {
                "lightMode": {"textColor": "16191fff"},
                "darkMode": {"textColor": "d1d5dbff"}
            },
            "link": {
                "lightMode": {"defaults": {"textColor": "0972d3ff"}, "hover": {"textColor": "033160ff"}},
                "darkMode": {"defaults": {"textColor": "539fe5ff"}, "hover": {"textColor": "89bdeeff"}}
            }
        }
    })
}

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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_become_css_and_nothing_else_gets_in() {
        let settings = json!({
            "components": {
                "pageBackground": {"lightMode": {"color": "112233ff"}},
                "primaryButton": {"lightMode": {"defaults": {"backgroundColor": "ff0000ff", "textColor": "</style><script>"}}},
                "form": {"borderRadius": 12, "lightMode": {"backgroundColor": "red; } body { display: none"}}
            },
            "componentClasses": {"buttons": {"borderRadius": 1e9}, "link": {"lightMode": {"defaults": {"textColor": "00ff00"}}}}
        });
        let css = settings_css(&settings);
        assert!(css.contains("body { background-color: #112233ff; }"));
        assert!(css.contains("button { background-color: #ff0000ff; }"));
        assert!(css.contains("main { border-radius: 12px; }"));
        assert!(css.contains("a, button.link { color: #00ff00; }"));
        assert!(!css.contains("script") && !css.contains("display") && !css.contains("1000000000"));
    }

    #[test]
    fn assets_become_data_uris_of_the_mode_before_dynamic() {
        let assets = json!([
            {"Category": "FORM_LOGO", "ColorMode": "DYNAMIC", "Extension": "PNG", "Bytes": "AAAA"},
            {"Category": "FORM_LOGO", "ColorMode": "LIGHT", "Extension": "SVG", "Bytes": "PHN2Zz4="},
            {"Category": "PAGE_BACKGROUND", "ColorMode": "LIGHT", "Extension": "JPEG", "Bytes": "a\"b"},
        ]);
        assert_eq!(
            asset_data_uri(&assets, "FORM_LOGO", "LIGHT").as_deref(),
            Some("data:image/svg+xml;base64,PHN2Zz4=")
        );
        assert_eq!(
            asset_data_uri(&assets, "FORM_LOGO", "DARK").as_deref(),
            Some("data:image/png;base64,AAAA")
        );
        assert_eq!(asset_data_uri(&assets, "PAGE_BACKGROUND", "LIGHT"), None);
        assert_eq!(asset_data_uri(&assets, "FAVICON_ICO", "LIGHT"), None);
    }

    #[test]
    fn dynamic_styles_add_dark_rules_and_images_for_browsers_that_prefer_dark() {
        let doc = json!({
            "Settings": {
                "categories": {"global": {"colorSchemeMode": "DYNAMIC", "pageHeader": {"enabled": true}}},
                "components": {
                    "pageBackground": {"lightMode": {"color": "fefefeff"}, "darkMode": {"color": "000000ff"}},
                    "pageHeader": {"logo": {"location": "CENTER"}, "darkMode": {"background": {"color": "111111ff"}}},
                    "form": {"borderRadius": 4}
                }
            },
            "Assets": [
                {"Category": "FORM_LOGO", "ColorMode": "LIGHT", "Extension": "PNG", "Bytes": "TElHSFQ="},
                {"Category": "FORM_LOGO", "ColorMode": "DARK", "Extension": "PNG", "Bytes": "REFSSw=="},
                {"Category": "PAGE_HEADER_LOGO", "ColorMode": "DYNAMIC", "Extension": "SVG", "Bytes": "SA=="},
                {"Category": "FAVICON_ICO", "ColorMode": "DYNAMIC", "Extension": "ICO", "Bytes": "SUNP"}
            ]
        });
        let look = style(&doc);
        let (light, dark) = look
            .css
            .split_once("@media (prefers-color-scheme: dark)")
            .unwrap();
        assert!(light.contains("body { background-color: #fefefeff; }"));
        assert!(light.contains("main { border-radius: 4px; }"));
        assert!(dark.contains("body { background-color: #000000ff; }"));
        assert!(dark.contains("header.page-header { background-color: #111111ff; }"));
        assert!(!dark.contains("border-radius"));
        let logo = look.logo.unwrap();
        assert_eq!(logo.src, "data:image/png;base64,TElHSFQ=");
        assert_eq!(
            logo.dark_src.as_deref(),
            Some("data:image/png;base64,REFSSw==")
        );
        let header = look.header.unwrap();
        assert_eq!(header.logo_align, "center");
        assert_eq!(header.logo.unwrap().src, "data:image/svg+xml;base64,SA==");
        assert_eq!(
            look.favicon.as_deref(),
            Some("data:image/x-icon;base64,SUNP")
        );

        // DARK: only the dark values and images; no header unless enabled.
        let mut dark_doc = doc.clone();
        dark_doc["Settings"]["categories"]["global"] = json!({"colorSchemeMode": "DARK"});
        let look = style(&dark_doc);
        assert!(look.css.contains("body { background-color: #000000ff; }"));
        assert!(!look.css.contains("#fefefeff") && !look.css.contains("@media"));
        // What the style leaves unset in dark comes from idpool's dark defaults.
        assert!(look.css.contains("main { background-color: #161d26ff; }"));
        assert_eq!(look.logo.unwrap().src, "data:image/png;base64,REFSSw==");
        assert!(look.header.is_none());
        // A logo turned off in the settings is not shown.
        dark_doc["Settings"]["components"]["form"]["logo"] = json!({"enabled": false});
        assert!(style(&dark_doc).logo.is_none());
    }

    #[test]
    fn spacing_location_and_the_pictures_of_each_factor() {
        let doc = json!({
            "Settings": {"categories": {
                "global": {"spacingDensity": "COMPACT"},
                "form": {"location": {"horizontal": "END", "vertical": "START"}}
            }},
            "Assets": [
                {"Category": "SMS_GRAPHIC", "ColorMode": "LIGHT", "Extension": "PNG", "Bytes": "U01T"},
                {"Category": "PASSWORD_GRAPHIC", "ColorMode": "DYNAMIC", "Extension": "SVG", "Bytes": "UFc="}
            ]
        });
        let look = style(&doc);
        assert!(
            look.css
                .contains("main { padding: 1.2rem; margin-top: 1.5rem; }")
        );
        assert!(
            look.css
                .contains("main { margin-left: auto; margin-right: 2rem; }")
        );
        assert!(look.css.contains("main { margin-top: 1rem; }"));
        assert_eq!(
            look.graphics["SMS_GRAPHIC"].src,
            "data:image/png;base64,U01T"
        );
        assert_eq!(
            look.graphics["PASSWORD_GRAPHIC"].src,
            "data:image/svg+xml;base64,UFc="
        );
        assert!(!look.graphics.contains_key("EMAIL_GRAPHIC"));
        let icons = style(&json!({"Assets": [
            {"Category": "IDP_BUTTON_ICON", "ColorMode": "LIGHT", "Extension": "PNG", "Bytes": "R08=", "ResourceId": "Google"},
            {"Category": "IDP_BUTTON_ICON", "ColorMode": "LIGHT", "Extension": "SVG", "Bytes": "T0s=", "ResourceId": "Okta"},
            {"Category": "IDP_BUTTON_ICON", "ColorMode": "LIGHT", "Extension": "PNG", "Bytes": "Tk8="}
        ]}));
        assert_eq!(icons.idp_icons.len(), 2);
        assert_eq!(icons.idp_icons["Google"].src, "data:image/png;base64,R08=");
        assert_eq!(
            icons.idp_icons["Okta"].src,
            "data:image/svg+xml;base64,T0s="
        );
        // Providers: Cognito's default is a button each, before the form.
        assert_eq!(icons.federation, Federation::default());
        let federation = style(&json!({"Settings": {"categories": {"auth": {
            "authMethodOrder": [[
                {"display": "INPUT", "type": "USERNAME_PASSWORD"},
                {"display": "BUTTON", "type": "FEDERATED"}
            ]],
            "federation": {"interfaceStyle": "DROPDOWN", "order": ["Okta", "Google"]}
        }}}}))
        .federation;
        assert!(federation.dropdown && federation.after_form);
        assert_eq!(
            federation.arrange(vec!["Corp".into(), "Google".into(), "Okta".into()]),
            ["Okta", "Google", "Corp"]
        );
        // REGULAR spacing and a centred form are the pages' own layout.
        let plain = style(&json!({"Settings": {}}));
        assert!(!plain.css.contains("padding") && !plain.css.contains("margin"));
        let mut off = doc.clone();
        off["Settings"]["categories"]["form"]["displayGraphics"] = json!(false);
        assert!(style(&off).graphics.is_empty());
        // The merged document has every part of Cognito's, drawn or not.
        let merged = merged_settings(&Value::Null);
        for path in [
            "categories.auth.federation.interfaceStyle",
            "categories.form.languageSelector.enabled",
            "categories.signUp.acceptanceElements",
            "componentClasses.statusIndicator.lightMode.success.indicatorColor",
            "componentClasses.dropDown.darkMode.match.itemTextColor",
            "components.secondaryButton.darkMode.hover.textColor",
            "components.idpButton.standard.lightMode.active.borderColor",
            "components.favicon.enabledTypes",
        ] {
            assert!(!at(&merged, path).is_null(), "{path}");
        }
    }

    #[test]
    fn settings_merge_over_defaults_and_footers_show_when_enabled() {
        let stored = json!({
            "categories": {"global": {"pageFooter": {"enabled": true}}},
            "components": {"pageFooter": {"logo": {"location": "END"}, "lightMode": {"borderColor": "123456ff"}}}
        });
        let merged = merged_settings(&stored);
        assert_eq!(
            merged["components"]["pageFooter"]["logo"],
            json!({"enabled": true, "location": "END"})
        );
        assert_eq!(
            merged["components"]["pageFooter"]["lightMode"]["borderColor"],
            "123456ff"
        );
        assert_eq!(
            merged["components"]["pageFooter"]["lightMode"]["background"]["color"],
            "ffffffff"
        );
        assert_eq!(merged["categories"]["global"]["colorSchemeMode"], "LIGHT");
        assert_eq!(merged_settings(&Value::Null), default_settings());
        let look = style(&json!({
            "Settings": stored,
            "Assets": [
                {"Category": "PAGE_FOOTER_LOGO", "ColorMode": "LIGHT", "Extension": "PNG", "Bytes": "Rk9PVA=="},
                {"Category": "FORM_BACKGROUND", "ColorMode": "LIGHT", "Extension": "PNG", "Bytes": "Rk9STQ=="}
            ]
        }));
        let footer = look.footer.unwrap();
        assert_eq!(footer.logo_align, "end");
        assert_eq!(footer.logo.unwrap().src, "data:image/png;base64,Rk9PVA==");
        assert!(look.header.is_none());
        assert!(
            look.css
                .contains("footer.page-footer { border-color: #123456ff; }")
        );
        assert!(
            look.css
                .contains("main { background-image: url(\"data:image/png;base64,Rk9STQ==\")")
        );
    }
}
