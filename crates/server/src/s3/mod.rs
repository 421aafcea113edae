//! The S3-compatible endpoint (`--s3-listen`, cargo feature `s3`, on by default): where
//! identity-pool credentials are enforced end to end, as the seed's photo app needs
//! ("each user may read and write only `mybucket/<their identity id>/*`").
//!
//! s3s speaks the protocol (routing, XML, SigV4 and presigned URLs, streaming
//! payloads) over s3s-fs, which keeps buckets as directories under `--s3-dir`. idpool
//! supplies the two decisions s3s leaves open:
//! - whose secret signs a request (`CredentialStore`): the admin key, or temporary
//!   credentials whose secret is derived from their access key id (`sts/session.rs`);
//! - what the signer may do (`PolicyCheck`): temporary credentials are checked like
//!   any AWS request, the session token opened and its expiry enforced, then the
//!   role's policies (read at every request) and the session policy decide, through
//!   the same engine as `POST /_idpool/authorize`. The admin may do anything; anyone
//!   else, anonymous included, nothing (idpool has no bucket policies or ACLs).
//!
//! In `--dev` mode a request that is not signed with the admin key or with temporary
//! credentials is served as the admin, as everywhere in dev mode, so `aws s3` with
//! any profile works; temporary credentials are checked in every mode, since they
//! carry permissions.

use crate::access;
use crate::api::Ctx;
use crate::state::SharedState;
use crate::sts::session::{self, SessionGrant, secret_for};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idpool_core::policy::RequestContext;
use idpool_wire::query::QueryErrorCode;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::{CopyObjectInput, CopySource, DeleteObjectsInput, UploadPartCopyInput};
use s3s::path::S3Path;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result, s3_error};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::TcpListener;

/// Serves the endpoint on `listener` until `shutdown` completes.
pub async fn serve(
    state: SharedState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let dir = &state.config.s3_dir;
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let files = s3s_fs::FileSystem::new(dir)
        .map_err(|e| format!("S3 endpoint over {}: {e:?}", dir.display()))?;
    let mut builder = S3ServiceBuilder::new(files);
    builder.set_auth(CredentialStore {
        state: state.clone(),
    });
    builder.set_access(PolicyCheck {
        state: state.clone(),
    });
    let edge = Arc::new(S3Edge {
        state,
        service: builder.build(),
    });
    let app = Router::new().fallback(handle).with_state(edge);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(|e| e.to_string())
}

struct S3Edge {
    state: SharedState,
    service: S3Service,
}

/// The address a request came from, for `aws:SourceIp` conditions.
#[derive(Clone, Copy)]
struct SourceIp(IpAddr);

async fn handle(
    State(edge): State<Arc<S3Edge>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (mut parts, body) = req.into_parts();
    if edge.state.config.dev && !signed_by_known_key(&edge.state, &parts) {
        // Dev mode accepts any credentials, but s3s can only check a signature whose
        // secret it is given: serve the request unsigned, which PolicyCheck lets the
        // admin do in dev mode.
        parts.headers.remove(header::AUTHORIZATION);
        strip_presigned_query(&mut parts.uri);
    }
    copy_v2_presigned_token_to_header(&mut parts);
    parts.extensions.insert(SourceIp(peer.ip()));
    let req = axum::http::Request::from_parts(parts, s3s::Body::http_body_unsync(body));
    match edge.service.call(req).await {
        Ok(resp) => resp.map(Body::new),
        Err(e) => {
            tracing::error!(error = ?e, "S3 request failed");
            let mut resp = (StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_ERROR_XML).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            resp
        }
    }
}

const INTERNAL_ERROR_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>";

/// The access key of a header-signed or presigned request.
fn access_key_of(parts: &axum::http::request::Parts) -> Option<String> {
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        let auth = auth.to_str().ok()?;
        let credential = auth.split("Credential=").nth(1)?;
        return credential.split('/').next().map(str::to_string);
    }
    let query = parts.uri.query()?;
    match query_param(query, "X-Amz-Credential") {
        Some(credential) => credential.split('/').next().map(str::to_string),
        None => query_param(query, "AWSAccessKeyId"),
    }
}

fn signed_by_known_key(state: &SharedState, parts: &axum::http::request::Parts) -> bool {
    match access_key_of(parts) {
        Some(key) => key == state.admin_key.0 || key.starts_with("ASIA"),
        None => false,
    }
}

/// SigV2 presigned URLs (boto3's default for `generate_presigned_url`) carry the
/// session token as the `x-amz-security-token` query parameter, yet sign it as if it
/// were an `x-amz-` header, as S3 defines; s3s builds the canonical headers from the
/// request's headers only, so the token is given to it as a header too.
fn copy_v2_presigned_token_to_header(parts: &mut axum::http::request::Parts) {
    let Some(query) = parts.uri.query() else {
        return;
    };
    if query_param(query, "AWSAccessKeyId").is_none()
        || parts.headers.contains_key("x-amz-security-token")
    {
        return;
    }
    if let Some(token) = query_param(query, "x-amz-security-token")
        && let Ok(value) = HeaderValue::from_str(&token)
    {
        parts.headers.insert("x-amz-security-token", value);
    }
}

fn strip_presigned_query(uri: &mut axum::http::Uri) {
    let Some(query) = uri.query() else { return };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !is_presigning_parameter(pair.split('=').next().unwrap_or_default()))
        .collect();
    let path = uri.path();
    let rebuilt = if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    if let Ok(new_uri) = rebuilt.parse() {
        *uri = new_uri;
    }
}

/// The query parameters of SigV4 (`X-Amz-*`) and SigV2 presigned URLs.
fn is_presigning_parameter(name: &str) -> bool {
    name.get(..6)
        .is_some_and(|p| p.eq_ignore_ascii_case("x-amz-"))
        || matches!(name, "AWSAccessKeyId" | "Signature" | "Expires")
}

/// A query parameter, percent-decoded.
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_encoding::percent_decode_str(k).decode_utf8().ok()?;
        (k == name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// Gives s3s the secret of the key a request claims; s3s then checks the signature.
struct CredentialStore {
    state: SharedState,
}

#[async_trait::async_trait]
impl S3Auth for CredentialStore {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let (admin_id, admin_secret) = &self.state.admin_key;
        if access_key == admin_id {
            return Ok(SecretKey::from(admin_secret.as_str()));
        }
        if access_key.starts_with("ASIA") {
            // Any ASIA key has a derivable secret; only idpool's STS can hand it out,
            // and PolicyCheck then requires the session token issued with it.
            return Ok(SecretKey::from(secret_for(&self.state, access_key)));
        }
        Err(s3_error!(
            InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records."
        ))
    }
}

/// Who signed a request, kept in its extensions for the per-operation checks.
#[derive(Clone)]
enum S3Caller {
    Admin,
    Session(Box<SessionGrant>),
}

/// Authorizes every request with the policy engine.
struct PolicyCheck {
    state: SharedState,
}

impl PolicyCheck {
    fn caller(&self, cx: &S3AccessContext<'_>, now_s: i64) -> S3Result<S3Caller> {
        let Some(credentials) = cx.credentials() else {
            if self.state.config.dev {
                return Ok(S3Caller::Admin);
            }
            return Err(s3_error!(AccessDenied, "Access Denied"));
        };
        if credentials.access_key == self.state.admin_key.0 {
            return Ok(S3Caller::Admin);
        }
        let token = cx
            .headers()
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| query_param(cx.uri().query()?, "X-Amz-Security-Token"))
            .ok_or_else(|| {
                s3_error!(
                    InvalidToken,
                    "Temporary credentials need their session token (x-amz-security-token)."
                )
            })?;
        let grant = session::open_session(&self.state, &credentials.access_key, &token, now_s)
            .map_err(|e| match e.code {
                QueryErrorCode::ExpiredToken => {
                    s3_error!(ExpiredToken, "The provided token has expired.")
                }
                _ => s3_error!(
                    InvalidToken,
                    "The provided token is malformed or otherwise invalid."
                ),
            })?;
        Ok(S3Caller::Session(Box::new(grant)))
    }
}

/// The IAM action an S3 operation is authorized as, where it is not `s3:<Operation>`.
fn iam_action(operation: &str) -> String {
    let action = match operation {
        "HeadObject" | "GetObjectAttributes" | "SelectObjectContent" => "GetObject",
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "ListBucket",
        "ListObjectVersions" => "ListBucketVersions",
        "ListBuckets" => "ListAllMyBuckets",
        "ListMultipartUploads" => "ListBucketMultipartUploads",
        "ListParts" => "ListMultipartUploadParts",
        "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload"
        | "CopyObject" => "PutObject",
        "DeleteObjects" => "DeleteObject",
        "DeleteObjectTagging" => "DeleteObjectTagging",
        other => other,
    };
    format!("s3:{action}")
}

fn object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

fn resource_arn(path: &S3Path) -> String {
    match path {
        S3Path::Root => "*".to_string(),
        S3Path::Bucket { bucket } => format!("arn:aws:s3:::{bucket}"),
        S3Path::Object { bucket, key } => object_arn(bucket, key),
    }
}

impl PolicyCheck {
    /// Allows `action` on `resource` for the request's caller, or fails with S3's
    /// AccessDenied naming what was refused.
    async fn require(
        &self,
        caller: Option<&S3Caller>,
        action: &str,
        resource: &str,
        extra: impl FnOnce(RequestContext) -> RequestContext,
    ) -> S3Result<()> {
        let grant = match caller {
            Some(S3Caller::Admin) => return Ok(()),
            Some(S3Caller::Session(grant)) => grant,
            None => return Err(s3_error!(AccessDenied, "Access Denied")),
        };
        let ctx = Ctx::for_state(self.state.clone());
        let rc = extra(access::request_context(&ctx, grant, action, resource));
        let decision = access::decide(&ctx, grant, &rc).await.map_err(|e| {
            tracing::error!(error = %e.message, "S3 authorization failed");
            S3Error::new(S3ErrorCode::InternalError)
        })?;
        if decision.is_allowed() {
            Ok(())
        } else {
            let refusal = access::denied(grant, action, resource, decision);
            Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                refusal.message,
            ))
        }
    }

    /// CopyObject and UploadPartCopy also read their source.
    async fn require_copy_source(
        &self,
        caller: Option<&S3Caller>,
        source: &CopySource,
    ) -> S3Result<()> {
        match source {
            CopySource::Bucket { bucket, key, .. } => {
                self.require(caller, "s3:GetObject", &object_arn(bucket, key), |rc| rc)
                    .await
            }
            _ => Err(s3_error!(
                NotImplemented,
                "Copying from an access point is not supported."
            )),
        }
    }
}

#[async_trait::async_trait]
impl S3Access for PolicyCheck {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let now_s = Ctx::for_state(self.state.clone()).now_s();
        let caller = self.caller(cx, now_s)?;
        cx.extensions_mut().insert(caller.clone());
        let source_ip = cx.extensions_mut().get::<SourceIp>().map(|ip| ip.0);
        let operation = cx.s3_op().name();
        if operation == "DeleteObjects" {
            // Authorized per key once the request body is read (delete_objects below).
            return Ok(());
        }
        let action = iam_action(operation);
        let resource = resource_arn(cx.s3_path());
        let listing = matches!(
            operation,
            "ListObjects" | "ListObjectsV2" | "ListObjectVersions"
        );
        let query = cx.uri().query().unwrap_or_default().to_string();
        self.require(Some(&caller), &action, &resource, |mut rc| {
            if let Some(ip) = source_ip {
                rc = rc.with("aws:SourceIp", ip.to_string());
            }
            if listing {
                // S3 sets s3:prefix even when the request names none (as ""), which is
                // how policies allow listing a bucket's top level.
                rc = rc.with(
                    "s3:prefix",
                    query_param(&query, "prefix").unwrap_or_default(),
                );
                for (param, key) in [("delimiter", "s3:delimiter"), ("max-keys", "s3:max-keys")] {
                    if let Some(v) = query_param(&query, param) {
                        rc = rc.with(key, v);
                    }
                }
            }
            rc
        })
        .await
    }

    async fn delete_objects(&self, req: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        let caller = req.extensions.get::<S3Caller>().cloned();
        for object in &req.input.delete.objects {
            let resource = object_arn(&req.input.bucket, &object.key);
            self.require(caller.as_ref(), "s3:DeleteObject", &resource, |rc| rc)
                .await?;
        }
        Ok(())
    }

    async fn copy_object(&self, req: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        let caller = req.extensions.get::<S3Caller>().cloned();
        self.require_copy_source(caller.as_ref(), &req.input.copy_source)
            .await
    }

    async fn upload_part_copy(&self, req: &mut S3Request<UploadPartCopyInput>) -> S3Result<()> {
        let caller = req.extensions.get::<S3Caller>().cloned();
        self.require_copy_source(caller.as_ref(), &req.input.copy_source)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_map_to_the_actions_policies_name() {
        assert_eq!(iam_action("GetObject"), "s3:GetObject");
        assert_eq!(iam_action("HeadObject"), "s3:GetObject");
        assert_eq!(iam_action("ListObjectsV2"), "s3:ListBucket");
        assert_eq!(iam_action("CompleteMultipartUpload"), "s3:PutObject");
        assert_eq!(iam_action("ListBuckets"), "s3:ListAllMyBuckets");
        assert_eq!(iam_action("DeleteBucket"), "s3:DeleteBucket");
    }

    #[test]
    fn resources_are_s3_arns_with_the_raw_key() {
        let path = S3Path::Object {
            bucket: "mybucket".into(),
            key: "us-east-1:abc/photo one.jpg".into(),
        };
        assert_eq!(
            resource_arn(&path),
            "arn:aws:s3:::mybucket/us-east-1:abc/photo one.jpg"
        );
        assert_eq!(
            resource_arn(&S3Path::Bucket {
                bucket: "mybucket".into()
            }),
            "arn:aws:s3:::mybucket"
        );
        assert_eq!(resource_arn(&S3Path::Root), "*");
    }

    #[test]
    fn query_parameters_are_decoded() {
        let q = "list-type=2&prefix=us-east-1%3Aabc%2F&delimiter=%2F&X-Amz-Security-Token=a%2Bb";
        assert_eq!(query_param(q, "prefix").as_deref(), Some("us-east-1:abc/"));
        assert_eq!(query_param(q, "delimiter").as_deref(), Some("/"));
        assert_eq!(
            query_param(q, "X-Amz-Security-Token").as_deref(),
            Some("a+b")
        );
        assert_eq!(query_param(q, "max-keys"), None);
    }
}
