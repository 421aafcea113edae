//! Managed login branding (CreateManagedLoginBranding) applied to the hosted pages:
//! the parts of a style's `Settings` document that idpool's pages have (page, form,
//! buttons, inputs, links, text; light mode) become CSS, and its `FORM_LOGO` and
//! `PAGE_BACKGROUND` assets become images.
//!
//! The document comes from an admin but ends up inside a page's `<style>`: only
//! colours of hex digits and plain numbers are taken from it, so nothing it says can
//! close the style element or reach outside the properties listed here.

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
];

/// The CSS a branding style's `Settings` document asks for, in source order after the
/// pages' own rules so it wins over them.
pub fn settings_css(settings: &Value) -> String {
    let mut css = String::new();
    for (selector, property, path, convert) in RULES {
        if let Some(value) = convert(at(settings, path)) {
            css.push_str(&format!("{selector} {{ {property}: {value}; }}\n"));
        }
    }
    css
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

/// The asset of `category` for light pages (LIGHT, else DYNAMIC) as a `data:` URI,
/// which the pages' CSP allows for images (an SVG in `<img>` runs no script).
pub fn asset_data_uri(assets: &Value, category: &str) -> Option<String> {
    let list = assets.as_array()?;
    let pick = |mode: &str| {
        list.iter()
            .find(|a| a["Category"] == category && a["ColorMode"] == mode)
    };
    let asset = pick("LIGHT").or_else(|| pick("DYNAMIC"))?;
    let kind = content_type(asset["Extension"].as_str()?)?;
    let bytes = asset["Bytes"].as_str()?;
    // Base64 only: the URI ends up in an attribute and in CSS.
    let clean = bytes
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    clean.then(|| format!("data:{kind};base64,{bytes}"))
}

/// The whole look of a branding style: its CSS (with the page background image, if
/// any) and its form logo.
pub fn style(doc: &Value) -> (String, Option<String>) {
    let mut css = settings_css(&doc["Settings"]);
    if let Some(uri) = asset_data_uri(&doc["Assets"], "PAGE_BACKGROUND") {
        css.push_str(&format!(
            "body {{ background-image: url(\"{uri}\"); background-size: cover; }}\n"
        ));
    }
    (css, asset_data_uri(&doc["Assets"], "FORM_LOGO"))
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
    fn assets_become_data_uris_light_before_dynamic() {
        let assets = json!([
            {"Category": "FORM_LOGO", "ColorMode": "DYNAMIC", "Extension": "PNG", "Bytes": "AAAA"},
            {"Category": "FORM_LOGO", "ColorMode": "LIGHT", "Extension": "SVG", "Bytes": "PHN2Zz4="},
            {"Category": "PAGE_BACKGROUND", "ColorMode": "LIGHT", "Extension": "JPEG", "Bytes": "a\"b"},
        ]);
        assert_eq!(
            asset_data_uri(&assets, "FORM_LOGO").as_deref(),
            Some("data:image/svg+xml;base64,PHN2Zz4=")
        );
        assert_eq!(asset_data_uri(&assets, "PAGE_BACKGROUND"), None);
        assert_eq!(asset_data_uri(&assets, "FAVICON_ICO"), None);
    }
}
