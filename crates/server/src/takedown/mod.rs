//! Takedown (issue #6) in the service: the `[takedown]` settings, the runtime context held in
//! [`crate::app::Inner`], the routes and the job registration.
//!
//! * [`cases`]: the opener (items in `notice_pending` → cases), attribution jobs and the cases API.
//! * [`check`]: check-online — every monitored URL re-fetched, one observation per fetch,
//!   re-attribution on every N-th check or when the site moved to another network.
//!
//! The ladder, outbox, notices and provider responses add their modules here.
//!
//! Attribution sources load at start-up from the data directory (`schoon attribution import`
//! writes them); the RDAP bootstrap is fetched on first use (so start-up needs no network) and
//! the [`attribution::Attributor`] is built once, lazily.

pub mod cases;
pub mod check;
pub mod ladder;
pub mod outbox;
pub mod respond;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use attribution::{
    AsnLookup, Attributor, Bootstrap, CdnList, MmdbAsn, PrefixTable, RdapClient, RdapConfig,
    RuleSet,
};
use axum::Router;
use fetch::{BoxFuture, Resolver};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::worker::JobRunner;

/// `[takedown]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TakedownConfig {
    /// Run the takedown jobs (opener, attribution, check-online, notices).
    pub enabled: bool,
    /// Where attribution data comes from.
    pub attribution: AttributionConfig,
    /// Re-fetches running at once.
    pub check_concurrency: usize,
    /// Due checks read per round.
    pub check_batch: u32,
    /// A check round starts no new fetch after this many seconds (other jobs share the runner).
    pub check_round_secs: u64,
    /// Re-attribute a case on every N-th check (besides whenever its site moved networks).
    pub reattribute_every: u32,
    /// Items turned into cases per opener round.
    pub open_batch: u32,
    /// E-mail notices (SMTP, sender profile, response links).
    pub mail: MailConfig,
}

impl Default for TakedownConfig {
    fn default() -> Self {
        TakedownConfig {
            enabled: true,
            attribution: AttributionConfig::default(),
            check_concurrency: 32,
            check_batch: 2000,
            check_round_secs: 30,
            reattribute_every: 6,
            open_batch: 500,
            mail: MailConfig::default(),
        }
    }
}

/// `[takedown.attribution]`: data files and RDAP.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AttributionConfig {
    /// Compiled prefix table (default `<data_dir>/attribution/prefixes.bin`, what
    /// `schoon attribution import` writes). An iptoasn `.tsv`/`.tsv.gz` is imported at start.
    pub prefix_table: Option<PathBuf>,
    /// MMDB ASN database (default `<data_dir>/attribution/asn.mmdb`); asked after the table.
    pub mmdb: Option<PathBuf>,
    /// CDN prefix list (default `<data_dir>/attribution/cdn.txt`).
    pub cdn_list: Option<PathBuf>,
    /// Manual rules as JSON (`attribution::RuleSet`; default `<data_dir>/attribution/rules.json`).
    pub rules: Option<PathBuf>,
    /// Ask RDAP for abuse contacts and registrars.
    pub rdap: bool,
    /// Directory with IANA bootstrap files (`ipv4.json`, `ipv6.json`, `dns.json`); when unset
    /// they are fetched from `rdap_bootstrap_base` on first use.
    pub rdap_bootstrap_dir: Option<PathBuf>,
    /// Where the bootstrap files are fetched from (default IANA; tests use a loopback server).
    pub rdap_bootstrap_base: String,
    /// How long an RDAP answer is reused, in hours.
    pub rdap_cache_hours: i64,
    /// Host names pinned to addresses for attribution (operators pinning a few names; tests).
    pub hosts: BTreeMap<String, Vec<IpAddr>>,
}

impl Default for AttributionConfig {
    fn default() -> Self {
        AttributionConfig {
            prefix_table: None,
            mmdb: None,
            cdn_list: None,
            rules: None,
            rdap: true,
            rdap_bootstrap_dir: None,
            rdap_bootstrap_base: attribution::IANA_BOOTSTRAP_BASE.to_string(),
            rdap_cache_hours: 12,
            hosts: BTreeMap::new(),
        }
    }
}

/// `[takedown.mail]`: how notices are sent and signed (used by the ladder/outbox modules).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MailConfig {
    /// SMTP relay host (`None`: notices stay queued).
    pub smtp_host: Option<String>,
    /// SMTP port.
    pub smtp_port: u16,
    /// `starttls` (default), `tls` (implicit) or `none` (loopback tests only).
    pub smtp_tls: String,
    /// SMTP user name.
    pub smtp_username: Option<String>,
    /// SMTP password (prefer `SCHOON_TAKEDOWN__MAIL__SMTP_PASSWORD`).
    pub smtp_password: Option<String>,
    /// `From:` address.
    pub from: Option<String>,
    /// Envelope sender for bounces.
    pub bounce: Option<String>,
    /// Contact address named in the notice body.
    pub contact: Option<String>,
    /// The hotline's name as shown in notices.
    pub tenant_name: Option<String>,
    /// Domain for Message-IDs.
    pub domain: Option<String>,
    /// Default notice language (`nl` or `en`).
    pub language: String,
    /// Public base URL of the response links (`https://hotline.example/`).
    pub response_base_url: Option<String>,
    /// Police address for police referrals (`None`: escalation record only).
    pub police_email: Option<String>,
    /// Key file of the response-link signatures (default `<data_dir>/takedown-link.key`,
    /// generated on first start, mode 0600).
    pub link_secret_path: Option<PathBuf>,
    /// Upper bound of one SMTP delivery attempt, in seconds.
    pub smtp_timeout_secs: u64,
    /// Lease of a notice being sent, in seconds: a notice still `sending` after it (its worker
    /// died between SMTP and recording) becomes `delivery_unknown`. Keep it well above
    /// `smtp_timeout_secs`.
    pub notice_lease_secs: u64,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            smtp_host: None,
            smtp_port: 25,
            smtp_tls: "starttls".into(),
            smtp_username: None,
            smtp_password: None,
            from: None,
            bounce: None,
            contact: None,
            tenant_name: None,
            domain: None,
            language: "nl".into(),
            response_base_url: None,
            police_email: None,
            link_secret_path: None,
            smtp_timeout_secs: 30,
            notice_lease_secs: 600,
        }
    }
}

/// Adapts the service clock to the attribution crate's clock trait.
struct ClockAdapter(Arc<dyn schoon_core::hit::Clock>);

impl attribution::Clock for ClockAdapter {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.now()
    }
}

/// Pinned names first, then the system resolver. Pins can change at run time.
pub struct PinnedResolver {
    pins: RwLock<HashMap<String, Vec<IpAddr>>>,
    system: Option<fetch::SystemResolver>,
}

impl PinnedResolver {
    fn new(pins: &BTreeMap<String, Vec<IpAddr>>) -> PinnedResolver {
        let system = match fetch::SystemResolver::from_system_conf() {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(error = %e, "no system DNS configuration: only pinned names resolve");
                None
            }
        };
        PinnedResolver {
            pins: RwLock::new(
                pins.iter()
                    .map(|(k, v)| (normalize_host(k), v.clone()))
                    .collect(),
            ),
            system,
        }
    }

    /// Pins `host` to `addrs` (replacing an earlier pin; empty `addrs` removes it).
    pub fn pin(&self, host: &str, addrs: Vec<IpAddr>) {
        let mut pins = self.pins.write().unwrap_or_else(|p| p.into_inner());
        if addrs.is_empty() {
            pins.remove(&normalize_host(host));
        } else {
            pins.insert(normalize_host(host), addrs);
        }
    }
}

fn normalize_host(h: &str) -> String {
    h.trim().trim_end_matches('.').to_ascii_lowercase()
}

impl Resolver for PinnedResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, std::io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let pinned = self
                .pins
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(&normalize_host(host))
                .cloned();
            if let Some(ips) = pinned {
                return Ok(ips);
            }
            match &self.system {
                Some(r) => r.resolve(host).await,
                None => Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no resolver configured",
                )),
            }
        })
    }
}

/// Runtime state of the takedown work (held in [`crate::app::Inner`]).
pub struct TakedownCtx {
    /// The settings.
    pub config: TakedownConfig,
    /// Names used by attribution (pinned, then system DNS).
    pub resolver: Arc<PinnedResolver>,
    /// IP → AS sources, most trusted first (prefix table, MMDB).
    pub asn: Vec<Arc<dyn AsnLookup>>,
    cdn: Option<Arc<CdnList>>,
    rules: RuleSet,
    attributor: tokio::sync::OnceCell<Arc<Attributor>>,
    /// Key of the response-link signatures (HMAC-SHA256).
    pub link_key: [u8; 32],
    /// Checks per case since start (re-attribution on every N-th).
    pub(crate) check_counts: Mutex<HashMap<schoon_core::takedown::CaseId, u32>>,
    /// Set while a check round runs (rounds never overlap).
    pub(crate) check_running: std::sync::atomic::AtomicBool,
}

impl TakedownCtx {
    /// Loads the attribution data files and the link key (generating it on first start).
    pub fn open(config: &crate::config::Config) -> anyhow::Result<TakedownCtx> {
        let tc = config.takedown.clone();
        let dir = config.data_dir.join("attribution");
        let ac = &tc.attribution;
        let mut asn: Vec<Arc<dyn AsnLookup>> = Vec::new();
        let table_path = ac
            .prefix_table
            .clone()
            .unwrap_or_else(|| dir.join("prefixes.bin"));
        if let Some(t) = load_table(&table_path, ac.prefix_table.is_some())? {
            asn.push(Arc::new(t));
        }
        let mmdb_path = ac.mmdb.clone().unwrap_or_else(|| dir.join("asn.mmdb"));
        if mmdb_path.exists() {
            asn.push(Arc::new(MmdbAsn::open(&mmdb_path)?));
        } else if ac.mmdb.is_some() {
            anyhow::bail!(
                "takedown.attribution.mmdb {} not found",
                mmdb_path.display()
            );
        }
        let cdn_path = ac.cdn_list.clone().unwrap_or_else(|| dir.join("cdn.txt"));
        let cdn = if cdn_path.exists() {
            Some(Arc::new(CdnList::load(&cdn_path)?))
        } else if ac.cdn_list.is_some() {
            anyhow::bail!(
                "takedown.attribution.cdn_list {} not found",
                cdn_path.display()
            );
        } else {
            None
        };
        let rules_path = ac.rules.clone().unwrap_or_else(|| dir.join("rules.json"));
        let rules = match std::fs::read(&rules_path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| anyhow::anyhow!("{}: {e}", rules_path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && ac.rules.is_none() => {
                RuleSet::default()
            }
            Err(e) => anyhow::bail!("{}: {e}", rules_path.display()),
        };
        if asn.is_empty() && tc.enabled {
            tracing::warn!(
                path = %table_path.display(),
                "no prefix table: attribution has AS data from RDAP only (run `schoon attribution import`)"
            );
        }
        let link_path = tc
            .mail
            .link_secret_path
            .clone()
            .unwrap_or_else(|| config.data_dir.join("takedown-link.key"));
        let link_key = load_or_create_key(&link_path)?;
        Ok(TakedownCtx {
            resolver: Arc::new(PinnedResolver::new(&ac.hosts)),
            asn,
            cdn,
            rules,
            attributor: tokio::sync::OnceCell::new(),
            link_key,
            check_counts: Mutex::new(HashMap::new()),
            check_running: std::sync::atomic::AtomicBool::new(false),
            config: tc,
        })
    }

    /// The attributor, built on first use (fetches the RDAP bootstrap unless a directory is
    /// configured). A failure is returned and retried on the next call.
    pub async fn attributor(&self, state: &AppState) -> anyhow::Result<Arc<Attributor>> {
        self.attributor
            .get_or_try_init(|| async {
                let ac = &self.config.attribution;
                let clock: Arc<dyn attribution::Clock> =
                    Arc::new(ClockAdapter(state.clock.clone()));
                let mut a = Attributor::new(self.resolver.clone(), clock.clone())
                    .with_rules(self.rules.clone());
                for s in &self.asn {
                    a = a.with_asn(s.clone());
                }
                if let Some(c) = &self.cdn {
                    a = a.with_cdn_list(c.clone());
                }
                if ac.rdap {
                    let bootstrap = match &ac.rdap_bootstrap_dir {
                        Some(d) => Bootstrap::load_dir(d)?,
                        None => {
                            let base: fetch::Url = ac.rdap_bootstrap_base.parse()?;
                            Bootstrap::fetch(&state.fetcher, &base).await?
                        }
                    };
                    let rc = RdapConfig {
                        ttl: chrono::Duration::hours(ac.rdap_cache_hours.max(0)),
                        ..RdapConfig::default()
                    };
                    a = a.with_rdap(Arc::new(RdapClient::new(
                        state.fetcher.clone(),
                        bootstrap,
                        rc,
                        clock,
                    )));
                }
                Ok::<_, anyhow::Error>(Arc::new(a))
            })
            .await
            .cloned()
    }

    /// The AS number of `ip` from the local tables (no network).
    pub fn asn_of(&self, ip: IpAddr) -> Option<u32> {
        self.asn
            .iter()
            .find_map(|s| s.lookup_asn(ip).ok().flatten())
            .map(|h| h.asn)
    }
}

/// Loads a prefix table: the compact form, or an iptoasn TSV (imported, bad lines skipped).
/// A missing default file is not an error.
fn load_table(path: &Path, explicit: bool) -> anyhow::Result<Option<PrefixTable>> {
    if !path.exists() {
        if explicit {
            anyhow::bail!(
                "takedown.attribution.prefix_table {} not found",
                path.display()
            );
        }
        return Ok(None);
    }
    let name = path.to_string_lossy();
    if name.ends_with(".tsv") || name.ends_with(".tsv.gz") {
        let (t, reports) = PrefixTable::import_files(&[path], false)?;
        let bad: u64 = reports.iter().map(|r| r.bad_count).sum();
        if bad > 0 {
            tracing::warn!(path = %path.display(), bad, "prefix table: bad lines skipped");
        }
        return Ok(Some(t));
    }
    Ok(Some(PrefixTable::load(path)?))
}

/// Reads a 32-byte key (hex) or creates one (mode 0600) on first start.
fn load_or_create_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let bytes = hex::decode(text.trim())
            .map_err(|e| anyhow::anyhow!("{}: not a hex key: {e}", path.display()))?;
        return bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("{}: the key must be 32 bytes", path.display()));
    }
    let mut key = [0u8; 32];
    rand::fill(&mut key);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    write_private(path, format!("{}\n", hex::encode(key)).as_bytes())?;
    tracing::info!(path = %path.display(), "generated the takedown response-link key");
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// The takedown routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(cases::routes())
        .merge(respond::public_routes())
        .merge(respond::admin_routes())
}

/// Registers the takedown ticks and job kinds (they do nothing while `enabled` is off).
pub fn register(runner: &mut JobRunner) {
    cases::register(runner);
    check::register(runner);
    // The ladder before the outbox, so a first notice goes out in the same round.
    runner.tick("takedown.ladder", ladder::tick);
    runner.tick("takedown.outbox", outbox::tick);
}
