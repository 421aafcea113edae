//! Groups: CreateGroup, GetGroup, UpdateGroup, DeleteGroup, ListGroups,
//! AdminAddUserToGroup, AdminRemoveUserFromGroup, AdminListGroupsForUser,
//! ListUsersInGroup, and the group claims of tokens. A group is stored as Cognito's
//! `GroupType` (without pool id and dates) under `ObjectKind::Group`.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::pools::decode_token;
use super::support::{list_objects_page, load_pool, not_found, paginate, require_user, user_type};
use idpool_core::groups::{GroupClaims, GroupGrant, group_claims};
use idpool_store::{ObjectKind, PoolObjectRow, PoolRow, StoreError, UserRow};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde_json::{Map, Value};

/// Cognito's quota of groups per user pool.
const MAX_GROUPS_PER_POOL: i64 = 10_000;
/// A token lists at most this many groups: Cognito's quota of groups per user.
const MAX_GROUPS_PER_USER: u32 = 100;

fn group_type(row: &PoolObjectRow) -> GroupType {
    GroupType {
        group_name: Some(row.key.clone()),
        user_pool_id: Some(row.pool_id.clone()),
        description: row.doc["Description"].as_str().map(str::to_string),
        role_arn: row.doc["RoleArn"].as_str().map(str::to_string),
        precedence: row.doc["Precedence"].as_i64(),
        last_modified_date: Some(row.updated_at as f64 / 1000.0),
        creation_date: Some(row.created_at as f64 / 1000.0),
    }
}

async fn load_group(ctx: &Ctx, pool: &PoolRow, name: &str) -> ApiResult<PoolObjectRow> {
    ctx.state
        .store
        .get_object(&pool.id, ObjectKind::Group, name)
        .await
        .wire()?
        .ok_or_else(|| not_found("Group not found."))
}

fn set_field(doc: &mut Map<String, Value>, name: &str, value: Option<Value>) {
    if let Some(v) = value {
        doc.insert(name.into(), v);
    }
}

pub async fn create_group(ctx: Ctx, req: CreateGroupRequest) -> ApiResult<CreateGroupResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let store = &ctx.state.store;
    if store
        .count_objects(&pool.id, ObjectKind::Group)
        .await
        .wire()?
        >= MAX_GROUPS_PER_POOL
    {
        return Err(WireError::idp(
            E::LimitExceededException,
            format!("A user pool can have at most {MAX_GROUPS_PER_POOL} groups."),
        ));
    }
    let mut doc = Map::new();
    set_field(&mut doc, "Description", req.description.map(Value::from));
    set_field(&mut doc, "RoleArn", req.role_arn.map(Value::from));
    set_field(&mut doc, "Precedence", req.precedence.map(Value::from));
    let row = PoolObjectRow {
        pool_id: pool.id.clone(),
        kind: ObjectKind::Group,
        key: req.group_name.clone(),
        doc: Value::Object(doc),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    match store.create_object(&row).await {
        Ok(()) => Ok(CreateGroupResponse {
            group: Some(group_type(&row)),
        }),
        Err(StoreError::Conflict(_)) => Err(WireError::idp(
            E::GroupExistsException,
            "A group with the name already exists.",
        )),
        Err(e) => Err(e).wire(),
    }
}

pub async fn get_group(ctx: Ctx, req: GetGroupRequest) -> ApiResult<GetGroupResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let row = load_group(&ctx, &pool, &req.group_name).await?;
    Ok(GetGroupResponse {
        group: Some(group_type(&row)),
    })
}

/// Changes what the request names and keeps the rest, as Cognito does today (an older
/// API reference said omitted fields reset to defaults; the service never did).
pub async fn update_group(ctx: Ctx, req: UpdateGroupRequest) -> ApiResult<UpdateGroupResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut row = load_group(&ctx, &pool, &req.group_name).await?;
    let doc = row
        .doc
        .as_object_mut()
        .expect("groups are stored as objects");
    set_field(doc, "Description", req.description.map(Value::from));
    set_field(doc, "RoleArn", req.role_arn.map(Value::from));
    set_field(doc, "Precedence", req.precedence.map(Value::from));
    row.updated_at = ctx.now;
    ctx.state.store.put_object(&row).await.wire()?;
    Ok(UpdateGroupResponse {
        group: Some(group_type(&row)),
    })
}

pub async fn delete_group(ctx: Ctx, req: DeleteGroupRequest) -> ApiResult<()> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    if !ctx
        .state
        .store
        .delete_object(&pool.id, ObjectKind::Group, &req.group_name)
        .await
        .wire()?
    {
        return Err(not_found("Group not found."));
    }
    Ok(())
}

pub async fn list_groups(ctx: Ctx, req: ListGroupsRequest) -> ApiResult<ListGroupsResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let (rows, next_token) = list_objects_page(
        &ctx,
        &pool.id,
        ObjectKind::Group,
        req.next_token.as_deref(),
        req.limit.unwrap_or(60) as u32,
    )
    .await?;
    Ok(ListGroupsResponse {
        groups: Some(rows.iter().map(group_type).collect()),
        next_token,
    })
}

pub async fn admin_add_user_to_group(ctx: Ctx, req: AdminAddUserToGroupRequest) -> ApiResult<()> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let user = require_user(&ctx, &pool, &req.username).await?;
    let group = load_group(&ctx, &pool, &req.group_name).await?;
    let store = &ctx.state.store;
    let current = store
        .list_groups_of_user(&pool.id, &user.username_key, None, MAX_GROUPS_PER_USER + 1)
        .await
        .wire()?;
    if current.len() as u32 >= MAX_GROUPS_PER_USER && !current.iter().any(|g| g.key == group.key) {
        return Err(WireError::idp(
            E::LimitExceededException,
            format!("A user can be in at most {MAX_GROUPS_PER_USER} groups."),
        ));
    }
    store
        .add_member(&pool.id, &group.key, &user.username_key)
        .await
        .wire()
}

/// Removing a user who is not in the group succeeds, as in Cognito.
pub async fn admin_remove_user_from_group(
    ctx: Ctx,
    req: AdminRemoveUserFromGroupRequest,
) -> ApiResult<()> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let user = require_user(&ctx, &pool, &req.username).await?;
    let group = load_group(&ctx, &pool, &req.group_name).await?;
    ctx.state
        .store
        .remove_member(&pool.id, &group.key, &user.username_key)
        .await
        .wire()?;
    Ok(())
}

pub async fn admin_list_groups_for_user(
    ctx: Ctx,
    req: AdminListGroupsForUserRequest,
) -> ApiResult<AdminListGroupsForUserResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let user = require_user(&ctx, &pool, &req.username).await?;
    let limit = req.limit.unwrap_or(60) as u32;
    let after = req.next_token.as_deref().map(decode_token).transpose()?;
    let rows = ctx
        .state
        .store
        .list_groups_of_user(&pool.id, &user.username_key, after.as_deref(), limit + 1)
        .await
        .wire()?;
    let (rows, next_token) = paginate(rows, limit, |r| &r.key);
    Ok(AdminListGroupsForUserResponse {
        groups: Some(rows.iter().map(group_type).collect()),
        next_token,
    })
}

pub async fn list_users_in_group(
    ctx: Ctx,
    req: ListUsersInGroupRequest,
) -> ApiResult<ListUsersInGroupResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let group = load_group(&ctx, &pool, &req.group_name).await?;
    let limit = req.limit.unwrap_or(60) as u32;
    let after = req.next_token.as_deref().map(decode_token).transpose()?;
    let rows = ctx
        .state
        .store
        .list_members(&pool.id, &group.key, after.as_deref(), limit + 1)
        .await
        .wire()?;
    let (rows, next_token) = paginate(rows, limit, |u: &UserRow| &u.username_key);
    Ok(ListUsersInGroupResponse {
        users: Some(rows.iter().map(|u| user_type(u, None)).collect()),
        next_token,
    })
}

/// The group claims for a user's next tokens, read at every token issue so a
/// membership change shows in the next refresh.
pub async fn token_group_claims(
    ctx: &Ctx,
    pool_id: &str,
    user: &UserRow,
) -> ApiResult<GroupClaims> {
    let rows = ctx
        .state
        .store
        .list_groups_of_user(pool_id, &user.username_key, None, MAX_GROUPS_PER_USER)
        .await
        .wire()?;
    Ok(group_claims(
        rows.into_iter()
            .map(|r| GroupGrant {
                role_arn: r.doc["RoleArn"].as_str().map(str::to_string),
                precedence: r.doc["Precedence"].as_i64(),
                name: r.key,
            })
            .collect(),
    ))
}
