//! Service configuration: defaults, then a TOML file, then `SCHOON_*` environment variables
//! (nested keys with `__`, e.g. `SCHOON_LIMITS__MAX_MEDIA_BYTES=1000000`), then command-line
//! flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Everything `schoon serve` can be told.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Data directory (holds `schoon.db`).
    pub data_dir: PathBuf,
    /// `json` (default) or `text` logs.
    pub log_format: String,
    /// Name of the tenant created on first start.
    pub first_tenant: String,
    /// Request size and concurrency limits.
    pub limits: LimitsConfig,
    /// Per-key rate limit.
    pub rate_limit: RateLimitConfig,
    /// Outbound fetching (`/v1/url/`).
    pub fetch: FetchConfig,
    /// How the in-memory matcher follows list changes made elsewhere.
    pub matcher: MatcherConfig,
    /// Hotline report processing (intake, worker, evidence vault).
    pub reports: crate::reports::ReportsConfig,
    /// Takedown cases, attribution, check-online and notices.
    pub takedown: crate::takedown::TakedownConfig,
    /// Web UI (sessions, lock-out, plain-HTTP development).
    pub ui: crate::ui::UiConfig,
}

/// Request size and concurrency limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitsConfig {
    /// Largest JSON body (a full 10,000-hash batch is about 1.5 MB).
    pub max_json_bytes: usize,
    /// Largest media upload to `/api/v1/check/media` and `/v1/media/`.
    pub max_media_bytes: usize,
    /// Largest list file upload.
    pub max_list_bytes: usize,
    /// Media decodes running at once (CPU-bound; the rest wait).
    pub media_concurrency: usize,
    /// Seconds before a request is cut off.
    pub request_timeout_secs: u64,
}

/// Per-key rate limit (GCRA: a steady rate plus a burst).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitConfig {
    /// Requests per second per key (0 disables the limit).
    pub per_second: u32,
    /// Burst size.
    pub burst: u32,
}

/// Outbound fetch settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct FetchConfig {
    /// Address ranges the fetcher may reach although they are private/loopback.
    /// **Tests only** (e.g. `["127.0.0.1/32"]`); empty by default.
    pub allow_addresses: Vec<String>,
    /// Whole-fetch timeout in seconds.
    pub timeout_secs: u64,
}

/// Matcher refresh settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MatcherConfig {
    /// How often to poll the database's list versions, in milliseconds (picks up changes made
    /// by `schoon admin` or other nodes). Changes made through this node's API apply at once.
    pub poll_interval_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("schoon-data"),
            log_format: "json".into(),
            first_tenant: "default".into(),
            limits: LimitsConfig::default(),
            rate_limit: RateLimitConfig::default(),
            fetch: FetchConfig::default(),
            matcher: MatcherConfig::default(),
            reports: crate::reports::ReportsConfig::default(),
            takedown: crate::takedown::TakedownConfig::default(),
            ui: crate::ui::UiConfig::default(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_json_bytes: 4 << 20,
            max_media_bytes: 32 << 20,
            max_list_bytes: 1 << 30,
            media_concurrency: 2,
            request_timeout_secs: 60,
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_second: 1000,
            burst: 2000,
        }
    }
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            allow_addresses: Vec::new(),
            timeout_secs: 20,
        }
    }
}

impl Default for MatcherConfig {
    fn default() -> Self {
        MatcherConfig {
            poll_interval_ms: 2000,
        }
    }
}

impl Config {
    /// Loads defaults ← optional TOML file ← `SCHOON_*` environment.
    pub fn load(file: Option<&Path>) -> Result<Config, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            fig = fig.merge(Toml::file_exact(f));
        }
        fig.merge(Env::prefixed("SCHOON_").split("__"))
            .extract()
            .map_err(Box::new)
    }

    /// The SQLite database file inside the data directory.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("schoon.db")
    }
}
