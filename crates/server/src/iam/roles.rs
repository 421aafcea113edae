//! IAM roles: CreateRole, GetRole, ListRoles, DeleteRole, UpdateAssumeRolePolicy, the
//! role's tags, and its inline policies (PutRolePolicy ...).

use super::*;

fn write_role(x: &mut Xml, role: &PoolObjectRow, element: &str) {
    let d = &role.doc;
    let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
    x.open(element)
        .text("Path", &s("Path"))
        .text("RoleName", &s("RoleName"))
        .text("RoleId", &s("RoleId"))
        .text("Arn", &s("Arn"))
        .text("CreateDate", &iso8601(role.created_at / 1000))
        .text(
            "AssumeRolePolicyDocument",
            &url_encoded(&s("AssumeRolePolicyDocument")),
        )
        .opt("Description", d["Description"].as_str())
        .text(
            "MaxSessionDuration",
            &d["MaxSessionDuration"].as_i64().unwrap_or(3600).to_string(),
        );
    write_tags(x, &d["Tags"]);
    x.close(element);
}

pub async fn create_role(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let name = required(p, "RoleName")?;
    check_name("roleName", name, 64)?;
    let trust = required(p, "AssumeRolePolicyDocument")?;
    check_policy(trust, true)?;
    let path = p.get("Path").map(String::as_str).unwrap_or("/");
    check_path(path)?;
    let max_session = match p.get("MaxSessionDuration") {
        None => 3600,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (3600..=43200).contains(&n) => n,
            _ => {
                return Err(QueryError::new(
                    Q::ValidationError,
                    format!(
                        "1 validation error detected: Value '{v}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200"
                    ),
                ));
            }
        },
    };
    let arn = format!(
        "arn:aws:iam::{}:role{path}{name}",
        ctx.state.config.account_id
    );
    let row = create_entity(
        ctx,
        ObjectKind::IamRole,
        name.to_ascii_lowercase(),
        json!({
            "RoleName": name,
            "RoleId": format!("AROA{}", ids::random_string(ID_ALPHABET, 17)),
            "Arn": arn,
            "Path": path,
            "AssumeRolePolicyDocument": trust,
            "Description": p.get("Description"),
            "MaxSessionDuration": max_session,
            "Tags": tags_of(p),
            "InlinePolicies": {},
            "AttachedPolicies": [],
        }),
        format!("Role with name {name} already exists."),
    )
    .await?;
    let mut x = Xml::new();
    write_role(&mut x, &row, "Role");
    Ok(x.finish())
}

pub async fn get_role(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let role = require_role(ctx, required(p, "RoleName")?).await?;
    let mut x = Xml::new();
    write_role(&mut x, &role, "Role");
    Ok(x.finish())
}

/// Marker-paginated listing: the marker is the last key returned.
fn page_of(p: &Params) -> QueryResult<(Option<String>, usize)> {
    let max = match p.get("MaxItems") {
        None => 100,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                QueryError::new(
                    Q::ValidationError,
                    format!(
                        "1 validation error detected: Value '{v}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000"
                    ),
                )
            })?,
    };
    Ok((p.get("Marker").cloned(), max))
}

fn truncation(x: &mut Xml, next: Option<String>) {
    match next {
        Some(marker) => x.text("IsTruncated", "true").text("Marker", &marker),
        None => x.text("IsTruncated", "false"),
    };
}

pub async fn list_roles(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let (marker, max) = page_of(p)?;
    let prefix = p.get("PathPrefix").map(String::as_str).unwrap_or("/");
    let roles: Vec<PoolObjectRow> = all_roles(ctx)
        .await?
        .into_iter()
        .filter(|r| r.doc["Path"].as_str().unwrap_or("/").starts_with(prefix))
        .filter(|r| marker.as_deref().is_none_or(|m| r.key.as_str() > m))
        .collect();
    let mut x = Xml::new();
    x.open("Roles");
    for r in roles.iter().take(max) {
        write_role(&mut x, r, "member");
    }
    x.close("Roles");
    let next = (roles.len() > max).then(|| roles[max - 1].key.clone());
    truncation(&mut x, next);
    Ok(x.finish())
}

pub async fn delete_role(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let name = required(p, "RoleName")?;
    let role = require_role(ctx, name).await?;
    if role.doc["InlinePolicies"]
        .as_object()
        .is_some_and(|m| !m.is_empty())
    {
        return Err(QueryError::new(
            Q::DeleteConflict,
            "Cannot delete entity, must delete policies first.",
        ));
    }
    if role.doc["AttachedPolicies"]
        .as_array()
        .is_some_and(|a| !a.is_empty())
    {
        return Err(QueryError::new(
            Q::DeleteConflict,
            "Cannot delete entity, must detach all policies first.",
        ));
    }
    ctx.state
        .store
        .delete_object(IAM_ACCOUNT_SCOPE, ObjectKind::IamRole, &role.key)
        .await
        .map_err(store_error)?;
    Ok(String::new())
}

pub async fn update_assume_role_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let mut role = require_role(ctx, required(p, "RoleName")?).await?;
    let doc = required(p, "PolicyDocument")?;
    check_policy(doc, true)?;
    role.doc["AssumeRolePolicyDocument"] = json!(doc);
    save(ctx, role).await?;
    Ok(String::new())
}

pub async fn tag_role(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let mut role = require_role(ctx, required(p, "RoleName")?).await?;
    let mut tags: Vec<Value> = role.doc["Tags"].as_array().cloned().unwrap_or_default();
    for new in tags_of(p) {
        tags.retain(|t| t["Key"] != new["Key"]);
        tags.push(new);
    }
    if tags.len() > 50 {
        return Err(QueryError::new(
            Q::LimitExceeded,
            "The number of tags has reached the maximum limit.",
        ));
    }
    role.doc["Tags"] = Value::Array(tags);
    save(ctx, role).await?;
    Ok(String::new())
}

pub async fn untag_role(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let mut role = require_role(ctx, required(p, "RoleName")?).await?;
    let remove = idpool_wire::query::members(p, "TagKeys");
    let mut tags: Vec<Value> = role.doc["Tags"].as_array().cloned().unwrap_or_default();
    tags.retain(|t| !remove.iter().any(|k| t["Key"] == k.as_str()));
    role.doc["Tags"] = Value::Array(tags);
    save(ctx, role).await?;
    Ok(String::new())
}

pub async fn list_role_tags(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let role = require_role(ctx, required(p, "RoleName")?).await?;
    let mut x = Xml::new();
    x.open("Tags");
    for t in role.doc["Tags"].as_array().into_iter().flatten() {
        x.open("member")
            .text("Key", t["Key"].as_str().unwrap_or_default())
            .text("Value", t["Value"].as_str().unwrap_or_default())
            .close("member");
    }
    x.close("Tags").text("IsTruncated", "false");
    Ok(x.finish())
}

pub async fn put_role_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let mut role = require_role(ctx, required(p, "RoleName")?).await?;
    let name = required(p, "PolicyName")?;
    check_name("policyName", name, 128)?;
    let doc = required(p, "PolicyDocument")?;
    check_policy(doc, false)?;
    if !role.doc["InlinePolicies"].is_object() {
        role.doc["InlinePolicies"] = json!({});
    }
    role.doc["InlinePolicies"][name] = json!(doc);
    save(ctx, role).await?;
    Ok(String::new())
}

fn inline_policy<'a>(role: &'a PoolObjectRow, name: &str) -> QueryResult<&'a str> {
    role.doc["InlinePolicies"][name].as_str().ok_or_else(|| {
        QueryError::new(
            Q::NoSuchEntity,
            format!("The role policy with name {name} cannot be found.",),
        )
    })
}

pub async fn get_role_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let role = require_role(ctx, required(p, "RoleName")?).await?;
    let name = required(p, "PolicyName")?;
    let doc = inline_policy(&role, name)?;
    let mut x = Xml::new();
    x.text(
        "RoleName",
        role.doc["RoleName"].as_str().unwrap_or_default(),
    )
    .text("PolicyName", name)
    .text("PolicyDocument", &url_encoded(doc));
    Ok(x.finish())
}

pub async fn delete_role_policy(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let mut role = require_role(ctx, required(p, "RoleName")?).await?;
    let name = required(p, "PolicyName")?;
    inline_policy(&role, name)?;
    if let Some(m) = role.doc["InlinePolicies"].as_object_mut() {
        m.remove(name);
    }
    save(ctx, role).await?;
    Ok(String::new())
}

pub async fn list_role_policies(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let role = require_role(ctx, required(p, "RoleName")?).await?;
    let mut x = Xml::new();
    x.open("PolicyNames");
    for name in role.doc["InlinePolicies"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        x.text("member", name);
    }
    x.close("PolicyNames").text("IsTruncated", "false");
    Ok(x.finish())
}
