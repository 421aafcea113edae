//! Exclusive XML Canonicalization 1.0, without comments
//! (<http://www.w3.org/2001/10/xml-exc-c14n#>), of one element's subtree: the form whose
//! bytes an XML signature's digest and signature cover. It is the one canonicalization
//! SAML identity providers use (ADFS, Okta, Entra ID, Shibboleth, Keycloak).
//!
//! Rules implemented (W3C exc-c14n §3, C14N 1.0 §2):
//! - a namespace declaration is written on the first element of the output that
//!   *visibly uses* its prefix (the element's own prefix, its attributes' prefixes, and
//!   the prefixes of an `InclusiveNamespaces PrefixList`), unless an output ancestor
//!   already wrote the same binding; the default namespace is undeclared (`xmlns=""`)
//!   only when an output ancestor declared a non-empty one;
//! - declarations are sorted by prefix (default first), attributes by namespace URI
//!   then local name, unqualified attributes first;
//! - empty elements are written as start and end tags, text and attribute values are
//!   escaped as the specification says, comments are dropped, processing instructions
//!   kept;
//! - `exclude` removes one element and its subtree (the enveloped-signature transform).
//!
//! The document comes from roxmltree, which has already normalized line ends and
//! attribute whitespace and expanded character references, as C14N's data model asks.

use roxmltree::{Node, NodeId, NodeType};
use std::collections::BTreeMap;

/// Prefix → namespace URI already declared by an output ancestor; `""` is the default
/// namespace.
type Rendered = BTreeMap<String, String>;

/// The canonical form of `element` and its subtree, without the subtree of `exclude`.
/// `inclusive_prefixes` is the transform's `PrefixList` (`#default` names the default
/// namespace).
pub fn canonicalize(
    element: Node,
    exclude: Option<NodeId>,
    inclusive_prefixes: &[String],
) -> String {
    let mut out = String::new();
    write_element(
        &mut out,
        element,
        &Rendered::new(),
        exclude,
        inclusive_prefixes,
    );
    out
}

/// The element's name as written in the document (with its prefix): roxmltree resolves
/// names to URIs, but canonical output keeps the author's prefixes.
fn source_qname<'a>(node: Node<'a, '_>) -> &'a str {
    let text = node.document().input_text();
    let rest = &text[node.range().start + 1..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(rest.len());
    &rest[..end]
}

fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map_or("", |(p, _)| p)
}

/// The URI the prefix (`""`: default) is bound to at `node`, `""` if unbound.
fn in_scope(node: Node, prefix: &str) -> String {
    if prefix.is_empty() {
        return node.default_namespace().unwrap_or_default().to_string();
    }
    node.namespaces()
        .find(|ns| ns.name() == Some(prefix))
        .map(|ns| ns.uri().to_string())
        .unwrap_or_default()
}

fn write_element(
    out: &mut String,
    node: Node,
    rendered: &Rendered,
    exclude: Option<NodeId>,
    inclusive_prefixes: &[String],
) {
    let text = node.document().input_text();
    let qname = source_qname(node);
    let attributes: Vec<(&str, &str, &str, &str)> = node
        .attributes()
        .map(|a| {
            (
                a.namespace().unwrap_or_default(),
                a.name(),
                &text[a.range_qname()],
                a.value(),
            )
        })
        .collect();

    let mut utilized: Vec<String> = vec![prefix_of(qname).to_string()];
    for (_, _, attr_qname, _) in &attributes {
        let p = prefix_of(attr_qname);
        // Unprefixed attributes are in no namespace: they do not use the default one.
        if !p.is_empty() && p != "xml" {
            utilized.push(p.to_string());
        }
    }
    for p in inclusive_prefixes {
        let p = if p == "#default" { "" } else { p.as_str() };
        // A listed prefix is written like inclusive C14N writes it: when in scope.
        if p.is_empty() || node.namespaces().any(|ns| ns.name() == Some(p)) {
            utilized.push(p.to_string());
        }
    }
    utilized.sort();
    utilized.dedup();

    let mut now_rendered = rendered.clone();
    let mut declarations = Vec::new();
    for prefix in utilized {
        let uri = in_scope(node, &prefix);
        let before = rendered.get(&prefix).map(String::as_str).unwrap_or("");
        if prefix.is_empty() && uri.is_empty() && before.is_empty() {
            continue;
        }
        if rendered.get(&prefix) != Some(&uri) {
            if !prefix.is_empty() && uri.is_empty() {
                continue; // an unbound prefix: nothing to declare
            }
            declarations.push((prefix.clone(), uri.clone()));
            now_rendered.insert(prefix, uri);
        }
    }

    let mut attributes = attributes;
    attributes.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

    out.push('<');
    out.push_str(qname);
    for (prefix, uri) in &declarations {
        if prefix.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(prefix);
            out.push_str("=\"");
        }
        escape_attribute(out, uri);
        out.push('"');
    }
    for (_, _, attr_qname, value) in &attributes {
        out.push(' ');
        out.push_str(attr_qname);
        out.push_str("=\"");
        escape_attribute(out, value);
        out.push('"');
    }
    out.push('>');
    for child in node.children() {
        if Some(child.id()) == exclude {
            continue;
        }
        match child.node_type() {
            NodeType::Element => {
                write_element(out, child, &now_rendered, exclude, inclusive_prefixes)
            }
            NodeType::Text => escape_text(out, child.text().unwrap_or_default()),
            NodeType::PI => {
                if let Some(pi) = child.pi() {
                    out.push_str("<?");
                    out.push_str(pi.target);
                    if let Some(value) = pi.value.filter(|v| !v.is_empty()) {
                        out.push(' ');
                        out.push_str(value);
                    }
                    out.push_str("?>");
                }
            }
            NodeType::Comment | NodeType::Root => {}
        }
    }
    out.push_str("</");
    out.push_str(qname);
    out.push('>');
}

fn escape_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attribute(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n_of(xml: &str, path: &[&str]) -> String {
        let doc = roxmltree::Document::parse(xml).unwrap();
        let mut node = doc.root_element();
        for name in path {
            node = node
                .children()
                .find(|n| n.tag_name().name() == *name)
                .unwrap();
        }
        canonicalize(node, None, &[])
    }

    #[test]
    fn only_visibly_used_namespaces_are_written_where_first_used() {
        // The W3C exc-c14n example (§2.2): n1 is used by the apex, n2 is not.
        let xml = r#"<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n0:local>"#;
        assert_eq!(
            c14n_of(xml, &["elem2"]),
            r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#
        );
    }

    #[test]
    fn attributes_sort_by_namespace_then_name_and_values_escape() {
        let xml = "<r xmlns:b=\"urn:b\" xmlns:a=\"urn:a\"><e z=\"1\" b:y=\"&lt;&amp;&quot;\" a:y=\"t&#9;n&#10;\" x='2'>a &gt; b &amp; c</e></r>";
        assert_eq!(
            c14n_of(xml, &["e"]),
            "<e xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" x=\"2\" z=\"1\" a:y=\"t&#x9;n&#xA;\" b:y=\"&lt;&amp;&quot;\">a &gt; b &amp; c</e>"
        );
    }

    #[test]
    fn default_namespace_is_declared_once_and_undeclared_only_when_needed() {
        let xml = r#"<r xmlns="urn:d"><e><f/><g xmlns=""/></e></r>"#;
        assert_eq!(
            c14n_of(xml, &["e"]),
            r#"<e xmlns="urn:d"><f></f><g xmlns=""></g></e>"#
        );
        // Without a rendered default, an unqualified element needs no xmlns="".
        let xml = r#"<r><e><g xmlns=""/></e></r>"#;
        assert_eq!(c14n_of(xml, &["e"]), r#"<e><g></g></e>"#);
    }

    #[test]
    fn comments_drop_and_the_excluded_subtree_is_left_out() {
        let xml = r#"<r><!-- note --><s:Sig xmlns:s="urn:s"><x/></s:Sig><k>v</k></r>"#;
        let doc = roxmltree::Document::parse(xml).unwrap();
        let root = doc.root_element();
        let sig = root.first_element_child().unwrap();
        assert_eq!(canonicalize(root, Some(sig.id()), &[]), "<r><k>v</k></r>");
    }

    #[test]
    fn inclusive_prefixes_are_written_when_in_scope() {
        let xml = r#"<r xmlns:xs="http://www.w3.org/2001/XMLSchema"><e/></r>"#;
        let doc = roxmltree::Document::parse(xml).unwrap();
        let e = doc.root_element().first_element_child().unwrap();
        assert_eq!(
            canonicalize(e, None, &["xs".into()]),
            r#"<e xmlns:xs="http://www.w3.org/2001/XMLSchema"></e>"#
        );
    }
}
