//! A loopback RDAP server playing three RIRs and three domain registries from fixtures.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use attribution::{Bootstrap, Clock, RdapClient, RdapConfig, Registry};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fetch::{FetchPolicy, Fetcher, StaticResolver, Url};

pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

pub fn read_fixture(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).expect("fixture readable")
}

/// Which fixture answers which query: (registry path, kind, key) → file.
fn answers() -> HashMap<(&'static str, &'static str, String), &'static str> {
    let mut m = HashMap::new();
    let ip = |s: &str| s.to_owned();
    for a in [
        "198.51.100.7",
        "198.51.100.8",
        "198.51.100.130",
        "198.51.100.20",
    ] {
        m.insert(("ripe", "ip", ip(a)), "rdap/ripe_ip_198.51.100.json");
    }
    m.insert(("ripe", "ip", ip("198.18.0.5")), "rdap/ripe_ip_198.18.json");
    for a in ["2001:db8:1000::7", "2001:db8:1000:42::1"] {
        m.insert(("ripe", "ip", ip(a)), "rdap/ripe_ip6_2001db8.json");
    }
    m.insert(
        ("arin", "ip", ip("203.0.113.50")),
        "rdap/arin_ip_203.0.113.json",
    );
    m.insert(
        ("arin", "ip", ip("192.0.2.10")),
        "rdap/arin_ip_192.0.2.json",
    );
    m.insert(
        ("arin", "ip", ip("192.0.2.11")),
        "rdap/arin_ip_192.0.2.json",
    );
    m.insert(
        ("verisign", "domain", ip("example-shop.com")),
        "rdap/verisign_domain_example-shop.com.json",
    );
    m.insert(
        ("nominet", "domain", ip("example-shop.co.uk")),
        "rdap/nominet_domain_example-shop.co.uk.json",
    );
    m.insert(
        ("registrobr", "domain", ip("loja-exemplo.com.br")),
        "rdap/registrobr_domain_loja-exemplo.com.br.json",
    );
    m
}

#[derive(Clone)]
struct AppState {
    base: Arc<Mutex<String>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    total: Arc<AtomicUsize>,
}

/// The running server.
pub struct RdapServer {
    pub addr: SocketAddr,
    state: AppState,
}

impl RdapServer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let state = AppState {
            base: Arc::new(Mutex::new(format!("http://{addr}/"))),
            hits: Arc::default(),
            total: Arc::default(),
        };
        let app = Router::new()
            .route("/bootstrap/{file}", get(bootstrap))
            .route("/apnic/ip/{addr}", get(apnic_redirect))
            .route("/{registry}/{kind}/{key}", get(object))
            .with_state(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self { addr, state }
    }

    pub fn base(&self) -> Url {
        Url::parse(&format!("http://{}/", self.addr)).expect("base url")
    }

    /// How often a path (e.g. `/ripe/ip/198.51.100.7`) was asked.
    pub fn hits(&self, path: &str) -> usize {
        self.state
            .hits
            .lock()
            .expect("lock")
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// All requests served.
    pub fn total(&self) -> usize {
        self.state.total.load(Ordering::SeqCst)
    }

    /// A fetcher allowed to reach this server (and nothing else private).
    pub fn fetcher(&self) -> Fetcher {
        Fetcher::new(
            FetchPolicy::new()
                .allow_addresses(["127.0.0.1/32"])
                .resolver(Arc::new(StaticResolver::new())),
        )
        .expect("fetcher")
    }

    /// Bootstrap loaded from the fixture files with `{{BASE}}` filled in.
    pub fn bootstrap(&self) -> Bootstrap {
        let mut b = Bootstrap::new();
        for reg in Registry::ALL {
            let json = read_fixture(&format!("bootstrap/{}", reg.file_name()))
                .replace("{{BASE}}", self.base().as_str());
            b.add_json(reg, json.as_bytes()).expect("bootstrap fixture");
        }
        b
    }

    pub fn rdap_client(&self, clock: Arc<dyn Clock>) -> RdapClient {
        RdapClient::new(
            self.fetcher(),
            self.bootstrap(),
            RdapConfig::default(),
            clock,
        )
    }
}

fn count(state: &AppState, path: String) {
    state.total.fetch_add(1, Ordering::SeqCst);
    *state.hits.lock().expect("lock").entry(path).or_default() += 1;
}

fn rdap_json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/rdap+json")], body).into_response()
}

async fn bootstrap(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    count(&state, format!("/bootstrap/{file}"));
    if !matches!(file.as_str(), "ipv4.json" | "ipv6.json" | "dns.json") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let base = state.base.lock().expect("lock").clone();
    let json = read_fixture(&format!("bootstrap/{file}")).replace("{{BASE}}", &base);
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}

/// APNIC-style: space transferred to ARIN answers with a redirect there.
async fn apnic_redirect(State(state): State<AppState>, Path(addr): Path<String>) -> Response {
    count(&state, format!("/apnic/ip/{addr}"));
    let base = state.base.lock().expect("lock").clone();
    let mut r = StatusCode::MOVED_PERMANENTLY.into_response();
    if let Ok(v) = format!("{base}arin/ip/{addr}").parse() {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

async fn object(
    State(state): State<AppState>,
    Path((registry, kind, key)): Path<(String, String, String)>,
) -> Response {
    count(&state, format!("/{registry}/{kind}/{key}"));
    let answers = answers();
    let found = answers
        .iter()
        .find(|((r, k, key2), _)| *r == registry && *k == kind && *key2 == key.to_ascii_lowercase())
        .map(|(_, f)| *f);
    match found {
        Some(f) => rdap_json(read_fixture(f)),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/rdap+json")],
            r#"{"errorCode":404,"title":"Not Found","description":["The server has not found anything matching the Request-URI."]}"#,
        )
            .into_response(),
    }
}
