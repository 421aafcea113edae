//! The REST JSON protocol (cognito-sync): an operation is named by its HTTP method and
//! URI template, and its input members travel in URI labels, the query string, headers
//! or the JSON body, as the service model says (`Binding`, generated).

/// Where an input member travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A `{Label}` segment of the URI template.
    Uri,
    Query,
    Header,
}

/// One input member outside the body: its model name, where it travels and under
/// which name (the label, query parameter or header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub member: &'static str,
    pub location: Location,
    pub name: &'static str,
    /// The member is an integer or long: a query string value must parse as one.
    pub integer: bool,
}

/// Matches a request path (still percent-encoded, without the query) against a URI
/// template such as `/identitypools/{IdentityPoolId}/events`; the labels' values come
/// back percent-decoded (SDKs send the `:` of identity ids as `%3A`).
pub fn match_static(template: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let mut labels = Vec::new();
    let mut want = template.trim_end_matches('/').split('/');
    let mut got = path.trim_end_matches('/').split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(labels),
            (Some(w), Some(g)) => {
                if let Some(label) = w.strip_prefix('{').and_then(|l| l.strip_suffix('}')) {
                    let value = percent_encoding::percent_decode_str(g)
                        .decode_utf8()
                        .ok()?
                        .into_owned();
                    if value.is_empty() {
                        return None;
                    }
                    labels.push((label, value));
                } else if w != g {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_decoded_and_literals_must_match() {
        let t = "/identitypools/{IdentityPoolId}/identities/{IdentityId}/datasets";
        assert_eq!(
            match_static(
                t,
                "/identitypools/us-east-1%3Aabc/identities/us-east-1:def/datasets"
            ),
            Some(vec![
                ("IdentityPoolId", "us-east-1:abc".to_string()),
                ("IdentityId", "us-east-1:def".to_string())
            ])
        );
        assert_eq!(
            match_static(t, "/identitypools/a/identities/b/records"),
            None
        );
        assert_eq!(match_static(t, "/identitypools/a/identities/b"), None);
        assert_eq!(
            match_static("/identitypools", "/identitypools"),
            Some(vec![])
        );
    }

    #[test]
    fn the_generated_catalogue_says_where_members_travel() {
        use crate::SyncOperation;
        assert_eq!(
            SyncOperation::UpdateRecords.http(),
            (
                "POST",
                "/identitypools/{IdentityPoolId}/identities/{IdentityId}/datasets/{DatasetName}"
            )
        );
        assert!(SyncOperation::ListRecords.bindings().contains(&Binding {
            member: "LastSyncCount",
            location: Location::Query,
            name: "lastSyncCount",
            integer: true,
        }));
        assert!(SyncOperation::UpdateRecords.bindings().contains(&Binding {
            member: "ClientContext",
            location: Location::Header,
            name: "x-amz-Client-Context",
            integer: false,
        }));
        // Every operation is told apart by method and template alone.
        for a in SyncOperation::ALL {
            for b in SyncOperation::ALL {
                assert!(
                    a == b || a.http() != b.http(),
                    "{a:?} and {b:?} share a route"
                );
            }
        }
    }
}
