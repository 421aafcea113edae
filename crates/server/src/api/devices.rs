//! Device tracking: ConfirmDevice, GetDevice, ListDevices, UpdateDeviceStatus,
//! ForgetDevice and their Admin* twins; and the sign-in side (`track_sign_in`,
//! `confirmed_device`) that `auth.rs` uses for NewDeviceMetadata and DEVICE_SRP_AUTH.
//!
//! A device is created when a sign-in returns NewDeviceMetadata, gets its own SRP
//! verifier from ConfirmDevice, and once remembered can sign in without MFA by proving
//! that secret (DEVICE_SRP_AUTH / DEVICE_PASSWORD_VERIFIER).

use super::Ctx;
use super::error::{ApiResult, OrWire, declared_as};
use super::support::*;
use idpool_core::{crypto, ids};
use idpool_store::{DeviceRow, PoolRow, UserRow};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde_json::json;

const LIST_LIMIT_DEFAULT: u32 = 60;

fn no_device() -> WireError {
    WireError::idp(E::ResourceNotFoundException, "Device does not exist.")
}

fn tracking_on(pool: &PoolRow) -> bool {
    pool.config["DeviceConfiguration"].is_object()
}

/// After a successful sign-in, when the pool tracks devices: the known device the
/// client named, or a new one whose NewDeviceMetadata the client confirms. The device
/// key goes into the access token and binds the refresh token; the device is stored
/// (`TrackedDevice::save`) only once the tokens were issued, so a sign-in that fails
/// at the last step (PreTokenGeneration refusing) leaves no device behind.
pub async fn track_sign_in(
    ctx: &Ctx,
    pool: &PoolRow,
    user: &UserRow,
    device_key: Option<&str>,
) -> ApiResult<Option<TrackedDevice>> {
    if !tracking_on(pool) {
        return Ok(None);
    }
    let store = &ctx.state.store;
    if let Some(dk) = device_key
        && let Some(mut device) = store
            .get_device(&pool.id, &user.username_key, dk)
            .await
            .wire()?
    {
        device.last_authenticated_at = ctx.now;
        return Ok(Some(TrackedDevice {
            device_key: device.device_key.clone(),
            new: None,
            row: device,
        }));
    }
    let region = pool.id.split('_').next().unwrap_or(&ctx.region);
    let device = DeviceRow {
        pool_id: pool.id.clone(),
        username_key: user.username_key.clone(),
        device_key: format!("{region}_{}", ids::uuid()),
        group_key: format!(
            "-{}",
            ids::random_string(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                9
            )
        ),
        verifier: None,
        salt: None,
        remembered_status: None,
        attributes: serde_json::Map::new(),
        created_at: ctx.now,
        updated_at: ctx.now,
        last_authenticated_at: ctx.now,
    };
    Ok(Some(TrackedDevice {
        device_key: device.device_key.clone(),
        new: Some(NewDeviceMetadataType {
            device_key: Some(device.device_key.clone()),
            device_group_key: Some(device.group_key.clone()),
        }),
        row: device,
    }))
}

/// The device a sign-in is tracked on.
pub struct TrackedDevice {
    pub device_key: String,
    /// Set when the sign-in made a new device: the result's `NewDeviceMetadata`.
    pub new: Option<NewDeviceMetadataType>,
    /// The device as the sign-in leaves it (new, or with its last sign-in time).
    row: DeviceRow,
}

impl TrackedDevice {
    /// Stores the device once the sign-in has its tokens.
    pub async fn save(&self, ctx: &Ctx) -> ApiResult<()> {
        ctx.state.store.put_device(&self.row).await.wire()
    }
}

/// The user's device `device_key` if ConfirmDevice gave it a verifier.
pub async fn confirmed_device(
    ctx: &Ctx,
    user: &UserRow,
    device_key: &str,
) -> ApiResult<Option<DeviceRow>> {
    Ok(ctx
        .state
        .store
        .get_device(&user.pool_id, &user.username_key, device_key)
        .await
        .wire()?
        .filter(|d| d.verifier.is_some()))
}

pub fn verifier_bytes(ctx: &Ctx, device: &DeviceRow) -> ApiResult<Vec<u8>> {
    let enc = device.verifier.as_deref().ok_or_else(no_device)?;
    ctx.state.master.decrypt(enc, b"device-verifier").wire()
}

/// The device's salt as SALT is sent: hex.
pub fn salt_hex(device: &DeviceRow) -> ApiResult<String> {
    let salt = device
        .salt
        .as_deref()
        .and_then(crypto::b64_decode)
        .ok_or_else(no_device)?;
    Ok(hex::encode(salt))
}

fn device_type(d: &DeviceRow) -> DeviceType {
    let mut attrs = vec![AttributeType {
        name: "device_status".into(),
        value: Some(
            if d.verifier.is_some() {
                "valid"
            } else {
                "unconfirmed"
            }
            .into(),
        ),
    }];
    for (k, v) in &d.attributes {
        attrs.push(AttributeType {
            name: k.clone(),
            value: v.as_str().map(String::from),
        });
    }
    if let Some(status) = &d.remembered_status {
        attrs.push(AttributeType {
            name: "dev:device_remembered_status".into(),
            value: Some(status.clone()),
        });
    }
    DeviceType {
        device_key: Some(d.device_key.clone()),
        device_attributes: Some(attrs),
        device_create_date: Some(d.created_at as f64 / 1000.0),
        device_last_modified_date: Some(d.updated_at as f64 / 1000.0),
        device_last_authenticated_date: Some(d.last_authenticated_at as f64 / 1000.0),
    }
}

async fn load_device(ctx: &Ctx, user: &UserRow, device_key: &str) -> ApiResult<DeviceRow> {
    ctx.state
        .store
        .get_device(&user.pool_id, &user.username_key, device_key)
        .await
        .wire()?
        .ok_or_else(no_device)
}

/// GetDevice and ForgetDevice take an optional AccessToken; without one there is no
/// user to act for.
async fn token_user(ctx: &Ctx, token: Option<&str>) -> ApiResult<UserRow> {
    let token =
        token.ok_or_else(|| WireError::idp(E::NotAuthorizedException, "Missing Access Token"))?;
    let (_, user, _) = user_from_access_token(ctx, token).await?;
    Ok(user)
}

async fn admin_user(ctx: &Ctx, pool_id: &str, username: &str) -> ApiResult<UserRow> {
    let pool = load_pool(ctx, pool_id).await?;
    require_user(ctx, &pool, username).await
}

/// AdminGetDevice and AdminListDevices declare no UserNotFoundException in Cognito's
/// model: an unknown user is a missing resource there, which SDKs can name.
async fn admin_user_as_resource(ctx: &Ctx, pool_id: &str, username: &str) -> ApiResult<UserRow> {
    admin_user(ctx, pool_id, username)
        .await
        .map_err(|e| declared_as(e, E::UserNotFoundException, E::ResourceNotFoundException))
}

pub async fn confirm_device(
    ctx: Ctx,
    req: ConfirmDeviceRequest,
) -> ApiResult<ConfirmDeviceResponse> {
    let (pool, user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    let mut device = load_device(&ctx, &user, &req.device_key).await?;
    let config = req
        .device_secret_verifier_config
        .as_ref()
        .ok_or_else(|| WireError::invalid_parameter("DeviceSecretVerifierConfig is required."))?;
    let verifier = config
        .password_verifier
        .as_deref()
        .and_then(crypto::b64_decode)
        .filter(|v| !v.is_empty() && v.len() <= 385 && v.iter().any(|b| *b != 0))
        .ok_or_else(|| {
            WireError::invalid_parameter("PasswordVerifier must be a base64 SRP verifier.")
        })?;
    let salt = config
        .salt
        .as_deref()
        .and_then(crypto::b64_decode)
        .filter(|s| !s.is_empty() && s.len() <= 64)
        .ok_or_else(|| WireError::invalid_parameter("Salt must be base64."))?;
    device.verifier = Some(ctx.state.master.encrypt(&verifier, b"device-verifier"));
    device.salt = Some(crypto::b64(&salt));
    if let Some(name) = &req.device_name {
        device.attributes.insert("device_name".into(), json!(name));
    }
    // Remembered at once unless the pool asks the user first.
    let ask_user = pool.config["DeviceConfiguration"]["DeviceOnlyRememberedOnUserPrompt"] == true;
    device.remembered_status = Some(
        if ask_user {
            "not_remembered"
        } else {
            "remembered"
        }
        .into(),
    );
    device.updated_at = ctx.now;
    ctx.state.store.put_device(&device).await.wire()?;
    Ok(ConfirmDeviceResponse {
        user_confirmation_necessary: Some(ask_user),
    })
}

async fn list(
    ctx: &Ctx,
    user: &UserRow,
    limit: Option<i64>,
    token: Option<&str>,
) -> ApiResult<(Option<Vec<DeviceType>>, Option<String>)> {
    let after = token.map(super::pools::decode_token).transpose()?;
    let limit = limit.map(|l| l as u32).unwrap_or(LIST_LIMIT_DEFAULT);
    let rows = ctx
        .state
        .store
        .list_devices(
            &user.pool_id,
            &user.username_key,
            after.as_deref(),
            limit + 1,
        )
        .await
        .wire()?;
    let (rows, next) = super::support::paginate(rows, limit, |d| &d.device_key);
    Ok((Some(rows.iter().map(device_type).collect()), next))
}

async fn set_status(
    ctx: &Ctx,
    user: &UserRow,
    device_key: &str,
    status: Option<&str>,
) -> ApiResult<()> {
    let mut device = load_device(ctx, user, device_key).await?;
    device.remembered_status = Some(status.unwrap_or("not_remembered").to_string());
    device.updated_at = ctx.now;
    ctx.state.store.put_device(&device).await.wire()
}

async fn forget(ctx: &Ctx, user: &UserRow, device_key: &str) -> ApiResult<()> {
    if !ctx
        .state
        .store
        .delete_device(&user.pool_id, &user.username_key, device_key)
        .await
        .wire()?
    {
        return Err(no_device());
    }
    Ok(())
}

pub async fn get_device(ctx: Ctx, req: GetDeviceRequest) -> ApiResult<GetDeviceResponse> {
    let user = token_user(&ctx, req.access_token.as_deref()).await?;
    let device = load_device(&ctx, &user, &req.device_key).await?;
    Ok(GetDeviceResponse {
        device: device_type(&device),
    })
}

pub async fn admin_get_device(
    ctx: Ctx,
    req: AdminGetDeviceRequest,
) -> ApiResult<AdminGetDeviceResponse> {
    let user = admin_user_as_resource(&ctx, &req.user_pool_id, &req.username).await?;
    let device = load_device(&ctx, &user, &req.device_key).await?;
    Ok(AdminGetDeviceResponse {
        device: device_type(&device),
    })
}

pub async fn list_devices(ctx: Ctx, req: ListDevicesRequest) -> ApiResult<ListDevicesResponse> {
    let (_, user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    let (devices, pagination_token) =
        list(&ctx, &user, req.limit, req.pagination_token.as_deref()).await?;
    Ok(ListDevicesResponse {
        devices,
        pagination_token,
    })
}

pub async fn admin_list_devices(
    ctx: Ctx,
    req: AdminListDevicesRequest,
) -> ApiResult<AdminListDevicesResponse> {
    let user = admin_user_as_resource(&ctx, &req.user_pool_id, &req.username).await?;
    let (devices, pagination_token) =
        list(&ctx, &user, req.limit, req.pagination_token.as_deref()).await?;
    Ok(AdminListDevicesResponse {
        devices,
        pagination_token,
    })
}

pub async fn update_device_status(
    ctx: Ctx,
    req: UpdateDeviceStatusRequest,
) -> ApiResult<UpdateDeviceStatusResponse> {
    let (_, user, _) = user_from_access_token(&ctx, &req.access_token).await?;
    set_status(
        &ctx,
        &user,
        &req.device_key,
        req.device_remembered_status.as_deref(),
    )
    .await?;
    Ok(UpdateDeviceStatusResponse {})
}

pub async fn admin_update_device_status(
    ctx: Ctx,
    req: AdminUpdateDeviceStatusRequest,
) -> ApiResult<AdminUpdateDeviceStatusResponse> {
    let user = admin_user(&ctx, &req.user_pool_id, &req.username).await?;
    set_status(
        &ctx,
        &user,
        &req.device_key,
        req.device_remembered_status.as_deref(),
    )
    .await?;
    Ok(AdminUpdateDeviceStatusResponse {})
}

pub async fn forget_device(ctx: Ctx, req: ForgetDeviceRequest) -> ApiResult<()> {
    let user = token_user(&ctx, req.access_token.as_deref()).await?;
    forget(&ctx, &user, &req.device_key).await
}

pub async fn admin_forget_device(ctx: Ctx, req: AdminForgetDeviceRequest) -> ApiResult<()> {
    let user = admin_user(&ctx, &req.user_pool_id, &req.username).await?;
    forget(&ctx, &user, &req.device_key).await
}
