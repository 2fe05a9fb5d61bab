//! Arachnid Shield compatibility: `POST /v1/media/`, `/v1/url/` and `/v1/pdq/` with the request
//! and response shapes of the official SDK (`arachnid-shield-sdk` on PyPI, read for this):
//!
//! - `/v1/media/`: the raw bytes as body, `Content-Type` = the media's MIME type;
//! - `/v1/url/`: JSON `{"url": "..."}`; the URL is fetched through the one safe fetcher;
//! - `/v1/pdq/`: JSON `{"hashes": [<base64 of the 32 hash bytes>, ...]}` (64-digit hex accepted
//!   too); the answer is keyed by the strings as sent;
//! - answers: `ScannedMedia` = `size_bytes`, `sha1_base32`, `sha256_hex`, `classification`
//!   (`csam` / `harmful-abusive-material` / `no-known-match`), `match_type` (`exact` / `near` /
//!   null, always present), `near_match_details` (list of `timestamp`, `sha1_base32`,
//!   `sha256_hex`, `classification`, plus our `distance`);
//! - errors: any JSON with a `detail` string (our problem+json has one);
//! - auth: HTTP Basic, user = key id, password = secret (Bearer works too).
//!
//! Hits are recorded exactly as for the native API (extra `hit_ids` members say which).
//! A near match's `sha1_base32`/`sha256_hex` name the *matched* media in Shield; our PDQ entries
//! carry no file digests, so those are empty strings.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use base64::Engine;
use schoon_core::policy::{MAX_BATCH, shield_classification};
use schoon_core::{HitId, SignalType, SignalValue};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::{AppState, JsonBody};
use crate::auth::CheckCaller;
use crate::check::{Checked, Query, hash_media, media_queries, run_checks};
use crate::problem::{ApiResult, ItemError, Problem};

const NO_MATCH: &str = "no-known-match";

/// Shield's `ScannedMedia`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScannedMedia {
    /// Bytes scanned.
    pub size_bytes: u64,
    /// SHA-1, RFC 4648 base32.
    pub sha1_base32: String,
    /// SHA-256, hex.
    pub sha256_hex: String,
    /// `csam`, `harmful-abusive-material` or `no-known-match`.
    pub classification: String,
    /// `exact`, `near` or null.
    pub match_type: Option<String>,
    /// Near matches.
    pub near_match_details: Vec<NearMatchDetail>,
    /// schoon extension: ids of the hits recorded.
    pub hit_ids: Vec<HitId>,
}

/// Shield's `NearMatchDetail` (+ `distance`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NearMatchDetail {
    /// Seconds into a video; 0 for images.
    pub timestamp: f64,
    /// Matched media's SHA-1 (empty: not known for PDQ entries).
    pub sha1_base32: String,
    /// Matched media's SHA-256 (empty: not known for PDQ entries).
    pub sha256_hex: String,
    /// Classification of the matched entry.
    pub classification: String,
    /// PDQ Hamming distance.
    pub distance: u32,
}

fn rank(c: &str) -> u8 {
    match c {
        "csam" => 2,
        "harmful-abusive-material" => 1,
        _ => 0,
    }
}

/// Folds checked signals of one medium into Shield's answer.
fn scanned(
    size: u64,
    sha1_base32: String,
    sha256_hex: String,
    checked: &[Checked],
) -> ScannedMedia {
    let mut classification = NO_MATCH.to_string();
    let mut exact = false;
    let mut near = Vec::new();
    let mut hit_ids = Vec::new();
    for c in checked {
        if c.suppressed {
            continue;
        }
        hit_ids.extend(&c.hit_ids);
        for m in &c.outcome.known {
            let Some(class) = shield_classification(m.list.kind, m.category) else {
                continue;
            };
            if rank(class) > rank(&classification) {
                classification = class.to_string();
            }
            if c.query.value.kind() == SignalType::Pdq {
                near.push(NearMatchDetail {
                    timestamp: 0.0,
                    sha1_base32: String::new(),
                    sha256_hex: String::new(),
                    classification: class.to_string(),
                    distance: m.distance,
                });
            } else {
                exact = true;
            }
        }
    }
    let match_type = if exact {
        Some("exact".to_string())
    } else if !near.is_empty() {
        Some("near".to_string())
    } else {
        None
    };
    ScannedMedia {
        size_bytes: size,
        sha1_base32,
        sha256_hex,
        classification,
        match_type,
        near_match_details: near,
        hit_ids,
    }
}

async fn scan_bytes(
    state: &AppState,
    caller: &CheckCaller,
    body: Bytes,
    url: Option<String>,
) -> ApiResult<ScannedMedia> {
    if body.is_empty() {
        return Err(Problem::bad_request("empty body: send the media bytes"));
    }
    let size = body.len() as u64;
    let h = hash_media(state, body).await?;
    let checked = run_checks(state, caller, media_queries(&h, None, url), true).await?;
    Ok(scanned(
        size,
        h.digests.sha1_base32(),
        h.digests.sha256_hex(),
        &checked,
    ))
}

/// Shield: scan media bytes.
#[utoipa::path(post, path = "/v1/media/", request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 200, body = ScannedMedia)), security(("basic" = [])))]
pub async fn media(
    State(state): State<AppState>,
    caller: CheckCaller,
    body: Bytes,
) -> ApiResult<Json<ScannedMedia>> {
    scan_bytes(&state, &caller, body, None).await.map(Json)
}

/// Shield's `ScanMediaFromUrl`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UrlRequest {
    /// Absolute http(s) URL of the media.
    pub url: String,
}

/// Shield: fetch a URL (through the safe fetcher) and scan what it serves.
#[utoipa::path(post, path = "/v1/url/", request_body = UrlRequest,
    responses((status = 200, body = ScannedMedia)), security(("basic" = [])))]
pub async fn url(
    State(state): State<AppState>,
    caller: CheckCaller,
    JsonBody(req): JsonBody<UrlRequest>,
) -> ApiResult<Json<ScannedMedia>> {
    let parsed: url::Url = req
        .url
        .parse()
        .map_err(|e| Problem::bad_request(format!("`url` is not an absolute URL: {e}")))?;
    let opts =
        fetch::FetchOptions::new().max_body_bytes(state.config.limits.max_media_bytes as u64);
    let fetched = state
        .fetcher
        .fetch_with(&parsed, &opts)
        .await
        .map_err(|e| {
            Problem::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "fetch-failed",
                "The URL could not be fetched",
                e.to_string(),
            )
        })?;
    if !fetched.is_success() {
        return Err(Problem::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "fetch-failed",
            "The URL could not be fetched",
            format!("the URL answered HTTP {}", fetched.status),
        ));
    }
    scan_bytes(&state, &caller, fetched.body, Some(parsed.to_string()))
        .await
        .map(Json)
}

/// Shield's `ScanMediaFromPdq`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PdqRequest {
    /// Base64 of the 32 hash bytes (or 64 hex digits).
    pub hashes: Vec<String>,
}

/// Shield's `PDQMatch`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PdqMatch {
    /// Classification.
    pub classification: String,
    /// `near` or null.
    pub match_type: Option<String>,
    /// The closest match, or null.
    pub near_match_details: Option<NearMatchDetail>,
    /// schoon extension: ids of the hits recorded.
    pub hit_ids: Vec<HitId>,
}

/// Shield's `ScannedPDQHashes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScannedPdqHashes {
    /// Keyed by the hash strings as sent.
    pub scanned_hashes: BTreeMap<String, PdqMatch>,
}

fn decode_pdq(s: &str) -> Option<SignalValue> {
    if s.len() == 64 {
        return SignalValue::parse(SignalType::Pdq, s).ok();
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s.trim()))
        .ok()?;
    SignalValue::from_bytes(SignalType::Pdq, &bytes)
}

/// Shield: scan PDQ hashes.
#[utoipa::path(post, path = "/v1/pdq/", request_body = PdqRequest,
    responses((status = 200, body = ScannedPdqHashes)), security(("basic" = [])))]
pub async fn pdq(
    State(state): State<AppState>,
    caller: CheckCaller,
    JsonBody(req): JsonBody<PdqRequest>,
) -> ApiResult<Json<ScannedPdqHashes>> {
    if req.hashes.len() > MAX_BATCH {
        return Err(Problem::too_large(format!(
            "at most {MAX_BATCH} hashes per request, got {}",
            req.hashes.len()
        )));
    }
    let mut errors = Vec::new();
    let mut queries = Vec::new();
    let mut keys = Vec::new();
    for (i, s) in req.hashes.iter().enumerate() {
        match decode_pdq(s) {
            Some(value) => {
                queries.push(Query {
                    value,
                    quality: None,
                    content_ref: None,
                    content_url: None,
                });
                keys.push(s.clone());
            }
            None => errors.push(ItemError {
                index: Some(i),
                line: None,
                detail: "not a PDQ hash: expected base64 of 32 bytes or 64 hex digits".into(),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(Problem::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid-hash",
            "Invalid hash in request",
            format!("{} invalid hash(es); nothing was checked", errors.len()),
        )
        .with_errors(errors));
    }
    let checked = run_checks(&state, &caller, queries, false).await?;
    let mut out = BTreeMap::new();
    for (key, c) in keys.into_iter().zip(checked) {
        let s = scanned(0, String::new(), String::new(), std::slice::from_ref(&c));
        let best = s
            .near_match_details
            .iter()
            .min_by_key(|d| d.distance)
            .cloned();
        out.insert(
            key,
            PdqMatch {
                classification: s.classification,
                match_type: best.as_ref().map(|_| "near".to_string()),
                near_match_details: best,
                hit_ids: s.hit_ids,
            },
        );
    }
    Ok(Json(ScannedPdqHashes {
        scanned_hashes: out,
    }))
}
