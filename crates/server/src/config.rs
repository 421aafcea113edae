//! Configuration: TOML file < `IDPOOL_*` environment < command-line flags. Every option
//! is documented next to its default.

use clap::Args;
use serde::Deserialize;
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
}

/// The resolved configuration the server runs with.
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
    /// From IDPOOL_ADMIN_ACCESS_KEY_ID / IDPOOL_ADMIN_SECRET_ACCESS_KEY.
    pub admin_access_key: Option<(String, String)>,
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
        let admin_access_key = match (
            std::env::var("IDPOOL_ADMIN_ACCESS_KEY_ID"),
            std::env::var("IDPOOL_ADMIN_SECRET_ACCESS_KEY"),
        ) {
            (Ok(id), Ok(secret)) if !id.is_empty() && !secret.is_empty() => Some((id, secret)),
            _ => None,
        };
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
            dev: self.dev || file.dev,
            master_key: self.master_key.or(file.master_key),
            smtp_url: self.smtp_url.or(file.smtp_url),
            smtp_from: self
                .smtp_from
                .or(file.smtp_from)
                .unwrap_or_else(|| "no-reply@verificationemail.com".into()),
            admin_access_key,
        })
    }
}
