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
//! writes them) into one [`AttributionData`] snapshot, swapped whole when a file changes
//! (checked every `reload_secs` by the `takedown.attribution_reload` tick; API-only nodes run
//! the same check in [`spawn_reload`]). The RDAP bootstrap is fetched on first use (so start-up
//! needs no network) and the RDAP client, with its cache, outlives reloads; each snapshot's
//! [`attribution::Attributor`] is built from it.

pub mod cases;
pub mod check;
pub mod ladder;
pub mod outbox;
pub mod respond;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use arc_swap::ArcSwap;
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
    /// How often the data files are checked for changes (size, mtime), in seconds; a changed
    /// file is loaded and swapped in, a broken or vanished one leaves the loaded data in use.
    /// 0: never (load at start only).
    pub reload_secs: u64,
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
            reload_secs: 60,
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

/// Size and modification time of a data file: what the reload check compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    /// Length in bytes.
    pub len: u64,
    /// Modification time (`None` where the platform has none).
    pub modified: Option<SystemTime>,
}

impl FileStamp {
    /// The stamp of `path`; `Ok(None)` when there is no such file.
    pub fn of(path: &Path) -> std::io::Result<Option<FileStamp>> {
        match std::fs::metadata(path) {
            Ok(m) => Ok(Some(FileStamp {
                len: m.len(),
                modified: m.modified().ok(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// What happened to a data file between two looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileChange {
    /// Same length and mtime (or still absent).
    Unchanged,
    /// There was no file, now there is.
    Appeared,
    /// Another length or mtime.
    Modified,
    /// There was a file, now there is none.
    Disappeared,
}

/// Compares the stamp seen last with the current one.
pub fn file_change(seen: Option<FileStamp>, now: Option<FileStamp>) -> FileChange {
    match (seen, now) {
        (a, b) if a == b => FileChange::Unchanged,
        (None, Some(_)) => FileChange::Appeared,
        (Some(_), None) => FileChange::Disappeared,
        _ => FileChange::Modified,
    }
}

/// The attribution data files, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataFile {
    Table,
    Mmdb,
    Cdn,
    Rules,
}

impl DataFile {
    const ALL: [DataFile; 4] = [
        DataFile::Table,
        DataFile::Mmdb,
        DataFile::Cdn,
        DataFile::Rules,
    ];

    fn name(self) -> &'static str {
        match self {
            DataFile::Table => "prefix_table",
            DataFile::Mmdb => "mmdb",
            DataFile::Cdn => "cdn_list",
            DataFile::Rules => "rules",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One file's contents, loaded.
enum Loaded {
    Table(PrefixTable),
    Mmdb(MmdbAsn),
    Cdn(CdnList),
    Rules(RuleSet),
}

/// Loads one data file for a reload (blocking: a TSV import takes seconds). Stricter than the
/// start: an empty prefix table is refused, so a broken import never replaces a good table.
fn load_file(kind: DataFile, path: &Path) -> anyhow::Result<Loaded> {
    Ok(match kind {
        DataFile::Table => {
            let t = load_table(path, true)?
                .ok_or_else(|| anyhow::anyhow!("{} not found", path.display()))?;
            if t.is_empty() {
                anyhow::bail!("{}: the prefix table has no prefixes", path.display());
            }
            Loaded::Table(t)
        }
        DataFile::Mmdb => Loaded::Mmdb(MmdbAsn::open(path)?),
        DataFile::Cdn => Loaded::Cdn(CdnList::load(path)?),
        DataFile::Rules => {
            let b = std::fs::read(path)?;
            Loaded::Rules(serde_json::from_slice(&b)?)
        }
    })
}

/// One consistent set of attribution data: readers take it whole ([`TakedownCtx::data`]), a
/// reload swaps in a new one; what a reader holds stays valid until it drops it.
pub struct AttributionData {
    table: Option<Arc<PrefixTable>>,
    mmdb: Option<Arc<MmdbAsn>>,
    cdn: Option<Arc<CdnList>>,
    rules: Arc<RuleSet>,
    /// The rules came from a file (else: no rules file, no rules).
    rules_loaded: bool,
    /// Built on first use, or at the reload once the RDAP client exists.
    attributor: tokio::sync::OnceCell<Arc<Attributor>>,
}

impl AttributionData {
    /// IP → AS sources, most trusted first (prefix table, MMDB).
    pub fn asn(&self) -> Vec<Arc<dyn AsnLookup>> {
        let mut v: Vec<Arc<dyn AsnLookup>> = Vec::new();
        if let Some(t) = &self.table {
            v.push(t.clone());
        }
        if let Some(m) = &self.mmdb {
            v.push(m.clone());
        }
        v
    }

    /// The manual rules in use.
    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    /// Whether the rules came from a rules file.
    pub fn rules_loaded(&self) -> bool {
        self.rules_loaded
    }

    /// A copy with the same data and no attributor yet (a reload then replaces parts).
    fn successor(&self) -> AttributionData {
        AttributionData {
            table: self.table.clone(),
            mmdb: self.mmdb.clone(),
            cdn: self.cdn.clone(),
            rules: self.rules.clone(),
            rules_loaded: self.rules_loaded,
            attributor: tokio::sync::OnceCell::new(),
        }
    }
}

/// The resolved paths of the data files (indexed by [`DataFile`]).
#[derive(Debug, Clone)]
struct DataPaths([PathBuf; 4]);

impl DataPaths {
    fn get(&self, kind: DataFile) -> &Path {
        &self.0[kind.index()]
    }
}

/// What the reload check has seen of each file (indexed by [`DataFile`]).
struct Watch {
    /// The stamp last acted on (loaded, refused or gone): a file is looked at again only when
    /// its stamp differs, so a broken file is reported once per change, not every check.
    seen: [Option<FileStamp>; 4],
    /// The next check by the service clock (the tick runs more often).
    next_check: Option<chrono::DateTime<chrono::Utc>>,
}

/// Runtime state of the takedown work (held in [`crate::app::Inner`]).
pub struct TakedownCtx {
    /// The settings.
    pub config: TakedownConfig,
    /// Names used by attribution (pinned, then system DNS).
    pub resolver: Arc<PinnedResolver>,
    data: ArcSwap<AttributionData>,
    paths: DataPaths,
    watch: tokio::sync::Mutex<Watch>,
    /// Why the current version of a file was refused (indexed by [`DataFile`]).
    load_errors: Mutex<[Option<String>; 4]>,
    /// Shared by every snapshot's attributor, so reloads keep its bootstrap and cache.
    rdap: tokio::sync::OnceCell<Arc<RdapClient>>,
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
        let paths = DataPaths([
            ac.prefix_table
                .clone()
                .unwrap_or_else(|| dir.join("prefixes.bin")),
            ac.mmdb.clone().unwrap_or_else(|| dir.join("asn.mmdb")),
            ac.cdn_list.clone().unwrap_or_else(|| dir.join("cdn.txt")),
            ac.rules.clone().unwrap_or_else(|| dir.join("rules.json")),
        ]);
        // Stamped before loading: a change while loading is picked up by the first check.
        let seen = DataFile::ALL.map(|k| FileStamp::of(paths.get(k)).ok().flatten());
        let table_path = paths.get(DataFile::Table);
        let table = load_table(table_path, ac.prefix_table.is_some())?.map(Arc::new);
        let mmdb_path = paths.get(DataFile::Mmdb);
        let mmdb = if mmdb_path.exists() {
            Some(Arc::new(MmdbAsn::open(mmdb_path)?))
        } else if ac.mmdb.is_some() {
            anyhow::bail!(
                "takedown.attribution.mmdb {} not found",
                mmdb_path.display()
            );
        } else {
            None
        };
        let cdn_path = paths.get(DataFile::Cdn);
        let cdn = if cdn_path.exists() {
            Some(Arc::new(CdnList::load(cdn_path)?))
        } else if ac.cdn_list.is_some() {
            anyhow::bail!(
                "takedown.attribution.cdn_list {} not found",
                cdn_path.display()
            );
        } else {
            None
        };
        let rules_path = paths.get(DataFile::Rules);
        let (rules, rules_loaded) = match std::fs::read(rules_path) {
            Ok(b) => (
                serde_json::from_slice(&b)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", rules_path.display()))?,
                true,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && ac.rules.is_none() => {
                (RuleSet::default(), false)
            }
            Err(e) => anyhow::bail!("{}: {e}", rules_path.display()),
        };
        if table.is_none() && mmdb.is_none() && tc.enabled {
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
            data: ArcSwap::from_pointee(AttributionData {
                table,
                mmdb,
                cdn,
                rules: Arc::new(rules),
                rules_loaded,
                attributor: tokio::sync::OnceCell::new(),
            }),
            paths,
            watch: tokio::sync::Mutex::new(Watch {
                seen,
                next_check: None,
            }),
            load_errors: Mutex::new(Default::default()),
            rdap: tokio::sync::OnceCell::new(),
            link_key,
            check_counts: Mutex::new(HashMap::new()),
            check_running: std::sync::atomic::AtomicBool::new(false),
            config: tc,
        })
    }

    /// The attribution data in use (one consistent snapshot; hold it for the whole job).
    pub fn data(&self) -> Arc<AttributionData> {
        self.data.load_full()
    }

    /// IP → AS sources of the data in use, most trusted first (prefix table, MMDB).
    pub fn asn(&self) -> Vec<Arc<dyn AsnLookup>> {
        self.data.load().asn()
    }

    /// Where the rules file is read from.
    pub fn rules_path(&self) -> &Path {
        self.paths.get(DataFile::Rules)
    }

    /// Why the current rules file was refused (the rules loaded before stay in use).
    pub fn rules_error(&self) -> Option<String> {
        self.load_errors.lock().unwrap_or_else(|p| p.into_inner())[DataFile::Rules.index()].clone()
    }

    /// The shared RDAP client (`None` with `rdap` off), created on first use: fetches the
    /// bootstrap unless a directory is configured. A failure is returned and retried next time.
    async fn rdap_client(&self, state: &AppState) -> anyhow::Result<Option<Arc<RdapClient>>> {
        let ac = &self.config.attribution;
        if !ac.rdap {
            return Ok(None);
        }
        let c = self
            .rdap
            .get_or_try_init(|| async {
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
                let clock: Arc<dyn attribution::Clock> =
                    Arc::new(ClockAdapter(state.clock.clone()));
                Ok::<_, anyhow::Error>(Arc::new(RdapClient::new(
                    state.fetcher.clone(),
                    bootstrap,
                    rc,
                    clock,
                )))
            })
            .await?;
        Ok(Some(c.clone()))
    }

    fn build_attributor(
        &self,
        state: &AppState,
        data: &AttributionData,
        rdap: Option<Arc<RdapClient>>,
    ) -> Arc<Attributor> {
        let clock: Arc<dyn attribution::Clock> = Arc::new(ClockAdapter(state.clock.clone()));
        let mut a =
            Attributor::new(self.resolver.clone(), clock).with_rules(RuleSet::clone(&data.rules));
        for s in data.asn() {
            a = a.with_asn(s);
        }
        if let Some(c) = &data.cdn {
            a = a.with_cdn_list(c.clone());
        }
        if let Some(r) = rdap {
            a = a.with_rdap(r);
        }
        Arc::new(a)
    }

    /// The attributor of the data in use, built on first use (fetches the RDAP bootstrap
    /// unless a directory is configured). A failure is returned and retried on the next call.
    pub async fn attributor(&self, state: &AppState) -> anyhow::Result<Arc<Attributor>> {
        let data = self.data();
        data.attributor
            .get_or_try_init(|| async {
                let rdap = self.rdap_client(state).await?;
                Ok::<_, anyhow::Error>(self.build_attributor(state, &data, rdap))
            })
            .await
            .cloned()
    }

    /// The AS number of `ip` from the local tables (no network).
    pub fn asn_of(&self, ip: IpAddr) -> Option<u32> {
        self.asn()
            .iter()
            .find_map(|s| s.lookup_asn(ip).ok().flatten())
            .map(|h| h.asn)
    }

    /// Loads the data files whose size or mtime changed since they were last looked at and
    /// swaps in a new snapshot. A file that fails to load, or vanished, leaves the loaded data
    /// in use. Returns the names of the files reloaded. Waits for a reload already running.
    pub async fn reload_changed(&self, state: &AppState) -> Vec<&'static str> {
        let mut watch = self.watch.lock().await;
        self.reload_locked(state, &mut watch).await
    }

    async fn reload_locked(&self, state: &AppState, watch: &mut Watch) -> Vec<&'static str> {
        let mut todo = Vec::new();
        for kind in DataFile::ALL {
            let path = self.paths.get(kind);
            let now = match FileStamp::of(path) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(file = kind.name(), path = %path.display(), error = %e,
                        "attribution file unreadable: the loaded data stays in use");
                    continue;
                }
            };
            let seen = &mut watch.seen[kind.index()];
            match file_change(*seen, now) {
                FileChange::Unchanged => {}
                FileChange::Disappeared => {
                    *seen = None;
                    self.set_error(kind, None);
                    tracing::warn!(file = kind.name(), path = %path.display(),
                        "attribution file gone: the loaded data stays in use");
                }
                FileChange::Appeared | FileChange::Modified => {
                    if let Some(stamp) = now {
                        todo.push((kind, path.to_path_buf(), stamp));
                    }
                }
            }
        }
        if todo.is_empty() {
            return Vec::new();
        }
        // Off the async workers: importing a TSV prefix table takes seconds.
        let results = match tokio::task::spawn_blocking(move || {
            todo.into_iter()
                .map(|(kind, path, before)| {
                    let r = load_file(kind, &path);
                    let after = FileStamp::of(&path).ok().flatten();
                    (kind, path, before, after, r)
                })
                .collect::<Vec<_>>()
        })
        .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "attribution reload failed: the loaded data stays in use");
                return Vec::new();
            }
        };
        let mut next = self.data.load().successor();
        let mut reloaded = Vec::new();
        for (kind, path, before, after, r) in results {
            if after != Some(before) {
                // Still being written: looked at again on the next check.
                tracing::debug!(file = kind.name(), path = %path.display(),
                    "attribution file changed while loading; retried on the next check");
                continue;
            }
            watch.seen[kind.index()] = Some(before);
            match r {
                Ok(l) => {
                    match l {
                        Loaded::Table(t) => next.table = Some(Arc::new(t)),
                        Loaded::Mmdb(m) => next.mmdb = Some(Arc::new(m)),
                        Loaded::Cdn(c) => next.cdn = Some(Arc::new(c)),
                        Loaded::Rules(r) => {
                            next.rules = Arc::new(r);
                            next.rules_loaded = true;
                        }
                    }
                    self.set_error(kind, None);
                    reloaded.push(kind.name());
                }
                Err(e) => {
                    tracing::error!(file = kind.name(), path = %path.display(), error = %format!("{e:#}"),
                        "attribution file not loaded: the loaded data stays in use");
                    self.set_error(kind, Some(format!("{e:#}")));
                }
            }
        }
        if reloaded.is_empty() {
            return reloaded;
        }
        // Built now when the RDAP client exists already (or RDAP is off); else on first use.
        let rdap = self.rdap.get().cloned();
        if rdap.is_some() || !self.config.attribution.rdap {
            let a = self.build_attributor(state, &next, rdap);
            // The cell is new and unshared: setting it cannot fail.
            let _ = next.attributor.set(a);
        }
        let (v4, v6) = next.table.as_ref().map_or((0, 0), |t| t.len());
        tracing::info!(
            files = ?reloaded,
            prefix_ranges_v4 = v4,
            prefix_ranges_v6 = v6,
            mmdb = next.mmdb.is_some(),
            cdn_prefixes = next.cdn.as_ref().map_or(0, |c| c.len()),
            rules = next.rules.rules.len(),
            "attribution data reloaded"
        );
        self.data.store(Arc::new(next));
        reloaded
    }

    fn set_error(&self, kind: DataFile, e: Option<String>) {
        self.load_errors.lock().unwrap_or_else(|p| p.into_inner())[kind.index()] = e;
    }
}

/// The `takedown.attribution_reload` tick: every `reload_secs` by the service clock, loads the
/// attribution files that changed (on every role running jobs; see [`spawn_reload`]).
pub async fn reload_tick(state: AppState) -> anyhow::Result<()> {
    let ctx = &state.takedown;
    let every = ctx.config.attribution.reload_secs;
    if every == 0 {
        return Ok(());
    }
    // A reload still running (a large import) is not waited for: the round goes on.
    let Ok(mut watch) = ctx.watch.try_lock() else {
        return Ok(());
    };
    let now = state.clock.now();
    if watch.next_check.is_some_and(|t| now < t) {
        return Ok(());
    }
    // Capped (ten years) so a silly value cannot overflow the duration.
    watch.next_check = Some(now + chrono::Duration::seconds(every.min(315_360_000) as i64));
    ctx.reload_locked(&state, &mut watch).await;
    Ok(())
}

/// Follows the attribution files on a node without a job runner (the API role: its rules page
/// and monitor read them too), every `reload_secs`. `None` when reloading is off.
pub fn spawn_reload(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    let every = state.takedown.config.attribution.reload_secs;
    if every == 0 {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(every));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick fires at once; the data was just loaded.
        tick.tick().await;
        loop {
            tick.tick().await;
            state.takedown.reload_changed(&state).await;
        }
    }))
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

/// Registers the takedown ticks and job kinds (they do nothing while `enabled` is off, except
/// the attribution reload: the monitor and the rules page read that data too).
pub fn register(runner: &mut JobRunner) {
    // First, so the round's attributions use data changed since the last round.
    runner.tick("takedown.attribution_reload", reload_tick);
    cases::register(runner);
    check::register(runner);
    // The ladder before the outbox, so a first notice goes out in the same round.
    runner.tick("takedown.ladder", ladder::tick);
    runner.tick("takedown.outbox", outbox::tick);
}
