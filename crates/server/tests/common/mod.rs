//! Test harness: the real server (`server::run`, the function `schoon serve` calls) on a random
//! loopback port with a fresh temporary data directory.

#![allow(dead_code)]

pub mod browser;
pub mod monitor_seed;
pub mod regulator_seed;
pub mod ui_client;

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::{Value, json};
use server::Config;

/// A running server.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The first-start admin token.
    pub admin: String,
    /// The first-start tenant.
    pub tenant: i64,
    /// HTTP client.
    pub http: reqwest::Client,
    /// The data directory.
    pub dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A check key.
pub struct Key {
    /// Organisation.
    pub org: i64,
    /// Bearer token.
    pub token: String,
    /// Key id.
    pub id: String,
    /// Secret.
    pub secret: String,
}

/// Path of a file in the shared PDQ test data.
pub fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/pdq/data")
        .join(rel)
}

/// Bytes of a shared test image.
pub fn image(rel: &str) -> Vec<u8> {
    std::fs::read(testdata(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// PDQ hex and SHA-256 hex of a shared test image, computed with the `media` crate.
pub fn hashes(rel: &str) -> (String, String) {
    let h = media::MediaHasher::default()
        .hash_bytes(&image(rel), false)
        .unwrap();
    (h.pdq.to_hex(), h.digests.sha256_hex())
}

impl TestServer {
    /// Starts with default settings.
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts with adjusted settings.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        config.matcher.poll_interval_ms = 200;
        adjust(&mut config);
        let (boot_tx, boot_rx) = tokio::sync::oneshot::channel();
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let r = server::run(
                config,
                |b| {
                    let _ = boot_tx.send((b.admin.token.clone(), b.tenant.id));
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
        let (admin, tenant) = boot_rx.await.expect("first start must bootstrap");
        let addr = addr_rx.await.expect("server must listen");
        TestServer {
            base: format!("http://{addr}"),
            admin,
            tenant,
            http: reqwest::Client::new(),
            dir,
            task,
        }
    }

    /// Sends a request and returns status, content type and JSON body (Null if not JSON).
    pub async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, String, Value) {
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_string())
            .unwrap_or_default();
        let text = resp.text().await.unwrap();
        (
            status,
            ct,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    /// Admin POST with JSON.
    pub async fn admin_post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, _, v) = self
            .send(
                self.http
                    .post(format!("{}{path}", self.base))
                    .bearer_auth(&self.admin)
                    .json(&body),
            )
            .await;
        (s, v)
    }

    /// Admin GET.
    pub async fn admin_get(&self, path: &str) -> (StatusCode, Value) {
        let (s, _, v) = self
            .send(
                self.http
                    .get(format!("{}{path}", self.base))
                    .bearer_auth(&self.admin),
            )
            .await;
        (s, v)
    }

    /// Creates a tenant.
    pub async fn tenant(&self, name: &str) -> i64 {
        let (s, v) = self
            .admin_post("/api/admin/tenants", json!({"name": name}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_i64().unwrap()
    }

    /// Creates an organisation and a check key for it.
    pub async fn key(&self, tenant: i64, org_name: &str) -> Key {
        let (s, v) = self
            .admin_post(
                &format!("/api/admin/tenants/{tenant}/organisations"),
                json!({"name": org_name}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let org = v["id"].as_i64().unwrap();
        let (s, v) = self
            .admin_post(
                &format!("/api/admin/organisations/{org}/keys"),
                json!({"label": "test key"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        Key {
            org,
            token: v["token"].as_str().unwrap().to_string(),
            id: v["key_id"].as_str().unwrap().to_string(),
            secret: v["secret"].as_str().unwrap().to_string(),
        }
    }

    /// Creates a list.
    pub async fn list(&self, tenant: i64, name: &str, kind: &str) -> i64 {
        let (s, v) = self
            .admin_post(
                &format!("/api/admin/tenants/{tenant}/lists"),
                json!({"name": name, "kind": kind}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_i64().unwrap()
    }

    /// Uploads a list file; `query` like `type=pdq&category=national`.
    pub async fn upload(&self, list: i64, query: &str, text: &str) -> (StatusCode, String, Value) {
        self.send(
            self.http
                .post(format!(
                    "{}/api/admin/lists/{list}/entries?{query}",
                    self.base
                ))
                .bearer_auth(&self.admin)
                .body(text.to_string()),
        )
        .await
    }

    /// Uploads and asserts success.
    pub async fn upload_ok(&self, list: i64, query: &str, text: &str) -> Value {
        let (s, _, v) = self.upload(list, query, text).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    /// `POST /api/v1/check` with a bearer token.
    pub async fn check(&self, token: &str, body: Value) -> (StatusCode, String, Value) {
        self.send(
            self.http
                .post(format!("{}/api/v1/check", self.base))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    /// Checks one hash and asserts 200; returns the result object.
    pub async fn check_one(&self, token: &str, kind: &str, value: &str) -> Value {
        let (s, _, v) = self
            .check(token, json!({"hashes": [{"type": kind, "value": value}]}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["results"][0].clone()
    }
}

/// Asserts an error response is problem+json with the given status; returns the body.
pub fn assert_problem(r: &(StatusCode, String, Value), status: StatusCode) -> Value {
    assert_eq!(r.0, status, "body: {}", r.2);
    assert!(
        r.1.starts_with("application/problem+json"),
        "content type {}",
        r.1
    );
    assert_eq!(r.2["status"].as_u64(), Some(u64::from(status.as_u16())));
    assert!(
        r.2["title"].is_string() && r.2["type"].is_string() && r.2["detail"].is_string(),
        "{}",
        r.2
    );
    r.2.clone()
}

/// A PDQ hex at the given Hamming distance from `hex` (flips the lowest `d` bits).
pub fn pdq_at_distance(hex: &str, d: usize) -> String {
    let mut bytes = hex::decode(hex).unwrap();
    for i in 0..d {
        bytes[31 - i / 8] ^= 1 << (i % 8);
    }
    hex::encode(bytes)
}
