//! The running service follows changes of its attribution files: a new prefix table or rules
//! file is loaded by the `takedown.attribution_reload` tick and swapped in; a broken, empty or
//! vanished file leaves the data loaded before in use. The state runs in-process over SQLite
//! with a manual clock; the tick runs in stepped job rounds. RDAP is off and the site's name is
//! pinned, so attribution needs no network.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration as StdDuration, SystemTime};

use attribution::{PrefixTableBuilder, Rule, RuleContact, RuleSet};
use chrono::{DateTime, Duration, Utc};
use schoon_core::hit::ManualClock;
use server::takedown::{FileChange, FileStamp, file_change};
use server::worker::JobRunner;
use server::{AppState, Config};
use store::SqliteStore;

const SITE: &str = "www.example-shop.test";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Gives `path` the mtime `secs` after the epoch, so every rewrite is seen as a change even
/// within one second and with the same length.
fn set_mtime(path: &Path, secs: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::UNIX_EPOCH + StdDuration::from_secs(secs))
        .unwrap();
}

/// A compact prefix table (what `schoon attribution import` writes) mapping 198.51.100.0/24
/// to `asn`.
fn write_table(path: &Path, asn: u32, mtime: u64) {
    let mut b = PrefixTableBuilder::new();
    let tsv =
        format!("198.51.100.0\t198.51.100.255\t{asn}\tNL\tHOSTING-{asn} Hosting {asn} B.V.\n");
    let report = b.import_tsv(tsv.as_bytes()).unwrap();
    assert!(report.is_clean());
    b.build().save(path).unwrap();
    set_mtime(path, mtime);
}

/// A rules file forcing the site's hoster to `org`.
fn write_rules(path: &Path, org: &str, mtime: u64) {
    let rule = Rule {
        hoster: Some(RuleContact {
            organisation: org.into(),
            abuse_email: Some("abuse@hoster.example".into()),
            country: Some("NL".into()),
        }),
        ..Rule::host(SITE)
    };
    let set = RuleSet::new().with(rule);
    std::fs::write(path, serde_json::to_vec_pretty(&set).unwrap()).unwrap();
    set_mtime(path, mtime);
}

fn write_bytes(path: &Path, bytes: &[u8], mtime: u64) {
    std::fs::write(path, bytes).unwrap();
    set_mtime(path, mtime);
}

struct Env {
    clock: Arc<ManualClock>,
    state: AppState,
    runner: JobRunner,
    store: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
}

impl Env {
    /// The state over `dir`'s data directory (files written by the caller first).
    async fn start(dir: tempfile::TempDir, adjust: impl FnOnce(&mut Config)) -> Env {
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        config.reports.worker = false;
        let a = &mut config.takedown.attribution;
        a.rdap = false;
        a.hosts.insert(SITE.into(), vec![ip("198.51.100.7")]);
        adjust(&mut config);
        let clock = Arc::new(ManualClock::new(t0()));
        let store = Arc::new(SqliteStore::open(&config.database_path()).await.unwrap());
        let state = AppState::with_clock(store.clone(), config, clock.clone()).unwrap();
        let mut runner = JobRunner::new(state.clone(), "test-worker");
        server::takedown::register(&mut runner);
        Env {
            clock,
            state,
            runner,
            store,
            _dir: dir,
        }
    }

    /// One job round after `secs` seconds.
    async fn round_after(&self, secs: i64) {
        self.clock.advance(Duration::seconds(secs));
        self.runner.run_once().await.unwrap();
    }

    fn asn(&self) -> Option<u32> {
        self.state.takedown.asn_of(ip("198.51.100.7"))
    }

    /// The hoster the attributor in use names for the site.
    async fn hoster(&self) -> Option<String> {
        let a = self.state.takedown.attributor(&self.state).await.unwrap();
        hoster_of(&a).await
    }

    /// The rules the admin page shows (organisations of the loaded rules).
    fn page_rules(&self) -> Vec<String> {
        let data = self.state.takedown.data();
        data.rules()
            .rules
            .iter()
            .filter_map(|r| r.hoster.as_ref().map(|h| h.organisation.clone()))
            .collect()
    }
}

async fn hoster_of(a: &attribution::Attributor) -> Option<String> {
    let at = a
        .attribute(&format!("https://{SITE}/img/1.jpg"))
        .await
        .unwrap();
    at.hoster.and_then(|h| h.organisation)
}

fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let att = dir.path().join("attribution");
    std::fs::create_dir_all(&att).unwrap();
    (dir, att)
}

#[tokio::test]
async fn changed_files_are_swapped_in_and_broken_ones_keep_the_loaded_data() {
    let (dir, att) = data_dir();
    let table = att.join("prefixes.bin");
    let rules = att.join("rules.json");
    write_table(&table, 64501, 1_000);
    write_rules(&rules, "First Hoster B.V.", 1_000);
    let env = Env::start(dir, |_| {}).await;

    assert_eq!(env.asn(), Some(64501));
    assert_eq!(env.hoster().await.as_deref(), Some("First Hoster B.V."));
    assert!(env.state.takedown.data().rules_loaded());
    assert_eq!(env.page_rules(), ["First Hoster B.V."]);
    assert_eq!(env.state.takedown.rules_path(), rules.as_path());
    // The first round checks (nothing changed): the data stays.
    env.round_after(0).await;
    assert_eq!(env.asn(), Some(64501));

    // New files: the same lengths (AS numbers of equal width), only the mtime tells.
    let before = env.state.takedown.attributor(&env.state).await.unwrap();
    write_table(&table, 64999, 2_000);
    write_rules(&rules, "Second Hoster B.V.", 2_000);
    // Not yet due (reload_secs 60 by the service clock).
    env.round_after(30).await;
    assert_eq!(env.asn(), Some(64501));
    assert_eq!(env.hoster().await.as_deref(), Some("First Hoster B.V."));
    env.round_after(31).await;
    assert_eq!(env.asn(), Some(64999));
    assert_eq!(env.hoster().await.as_deref(), Some("Second Hoster B.V."));
    assert_eq!(env.page_rules(), ["Second Hoster B.V."]);
    assert_eq!(env.state.takedown.rules_error(), None);
    // A reader holding the old snapshot keeps a consistent view of it.
    assert_eq!(
        hoster_of(&before).await.as_deref(),
        Some("First Hoster B.V.")
    );
    let after = env.state.takedown.attributor(&env.state).await.unwrap();
    assert!(!Arc::ptr_eq(&before, &after));
    // Nothing changed since: the next check keeps the same attributor.
    env.round_after(61).await;
    let same = env.state.takedown.attributor(&env.state).await.unwrap();
    assert!(Arc::ptr_eq(&after, &same));

    // Broken files: a truncated table fails its checksum, the rules are not JSON.
    let good = std::fs::read(&table).unwrap();
    write_bytes(&table, &good[..good.len() / 2], 3_000);
    write_bytes(&rules, b"{\"rules\": [", 3_000);
    env.round_after(61).await;
    assert_eq!(env.asn(), Some(64999));
    assert_eq!(env.hoster().await.as_deref(), Some("Second Hoster B.V."));
    assert_eq!(env.page_rules(), ["Second Hoster B.V."]);
    let err = env
        .state
        .takedown
        .rules_error()
        .expect("the page names the error");
    assert!(err.contains("EOF"), "{err}");
    // Not a table at all.
    write_bytes(&table, b"garbage, not a prefix table", 3_500);
    env.round_after(61).await;
    assert_eq!(env.asn(), Some(64999));

    // Gone: the loaded data stays, and the rules error is over.
    std::fs::remove_file(&table).unwrap();
    std::fs::remove_file(&rules).unwrap();
    env.round_after(61).await;
    assert_eq!(env.asn(), Some(64999));
    assert_eq!(env.hoster().await.as_deref(), Some("Second Hoster B.V."));
    assert_eq!(env.state.takedown.rules_error(), None);

    // Back (as `schoon attribution import` writes it): loaded again.
    write_table(&table, 64777, 4_000);
    write_rules(&rules, "Third Hoster B.V.", 4_000);
    env.round_after(61).await;
    assert_eq!(env.asn(), Some(64777));
    assert_eq!(env.hoster().await.as_deref(), Some("Third Hoster B.V."));
    env.store.close().await;
}

#[tokio::test]
async fn files_appearing_after_start_are_loaded() {
    let (dir, att) = data_dir();
    let env = Env::start(dir, |_| {}).await;
    assert_eq!(env.asn(), None);
    assert_eq!(env.hoster().await, None);
    assert!(!env.state.takedown.data().rules_loaded());

    write_table(&att.join("prefixes.bin"), 64501, 1_000);
    write_rules(&att.join("rules.json"), "First Hoster B.V.", 1_000);
    env.round_after(1).await;
    assert_eq!(env.asn(), Some(64501));
    assert_eq!(env.hoster().await.as_deref(), Some("First Hoster B.V."));
    assert!(env.state.takedown.data().rules_loaded());
    env.store.close().await;
}

#[tokio::test]
async fn an_iptoasn_table_that_imports_empty_does_not_replace_a_good_one() {
    let (dir, att) = data_dir();
    let tsv = att.join("ip2asn.tsv");
    write_bytes(
        &tsv,
        b"198.51.100.0\t198.51.100.255\t64501\tNL\tEXAMPLE-HOSTING Example Hosting B.V.\n",
        1_000,
    );
    let path = tsv.clone();
    let env = Env::start(dir, move |c| {
        c.takedown.attribution.prefix_table = Some(path)
    })
    .await;
    assert_eq!(env.asn(), Some(64501));

    // Every line bad: the import skips them all, which would leave an empty table.
    write_bytes(&tsv, b"not\ta\ttable\nat all\n", 2_000);
    env.round_after(61).await;
    assert_eq!(env.asn(), Some(64501));

    write_bytes(
        &tsv,
        b"198.51.100.0\t198.51.100.255\t64502\tNL\tOTHER-HOSTING Other Hosting B.V.\n",
        3_000,
    );
    env.round_after(61).await;
    assert_eq!(env.asn(), Some(64502));
    env.store.close().await;
}

#[tokio::test]
async fn reload_secs_zero_keeps_the_start_data() {
    let (dir, att) = data_dir();
    let table = att.join("prefixes.bin");
    write_table(&table, 64501, 1_000);
    let env = Env::start(dir, |c| c.takedown.attribution.reload_secs = 0).await;
    write_table(&table, 64999, 2_000);
    env.round_after(3_600).await;
    assert_eq!(env.asn(), Some(64501));
    // An explicit check still works (what API-only nodes run on their own).
    let reloaded = env.state.takedown.reload_changed(&env.state).await;
    assert_eq!(reloaded, ["prefix_table"]);
    assert_eq!(env.asn(), Some(64999));
    env.store.close().await;
}

#[test]
fn change_detection_compares_length_and_mtime() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rules.json");
    assert_eq!(FileStamp::of(&p).unwrap(), None);
    write_bytes(&p, b"{\"rules\": []}", 1_000);
    let a = FileStamp::of(&p).unwrap().expect("the file exists");
    assert_eq!(a.len, 13);
    assert_eq!(
        a.modified,
        Some(SystemTime::UNIX_EPOCH + StdDuration::from_secs(1_000))
    );
    assert_eq!(file_change(Some(a), Some(a)), FileChange::Unchanged);
    assert_eq!(file_change(None, None), FileChange::Unchanged);
    assert_eq!(file_change(None, Some(a)), FileChange::Appeared);
    assert_eq!(file_change(Some(a), None), FileChange::Disappeared);

    // Same length, other mtime.
    set_mtime(&p, 2_000);
    let b = FileStamp::of(&p).unwrap().unwrap();
    assert_eq!(file_change(Some(a), Some(b)), FileChange::Modified);
    // Other length, same mtime.
    write_bytes(&p, b"{\"rules\": [ ]}", 2_000);
    let c = FileStamp::of(&p).unwrap().unwrap();
    assert_eq!(c.modified, b.modified);
    assert_eq!(file_change(Some(b), Some(c)), FileChange::Modified);
}
