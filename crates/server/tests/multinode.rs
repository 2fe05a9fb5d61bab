//! Several nodes on one database, in one test process: two real servers (`server::run`, what
//! `schoon serve` runs) on ONE SQLite data directory, and on one PostgreSQL schema when
//! `SCHOON_TEST_DATABASE_URL` is set.
//!
//! What is held: a list change made through node A reaches node B's matcher within the
//! documented staleness bound (ARCHITECTURE.md, "Several nodes": poll interval + one refresh);
//! the first start creates exactly one tenant and one admin token however many nodes start at
//! once; a worker node serves only the ops routes.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use server::Config;
use server::config::Role;

/// The matcher poll interval the nodes run with.
const POLL_MS: u64 = 300;
/// Slack on top of the bound for a loaded 2-core CI machine (refresh time, scheduling, HTTP).
const MARGIN_MS: u64 = 2_700;
const MD5: &str = "00112233445566778899aabbccddeeff";

/// A running node.
struct Node {
    base: String,
    /// The admin token, if this node did the first-start set-up.
    admin: Option<String>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where the nodes' database lives.
enum Db {
    Sqlite,
    Postgres { url: String, schema: String },
}

impl Db {
    fn name(&self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres { .. } => "postgres",
        }
    }

    /// The `database_url` a node is given (`None`: the data directory's SQLite file).
    fn database_url(&self) -> Option<String> {
        match self {
            Db::Sqlite => None,
            Db::Postgres { url, schema } => Some(with_search_path(url, schema)),
        }
    }
}

/// `url` with `options=-c search_path=<schema>` so every connection works in the test schema.
fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// `SCHOON_TEST_DATABASE_URL`, or `None` (then the PostgreSQL runs are skipped, unless
/// `SCHOON_REQUIRE_DATABASE=1`, which makes that a failure).
fn pg_url() -> Option<String> {
    match std::env::var("SCHOON_TEST_DATABASE_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("SCHOON_REQUIRE_DATABASE").as_deref() != Ok("1"),
                "SCHOON_REQUIRE_DATABASE=1 but SCHOON_TEST_DATABASE_URL is not set"
            );
            eprintln!("multinode: SCHOON_TEST_DATABASE_URL not set; skipping the PostgreSQL run");
            None
        }
    }
}

/// A fresh schema for one PostgreSQL run (created and migrated by the store).
async fn pg_db(url: &str) -> Db {
    let schema = format!("schoon_t_mn_{}_{}", std::process::id(), rand_suffix());
    let store = store::PgStore::open_fresh_schema(url, &schema)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at SCHOON_TEST_DATABASE_URL: {e}"));
    store.close().await;
    Db::Postgres {
        url: url.to_string(),
        schema,
    }
}

async fn drop_db(db: &Db) {
    if let Db::Postgres { url, schema } = db {
        store::PgStore::drop_schema(url, schema).await.unwrap();
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64 & 0xffff_ffff)
        .unwrap_or(0)
}

fn config(dir: &std::path::Path, db: &Db, role: Role) -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        database_url: db.database_url(),
        role,
        ..Config::default()
    };
    c.matcher.poll_interval_ms = POLL_MS;
    c
}

/// Starts `server::run` and waits until it listens.
async fn start(config: Config) -> Node {
    let (boot_tx, boot_rx) = tokio::sync::oneshot::channel();
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let r = server::run(
            config,
            |b| {
                let _ = boot_tx.send(b.admin.token.clone());
            },
            |a| {
                let _ = addr_tx.send(a);
            },
        )
        .await;
        if let Err(e) = r {
            panic!("server failed: {e:#}");
        }
    });
    let addr = addr_rx.await.expect("node must listen");
    // The bootstrap callback runs before listening, so its sender is used or dropped by now.
    let admin = boot_rx.await.ok();
    Node {
        base: format!("http://{addr}"),
        admin,
        task,
    }
}

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn admin_post(
    http: &reqwest::Client,
    n: &Node,
    admin: &str,
    path: &str,
    body: Value,
) -> Value {
    let (s, v) = send(
        http.post(format!("{}{path}", n.base))
            .bearer_auth(admin)
            .json(&body),
    )
    .await;
    assert!(s.is_success(), "{path}: {s} {v}");
    v
}

async fn matched(http: &reqwest::Client, n: &Node, token: &str) -> bool {
    let (s, v) = send(
        http.post(format!("{}/api/v1/check", n.base))
            .bearer_auth(token)
            .json(&json!({"hashes": [{"type": "md5", "value": MD5}]})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["results"][0]["matched"] == json!(true)
}

/// Polls node `n` until `matched == want`; returns how long it took from `since`.
async fn wait_for(
    http: &reqwest::Client,
    n: &Node,
    token: &str,
    want: bool,
    since: Instant,
) -> Duration {
    let deadline = since + Duration::from_millis(POLL_MS + MARGIN_MS) * 3;
    loop {
        if matched(http, n, token).await == want {
            return since.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "node never saw matched={want} (waited {:?})",
            since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Node A (role all) and node B (role api) on one database: import and revoke through A, check
/// through B.
async fn list_changes_reach_the_other_node(db: Db) {
    let dir_a = tempfile::tempdir().unwrap();
    // SQLite: one data directory for both; PostgreSQL: each node its own directory, as on two
    // hosts (the database is what they share).
    let dir_b = tempfile::tempdir().unwrap();
    let b_dir = match db {
        Db::Sqlite => dir_a.path(),
        Db::Postgres { .. } => dir_b.path(),
    };
    let a = start(config(dir_a.path(), &db, Role::All)).await;
    let admin = a.admin.clone().expect("node A does the first start");
    let b = start(config(b_dir, &db, Role::Api)).await;
    assert!(b.admin.is_none(), "a second node must not bootstrap again");
    let http = reqwest::Client::new();

    let tenants = send(
        http.get(format!("{}/api/admin/tenants", b.base))
            .bearer_auth(&admin),
    )
    .await;
    assert_eq!(tenants.0, StatusCode::OK, "node B accepts A's admin token");
    let tenant = tenants.1[0]["id"].as_i64().unwrap();
    let org = admin_post(
        &http,
        &a,
        &admin,
        &format!("/api/admin/tenants/{tenant}/organisations"),
        json!({"name": "Hoster"}),
    )
    .await;
    let key = admin_post(
        &http,
        &a,
        &admin,
        &format!("/api/admin/organisations/{}/keys", org["id"]),
        json!({"label": "k"}),
    )
    .await;
    let token = key["token"].as_str().unwrap().to_string();
    let list = admin_post(
        &http,
        &a,
        &admin,
        &format!("/api/admin/tenants/{tenant}/lists"),
        json!({"name": "known", "kind": "known"}),
    )
    .await;
    let list = list["id"].as_i64().unwrap();
    // Let B load the (empty) list first, so what follows is a change, not a first load.
    tokio::time::sleep(Duration::from_millis(POLL_MS * 2)).await;
    assert!(!matched(&http, &b, &token).await);

    // Import through A: A answers from the new version at once, B within the bound.
    let (s, v) = send(
        http.post(format!(
            "{}/api/admin/lists/{list}/entries?type=md5&source=test",
            a.base
        ))
        .bearer_auth(&admin)
        .body(format!("{MD5}\n")),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let imported = Instant::now();
    assert!(
        matched(&http, &a, &token).await,
        "the importing node applies at once"
    );
    let took = wait_for(&http, &b, &token, true, imported).await;
    let bound = Duration::from_millis(POLL_MS + MARGIN_MS);
    eprintln!(
        "multinode[{}]: import seen by node B after {took:?} (bound {bound:?})",
        db.name()
    );
    assert!(
        took <= bound,
        "import took {took:?} to reach node B (bound {bound:?})"
    );

    // Revocation likewise.
    admin_post(
        &http,
        &a,
        &admin,
        &format!("/api/admin/lists/{list}/revoke"),
        json!({"values": [{"type": "md5", "value": MD5}], "reason": "test revocation"}),
    )
    .await;
    let revoked = Instant::now();
    assert!(
        !matched(&http, &a, &token).await,
        "the revoking node applies at once"
    );
    let took = wait_for(&http, &b, &token, false, revoked).await;
    eprintln!(
        "multinode[{}]: revocation seen by node B after {took:?} (bound {bound:?})",
        db.name()
    );
    assert!(
        took <= bound,
        "revocation took {took:?} to reach node B (bound {bound:?})"
    );

    drop(a);
    drop(b);
    drop_db(&db).await;
}

/// Three nodes started at the same moment on an empty database: exactly one first start.
async fn concurrent_first_start_bootstraps_once(db: Db) {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let roles = [Role::Api, Role::Worker, Role::All];
    let nodes = futures_join(
        dirs.iter()
            .zip(roles)
            .map(|(d, role)| {
                // SQLite: one data directory (the database file is in it); PostgreSQL: one each.
                let dir = match db {
                    Db::Sqlite => dirs[0].path(),
                    Db::Postgres { .. } => d.path(),
                };
                start(config(dir, &db, role))
            })
            .collect(),
    )
    .await;
    let admins: Vec<&String> = nodes.iter().filter_map(|n| n.admin.as_ref()).collect();
    assert_eq!(
        admins.len(),
        1,
        "exactly one node does the first start ({})",
        db.name()
    );
    let admin = admins[0].clone();
    let http = reqwest::Client::new();
    // An API node answers with the one tenant; the worker node has no admin API.
    let api = &nodes[0];
    let (s, tenants) = send(
        http.get(format!("{}/api/admin/tenants", api.base))
            .bearer_auth(&admin),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{tenants}");
    assert_eq!(tenants.as_array().map(Vec::len), Some(1), "{tenants}");

    let worker = &nodes[1];
    let (s, _) = send(http.get(format!("{}/healthz", worker.base))).await;
    assert_eq!(s, StatusCode::OK);
    let metrics = http
        .get(format!("{}/metrics", worker.base))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .contains("schoon_matcher_entries")
    );
    let (s, v) = send(
        http.get(format!("{}/api/admin/tenants", worker.base))
            .bearer_auth(&admin),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "a worker node serves no admin API: {v}"
    );
    let (s, _) = send(
        http.post(format!("{}/api/v1/check", worker.base))
            .json(&json!({"hashes": [{"type": "md5", "value": MD5}]})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "a worker node serves no check API"
    );
    drop(nodes);
    drop_db(&db).await;
}

/// Runs the futures concurrently, results in order.
async fn futures_join<F: std::future::Future<Output = Node> + Send + 'static>(
    fs: Vec<F>,
) -> Vec<Node> {
    let handles: Vec<_> = fs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn list_changes_reach_another_node_within_the_poll_bound_sqlite() {
    list_changes_reach_the_other_node(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn list_changes_reach_another_node_within_the_poll_bound_postgres() {
    let Some(url) = pg_url() else { return };
    list_changes_reach_the_other_node(pg_db(&url).await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_starting_together_bootstrap_once_and_workers_serve_only_ops_sqlite() {
    concurrent_first_start_bootstraps_once(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_starting_together_bootstrap_once_and_workers_serve_only_ops_postgres() {
    let Some(url) = pg_url() else { return };
    concurrent_first_start_bootstraps_once(pg_db(&url).await).await;
}
