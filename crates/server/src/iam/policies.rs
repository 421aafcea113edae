//! Customer managed policies: CreatePolicy, GetPolicy, GetPolicyVersion, DeletePolicy,
//! and their attachment to roles (AttachRolePolicy ...).

use super::*;

fn attachment_count(roles: &[PoolObjectRow], arn: &str) -> usize {
    roles
        .iter()
        .filter(|r| {
            r.doc["AttachedPolicies"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == arn))
        })
        .count()
}

fn write_policy(x: &mut Xml, policy: &PoolObjectRow, attachments: usize) {
    let d = &policy.doc;
    let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
    x.open("Policy")
        .text("PolicyName", &s("PolicyName"))
        .text("PolicyId", &s("PolicyId"))
        .text("Arn", &s("Arn"))
        .text("Path", &s("Path"))
        .text("DefaultVersionId", "v1")
        .text("AttachmentCount", &attachments.to_string())
        .text("PermissionsBoundaryUsageCount", "0")
        .text("IsAttachable", "true")
        .opt("Description", d["Description"].as_str())
        .text("CreateDate", &iso8601(policy.created_at / 1000))
        .text("UpdateDate", &iso8601(policy.updated_at / 1000));
    write_tags(x, &d["Tags"]);
    x.close("Policy");
}

pub async fn create_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let name = required(p, "PolicyName")?;
    check_name("policyName", name, 128)?;
    let doc = required(p, "PolicyDocument")?;
    check_policy(doc, false)?;
    let path = p.get("Path").map(String::as_str).unwrap_or("/");
    check_path(path)?;
    let arn = format!(
        "arn:aws:iam::{}:policy{path}{name}",
        ctx.state.config.account_id
    );
    let row = create_entity(
        ctx,
        ObjectKind::IamPolicy,
        name.to_ascii_lowercase(),
        json!({
            "PolicyName": name,
            "PolicyId": format!("ANPA{}", ids::random_string(ID_ALPHABET, 17)),
            "Arn": arn,
            "Path": path,
            "Document": doc,
            "Description": p.get("Description"),
            "Tags": tags_of(p),
        }),
        format!("A policy called {name} already exists. Duplicate names are not allowed."),
    )
    .await?;
    let mut x = Xml::new();
    write_policy(&mut x, &row, 0);
    Ok(x.finish())
}

fn policy_not_found(arn: &str) -> QueryError {
    QueryError::new(
        Q::NoSuchEntity,
        format!("Policy {arn} does not exist or is not attachable."),
    )
}

async fn require_policy(ctx: &Ctx, arn: &str) -> QueryResult<PoolObjectRow> {
    load_policy(ctx, arn)
        .await?
        .ok_or_else(|| policy_not_found(arn))
}

pub async fn get_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let arn = required(p, "PolicyArn")?;
    let policy = require_policy(ctx, arn).await?;
    let count = attachment_count(&all_roles(ctx).await?, arn);
    let mut x = Xml::new();
    write_policy(&mut x, &policy, count);
    Ok(x.finish())
}

pub async fn get_policy_version(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let arn = required(p, "PolicyArn")?;
    let version = required(p, "VersionId")?;
    let policy = require_policy(ctx, arn).await?;
    if version != "v1" {
        return Err(QueryError::new(
            Q::NoSuchEntity,
            format!("Policy {arn} version {version} does not exist or is not attachable."),
        ));
    }
    let mut x = Xml::new();
    x.open("PolicyVersion")
        .text(
            "Document",
            &url_encoded(policy.doc["Document"].as_str().unwrap_or_default()),
        )
        .text("VersionId", "v1")
        .text("IsDefaultVersion", "true")
        .text("CreateDate", &iso8601(policy.created_at / 1000))
        .close("PolicyVersion");
    Ok(x.finish())
}

pub async fn delete_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let arn = required(p, "PolicyArn")?;
    let policy = require_policy(ctx, arn).await?;
    if attachment_count(&all_roles(ctx).await?, arn) > 0 {
        return Err(QueryError::new(
            Q::DeleteConflict,
            "Cannot delete a policy attached to entities.",
        ));
    }
    ctx.state
        .store
        .delete_object(IAM_ACCOUNT_SCOPE, ObjectKind::IamPolicy, &policy.key)
        .await
        .map_err(store_error)?;
    Ok(String::new())
}

pub async fn attach_role_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let mut role = require_role(ctx, required(p, "RoleName")?).await?;
    let arn = required(p, "PolicyArn")?;
    require_policy(ctx, arn).await?;
    let mut attached: Vec<Value> = role.doc["AttachedPolicies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !attached.iter().any(|a| a == arn) {
        if attached.len() >= 10 {
            return Err(QueryError::new(
                Q::LimitExceeded,
                "Cannot exceed quota for PoliciesPerRole: 10",
            ));
        }
        attached.push(json!(arn));
    }
    role.doc["AttachedPolicies"] = Value::Array(attached);
    save(ctx, role).await?;
    Ok(String::new())
}

pub async fn detach_role_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let mut role = require_role(ctx, required(p, "RoleName")?).await?;
    let arn = required(p, "PolicyArn")?;
    let mut attached: Vec<Value> = role.doc["AttachedPolicies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let before = attached.len();
    attached.retain(|a| a != arn);
    if attached.len() == before {
        return Err(QueryError::new(
            Q::NoSuchEntity,
            format!("Policy {arn} was not found."),
        ));
    }
    role.doc["AttachedPolicies"] = Value::Array(attached);
    save(ctx, role).await?;
    Ok(String::new())
}

pub async fn list_attached_role_policies(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let role = require_role(ctx, required(p, "RoleName")?).await?;
    let mut x = Xml::new();
    x.open("AttachedPolicies");
    for arn in role.doc["AttachedPolicies"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let arn = arn.as_str().unwrap_or_default();
        let name = arn.rsplit('/').next().unwrap_or_default();
        x.open("member")
            .text("PolicyName", name)
            .text("PolicyArn", arn)
            .close("member");
    }
    x.close("AttachedPolicies").text("IsTruncated", "false");
    Ok(x.finish())
}
