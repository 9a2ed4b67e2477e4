//! One typed configuration: defaults that work on a fresh machine, an optional TOML file, then
//! environment variables, each setting documented here and in the README.
//!
//! | setting            | file key             | environment             | default                    |
//! |--------------------|----------------------|-------------------------|----------------------------|
//! | listen address     | `listen`             | `ORDERHUB_LISTEN`       | `127.0.0.1:8080`           |
//! | public base URL    | `base_url`           | `ORDERHUB_BASE_URL`     | `http://{listen}`          |
//! | database           | `database_url`       | `DATABASE_URL`          | `sqlite://orderhub.db`     |
//! | database connections | `database_max_connections` | `ORDERHUB_DATABASE_MAX_CONNECTIONS` | 4 on SQLite, 32 on PostgreSQL (per replica) |
//! | seed file          | `seed_file`          | `ORDERHUB_SEED_FILE`    | none                       |
//! | body limit (bytes) | `max_body_bytes`     | `ORDERHUB_MAX_BODY_BYTES` | 1048576                  |
//! | request timeout    | `request_timeout_secs` | `ORDERHUB_REQUEST_TIMEOUT_SECS` | 30               |
//! | log format         | `log_format`         | `ORDERHUB_LOG_FORMAT`   | `text` (or `json`)         |
//! | calling platforms  | `[[clients]]`        | `ORDERHUB_CLIENTS`      | none                       |
//! | producer platforms | `[[peers]]`          |                         | none                       |
//! | outbox poll        | `outbox_poll_ms`     |                         | 1000                       |
//! | first retry delay  | `retry_base_ms`      |                         | 2000 (doubling)            |
//! | longest retry delay| `retry_max_ms`       |                         | 300000                     |
//! | sends before FAILED | `retry_max_attempts` |                        | none (the budget decides)  |
//! | retry budget (s)   | `retry_budget_secs`  |                         | 86400: failing this long is FAILED |
//! | checkout deadline  | `checkout_deadline_ms` | `ORDERHUB_CHECKOUT_DEADLINE_MS` | 10000 (under the request timeout) |
//! | unconfirmed parts  | `unconfirmed_orders` |                         | `acknowledge_uncounted` (or `acknowledge`, `withdraw`) |
//! | grace after a session's end | `session_close_grace_secs` |          | 7200                       |
//! | GraphQL introspection | `introspection`   | `ORDERHUB_INTROSPECTION` | `true`                   |
//! | browser origins (CORS) | `cors_origins`   | `ORDERHUB_CORS_ORIGINS` (comma-separated) | none     |
//! | contact retention  | `retention_days`     | `ORDERHUB_RETENTION_DAYS` | none: kept until erased  |
//! | per-caller rate limit | `[rate_limit] per_minute, burst` |           | none: unlimited            |
//! | batched operations | `max_batch_operations` |                       | 10                         |
//! | live subscriptions per replica | `max_subscriptions` |              | 10000                      |
//! | batched loads' wait | `dataloader_delay_ms` |                        | 1                          |
//! | span export (OTLP/HTTP) | `otlp_endpoint` | `ORDERHUB_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) | none: no spans exported |
//! | token verification | `[auth]`             | `ORDERHUB_AUTH_HS256_SECRET`, `ORDERHUB_AUTH_JWKS_FILE`, `ORDERHUB_AUTH_JWKS_URL` | none: tokens refused |
//!
//! `ORDERHUB_CLIENTS` is `platform=token,platform=token`; it replaces the file's clients.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A secret that never appears in logs or debug output.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(secret: impl Into<String>) -> SecretString {
        SecretString(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// A platform allowed to call our DFC API, and the bearer token it authenticates with.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Stable id of the calling platform; its orders are filed under it.
    pub platform: String,
    /// Display name; defaults to the id.
    #[serde(default)]
    pub name: Option<String>,
    pub token: SecretString,
}

/// A producer platform that a local trader enterprise buys from.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// Stable id of this producer for the trader (appears in GraphQL).
    pub id: String,
    /// The local trader enterprise that buys from it.
    pub trader: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Base URL of the producer's platform.
    pub base_url: String,
    /// The producer's enterprise id on that platform.
    pub enterprise: String,
    /// The bearer token that platform gave us (or `oauth`).
    #[serde(default)]
    pub token: SecretString,
    /// Tokens from that platform's OAuth server instead of a fixed one.
    #[serde(default)]
    pub oauth: Option<PeerOAuth>,
    /// Deadline of every call to it.
    #[serde(default = "default_peer_timeout_ms")]
    pub timeout_ms: u64,
    /// How that platform names its DFC resources: `ofn` (`/api/dfc/enterprises/{e}/catalog_items`)
    /// or `shopify` (`/api/dfc/Enterprises/{e}/SuppliedProducts`). Unset: detected on the first
    /// call (the one that answers, of both), then remembered by the process.
    #[serde(default)]
    pub url_scheme: Option<crate::dfc::urls::Profile>,
}

/// How we obtain access tokens for a peer: the client credentials grant, or, with
/// `refresh_token`, the refresh token grant (the new refresh token it may answer replaces it, in
/// memory).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PeerOAuth {
    pub token_url: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<SecretString>,
}

fn default_peer_timeout_ms() -> u64 {
    5_000
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: SocketAddr,
    pub base_url: Option<String>,
    pub database_url: String,
    /// The most connections to the database this process opens; none: 4 on SQLite, 32 on
    /// PostgreSQL. Several replicas on one PostgreSQL must stay under its `max_connections`.
    pub database_max_connections: Option<u32>,
    pub seed_file: Option<PathBuf>,
    pub max_body_bytes: usize,
    pub request_timeout_secs: u64,
    pub log_format: LogFormat,
    pub clients: Vec<ClientConfig>,
    pub peers: Vec<PeerConfig>,
    pub outbox_poll_ms: u64,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// Failed sends of one producer order before it needs a person; none: only the budget.
    pub retry_max_attempts: Option<i32>,
    /// How long a producer order may keep failing (an outage) before it needs a person.
    pub retry_budget_secs: u64,
    /// How long a checkout waits for its producers to decide its parts.
    pub checkout_deadline_ms: u64,
    /// What a checkout does with a part its producer did not confirm in time.
    pub unconfirmed_orders: crate::trader::UnconfirmedPolicy,
    /// Seconds after a sales session's end before its producer orders are completed.
    pub session_close_grace_secs: u64,
    /// Whether `/graphql` answers introspection (`__schema`, `__type`); off in production if the
    /// schema is not public.
    pub introspection: bool,
    /// Origins (`https://shop.example`) whose pages may call `/graphql` from a browser.
    pub cors_origins: Vec<String>,
    /// How callers' tokens are verified (see `auth`).
    pub auth: crate::auth::AuthConfig,
    /// Customers' contact details are erased from orders whose session closed more than this
    /// many days ago (checked hourly); none: kept until a customer's erasure.
    pub retention_days: Option<u32>,
    /// Requests per minute each caller of `/graphql` may make (`[rate_limit] per_minute, burst`);
    /// none: unlimited.
    pub rate_limit: Option<crate::http::rate_limit::RateLimitConfig>,
    /// Operations one batched POST to `/graphql` may hold (a JSON array).
    pub max_batch_operations: usize,
    /// Subscriptions (WebSocket and SSE) one replica serves at once; more are refused with
    /// `TOO_MANY_SUBSCRIPTIONS`.
    pub max_subscriptions: usize,
    /// How long a batched database load waits for more keys before it runs: longer gathers
    /// more of a large request into one statement, shorter answers a small one sooner.
    pub dataloader_delay_ms: u64,
    /// Where spans are sent (OTLP over HTTP, protobuf), e.g. `http://collector:4318/v1/traces`.
    pub otlp_endpoint: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_url: None,
            database_url: "sqlite://orderhub.db".to_owned(),
            database_max_connections: None,
            seed_file: None,
            max_body_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            log_format: LogFormat::Text,
            clients: Vec::new(),
            peers: Vec::new(),
            outbox_poll_ms: 1_000,
            retry_base_ms: 2_000,
            retry_max_ms: 300_000,
            retry_max_attempts: None,
            retry_budget_secs: 86_400,
            checkout_deadline_ms: 10_000,
            unconfirmed_orders: crate::trader::UnconfirmedPolicy::default(),
            session_close_grace_secs: 7_200,
            introspection: true,
            cors_origins: Vec::new(),
            auth: crate::auth::AuthConfig::default(),
            retention_days: None,
            rate_limit: None,
            max_batch_operations: 10,
            max_subscriptions: 10_000,
            dataloader_delay_ms: 1,
            otlp_endpoint: None,
        }
    }
}

impl Config {
    /// Reads `path` (which must exist) or, without one, `orderhub.toml` when present; then
    /// applies the environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let default_file = Path::new("orderhub.toml");
        let file = match path {
            Some(p) => Some(p),
            None if default_file.exists() => Some(default_file),
            None => None,
        };
        let mut config = match file {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("reading config {}: {e}", p.display()))?;
                let mut config: Config =
                    toml::from_str(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", p.display()))?;
                // A relative seed file is relative to the config file, not to the working directory.
                if let (Some(seed), Some(dir)) = (&config.seed_file, p.parent())
                    && seed.is_relative()
                {
                    config.seed_file = Some(dir.join(seed));
                }
                config
            }
            None => Config::default(),
        };
        config.apply_env(|key| std::env::var(key).ok())?;
        config.validate()?;
        Ok(config)
    }

    fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(v) = var("ORDERHUB_LISTEN") {
            self.listen = v.parse().map_err(|e| anyhow::anyhow!("ORDERHUB_LISTEN `{v}`: {e}"))?;
        }
        if let Some(v) = var("ORDERHUB_BASE_URL") {
            self.base_url = Some(v);
        }
        if let Some(v) = var("DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = var("ORDERHUB_DATABASE_MAX_CONNECTIONS") {
            self.database_max_connections =
                Some(v.parse().map_err(|e| anyhow::anyhow!("ORDERHUB_DATABASE_MAX_CONNECTIONS `{v}`: {e}"))?);
        }
        if let Some(v) = var("ORDERHUB_SEED_FILE") {
            self.seed_file = Some(PathBuf::from(v));
        }
        if let Some(v) = var("ORDERHUB_MAX_BODY_BYTES") {
            self.max_body_bytes = v.parse().map_err(|e| anyhow::anyhow!("ORDERHUB_MAX_BODY_BYTES `{v}`: {e}"))?;
        }
        if let Some(v) = var("ORDERHUB_REQUEST_TIMEOUT_SECS") {
            self.request_timeout_secs =
                v.parse().map_err(|e| anyhow::anyhow!("ORDERHUB_REQUEST_TIMEOUT_SECS `{v}`: {e}"))?;
        }
        if let Some(v) = var("ORDERHUB_CHECKOUT_DEADLINE_MS") {
            self.checkout_deadline_ms =
                v.parse().map_err(|e| anyhow::anyhow!("ORDERHUB_CHECKOUT_DEADLINE_MS `{v}`: {e}"))?;
        }
        if let Some(v) = var("ORDERHUB_INTROSPECTION") {
            self.introspection = match v.as_str() {
                "true" | "1" | "on" => true,
                "false" | "0" | "off" => false,
                other => anyhow::bail!("ORDERHUB_INTROSPECTION `{other}`: expected true or false"),
            };
        }
        if let Some(v) = var("ORDERHUB_OTLP_ENDPOINT").or_else(|| var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
            self.otlp_endpoint = Some(v).filter(|v| !v.trim().is_empty());
        }
        if let Some(v) = var("ORDERHUB_RETENTION_DAYS") {
            self.retention_days = Some(v.parse().map_err(|e| anyhow::anyhow!("ORDERHUB_RETENTION_DAYS `{v}`: {e}"))?);
        }
        if let Some(v) = var("ORDERHUB_CORS_ORIGINS") {
            self.cors_origins = v.split(',').map(str::trim).filter(|o| !o.is_empty()).map(str::to_owned).collect();
        }
        if let Some(v) = var("ORDERHUB_AUTH_HS256_SECRET") {
            self.auth.hs256_secret = Some(SecretString::new(v));
        }
        if let Some(v) = var("ORDERHUB_AUTH_JWKS_FILE") {
            self.auth.jwks_file = Some(PathBuf::from(v));
        }
        if let Some(v) = var("ORDERHUB_AUTH_JWKS_URL") {
            self.auth.jwks_url = Some(v);
        }
        if let Some(v) = var("ORDERHUB_LOG_FORMAT") {
            self.log_format = match v.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => anyhow::bail!("ORDERHUB_LOG_FORMAT `{other}`: expected text or json"),
            };
        }
        if let Some(v) = var("ORDERHUB_CLIENTS") {
            self.clients = v
                .split(',')
                .filter(|pair| !pair.trim().is_empty())
                .map(|pair| {
                    let (platform, token) = pair
                        .split_once('=')
                        .ok_or_else(|| anyhow::anyhow!("ORDERHUB_CLIENTS: expected platform=token pairs"))?;
                    Ok(ClientConfig {
                        platform: platform.trim().to_owned(),
                        name: None,
                        token: SecretString::new(token.trim()),
                    })
                })
                .collect::<anyhow::Result<_>>()?;
        }
        Ok(())
    }

    fn validate(&self) -> anyhow::Result<()> {
        let mut platforms = std::collections::HashSet::new();
        let mut tokens = std::collections::HashSet::new();
        for client in &self.clients {
            if client.platform.trim().is_empty() {
                anyhow::bail!("a client has an empty platform id");
            }
            if client.platform == crate::peers::LOCAL_CLIENT {
                anyhow::bail!("the client id `{}` is reserved for this platform's own traders", client.platform);
            }
            if client.token.expose().len() < 12 {
                anyhow::bail!("the token of client `{}` is shorter than 12 characters", client.platform);
            }
            if !platforms.insert(client.platform.as_str()) {
                anyhow::bail!("client `{}` is configured twice", client.platform);
            }
            if !tokens.insert(client.token.expose()) {
                anyhow::bail!("two clients share one token");
            }
        }
        let mut peers = std::collections::HashSet::new();
        for peer in &self.peers {
            if peer.token.expose().is_empty() && peer.oauth.is_none() {
                anyhow::bail!("peer `{}` needs a `token` or an `[peers.oauth]` section", peer.id);
            }
            if !peers.insert(peer.id.as_str()) {
                anyhow::bail!("peer `{}` is configured twice", peer.id);
            }
            if !(peer.base_url.starts_with("http://") || peer.base_url.starts_with("https://")) {
                anyhow::bail!("peer `{}`: base_url must be an http(s) URL", peer.id);
            }
            if !(100..=120_000).contains(&peer.timeout_ms) {
                anyhow::bail!("peer `{}`: timeout_ms must lie between 100 and 120000", peer.id);
            }
        }
        if self.retry_max_attempts.is_some_and(|n| n < 1) || self.outbox_poll_ms == 0 || self.retry_base_ms == 0 {
            anyhow::bail!("outbox_poll_ms, retry_base_ms and retry_max_attempts must be positive");
        }
        // A checkout answers inside its request, with a second to spare for the answer itself.
        if self.checkout_deadline_ms < 100 || self.checkout_deadline_ms + 1_000 > self.request_timeout_secs * 1_000 {
            anyhow::bail!(
                "checkout_deadline_ms must be at least 100 and at least a second under request_timeout_secs ({} s)",
                self.request_timeout_secs
            );
        }
        if self.database_max_connections.is_some_and(|n| !(2..=1_000).contains(&n)) {
            // One connection is the recorder's write transaction; readers need another.
            anyhow::bail!("database_max_connections must lie between 2 and 1000");
        }
        if self.max_body_bytes < 1024 {
            anyhow::bail!("max_body_bytes must be at least 1024");
        }
        Ok(())
    }

    /// The URL peers reach us at, which prefixes every id we publish.
    pub fn public_base_url(&self, bound: SocketAddr) -> String {
        self.base_url.clone().unwrap_or_else(|| format!("http://{bound}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_are_checked_and_env_wins() {
        let mut config: Config = toml::from_str(
            "database_url = \"sqlite://x.db\"\n[[clients]]\nplatform = \"ofn\"\ntoken = \"0123456789abcdef\"\n",
        )
        .unwrap();
        assert_eq!(config.clients.len(), 1);
        assert!(toml::from_str::<Config>("databse_url = \"typo\"").is_err());
        config
            .apply_env(|k| match k {
                "DATABASE_URL" => Some("postgres://db".to_owned()),
                "ORDERHUB_CLIENTS" => Some("a=aaaaaaaaaaaaaaaa, b=bbbbbbbbbbbbbbbb".to_owned()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.database_url, "postgres://db");
        assert_eq!(config.clients.len(), 2);
        assert!(config.validate().is_ok());
        assert!(!format!("{config:?}").contains("aaaaaaaa"));
    }

    #[test]
    fn the_database_pool_is_sized_within_bounds() {
        let mut config = Config::default();
        config.apply_env(|k| (k == "ORDERHUB_DATABASE_MAX_CONNECTIONS").then(|| "12".to_owned())).unwrap();
        assert_eq!(config.database_max_connections, Some(12));
        assert!(config.validate().is_ok());
        config.database_max_connections = Some(1);
        assert!(config.validate().is_err(), "the recorder's transaction needs a second connection beside it");
        assert!(config.apply_env(|k| (k == "ORDERHUB_DATABASE_MAX_CONNECTIONS").then(|| "many".to_owned())).is_err());
    }

    #[test]
    fn a_peers_url_scheme_is_said_or_left_to_detection() {
        let peer = |scheme: &str| {
            toml::from_str::<Config>(&format!(
                "[[peers]]\nid = \"p\"\ntrader = \"hub\"\nbase_url = \"https://shop.example\"\nenterprise = \"e\"\ntoken = \"t\"\n{scheme}"
            ))
            .map(|c| c.peers[0].url_scheme)
        };
        assert_eq!(peer("").unwrap(), None);
        assert_eq!(peer("url_scheme = \"shopify\"").unwrap(), Some(crate::dfc::urls::Profile::Shopify));
        assert_eq!(peer("url_scheme = \"ofn\"").unwrap(), Some(crate::dfc::urls::Profile::Ofn));
        assert!(peer("url_scheme = \"woocommerce\"").is_err());
    }

    #[test]
    fn weak_or_shared_tokens_are_refused() {
        let mut config = Config::default();
        config.apply_env(|k| (k == "ORDERHUB_CLIENTS").then(|| "a=short".to_owned())).unwrap();
        assert!(config.validate().is_err());
        config
            .apply_env(|k| (k == "ORDERHUB_CLIENTS").then(|| "a=same-token-123,b=same-token-123".to_owned()))
            .unwrap();
        assert!(config.validate().is_err());
    }
}
