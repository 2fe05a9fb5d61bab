//! Several `schoon serve` processes on one PostgreSQL database do not lose or repeat work.
//!
//! Two `--role api` and three `--role worker` processes of the real binary share one fresh
//! PostgreSQL schema (from `SCHOON_TEST_DATABASE_URL`; without it the test prints SKIPPED, or
//! fails when `SCHOON_REQUIRE_DATABASE=1`, as in CI). A loopback website (in this process) serves
//! 5,000 reported pages on ten host names, each page with its own URL of one benign test image
//! (`../shared/testdata/pdq`); the image's SHA-256 is on a known list, so every item is
//! auto-classified, becomes a takedown case, is attributed through a manual rule (each host name
//! has its own abuse address), checked online once, and notified to its hoster over SMTP to a
//! loopback sink (`smtp-sink`).
//!
//! The reports are filed through the two API nodes in turn. When about a third is processed one
//! worker is killed with SIGKILL and restarted. At the end:
//! * every report is processed (`notice_pending`), with one item and one case;
//! * no job is pending, running or dead, and every report has its `report.process` job done;
//! * every case was checked online at most once (none twice), and a case not yet checked is
//!   leased (it was in the killed worker's round), not lost;
//! * every case is in exactly one hoster notice; every notice arrived at the sink once (sent) or
//!   at most once (`delivery_unknown`: the worker died while sending it; at most one such
//!   notice, as notices are claimed one at a time); no Message-ID and no case URL arrived twice.
//!
//! Leases are shortened through configuration so a killed worker's jobs come back within
//! seconds. Timings are printed (`--nocapture`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// Reports filed.
const REPORTS: usize = 5_000;
/// Reports per intake request (the two API nodes take turns).
const BATCH: usize = 100;
/// Distinct host names of the reported site (one hoster and abuse address each).
const HOSTS: usize = 10;
/// Matcher poll interval of every node (ms): how stale a node's list view may be.
const MATCHER_POLL_MS: u64 = 200;
/// Upper bound for the whole run after filing.
const DEADLINE: Duration = Duration::from_secs(240);

fn image_bytes() -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/pdq/data/reg-test-input/labelme-subset/q0003.jpg");
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn host(i: usize) -> String {
    format!("h{:02}.multinode.localhost", i % HOSTS)
}

fn abuse(i: usize) -> String {
    format!("abuse@hoster-{:02}.test", i % HOSTS)
}

/// The image URL path of report `i` (zero-padded, so no path is a prefix of another).
fn img_path(i: usize) -> String {
    format!("/img/p{i:05}.jpg")
}

/// The reported website: `/page/{i}` embeds `/img/p{i}.jpg`; every image is the same picture.
async fn website() -> u16 {
    let img = axum::body::Bytes::from(image_bytes());
    let app = axum::Router::new()
        .route(
            "/page/{i}",
            axum::routing::get(
                |axum::extract::Path(i): axum::extract::Path<usize>| async move {
                    axum::response::Html(format!(
                        "<html><body><p>page {i}</p><img src=\"{}\"></body></html>",
                        img_path(i)
                    ))
                },
            ),
        )
        .route(
            "/img/{name}",
            axum::routing::get(move || {
                let img = img.clone();
                async move { ([("content-type", "image/jpeg")], img) }
            }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    port
}

// --- the nodes ---

struct Node {
    name: String,
    role: &'static str,
    child: Child,
    base: String,
    token: Option<String>,
    log: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Cluster {
    dir: PathBuf,
    config: PathBuf,
    database: String,
}

impl Cluster {
    /// Starts `schoon serve --role <role>`; [`Cluster::ready`] waits for its listen line.
    fn spawn(&self, name: &str, role: &'static str, run: u32) -> (Node, mpsc::Receiver<String>) {
        let data = self.dir.join(format!("node-{name}"));
        let log = self.dir.join(format!("{name}-{run}.log"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_schoon"))
            .arg("serve")
            .arg("--data")
            .arg(&data)
            .arg("--config")
            .arg(&self.config)
            .args(["--database", &self.database, "--role", role])
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .env_remove("SCHOON_FAILPOINT")
            .env_remove("SCHOON_DATABASE_URL")
            .env_remove("SCHOON_ROLE")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().expect("stdout pipe");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let node = Node {
            name: name.to_string(),
            role,
            child,
            base: String::new(),
            token: None,
            log,
        };
        (node, rx)
    }

    /// Waits for the listen line (and, on the bootstrapping node, the admin token).
    fn ready(node: &mut Node, rx: &mpsc::Receiver<String>) {
        let mut expect_token = false;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            else {
                panic!(
                    "{} ({}) did not start:\n{}",
                    node.name,
                    node.role,
                    std::fs::read_to_string(&node.log).unwrap_or_default()
                );
            };
            let t = line.trim();
            if expect_token && !t.is_empty() {
                node.token = Some(t.to_string());
                expect_token = false;
            } else if t.starts_with("Admin token") {
                expect_token = true;
            } else if let Some(addr) = t.strip_prefix("schoon: listening on ") {
                node.base = addr.to_string();
                return;
            }
        }
    }

    fn start(&self, name: &str, role: &'static str, run: u32) -> Node {
        let (mut n, rx) = self.spawn(name, role, run);
        Cluster::ready(&mut n, &rx);
        n
    }
}

fn log_tails(nodes: &[&Node]) -> String {
    let mut out = String::new();
    for n in nodes {
        let text = std::fs::read_to_string(&n.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(15);
        out.push_str(&format!(
            "--- {} ({}) {}\n{}\n",
            n.name,
            n.role,
            n.log.display(),
            lines[from..].join("\n")
        ));
    }
    out
}

// --- HTTP ---

#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(&self, m: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rb = self
            .http
            .request(m, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let s = r.status().as_u16();
        let t = r.text().await.unwrap();
        (s, serde_json::from_str(&t).unwrap_or(Value::String(t)))
    }
    async fn get(&self, path: &str) -> Value {
        let (s, v) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }
    async fn post(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.call(reqwest::Method::POST, path, Some(body)).await;
        assert!(s == 200 || s == 201, "POST {path}: {s} {v}");
        v
    }
}

// --- the database, for bulk assertions ---

struct Schema {
    url: String,
    name: String,
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Drop is synchronous: a private runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Err(e) = store::PgStore::drop_schema(&url, &name).await {
                    eprintln!("could not drop schema {name}: {e}");
                }
            });
        })
        .join();
    }
}

/// `url` with the schema as the connection's search path (what the nodes get as `--database`).
/// Commits do not wait for the WAL flush (`synchronous_commit=off`): the test kills schoon
/// processes, not the database server, so no committed work can be lost this way, and the
/// serialised write transactions of five processes are not held up by fsync on a small CI box.
fn url_with_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}%20-c%20synchronous_commit%3Doff")
}

/// Whether `data` names `reference` as a whole word (`X-N-1` is not in `X-N-12`).
fn names(data: &str, reference: &str) -> bool {
    data.match_indices(reference).any(|(i, _)| {
        !data[i + reference.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

async fn count(db: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(db)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn groups(db: &PgPool, sql: &'static str) -> BTreeMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>(sql)
        .fetch_all(db)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .collect()
}

/// What "done" waits for; printed while waiting.
#[derive(Debug, PartialEq, Eq)]
struct Progress {
    processed: i64,
    cases: i64,
    attributing: i64,
    open_jobs: i64,
    noticed: i64,
    unsent: i64,
    unchecked_due: i64,
}

impl Progress {
    async fn read(db: &PgPool) -> Progress {
        let now = store::ts(&chrono::Utc::now());
        Progress {
            processed: count(
                db,
                "SELECT count(*) FROM reports WHERE state <> 'processing'",
            )
            .await,
            cases: count(db, "SELECT count(*) FROM takedown_cases").await,
            attributing: count(
                db,
                "SELECT count(*) FROM takedown_cases WHERE state = 'attributing'",
            )
            .await,
            open_jobs: count(
                db,
                "SELECT count(*) FROM jobs WHERE status IN ('pending', 'running')",
            )
            .await,
            noticed: count(
                db,
                "SELECT count(DISTINCT case_id) FROM notice_items WHERE rung = 'hoster'",
            )
            .await,
            unsent: count(
                db,
                "SELECT count(*) FROM notices WHERE state IN ('queued', 'held', 'sending')",
            )
            .await,
            unchecked_due: sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM takedown_cases c WHERE NOT EXISTS \
                 (SELECT 1 FROM observations o WHERE o.case_id = c.id) \
                 AND (c.next_check_at IS NULL OR c.next_check_at <= $1)",
            )
            .bind(&now)
            .fetch_one(db)
            .await
            .unwrap(),
        }
    }

    fn done(&self) -> bool {
        let n = REPORTS as i64;
        self.processed == n
            && self.cases == n
            && self.attributing == 0
            && self.open_jobs == 0
            && self.noticed == n
            && self.unsent == 0
            && self.unchecked_due == 0
    }
}

// --- the received mail ---

fn header(data: &str, name: &str) -> Option<String> {
    let head = data.split("\r\n\r\n").next().unwrap_or_default();
    let mut found: Option<String> = None;
    for line in head.split("\r\n") {
        if let Some(v) = found.as_mut() {
            if line.starts_with(' ') || line.starts_with('\t') {
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case(name)
        {
            found = Some(v.trim().to_string());
        }
    }
    found
}

/// The case image URLs (`/img/pNNNNN.jpg`) a message names, from its decoded text and XARF parts.
fn case_paths(m: &smtp_sink::ReceivedMessage) -> HashSet<String> {
    let parsed = mail_parser::MessageParser::default()
        .parse(&m.data)
        .expect("a parsable message");
    let mut text = String::new();
    for i in 0.. {
        match parsed.body_text(i) {
            Some(t) => text.push_str(&t),
            None => break,
        }
    }
    for a in parsed.attachments() {
        text.push_str(&String::from_utf8_lossy(a.contents()));
    }
    let mut out = HashSet::new();
    let mut rest = text.as_str();
    while let Some(p) = rest.find("/img/p") {
        let tail = &rest[p..];
        let end = "/img/p00000.jpg".len();
        if tail.len() >= end && tail[6..11].bytes().all(|b| b.is_ascii_digit()) {
            out.insert(tail[..end].to_string());
        }
        rest = &rest[p + 6..];
    }
    out
}

fn database_url() -> Option<String> {
    match std::env::var("SCHOON_TEST_DATABASE_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("SCHOON_REQUIRE_DATABASE").as_deref() != Ok("1"),
                "SCHOON_REQUIRE_DATABASE=1 but SCHOON_TEST_DATABASE_URL is not set"
            );
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_api_nodes_and_three_workers_neither_lose_nor_repeat_work() {
    let Some(url) = database_url() else {
        eprintln!("SKIPPED multinode_binary: SCHOON_TEST_DATABASE_URL is not set");
        return;
    };
    let t_start = Instant::now();
    let schema = Schema {
        url: url.clone(),
        name: format!(
            "schoon_mn_{}_{}",
            std::process::id(),
            chrono::Utc::now().timestamp_micros() % 1_000_000_000
        ),
    };
    store::PgStore::open_fresh_schema(&url, &schema.name)
        .await
        .unwrap_or_else(|e| panic!("cannot open a schema on {url}: {e}"));
    let opts: PgConnectOptions = url.parse().unwrap();
    let db = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(opts.options([("search_path", schema.name.as_str())]))
        .await
        .unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let sink = smtp_sink::SmtpSink::start().await.unwrap();
    let site_port = website().await;

    // Shared by all nodes: the vault (directory and keys), the response-link key, the rules.
    let shared = dir.join("shared");
    std::fs::create_dir_all(shared.join("vault")).unwrap();
    let link_key = shared.join("takedown-link.key");
    std::fs::write(&link_key, format!("{}\n", "ab".repeat(32))).unwrap();
    let rules = shared.join("rules.json");
    let rule_list: Vec<Value> = (0..HOSTS)
        .map(|h| {
            json!({"scope": {"kind": "host", "name": host(h)},
                   "hoster": {"organisation": format!("Hoster {h:02}"), "abuse_email": abuse(h),
                              "country": "NL"}})
        })
        .collect();
    std::fs::write(&rules, json!({ "rules": rule_list }).to_string()).unwrap();
    let pins: String = (0..HOSTS)
        .map(|h| format!("\"{}\" = [\"127.0.0.1\"]\n", host(h)))
        .collect();
    let config = dir.join("schoon.toml");
    std::fs::write(
        &config,
        format!(
            r#"log_format = "text"
first_tenant = "nl-hotline"
[rate_limit]
per_second = 0
[matcher]
poll_interval_ms = {MATCHER_POLL_MS}
[jobs]
interval_ms = 500
lease_secs = 15
[fetch]
allow_addresses = ["127.0.0.1/32"]
timeout_secs = 5
[reports]
poll_interval_ms = 20
job_lease_secs = 15
vault_keys = ["k1:{vault_key}"]
vault_dir = "{vault}"
[takedown]
open_batch = 5000
check_batch = 5000
[takedown.attribution]
rdap = false
rules = "{rules}"
[takedown.attribution.hosts]
{pins}
[takedown.mail]
smtp_host = "127.0.0.1"
smtp_port = {port}
smtp_tls = "none"
smtp_timeout_secs = 3
notice_lease_secs = 10
from = "notices@meldpunt.example"
bounce = "bounces@meldpunt.example"
tenant_name = "Meldpunt Voorbeeld"
domain = "meldpunt.example"
language = "en"
response_base_url = "https://meldpunt.example"
link_secret_path = "{link}"
"#,
            vault_key = "cd".repeat(32),
            vault = shared.join("vault").display(),
            rules = rules.display(),
            link = link_key.display(),
            port = sink.port()
        ),
    )
    .unwrap();
    let cluster = Cluster {
        dir: dir.clone(),
        config,
        database: url_with_schema(&url, &schema.name),
    };

    // All five start at once on the empty schema: exactly one bootstraps.
    let t0 = Instant::now();
    let specs: [(&str, &'static str); 5] = [
        ("api1", "api"),
        ("api2", "api"),
        ("w1", "worker"),
        ("w2", "worker"),
        ("w3", "worker"),
    ];
    let spawned: Vec<(Node, mpsc::Receiver<String>)> =
        specs.iter().map(|(n, r)| cluster.spawn(n, r, 1)).collect();
    let mut nodes: Vec<Node> = spawned
        .into_iter()
        .map(|(mut n, rx)| {
            Cluster::ready(&mut n, &rx);
            n
        })
        .collect();
    let startup = t0.elapsed();
    let tokens: Vec<&String> = nodes.iter().filter_map(|n| n.token.as_ref()).collect();
    assert_eq!(
        tokens.len(),
        1,
        "exactly one node bootstraps the empty database"
    );
    let admin_token = tokens[0].clone();
    let admin = Api {
        http: reqwest::Client::new(),
        base: nodes[0].base.clone(),
        token: admin_token.clone(),
    };
    // A worker serves the ops routes only.
    let w = reqwest::get(format!("{}/healthz", nodes[2].base))
        .await
        .unwrap();
    assert_eq!(w.status().as_u16(), 200);
    let w = reqwest::get(format!("{}/api/admin/tenants", nodes[2].base))
        .await
        .unwrap();
    assert_eq!(w.status().as_u16(), 404, "a worker has no API");

    // Tenant, known list (the image's SHA-256), a report partner.
    let tenants = admin.get("/api/admin/tenants").await;
    assert_eq!(tenants.as_array().unwrap().len(), 1, "{tenants}");
    let tenant = tenants[0]["id"].as_i64().unwrap();
    let list = admin
        .post(
            &format!("/api/admin/tenants/{tenant}/lists"),
            json!({"name": "known", "kind": "known"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let sha = media::Digests::of(&image_bytes()).sha256_hex();
    let r = admin
        .http
        .post(format!(
            "{}/api/admin/lists/{list}/entries?type=sha256&category=baseline",
            admin.base
        ))
        .bearer_auth(&admin.token)
        .body(format!("{sha}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    let org = admin
        .post(
            &format!("/api/admin/tenants/{tenant}/organisations"),
            json!({"name": "Partner hotline"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let partner_token = admin
        .post(
            &format!("/api/admin/organisations/{org}/keys"),
            json!({"label": "reports"}),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, v) = admin
        .call(
            reqwest::Method::PUT,
            &format!("/api/admin/organisations/{org}/report-partner"),
            Some(json!({"kind": "hotline"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    // The workers learn the new list by polling: wait out the documented staleness bound.
    tokio::time::sleep(Duration::from_millis(3 * MATCHER_POLL_MS + 500)).await;

    // File the reports through the two API nodes in turn.
    let t_file = Instant::now();
    let partners: Vec<Api> = nodes[..2]
        .iter()
        .map(|n| Api {
            http: admin.http.clone(),
            base: n.base.clone(),
            token: partner_token.clone(),
        })
        .collect();
    let mut report_ids = HashSet::new();
    for (b, chunk) in (0..REPORTS).collect::<Vec<_>>().chunks(BATCH).enumerate() {
        let reports: Vec<Value> = chunk
            .iter()
            .map(|&i| json!({"url": format!("http://{}:{site_port}/page/{i}", host(i))}))
            .collect();
        let v = partners[b % 2]
            .post("/api/v1/reports", json!({ "reports": reports }))
            .await;
        for r in v["results"].as_array().unwrap() {
            assert_eq!(r["joined"], json!(false), "{r}");
            assert!(report_ids.insert(r["report_id"].as_i64().unwrap()), "{r}");
        }
    }
    assert_eq!(report_ids.len(), REPORTS);
    let filing = t_file.elapsed();

    // Kill one worker when about a third is processed; restart it.
    let mut killed_at = None;
    let mut restarted = None;
    let mut last = None;
    let mut tick = 0u32;
    let progress = loop {
        let p = Progress::read(&db).await;
        if killed_at.is_none() && p.processed >= (REPORTS / 3) as i64 {
            let w2 = &mut nodes[3];
            w2.child.kill().unwrap(); // SIGKILL
            let status = w2.child.wait().unwrap();
            assert!(!status.success());
            killed_at = Some((t_file.elapsed(), p.processed));
            // A moment without it, then the same node again.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let t = Instant::now();
            nodes[3] = cluster.start("w2", "worker", 2);
            assert!(nodes[3].token.is_none(), "no second bootstrap");
            restarted = Some(t.elapsed());
        }
        if p.done() {
            break p;
        }
        tick += 1;
        if tick.is_multiple_of(20) && last.as_ref() != Some(&p) {
            eprintln!("{:>6.1}s {p:?}", t_file.elapsed().as_secs_f64());
            last = Some(p);
        }
        assert!(
            t_file.elapsed() < DEADLINE,
            "not done after {DEADLINE:?}: {:?}\n{}",
            Progress::read(&db).await,
            log_tails(&nodes.iter().collect::<Vec<_>>())
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let processing = t_file.elapsed();
    let Some((kill_time, kill_processed)) = killed_at else {
        panic!("the worker was never killed: {progress:?}");
    };

    // --- reports, items, cases ---
    let n = REPORTS as i64;
    let states = groups(&db, "SELECT state, count(*) FROM reports GROUP BY state").await;
    assert_eq!(
        states,
        BTreeMap::from([("notice_pending".to_string(), n)]),
        "every report processed and auto-classified"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM report_items").await, n);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM report_items WHERE state = 'notice_pending' \
             AND classified_how = 'auto'"
        )
        .await,
        n
    );
    assert_eq!(
        count(&db, "SELECT count(DISTINCT item_id) FROM takedown_cases").await,
        n,
        "one case per item"
    );
    let case_states = groups(
        &db,
        "SELECT state, count(*) FROM takedown_cases GROUP BY state",
    )
    .await;
    assert_eq!(
        case_states,
        BTreeMap::from([("monitoring".to_string(), n)]),
        "every case attributed to its hoster"
    );

    // --- jobs ---
    let jobs = groups(
        &db,
        "SELECT kind || ':' || status, count(*) FROM jobs GROUP BY kind, status",
    )
    .await;
    assert!(
        jobs.keys().all(|k| k.ends_with(":done")),
        "no job pending, running or dead: {jobs:?}"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(DISTINCT payload) FROM jobs WHERE kind = 'report.process' \
             AND status = 'done'"
        )
        .await,
        n,
        "every report's processing job is done"
    );
    let redelivered = groups(
        &db,
        "SELECT kind, count(*) FROM jobs WHERE attempts > 1 GROUP BY kind",
    )
    .await;
    // Through the API as well: a report and its timeline on the other API node.
    let some = *report_ids.iter().next().unwrap();
    let api2 = Api {
        base: nodes[1].base.clone(),
        ..admin.clone()
    };
    let r = api2.get(&format!("/api/v1/reports/{some}")).await;
    assert_eq!(r["report"]["state"], json!("notice_pending"), "{r}");
    // Evidence a worker stored is readable on an API node (shared vault directory and keys).
    let item: i64 = sqlx::query_scalar("SELECT min(id) FROM report_items")
        .fetch_one(&db)
        .await
        .unwrap();
    let ev = api2
        .http
        .get(format!("{}/api/v1/items/{item}/evidence", api2.base))
        .bearer_auth(&api2.token)
        .send()
        .await
        .unwrap();
    assert_eq!(ev.status().as_u16(), 200);
    assert_eq!(ev.bytes().await.unwrap().as_ref(), image_bytes().as_slice());

    // --- check-online: at most once per case so far (the next check is 15 min away) ---
    let max_obs = count(
        &db,
        "SELECT COALESCE(max(k), 0) FROM (SELECT count(*) AS k FROM observations \
         GROUP BY case_id) t",
    )
    .await;
    assert!(max_obs <= 1, "a case was checked {max_obs} times at once");
    let checked = count(&db, "SELECT count(DISTINCT case_id) FROM observations").await;
    let online = count(
        &db,
        "SELECT count(*) FROM observations WHERE outcome = 'online'",
    )
    .await;
    assert_eq!(online, checked, "the material is online everywhere");
    // The rest was leased by the killed worker's check round: due again after the lease.
    let leased = n - checked;

    // --- notices: each case in exactly one hoster notice; each notice out at most once ---
    let notice_states = groups(&db, "SELECT state, count(*) FROM notices GROUP BY state").await;
    assert!(
        notice_states
            .keys()
            .all(|s| s == "sent" || s == "delivery_unknown"),
        "{notice_states:?}"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM notice_items").await,
        n,
        "one notice step per case, no reminder yet"
    );
    let rows: Vec<(i64, String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT id, reference, state, message_id, recipient_email FROM notices ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let items: Vec<(i64, String)> = sqlx::query_as(
        "SELECT ni.notice_id, c.url FROM notice_items ni \
         JOIN takedown_cases c ON c.id = ni.case_id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let mut notice_paths: HashMap<i64, HashSet<String>> = HashMap::new();
    for (notice, url) in items {
        let p = url
            .find("/img/")
            .map(|i| url[i..].to_string())
            .unwrap_or(url);
        notice_paths.entry(notice).or_default().insert(p);
    }

    let messages = sink.messages();
    let mut by_message_id: HashMap<String, usize> = HashMap::new();
    let mut path_count: HashMap<String, usize> = HashMap::new();
    let mut parsed = Vec::new();
    for m in &messages {
        let data = m.data_lossy();
        let mid = header(&data, "Message-ID").expect("every notice has a Message-ID");
        *by_message_id.entry(mid.clone()).or_default() += 1;
        let paths = case_paths(m);
        for p in &paths {
            *path_count.entry(p.clone()).or_default() += 1;
        }
        parsed.push((mid, data, paths, m.rcpt_to.clone()));
    }
    let dup_ids: Vec<_> = by_message_id.iter().filter(|(_, k)| **k > 1).collect();
    assert!(
        dup_ids.is_empty(),
        "Message-IDs received twice: {dup_ids:?}"
    );
    let dup_cases: Vec<_> = path_count.iter().filter(|(_, k)| **k > 1).collect();
    assert!(dup_cases.is_empty(), "cases notified twice: {dup_cases:?}");

    let mut unknown_arrived = 0;
    let mut unknown_missing = 0;
    let mut cases_in_doubt = 0;
    let mut matched = 0;
    for (id, reference, state, message_id, rcpt) in &rows {
        let arrived: Vec<_> = parsed
            .iter()
            .filter(|(mid, data, _, _)| {
                message_id.as_deref() == Some(mid.as_str()) || names(data, reference)
            })
            .collect();
        match state.as_str() {
            "sent" => assert_eq!(arrived.len(), 1, "notice {reference} arrived once"),
            _ => {
                assert!(
                    arrived.len() <= 1,
                    "notice {reference} arrived at most once"
                );
                if arrived.is_empty() {
                    unknown_missing += 1;
                    cases_in_doubt += notice_paths.get(id).map_or(0, HashSet::len);
                } else {
                    unknown_arrived += 1;
                }
            }
        }
        if let Some((_, _, paths, to)) = arrived.first() {
            matched += 1;
            assert_eq!(
                to,
                &vec![rcpt.clone()],
                "notice {reference} went to its hoster"
            );
            let want = notice_paths.get(id).cloned().unwrap_or_default();
            assert_eq!(paths, &want, "notice {reference} names exactly its cases");
        }
    }
    assert_eq!(
        matched,
        messages.len(),
        "every message at the sink is a recorded notice"
    );
    let cases_at_sink = path_count.len();
    assert_eq!(
        cases_at_sink + cases_in_doubt,
        REPORTS,
        "every case was notified, or is in the one notice left in doubt"
    );
    // Notices are claimed one at a time: a killed worker leaves at most the notice it was
    // sending in doubt, never a batch it had not started.
    assert!(
        unknown_arrived + unknown_missing <= 1,
        "{} notices in delivery_unknown",
        unknown_arrived + unknown_missing
    );

    let total = t_start.elapsed();
    eprintln!(
        "multinode: {REPORTS} reports, 2 api + 3 worker processes on PostgreSQL schema {}\n\
         \x20 start of 5 nodes {:.1}s; filing {:.1}s ({:.0} reports/s over {} requests)\n\
         \x20 worker w2 SIGKILLed at {:.1}s ({} processed), back in {:.1}s\n\
         \x20 all processed, attributed, checked and notified after {:.1}s ({:.0} reports/s); \
         whole test {:.1}s\n\
         \x20 jobs {jobs:?}; re-delivered after the kill {redelivered:?}\n\
         \x20 check-online: {checked} cases checked once, {leased} leased by the killed round, \
         none twice\n\
         \x20 notices {notice_states:?}; {} messages at the sink naming {cases_at_sink} cases; \
         delivery_unknown arrived {unknown_arrived}, not arrived {unknown_missing}",
        schema.name,
        startup.as_secs_f64(),
        filing.as_secs_f64(),
        REPORTS as f64 / filing.as_secs_f64(),
        REPORTS / BATCH,
        kill_time.as_secs_f64(),
        kill_processed,
        restarted.unwrap_or_default().as_secs_f64(),
        processing.as_secs_f64(),
        REPORTS as f64 / processing.as_secs_f64(),
        total.as_secs_f64(),
        messages.len(),
    );
    drop(nodes);
    db.close().await;
}
