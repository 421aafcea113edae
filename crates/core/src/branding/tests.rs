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

#[test]
fn drop_downs_option_controls_and_status_indicators_are_drawn_in_each_mode() {
    let doc = json!({"Settings": {
        "categories": {"global": {"colorSchemeMode": "DYNAMIC"}, "form": {"languageSelector": {"enabled": true}}},
        "componentClasses": {
            "dropDown": {"borderRadius": 6, "lightMode": {"match": {"itemBackgroundColor": "123456ff"}}},
            "optionControls": {"darkMode": {"selected": {"backgroundColor": "abcdefff"}}},
            "statusIndicator": {"lightMode": {"success": {"indicatorColor": "00aa00ff"}}}
        }
    }});
    let look = style(&doc);
    let (light, dark) = look.css.split_once("@media").unwrap();
    assert!(light.contains("select { border-radius: 6px; }"));
    assert!(light.contains("select option:checked { background-color: #123456ff; }"));
    assert!(light.contains(".notice { --indicator: #00aa00ff; }"));
    // Unset values keep the defaults: the light radio's selected colour is idpool's.
    assert!(light.contains("input[type=radio] { --option-selected: #0972d3ff; }"));
    assert!(dark.contains("input[type=radio] { --option-selected: #abcdefff; }"));
    assert!(look.language_selector);
    assert!(!style(&json!({"Settings": {}})).language_selector);
}
