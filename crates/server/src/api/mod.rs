//! cognito-idp over AWS JSON 1.1: `POST /` with `X-Amz-Target:
//! AWSCognitoIdentityProviderService.<Operation>`. This module reads the request
//! (target, signature, JSON, model validation), dispatches to the handler named after
//! the operation, and writes the response or error exactly as Cognito does.
//!
//! Where is operation X? `fn <snake_case_of_X>` in the file its group names below.

pub mod admin_users;
pub mod auth;
pub mod auth_events;
pub mod branding;
pub mod cimd;
pub mod client_secrets;
pub mod client_tokens;
pub mod clients;
pub mod devices;
pub mod domains;
pub mod error;
pub mod groups;
pub mod identity_providers;
pub mod import_jobs;
pub mod log_delivery;
pub mod mfa;
pub mod migration;
pub mod passkeys;
pub mod point_in_time_recovery;
pub mod pool_settings;
pub mod pools;
pub mod resource_servers;
pub mod self_service;
pub mod sessions;
pub mod signup;
pub mod support;
pub mod threat_protection;
pub mod token_exchange;
mod tokens;
pub mod triggers;
pub mod user_sessions;

use crate::state::SharedState;
use error::ApiResult;
use idpool_wire::operations::IDP_TARGET_PREFIX;
use idpool_wire::sigv4::{self, RequestParts, SigV4Error};
use idpool_wire::{AuthKind, FrameworkError, IdpOperation, WireError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::future::Future;

/// Per-request context handed to every handler.
#[derive(Clone)]
pub struct Ctx {
    pub state: SharedState,
    /// The region of the request's SigV4 scope, else the configured region: Cognito
    /// puts the region a call was made to into ids and ARNs.
    pub region: String,
    /// Unix milliseconds, read once per request.
    pub now: i64,
    /// The request's `ClientMetadata`, which every trigger it fires receives.
    pub client_metadata: Option<Value>,
    /// The operation being served ("" outside the JSON API): triggers name their
    /// source after it (CustomMessage_ResendCode, ...).
    pub operation: &'static str,
    /// The PreTokenGeneration source of tokens minted by this request: which step of a
    /// sign-in it completes (TokenGeneration_NewPasswordChallenge, ...).
    pub token_source: &'static str,
    /// A sign-in at the hosted UI: it ends in the UI's session, not in tokens (those
    /// come from the token endpoint, for the authorization code).
    pub hosted_ui: bool,
    /// Where the end user is, for threat protection: the request's peer address, or
    /// the address a trusted caller reports (`ContextData`, propagated
    /// `UserContextData`; see `threat_protection::with_reported_ip`).
    pub source_ip: Option<std::net::IpAddr>,
    /// The end user's User-Agent: the request's, or the one a server reports for its
    /// user in `ContextData.HttpHeaders`. Names the device in the event history.
    pub user_agent: Option<String>,
    /// What the user's device reported about itself (`EncodedData` of the request's
    /// context data): its time zone and name, for the event history.
    pub device_context: Option<idpool_core::context_data::DeviceContext>,
    /// The hosted-UI SSO session tokens are being issued through (the authorization
    /// code's), which their token session records as its origin.
    pub sso_session: Option<String>,
}

impl Ctx {
    /// A context for requests outside the JSON API (pages, uploads): the configured
    /// region, the time now.
    pub fn for_state(state: SharedState) -> Ctx {
        let region = state.config.region.clone();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Ctx {
            state,
            region,
            now,
            client_metadata: None,
            operation: "",
            token_source: "TokenGeneration_Authentication",
            hosted_ui: false,
            source_ip: None,
            user_agent: None,
            device_context: None,
            sso_session: None,
        }
    }

    pub fn now_s(&self) -> i64 {
        self.now / 1000
    }
}

/// The raw request as the edge received it.
pub struct RawRequest<'a> {
    pub target: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    /// The TCP peer, when the listener records it.
    pub peer: Option<std::net::IpAddr>,
}

pub async fn handle(state: SharedState, req: RawRequest<'_>) -> Result<Value, WireError> {
    let Some(target) = req.target else {
        return Err(WireError::framework(
            FrameworkError::UnknownOperationException,
            "Missing X-Amz-Target header: cannot tell which operation to call.",
        ));
    };
    let op_name = target
        .strip_prefix(IDP_TARGET_PREFIX)
        .and_then(|t| t.strip_prefix('.'));
    let Some(op) = op_name.and_then(IdpOperation::from_name) else {
        return Err(WireError::framework(
            FrameworkError::UnknownOperationException,
            format!("Operation {target} is not a cognito-idp operation."),
        ));
    };
    let region = authorize(&state, op.auth(), &req)?;
    let input = parse_body(req.body)?;
    idpool_wire::validate::idp_model().validate(op.input_shape(), &input)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let client_metadata = input
        .get("ClientMetadata")
        .filter(|m| m.is_object())
        .cloned();
    let ctx = Ctx {
        state,
        region,
        now,
        client_metadata,
        operation: op.name(),
        token_source: "TokenGeneration_Authentication",
        hosted_ui: false,
        source_ip: req.peer,
        user_agent: req
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("user-agent"))
            .map(|(_, value)| value.clone()),
        device_context: None,
        sso_session: None,
    };
    let result = match point_in_time_recovery::refuse_paused_operation(&ctx, op, &input).await {
        Ok(()) => dispatch(ctx, op, input).await,
        Err(paused) => Err(paused),
    };
    if let Err(e) = &result
        && let idpool_wire::ErrorCode::Idp(code) = e.code
    {
        // SDKs turn exceptions an operation does not declare into opaque errors.
        debug_assert!(
            op.allowed_errors().contains(&code) || documented_undeclared(op, code),
            "{} may not return {}",
            op.name(),
            code.name()
        );
    }
    result
}

/// Errors Cognito's API reference documents for an operation that its service model
/// does not declare: AdminCreateUser "throws an AliasExistsException error if the
/// alias already exists" without ForceAliasCreation.
fn documented_undeclared(op: IdpOperation, code: idpool_wire::IdpException) -> bool {
    matches!(
        (op, code),
        (
            IdpOperation::AdminCreateUser,
            idpool_wire::IdpException::AliasExistsException
        )
    )
}

pub(crate) fn parse_body(body: &[u8]) -> Result<Value, WireError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(WireError::framework(
            FrameworkError::SerializationException,
            "Start of structure or map expected: the request body must be a JSON object.",
        )),
        Err(e) => Err(WireError::framework(
            FrameworkError::SerializationException,
            format!("The request body is not valid JSON: {e}"),
        )),
    }
}

/// Checks the caller may call an operation authorized as `auth` and returns the region
/// the request is for. Shared by every AWS JSON service idpool speaks.
pub(crate) fn authorize(
    state: &SharedState,
    auth: AuthKind,
    req: &RawRequest<'_>,
) -> Result<String, WireError> {
    let header = req
        .headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .map(|(_, v)| v.as_str());
    let parsed = header.map(sigv4::parse_authorization);
    let scope_region = match &parsed {
        Some(Ok(a)) => Some(a.region.clone()),
        _ => None,
    };
    let region = scope_region.unwrap_or_else(|| state.config.region.clone());
    // Public operations are called unsigned by every SDK; dev mode accepts any
    // credentials, as local emulators do.
    if auth == AuthKind::Public || state.config.dev {
        return Ok(region);
    }
    let auth = match parsed {
        None => {
            return Err(WireError::framework(
                FrameworkError::MissingAuthenticationTokenException,
                "Missing Authentication Token",
            ));
        }
        Some(Err(SigV4Error::Incomplete(m))) | Some(Err(SigV4Error::Invalid(m))) => {
            return Err(WireError::framework(
                FrameworkError::IncompleteSignatureException,
                m,
            ));
        }
        Some(Err(SigV4Error::Missing)) => unreachable!("parse_authorization never returns Missing"),
        Some(Ok(a)) => a,
    };
    let (key_id, secret) = &state.admin_key;
    if &auth.access_key_id != key_id {
        return Err(WireError::framework(
            FrameworkError::UnrecognizedClientException,
            "The security token included in the request is invalid.",
        ));
    }
    let parts = RequestParts {
        method: req.method,
        path: req.path,
        query: req.query,
        headers: req.headers,
        body: req.body,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match sigv4::verify(&parts, &auth, secret, now) {
        Ok(()) => Ok(region),
        Err(SigV4Error::Incomplete(m)) => Err(WireError::framework(
            FrameworkError::IncompleteSignatureException,
            m,
        )),
        Err(SigV4Error::Invalid(m)) => Err(WireError::framework(
            FrameworkError::InvalidSignatureException,
            m,
        )),
        Err(SigV4Error::Missing) => Err(WireError::framework(
            FrameworkError::MissingAuthenticationTokenException,
            "Missing Authentication Token",
        )),
    }
}

/// Deserializes the validated input, runs the handler, serializes its output. `C` is
/// the handler's context: `Ctx`, or a service's own (cognito-sync's `SyncCtx`).
pub(crate) async fn run<C, Req, Resp, F, Fut>(ctx: C, input: Value, handler: F) -> ApiResult<Value>
where
    Req: DeserializeOwned,
    Resp: Serialize,
    F: FnOnce(C, Req) -> Fut,
    Fut: Future<Output = ApiResult<Resp>>,
{
    let req: Req = serde_json::from_value(input).map_err(|e| {
        WireError::framework(
            FrameworkError::SerializationException,
            format!("Cannot read the request: {e}"),
        )
    })?;
    let resp = handler(ctx, req).await?;
    // Operations without output (AdminDeleteUser, DeleteUser) answer `{}`.
    match serde_json::to_value(resp).expect("responses always serialize") {
        Value::Null => Ok(Value::Object(Default::default())),
        v => Ok(v),
    }
}

macro_rules! operations {
    ($($op:ident => $handler:path,)*) => {
        /// The operations idpool implements (the rest answer NotImplementedException).
        pub const IMPLEMENTED: &[IdpOperation] = &[$(IdpOperation::$op,)*];

        async fn dispatch(ctx: Ctx, op: IdpOperation, input: Value) -> ApiResult<Value> {
            // The operations of the model idpool does not implement yet are named in
            // docs/operations.md; they answer this, never a 404.
            match op {
                $(IdpOperation::$op => run(ctx, input, $handler).await,)*
                other => Err(WireError::framework(
                    FrameworkError::NotImplementedException,
                    format!("idpool does not implement {} yet.", other.name()),
                )),
            }
        }
    };
}

operations! {
    CreateUserPool => pools::create_user_pool,
    DescribeUserPool => pools::describe_user_pool,
    UpdateUserPool => pools::update_user_pool,
    DeleteUserPool => pools::delete_user_pool,
    ListUserPools => pools::list_user_pools,
    GetSigningCertificate => pools::get_signing_certificate,
    AddCustomAttributes => pools::add_custom_attributes,
    CreateUserPoolClient => clients::create_user_pool_client,
    DescribeUserPoolClient => clients::describe_user_pool_client,
    UpdateUserPoolClient => clients::update_user_pool_client,
    DeleteUserPoolClient => clients::delete_user_pool_client,
    ListUserPoolClients => clients::list_user_pool_clients,
    AddUserPoolClientSecret => client_secrets::add_user_pool_client_secret,
    DeleteUserPoolClientSecret => client_secrets::delete_user_pool_client_secret,
    ListUserPoolClientSecrets => client_secrets::list_user_pool_client_secrets,
    SignUp => signup::sign_up,
    ConfirmSignUp => signup::confirm_sign_up,
    ResendConfirmationCode => signup::resend_confirmation_code,
    AdminCreateUser => admin_users::admin_create_user,
    AdminGetUser => admin_users::admin_get_user,
    AdminDeleteUser => admin_users::admin_delete_user,
    AdminConfirmSignUp => admin_users::admin_confirm_sign_up,
    AdminSetUserPassword => admin_users::admin_set_user_password,
    AdminDisableUser => admin_users::admin_disable_user,
    AdminEnableUser => admin_users::admin_enable_user,
    AdminUpdateUserAttributes => admin_users::admin_update_user_attributes,
    AdminDeleteUserAttributes => admin_users::admin_delete_user_attributes,
    AdminResetUserPassword => admin_users::admin_reset_user_password,
    AdminUserGlobalSignOut => admin_users::admin_user_global_sign_out,
    ListUsers => admin_users::list_users,
    InitiateAuth => auth::initiate_auth,
    AdminInitiateAuth => auth::admin_initiate_auth,
    RespondToAuthChallenge => auth::respond_to_auth_challenge,
    AdminRespondToAuthChallenge => auth::admin_respond_to_auth_challenge,
    RevokeToken => auth::revoke_token,
    GetTokensFromRefreshToken => auth::get_tokens_from_refresh_token,
    GlobalSignOut => auth::global_sign_out,
    GetUser => self_service::get_user,
    DeleteUser => self_service::delete_user,
    UpdateUserAttributes => self_service::update_user_attributes,
    DeleteUserAttributes => self_service::delete_user_attributes,
    GetUserAttributeVerificationCode => self_service::get_user_attribute_verification_code,
    VerifyUserAttribute => self_service::verify_user_attribute,
    ChangePassword => self_service::change_password,
    ForgotPassword => self_service::forgot_password,
    ConfirmForgotPassword => self_service::confirm_forgot_password,
    SetUserPoolMfaConfig => mfa::set_user_pool_mfa_config,
    GetUserPoolMfaConfig => mfa::get_user_pool_mfa_config,
    AssociateSoftwareToken => mfa::associate_software_token,
    VerifySoftwareToken => mfa::verify_software_token,
    SetUserMFAPreference => mfa::set_user_mfa_preference,
    AdminSetUserMFAPreference => mfa::admin_set_user_mfa_preference,
    SetUserSettings => mfa::set_user_settings,
    AdminSetUserSettings => mfa::admin_set_user_settings,
    GetUserAuthFactors => mfa::get_user_auth_factors,
    AdminGetUserAuthFactors => mfa::admin_get_user_auth_factors,
    AdminDeleteSoftwareToken => mfa::admin_delete_software_token,
    GetClientToken => client_tokens::get_client_token,
    DescribeTermsByClient => branding::describe_terms_by_client,
    GetDerivedToken => token_exchange::get_derived_token,
    GetUserPoolSessionConfiguration => user_sessions::get_user_pool_session_configuration,
    CreateCIMDPolicy => cimd::create_cimd_policy,
    UpdateCIMDPolicy => cimd::update_cimd_policy,
    DescribeCIMDPolicy => cimd::describe_cimd_policy,
    DeleteCIMDPolicy => cimd::delete_cimd_policy,
    ListCIMDPolicies => cimd::list_cimd_policies,
    ListClientMetadataURLs => cimd::list_client_metadata_urls,
    UpdateClientMetadataURLState => cimd::update_client_metadata_url_state,
    InitiatePointInTimeRecovery => point_in_time_recovery::initiate_point_in_time_recovery,
    DescribePointInTimeRecovery => point_in_time_recovery::describe_point_in_time_recovery,
    ListPointInTimeRecoveries => point_in_time_recovery::list_point_in_time_recoveries,
    StartPointInTimeRecovery => point_in_time_recovery::start_point_in_time_recovery,
    CancelPointInTimeRecovery => point_in_time_recovery::cancel_point_in_time_recovery,
    SetUserPoolSessionConfiguration => user_sessions::set_user_pool_session_configuration,
    GetUserPoolClientSessionConfiguration => user_sessions::get_user_pool_client_session_configuration,
    SetUserPoolClientSessionConfiguration => user_sessions::set_user_pool_client_session_configuration,
    ListUserSessions => user_sessions::list_user_sessions,
    AdminListUserSessions => user_sessions::admin_list_user_sessions,
    RevokeUserSession => user_sessions::revoke_user_session,
    AdminRevokeUserSession => user_sessions::admin_revoke_user_session,
    StartWebAuthnRegistration => passkeys::start_web_authn_registration,
    CompleteWebAuthnRegistration => passkeys::complete_web_authn_registration,
    ListWebAuthnCredentials => passkeys::list_web_authn_credentials,
    DeleteWebAuthnCredential => passkeys::delete_web_authn_credential,
    CreateGroup => groups::create_group,
    GetGroup => groups::get_group,
    UpdateGroup => groups::update_group,
    DeleteGroup => groups::delete_group,
    ListGroups => groups::list_groups,
    AdminAddUserToGroup => groups::admin_add_user_to_group,
    AdminRemoveUserFromGroup => groups::admin_remove_user_from_group,
    AdminListGroupsForUser => groups::admin_list_groups_for_user,
    ListUsersInGroup => groups::list_users_in_group,
    CreateResourceServer => resource_servers::create_resource_server,
    DescribeResourceServer => resource_servers::describe_resource_server,
    UpdateResourceServer => resource_servers::update_resource_server,
    DeleteResourceServer => resource_servers::delete_resource_server,
    ListResourceServers => resource_servers::list_resource_servers,
    CreateIdentityProvider => identity_providers::create_identity_provider,
    DescribeIdentityProvider => identity_providers::describe_identity_provider,
    UpdateIdentityProvider => identity_providers::update_identity_provider,
    DeleteIdentityProvider => identity_providers::delete_identity_provider,
    ListIdentityProviders => identity_providers::list_identity_providers,
    GetIdentityProviderByIdentifier => identity_providers::get_identity_provider_by_identifier,
    AdminLinkProviderForUser => identity_providers::admin_link_provider_for_user,
    AdminDisableProviderForUser => identity_providers::admin_disable_provider_for_user,
    CreateUserPoolDomain => domains::create_user_pool_domain,
    DescribeUserPoolDomain => domains::describe_user_pool_domain,
    UpdateUserPoolDomain => domains::update_user_pool_domain,
    DeleteUserPoolDomain => domains::delete_user_pool_domain,
    TagResource => pool_settings::tag_resource,
    UntagResource => pool_settings::untag_resource,
    ListTagsForResource => pool_settings::list_tags_for_resource,
    SetUICustomization => pool_settings::set_ui_customization,
    GetUICustomization => pool_settings::get_ui_customization,
    SetRiskConfiguration => pool_settings::set_risk_configuration,
    DescribeRiskConfiguration => pool_settings::describe_risk_configuration,
    SetLogDeliveryConfiguration => log_delivery::set_log_delivery_configuration,
    GetLogDeliveryConfiguration => log_delivery::get_log_delivery_configuration,
    CreateManagedLoginBranding => branding::create_managed_login_branding,
    DescribeManagedLoginBranding => branding::describe_managed_login_branding,
    DescribeManagedLoginBrandingByClient => branding::describe_managed_login_branding_by_client,
    UpdateManagedLoginBranding => branding::update_managed_login_branding,
    DeleteManagedLoginBranding => branding::delete_managed_login_branding,
    CreateTerms => branding::create_terms,
    DescribeTerms => branding::describe_terms,
    UpdateTerms => branding::update_terms,
    DeleteTerms => branding::delete_terms,
    ListTerms => branding::list_terms,
    AdminListUserAuthEvents => auth_events::admin_list_user_auth_events,
    AdminUpdateAuthEventFeedback => auth_events::admin_update_auth_event_feedback,
    UpdateAuthEventFeedback => auth_events::update_auth_event_feedback,
    GetCSVHeader => import_jobs::get_csv_header,
    CreateUserImportJob => import_jobs::create_user_import_job,
    StartUserImportJob => import_jobs::start_user_import_job,
    StopUserImportJob => import_jobs::stop_user_import_job,
    DescribeUserImportJob => import_jobs::describe_user_import_job,
    ListUserImportJobs => import_jobs::list_user_import_jobs,
    ConfirmDevice => devices::confirm_device,
    GetDevice => devices::get_device,
    AdminGetDevice => devices::admin_get_device,
    ListDevices => devices::list_devices,
    AdminListDevices => devices::admin_list_devices,
    UpdateDeviceStatus => devices::update_device_status,
    AdminUpdateDeviceStatus => devices::admin_update_device_status,
    ForgetDevice => devices::forget_device,
    AdminForgetDevice => devices::admin_forget_device,
}

/// Implemented operations that lack part of what Cognito does, and what.
const PARTIAL: &[(IdpOperation, &str)] = &[
    (IdpOperation::CreateUserPool, NEW_POOL_SETTINGS),
    (IdpOperation::UpdateUserPool, NEW_POOL_SETTINGS),
    (IdpOperation::CreateUserPoolClient, NO_SECRETS_MANAGER),
    (IdpOperation::UpdateUserPoolClient, NO_SECRETS_MANAGER),
    (
        IdpOperation::CreateUserImportJob,
        "PasswordHashingAlgorithm is stored and returned, but password hashes are not imported: imported users are RESET_REQUIRED",
    ),
    (
        IdpOperation::GetDerivedToken,
        "exchanges the pool's own access and ID tokens only (no SAML2 assertions or other providers' tokens), and sends derived tokens to no PreTokenGeneration function",
    ),
];
const NEW_POOL_SETTINGS: &str = "AcrConfiguration, DcrConfiguration (there is no dynamic client registration endpoint), IssuerConfiguration and KeyConfiguration are stored and returned but change nothing";
const NO_SECRETS_MANAGER: &str = "PublishSecretsInAWSSecretsManager is accepted, but idpool has no Secrets Manager: the secret comes back as ClientSecret, never as ClientSecretArn";

/// The supported-operations table of docs/operations.md (a test keeps them equal).
pub fn operations_table() -> String {
    let mut out = String::from(
        "# cognito-idp operations\n\nGenerated by `idpool operations`; every operation of the botocore model.\n\n| Operation | Auth | idpool |\n|---|---|---|\n",
    );
    for op in IdpOperation::ALL {
        let auth = match op.auth() {
            AuthKind::Public => "public",
            AuthKind::Iam => "SigV4 (IAM)",
        };
        let status = match PARTIAL.iter().find(|(p, _)| p == op) {
            _ if !IMPLEMENTED.contains(op) => "NotImplementedException".to_string(),
            Some((_, missing)) => format!("partial: {missing}"),
            None => "implemented".to_string(),
        };
        out.push_str(&format!("| {} | {auth} | {status} |\n", op.name()));
    }
    let n = IMPLEMENTED.len();
    out.push_str(&format!(
        "\n{n} of {} operations implemented ({} of them partially).\n",
        IdpOperation::ALL.len(),
        PARTIAL.len()
    ));
    out
}
