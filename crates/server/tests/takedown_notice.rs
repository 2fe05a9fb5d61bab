//! Takedown notices end to end: the escalation ladder, the outbox and the provider's signed
//! response link. schoon runs in-process over SQLite with a manual clock; notices go over real
//! SMTP to a loopback sink (`crates/smtp-sink`), and the XARF reports inside the received
//! messages are checked by the official validator (PyPI `xarf`, the same script and venv as
//! `crates/notify`'s tests).
//!
//! Cases are seeded through the store (report → classified item → case → attribution with
//! contacts), so the ladder and the outbox are what is under test here; attribution and
//! check-online have their own test (`takedown_check.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mail_parser::{MessageParser, MimeHeaders};
use reqwest::StatusCode;
use schoon_core::hit::{Clock, ManualClock};
use schoon_core::report::{Attributes, Classification, SourceKind};
use schoon_core::takedown::{CaseState, NoticeState, ObservationOutcome};
use serde_json::{Value, json};
use server::worker::JobRunner;
use server::{AppState, Config};
use smtp_sink::SmtpSink;
use store::reports::{AnalystAction, AutoOutcome, Fetched, NewReport};
use store::takedown::{Case, CaseContacts, NewAttribution, NewCase, NewObservation};
use store::{Actor, NewTenant, ReportStore, SqliteStore, Store, TakedownStore};

/// Monday 1 June 2026, 10:00 UTC.
fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

struct Env {
    clock: Arc<ManualClock>,
    store: Arc<SqliteStore>,
    runner: JobRunner,
    sink: SmtpSink,
    http: reqwest::Client,
    base: String,
    admin: String,
    tenant: i64,
    n: std::cell::Cell<u32>,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn contacts(hoster: &str) -> CaseContacts {
    CaseContacts {
        hoster_org: Some("Example Hosting B.V.".into()),
        hoster_email: Some(format!("abuse@{hoster}")),
        hoster_country: Some("NL".into()),
        asn: Some(64500),
        ip: Some("192.0.2.10".into()),
        ..CaseContacts::default()
    }
}

impl Env {
    async fn start(adjust: impl FnOnce(&mut Config)) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let sink = SmtpSink::start().await.unwrap();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        config.reports.worker = false;
        config.takedown.attribution.rdap = false;
        let m = &mut config.takedown.mail;
        m.smtp_host = Some("127.0.0.1".into());
        m.smtp_port = sink.port();
        m.smtp_tls = "none".into();
        m.smtp_timeout_secs = 10;
        m.from = Some("notices@meldpunt.example".into());
        m.bounce = Some("bounces@meldpunt.example".into());
        m.contact = Some("analysts@meldpunt.example".into());
        m.tenant_name = Some("Meldpunt Voorbeeld".into());
        m.domain = Some("meldpunt.example".into());
        m.language = "en".into();
        m.response_base_url = Some(base.clone());
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
        // Only the ladder and the outbox: cases are seeded by the test.
        let mut runner = JobRunner::new(state.clone(), "test-worker");
        runner.tick("takedown.ladder", server::takedown::ladder::tick);
        runner.tick("takedown.outbox", server::takedown::outbox::tick);
        let app = server::router(state);
        let task = tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        Env {
            clock,
            store,
            runner,
            sink,
            http: reqwest::Client::new(),
            base,
            admin: boot.admin.token,
            tenant: nl.id,
            n: std::cell::Cell::new(0),
            _dir: dir,
            task,
        }
    }

    async fn round(&self) {
        self.runner.run_once().await.unwrap();
    }

    async fn at(&self, t: DateTime<Utc>) {
        self.clock.set(t);
        self.round().await;
    }

    /// A classified item (→ `notice_pending`) and its case, attributed with `contacts`
    /// (→ `monitoring`, unless `police_first`).
    async fn case(&self, host: &str, contacts: CaseContacts, police_first: bool) -> Case {
        let k = self.n.get() + 1;
        self.n.set(k);
        let actor = Actor("admin:test".into());
        let page = format!("https://forum.example-site.test/t/{k}");
        let url = format!("https://{host}/u/{k}.jpg");
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
                vec![(url.clone(), "img".into())],
            )
            .await
            .unwrap();
        let item = self.store.report_items(report).await.unwrap()[0].clone();
        // Digests of nothing in particular: the notice carries identifiers only.
        let fetched = Fetched {
            md5: Some(format!("{k:032x}")),
            sha1: Some(format!("{k:040x}")),
            sha256: Some(format!("{:064x}", 0xa3f1_0000 + u64::from(k))),
            pdq: Some(format!(
                "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c{k:04x}"
            )),
            pdq_quality: Some(100),
            content_type: Some("image/jpeg".into()),
            size: Some(12345),
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
        let case = self
            .store
            .open_case(
                &actor,
                NewCase {
                    tenant_id: self.tenant,
                    report_id: report,
                    item_id: item.id,
                    url,
                    page_url: page,
                    police_first,
                },
                self.clock.now(),
            )
            .await
            .unwrap();
        self.attribute(case.id, contacts).await
    }

    async fn attribute(&self, case: i64, contacts: CaseContacts) -> Case {
        let (case, _) = self
            .store
            .record_attribution(
                &Actor("admin:test".into()),
                case,
                NewAttribution {
                    contacts,
                    host: "img.hoster.test".into(),
                    registrable_domain: Some("hoster.test".into()),
                    needs_contact: vec![],
                    raw: json!({}),
                    made_at: self.clock.now(),
                    tenant_country: Some("NL".into()),
                },
            )
            .await
            .unwrap();
        case
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .send()
            .await
            .unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// Messages the sink got for `rcpt`.
    fn mails_to(&self, rcpt: &str) -> Vec<smtp_sink::ReceivedMessage> {
        self.sink
            .messages()
            .into_iter()
            .filter(|m| m.rcpt_to.iter().any(|r| r == rcpt))
            .collect()
    }

    async fn notices(&self, state: &str) -> Vec<Value> {
        let (s, v) = self
            .get(&format!(
                "/api/v1/takedown/notices?tenant={}&state={state}",
                self.tenant
            ))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v.as_array().unwrap().clone()
    }
}

fn subject(m: &smtp_sink::ReceivedMessage) -> String {
    MessageParser::default()
        .parse(&m.data)
        .unwrap()
        .subject()
        .unwrap_or_default()
        .to_string()
}

fn text_body(m: &smtp_sink::ReceivedMessage) -> String {
    MessageParser::default()
        .parse(&m.data)
        .unwrap()
        .body_text(0)
        .unwrap()
        .to_string()
}

/// The XARF attachments of a received message, parsed.
fn xarf_reports(m: &smtp_sink::ReceivedMessage) -> Vec<Value> {
    let parsed = MessageParser::default().parse(&m.data).unwrap();
    parsed
        .attachments()
        .filter(|a| {
            a.attachment_name()
                .is_some_and(|n| n.starts_with("xarf") && n.ends_with(".json"))
        })
        .map(|a| serde_json::from_slice(a.contents()).unwrap())
        .collect()
}

/// The response link in a notice's text body.
fn response_link(m: &smtp_sink::ReceivedMessage) -> String {
    let text = text_body(m);
    let start = text
        .find("http")
        .and_then(|_| text.find("/respond/"))
        .unwrap();
    let begin = text[..start].rfind("http").unwrap();
    text[begin..].split_whitespace().next().unwrap().to_string()
}

// --- the official XARF validator (same script and venv as crates/notify's tests) ---

const REQUIREMENTS: &[&str] = &["xarf==1.0.0", "jsonschema[format-nongpl]"];

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn venv_python() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let python = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    // Tests of this binary run in parallel: one builds the venv, the others wait for it.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = BUILDING.lock().unwrap_or_else(|p| p.into_inner());
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("xarf-venv");
    let marker = venv.join("schoon-requirements.txt");
    let wanted = REQUIREMENTS.join("\n");
    let vpy = venv.join("bin").join("python");
    if std::fs::read_to_string(&marker).is_ok_and(|h| h == wanted) && vpy.exists() {
        return Some(vpy);
    }
    let building = venv.with_extension(format!("building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    run(
        Command::new(&python).args(["-m", "venv"]).arg(&building),
        "python3 -m venv",
    );
    run(
        Command::new(building.join("bin").join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(REQUIREMENTS),
        "pip install xarf",
    );
    std::fs::write(building.join("schoon-requirements.txt"), &wanted).unwrap();
    let _ = std::fs::remove_dir_all(&venv);
    // Another test binary may have won the race; either venv is fine.
    let _ = std::fs::rename(&building, &venv);
    let _ = std::fs::remove_dir_all(&building);
    Some(vpy)
}

/// Runs `crates/notify/tests/xarf_validate.py` over the reports (plus one negative control).
fn validate_xarf(reports: &[Value]) {
    let Some(python) = venv_python() else {
        eprintln!("SKIPPED XARF validation: python3 not found");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (i, r) in reports.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i:02}.json")), r.to_string()).unwrap();
    }
    let mut bad = reports[0].clone();
    bad["classification"] = "national".into();
    std::fs::write(dir.path().join("invalid-national.json"), bad.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../notify/tests/xarf_validate.py");
    let out = Command::new(python)
        .arg(script)
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "XARF validation failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("{} valid, 1 negative controls", reports.len())),
        "{stdout}"
    );
}

// --- tests ---

#[tokio::test]
async fn the_ladder_runs_from_the_first_notice_to_the_regulator() {
    let env = Env::start(|_| {}).await;
    let mut c = contacts("hoster.test");
    c.site_owner_email = Some("owner@example-site.test".into());
    c.registrar_name = Some("Example Registrar Inc.".into());
    c.registrar_email = Some("abuse@registrar.test".into());
    let case = env.case("img.hoster.test", c, false).await;
    assert_eq!(case.state, CaseState::Monitoring);

    // First notice to the hoster at once.
    env.round().await;
    let hoster = env.mails_to("abuse@hoster.test");
    assert_eq!(hoster.len(), 1, "one first notice");
    let first = &hoster[0];
    assert_eq!(first.mail_from, "bounces@meldpunt.example");
    let sent = env.notices("sent").await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let reference = sent[0]["reference"].as_str().unwrap().to_string();
    assert!(subject(first).contains(&reference), "{}", subject(first));
    assert_eq!(sent[0]["rung"], json!("hoster"));
    assert!(text_body(first).contains(&case.url));
    let reports = xarf_reports(first);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["category"], json!("content"));
    assert_eq!(reports[0]["url"], json!(case.url));
    validate_xarf(&reports);
    // The same round again sends nothing new.
    env.round().await;
    assert_eq!(env.sink.message_count(), 1);

    // Reminder to the hoster after 24 h, not before.
    env.at(t0() + Duration::hours(23)).await;
    assert_eq!(env.mails_to("abuse@hoster.test").len(), 1);
    env.at(t0() + Duration::hours(24)).await;
    let hoster = env.mails_to("abuse@hoster.test");
    assert_eq!(hoster.len(), 2, "a reminder after 24 h");
    assert_ne!(
        subject(&hoster[1]),
        subject(&hoster[0]),
        "a new notice reference"
    );
    assert!(env.mails_to("owner@example-site.test").is_empty());

    // Site owner at 72 h (the hoster gets its latest reminder only, not the missed ones).
    env.at(t0() + Duration::hours(72)).await;
    assert_eq!(env.mails_to("owner@example-site.test").len(), 1);
    assert_eq!(env.mails_to("abuse@hoster.test").len(), 3);
    assert!(env.mails_to("abuse@registrar.test").is_empty());

    // Registrar at 144 h.
    env.at(t0() + Duration::hours(143)).await;
    assert!(env.mails_to("abuse@registrar.test").is_empty());
    env.at(t0() + Duration::hours(144)).await;
    assert_eq!(env.mails_to("abuse@registrar.test").len(), 1);
    assert_eq!(env.mails_to("owner@example-site.test").len(), 2);

    // Regulator escalation record at 168 h, once.
    env.at(t0() + Duration::hours(167)).await;
    assert!(
        env.store
            .case_escalations(env.tenant, 100)
            .await
            .unwrap()
            .is_empty()
    );
    env.at(t0() + Duration::hours(168)).await;
    env.round().await;
    let esc = env.store.case_escalations(env.tenant, 100).await.unwrap();
    assert_eq!(esc.len(), 1, "{esc:?}");
    assert_eq!(esc[0].case_id, case.id);
    assert_eq!(esc[0].kind, store::takedown::CaseEscalationKind::Regulator);

    // Every notice went out once: one per (case, rung, sequence).
    let all: Vec<Value> = env.notices("sent").await;
    assert_eq!(all.len(), env.sink.message_count());
    assert!(env.notices("queued").await.is_empty());
}

#[tokio::test]
async fn no_reminder_after_removal() {
    let env = Env::start(|_| {}).await;
    let case = env
        .case("img.hoster.test", contacts("hoster.test"), false)
        .await;
    env.round().await;
    assert_eq!(env.sink.message_count(), 1);
    let policy = env.store.takedown_policy(env.tenant).await.unwrap();
    for minutes in [60, 80, 100] {
        let at = t0() + Duration::minutes(minutes);
        env.clock.set(at);
        env.store
            .record_observation(
                case.id,
                NewObservation {
                    at,
                    http_status: Some(404),
                    outcome: ObservationOutcome::Gone,
                    detail: Some("404".into()),
                    content_type: None,
                    served_sha256: None,
                    served_pdq: None,
                    distance: None,
                    final_url: None,
                    error: None,
                },
                &policy,
            )
            .await
            .unwrap();
    }
    let c = env.store.case(case.id).await.unwrap().unwrap();
    assert_eq!(c.state, CaseState::Removed);
    env.at(t0() + Duration::hours(24)).await;
    env.at(t0() + Duration::hours(200)).await;
    assert_eq!(env.sink.message_count(), 1, "no reminder once removed");
    assert!(
        env.store
            .case_escalations(env.tenant, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn police_first_holds_hoster_notices_until_released() {
    let env = Env::start(|c| {
        c.takedown.mail.police_email = Some("referrals@police.test".into());
    })
    .await;
    let case = env
        .case("img.hoster.test", contacts("hoster.test"), false)
        .await;
    let actor = Actor("admin:test".into());
    let held = env
        .store
        .set_police_first(&actor, case.id, env.clock.now())
        .await
        .unwrap();
    assert_eq!(held.state, CaseState::PoliceHold);

    env.round().await;
    assert_eq!(
        env.mails_to("referrals@police.test").len(),
        1,
        "police referral at once"
    );
    assert!(env.mails_to("abuse@hoster.test").is_empty(), "hoster held");
    let esc = env.store.case_escalations(env.tenant, 100).await.unwrap();
    assert_eq!(esc.len(), 1);
    assert_eq!(esc[0].kind, store::takedown::CaseEscalationKind::Police);
    env.at(t0() + Duration::hours(48)).await;
    assert!(env.mails_to("abuse@hoster.test").is_empty(), "still held");
    assert_eq!(
        env.mails_to("referrals@police.test").len(),
        1,
        "referral once"
    );

    // Released: the case is attributed again and the hoster ladder starts.
    let t = t0() + Duration::hours(49);
    env.clock.set(t);
    env.store
        .release_police_hold(&actor, case.id, t)
        .await
        .unwrap();
    let c = env.attribute(case.id, contacts("hoster.test")).await;
    assert_eq!(c.state, CaseState::Monitoring);
    env.round().await;
    assert_eq!(env.mails_to("abuse@hoster.test").len(), 1);
}

#[tokio::test]
async fn grouped_per_hoster_and_sent_inside_the_window() {
    let env = Env::start(|_| {}).await;
    // Policy API: a bad window is refused, a good one stored.
    let path = format!("/api/v1/admin/tenants/{}/takedown-policy", env.tenant);
    let (s, v) = env.get(&path).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["hoster_reminder_hours"], json!(24));
    let mut bad = v.clone();
    bad["sending_window"] =
        json!({"utc_offset_minutes": 60, "start_hour": 17, "end_hour": 9, "weekdays_only": true});
    let (s, _) = env.send_json(reqwest::Method::PUT, &path, bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let mut good = v.clone();
    good["sending_window"] =
        json!({"utc_offset_minutes": 60, "start_hour": 9, "end_hour": 17, "weekdays_only": true});
    let (s, v) = env.send_json(reqwest::Method::PUT, &path, good).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["sending_window"]["start_hour"], json!(9));

    // Saturday 6 June, 12:00 UTC: two cases at the same hoster, one elsewhere.
    let saturday = DateTime::parse_from_rfc3339("2026-06-06T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    env.clock.set(saturday);
    let a = env
        .case("img.hoster.test", contacts("hoster.test"), false)
        .await;
    let b = env
        .case("cdn2.hoster.test", contacts("hoster.test"), false)
        .await;
    let _other = env
        .case("img.elsewhere.test", contacts("elsewhere.test"), false)
        .await;
    env.round().await;
    assert_eq!(env.sink.message_count(), 0, "nothing on a Saturday");
    let queued = env.notices("queued").await;
    assert_eq!(queued.len(), 2, "{queued:?}");
    let monday = "2026-06-08T08:00:00";
    assert!(
        queued
            .iter()
            .all(|n| n["due_at"].as_str().unwrap().starts_with(monday)),
        "due Monday 09:00 +01:00: {queued:?}"
    );
    env.at(saturday + Duration::hours(30)).await; // Sunday
    assert_eq!(env.sink.message_count(), 0);
    env.at(DateTime::parse_from_rfc3339("2026-06-08T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc))
        .await;
    let hoster = env.mails_to("abuse@hoster.test");
    assert_eq!(hoster.len(), 1, "two cases, one mail");
    let body = text_body(&hoster[0]);
    assert!(body.contains(&a.url) && body.contains(&b.url), "{body}");
    let reports = xarf_reports(&hoster[0]);
    assert_eq!(reports.len(), 2);
    validate_xarf(&reports);
    assert_eq!(env.mails_to("abuse@elsewhere.test").len(), 1);
}

#[tokio::test]
async fn the_provider_acknowledges_through_the_signed_link() {
    let env = Env::start(|_| {}).await;
    let case = env
        .case("img.hoster.test", contacts("hoster.test"), false)
        .await;
    env.round().await;
    let mail = &env.mails_to("abuse@hoster.test")[0];
    let link = response_link(mail);
    assert!(
        link.starts_with(&format!("{}/respond/", env.base)),
        "{link}"
    );

    // The page: no login, escaped, self-contained.
    let r = env.http.get(&link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let html = r.text().await.unwrap();
    assert!(html.contains(&case.url));
    assert!(html.contains("name=\"kind\" value=\"ack\""));
    assert!(html.contains("name=\"kind\" value=\"dispute\""));
    assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("src="));

    // A bad signature: 403, whether or not the reference exists.
    let (ref_part, _) = link.split_once("?sig=").unwrap();
    for bad in [
        format!("{ref_part}?sig={}", "0".repeat(64)),
        ref_part.to_string(),
        format!("{}/respond/NL-999-999?sig={}", env.base, "0".repeat(64)),
    ] {
        let r = env.http.get(&bad).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{bad}");
        let r = env
            .http
            .post(bad.replace("/respond/", "/api/v1/respond/"))
            .json(&json!({"kind": "ack"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{bad}");
    }
    assert!(
        env.store
            .case_timeline(case.id)
            .await
            .unwrap()
            .unwrap()
            .responses
            .is_empty()
    );

    // Acknowledge with the form.
    let r = env
        .http
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("kind=ack&statement=Removed+by+our+team+%3Cb%3E")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("recorded"));
    let tl = env.store.case_timeline(case.id).await.unwrap().unwrap();
    assert_eq!(tl.responses.len(), 1);
    assert_eq!(tl.responses[0].kind, store::takedown::ResponseKind::Ack);
    assert_eq!(
        tl.responses[0].statement.as_deref(),
        Some("Removed by our team <b>")
    );

    // A dispute through the JSON API needs a statement.
    let api = link.replace("/respond/", "/api/v1/respond/");
    let r = env
        .http
        .post(&api)
        .json(&json!({"kind": "dispute"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = env
        .http
        .post(&api)
        .json(&json!({"kind": "dispute", "statement": "This is our CDN; origin is elsewhere"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let tl = env.store.case_timeline(case.id).await.unwrap().unwrap();
    assert_eq!(tl.responses.len(), 2);
}

#[tokio::test]
async fn a_greylisted_notice_is_retried_later_and_then_delivered() {
    let env = Env::start(|_| {}).await;
    env.sink
        .reject_recipient("abuse@hoster.test", smtp_sink::Rejection::Temporary);
    env.case("img.hoster.test", contacts("hoster.test"), false)
        .await;
    env.round().await;
    assert_eq!(env.sink.message_count(), 0);
    let queued = env
        .store
        .notices(env.tenant, Some(NoticeState::Queued), 10)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1, "back in the queue, not rejected");
    let n = &queued[0];
    assert_eq!(n.deferrals, 1);
    assert_eq!(n.due_at, t0() + Duration::minutes(5));
    assert_eq!(n.smtp_code, Some(451));
    // Not before the retry time.
    let tries = env.sink.connection_count();
    env.at(t0() + Duration::minutes(4)).await;
    assert_eq!(
        env.sink.connection_count(),
        tries,
        "no attempt before the delay"
    );
    // The greylisting is over: delivered once, same reference.
    env.sink.accept_recipient("abuse@hoster.test");
    env.at(t0() + Duration::minutes(5)).await;
    let mails = env.mails_to("abuse@hoster.test");
    assert_eq!(mails.len(), 1);
    assert!(
        subject(&mails[0]).contains(&n.reference),
        "{}",
        subject(&mails[0])
    );
    let sent = env.store.notice(n.id).await.unwrap().unwrap();
    assert_eq!(sent.state, NoticeState::Sent);
    assert_eq!(sent.deferrals, 1);
}

#[tokio::test]
async fn a_notice_that_keeps_failing_temporarily_is_rejected_after_the_last_retry() {
    let env = Env::start(|_| {}).await;
    env.sink
        .reject_recipient("abuse@hoster.test", smtp_sink::Rejection::Temporary);
    env.case("img.hoster.test", contacts("hoster.test"), false)
        .await;
    env.round().await;
    let first = env
        .store
        .notices(env.tenant, Some(NoticeState::Queued), 10)
        .await
        .unwrap()[0]
        .id;
    // Follow the notice's own due time: eight retries, then it is given up.
    let mut due = vec![t0()];
    for _ in 0..20 {
        let n = env.store.notice(first).await.unwrap().unwrap();
        if n.state != NoticeState::Queued {
            break;
        }
        due.push(n.due_at);
        env.at(n.due_at).await;
    }
    let n = env.store.notice(first).await.unwrap().unwrap();
    assert_eq!(n.state, NoticeState::Rejected);
    assert_eq!(n.deferrals, 8);
    assert_eq!(n.smtp_code, Some(451));
    let msg = n.smtp_message.unwrap_or_default();
    assert!(msg.contains("given up after 8 retries"), "{msg}");
    let gaps: Vec<i64> = due
        .windows(2)
        .map(|w| (w[1] - w[0]).num_minutes())
        .collect();
    assert_eq!(
        gaps,
        [5, 15, 30, 60, 120, 240, 480, 720],
        "due times {due:?}"
    );
    assert_eq!(env.sink.message_count(), 0);
}
