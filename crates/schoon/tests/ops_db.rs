//! `schoon admin migrate`, `schoon admin backup` and `schoon serve --role/--database`, with the
//! real binary. PostgreSQL runs need `SCHOON_TEST_DATABASE_URL` (skipped without it, a failure
//! without it when `SCHOON_REQUIRE_DATABASE=1`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use store::Store;

fn schoon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_schoon"))
        .args(args)
        .env_remove("SCHOON_DATABASE_URL")
        .env_remove("SCHOON_ROLE")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The migration numbers shipped for a backend, from the migration file names.
fn shipped(backend: &str) -> Vec<i64> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../store/migrations")
        .join(backend);
    let mut v: Vec<i64> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.ends_with(".sql")
                .then(|| name.split('_').next()?.parse().ok())
                .flatten()
        })
        .collect();
    v.sort_unstable();
    v
}

/// The versions printed as `applied NNNN description` lines.
fn printed_versions(out: &str) -> Vec<i64> {
    out.lines()
        .filter_map(|l| l.strip_prefix("applied ")?.split(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn migrate_on_a_fresh_data_directory_applies_and_prints_every_migration() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = ok(schoon(&["admin", "--data", p(&data), "migrate"]));
    let want = shipped("sqlite");
    assert!(!want.is_empty());
    assert_eq!(printed_versions(&out), want, "{out}");
    let last = want.last().unwrap();
    assert!(
        out.contains(&format!(
            "schema version {last} ({} migrations applied)",
            want.len()
        )),
        "{out}"
    );
    assert!(data.join("schoon.db").exists());
    // Again: nothing new, the same versions.
    let again = ok(schoon(&["admin", "migrate", "--data", p(&data)]));
    assert_eq!(printed_versions(&again), want, "{again}");
    // `--database` names the SQLite file directly.
    let other = dir.path().join("elsewhere/x.db");
    let out = ok(schoon(&["admin", "migrate", "--database", p(&other)]));
    assert_eq!(printed_versions(&out), want, "{out}");
    assert!(other.exists());
}

/// `SCHOON_TEST_DATABASE_URL`, or `None` to skip (a failure under `SCHOON_REQUIRE_DATABASE=1`).
fn pg_url() -> Option<String> {
    match std::env::var("SCHOON_TEST_DATABASE_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("SCHOON_REQUIRE_DATABASE").as_deref() != Ok("1"),
                "SCHOON_REQUIRE_DATABASE=1 but SCHOON_TEST_DATABASE_URL is not set"
            );
            eprintln!("ops_db: SCHOON_TEST_DATABASE_URL not set; skipping the PostgreSQL run");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_on_postgres_applies_and_prints_every_migration() {
    let Some(url) = pg_url() else { return };
    let schema = format!("schoon_t_ops_{}", std::process::id());
    // An empty schema: the binary is what migrates it.
    store::PgStore::drop_schema(&url, &schema).await.unwrap();
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    // The name is ours (letters, digits, underscores), not input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let sep = if url.contains('?') { '&' } else { '?' };
    let db = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let outs = tokio::task::spawn_blocking(move || {
        [
            schoon(&["admin", "migrate", "--database", &db]),
            // The other admin commands work on PostgreSQL too.
            schoon(&["admin", "--database", &db, "tenant", "create", "pg-hotline"]),
            schoon(&["admin", "--database", &db, "tenant", "list"]),
        ]
    })
    .await
    .unwrap();
    store::PgStore::drop_schema(&url, &schema).await.unwrap();
    let [migrated, created, listed] = outs;
    let out = ok(migrated);
    assert_eq!(printed_versions(&out), shipped("postgres"), "{out}");
    assert!(!out.contains("PASSWORD"));
    ok(created);
    let listed = ok(listed);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.contains("\"pg-hotline\""), "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_copy_opens_and_holds_the_same_tenants_and_lists() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = p(&data).to_string();
    ok(schoon(&[
        "admin",
        "--data",
        &d,
        "tenant",
        "create",
        "hotline-nl",
        "--country",
        "NL",
    ]));
    ok(schoon(&[
        "admin",
        "--data",
        &d,
        "tenant",
        "create",
        "hotline-be",
    ]));
    let t: serde_json::Value = serde_json::from_str(
        ok(schoon(&["admin", "--data", &d, "tenant", "list"]))
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let tenant = t["id"].as_i64().unwrap().to_string();
    ok(schoon(&[
        "admin", "--data", &d, "list", "create", "--tenant", &tenant, "known-a", "--kind", "known",
    ]));
    ok(schoon(&[
        "admin", "--data", &d, "list", "create", "--tenant", &tenant, "allow-b", "--kind", "allow",
    ]));

    let dest = dir.path().join("backup.db");
    let out = ok(schoon(&["admin", "--data", &d, "backup", p(&dest)]));
    assert!(out.contains("backup of"), "{out}");
    assert!(dest.exists());

    // Never over an existing file.
    let before = std::fs::read(&dest).unwrap();
    let again = schoon(&["admin", "--data", &d, "backup", p(&dest)]);
    assert!(
        !again.status.success(),
        "a second backup to the same file must fail"
    );
    assert!(stderr(&again).contains("exists"), "{}", stderr(&again));
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        before,
        "the existing backup is untouched"
    );

    // The copy is a database of its own with the same contents.
    let src = store::SqliteStore::open(&data.join("schoon.db"))
        .await
        .unwrap();
    let copy = store::SqliteStore::open(&dest).await.unwrap();
    let (a, b) = (src.tenants().await.unwrap(), copy.tenants().await.unwrap());
    assert_eq!(a.len(), 2);
    assert_eq!(
        a.iter().map(|t| (t.id, t.name.clone())).collect::<Vec<_>>(),
        b.iter().map(|t| (t.id, t.name.clone())).collect::<Vec<_>>()
    );
    for t in &a {
        let la = src.lists(t.id).await.unwrap();
        let lb = copy.lists(t.id).await.unwrap();
        assert_eq!(
            la.iter()
                .map(|l| (l.id, l.name.clone(), format!("{:?}", l.kind)))
                .collect::<Vec<_>>(),
            lb.iter()
                .map(|l| (l.id, l.name.clone(), format!("{:?}", l.kind)))
                .collect::<Vec<_>>()
        );
    }
    assert_eq!(
        copy.lists(t["id"].as_i64().unwrap()).await.unwrap().len(),
        2
    );
    assert!(
        copy.verify_audit_chain().await.is_ok(),
        "the copy's audit chain is intact"
    );
    src.close().await;
    copy.close().await;
}

#[test]
fn backup_refuses_a_missing_database_and_prints_pg_dump_for_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("b.db");
    let missing = schoon(&[
        "admin",
        "--data",
        p(&dir.path().join("none")),
        "backup",
        p(&dest),
    ]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("no database"),
        "{}",
        stderr(&missing)
    );
    assert!(!dest.exists());
    assert!(
        !dir.path().join("none/schoon.db").exists(),
        "no empty database was created"
    );

    let dump = dir.path().join("schoon.dump");
    let pg = schoon(&[
        "admin",
        "backup",
        p(&dump),
        "--database",
        "postgres://schoon:s3cret@db.internal:5432/schoon",
    ]);
    assert_eq!(pg.status.code(), Some(2), "{}", stderr(&pg));
    let out = stdout(&pg);
    assert!(out.starts_with("pg_dump --format=custom --file "), "{out}");
    assert!(
        out.contains("'postgres://schoon@db.internal:5432/schoon'"),
        "{out}"
    );
    assert!(!out.contains("s3cret") && !stderr(&pg).contains("s3cret"));
    assert!(!dump.exists());
}

/// A `schoon serve` child, killed on drop.
struct Serve {
    child: Child,
    base: String,
    stdout: Vec<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str], envs: &[(&str, &str)], log: &Path) -> Serve {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_schoon"));
    cmd.arg("serve")
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("SCHOON_DATABASE_URL")
        .env_remove("SCHOON_ROLE")
        .env("SCHOON_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut s = Serve {
        child: cmd.spawn().unwrap(),
        base: String::new(),
        stdout: Vec::new(),
    };
    let out = s.child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| {
                panic!(
                    "schoon serve did not start:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            });
        if let Some(addr) = line.trim().strip_prefix("schoon: listening on ") {
            s.base = addr.to_string();
            return s;
        }
        s.stdout.push(line);
    }
}

/// The first JSON log line with `message == "starting"`.
fn start_log(log: &Path) -> serde_json::Value {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "starting")
        .expect("a start log line")
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_role_flag_and_env_choose_what_a_process_serves() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let http = reqwest::Client::new();

    // First node: `--role api`, does the first start and serves the API.
    let log_a = dir.path().join("a.log");
    let a = serve(&["--data", p(&data), "--role", "api"], &[], &log_a);
    assert!(
        a.stdout.iter().any(|l| l.contains("first start")),
        "{:?}",
        a.stdout
    );
    assert_eq!(start_log(&log_a)["role"], "api");
    let r = http
        .post(format!("{}/api/v1/check", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        401,
        "an API node has the check API (auth required)"
    );

    // Second node on the same data directory via the environment: worker, ops routes only,
    // and no second first start.
    let log_b = dir.path().join("b.log");
    let db = data.join("schoon.db");
    let b = serve(
        &["--data", p(&dir.path().join("other"))],
        &[("SCHOON_ROLE", "worker"), ("SCHOON_DATABASE_URL", p(&db))],
        &log_b,
    );
    assert!(
        !b.stdout.iter().any(|l| l.contains("first start")),
        "{:?}",
        b.stdout
    );
    assert_eq!(start_log(&log_b)["role"], "worker");
    let r = http
        .get(format!("{}/healthz", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = http
        .get(format!("{}/metrics", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = http
        .post(format!("{}/api/v1/check", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404, "a worker node has no check API");
    let r = http
        .get(format!("{}/ui/login", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404, "a worker node has no web UI");

    // A bad role is refused before anything starts.
    let bad = schoon(&["serve", "--data", p(&data), "--role", "both"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("both"), "{}", stderr(&bad));
}
