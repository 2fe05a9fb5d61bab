//! Authentication of API keys and admin tokens, and the per-key rate limit.
//!
//! A key is `<id>.<secret>` as a Bearer token, or `<id>:<secret>` as HTTP Basic (what Arachnid
//! Shield clients send). Look-ups are cached for a few seconds; revocations through this node's
//! API invalidate the cache at once, revocations elsewhere apply within [`CACHE_TTL`].

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use schoon_core::apikey::{Credential, secret_matches};
use schoon_core::{ApiKey, KeyRole, OrgId, TenantId};

use crate::app::AppState;
use crate::problem::Problem;

/// How long a key look-up is trusted.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
const CACHE_MAX: usize = 50_000;

type Cached = Option<(ApiKey, String)>;

/// Short-lived cache of key look-ups (including misses, so guessing ids costs no DB reads).
#[derive(Default)]
pub struct AuthCache {
    map: Mutex<HashMap<String, (Instant, Cached)>>,
}

impl AuthCache {
    fn get(&self, id: &str) -> Option<Cached> {
        let map = self.map.lock().ok()?;
        let (at, v) = map.get(id)?;
        (at.elapsed() < CACHE_TTL).then(|| v.clone())
    }

    fn put(&self, id: &str, v: Cached) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= CACHE_MAX {
                map.clear();
            }
            map.insert(id.to_string(), (Instant::now(), v));
        }
    }

    /// Forgets a key (after revocation).
    pub fn invalidate(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
    }
}

/// Per-key request limiter.
pub struct KeyLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl KeyLimiter {
    /// `None` when `per_second` is 0 (no limit).
    pub fn new(per_second: u32, burst: u32) -> Option<KeyLimiter> {
        let rate = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(rate);
        Some(KeyLimiter {
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
        })
    }

    fn check(&self, key_id: &str) -> Result<(), Problem> {
        self.limiter
            .check_key(&key_id.to_string())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Problem::rate_limited(wait.as_secs().max(1))
            })
    }
}

fn credential(parts: &Parts) -> Result<Credential, Problem> {
    const HOW: &str = "send `Authorization: Bearer <key id>.<secret>` or HTTP Basic with the key id as user name and the secret as password";
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Err(Problem::unauthorized(format!("missing credentials: {HOW}")));
    };
    let value = value
        .to_str()
        .map_err(|_| Problem::unauthorized(format!("malformed Authorization header: {HOW}")))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let cred = if scheme.eq_ignore_ascii_case("bearer") {
        Credential::from_token(rest)
    } else if scheme.eq_ignore_ascii_case("basic") {
        base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.split_once(':')
                    .and_then(|(u, p)| Credential::from_basic(u, p))
            })
    } else {
        None
    };
    cred.ok_or_else(|| Problem::unauthorized(format!("malformed credentials: {HOW}")))
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<ApiKey, Problem> {
    let cred = credential(parts)?;
    let found = match state.auth.get(&cred.id) {
        Some(v) => v,
        None => {
            let v = state.store.api_key_with_hash(&cred.id).await?;
            state.auth.put(&cred.id, v.clone());
            v
        }
    };
    let Some((key, hash)) = found else {
        return Err(Problem::unauthorized("invalid API key"));
    };
    if !secret_matches(&cred.secret, &hash) {
        return Err(Problem::unauthorized("invalid API key"));
    }
    if key.revoked_at.is_some() {
        return Err(Problem::unauthorized("this API key has been revoked"));
    }
    // Provider keys are rate-limited; admin tokens (few, trusted, bulk uploads) are not.
    if key.role == KeyRole::Check
        && let Some(l) = &state.limiter
    {
        l.check(&key.id)?;
    }
    Ok(key)
}

/// A provider's authenticated check key.
#[derive(Debug, Clone)]
pub struct CheckCaller {
    /// Key id.
    pub key_id: String,
    /// Tenant whose lists are checked.
    pub tenant_id: TenantId,
    /// Organisation the hits are recorded for.
    pub org_id: OrgId,
}

impl FromRequestParts<AppState> for CheckCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let key = authenticate(parts, state).await?;
        match (key.role, key.tenant_id, key.org_id) {
            (KeyRole::Check, Some(tenant_id), Some(org_id)) => Ok(CheckCaller {
                key_id: key.id,
                tenant_id,
                org_id,
            }),
            _ => Err(Problem::forbidden(
                "this credential is not a check key of an organisation",
            )),
        }
    }
}

/// An authenticated instance administrator.
#[derive(Debug, Clone)]
pub struct AdminCaller {
    /// Token id (for the audit log).
    pub key_id: String,
}

impl AdminCaller {
    /// The audit actor.
    pub fn actor(&self) -> store::Actor {
        store::Actor(format!("admin:{}", self.key_id))
    }
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let key = authenticate(parts, state).await?;
        if key.role != KeyRole::Admin {
            return Err(Problem::forbidden("this endpoint needs an admin token"));
        }
        Ok(AdminCaller { key_id: key.id })
    }
}
