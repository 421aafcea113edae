//! Configuration: TOML file < `IDPOOL_*` environment < command-line flags. Every option
//! is documented next to its default.

use clap::Args;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeArgs {
    /// TOML file with any of these options (kebab-case keys).
    #[arg(long, env = "IDPOOL_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on. Default 127.0.0.1:9229; port 0 picks a free port.
    #[arg(long, env = "IDPOOL_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory for the SQLite database, the generated master key and admin keys.
    /// Default ./idpool-data.
    #[arg(long, env = "IDPOOL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// sqlite://path or postgres://... Default: SQLite file idpool.db in the data dir.
    #[arg(long, env = "IDPOOL_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Base URL of token issuers (`iss` = {public-url}/{poolId}). Default http://<listen>.
    #[arg(long, env = "IDPOOL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Region used when a request's signature names none. Default us-east-1.
    #[arg(long, env = "IDPOOL_REGION")]
    pub region: Option<String>,
    /// Account id in ARNs. Default 123456789012.
    #[arg(long, env = "IDPOOL_ACCOUNT_ID")]
    pub account_id: Option<String>,
    /// Development mode: any credentials accepted, outbox and reset over HTTP.
    #[arg(long, env = "IDPOOL_DEV")]
    #[serde(default)]
    pub dev: bool,
    /// 64 hex characters (32 bytes) encrypting secrets at rest. Default: generated into
    /// the data dir. Multi-node deployments must give every node the same key.
    #[arg(long, env = "IDPOOL_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// smtp://host:port (plain) or smtps://user:pass@host:port. Default: outbox only.
    #[arg(long, env = "IDPOOL_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// From address of emails. Default no-reply@verificationemail.com (Cognito's).
    #[arg(long, env = "IDPOOL_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// URL that text messages (codes, invitations) are POSTed to as JSON, for an SMS
    /// gateway of your own (docs/messages.md). Default: outbox only.
    #[arg(long, env = "IDPOOL_SMS_WEBHOOK_URL")]
    pub sms_webhook_url: Option<String>,
    /// Key of the HMAC-SHA256 signature on each SMS webhook request
    /// (`X-Idpool-Signature`), so the gateway can refuse anyone else's.
    #[arg(long, env = "IDPOOL_SMS_WEBHOOK_SECRET", hide_env_values = true)]
    pub sms_webhook_secret: Option<String>,
    /// URL that Cognito Sync's push notifications (a dataset changed) are POSTed to
    /// as JSON, one per subscribed device, for a push relay of your own (APNs, FCM...):
    /// idpool's stand-in for SNS platform applications (docs/cognito-sync.md).
    #[arg(long, env = "IDPOOL_PUSH_WEBHOOK_URL")]
    pub push_webhook_url: Option<String>,
    /// Key of the HMAC-SHA256 signature on each push webhook request.
    #[arg(long, env = "IDPOOL_PUSH_WEBHOOK_SECRET", hide_env_values = true)]
    pub push_webhook_secret: Option<String>,
    /// A directory of hosted-UI templates (login.html, signup.html, ... as in
    /// crates/server/templates) that replace the built-in ones of the same name.
    #[arg(long, env = "IDPOOL_UI_TEMPLATES_DIR")]
    pub ui_templates_dir: Option<PathBuf>,
    /// Address of the S3-compatible endpoint: buckets kept as directories under
    /// --s3-dir, every request signed and authorized by the policy engine (identity-pool
    /// credentials; README's "Identity pools and temporary credentials"). Default
    /// 127.0.0.1:9230; port 0 picks a free port; "off" disables it.
    #[arg(long, env = "IDPOOL_S3_LISTEN")]
    pub s3_listen: Option<String>,
    /// Threat protection's list of breached passwords: the Pwned Passwords SHA-1 list
    /// "ordered by hash" (one hash per line, sorted, `:count` optional), searched in
    /// place. Without it only a built-in list of the most common breached passwords is
    /// refused (README's "Threat protection").
    #[arg(long, env = "IDPOOL_BREACHED_PASSWORDS")]
    pub breached_passwords: Option<PathBuf>,
    /// A MaxMind DB city database (GeoLite2-City.mmdb, DB-IP City Lite...) naming the
    /// city and country of sign-ins in the event history and threat protection.
    /// Default: none, places are unknown.
    #[arg(long, env = "IDPOOL_GEOIP_DATABASE")]
    pub geoip_database: Option<PathBuf>,
    /// Comma-separated address ranges (CIDR) of reverse proxies in front of idpool:
    /// for requests from them, the user's address is read from X-Forwarded-For
    /// (threat protection, event history). Default: none, the TCP peer is the user.
    #[arg(long, env = "IDPOOL_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// How far in the past a point-in-time recovery's restore point must be, in
    /// seconds. Default 900: Cognito's 15 minutes, which keep a recovery from undoing
    /// changes still being made. Test suites lower it to exercise recoveries quickly.
    #[arg(long, env = "IDPOOL_RECOVERY_MIN_AGE_SECONDS")]
    pub recovery_min_age_seconds: Option<u64>,
    /// Directory holding the S3 endpoint's buckets. Default <data-dir>/s3.
    #[arg(long, env = "IDPOOL_S3_DIR")]
    pub s3_dir: Option<PathBuf>,
    /// Where trigger functions not mapped under `[functions]` are invoked: a Lambda
    /// Invoke API endpoint (AWS Lambda or an emulator). Overrides `[lambda] endpoint`.
    #[arg(long, env = "IDPOOL_LAMBDA_ENDPOINT")]
    #[serde(skip)]
    pub lambda_endpoint: Option<String>,
    /// Config file only: `[functions."<function ARN>"]` tables mapping the ARNs of a
    /// pool's LambdaConfig to a local command or an HTTP URL (docs/triggers.md).
    #[arg(skip)]
    #[serde(default)]
    pub functions: BTreeMap<String, FunctionTarget>,
    /// Config file only: the `[lambda]` table (Invoke API endpoint, credentials,
    /// timeout and attempts of every trigger call).
    #[arg(skip)]
    #[serde(default)]
    pub lambda: Option<LambdaSettings>,
    /// Config file only: `[sender-keys]`, "<KMSKeyID ARN>" = "<64 hex>": the local
    /// stand-in for the KMS key with which Cognito encrypts the codes it hands to
    /// CustomEmailSender / CustomSMSSender (docs/triggers.md).
    #[arg(skip)]
    #[serde(default)]
    pub sender_keys: BTreeMap<String, String>,
    /// Config file only: `[streams."<StreamName>"] url = "..."`: where Cognito Streams
    /// records go for identity pools whose CognitoStreams configuration names that
    /// stream (POSTed as JSON, docs/cognito-sync.md), idpool's stand-in for Kinesis.
    #[arg(skip)]
    #[serde(default)]
    pub streams: BTreeMap<String, StreamTarget>,
    /// Config file only: `[social-apis]`, the base URLs of the APIs that check
    /// Facebook, Login with Amazon and Twitter logins of identity pools (a test points
    /// them at a fake provider; README.md, Configuration).
    #[arg(skip)]
    #[serde(default)]
    pub social_apis: Option<SocialApiSettings>,
}

/// `[social-apis]` as written in the config file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SocialApiSettings {
    /// Default https://graph.facebook.com.
    pub facebook_graph_url: Option<String>,
    /// Default https://api.amazon.com.
    pub amazon_api_url: Option<String>,
    /// Default https://api.twitter.com.
    pub twitter_api_url: Option<String>,
}

/// Resolved base URLs of the social providers' APIs, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocialApis {
    pub facebook_graph_url: String,
    pub amazon_api_url: String,
    pub twitter_api_url: String,
}

impl Default for SocialApis {
    fn default() -> Self {
        SocialApis {
            facebook_graph_url: "https://graph.facebook.com".into(),
            amazon_api_url: "https://api.amazon.com".into(),
            twitter_api_url: "https://api.twitter.com".into(),
        }
    }
}

impl SocialApis {
    /// The settings over the defaults. Users' access tokens travel to these URLs, so
    /// plain `http://` is refused unless it stays on this machine or in dev mode.
    fn resolve(settings: Option<SocialApiSettings>, dev: bool) -> Result<SocialApis, String> {
        let settings = settings.unwrap_or_default();
        let defaults = SocialApis::default();
        let check = |key: &str, value: Option<String>, default: String| {
            let Some(url) = value else {
                return Ok(default);
            };
            let parsed =
                secret_bearing_url(&format!("[social-apis] {key}"), &url, "access tokens", dev)?;
            if parsed.query().is_some() || parsed.fragment().is_some() {
                return Err(format!(
                    "[social-apis] {key} = {url:?}: a base URL has no query or fragment"
                ));
            }
            // Url's form: lowercase scheme and host, no default port, as OAuth 1.0a's
            // signature base string wants them.
            Ok(parsed.as_str().trim_end_matches('/').to_string())
        };
        Ok(SocialApis {
            facebook_graph_url: check(
                "facebook-graph-url",
                settings.facebook_graph_url,
                defaults.facebook_graph_url,
            )?,
            amazon_api_url: check(
                "amazon-api-url",
                settings.amazon_api_url,
                defaults.amazon_api_url,
            )?,
            twitter_api_url: check(
                "twitter-api-url",
                settings.twitter_api_url,
                defaults.twitter_api_url,
            )?,
        })
    }
}

/// Where one Cognito Streams stream's records are delivered.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StreamTarget {
    /// Each record is POSTed here as JSON; any 2xx is delivered, anything else is
    /// retried (three attempts, five seconds each).
    pub url: String,
}

/// Where one trigger function runs. Exactly one of `command` and `url`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FunctionTarget {
    /// Program and arguments: the event JSON on stdin, the response JSON on stdout;
    /// a non-zero exit is a handler error (Lambda's `{"errorMessage": ...}` on stdout,
    /// else the last line of stderr). Run in the config file's directory.
    pub command: Option<Vec<String>>,
    /// The event is POSTed as JSON; a 2xx answer is the response JSON, any other
    /// status a handler error (`errorMessage` of a JSON body, else the body).
    pub url: Option<String>,
}

/// How triggers are invoked.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LambdaSettings {
    /// Lambda Invoke API base URL for ARNs not under `[functions]`.
    pub endpoint: Option<String>,
    /// SigV4 credentials for the Invoke API. Default: AWS_ACCESS_KEY_ID /
    /// AWS_SECRET_ACCESS_KEY, else "test"/"test" (what local emulators accept).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Per attempt. Default 5000, Cognito's limit.
    pub timeout_ms: Option<u64>,
    /// Attempts when a call times out or the endpoint fails. Default 3, as Cognito.
    pub attempts: Option<u32>,
}

/// Resolved trigger invocation settings.
#[derive(Debug, Clone)]
pub struct TriggerConfig {
    pub functions: BTreeMap<String, FunctionTarget>,
    pub lambda_endpoint: Option<String>,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub timeout_ms: u64,
    pub attempts: u32,
    /// Where commands run: the config file's directory, else the working directory.
    pub command_dir: Option<PathBuf>,
    /// 32-byte AES-256-GCM keys by KMSKeyID, for custom sender codes.
    pub sender_keys: BTreeMap<String, Vec<u8>>,
}

/// The resolved configuration the server runs with.
/// A URL that secrets travel to: `https://`, or `http://` only to this machine or in
/// dev mode, so they never cross a network in clear text.
fn secret_bearing_url(
    name: &str,
    url: &str,
    secrets: &str,
    dev: bool,
) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| format!("{name} = {url:?}: {e}"))?;
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if dev || loopback => Ok(parsed),
        "http" => Err(format!(
            "{name} = {url:?}: {secrets} would travel in clear text; use https:// (http:// is only for loopback hosts or --dev)"
        )),
        _ => Err(format!("{name} = {url:?} is not an http(s) URL")),
    }
}

/// A URL idpool POSTs JSON to, signed when a secret is set: text messages for an SMS
/// gateway, push notifications for a push relay.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: reqwest::Url,
    pub secret: Option<String>,
}

impl Webhook {
    /// `--<flag>-url` and `--<flag>-secret` resolved: a secret without a URL is a
    /// mistake worth stopping for, and `secrets` (what the requests carry) must not
    /// cross a network in clear text.
    fn resolve(
        flag: &str,
        url: Option<String>,
        secret: Option<String>,
        secrets: &str,
        dev: bool,
    ) -> Result<Option<Webhook>, String> {
        let secret = secret.filter(|s| !s.is_empty());
        match url {
            Some(url) => Ok(Some(Webhook {
                url: secret_bearing_url(&format!("--{flag}-url"), &url, secrets, dev)?,
                secret,
            })),
            None if secret.is_some() => {
                Err(format!("--{flag}-secret is set but --{flag}-url is not"))
            }
            None => Ok(None),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub public_url: Option<String>,
    pub region: String,
    pub account_id: String,
    pub dev: bool,
    pub master_key: Option<String>,
    pub smtp_url: Option<String>,
    pub smtp_from: String,
    pub sms_webhook: Option<Webhook>,
    pub push_webhook: Option<Webhook>,
    /// From IDPOOL_ADMIN_ACCESS_KEY_ID / IDPOOL_ADMIN_SECRET_ACCESS_KEY.
    pub admin_access_key: Option<(String, String)>,
    pub triggers: TriggerConfig,
    pub ui_templates_dir: Option<PathBuf>,
    /// Cognito Streams delivery targets by stream name.
    pub streams: BTreeMap<String, StreamTarget>,
    /// None when the S3 endpoint is off.
    pub s3_listen: Option<SocketAddr>,
    pub s3_dir: PathBuf,
    /// Where identity pools' Facebook, Amazon and Twitter logins are checked.
    pub social_apis: SocialApis,
    /// The breached-password list file, checked to be a readable file at start.
    pub breached_passwords: Option<PathBuf>,
    pub geoip_database: Option<PathBuf>,
    /// Reverse proxies whose X-Forwarded-For is believed.
    pub trusted_proxies: Vec<idpool_core::policy::Cidr>,
    /// The least age of a point-in-time recovery's restore point, in milliseconds.
    pub recovery_min_age_ms: i64,
}

impl ServeArgs {
    /// Flags and env (already merged by clap) over the TOML file over defaults.
    pub fn resolve(self) -> Result<Config, String> {
        let file: ServeArgs = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))?
            }
            None => ServeArgs::default(),
        };
        let data_dir = self
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("idpool-data"));
        let database_url = self
            .database_url
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("idpool.db").display()));
        let s3_listen = match self.s3_listen.or(file.s3_listen).as_deref().map(str::trim) {
            None | Some("") => Some("127.0.0.1:9230".parse().expect("valid default")),
            Some("off") => None,
            Some(addr) => Some(addr.parse::<SocketAddr>().map_err(|_| {
                format!("--s3-listen {addr:?} is neither an address (host:port) nor \"off\"")
            })?),
        };
        let s3_dir = self
            .s3_dir
            .or(file.s3_dir)
            .unwrap_or_else(|| data_dir.join("s3"));
        let admin_access_key = match (
            std::env::var("IDPOOL_ADMIN_ACCESS_KEY_ID"),
            std::env::var("IDPOOL_ADMIN_SECRET_ACCESS_KEY"),
        ) {
            (Ok(id), Ok(secret)) if !id.is_empty() && !secret.is_empty() => Some((id, secret)),
            _ => None,
        };
        let lambda = self.lambda.or(file.lambda).unwrap_or_default();
        let mut functions = file.functions;
        functions.extend(self.functions);
        for (arn, target) in &functions {
            match (&target.command, &target.url) {
                (Some(c), None) if !c.is_empty() => {}
                (None, Some(u)) if u.starts_with("http://") || u.starts_with("https://") => {}
                _ => {
                    return Err(format!(
                        "[functions.\"{arn}\"] needs exactly one of command = [\"program\", ...] or url = \"http(s)://...\""
                    ));
                }
            }
        }
        let mut streams = file.streams;
        streams.extend(self.streams);
        for (name, target) in &streams {
            if !(target.url.starts_with("http://") || target.url.starts_with("https://")) {
                return Err(format!(
                    "[streams.\"{name}\"] needs url = \"http(s)://...\""
                ));
            }
        }
        let mut sender_keys = BTreeMap::new();
        for (id, key) in file.sender_keys.into_iter().chain(self.sender_keys) {
            match hex::decode(key.trim()) {
                Ok(bytes) if bytes.len() == 32 => {
                    sender_keys.insert(id, bytes);
                }
                _ => {
                    return Err(format!(
                        "[sender-keys] \"{id}\" must be 64 hex characters (a 32-byte key)"
                    ));
                }
            }
        }
        let env_or = |v: Option<String>, name: &str, default: &str| {
            v.or_else(|| std::env::var(name).ok().filter(|s| !s.is_empty()))
                .unwrap_or_else(|| default.to_string())
        };
        let triggers = TriggerConfig {
            functions,
            lambda_endpoint: self
                .lambda_endpoint
                .or(lambda.endpoint)
                .map(|u| u.trim_end_matches('/').to_string()),
            access_key_id: env_or(lambda.access_key_id, "AWS_ACCESS_KEY_ID", "test"),
            secret_access_key: env_or(lambda.secret_access_key, "AWS_SECRET_ACCESS_KEY", "test"),
            timeout_ms: lambda.timeout_ms.unwrap_or(5000).max(1),
            attempts: lambda.attempts.unwrap_or(3).clamp(1, 10),
            command_dir: self
                .config
                .as_ref()
                .and_then(|p| p.parent())
                .filter(|p| !p.as_os_str().is_empty())
                .map(PathBuf::from),
            sender_keys,
        };
        let dev = self.dev || file.dev;
        let social_apis = SocialApis::resolve(self.social_apis.or(file.social_apis), dev)?;
        let sms_webhook = Webhook::resolve(
            "sms-webhook",
            self.sms_webhook_url.or(file.sms_webhook_url),
            self.sms_webhook_secret.or(file.sms_webhook_secret),
            "codes",
            dev,
        )?;
        let push_webhook = Webhook::resolve(
            "push-webhook",
            self.push_webhook_url.or(file.push_webhook_url),
            self.push_webhook_secret.or(file.push_webhook_secret),
            "device push tokens",
            dev,
        )?;
        let trusted_proxies = self
            .trusted_proxies
            .or(file.trusted_proxies)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                idpool_core::policy::parse_cidr(s)
                    .ok_or_else(|| format!("--trusted-proxies: {s:?} is not an address range"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let breached_passwords = self.breached_passwords.or(file.breached_passwords);
        if let Some(path) = &breached_passwords {
            std::fs::File::open(path)
                .and_then(|f| f.metadata())
                .ok()
                .filter(|m| m.is_file())
                .ok_or_else(|| {
                    format!(
                        "--breached-passwords {}: not a readable file",
                        path.display()
                    )
                })?;
        }
        Ok(Config {
            listen: self
                .listen
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:9229".parse().expect("valid default")),
            data_dir,
            database_url,
            public_url: self
                .public_url
                .or(file.public_url)
                .map(|u| u.trim_end_matches('/').to_string()),
            region: self
                .region
                .or(file.region)
                .unwrap_or_else(|| "us-east-1".into()),
            account_id: self
                .account_id
                .or(file.account_id)
                .unwrap_or_else(|| "123456789012".into()),
            dev,
            master_key: self.master_key.or(file.master_key),
            smtp_url: self.smtp_url.or(file.smtp_url),
            smtp_from: self
                .smtp_from
                .or(file.smtp_from)
                .unwrap_or_else(|| "no-reply@verificationemail.com".into()),
            sms_webhook,
            push_webhook,
            admin_access_key,
            triggers,
            ui_templates_dir: self.ui_templates_dir.or(file.ui_templates_dir),
            streams,
            s3_listen,
            s3_dir,
            social_apis,
            breached_passwords,
            geoip_database: self.geoip_database.or(file.geoip_database),
            trusted_proxies,
            recovery_min_age_ms: self
                .recovery_min_age_seconds
                .or(file.recovery_min_age_seconds)
                .unwrap_or(900)
                .min(14 * 24 * 3600) as i64
                * 1000,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apis(facebook: &str, dev: bool) -> Result<SocialApis, String> {
        SocialApis::resolve(
            Some(SocialApiSettings {
                facebook_graph_url: Some(facebook.into()),
                ..Default::default()
            }),
            dev,
        )
    }

    #[test]
    fn social_apis_refuse_clear_text_off_this_machine() {
        let got = apis("http://127.0.0.1:8080/", false).unwrap();
        assert_eq!(got.facebook_graph_url, "http://127.0.0.1:8080");
        assert_eq!(got.amazon_api_url, "https://api.amazon.com");
        assert!(apis("http://localhost:1", false).is_ok());
        assert!(apis("http://[::1]:1", false).is_ok());
        assert!(apis("https://graph.example", false).is_ok());
        assert!(apis("http://graph.example", false).is_err());
        assert!(apis("http://graph.example", true).is_ok());
        assert!(apis("ftp://graph.example", true).is_err());
        assert!(apis("https://graph.example/?x=1", false).is_err());
        assert!(apis("not a url", true).is_err());
    }

    #[test]
    fn social_apis_table_is_kebab_case_and_strict() {
        let args: ServeArgs =
            toml::from_str("[social-apis]\nfacebook-graph-url = \"http://127.0.0.1:1\"\n").unwrap();
        let settings = args.social_apis.unwrap();
        assert_eq!(
            settings.facebook_graph_url.as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert!(toml::from_str::<ServeArgs>("[social-apis]\ngraph = \"x\"\n").is_err());
    }
}
