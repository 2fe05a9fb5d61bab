//! The outbox's crash guarantee, with the real binary: `schoon serve` is killed (abort) right
//! after the SMTP relay accepted a notice and before the delivery was recorded; after a restart
//! on the same data directory the notice is `delivery_unknown` (visible in the API) and the
//! relay has exactly one message: nothing is sent twice automatically.
//!
//! The case is seeded through the public interfaces: a known list (admin API), a report of a
//! loopback page whose image is on that list (`schoon report add`; the server's report worker
//! fetches, hashes and auto-classifies it), the case opener and attribution (no RDAP: the case
//! waits in `needs_contact`), and an analyst's contact fix (cases API).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn image_bytes() -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/pdq/data/bridge-mods/aaa-orig.jpg");
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The reported website: one page with one (benign, listed) image.
async fn website() -> String {
    let img = image_bytes();
    let app = axum::Router::new()
        .route(
            "/page.html",
            axum::routing::get(|| async {
                axum::response::Html(r#"<html><body><img src="/img/known.jpg"></body></html>"#)
            }),
        )
        .route(
            "/img/known.jpg",
            axum::routing::get(move || {
                let img = img.clone();
                async move { ([("content-type", "image/jpeg")], img) }
            }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    format!("http://{addr}")
}

struct Serve {
    child: Child,
    base: String,
    token: Option<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `schoon serve` and waits for its listen line (and, on first start, the admin token).
fn serve(data: &Path, config: &Path, log: &Path, failpoint: bool) -> Serve {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_schoon"));
    cmd.arg("serve")
        .arg("--data")
        .arg(data)
        .arg("--config")
        .arg(config)
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env_remove("SCHOON_FAILPOINT")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap());
    if failpoint {
        cmd.env("SCHOON_FAILPOINT", "after-smtp-send");
    }
    let mut serve = Serve {
        child: cmd.spawn().unwrap(),
        base: String::new(),
        token: None,
    };
    // From here a panic drops `serve`, which kills and reaps the process.
    let Some(stdout) = serve.child.stdout.take() else {
        panic!("no stdout pipe");
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut expect_token = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| {
                panic!(
                    "schoon serve did not start:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            });
        let t = line.trim();
        if expect_token && !t.is_empty() {
            serve.token = Some(t.to_string());
            expect_token = false;
        } else if t.starts_with("Admin token") {
            expect_token = true;
        } else if let Some(addr) = t.strip_prefix("schoon: listening on ") {
            serve.base = addr.to_string();
            return serve;
        }
    }
}

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
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
}

async fn wait_for<T>(what: &str, log: &Path, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; server log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_smtp_and_record_never_sends_twice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sink = smtp_sink::SmtpSink::start().await.unwrap();
    let site = website().await;
    let config = dir.path().join("schoon.toml");
    std::fs::write(
        &config,
        format!(
            r#"log_format = "text"
[fetch]
allow_addresses = ["127.0.0.1/32"]
timeout_secs = 5
[reports]
poll_interval_ms = 100
[takedown.attribution]
rdap = false
[takedown.mail]
smtp_host = "127.0.0.1"
smtp_port = {port}
smtp_tls = "none"
smtp_timeout_secs = 10
notice_lease_secs = 2
from = "notices@meldpunt.example"
bounce = "bounces@meldpunt.example"
tenant_name = "Meldpunt Voorbeeld"
domain = "meldpunt.example"
language = "en"
response_base_url = "https://meldpunt.example"
"#,
            port = sink.port()
        ),
    )
    .unwrap();
    let log1 = dir.path().join("serve-1.log");
    let s1 = serve(&data, &config, &log1, true);
    let api = Api {
        http: reqwest::Client::new(),
        base: s1.base.clone(),
        token: s1
            .token
            .clone()
            .expect("first start prints the admin token"),
    };
    let tenant = api.get("/api/admin/tenants").await[0]["id"]
        .as_i64()
        .unwrap();

    // A known list with the image's PDQ, then a report of the page.
    let (s, v) = api
        .post(
            &format!("/api/admin/tenants/{tenant}/lists"),
            json!({"name": "known", "kind": "known"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let list = v["id"].as_i64().unwrap();
    let pdq = media::MediaHasher::default()
        .hash_bytes(&image_bytes(), false)
        .unwrap()
        .pdq
        .to_hex();
    let r = api
        .http
        .post(format!(
            "{}/api/admin/lists/{list}/entries?type=pdq&category=baseline",
            api.base
        ))
        .bearer_auth(&api.token)
        .body(format!("{pdq}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    let out = Command::new(env!("CARGO_BIN_EXE_schoon"))
        .args(["report", "add", "--data"])
        .arg(&data)
        .arg(format!("{site}/page.html"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The item is auto-classified, a case opens, attribution cannot find a contact.
    let case = wait_for("a case in needs_contact", &log1, async || {
        let v = api
            .get(&format!(
                "/api/v1/takedown/cases?tenant={tenant}&state=needs_contact"
            ))
            .await;
        v.as_array().and_then(|a| a.first().cloned())
    })
    .await;
    let case_id = case["id"].as_i64().unwrap();
    let (s, v) = api
        .post(
            &format!("/api/v1/takedown/cases/{case_id}/contacts"),
            json!({"hoster_org": "Loopback Hosting", "hoster_email": "abuse@loopback-hosting.test",
                   "hoster_country": null}),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    // The first notice goes out and the process aborts before recording it.
    let mut s1 = s1;
    let status = wait_for("the failpoint abort", &log1, async || {
        s1.child.try_wait().unwrap()
    })
    .await;
    assert!(!status.success(), "aborted: {status:?}");
    let log = std::fs::read_to_string(&log1).unwrap();
    assert!(
        log.contains("failpoint after-smtp-send"),
        "it died at the failpoint:\n{log}"
    );
    assert_eq!(
        sink.message_count(),
        1,
        "the relay accepted the notice once"
    );

    // Restart without the failpoint: the notice is found in `sending` and becomes
    // delivery_unknown; nothing is sent again.
    let log2 = dir.path().join("serve-2.log");
    let s2 = serve(&data, &config, &log2, false);
    let api = Api {
        base: s2.base.clone(),
        ..api
    };
    let unknown = wait_for("delivery_unknown", &log2, async || {
        let v = api
            .get(&format!(
                "/api/v1/takedown/notices?tenant={tenant}&state=delivery_unknown"
            ))
            .await;
        v.as_array().and_then(|a| a.first().cloned())
    })
    .await;
    assert_eq!(unknown["rung"], json!("hoster"));
    assert_eq!(
        unknown["recipient_email"],
        json!("abuse@loopback-hosting.test")
    );
    let reference = unknown["reference"].as_str().unwrap().to_string();
    let received = &sink.messages()[0];
    assert!(
        received.data_lossy().contains(&reference),
        "the message at the relay is this notice"
    );
    // Let the workers run a few more rounds (every 5 s): still exactly one message.
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(sink.message_count(), 1, "never re-sent automatically");
    let v = api
        .get(&format!(
            "/api/v1/takedown/notices?tenant={tenant}&state=queued"
        ))
        .await;
    assert_eq!(v, json!([]), "nothing else queued");

    // A human confirms it went out.
    let id = unknown["id"].as_i64().unwrap();
    let (s, v) = api
        .post(
            &format!("/api/v1/takedown/notices/{id}/resolve"),
            json!({"requeue": false}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], json!("sent"));
    drop(s2);
}
