//! What a user's groups put into their tokens: `cognito:groups`, `cognito:roles` and
//! `cognito:preferred_role`.

/// The parts of a group (`GroupType`) that tokens carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupGrant {
    pub name: String,
    pub role_arn: Option<String>,
    pub precedence: Option<i64>,
}

/// The group claims of one user's tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupClaims {
    /// Group names, lowest precedence value first, groups without one last.
    pub groups: Vec<String>,
    /// The distinct role ARNs of those groups, in the same order.
    pub roles: Vec<String>,
    pub preferred_role: Option<String>,
}

/// Cognito's rule for the preferred role: the role of the group with the lowest
/// precedence value; a group without a precedence never wins over one with it; if the
/// lowest value is shared by groups with different roles, no role is preferred (an
/// identity pool must then be told which one to use).
pub fn group_claims(mut grants: Vec<GroupGrant>) -> GroupClaims {
    grants.sort_by(|a, b| {
        (a.precedence.is_none(), a.precedence, &a.name).cmp(&(
            b.precedence.is_none(),
            b.precedence,
            &b.name,
        ))
    });
    let mut roles: Vec<String> = Vec::new();
    for g in &grants {
        if let Some(r) = &g.role_arn
            && !roles.contains(r)
        {
            roles.push(r.clone());
        }
    }
    let with_roles: Vec<&GroupGrant> = grants.iter().filter(|g| g.role_arn.is_some()).collect();
    let preferred_role = with_roles.first().and_then(|best| {
        let tied = with_roles
            .iter()
            .filter(|g| g.precedence == best.precedence)
            .all(|g| g.role_arn == best.role_arn);
        tied.then(|| best.role_arn.clone()).flatten()
    });
    GroupClaims {
        groups: grants.into_iter().map(|g| g.name).collect(),
        roles,
        preferred_role,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(name: &str, role: Option<&str>, precedence: Option<i64>) -> GroupGrant {
        GroupGrant {
            name: name.into(),
            role_arn: role.map(str::to_string),
            precedence,
        }
    }

    #[test]
    fn lowest_precedence_with_a_role_is_preferred() {
        let c = group_claims(vec![
            g("readers", Some("arn:aws:iam::1:role/read"), Some(10)),
            g("nobody", None, Some(0)),
            g("admins", Some("arn:aws:iam::1:role/admin"), Some(1)),
            g("plain", Some("arn:aws:iam::1:role/plain"), None),
        ]);
        assert_eq!(c.groups, ["nobody", "admins", "readers", "plain"]);
        assert_eq!(
            c.roles,
            [
                "arn:aws:iam::1:role/admin",
                "arn:aws:iam::1:role/read",
                "arn:aws:iam::1:role/plain"
            ]
        );
        assert_eq!(
            c.preferred_role.as_deref(),
            Some("arn:aws:iam::1:role/admin")
        );
    }

    #[test]
    fn a_tie_between_different_roles_prefers_none() {
        let c = group_claims(vec![
            g("a", Some("arn:aws:iam::1:role/a"), Some(5)),
            g("b", Some("arn:aws:iam::1:role/b"), Some(5)),
        ]);
        assert_eq!(c.preferred_role, None);
        let same = group_claims(vec![
            g("a", Some("arn:aws:iam::1:role/a"), Some(5)),
            g("b", Some("arn:aws:iam::1:role/a"), Some(5)),
        ]);
        assert_eq!(
            same.preferred_role.as_deref(),
            Some("arn:aws:iam::1:role/a")
        );
        assert_eq!(same.roles.len(), 1, "roles are distinct");
    }

    #[test]
    fn groups_without_precedence_tie_among_themselves() {
        let c = group_claims(vec![
            g("a", Some("arn:aws:iam::1:role/a"), None),
            g("b", Some("arn:aws:iam::1:role/b"), None),
        ]);
        assert_eq!(c.preferred_role, None);
        let one = group_claims(vec![g("a", Some("arn:aws:iam::1:role/a"), None)]);
        assert_eq!(one.preferred_role.as_deref(), Some("arn:aws:iam::1:role/a"));
        assert_eq!(group_claims(vec![]), GroupClaims::default());
    }
}
