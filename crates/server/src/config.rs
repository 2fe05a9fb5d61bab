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
    /// Data directory (holds `schoon.db` unless `database_url` is set, and always the evidence
    /// vault, the key files and the attribution data).
    pub data_dir: PathBuf,
    /// The database: a `postgres://…` URL or a SQLite file path. `None`: `<data_dir>/schoon.db`.
    /// TOML `database_url`, env `SCHOON_DATABASE_URL`, flag `--database`.
    pub database_url: Option<String>,
    /// Which parts of the service this process runs (`api`, `worker` or `all`).
    /// TOML `role`, env `SCHOON_ROLE`, flag `--role`.
    pub role: Role,
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
    /// The job runner (round spacing, lease of a claimed job).
    pub jobs: JobsConfig,
    /// Reverse proxies whose `X-Forwarded-For` is believed for the client address of the
    /// per-address limits (web login, public report form): CIDR networks or single addresses,
    /// e.g. `["127.0.0.1/32", "10.0.0.0/8", "::1/128"]`. Only the proxies' own addresses belong
    /// here: a listed network could otherwise claim any client address. Empty (the default):
    /// the client is always the TCP peer. TOML `trusted_proxies`, env
    /// `SCHOON_TRUSTED_PROXIES='[127.0.0.1/32, ::1/128]'` (figment array syntax).
    pub trusted_proxies: Vec<crate::client_ip::ProxyNet>,
}

/// Which parts of the service a process runs; several processes share one database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The HTTP API, the web UI and the matcher poller; no job runner, no report worker.
    Api,
    /// The job runner, the report worker and the matcher poller; HTTP only for the ops routes
    /// (`/healthz`, `/readyz`, `/metrics`).
    Worker,
    /// Everything in one process (the default).
    #[default]
    All,
}

impl Role {
    /// Serves the HTTP API and the web UI.
    pub fn serves_api(self) -> bool {
        matches!(self, Role::Api | Role::All)
    }

    /// Runs the job runner and the report worker.
    pub fn runs_jobs(self) -> bool {
        matches!(self, Role::Worker | Role::All)
    }

    /// The name used in configuration and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Api => "api",
            Role::Worker => "worker",
            Role::All => "all",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not `api`, `worker` or `all`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected api, worker or all)")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        match s.trim().to_ascii_lowercase().as_str() {
            "api" => Ok(Role::Api),
            "worker" => Ok(Role::Worker),
            "all" => Ok(Role::All),
            _ => Err(UnknownRole(s.to_string())),
        }
    }
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

/// Job runner settings (`[jobs]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct JobsConfig {
    /// Milliseconds between job rounds (ticks, then due jobs).
    pub interval_ms: u64,
    /// Seconds a claimed job stays leased: a job of a worker that died returns to the queue
    /// after this long (keep it above the slowest job's run time).
    pub lease_secs: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            interval_ms: 5000,
            lease_secs: 300,
        }
    }
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
            database_url: None,
            role: Role::All,
            log_format: "json".into(),
            first_tenant: "default".into(),
            limits: LimitsConfig::default(),
            rate_limit: RateLimitConfig::default(),
            fetch: FetchConfig::default(),
            matcher: MatcherConfig::default(),
            reports: crate::reports::ReportsConfig::default(),
            takedown: crate::takedown::TakedownConfig::default(),
            ui: crate::ui::UiConfig::default(),
            jobs: JobsConfig::default(),
            trusted_proxies: Vec::new(),
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

    /// What to open: `database_url` if set (and not blank), else the data directory's SQLite file.
    pub fn database_spec(&self) -> String {
        match self.database_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => url.to_string(),
            _ => self.database_path().to_string_lossy().into_owned(),
        }
    }

    /// Whether the database is PostgreSQL (a `postgres://` or `postgresql://` URL).
    pub fn is_postgres(&self) -> bool {
        is_postgres_url(&self.database_spec())
    }
}

/// Whether `spec` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(spec: &str) -> bool {
    let s = spec.trim_start();
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_parses_and_defaults_to_all() {
        assert_eq!(Config::default().role, Role::All);
        assert_eq!("API".parse::<Role>(), Ok(Role::Api));
        assert_eq!("worker".parse::<Role>(), Ok(Role::Worker));
        assert!("both".parse::<Role>().is_err());
        assert!(Role::Api.serves_api() && !Role::Api.runs_jobs());
        assert!(!Role::Worker.serves_api() && Role::Worker.runs_jobs());
    }

    #[test]
    fn database_and_role_from_toml() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("schoon.toml");
        std::fs::write(
            &f,
            "role = \"worker\"\ndatabase_url = \"postgres://db.example/schoon\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&f)).unwrap();
        assert_eq!(c.role, Role::Worker);
        assert!(c.is_postgres());
        assert_eq!(c.database_spec(), "postgres://db.example/schoon");
        let d = Config::default();
        assert!(!d.is_postgres());
        assert!(d.database_spec().ends_with("schoon.db"));
    }

    #[test]
    fn trusted_proxies_from_toml_and_env_syntax() {
        assert!(Config::default().trusted_proxies.is_empty());
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("schoon.toml");
        std::fs::write(&f, "trusted_proxies = [\"127.0.0.1/32\", \"::1/128\"]\n").unwrap();
        let c = Config::load(Some(&f)).unwrap();
        let got: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(got, ["127.0.0.1/32", "::1/128"]);
        // An environment value is parsed by figment like this.
        let env: figment::value::Value = "[10.0.0.0/8, ::1]".parse().unwrap();
        let c: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(("trusted_proxies", env))
            .extract()
            .unwrap();
        let got: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(got, ["10.0.0.0/8", "::1/128"]);
    }

    #[test]
    fn bad_trusted_proxy_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("schoon.toml");
        for (toml, says) in [
            (
                "trusted_proxies = [\"10.0.0.0/8\", \"proxy.lan\"]",
                "\"proxy.lan\" is not an IP network",
            ),
            ("trusted_proxies = [\"10.0.0.1/8\"]", "host bits set"),
        ] {
            std::fs::write(&f, toml).unwrap();
            let e = Config::load(Some(&f)).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("trusted_proxies"), "{e}");
        }
    }
}
