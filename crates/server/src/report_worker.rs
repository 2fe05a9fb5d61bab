//! The report worker: claims `report.process` and `report.purge` jobs from the durable queue.
//!
//! Processing is idempotent (at-least-once delivery): items are keyed by (report, URL) and an
//! item leaves `new` exactly once, so a re-delivered job only finishes what was left. Evidence
//! goes to the vault, which is content-addressed (storing the same bytes twice keeps one copy).

use std::time::Duration;

use chrono::Utc;
use fetch::{ExtractOptions, FetchOptions, Fetched as Page, RefKind};
use schoon_core::report::{Classification, ReportId};
use schoon_core::{SignalType, SignalValue};
use store::reports::{AutoOutcome, Fetched, JOB_PROCESS, JOB_PURGE};
use store::{Actor, Job, NewJob};

use crate::app::AppState;

/// Items of one report fetched at once.
const ITEM_CONCURRENCY: usize = 4;

/// The worker's audit identity.
fn actor() -> Actor {
    Actor("system:report-worker".into())
}

/// Runs forever: polls the queue and schedules periodic purges.
pub async fn run(state: AppState) {
    let worker = format!("reports-{}", std::process::id());
    let poll = Duration::from_millis(state.config.reports.poll_interval_ms.max(50));
    let purge_every = state.config.reports.purge_interval_secs.max(1) as i64;
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_bucket = None;
    let lease =
        chrono::Duration::seconds(state.config.reports.job_lease_secs.clamp(1, 86_400) as i64);
    loop {
        tick.tick().await;
        // One purge job per interval across all nodes (idempotency key per time bucket).
        let bucket = Utc::now().timestamp() / purge_every;
        if last_bucket == Some(bucket) {
            // Already scheduled for this interval.
        } else if state
            .store
            .enqueue_job(NewJob {
                kind: JOB_PURGE.into(),
                payload: serde_json::json!({}),
                run_at: schoon_core::audit::now(),
                max_attempts: 3,
                idempotency_key: Some(format!("{JOB_PURGE}:{bucket}")),
            })
            .await
            .is_ok()
        {
            last_bucket = Some(bucket);
        }
        let jobs = match state
            .store
            .claim_jobs(&worker, &[JOB_PROCESS, JOB_PURGE], 2, lease)
            .await
        {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, "claiming report jobs failed");
                continue;
            }
        };
        for job in jobs {
            let result = run_job(&state, &job).await;
            match result {
                Ok(()) => {
                    if let Err(e) = state.store.complete_job(job.id, &worker).await {
                        tracing::warn!(job = job.id, error = %e, "completing job failed");
                    }
                }
                Err(msg) => {
                    let backoff = 30i64 << job.attempts.clamp(0, 8);
                    let retry = schoon_core::audit::now() + chrono::Duration::seconds(backoff);
                    tracing::warn!(job = job.id, kind = %job.kind, error = %msg, "job failed");
                    let _ = state.store.fail_job(job.id, &worker, &msg, retry).await;
                }
            }
        }
    }
}

/// Runs one job (public for tests and the CLI).
pub async fn run_job(state: &AppState, job: &Job) -> Result<(), String> {
    match job.kind.as_str() {
        JOB_PROCESS => {
            let id = job
                .payload
                .get("report_id")
                .and_then(|v| v.as_i64())
                .ok_or("payload has no report_id")?;
            process_report(state, id).await
        }
        JOB_PURGE => purge(state).await.map(|_| ()),
        other => Err(format!("unknown job kind {other}")),
    }
}

fn found_as(kind: RefKind) -> &'static str {
    kind.as_str()
}

/// Stores bytes and their fetch record in the vault; returns the reference (hex).
async fn keep_evidence(
    state: &AppState,
    original_url: &str,
    page: &Page,
) -> Result<String, String> {
    let bytes = page.body.clone();
    let meta = vault::EvidenceMeta {
        original_url: original_url.chars().take(4000).collect(),
        final_url: page.final_url.as_str().chars().take(4000).collect(),
        fetched_at: chrono::DateTime::<Utc>::from(page.fetched_at),
        http_status: page.status,
        headers: page.headers.clone(),
        resolved_ip: page.remote_addr.map(|a| a.ip()),
        content_type: page.sniffed_type.mime().to_string(),
        size: bytes.len() as u64,
        sha256: *vault::EvidenceRef::of(&bytes).sha256(),
    };
    let v = state.reports.vault.clone();
    tokio::task::spawn_blocking(move || v.put(&bytes, &meta))
        .await
        .map_err(|e| format!("vault task: {e}"))?
        .map(|r| r.to_hex())
        .map_err(|e| format!("vault: {e}"))
}

/// Fetches a report's URL, records its media items and processes each.
pub async fn process_report(state: &AppState, report_id: ReportId) -> Result<(), String> {
    let report = state
        .store
        .report(report_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("report vanished")?;
    let items_known = state
        .store
        .report_items(report_id)
        .await
        .map_err(|e| e.to_string())?;
    // On re-delivery after the page was recorded, go straight to the items.
    if items_known.is_empty() && report.fetch_error.is_none() {
        let url: fetch::Url = report.url.parse().map_err(|e| format!("url: {e}"))?;
        let opts = FetchOptions::new().max_body_bytes(state.config.limits.max_media_bytes as u64);
        match state.fetcher.fetch_with(&url, &opts).await {
            Ok(page) if page.is_success() => {
                let xopts = ExtractOptions {
                    max_items: state.config.reports.max_items_per_page.max(1),
                    ..ExtractOptions::default()
                };
                let extracted = fetch::media_items(&page, &xopts);
                let evidence = keep_evidence(state, &report.url, &page).await.ok();
                let media: Vec<(String, String)> = extracted
                    .items
                    .iter()
                    .map(|m| (m.url.to_string(), found_as(m.kind).to_string()))
                    .collect();
                state
                    .store
                    .record_page(&actor(), report_id, evidence, None, media)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(page) => {
                state
                    .store
                    .record_page(
                        &actor(),
                        report_id,
                        None,
                        Some(format!("HTTP {}", page.status)),
                        Vec::new(),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Err(e) => {
                state
                    .store
                    .record_page(&actor(), report_id, None, Some(e.to_string()), Vec::new())
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    let items = state
        .store
        .report_items(report_id)
        .await
        .map_err(|e| e.to_string())?;
    // A few items at a time: slow sites must not hold the job past its lease, and one
    // reported page must not monopolise the fetcher.
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(ITEM_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for item in items
        .into_iter()
        .filter(|i| i.state == schoon_core::report::ItemState::New)
    {
        let (state, slots, page_url) = (state.clone(), slots.clone(), report.url.clone());
        let tenant_id = report.tenant_id;
        tasks.spawn(async move {
            let _permit = slots.acquire_owned().await.map_err(|e| e.to_string())?;
            let (fetched, outcome) = process_item(&state, tenant_id, &page_url, &item.url).await;
            state
                .store
                .complete_item(&actor(), item.id, fetched, outcome)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
    }
    let mut first_error = None;
    while let Some(done) = tasks.join_next().await {
        let r = done.map_err(|e| format!("item task: {e}")).and_then(|r| r);
        if let Err(e) = r {
            first_error.get_or_insert(e);
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    state
        .store
        .finish_report(&actor(), report_id)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Fetches, stores, hashes and matches one media URL.
async fn process_item(
    state: &AppState,
    tenant_id: schoon_core::TenantId,
    referer: &str,
    url: &str,
) -> (Fetched, AutoOutcome) {
    let failed = |error: String| {
        (
            Fetched {
                error: Some(error),
                ..Fetched::default()
            },
            AutoOutcome::Failed,
        )
    };
    let Ok(parsed) = url.parse::<fetch::Url>() else {
        return failed("unparsable URL".into());
    };
    let mut opts = FetchOptions::new().max_body_bytes(state.config.limits.max_media_bytes as u64);
    if let Ok(r) = referer.parse() {
        opts = opts.referer(r);
    }
    let page = match state.fetcher.fetch_with(&parsed, &opts).await {
        Ok(p) if p.is_success() => p,
        Ok(p) => return failed(format!("HTTP {}", p.status)),
        Err(e) => return failed(e.to_string()),
    };
    if !page.sniffed_type.is_media() {
        return failed(format!(
            "not media (sniffed {}, declared {})",
            page.sniffed_type.mime(),
            page.declared_type.as_deref().unwrap_or("none")
        ));
    }
    let evidence = match keep_evidence(state, url, &page).await {
        Ok(r) => Some(r),
        Err(e) => return failed(e),
    };
    let mut f = Fetched {
        content_type: Some(page.sniffed_type.mime().to_string()),
        size: Some(page.body.len() as i64),
        evidence_ref: evidence,
        ..Fetched::default()
    };
    let digests = media::Digests::of(&page.body);
    f.md5 = Some(digests.md5_hex());
    f.sha1 = Some(digests.sha1_hex());
    f.sha256 = Some(digests.sha256_hex());
    let mut signals = vec![
        (SignalValue::Md5(digests.md5), None),
        (SignalValue::Sha1(digests.sha1), None),
        (SignalValue::Sha256(digests.sha256), None),
    ];
    if page.sniffed_type.is_image() {
        match crate::check::hash_media(state, page.body.clone()).await {
            Ok(h) => {
                let hex = h.pdq.to_hex();
                f.pdq = Some(hex.clone());
                f.pdq_quality = Some(u32::from(h.quality));
                f.width = Some(h.width);
                f.height = Some(h.height);
                if let Ok(v) = SignalValue::parse(SignalType::Pdq, &hex) {
                    signals.push((v, Some(u32::from(h.quality))));
                }
            }
            Err(p) => {
                // Exact digests still match; an image we cannot decode goes to an analyst.
                f.error = Some(format!("not hashable: {}", p.detail));
            }
        }
    }
    let matcher = match state.matchers.get(tenant_id).await {
        Ok(m) => m,
        Err(e) => return failed(format!("matcher: {e}")),
    };
    let mut known = None;
    let mut allow = None;
    for (v, q) in &signals {
        let out = matcher.check(v, *q);
        if allow.is_none() {
            allow = out.allow.first().cloned();
        }
        if known.is_none() {
            known = out
                .known
                .iter()
                .min_by_key(|m| (m.distance, m.entry_id))
                .cloned();
        }
    }
    let outcome = if let Some(a) = allow {
        AutoOutcome::Allow {
            list_id: a.list.id,
            entry_id: a.entry_id,
        }
    } else if let Some(k) = known {
        AutoOutcome::Known {
            list_id: k.list.id,
            entry_id: k.entry_id,
            classification: Classification::from(k.category),
        }
    } else {
        let earlier = match &f.sha256 {
            Some(s) => state
                .store
                .classified_by_sha256(tenant_id, s)
                .await
                .ok()
                .flatten(),
            None => None,
        };
        match earlier.and_then(|e| e.classification.map(|c| (e.id, c))) {
            Some((from, classification)) => AutoOutcome::Inherit {
                from,
                classification,
            },
            None => AutoOutcome::NeedsAnalyst,
        }
    };
    (f, outcome)
}

/// Purges the evidence of reports closed longer ago than the retention; returns how many items.
pub async fn purge(state: &AppState) -> Result<usize, String> {
    let now = schoon_core::audit::now();
    let cutoff = now - chrono::Duration::hours(state.config.reports.retention_hours.max(0));
    // With a retention of 0, "closed before now" must include reports closed this instant.
    let cutoff = cutoff + chrono::Duration::microseconds(1);
    let rows = state
        .store
        .purgeable_evidence(cutoff)
        .await
        .map_err(|e| e.to_string())?;
    if rows.is_empty() {
        return Ok(0);
    }
    let refs: Vec<vault::EvidenceRef> = rows.iter().filter_map(|(_, r)| r.parse().ok()).collect();
    let v = state.reports.vault.clone();
    let before = now + chrono::Duration::seconds(1);
    tokio::task::spawn_blocking(move || v.purge(&refs, before))
        .await
        .map_err(|e| format!("vault task: {e}"))?
        .map_err(|e| format!("vault purge: {e}"))?;
    let ids: Vec<_> = rows.iter().map(|(id, _)| *id).collect();
    state
        .store
        .mark_evidence_purged(&actor(), &ids)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ids.len())
}
