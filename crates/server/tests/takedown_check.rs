//! Takedown cases and check-online end to end: a loopback website plays the reported site, a
//! loopback RDAP server plays the registries (realistic RDAP JSON with abuse entities), a
//! prefix-table fixture with IPv4 and IPv6 rows maps addresses to networks, and a manual clock
//! drives the schedule. The schoon API runs in-process over SQLite; jobs and check rounds are
//! stepped by the test.
//!
//! The site's host names end in `.localhost`: the fetcher connects them to 127.0.0.1 (allowed
//! for this test only), while attribution resolves them through pinned addresses in
//! documentation ranges, so the registries' answers look like the real thing. A site "moves" by
//! re-pinning its name.

mod common;

use std::collections::HashMap;
use std::io::Cursor;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode as RStatus;
use schoon_core::hit::{Clock, ManualClock};
use schoon_core::report::{Attributes, Classification, SourceKind};
use schoon_core::takedown::CaseState;
use serde_json::Value;
use server::worker::JobRunner;
use server::{AppState, Config};
use store::reports::{AnalystAction, AutoOutcome, Fetched, NewReport};
use store::takedown::Case;
use store::{Actor, NewTenant, ReportStore, SqliteStore, Store, TakedownStore};

const SITE: &str = "www.example-shop.localhost";
const QUIET: &str = "files.quiet-shop.localhost";
const V6: &str = "v6.example-shop.localhost";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/takedown")
        .join(rel)
}

fn attribution_fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../attribution/tests/fixtures")
        .join(rel)
}

// --- synthetic images ---

/// A synthetic picture (rings and waves; nothing real). PDQ needs structure in the luminance
/// at its scale, which this has (quality 75).
fn synthetic_rgb() -> image::RgbImage {
    image::RgbImage::from_fn(320, 240, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let d1 = ((fx - 90.0).powi(2) + (fy - 80.0).powi(2)).sqrt();
        let d2 = ((fx - 230.0).powi(2) + (fy - 160.0).powi(2)).sqrt();
        let l =
            128.0 + 90.0 * (d1 / 30.0).cos() - 60.0 * (d2 / 45.0).sin() + 20.0 * (fx / 50.0).sin();
        let l = l.clamp(0.0, 255.0) as u8;
        image::Rgb([l, l / 2 + 60, 255 - l / 2])
    })
}

fn png(img: &image::RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// The same picture, shrunk and re-encoded as JPEG: other bytes, PDQ within the radius
/// (distance 18 here).
fn reencoded(img: &image::RgbImage) -> Vec<u8> {
    let small = image::imageops::resize(img, 240, 180, image::imageops::FilterType::Triangle);
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
    image::DynamicImage::ImageRgb8(small)
        .write_with_encoder(enc)
        .unwrap();
    out
}

/// Another picture altogether.
fn other_picture() -> Vec<u8> {
    let img = image::RgbImage::from_fn(320, 240, |x, y| {
        image::Rgb([
            ((x * y) % 251) as u8,
            ((x + 3 * y) % 256) as u8,
            (y % 97) as u8,
        ])
    });
    png(&img)
}

// --- the reported website ---

#[derive(Clone)]
enum Page {
    Image(Vec<u8>, &'static str),
    NotFound,
    SoftNotFound,
    Down,
}

#[derive(Clone, Default)]
struct Site {
    pages: Arc<Mutex<HashMap<String, Page>>>,
    hits: Arc<AtomicUsize>,
}

impl Site {
    fn set(&self, path: &str, p: Page) {
        self.pages.lock().unwrap().insert(path.to_string(), p);
    }
}

async fn site_page(State(site): State<Site>, Path(p): Path<String>) -> Response {
    site.hits.fetch_add(1, Ordering::SeqCst);
    let page = site.pages.lock().unwrap().get(&p).cloned();
    match page {
        Some(Page::Image(b, ct)) => ([(header::CONTENT_TYPE, ct)], b).into_response(),
        // A soft-404: status 200 and a friendly HTML page where the picture was.
        Some(Page::SoftNotFound) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!doctype html><html><head><title>Not found</title></head><body><h1>Sorry!</h1>\
             <p>This content has been removed.</p></body></html>",
        )
            .into_response(),
        Some(Page::Down) => StatusCode::BAD_GATEWAY.into_response(),
        Some(Page::NotFound) | None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn start_site() -> (Site, u16) {
    let site = Site::default();
    let app = axum::Router::new()
        .route("/img/{p}", axum::routing::get(site_page))
        .with_state(site.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (site, port)
}

// --- the registries (RDAP) ---

#[derive(Clone)]
struct Rdap {
    base: Arc<Mutex<String>>,
    hits: Arc<AtomicUsize>,
}

fn rdap_answer(registry: &str, kind: &str, key: &str) -> Option<PathBuf> {
    let f = match (registry, kind, key) {
        ("ripe", "ip", "198.51.100.7" | "198.51.100.8") => {
            attribution_fixture("rdap/ripe_ip_198.51.100.json")
        }
        ("ripe", "ip", "198.18.0.5") => attribution_fixture("rdap/ripe_ip_198.18.json"),
        ("ripe", "ip", "2001:db8:1000:42::1" | "2001:db8:1000::7") => {
            attribution_fixture("rdap/ripe_ip6_2001db8.json")
        }
        ("ripe", "ip", "192.0.2.20") => fixture("ripe_ip_192.0.2.json"),
        ("arin", "ip", "203.0.113.50") => attribution_fixture("rdap/arin_ip_203.0.113.json"),
        ("verisign", "domain", "example-shop.localhost" | "quiet-shop.localhost") => {
            attribution_fixture("rdap/verisign_domain_example-shop.com.json")
        }
        _ => return None,
    };
    Some(f)
}

async fn rdap_bootstrap(State(r): State<Rdap>, Path(file): Path<String>) -> Response {
    r.hits.fetch_add(1, Ordering::SeqCst);
    let Ok(text) = std::fs::read_to_string(fixture(&format!("bootstrap/{file}"))) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let base = r.base.lock().unwrap().clone();
    (
        [(header::CONTENT_TYPE, "application/json")],
        text.replace("{{BASE}}", &base),
    )
        .into_response()
}

async fn rdap_object(
    State(r): State<Rdap>,
    Path((registry, kind, key)): Path<(String, String, String)>,
) -> Response {
    r.hits.fetch_add(1, Ordering::SeqCst);
    match rdap_answer(&registry, &kind, &key.to_ascii_lowercase()) {
        Some(f) => (
            [(header::CONTENT_TYPE, "application/rdap+json")],
            std::fs::read_to_string(f).unwrap(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/rdap+json")],
            r#"{"errorCode":404,"title":"Not Found"}"#,
        )
            .into_response(),
    }
}

async fn start_rdap() -> (Rdap, String) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", l.local_addr().unwrap());
    let r = Rdap {
        base: Arc::new(Mutex::new(base.clone())),
        hits: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/bootstrap/{file}", axum::routing::get(rdap_bootstrap))
        .route("/{registry}/{kind}/{key}", axum::routing::get(rdap_object))
        .with_state(r.clone());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (r, base)
}

// --- schoon ---

struct Env {
    clock: Arc<ManualClock>,
    state: AppState,
    store: Arc<SqliteStore>,
    runner: JobRunner,
    http: reqwest::Client,
    base: String,
    admin: String,
    tenant: i64,
    other_tenant: i64,
    site: Site,
    port: u16,
    _rdap: Rdap,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

impl Env {
    async fn start(adjust: impl FnOnce(&mut Config)) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let (site, port) = start_site().await;
        let (rdap, rdap_base) = start_rdap().await;
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        config.fetch.allow_addresses = vec!["127.0.0.1/32".into()];
        config.fetch.timeout_secs = 5;
        config.reports.worker = false;
        let a = &mut config.takedown.attribution;
        a.prefix_table = Some(fixture("prefixes.tsv"));
        a.rdap_bootstrap_base = format!("{rdap_base}bootstrap/");
        a.hosts.insert(
            SITE.into(),
            vec![ip("198.51.100.7"), ip("2001:db8:1000::7")],
        );
        a.hosts.insert(QUIET.into(), vec![ip("198.51.200.9")]);
        a.hosts.insert(V6.into(), vec![ip("2001:db8:1000:42::1")]);
        config.takedown.reattribute_every = 1000;
        adjust(&mut config);
        let clock = Arc::new(ManualClock::new(t0()));
        let store = Arc::new(SqliteStore::open(&config.database_path()).await.unwrap());
        let boot = server::bootstrap(store.as_ref(), "first")
            .await
            .unwrap()
            .unwrap();
        let nl = store
            .create_tenant(
                &Actor::system(),
                NewTenant {
                    name: "nl-hotline".into(),
                    country: Some("NL".into()),
                    hit_deadline_hours: 24,
                },
            )
            .await
            .unwrap();
        let state = AppState::with_clock(store.clone(), config, clock.clone()).unwrap();
        let mut runner = JobRunner::new(state.clone(), "test-worker");
        server::takedown::register(&mut runner);
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let app = server::router(state.clone());
        let task = tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        Env {
            clock,
            state,
            store,
            runner,
            http: reqwest::Client::new(),
            base,
            admin: boot.admin.token,
            tenant: nl.id,
            other_tenant: boot.tenant.id,
            site,
            port,
            _rdap: rdap,
            _dir: dir,
            task,
        }
    }

    fn url(&self, host: &str, name: &str) -> String {
        format!("http://{host}:{}/img/{name}", self.port)
    }

    /// A report whose one media item an analyst classified illegal (→ `notice_pending`).
    async fn classified_item(&self, host: &str, name: &str, bytes: &[u8]) -> i64 {
        let actor = Actor("admin:test".into());
        let page = format!("http://{host}:{}/gallery/{name}.html", self.port);
        let sub = self
            .store
            .submit_reports(
                &actor,
                self.tenant,
                vec![NewReport {
                    url: page.clone(),
                    original_url: page.clone(),
                    registrable_domain: None,
                    referer: None,
                    note: None,
                    source_kind: SourceKind::Hotline,
                    source_org_id: None,
                    reporter_email: None,
                }],
                self.clock.now() - Duration::days(7),
            )
            .await
            .unwrap();
        let report = sub[0].report_id;
        self.store
            .record_page(
                &actor,
                report,
                None,
                None,
                vec![(self.url(host, name), "img".into())],
            )
            .await
            .unwrap();
        let item = self.store.report_items(report).await.unwrap()[0].clone();
        let h = media::MediaHasher::default()
            .hash_bytes(bytes, false)
            .unwrap();
        let fetched = Fetched {
            md5: Some(h.digests.md5_hex()),
            sha1: Some(h.digests.sha1_hex()),
            sha256: Some(h.digests.sha256_hex()),
            pdq: Some(h.pdq.to_hex()),
            pdq_quality: Some(u32::from(h.quality)),
            content_type: Some("image/png".into()),
            size: Some(bytes.len() as i64),
            width: Some(h.width),
            height: Some(h.height),
            ..Fetched::default()
        };
        self.store
            .complete_item(&actor, item.id, fetched, AutoOutcome::NeedsAnalyst)
            .await
            .unwrap();
        self.store
            .analyst_action(
                &actor,
                &[item.id],
                AnalystAction::Classify {
                    classification: Classification::Baseline,
                    attributes: Attributes::default(),
                },
                false,
            )
            .await
            .unwrap();
        item.id
    }

    async fn case_of_item(&self, item: i64) -> Case {
        let all = self
            .store
            .cases(
                self.tenant,
                store::takedown::CaseFilter {
                    state: None,
                    after_id: 0,
                    limit: 1000,
                },
            )
            .await
            .unwrap();
        all.into_iter()
            .find(|c| c.item_id == item)
            .expect("a case for the item")
    }

    async fn case(&self, id: i64) -> Case {
        self.store.case(id).await.unwrap().unwrap()
    }

    /// Moves the clock and runs one check round; returns how many cases were checked.
    async fn check_after(&self, minutes: i64) -> usize {
        self.clock.advance(Duration::minutes(minutes));
        server::takedown::check::run_round(&self.state)
            .await
            .unwrap()
            .checked
    }

    async fn get(&self, path: &str) -> (RStatus, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .send()
            .await
            .unwrap();
        let s = r.status();
        let t = r.text().await.unwrap();
        (s, serde_json::from_str(&t).unwrap_or(Value::String(t)))
    }

    async fn post(&self, path: &str, body: Value) -> (RStatus, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        let s = r.status();
        let t = r.text().await.unwrap();
        (s, serde_json::from_str(&t).unwrap_or(Value::String(t)))
    }

    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        self.store.close().await;
    }
}

/// The whole path: classified item → case → attribution (hoster, abuse e-mail, registrar) →
/// observations → offline only after 3 misses ≥ 15 min apart, removal time = first miss,
/// soft-404 counts as gone, a re-encoded copy counts as online again; a case without a usable
/// contact lands in the needs-contact queue; another tenant cannot see a case.
#[tokio::test]
async fn case_attribution_and_offline_verdict() {
    let env = Env::start(|_| {}).await;
    let picture = synthetic_rgb();
    let original = png(&picture);
    env.site
        .set("a.png", Page::Image(original.clone(), "image/png"));
    env.site
        .set("q.png", Page::Image(original.clone(), "image/png"));
    env.site
        .set("c.png", Page::Image(original.clone(), "image/png"));
    let item_a = env.classified_item(SITE, "a.png", &original).await;
    let item_q = env.classified_item(QUIET, "q.png", &original).await;
    let item_c = env.classified_item(V6, "c.png", &original).await;

    // Opener + attribution jobs.
    env.runner.run_once().await.unwrap();
    let a = env.case_of_item(item_a).await;
    assert_eq!(a.state, CaseState::Monitoring, "{a:?}");
    assert_eq!(a.url, env.url(SITE, "a.png"));
    assert_eq!(
        a.contacts.hoster_org.as_deref(),
        Some("Example Hosting B.V.")
    );
    assert_eq!(
        a.contacts.hoster_email.as_deref(),
        Some("abuse@example-hosting.test")
    );
    assert_eq!(a.contacts.hoster_country.as_deref(), Some("NL"));
    assert_eq!(a.contacts.asn, Some(64501));
    assert_eq!(a.contacts.ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(
        a.contacts.registrar_email.as_deref(),
        Some("abuse@example-registrar.test")
    );
    // IPv6-only site: the table's most specific IPv6 row, the abuse contact from RDAP.
    let c = env.case_of_item(item_c).await;
    assert_eq!(c.state, CaseState::Monitoring, "{c:?}");
    assert_eq!(c.contacts.asn, Some(64502));
    assert_eq!(c.contacts.ip.as_deref(), Some("2001:db8:1000:42::1"));
    assert_eq!(
        c.contacts.hoster_email.as_deref(),
        Some("abuse-v6@example-hosting.test")
    );
    // No abuse address anywhere (no RDAP server for that space): parked, visibly.
    let q = env.case_of_item(item_q).await;
    assert_eq!(q.state, CaseState::NeedsContact, "{q:?}");
    assert_eq!(q.contacts.hoster_email, None);
    let (s, v) = env
        .get(&format!("/api/v1/takedown/queues?tenant={}", env.tenant))
        .await;
    assert_eq!(s, RStatus::OK, "{v}");
    assert_eq!(v["states"]["needs_contact"], 1, "{v}");
    assert_eq!(v["states"]["monitoring"], 2, "{v}");
    let (s, v) = env
        .get(&format!(
            "/api/v1/takedown/cases?tenant={}&state=needs_contact",
            env.tenant
        ))
        .await;
    assert_eq!(s, RStatus::OK, "{v}");
    let ids: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![q.id]);

    // Tenant scope: another tenant's view does not have the case.
    let (s, _) = env
        .get(&format!(
            "/api/v1/takedown/cases/{}?tenant={}",
            a.id, env.other_tenant
        ))
        .await;
    assert_eq!(s, RStatus::NOT_FOUND);
    let (s, v) = env
        .get(&format!(
            "/api/v1/takedown/cases/{}?tenant={}",
            a.id, env.tenant
        ))
        .await;
    assert_eq!(s, RStatus::OK, "{v}");
    assert_eq!(v["attributions"].as_array().unwrap().len(), 1, "{v}");

    // Still online.
    let before = env.site.hits.load(Ordering::SeqCst);
    assert!(env.check_after(16).await >= 2);
    assert!(env.site.hits.load(Ordering::SeqCst) > before);
    assert_eq!(env.case(a.id).await.state, CaseState::Monitoring);

    // Miss 1: 404. The removal time will be this one.
    env.site.set("a.png", Page::NotFound);
    env.check_after(16).await;
    let first_miss = env.clock.now();
    assert_eq!(env.case(a.id).await.state, CaseState::Monitoring);
    // Not due again within 15 minutes: nothing checked, nothing counted.
    env.site.set("a.png", Page::SoftNotFound);
    let early = {
        env.clock.advance(Duration::minutes(5));
        server::takedown::check::run_round(&env.state)
            .await
            .unwrap()
    };
    let case_a_checked_early = env
        .store
        .case_timeline(a.id)
        .await
        .unwrap()
        .unwrap()
        .observations
        .len();
    assert_eq!(case_a_checked_early, 2, "{early:?}");
    // Miss 2: a soft-404 page (HTML with status 200) counts as gone.
    env.check_after(11).await;
    let a_now = env.case(a.id).await;
    assert_eq!(
        a_now.state,
        CaseState::Monitoring,
        "two misses are not enough"
    );
    // Miss 3, ≥ 15 min after the previous one: offline.
    env.check_after(16).await;
    let last_miss = env.clock.now();
    let a_now = env.case(a.id).await;
    assert_eq!(a_now.state, CaseState::Removed, "{a_now:?}");
    assert_eq!(a_now.removed_at, Some(first_miss));
    assert_eq!(a_now.offline_verified_at, Some(last_miss));
    let tl = env.store.case_timeline(a.id).await.unwrap().unwrap();
    let outcomes: Vec<String> = tl
        .observations
        .iter()
        .map(|o| o.observation.outcome.to_string())
        .collect();
    assert_eq!(outcomes, ["online", "gone", "gone", "gone"]);
    assert_eq!(tl.observations[1].observation.http_status, Some(404));
    assert_eq!(tl.observations[2].observation.http_status, Some(200));
    assert!(
        tl.observations[2]
            .observation
            .detail
            .as_deref()
            .unwrap()
            .contains("HTML"),
        "{:?}",
        tl.observations[2]
    );
    assert_eq!(
        tl.observations[0].observation.served_sha256,
        Some(
            media::MediaHasher::default()
                .hash_bytes(&original, false)
                .unwrap()
                .digests
                .sha256_hex()
        )
    );

    // Re-appears as a re-encoded copy (other bytes, same picture): online again.
    env.site
        .set("a.png", Page::Image(reencoded(&picture), "image/jpeg"));
    env.check_after(61).await;
    let tl = env.store.case_timeline(a.id).await.unwrap().unwrap();
    let last = &tl.observations.last().unwrap().observation;
    assert_eq!(last.outcome.to_string(), "online", "{last:?}");
    assert!(last.distance.unwrap() > 0, "{last:?}");
    let a_now = env.case(a.id).await;
    assert_eq!(a_now.state, CaseState::Monitoring, "{a_now:?}");
    assert!(a_now.reappeared_at.is_some());

    // Another picture at the same URL is not the material: a miss.
    env.site
        .set("a.png", Page::Image(other_picture(), "image/png"));
    env.check_after(61).await;
    let tl = env.store.case_timeline(a.id).await.unwrap().unwrap();
    let last = &tl.observations.last().unwrap().observation;
    assert_eq!(last.outcome.to_string(), "gone", "{last:?}");
    // A 5xx is an error (a miss too), not "gone".
    env.site.set("a.png", Page::Down);
    env.check_after(16).await;
    let tl = env.store.case_timeline(a.id).await.unwrap().unwrap();
    assert_eq!(
        tl.observations
            .last()
            .unwrap()
            .observation
            .outcome
            .to_string(),
        "error"
    );

    // The analyst fixes the parked case's contact: monitored from then on.
    let (s, v) = env
        .post(
            &format!(
                "/api/v1/takedown/cases/{}/contacts?tenant={}",
                q.id, env.tenant
            ),
            serde_json::json!({
                "hoster_org": "Quiet Shop hosting",
                "hoster_email": "abuse@quiet-shop.test",
                "hoster_country": "nl"
            }),
        )
        .await;
    assert_eq!(s, RStatus::OK, "{v}");
    assert_eq!(v["state"], "monitoring", "{v}");
    let (s, v) = env
        .get(&format!("/api/v1/takedown/queues?tenant={}", env.tenant))
        .await;
    assert_eq!(s, RStatus::OK);
    assert_eq!(v["states"]["needs_contact"], 0, "{v}");
    env.stop().await;
}

/// Re-checks re-attribute: the site moves to another Dutch hoster (another AS in the prefix
/// table) → a new attribution row and `hoster_changed_at`; then abroad → forwarded.
#[tokio::test]
async fn hoster_change_and_move_abroad() {
    let env = Env::start(|c| c.takedown.reattribute_every = 2).await;
    let picture = png(&synthetic_rgb());
    env.site
        .set("m.png", Page::Image(picture.clone(), "image/png"));
    let item = env.classified_item(SITE, "m.png", &picture).await;
    env.runner.run_once().await.unwrap();
    let m = env.case_of_item(item).await;
    assert_eq!(m.state, CaseState::Monitoring, "{m:?}");
    assert_eq!(m.contacts.asn, Some(64501));
    assert!(m.hoster_changed_at.is_none());

    // Checks 1 and 2: the second re-attributes, nothing changed.
    env.check_after(16).await;
    env.check_after(16).await;
    let tl = env.store.case_timeline(m.id).await.unwrap().unwrap();
    assert_eq!(tl.attributions.len(), 2, "periodic re-attribution stored");
    assert!(env.case(m.id).await.hoster_changed_at.is_none());

    // The site moves to Second Hosting (AS64505, NL).
    env.state
        .takedown
        .resolver
        .pin(SITE, vec![ip("192.0.2.20")]);
    env.check_after(16).await; // check 3: not a re-attribution check
    assert_eq!(env.case(m.id).await.contacts.asn, Some(64501));
    env.check_after(16).await; // check 4: re-attributed
    let moved_at = env.clock.now();
    let m2 = env.case(m.id).await;
    assert_eq!(m2.state, CaseState::Monitoring, "{m2:?}");
    assert_eq!(m2.contacts.asn, Some(64505));
    assert_eq!(
        m2.contacts.hoster_org.as_deref(),
        Some("Second Hosting B.V.")
    );
    assert_eq!(
        m2.contacts.hoster_email.as_deref(),
        Some("abuse@second-hosting.test")
    );
    assert_eq!(m2.hoster_changed_at, Some(moved_at));
    let tl = env.store.case_timeline(m.id).await.unwrap().unwrap();
    assert_eq!(tl.attributions.len(), 3);

    // Then abroad (Acme Cloud, US): forwarded to that country's hotline.
    env.state
        .takedown
        .resolver
        .pin(SITE, vec![ip("203.0.113.50")]);
    env.check_after(16).await;
    env.check_after(16).await;
    let m3 = env.case(m.id).await;
    assert_eq!(m3.state, CaseState::Forwarded, "{m3:?}");
    assert_eq!(m3.forward_country.as_deref(), Some("US"));
    // A forwarded case is not checked any more.
    let n = env.check_after(120).await;
    assert_eq!(n, 0);
    env.stop().await;
}

/// Analyst actions: police first holds the case, release sends it back through attribution,
/// close ends the checks; bad input and wrong states are refused.
#[tokio::test]
async fn police_first_release_and_close() {
    let env = Env::start(|_| {}).await;
    let picture = png(&synthetic_rgb());
    env.site
        .set("p.png", Page::Image(picture.clone(), "image/png"));
    let item = env.classified_item(SITE, "p.png", &picture).await;
    env.runner.run_once().await.unwrap();
    let p = env.case_of_item(item).await;
    assert_eq!(p.state, CaseState::Monitoring);
    let t = env.tenant;

    let (s, v) = env
        .post(
            &format!("/api/v1/takedown/cases/{}/police-first?tenant={t}", p.id),
            Value::Null,
        )
        .await;
    assert_eq!(s, RStatus::OK, "{v}");
    assert_eq!(v["state"], "police_hold", "{v}");
    let (s, v) = env
        .get(&format!(
            "/api/v1/takedown/cases?tenant={t}&state=police_hold"
        ))
        .await;
    assert_eq!(s, RStatus::OK, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    // Held cases are not re-checked.
    assert_eq!(env.check_after(16).await, 0);

    let (s, v) = env
        .post(
            &format!("/api/v1/takedown/cases/{}/release?tenant={t}", p.id),
            Value::Null,
        )
        .await;
    assert_eq!(s, RStatus::OK, "{v}");
    assert_eq!(v["state"], "attributing", "{v}");
    env.runner.run_once().await.unwrap();
    assert_eq!(env.case(p.id).await.state, CaseState::Monitoring);
    let tl = env.store.case_timeline(p.id).await.unwrap().unwrap();
    assert_eq!(tl.attributions.len(), 2, "attributed again after release");

    // A close needs a reason; afterwards nothing is checked and re-attribution is refused.
    let (s, _) = env
        .post(
            &format!("/api/v1/takedown/cases/{}/close?tenant={t}", p.id),
            serde_json::json!({"reason": " "}),
        )
        .await;
    assert_eq!(s, RStatus::BAD_REQUEST);
    let (s, v) = env
        .post(
            &format!("/api/v1/takedown/cases/{}/close?tenant={t}", p.id),
            serde_json::json!({"reason": "duplicate of another case"}),
        )
        .await;
    assert_eq!(s, RStatus::OK, "{v}");
    assert_eq!(v["state"], "closed", "{v}");
    assert_eq!(env.check_after(61).await, 0);
    let (s, _) = env
        .post(
            &format!("/api/v1/takedown/cases/{}/reattribute?tenant={t}", p.id),
            Value::Null,
        )
        .await;
    assert_eq!(s, RStatus::CONFLICT);

    // Lists need a tenant; unknown states and bad addresses are 400; no token is 401.
    let (s, _) = env.get("/api/v1/takedown/cases").await;
    assert_eq!(s, RStatus::BAD_REQUEST);
    let (s, _) = env
        .get(&format!("/api/v1/takedown/cases?tenant={t}&state=nonsense"))
        .await;
    assert_eq!(s, RStatus::BAD_REQUEST);
    let (s, _) = env
        .post(
            &format!("/api/v1/takedown/cases/{}/contacts?tenant={t}", p.id),
            serde_json::json!({"hoster_email": "not an address"}),
        )
        .await;
    assert_eq!(s, RStatus::BAD_REQUEST);
    let r = env
        .http
        .get(format!("{}/api/v1/takedown/queues?tenant={t}", env.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), RStatus::UNAUTHORIZED);
    let (s, v) = env
        .get(&format!("/api/v1/takedown/queues?tenant={t}"))
        .await;
    assert_eq!(s, RStatus::OK);
    assert_eq!(v["states"]["closed"], 1, "{v}");
    env.stop().await;
}
