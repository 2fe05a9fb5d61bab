//! Check-online: every monitored URL is re-fetched when due, through the one safe fetcher, and
//! each fetch becomes one stored observation.
//!
//! Verdict per fetch ([`judge`]):
//! * **online** only if the stored media is still served: the same SHA-256, or (for images) a
//!   PDQ within the list radius, so re-encoded or resized copies still count as online;
//! * **gone**: 404/410/451 and other 4xx, an HTML page (soft-404, "removed" notice), another
//!   image, anything that is not the stored media;
//! * **error**: network failure, timeout, 429 and 5xx.
//!
//! The store turns the observations into the offline verdict (3 misses ≥ 15 min apart by
//! default; removal time = the first miss). A case is re-attributed on every N-th check
//! (`reattribute_every`) and whenever the address the fetch connected to lies in another AS
//! than the case's recorded address (the site moved); the store then reports a hoster change or
//! a move abroad, and the ladder notifies the new hoster.
//!
//! Checks of one round run concurrently (`check_concurrency`); digests are computed inline
//! (cheap), PDQ only when the digest differs and the bytes are an image, on the blocking pool
//! under the service's media slots.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fetch::{FetchError, FetchOptions, Fetched, SniffedType};
use media::{Limits, MediaHasher};
use schoon_core::TenantId;
use schoon_core::takedown::{CaseState, ObservationOutcome, TakedownPolicy};
use store::takedown::{CaseForCheck, NewObservation};
use tokio::sync::Semaphore;

use crate::app::AppState;
use crate::worker::JobRunner;

/// Registers the check round as a periodic task.
pub fn register(runner: &mut JobRunner) {
    runner.tick("takedown.check", |s| async move {
        run_round(&s).await.map(|_| ())
    });
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundSummary {
    /// Observations recorded.
    pub checked: usize,
    /// Of which online.
    pub online: usize,
    /// Of which gone.
    pub gone: usize,
    /// Of which error.
    pub error: usize,
    /// Re-attributions made.
    pub reattributed: usize,
    /// Checks that failed to record (logged).
    pub failed: usize,
}

/// Resets the "round running" flag however the round ends.
struct RunningGuard<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Checks every due case once (bounded by `check_batch` and `check_round_secs`). Rounds never
/// overlap: a second caller while one runs returns an empty summary at once.
pub async fn run_round(state: &AppState) -> anyhow::Result<RoundSummary> {
    let ctx = &state.takedown;
    if !ctx.config.enabled {
        return Ok(RoundSummary::default());
    }
    if ctx
        .check_running
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Ok(RoundSummary::default());
    }
    let _guard = RunningGuard(&ctx.check_running);
    let started = Instant::now();
    let budget = Duration::from_secs(ctx.config.check_round_secs.max(1));
    let now = state.clock.now();
    let due = state
        .store
        .due_checks(now, ctx.config.check_batch.max(1))
        .await?;
    if due.is_empty() {
        return Ok(RoundSummary::default());
    }
    let mut policies: HashMap<TenantId, Arc<TakedownPolicy>> = HashMap::new();
    for c in &due {
        if let std::collections::hash_map::Entry::Vacant(e) = policies.entry(c.case.tenant_id) {
            e.insert(Arc::new(
                state.store.takedown_policy(c.case.tenant_id).await?,
            ));
        }
    }
    let slots = Arc::new(Semaphore::new(ctx.config.check_concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut sum = RoundSummary::default();
    for c in due {
        let permit = slots.clone().acquire_owned().await?;
        if started.elapsed() > budget {
            // The rest stays due for the next round; other jobs get their turn.
            break;
        }
        let Some(policy) = policies.get(&c.case.tenant_id).cloned() else {
            continue;
        };
        let state = state.clone();
        tasks.spawn(async move {
            let r = check_case(&state, c, &policy).await;
            drop(permit);
            r
        });
        while let Some(done) = tasks.try_join_next() {
            tally(&mut sum, done);
        }
    }
    while let Some(done) = tasks.join_next().await {
        tally(&mut sum, done);
    }
    if sum.checked > 0 {
        tracing::info!(
            checked = sum.checked,
            online = sum.online,
            gone = sum.gone,
            error = sum.error,
            reattributed = sum.reattributed,
            failed = sum.failed,
            ms = started.elapsed().as_millis() as u64,
            "check-online round"
        );
    }
    Ok(sum)
}

fn tally(
    sum: &mut RoundSummary,
    done: Result<anyhow::Result<CheckOutcome>, tokio::task::JoinError>,
) {
    match done {
        Ok(Ok(o)) => {
            sum.checked += 1;
            match o.outcome {
                ObservationOutcome::Online => sum.online += 1,
                ObservationOutcome::Gone => sum.gone += 1,
                ObservationOutcome::Error => sum.error += 1,
            }
            sum.reattributed += usize::from(o.reattributed);
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "check-online failed");
            sum.failed += 1;
        }
        Err(e) => {
            tracing::warn!(error = %e, "check-online task failed");
            sum.failed += 1;
        }
    }
}

/// What one check did.
#[derive(Debug, Clone, Copy)]
pub struct CheckOutcome {
    /// The observation's outcome.
    pub outcome: ObservationOutcome,
    /// Whether the case was re-attributed.
    pub reattributed: bool,
}

/// Fetches, judges and records one case; re-attributes it when due or when it moved.
pub async fn check_case(
    state: &AppState,
    c: CaseForCheck,
    policy: &TakedownPolicy,
) -> anyhow::Result<CheckOutcome> {
    let case_id = c.case.id;
    let (obs, connected) = observe(state, &c).await;
    let outcome = obs.outcome;
    let r = state.store.record_observation(case_id, obs, policy).await?;
    let n = {
        let mut counts = state
            .takedown
            .check_counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !r.case.state.is_checked() {
            // Forwarded or closed: never checked again.
            counts.remove(&case_id);
            0
        } else {
            let n = counts.entry(case_id).or_insert(0);
            *n = n.wrapping_add(1);
            *n
        }
    };
    let every = state.takedown.config.reattribute_every;
    let periodic = every > 0 && n > 0 && n % every == 0;
    let moved = connected.is_some_and(|ip| moved_network(state, r.case.contacts.ip.as_deref(), ip));
    let mut reattributed = false;
    if matches!(
        r.case.state,
        CaseState::Monitoring | CaseState::NeedsContact
    ) && (periodic || moved)
    {
        match super::cases::attribute_case(state, &r.case).await {
            Ok((case, outcome)) => {
                reattributed = true;
                if moved {
                    tracing::info!(
                        case = case.id,
                        ?outcome,
                        "site moved networks: re-attributed"
                    );
                }
            }
            // The observation is recorded; the next check tries again.
            Err(e) => tracing::warn!(case = case_id, error = %e, "re-attribution failed"),
        }
    }
    Ok(CheckOutcome {
        outcome,
        reattributed,
    })
}

/// Whether the fetch connected into another network than the case's recorded address.
pub fn moved_network(state: &AppState, recorded: Option<&str>, connected: IpAddr) -> bool {
    moved(
        recorded,
        connected,
        |ip| state.takedown.asn_of(ip),
        !state.takedown.asn().is_empty(),
    )
}

/// Another AS by the local tables; with no tables at all, another address. With table data
/// for only one side, no: addresses of one site often differ (round robin, IPv4 and IPv6),
/// and the periodic re-attribution covers the rest.
pub fn moved(
    recorded: Option<&str>,
    connected: IpAddr,
    asn_of: impl Fn(IpAddr) -> Option<u32>,
    have_tables: bool,
) -> bool {
    let Some(recorded) = recorded.and_then(|r| r.parse::<IpAddr>().ok()) else {
        return false;
    };
    let connected = connected.to_canonical();
    if recorded.to_canonical() == connected {
        return false;
    }
    match (asn_of(recorded), asn_of(connected)) {
        (Some(a), Some(b)) => a != b,
        (None, None) => !have_tables,
        _ => false,
    }
}

/// Fetches the case URL; returns the observation and the address connected to.
async fn observe(state: &AppState, c: &CaseForCheck) -> (NewObservation, Option<IpAddr>) {
    let at = state.clock.now();
    let url = match fetch::Url::parse(&c.case.url) {
        Ok(u) => u,
        Err(e) => {
            return (
                observation(
                    at,
                    ObservationOutcome::Error,
                    "unparsable URL",
                    Some(e.to_string()),
                ),
                None,
            );
        }
    };
    let opts = FetchOptions::new().max_body_bytes(state.config.limits.max_media_bytes as u64);
    let fetched = state.fetcher.fetch_with(&url, &opts).await;
    let connected = fetched
        .as_ref()
        .ok()
        .and_then(|f| f.remote_addr)
        .map(|a| a.ip());
    let target = Target {
        sha256: c.sha256.as_deref(),
        pdq: c
            .pdq
            .as_deref()
            .and_then(|p| pdq::Hash256::from_hex(p).ok()),
        radius: c.pdq_radius,
    };
    let mut obs = match &fetched {
        Ok(f) => judge_fetched(state, f, &target).await,
        Err(e) => judge_error(e),
    };
    obs.at = at;
    (obs, connected)
}

/// What the stored media looks like.
pub struct Target<'a> {
    /// SHA-256 hex of the stored media.
    pub sha256: Option<&'a str>,
    /// PDQ of the stored media (images).
    pub pdq: Option<pdq::Hash256>,
    /// Largest PDQ distance that still counts as the same picture.
    pub radius: u32,
}

fn observation(
    at: chrono::DateTime<chrono::Utc>,
    outcome: ObservationOutcome,
    detail: &str,
    error: Option<String>,
) -> NewObservation {
    NewObservation {
        at,
        http_status: None,
        outcome,
        detail: Some(detail.to_string()),
        content_type: None,
        served_sha256: None,
        served_pdq: None,
        distance: None,
        final_url: None,
        error,
    }
}

/// A failed fetch: gone when the URL itself is refused or the answer is too big to be the
/// stored media; error otherwise (network, DNS, TLS, timeout), which still counts as a miss.
pub fn judge_error(e: &FetchError) -> NewObservation {
    let now = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    match e {
        FetchError::TooLarge { .. } => observation(
            now,
            ObservationOutcome::Gone,
            "larger than the media limit: other content",
            Some(e.to_string()),
        ),
        _ => observation(
            now,
            ObservationOutcome::Error,
            "fetch failed",
            Some(e.to_string()),
        ),
    }
}

/// The verdict on a completed fetch (`at` is set by the caller).
pub async fn judge_fetched(state: &AppState, f: &Fetched, t: &Target<'_>) -> NewObservation {
    let mut o = judge_without_pdq(f, t);
    if o.outcome == ObservationOutcome::Gone
        && o.detail.as_deref() == Some(NEEDS_PDQ)
        && let Some(want) = t.pdq
    {
        match served_pdq(state, f.body.clone()).await {
            Some(got) => {
                let d = got.distance(&want);
                o.served_pdq = Some(got.to_hex());
                o.distance = Some(d);
                if d <= t.radius {
                    o.outcome = ObservationOutcome::Online;
                    o.detail = Some("same picture re-encoded (PDQ within radius)".into());
                } else {
                    o.detail = Some("another image".into());
                }
            }
            None => o.detail = Some("undecodable image".into()),
        }
    } else if o.detail.as_deref() == Some(NEEDS_PDQ) {
        o.detail = Some("another image".into());
    }
    o
}

/// Marker detail: an image with another digest, to be compared by PDQ.
const NEEDS_PDQ: &str = "image with another digest";

/// Everything but the PDQ comparison (pure; table-tested).
pub fn judge_without_pdq(f: &Fetched, t: &Target<'_>) -> NewObservation {
    let mut o = observation(
        chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        ObservationOutcome::Gone,
        "",
        None,
    );
    o.http_status = Some(f.status);
    o.final_url = Some(f.final_url.to_string());
    o.content_type = Some(f.sniffed_type.mime().to_string());
    let (outcome, detail) = match f.status {
        200..=299 => {
            let sha = media::Digests::of(&f.body).sha256_hex();
            let same = t.sha256.is_some_and(|s| s.eq_ignore_ascii_case(&sha));
            o.served_sha256 = Some(sha);
            if same {
                o.distance = Some(0);
                (ObservationOutcome::Online, "same digest".to_string())
            } else if f.sniffed_type == SniffedType::Html {
                (
                    ObservationOutcome::Gone,
                    "HTML page instead of the media (soft-404 or removal page)".into(),
                )
            } else if f.sniffed_type.is_image() {
                (ObservationOutcome::Gone, NEEDS_PDQ.into())
            } else if f.sniffed_type.is_media() {
                (ObservationOutcome::Gone, "other media".into())
            } else {
                (
                    ObservationOutcome::Gone,
                    format!("not the media (served {})", f.sniffed_type.mime()),
                )
            }
        }
        404 | 410 | 451 => (ObservationOutcome::Gone, format!("HTTP {}", f.status)),
        429 | 500..=599 => (ObservationOutcome::Error, format!("HTTP {}", f.status)),
        s => (ObservationOutcome::Gone, format!("HTTP {s}")),
    };
    o.outcome = outcome;
    o.detail = Some(detail);
    o
}

/// PDQ of served bytes (`None` if they do not decode as an image within the limits).
async fn served_pdq(state: &AppState, body: axum::body::Bytes) -> Option<pdq::Hash256> {
    let _permit = state.media_slots.clone().acquire_owned().await.ok()?;
    let limits = Limits {
        max_input_bytes: state.config.limits.max_media_bytes as u64,
        ..Limits::default()
    };
    tokio::task::spawn_blocking(move || MediaHasher::new(limits).hash_bytes(&body, false))
        .await
        .ok()?
        .ok()
        .map(|h| h.pdq)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn fetched(status: u16, body: &[u8]) -> Fetched {
        Fetched {
            final_url: "http://site.example/img/1.png".parse().unwrap(),
            status,
            headers: Vec::new(),
            body: axum::body::Bytes::copy_from_slice(body),
            sniffed_type: fetch::sniff(body),
            declared_type: None,
            remote_addr: None,
            redirects: Vec::new(),
            fetched_at: SystemTime::UNIX_EPOCH,
            elapsed: Duration::ZERO,
        }
    }

    const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";

    #[test]
    fn verdict_table() {
        let stored = b"the stored media bytes";
        let sha = media::Digests::of(stored).sha256_hex();
        let t = Target {
            sha256: Some(&sha),
            pdq: None,
            radius: 31,
        };
        let html = b"<!doctype html><html><body>Removed</body></html>";
        let table: &[(u16, &[u8], ObservationOutcome, &str)] = &[
            (200, stored, ObservationOutcome::Online, "same digest"),
            (200, html, ObservationOutcome::Gone, "HTML page"),
            (
                200,
                b"plain text",
                ObservationOutcome::Gone,
                "not the media",
            ),
            (200, PNG_MAGIC, ObservationOutcome::Gone, NEEDS_PDQ),
            (404, b"", ObservationOutcome::Gone, "HTTP 404"),
            (410, stored, ObservationOutcome::Gone, "HTTP 410"),
            (451, b"", ObservationOutcome::Gone, "HTTP 451"),
            (403, b"", ObservationOutcome::Gone, "HTTP 403"),
            (500, stored, ObservationOutcome::Error, "HTTP 500"),
            (503, b"", ObservationOutcome::Error, "HTTP 503"),
            (429, b"", ObservationOutcome::Error, "HTTP 429"),
        ];
        for (status, body, outcome, detail) in table {
            let o = judge_without_pdq(&fetched(*status, body), &t);
            assert_eq!(o.outcome, *outcome, "{status} {detail}");
            assert!(
                o.detail.as_deref().unwrap_or("").contains(detail),
                "{status}: {:?}",
                o.detail
            );
            assert_eq!(o.http_status, Some(*status));
        }
        // Served digest recorded for successful answers only.
        let o = judge_without_pdq(&fetched(200, stored), &t);
        assert_eq!(o.served_sha256.as_deref(), Some(sha.as_str()));
        assert_eq!(o.distance, Some(0));
        assert_eq!(
            judge_without_pdq(&fetched(404, b""), &t).served_sha256,
            None
        );
        // Without a stored digest nothing is "the same".
        let none = Target {
            sha256: None,
            pdq: None,
            radius: 31,
        };
        assert_eq!(
            judge_without_pdq(&fetched(200, stored), &none).outcome,
            ObservationOutcome::Gone
        );
    }

    #[test]
    fn fetch_errors_are_errors_except_oversize() {
        let timeout = FetchError::Timeout {
            kind: fetch::TimeoutKind::Total,
            limit: Duration::from_secs(20),
        };
        assert_eq!(judge_error(&timeout).outcome, ObservationOutcome::Error);
        assert_eq!(
            judge_error(&FetchError::RedirectLoop).outcome,
            ObservationOutcome::Error
        );
        let big = FetchError::TooLarge { limit: 10 };
        assert_eq!(judge_error(&big).outcome, ObservationOutcome::Gone);
    }

    #[test]
    fn moved_table() {
        let asn = |ip: IpAddr| match ip.to_string().as_str() {
            "198.51.100.7" | "198.51.100.8" => Some(64501),
            "192.0.2.20" => Some(64505),
            _ => None,
        };
        let v4 = |s: &str| s.parse::<IpAddr>().unwrap();
        let table: &[(Option<&str>, &str, bool, bool)] = &[
            (Some("198.51.100.7"), "198.51.100.7", true, false),
            (Some("198.51.100.7"), "::ffff:198.51.100.7", true, false),
            // Same AS, other address (round robin): not a move.
            (Some("198.51.100.7"), "198.51.100.8", true, false),
            (Some("198.51.100.7"), "192.0.2.20", true, true),
            // Unknown to the tables on one side: not decided here.
            (Some("198.51.100.7"), "203.0.113.50", true, false),
            (Some("203.0.113.9"), "203.0.113.50", true, false),
            // No tables at all: another address is a move.
            (Some("203.0.113.9"), "203.0.113.50", false, true),
            (None, "192.0.2.20", true, false),
            (Some("not an ip"), "192.0.2.20", true, false),
        ];
        for (rec, conn, tables, want) in table {
            assert_eq!(
                moved(*rec, v4(conn), asn, *tables),
                *want,
                "{rec:?} → {conn} (tables {tables})"
            );
        }
    }
}
