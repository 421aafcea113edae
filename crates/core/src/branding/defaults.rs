//! idpool's default branding style: the document a style's `Settings` are laid over.

use serde_json::Value;

/// idpool's own look as a `Settings` document with every key of Cognito's, in light
/// and dark: the colours and radii of the pages' stylesheet (templates/base.html),
/// header and footer off, and Cognito's default values for the settings Cognito
/// reserves (sessionTimerDisplay, instructions...). A style's settings are laid
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
