//! The check API: `POST /api/v1/check` (hashes) and `POST /api/v1/check/media` (bytes).
//!
//! Every match on a `known` list that no allow-list entry suppresses is recorded as a hit
//! (state `open`, deadline from tenant policy) before the answer is sent, and the answer
//! carries each hit's id. Invalid items reject the whole request (400, each bad item listed
//! by index) so nothing is half-checked; a PDQ below a list's minimum quality is not matched
//! against that list and is flagged in `quality_below_minimum`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query as QueryParams, State};
use axum::http::StatusCode;
use media::{Limits, MediaError, MediaHasher, MediaHashes};
use schoon_core::policy::MAX_BATCH;
use schoon_core::{Category, EntryId, HitId, ListId, NewHit, SignalType, SignalValue};
use serde::{Deserialize, Serialize};
use store::Actor;
use utoipa::ToSchema;

use crate::app::{AppState, JsonBody};
use crate::auth::CheckCaller;
use crate::matcher::Outcome;
use crate::metrics::SignalLabel;
use crate::problem::{ApiResult, ItemError, Problem};

/// Batches larger than this are matched in the blocking pool, not on the async workers.
const INLINE_BATCH: usize = 64;

/// A batch of hashes to check.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckRequest {
    /// Up to 10,000 hashes.
    pub hashes: Vec<HashQuery>,
    /// Content reference applied to every hash that has none of its own.
    #[serde(default)]
    pub content_ref: Option<String>,
    /// Public URL applied to every hash that has none of its own.
    #[serde(default)]
    pub content_url: Option<String>,
}

/// One hash to check.
#[derive(Debug, Deserialize, ToSchema)]
pub struct HashQuery {
    /// `md5`, `sha1`, `sha256` or `pdq`.
    #[serde(rename = "type")]
    pub signal_type: String,
    /// Hex value (PDQ: 64 hex digits in Meta's order).
    pub value: String,
    /// PDQ quality (0–100) if known; below a list's minimum the list is skipped.
    #[serde(default)]
    pub quality: Option<u32>,
    /// Your opaque reference for the content (stored with a hit).
    #[serde(default)]
    pub content_ref: Option<String>,
    /// Public URL of the content (stored with a hit; used for follow-up verification).
    #[serde(default)]
    pub content_url: Option<String>,
}

/// Results in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    /// One result per requested hash.
    pub results: Vec<HashResult>,
}

/// The result for one hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct HashResult {
    /// Signal type.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub signal_type: SignalType,
    /// Normalised (lowercase) value.
    pub value: String,
    /// Whether a hit was recorded (a known-list match not suppressed by an allow list).
    pub matched: bool,
    /// Whether an allow-list entry suppressed known-list matches or would have.
    pub suppressed: bool,
    /// Hits, one per matching known-list entry.
    pub matches: Vec<MatchOut>,
    /// Matching allow-list entries.
    pub allow_matches: Vec<AllowOut>,
    /// Lists not matched because the given quality is below their minimum.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quality_below_minimum: Vec<String>,
}

/// A recorded hit.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchOut {
    /// The hit's id (for follow-up).
    pub hit_id: HitId,
    /// List id.
    pub list_id: ListId,
    /// List name.
    pub list: String,
    /// Entry category.
    #[schema(value_type = String)]
    pub category: Category,
    /// Hamming distance (0 for exact digests).
    pub distance: u32,
    /// Matched entry id.
    pub entry_id: EntryId,
}

/// An allow-list match.
#[derive(Debug, Serialize, ToSchema)]
pub struct AllowOut {
    /// List id.
    pub list_id: ListId,
    /// List name.
    pub list: String,
    /// Entry id.
    pub entry_id: EntryId,
    /// Hamming distance.
    pub distance: u32,
}

/// A validated query.
#[derive(Debug, Clone)]
pub struct Query {
    /// The value.
    pub value: SignalValue,
    /// PDQ quality, if known.
    pub quality: Option<u32>,
    /// Caller's content reference.
    pub content_ref: Option<String>,
    /// Public URL.
    pub content_url: Option<String>,
}

/// A checked query: its outcome and the ids of the hits recorded for `outcome.known`
/// (empty when suppressed).
#[derive(Debug)]
pub struct Checked {
    /// The query.
    pub query: Query,
    /// What it matched.
    pub outcome: Outcome,
    /// Whether an allow-list entry suppressed the hits (of this query, or of its group).
    pub suppressed: bool,
    /// Hit ids, parallel to `outcome.known` unless suppressed.
    pub hit_ids: Vec<HitId>,
}

fn limit_text(
    s: Option<String>,
    what: &str,
    index: usize,
    errors: &mut Vec<ItemError>,
) -> Option<String> {
    match s {
        Some(s) if s.len() > 2048 => {
            errors.push(ItemError {
                index: Some(index),
                line: None,
                detail: format!("{what} longer than 2048 bytes"),
            });
            None
        }
        other => other,
    }
}

/// Validates a request into queries, or a 400/413 problem listing every bad item.
pub fn validate(req: CheckRequest) -> ApiResult<Vec<Query>> {
    if req.hashes.len() > MAX_BATCH {
        return Err(Problem::too_large(format!(
            "at most {MAX_BATCH} hashes per request, got {}",
            req.hashes.len()
        )));
    }
    if req.hashes.is_empty() {
        return Err(Problem::bad_request("`hashes` is empty"));
    }
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(req.hashes.len());
    for (i, h) in req.hashes.into_iter().enumerate() {
        let parsed = h
            .signal_type
            .parse::<SignalType>()
            .and_then(|t| SignalValue::parse(t, &h.value));
        if let Some(q) = h.quality
            && q > 100
        {
            errors.push(ItemError {
                index: Some(i),
                line: None,
                detail: format!("quality must be 0..=100, got {q}"),
            });
        }
        let content_ref = limit_text(
            h.content_ref.or_else(|| req.content_ref.clone()),
            "content_ref",
            i,
            &mut errors,
        );
        let content_url = limit_text(
            h.content_url.or_else(|| req.content_url.clone()),
            "content_url",
            i,
            &mut errors,
        );
        match parsed {
            Ok(value) => out.push(Query {
                value,
                quality: h.quality,
                content_ref,
                content_url,
            }),
            Err(e) => {
                if errors.len() < 1000 {
                    errors.push(ItemError {
                        index: Some(i),
                        line: None,
                        detail: e.to_string(),
                    });
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-hash",
            "Invalid hash in request",
            format!("{} invalid item(s); nothing was checked", errors.len()),
        )
        .with_errors(errors));
    }
    Ok(out)
}

/// Matches queries against the caller's tenant and records the hits.
///
/// With `grouped`, the queries are signals of one piece of media: an allow-list match on any of
/// them suppresses the hits of all of them.
pub async fn run_checks(
    state: &AppState,
    caller: &CheckCaller,
    queries: Vec<Query>,
    grouped: bool,
) -> ApiResult<Vec<Checked>> {
    let matcher = state.matchers.get(caller.tenant_id).await?;
    for q in &queries {
        state
            .metrics
            .checks
            .get_or_create(&SignalLabel {
                signal_type: q.value.kind().as_str().to_string(),
            })
            .inc();
    }
    let outcomes: Vec<Outcome> = if queries.len() <= INLINE_BATCH {
        queries
            .iter()
            .map(|q| matcher.check(&q.value, q.quality))
            .collect()
    } else {
        let m = matcher.clone();
        let values: Vec<(SignalValue, Option<u32>)> =
            queries.iter().map(|q| (q.value, q.quality)).collect();
        tokio::task::spawn_blocking(move || values.iter().map(|(v, q)| m.check(v, *q)).collect())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "check task failed");
                Problem::internal()
            })?
    };
    let group_suppressed = grouped && outcomes.iter().any(Outcome::suppressed);
    let suppressed: Vec<bool> = outcomes
        .iter()
        .map(|o| group_suppressed || o.suppressed())
        .collect();
    let mut new_hits = Vec::new();
    for ((q, o), &sup) in queries.iter().zip(&outcomes).zip(&suppressed) {
        if sup {
            state.metrics.suppressed.inc_by(o.known.len() as u64);
            continue;
        }
        for m in &o.known {
            new_hits.push(NewHit {
                org_id: caller.org_id,
                entry_id: m.entry_id,
                list_id: m.list.id,
                signal_type: q.value.kind(),
                query_value: q.value.to_hex(),
                distance: m.distance,
                content_ref: q.content_ref.clone(),
                content_url: q.content_url.clone(),
            });
        }
    }
    let mut ids = if new_hits.is_empty() {
        Vec::new()
    } else {
        let n = new_hits.len();
        let hits = state
            .store
            .record_hits(
                &Actor(format!("key:{}", caller.key_id)),
                caller.tenant_id,
                new_hits,
            )
            .await?;
        state.metrics.hits.inc_by(n as u64);
        tracing::debug!(count = n, org = caller.org_id, "hits recorded");
        hits.into_iter().map(|h| h.id).collect()
    }
    .into_iter();
    Ok(queries
        .into_iter()
        .zip(outcomes)
        .zip(suppressed)
        .map(|((query, outcome), suppressed)| {
            let hit_ids = if suppressed {
                Vec::new()
            } else {
                ids.by_ref().take(outcome.known.len()).collect()
            };
            Checked {
                query,
                outcome,
                suppressed,
                hit_ids,
            }
        })
        .collect())
}

fn to_result(c: Checked) -> HashResult {
    let suppressed = c.suppressed;
    HashResult {
        signal_type: c.query.value.kind(),
        value: c.query.value.to_hex(),
        matched: !c.hit_ids.is_empty(),
        suppressed,
        matches: c
            .outcome
            .known
            .iter()
            .zip(&c.hit_ids)
            .map(|(m, id)| MatchOut {
                hit_id: *id,
                list_id: m.list.id,
                list: m.list.name.to_string(),
                category: m.category,
                distance: m.distance,
                entry_id: m.entry_id,
            })
            .collect(),
        allow_matches: c
            .outcome
            .allow
            .iter()
            .map(|m| AllowOut {
                list_id: m.list.id,
                list: m.list.name.to_string(),
                entry_id: m.entry_id,
                distance: m.distance,
            })
            .collect(),
        quality_below_minimum: c
            .outcome
            .below_quality
            .iter()
            .map(|l| l.name.to_string())
            .collect(),
    }
}

/// Check up to 10,000 hashes.
#[utoipa::path(post, path = "/api/v1/check", request_body = CheckRequest,
    responses((status = 200, body = CheckResponse), (status = 400, description = "invalid item (problem+json)"),
              (status = 401, description = "missing, invalid or revoked key"), (status = 413, description = "batch too large")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn check(
    State(state): State<AppState>,
    caller: CheckCaller,
    JsonBody(req): JsonBody<CheckRequest>,
) -> ApiResult<Json<CheckResponse>> {
    let queries = validate(req)?;
    let checked = run_checks(&state, &caller, queries, false).await?;
    Ok(Json(CheckResponse {
        results: checked.into_iter().map(to_result).collect(),
    }))
}

/// Hashes media bytes in the blocking pool, at most `media_concurrency` at once.
pub async fn hash_media(state: &AppState, bytes: Bytes) -> ApiResult<MediaHashes> {
    let _permit = state
        .media_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| Problem::unavailable("shutting down"))?;
    let limits = Limits {
        max_input_bytes: state.config.limits.max_media_bytes as u64,
        ..Limits::default()
    };
    let result =
        tokio::task::spawn_blocking(move || MediaHasher::new(limits).hash_bytes(&bytes, false))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "media task failed");
                Problem::internal()
            })?;
    result.map_err(media_problem)
}

/// A media error as a problem (422: the bytes are not an image we can hash).
pub fn media_problem(e: MediaError) -> Problem {
    let status = match e {
        MediaError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        MediaError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Problem::new(
        status,
        "unprocessable-media",
        "Media could not be hashed",
        e.to_string(),
    )
}

/// The queries for hashed media: PDQ (with its quality) and the three digests.
pub fn media_queries(
    h: &MediaHashes,
    content_ref: Option<String>,
    content_url: Option<String>,
) -> Vec<Query> {
    let q = |value| Query {
        value,
        quality: None,
        content_ref: content_ref.clone(),
        content_url: content_url.clone(),
    };
    vec![
        Query {
            quality: Some(u32::from(h.quality)),
            ..q(SignalValue::Pdq(h.pdq.to_bytes()))
        },
        q(SignalValue::Md5(h.digests.md5)),
        q(SignalValue::Sha1(h.digests.sha1)),
        q(SignalValue::Sha256(h.digests.sha256)),
    ]
}

/// Optional references for a media check.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct MediaParams {
    /// Your opaque reference for the content.
    pub content_ref: Option<String>,
    /// Public URL of the content.
    pub content_url: Option<String>,
}

/// Result of a media check.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaCheckResponse {
    /// Bytes received.
    pub size_bytes: u64,
    /// MD5 hex.
    pub md5: String,
    /// SHA-1 hex.
    pub sha1: String,
    /// SHA-256 hex.
    pub sha256: String,
    /// PDQ hex.
    pub pdq: String,
    /// PDQ quality.
    pub quality: u8,
    /// Whether any hit was recorded.
    pub matched: bool,
    /// Per signal (pdq, md5, sha1, sha256).
    pub results: Vec<HashResult>,
}

/// Check media bytes (hashed here, never stored).
#[utoipa::path(post, path = "/api/v1/check/media", params(MediaParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = MediaCheckResponse), (status = 413, description = "too large"),
              (status = 422, description = "not an image we can hash")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn check_media(
    State(state): State<AppState>,
    caller: CheckCaller,
    QueryParams(params): QueryParams<MediaParams>,
    body: Bytes,
) -> ApiResult<Json<MediaCheckResponse>> {
    if body.is_empty() {
        return Err(Problem::bad_request("empty body: send the media bytes"));
    }
    let size = body.len() as u64;
    let h = hash_media(&state, body).await?;
    let queries = media_queries(&h, params.content_ref, params.content_url);
    let checked = run_checks(&state, &caller, queries, true).await?;
    let results: Vec<HashResult> = checked.into_iter().map(to_result).collect();
    Ok(Json(MediaCheckResponse {
        size_bytes: size,
        md5: hex::encode(h.digests.md5),
        sha1: hex::encode(h.digests.sha1),
        sha256: hex::encode(h.digests.sha256),
        pdq: h.pdq.to_hex(),
        quality: h.quality,
        matched: results.iter().any(|r| r.matched),
        results,
    }))
}
