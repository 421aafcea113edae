//! Log export: SetLogDeliveryConfiguration / GetLogDeliveryConfiguration, and the
//! records a pool then sends to its destinations. Cognito exports two streams:
//! `userNotification` at ERROR (messages that could not be delivered; CloudWatch Logs
//! only) and `userAuthEvents` at INFO (threat protection's user activity: the events
//! AdminListUserAuthEvents lists).
//!
//! idpool has no CloudWatch Logs and no Firehose, so their ARNs name local files a log
//! shipper can follow, and an S3 bucket is one of idpool's own S3 endpoint:
//! - log group `arn:aws:logs:REGION:ACCOUNT:log-group:NAME` appends JSON lines to
//!   `<data-dir>/logs/NAME.jsonl` (a `/` in NAME is a directory);
//! - Firehose stream `arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME` appends to
//!   `<data-dir>/logs/firehose/NAME.jsonl`;
//! - bucket `arn:aws:s3:::BUCKET` gets one object per record under
//!   `AWSLogs/ACCOUNT/CognitoIdentityProvider/REGION/POOL/YYYY/MM/DD/`.
//!
//! A record that cannot be written is logged by the server and dropped: a full disk
//! must not stop users from signing in. Each node keeps the pools' configurations for
//! `CONFIG_TTL` (`LogConfigCache`), so that an event costs no extra database read; a
//! change reaches the other nodes within that time.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::pool_settings::{ALL_CLIENTS, put_setting};
use super::support::load_pool;
use idpool_store::ObjectKind;
use idpool_wire::WireError;
use idpool_wire::shapes::cognito_idp::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const CONFIG_TTL: Duration = Duration::from_secs(5);
const MAX_CACHED_POOLS: usize = 10_000;

/// A pool's log delivery configuration (None: none set), shared by the requests that
/// read it.
type PoolLogConfig = Option<Arc<LogDeliveryConfigurationType>>;

/// Per node: each pool's log delivery configuration as recently read.
#[derive(Default)]
pub struct LogConfigCache {
    pools: RwLock<HashMap<String, (Instant, PoolLogConfig)>>,
    /// Bumped by every SetLogDeliveryConfiguration on this node, so that a read that
    /// raced one is not kept.
    generation: AtomicU64,
}

impl LogConfigCache {
    fn get(&self, pool_id: &str) -> Option<PoolLogConfig> {
        let pools = self.pools.read().ok()?;
        let (read_at, config) = pools.get(pool_id)?;
        (read_at.elapsed() < CONFIG_TTL).then(|| config.clone())
    }

    fn put(&self, pool_id: &str, generation: u64, config: PoolLogConfig) {
        let Ok(mut pools) = self.pools.write() else {
            return;
        };
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if pools.len() >= MAX_CACHED_POOLS {
            pools.retain(|_, (read_at, _)| read_at.elapsed() < CONFIG_TTL);
            if pools.len() >= MAX_CACHED_POOLS {
                pools.clear();
            }
        }
        pools.insert(pool_id.to_string(), (Instant::now(), config));
    }

    fn forget(&self, pool_id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut pools) = self.pools.write() {
            pools.remove(pool_id);
        }
    }
}

/// The pool's configuration, from this node's cache or the store.
async fn configuration(ctx: &Ctx, pool_id: &str) -> Result<PoolLogConfig, String> {
    let cache = &ctx.state.log_configs;
    if let Some(config) = cache.get(pool_id) {
        return Ok(config);
    }
    let generation = cache.generation.load(Ordering::Acquire);
    let config = ctx
        .state
        .store
        .get_object(pool_id, ObjectKind::LogDeliveryConfiguration, ALL_CLIENTS)
        .await
        .map_err(|e| e.to_string())?
        .map(|row| serde_json::from_value(row.doc).map(Arc::new))
        .transpose()
        .map_err(|e| e.to_string())?;
    cache.put(pool_id, generation, config.clone());
    Ok(config)
}

/// The two streams of records, by their `EventSource` in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    UserNotification,
    UserAuthEvents,
}

impl LogStream {
    fn configured_as(self) -> &'static str {
        match self {
            LogStream::UserNotification => "userNotification",
            LogStream::UserAuthEvents => "userAuthEvents",
        }
    }

    fn record_source(self) -> &'static str {
        match self {
            LogStream::UserNotification => "USER_NOTIFICATION",
            LogStream::UserAuthEvents => "USER_AUTH_EVENTS",
        }
    }

    fn level(self) -> &'static str {
        match self {
            LogStream::UserNotification => "ERROR",
            LogStream::UserAuthEvents => "INFO",
        }
    }
}

/// Where one log configuration's records go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Destination {
    /// A JSON-lines file under `<data-dir>/logs`.
    File(PathBuf),
    /// A bucket of idpool's S3 endpoint.
    Bucket(String),
}

/// A log group or stream name as a relative path: CloudWatch's characters only, no
/// empty, `.` or `..` part, so a name cannot write outside the logs directory.
fn relative_name(name: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty()).collect();
    let safe = |p: &&str| {
        *p != "."
            && *p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.#".contains(c))
    };
    if parts.is_empty() || !parts.iter().all(safe) {
        return None;
    }
    let mut path: PathBuf = parts.iter().collect();
    path.set_extension(match path.extension() {
        Some(ext) => format!("{}.jsonl", ext.to_string_lossy()),
        None => "jsonl".into(),
    });
    Some(path)
}

fn destination(logs_dir: &Path, c: &LogConfigurationType) -> Result<Destination, String> {
    if let Some(cw) = &c.cloud_watch_logs_configuration {
        let arn = cw.log_group_arn.as_deref().unwrap_or_default();
        let name = arn
            .strip_prefix("arn:aws:logs:")
            .and_then(|rest| rest.split_once(":log-group:"))
            .map(|(_, name)| name.trim_end_matches(":*"))
            .ok_or_else(|| format!("{arn} is not the ARN of a CloudWatch Logs log group."))?;
        let path =
            relative_name(name).ok_or_else(|| format!("{name} is not a valid log group name."))?;
        return Ok(Destination::File(logs_dir.join(path)));
    }
    if let Some(f) = &c.firehose_configuration {
        let arn = f.stream_arn.as_deref().unwrap_or_default();
        let name = arn
            .strip_prefix("arn:aws:firehose:")
            .and_then(|rest| rest.split_once(":deliverystream/"))
            .map(|(_, name)| name)
            .ok_or_else(|| format!("{arn} is not the ARN of a Firehose delivery stream."))?;
        let path = relative_name(name)
            .filter(|p| p.components().count() == 1)
            .ok_or_else(|| format!("{name} is not a valid delivery stream name."))?;
        return Ok(Destination::File(logs_dir.join("firehose").join(path)));
    }
    if let Some(s3) = &c.s3_configuration {
        let arn = s3.bucket_arn.as_deref().unwrap_or_default();
        let bucket = arn
            .strip_prefix("arn:aws:s3:::")
            .filter(|b| {
                (3..=63).contains(&b.len())
                    && b.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.".contains(c))
                    && !b.starts_with('.')
                    && !b.contains("..")
            })
            .ok_or_else(|| format!("{arn} is not the ARN of an S3 bucket."))?;
        return Ok(Destination::Bucket(bucket.to_string()));
    }
    Err(
        "Each log configuration needs exactly one destination: CloudWatch Logs, S3 or Firehose."
            .into(),
    )
}

fn logs_dir(ctx: &Ctx) -> PathBuf {
    ctx.state.config.data_dir.join("logs")
}

pub async fn set_log_delivery_configuration(
    ctx: Ctx,
    req: SetLogDeliveryConfigurationRequest,
) -> ApiResult<SetLogDeliveryConfigurationResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    for c in &req.log_configurations {
        let destinations = [
            c.cloud_watch_logs_configuration.is_some(),
            c.s3_configuration.is_some(),
            c.firehose_configuration.is_some(),
        ];
        if destinations.iter().filter(|d| **d).count() != 1 {
            return Err(WireError::invalid_parameter(
                "Each log configuration needs exactly one destination: CloudWatch Logs, S3 or Firehose.",
            ));
        }
        let stream = match c.event_source.as_str() {
            "userNotification" => LogStream::UserNotification,
            _ => LogStream::UserAuthEvents,
        };
        if c.log_level.as_str() != stream.level() {
            return Err(WireError::invalid_parameter(format!(
                "{} logs are exported at LogLevel {}.",
                stream.configured_as(),
                stream.level()
            )));
        }
        if stream == LogStream::UserNotification && c.cloud_watch_logs_configuration.is_none() {
            return Err(WireError::invalid_parameter(
                "userNotification logs are exported to CloudWatch Logs only.",
            ));
        }
        if req
            .log_configurations
            .iter()
            .filter(|other| other.event_source == c.event_source)
            .count()
            > 1
        {
            return Err(WireError::invalid_parameter(format!(
                "Only one log configuration per EventSource: {} is given twice.",
                stream.configured_as()
            )));
        }
        match destination(&logs_dir(&ctx), c).map_err(WireError::invalid_parameter)? {
            Destination::Bucket(bucket)
                if !tokio::fs::try_exists(ctx.state.config.s3_dir.join(&bucket))
                    .await
                    .unwrap_or(false) =>
            {
                return Err(WireError::invalid_parameter(format!(
                    "The S3 bucket {bucket} does not exist: create it on idpool's S3 endpoint first."
                )));
            }
            _ => {}
        }
    }
    let config = LogDeliveryConfigurationType {
        user_pool_id: pool.id.clone(),
        log_configurations: req.log_configurations,
    };
    put_setting(
        &ctx,
        &pool,
        ObjectKind::LogDeliveryConfiguration,
        ALL_CLIENTS,
        json!(config),
    )
    .await?;
    ctx.state.log_configs.forget(&pool.id);
    Ok(SetLogDeliveryConfigurationResponse {
        log_delivery_configuration: Some(config),
    })
}

pub async fn get_log_delivery_configuration(
    ctx: Ctx,
    req: GetLogDeliveryConfigurationRequest,
) -> ApiResult<GetLogDeliveryConfigurationResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let row = ctx
        .state
        .store
        .get_object(&pool.id, ObjectKind::LogDeliveryConfiguration, ALL_CLIENTS)
        .await
        .wire()?;
    let config = match row {
        Some(r) => serde_json::from_value(r.doc).ok(),
        None => Some(LogDeliveryConfigurationType {
            user_pool_id: pool.id.clone(),
            log_configurations: Vec::new(),
        }),
    };
    Ok(GetLogDeliveryConfigurationResponse {
        log_delivery_configuration: config,
    })
}

/// Sends one record of `stream` to where the pool's configuration says, if anywhere.
/// `message` makes the record's body (the event, or what failed to be delivered); it
/// runs only for pools that export the stream, so the rest pay nothing per event.
pub async fn export(ctx: &Ctx, pool_id: &str, stream: LogStream, message: impl FnOnce() -> Value) {
    if let Err(e) = try_export(ctx, pool_id, stream, message).await {
        tracing::warn!(pool = pool_id, error = %e, "log export failed");
    }
}

async fn try_export(
    ctx: &Ctx,
    pool_id: &str,
    stream: LogStream,
    message: impl FnOnce() -> Value,
) -> Result<(), String> {
    let Some(config) = configuration(ctx, pool_id).await? else {
        return Ok(());
    };
    let Some(c) = config
        .log_configurations
        .iter()
        .find(|c| c.event_source.as_str() == stream.configured_as())
    else {
        return Ok(());
    };
    let record = json!({
        "eventTimestamp": ctx.now.to_string(),
        "eventSource": stream.record_source(),
        "logLevel": stream.level(),
        "logSourceId": {"userPoolId": pool_id, "resourceType": "USER_POOL"},
        "message": message(),
    });
    match destination(&logs_dir(ctx), c)? {
        Destination::File(path) => append_line(&path, &record).await,
        Destination::Bucket(bucket) => put_object(ctx, pool_id, &bucket, &record).await,
    }
}

async fn append_line(path: &Path, record: &Value) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut line = record.to_string();
    line.push('\n');
    // One write of the whole line to a file opened for appending, so records of
    // concurrent requests never interleave.
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(line.as_bytes())
        .await
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// One object per record in the bucket's directory of the S3 endpoint (an object
/// there is a plain file), written whole and then renamed into place so that a
/// reader never sees half of it.
async fn put_object(ctx: &Ctx, pool_id: &str, bucket: &str, record: &Value) -> Result<(), String> {
    let bucket_dir = ctx.state.config.s3_dir.join(bucket);
    if !tokio::fs::try_exists(&bucket_dir).await.unwrap_or(false) {
        return Err(format!("S3 bucket {bucket} no longer exists"));
    }
    let day = idpool_wire::query::iso8601(ctx.now / 1000);
    let (date, _) = day.split_once('T').unwrap_or((&day, ""));
    let key: PathBuf = [
        "AWSLogs",
        &ctx.state.config.account_id,
        "CognitoIdentityProvider",
        &ctx.region,
        pool_id,
    ]
    .iter()
    .copied()
    .chain(date.split('-'))
    .collect();
    let dir = bucket_dir.join(key);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let name = format!("{}-{}.json", ctx.now, idpool_core::ids::uuid());
    let partial = dir.join(format!(".{name}.partial"));
    tokio::fs::write(&partial, record.to_string())
        .await
        .map_err(|e| format!("{}: {e}", partial.display()))?;
    tokio::fs::rename(&partial, dir.join(&name))
        .await
        .map_err(|e| format!("{}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_group_names_stay_inside_the_logs_directory() {
        assert_eq!(
            relative_name("/aws/vendedlogs/cognito"),
            Some(PathBuf::from("aws/vendedlogs/cognito.jsonl"))
        );
        assert_eq!(
            relative_name("app.auth"),
            Some(PathBuf::from("app.auth.jsonl"))
        );
        for bad in ["", "/", "../etc/x", "a/../../b", "a/./b", "a b", "a\\b"] {
            assert_eq!(relative_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn destinations_by_arn() {
        let dir = Path::new("/d");
        let cw = |arn: &str| LogConfigurationType {
            cloud_watch_logs_configuration: Some(CloudWatchLogsConfigurationType {
                log_group_arn: Some(arn.into()),
            }),
            ..Default::default()
        };
        assert_eq!(
            destination(
                dir,
                &cw("arn:aws:logs:us-east-1:123456789012:log-group:/idp/auth:*")
            ),
            Ok(Destination::File(PathBuf::from("/d/idp/auth.jsonl")))
        );
        assert!(
            destination(
                dir,
                &cw("arn:aws:logs:us-east-1:123456789012:log-group:../x")
            )
            .is_err()
        );
        assert!(destination(dir, &cw("arn:aws:s3:::bucket")).is_err());
        let fh = LogConfigurationType {
            firehose_configuration: Some(FirehoseConfigurationType {
                stream_arn: Some(
                    "arn:aws:firehose:us-east-1:123456789012:deliverystream/auth".into(),
                ),
            }),
            ..Default::default()
        };
        assert_eq!(
            destination(dir, &fh),
            Ok(Destination::File(PathBuf::from("/d/firehose/auth.jsonl")))
        );
        let s3 = |arn: &str| LogConfigurationType {
            s3_configuration: Some(S3ConfigurationType {
                bucket_arn: Some(arn.into()),
            }),
            ..Default::default()
        };
        assert_eq!(
            destination(dir, &s3("arn:aws:s3:::auth-logs")),
            Ok(Destination::Bucket("auth-logs".into()))
        );
        assert!(destination(dir, &s3("arn:aws:s3:::../x")).is_err());
        assert!(destination(dir, &s3("arn:aws:s3:::Upper")).is_err());
    }
}
