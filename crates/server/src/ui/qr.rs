//! QR codes for the authenticator set-up page: an SVG image in a data URI, so the page
//! stays script-free and the key never leaves idpool's response.

use idpool_core::crypto;
use qrcodegen::{QrCode, QrCodeEcc};

/// A `data:image/svg+xml` URI showing `text` as a QR code, or None if it is too long
/// for one.
pub fn svg_data_uri(text: &str) -> Option<String> {
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    // The quiet zone scanners need around the symbol.
    let border = 4;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let dim = qr.size() + 2 * border;
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dim} {dim}\" shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    );
    Some(format!(
        "data:image/svg+xml;base64,{}",
        crypto::b64(svg.as_bytes())
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn otpauth_uris_fit() {
        let uri = super::svg_data_uri(
            "otpauth://totp/pool:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=pool",
        )
        .unwrap();
        assert!(uri.starts_with("data:image/svg+xml;base64,"));
        assert!(super::svg_data_uri(&"x".repeat(5000)).is_none());
    }
}
