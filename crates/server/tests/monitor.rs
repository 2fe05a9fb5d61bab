//! The public hosting monitor over real HTTP: the server's router on a loopback port over a
//! temporary SQLite database with a manual clock; takedown cases are seeded through the store
//! (report → classified item → case → attribution → sent notice → observations), the pages and
//! exports are requested without any login.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::monitor_seed::monitored_case;
use reqwest::StatusCode;
use schoon_core::hit::ManualClock;
use server::{AppState, Config};
use store::{Actor, NewTenant, OrderStore, SqliteStore, Store};

/// Monday 1 June 2026, 10:00 UTC.
fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn h(n: i64) -> DateTime<Utc> {
    t0() + Duration::hours(n)
}

const FAST: &str = "Example Hosting B.V.";
/// A name with markup in it: must come out escaped.
const SLOW: &str = "Slow <b>Host</b> & Co";

struct Env {
    store: Arc<SqliteStore>,
    http: reqwest::Client,
    base: String,
    tenant: i64,
    /// Every URL and digest seeded: none may appear in a public response.
    secrets: Vec<String>,
    n: u64,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Env {
    async fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        config.reports.worker = false;
        let clock = Arc::new(ManualClock::new(h(24 * 19)));
        let store = Arc::new(SqliteStore::open(&config.database_path()).await.unwrap());
        let boot = server::bootstrap(store.as_ref(), "nl-hotline")
            .await
            .unwrap()
            .unwrap();
        let state = AppState::with_clock(store.clone(), config, clock).unwrap();
        let app = server::router(state);
        let task = tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        Env {
            store,
            http: reqwest::Client::new(),
            base,
            tenant: boot.tenant.id,
            secrets: Vec::new(),
            n: 0,
            _dir: dir,
            task,
        }
    }

    /// One case at `site`, hosted by `org`, first notice at `notice_at`, removed (first miss)
    /// at `gone_at` if given, verified after three misses 15 minutes apart.
    async fn case(
        &mut self,
        org: &str,
        site: &str,
        notice_at: DateTime<Utc>,
        gone_at: Option<DateTime<Utc>>,
    ) {
        self.n += 1;
        let secrets = monitored_case(
            &self.store,
            self.tenant,
            self.n,
            org,
            site,
            notice_at,
            gone_at,
            Duration::days(30),
            0xfeed_0000,
        )
        .await;
        self.secrets.extend(secrets);
    }

    async fn get(&self, path: &str) -> (StatusCode, String, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = resp.text().await.unwrap();
        for secret in &self.secrets {
            assert!(
                !body.contains(secret.as_str()),
                "{path} leaks {secret}: {body}"
            );
        }
        assert!(!body.contains("bad.example"), "{path} names a site");
        (status, ct, body)
    }
}

#[tokio::test]
async fn public_monitor_pages_and_exports() {
    let mut env = Env::start().await;
    // Fast host: removed 2 h, 5 h and 30 h after the notice. Slow host: never removed.
    env.case(FAST, "bad.example", h(0), Some(h(2))).await;
    env.case(FAST, "bad.example", h(24), Some(h(29))).await;
    env.case(FAST, "bad.example", h(48), Some(h(78))).await;
    env.case(SLOW, "bad.example", h(72), None).await;
    env.store
        .set_provider_reply(
            &Actor("regulator".into()),
            env.tenant,
            FAST,
            "We act on every notice <within hours>.",
            true,
            h(24 * 10),
        )
        .await
        .unwrap();

    // Ranking page: no login, the only tenant, default period (the 12 months up to June 2026).
    let (status, ct, body) = env.get("/monitor?min=1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(
        body.contains("2025-07") && body.contains("2026-06"),
        "{body}"
    );
    assert!(body.contains("Example Hosting B.V."));
    assert!(
        body.contains("Slow &lt;b&gt;Host&lt;/b&gt; &amp; Co"),
        "name escaped"
    );
    assert!(!body.contains("<b>Host</b>"));
    assert!(body.contains(&format!(
        "method version <strong>{}</strong>",
        schoon_monitor::METHOD_VERSION
    )));
    assert!(
        body.contains("id=\"method\""),
        "methodology next to the numbers"
    );
    assert!(body.contains("nearest-rank"), "methodology text present");
    assert!(body.contains("<label for=\"from\">") && body.contains("<label for=\"to\">"));
    assert!(
        !body.contains("<script") && !body.contains("src=\""),
        "no external assets"
    );
    // The default ranks by share removed within 24 h, worst first: the slow host (0 %) first.
    let slow_at = body.find("Slow &lt;b&gt;").unwrap();
    let fast_at = body.find("Example Hosting B.V.").unwrap();
    assert!(slow_at < fast_at, "worst first");
    // p50 of 2 h, 5 h, 30 h is 5 h; 2 of 3 within 24 h.
    assert!(body.contains("<td>5.0\u{a0}h</td>"), "{body}");
    assert!(body.contains("<td>67\u{a0}%</td>"), "{body}");
    let link = "/monitor/org/Example%20Hosting%20B.V.?from=2025-07&amp;to=2026-06";
    assert!(body.contains(link), "{body}");

    // The methodology (and chart labels) in Dutch on request; links keep the language.
    let (status, _, body) = env.get("/monitor?lang=nl&min=1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Hostingmonitor: methode"), "{body}");
    assert!(body.contains("lang=nl"));
    let (_, _, body) = env
        .get("/monitor/org/Example%20Hosting%20B.V.?lang=nl")
        .await;
    assert!(body.contains("Verwijdertijd na eerste melding"), "{body}");
    let (status, _, _) = env.get("/monitor?lang=xx").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Below the minimum volume nobody is ranked, but the numbers are still shown.
    let (_, _, body) = env.get("/monitor").await;
    assert!(body.contains("fewer than 10"));
    assert!(body.contains("<td>5.0\u{a0}h</td>"));

    // Per-provider page: SVG histogram and trend, the reply (escaped).
    let (status, _, body) = env
        .get("/monitor/org/Example%20Hosting%20B.V.?from=2026-01&to=2026-06")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("<svg"), "{body}");
    assert!(body.contains("id=\"removal-histogram-title\""));
    assert!(body.contains("id=\"monthly-trend-title\""));
    assert!(
        body.contains("Removal time p50</th><td>5.0\u{a0}h</td>"),
        "{body}"
    );
    assert!(body.contains("Right of reply"));
    assert!(body.contains("We act on every notice &lt;within hours&gt;."));
    assert!(
        body.contains("2026-06</th><td>3</td>"),
        "June trend row: {body}"
    );
    let (status, _, body) = env
        .get("/monitor/org/Slow%20%3Cb%3EHost%3C%2Fb%3E%20%26%20Co")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("has not published a reply"));
    let (status, _, _) = env.get("/monitor/org/Nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = env
        .get("/monitor/org/Example%20Hosting%20B.V.?from=2025-01&to=2025-02")
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no figures outside the period"
    );

    // CSV: header, method version on every row, the fast host's p50 in hours.
    let (status, ct, csv) = env.get("/monitor.csv?from=2026-06&to=2026-06").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/csv"), "{ct}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], schoon_monitor::export::CSV_HEADER);
    assert_eq!(lines.len(), 4, "header, national, two organisations: {csv}");
    for line in &lines[1..] {
        assert!(line.starts_with(schoon_monitor::METHOD_VERSION), "{line}");
    }
    let fast = lines
        .iter()
        .find(|l| l.contains("Example Hosting B.V."))
        .unwrap();
    assert!(fast.contains(",5.00,"), "{fast}");

    // JSON parses and carries the same numbers.
    let (status, ct, json) = env.get("/monitor.json?from=2026-06&to=2026-06").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("application/json"), "{ct}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["method_version"], schoon_monitor::METHOD_VERSION);
    let rows = v["rows"].as_array().unwrap();
    let fast = rows.iter().find(|r| r["org"]["name"] == FAST).unwrap();
    assert_eq!(fast["removal_p50_seconds"], 5 * 3600);
    assert_eq!(fast["cases"], 3);
    assert_eq!(v["national"]["cases"], 4);

    // The computed report is reused for a while: a new case does not show at once.
    env.case(FAST, "bad.example", h(96), Some(h(97))).await;
    let (_, _, json) = env.get("/monitor.json?from=2026-06&to=2026-06").await;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["national"]["cases"], 4, "cached");

    // Bad periods and metrics are refused with an escaped message.
    for bad in [
        "/monitor?from=2026-13",
        "/monitor?from=2026-06&to=2026-01",
        "/monitor?from=2000-01&to=2026-01",
        "/monitor?metric=%3Cscript%3E",
        "/monitor.csv?to=junk",
    ] {
        let (status, _, body) = env.get(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(!body.contains("<script>"), "{bad}: {body}");
    }

    // With a second tenant the tenant must be named; then it works per tenant.
    let other = env
        .store
        .create_tenant(
            &Actor::system(),
            NewTenant {
                name: "be-hotline".into(),
                country: Some("BE".into()),
                hit_deadline_hours: 24,
            },
        )
        .await
        .unwrap();
    let (status, _, _) = env.get("/monitor").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, body) = env.get("/monitor?tenant=nl-hotline&min=1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("tenant=nl-hotline"), "links keep the tenant");
    let (status, _, body) = env.get(&format!("/monitor?tenant={}", other.name)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("No notices in this period."));
    assert!(!body.contains("Example Hosting"));
    let (status, _, _) = env.get("/monitor?tenant=nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
