//! The SQL behind [`crate::reports`], compiled once per backend (see `crate::sqlite` and
//! `crate::postgres`).

use super::common::AuditWriter;
use super::{Backend, Conn, DbRow};
use crate::opt_ts;
use crate::reports::*;
use crate::{Actor, StoreError, StoreResult, parse_ts, ts};
use async_trait::async_trait;
use chrono::{DateTime, Datelike, Utc};
use schoon_core::audit::{self, AuditEvent};
use schoon_core::report::{
    Classification, ItemEvent, ItemId, ItemState, ReportId, ReportState, SourceKind, reference,
    report_state, transition,
};
use schoon_core::{EntryId, ListId, OrgId, TenantId};
use sqlx::Row;

fn audit_row(r: &DbRow) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: r.try_get("id")?,
        at: parse_ts(r.try_get("at")?)?,
        tenant_id: r.try_get("tenant_id")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        subject: r.try_get("subject")?,
        details: r.try_get("details")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

fn parse<T: std::str::FromStr>(s: &str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn report_state_text(s: &str) -> StoreResult<ReportState> {
    Ok(match s {
        "processing" => ReportState::Processing,
        "cannot_fetch" => ReportState::CannotFetch,
        "awaiting_classification" => ReportState::AwaitingClassification,
        "awaiting_verification" => ReportState::AwaitingVerification,
        "notice_pending" => ReportState::NoticePending,
        "closed" => ReportState::Closed,
        other => return Err(StoreError::Corrupt(format!("report state {other:?}"))),
    })
}

const REPORT_COLS: &str = "r.id, r.tenant_id, r.reference, r.url, r.original_url, r.registrable_domain, \
    r.referer, r.note, r.source_kind, r.source_org_id, r.state, r.page_evidence, r.fetch_error, \
    r.lock_by, r.lock_until, r.created_at, r.closed_at, \
    (SELECT COUNT(*) FROM report_submissions s WHERE s.report_id = r.id) AS submissions";

fn report_row(r: &DbRow) -> StoreResult<Report> {
    Ok(Report {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        reference: r.try_get("reference")?,
        url: r.try_get("url")?,
        original_url: r.try_get("original_url")?,
        registrable_domain: r.try_get("registrable_domain")?,
        referer: r.try_get("referer")?,
        note: r.try_get("note")?,
        source_kind: r.try_get("source_kind")?,
        source_org_id: r.try_get("source_org_id")?,
        state: report_state_text(r.try_get("state")?)?,
        page_evidence: r.try_get("page_evidence")?,
        fetch_error: r.try_get("fetch_error")?,
        lock_by: r.try_get("lock_by")?,
        lock_until: opt_ts(r.try_get("lock_until")?)?,
        submissions: r.try_get("submissions")?,
        created_at: parse_ts(r.try_get("created_at")?)?,
        closed_at: opt_ts(r.try_get("closed_at")?)?,
    })
}

fn item_row(r: &DbRow) -> StoreResult<Item> {
    let classification: Option<String> = r.try_get("classification")?;
    let attributes: Option<String> = r.try_get("attributes")?;
    let q: Option<i64> = r.try_get("pdq_quality")?;
    Ok(Item {
        id: r.try_get("id")?,
        report_id: r.try_get("report_id")?,
        tenant_id: r.try_get("tenant_id")?,
        url: r.try_get("url")?,
        found_as: r.try_get("found_as")?,
        state: parse(r.try_get("state")?)?,
        md5: r.try_get("md5")?,
        sha1: r.try_get("sha1")?,
        sha256: r.try_get("sha256")?,
        pdq: r.try_get("pdq")?,
        pdq_quality: q.map(|q| q as u32),
        content_type: r.try_get("content_type")?,
        size: r.try_get("size")?,
        evidence_ref: r.try_get("evidence_ref")?,
        evidence_purged_at: opt_ts(r.try_get("evidence_purged_at")?)?,
        error: r.try_get("error")?,
        classification: classification.as_deref().map(parse).transpose()?,
        attributes: attributes
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("attributes: {e}")))?,
        classified_how: r.try_get("classified_how")?,
        classified_by: r.try_get("classified_by")?,
        classified_at: opt_ts(r.try_get("classified_at")?)?,
        auto_list_id: r.try_get("auto_list_id")?,
        auto_entry_id: r.try_get("auto_entry_id")?,
        inherited_from: r.try_get("inherited_from")?,
        verified_by: r.try_get("verified_by")?,
        human_views: r.try_get("human_views")?,
    })
}

async fn load_report(conn: &mut Conn, id: ReportId) -> StoreResult<Report> {
    let sql = format!("SELECT {REPORT_COLS} FROM reports r WHERE r.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("report {id}")))?;
    report_row(&row)
}

async fn load_item(conn: &mut Conn, id: ItemId) -> StoreResult<Item> {
    let row = sqlx::query("SELECT * FROM report_items WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("item {id}")))?;
    item_row(&row)
}

/// Re-derives a report's state from its items; sets `closed_at` when it closes. Returns the
/// new state when it changed.
async fn rederive(
    conn: &mut Conn,
    aw: &mut AuditWriter,
    actor: &Actor,
    report_id: ReportId,
) -> StoreResult<Option<ReportState>> {
    let (tenant_id, processed, old): (TenantId, i64, String) =
        sqlx::query_as("SELECT tenant_id, processed, state FROM reports WHERE id = $1")
            .bind(report_id)
            .fetch_one(&mut *conn)
            .await?;
    let states: Vec<String> =
        sqlx::query_scalar("SELECT state FROM report_items WHERE report_id = $1")
            .bind(report_id)
            .fetch_all(&mut *conn)
            .await?;
    let states = states
        .iter()
        .map(|s| parse::<ItemState>(s))
        .collect::<StoreResult<Vec<_>>>()?;
    let new = report_state(processed != 0, &states);
    if new.as_str() == old {
        return Ok(None);
    }
    let now = ts(&audit::now());
    sqlx::query(
        "UPDATE reports SET state = $1, updated_at = $2, \
         closed_at = CASE WHEN $3 THEN $2 ELSE NULL END WHERE id = $4",
    )
    .bind(new.as_str())
    .bind(&now)
    .bind(new.is_closed())
    .bind(report_id)
    .execute(&mut *conn)
    .await?;
    aw.append(
        conn,
        Some(tenant_id),
        actor,
        "report.state",
        &format!("report:{report_id}"),
        serde_json::json!({"from": old, "to": new.as_str()}),
    )
    .await?;
    Ok(Some(new))
}

fn default_prefix(name: &str, country: Option<&str>) -> String {
    let base = country.unwrap_or(name);
    let p: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(8)
        .collect::<String>()
        .to_ascii_uppercase();
    if p.is_empty() { "R".into() } else { p }
}

async fn policy_in(conn: &mut Conn, tenant_id: TenantId) -> StoreResult<ReportPolicy> {
    let row: Option<(String, bool)> = sqlx::query_as(
        "SELECT reference_prefix, four_eyes FROM report_policies WHERE tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((reference_prefix, four_eyes)) = row {
        return Ok(ReportPolicy {
            reference_prefix,
            four_eyes,
        });
    }
    let t: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT name, country FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_optional(&mut *conn)
            .await?;
    let (name, country) = t.ok_or_else(|| StoreError::NotFound(format!("tenant {tenant_id}")))?;
    Ok(ReportPolicy {
        reference_prefix: default_prefix(&name, country.as_deref()),
        four_eyes: false,
    })
}

#[async_trait]
impl ReportStore for Backend {
    async fn set_report_partner(
        &self,
        actor: &Actor,
        org_id: OrgId,
        kind: SourceKind,
    ) -> StoreResult<()> {
        if kind == SourceKind::Public {
            return Err(StoreError::Invalid(
                "a partner cannot have the public source kind".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let tenant: Option<TenantId> =
            sqlx::query_scalar("SELECT tenant_id FROM organisations WHERE id = $1")
                .bind(org_id)
                .fetch_optional(&mut *tx)
                .await?;
        let tenant =
            tenant.ok_or_else(|| StoreError::NotFound(format!("organisation {org_id}")))?;
        sqlx::query(
            "INSERT INTO report_partners (org_id, kind, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (org_id) DO UPDATE SET kind = excluded.kind",
        )
        .bind(org_id)
        .bind(kind.as_str())
        .bind(ts(&audit::now()))
        .execute(&mut *tx)
        .await?;
        aw.append(
            &mut tx,
            Some(tenant),
            actor,
            "report_partner.set",
            &format!("organisation:{org_id}"),
            serde_json::json!({"kind": kind.as_str()}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn report_partner(&self, org_id: OrgId) -> StoreResult<Option<SourceKind>> {
        let k: Option<String> =
            sqlx::query_scalar("SELECT kind FROM report_partners WHERE org_id = $1")
                .bind(org_id)
                .fetch_optional(&self.read)
                .await?;
        k.as_deref().map(parse).transpose()
    }

    async fn report_policy(&self, tenant_id: TenantId) -> StoreResult<ReportPolicy> {
        let mut conn = self.read.acquire().await?;
        policy_in(&mut conn, tenant_id).await
    }

    async fn set_report_policy(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        p: ReportPolicy,
    ) -> StoreResult<()> {
        let prefix_ok = (1..=8).contains(&p.reference_prefix.len())
            && p.reference_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric());
        if !prefix_ok {
            return Err(StoreError::Invalid(
                "reference_prefix must be 1 to 8 ASCII letters or digits".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        sqlx::query(
            "INSERT INTO report_policies (tenant_id, reference_prefix, four_eyes) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id) DO UPDATE SET reference_prefix = excluded.reference_prefix, \
             four_eyes = excluded.four_eyes",
        )
        .bind(tenant_id)
        .bind(p.reference_prefix.to_ascii_uppercase())
        .bind(p.four_eyes)
        .execute(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
                StoreError::NotFound(format!("tenant {tenant_id}"))
            }
            _ => StoreError::Database(e),
        })?;
        aw.append(
            &mut tx,
            Some(tenant_id),
            actor,
            "report_policy.set",
            &format!("tenant:{tenant_id}"),
            serde_json::to_value(&p).unwrap_or_default(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn submit_reports(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        reports: Vec<NewReport>,
        dedupe_since: DateTime<Utc>,
    ) -> StoreResult<Vec<Submitted>> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let policy = policy_in(&mut tx, tenant_id).await?;
        let now_t = audit::now();
        let now = ts(&now_t);
        let mut out = Vec::with_capacity(reports.len());
        for r in reports {
            let open: Option<(ReportId, String)> = sqlx::query_as(
                "SELECT id, reference FROM reports WHERE tenant_id = $1 AND url = $2 \
                 AND state <> 'closed' AND created_at >= $3 ORDER BY id LIMIT 1",
            )
            .bind(tenant_id)
            .bind(&r.url)
            .bind(ts(&dedupe_since))
            .fetch_optional(&mut *tx)
            .await?;
            let (report_id, reference_no, joined) = match open {
                Some((id, reference_no)) => (id, reference_no, true),
                None => {
                    let year = now_t.year();
                    let seq: i64 = sqlx::query_scalar(
                        "INSERT INTO report_counters (tenant_id, year, last) VALUES ($1, $2, 1) \
                         ON CONFLICT (tenant_id, year) DO UPDATE SET last = report_counters.last + 1 RETURNING last",
                    )
                    .bind(tenant_id)
                    .bind(year)
                    .fetch_one(&mut *tx)
                    .await?;
                    let reference_no = reference(&policy.reference_prefix, year, seq);
                    let id: ReportId = sqlx::query_scalar(
                        "INSERT INTO reports (tenant_id, reference, url, original_url, registrable_domain, \
                         referer, note, source_kind, source_org_id, reporter_email, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
                    )
                    .bind(tenant_id)
                    .bind(&reference_no)
                    .bind(&r.url)
                    .bind(&r.original_url)
                    .bind(&r.registrable_domain)
                    .bind(&r.referer)
                    .bind(&r.note)
                    .bind(r.source_kind.as_str())
                    .bind(r.source_org_id)
                    .bind(&r.reporter_email)
                    .bind(&now)
                    .fetch_one(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO jobs (kind, payload, run_at, max_attempts, idempotency_key, created_at, updated_at) \
                         VALUES ($1, $2, $3, 5, $4, $3, $3) ON CONFLICT DO NOTHING",
                    )
                    .bind(JOB_PROCESS)
                    .bind(serde_json::json!({"report_id": id}).to_string())
                    .bind(&now)
                    .bind(format!("{JOB_PROCESS}:{id}"))
                    .execute(&mut *tx)
                    .await?;
                    (id, reference_no, false)
                }
            };
            sqlx::query(
                "INSERT INTO report_submissions (report_id, source_kind, source_org_id, reporter_email, \
                 referer, note, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(report_id)
            .bind(r.source_kind.as_str())
            .bind(r.source_org_id)
            .bind(&r.reporter_email)
            .bind(&r.referer)
            .bind(&r.note)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            // The reporter's e-mail address stays out of the audit log (personal data that the
            // retention policy must be able to erase; the log is append-only).
            aw.append(
                &mut tx,
                Some(tenant_id),
                actor,
                if joined {
                    "report.join"
                } else {
                    "report.create"
                },
                &format!("report:{report_id}"),
                serde_json::json!({
                    "reference": reference_no,
                    "url": r.url,
                    "source": r.source_kind.as_str(),
                    "source_org_id": r.source_org_id,
                }),
            )
            .await?;
            out.push(Submitted {
                report_id,
                reference: reference_no,
                joined,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn report(&self, id: ReportId) -> StoreResult<Option<Report>> {
        let mut conn = self.read.acquire().await?;
        match load_report(&mut conn, id).await {
            Ok(r) => Ok(Some(r)),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn report_by_reference(&self, reference: &str) -> StoreResult<Option<Report>> {
        let sql = format!("SELECT {REPORT_COLS} FROM reports r WHERE r.reference = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(reference)
            .fetch_optional(&self.read)
            .await?
            .as_ref()
            .map(report_row)
            .transpose()
    }

    async fn report_items(&self, report_id: ReportId) -> StoreResult<Vec<Item>> {
        sqlx::query("SELECT * FROM report_items WHERE report_id = $1 ORDER BY id")
            .bind(report_id)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(item_row)
            .collect()
    }

    async fn item(&self, id: ItemId) -> StoreResult<Option<Item>> {
        sqlx::query("SELECT * FROM report_items WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .as_ref()
            .map(item_row)
            .transpose()
    }

    async fn record_page(
        &self,
        actor: &Actor,
        report_id: ReportId,
        page_evidence: Option<String>,
        fetch_error: Option<String>,
        media: Vec<(String, String)>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let tenant_id: TenantId = sqlx::query_scalar("SELECT tenant_id FROM reports WHERE id = $1")
            .bind(report_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("report {report_id}")))?;
        let now = ts(&audit::now());
        sqlx::query(
            "UPDATE reports SET page_evidence = COALESCE($1, page_evidence), fetch_error = $2, \
             updated_at = $3 WHERE id = $4",
        )
        .bind(&page_evidence)
        .bind(&fetch_error)
        .bind(&now)
        .bind(report_id)
        .execute(&mut *tx)
        .await?;
        let mut added = 0u64;
        for (url, found_as) in &media {
            let id: Option<ItemId> = sqlx::query_scalar(
                "INSERT INTO report_items (report_id, tenant_id, url, found_as, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (report_id, url) DO NOTHING RETURNING id",
            )
            .bind(report_id)
            .bind(tenant_id)
            .bind(url)
            .bind(found_as)
            .bind(&now)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(id) = id {
                added += 1;
                aw.append(
                    &mut tx,
                    Some(tenant_id),
                    actor,
                    "item.create",
                    &format!("item:{id}"),
                    serde_json::json!({"report_id": report_id, "url": url, "found_as": found_as, "state": "new"}),
                )
                .await?;
            }
        }
        aw.append(
            &mut tx,
            Some(tenant_id),
            actor,
            "report.fetch",
            &format!("report:{report_id}"),
            serde_json::json!({"items_found": media.len(), "items_added": added, "error": fetch_error}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn complete_item(
        &self,
        actor: &Actor,
        item_id: ItemId,
        f: Fetched,
        outcome: AutoOutcome,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let item = load_item(&mut tx, item_id).await?;
        if item.state != ItemState::New {
            return Ok(false);
        }
        let event = match &outcome {
            AutoOutcome::Failed => ItemEvent::FetchFailed,
            AutoOutcome::Known { .. } => ItemEvent::KnownMatch,
            AutoOutcome::Allow { .. } => ItemEvent::AllowMatch,
            AutoOutcome::Inherit { classification, .. } => ItemEvent::Inherit(*classification),
            AutoOutcome::NeedsAnalyst => ItemEvent::NeedsAnalyst,
        };
        let next = transition(item.state, event).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let now = ts(&audit::now());
        let (classification, how, by, list, entry, inherited): (
            Option<Classification>,
            Option<&str>,
            Option<String>,
            Option<ListId>,
            Option<EntryId>,
            Option<ItemId>,
        ) = match &outcome {
            AutoOutcome::Known {
                list_id,
                entry_id,
                classification,
            } => (
                Some(*classification),
                Some("auto"),
                Some(format!("auto:list:{list_id}:entry:{entry_id}")),
                Some(*list_id),
                Some(*entry_id),
                None,
            ),
            AutoOutcome::Allow { list_id, entry_id } => (
                None,
                Some("allow"),
                Some(format!("auto:list:{list_id}:entry:{entry_id}")),
                Some(*list_id),
                Some(*entry_id),
                None,
            ),
            AutoOutcome::Inherit {
                from,
                classification,
            } => (
                Some(*classification),
                Some("inherited"),
                Some(format!("inherited:item:{from}")),
                None,
                None,
                Some(*from),
            ),
            _ => (None, None, None, None, None, None),
        };
        sqlx::query(
            "UPDATE report_items SET state = $1, md5 = $2, sha1 = $3, sha256 = $4, pdq = $5, \
             pdq_quality = $6, width = $7, height = $8, content_type = $9, size = $10, \
             evidence_ref = $11, error = $12, classification = $13, classified_how = $14, \
             classified_by = $15, classified_at = CASE WHEN $15 IS NULL THEN NULL ELSE $16 END, \
             auto_list_id = $17, auto_entry_id = $18, inherited_from = $19, updated_at = $16 \
             WHERE id = $20",
        )
        .bind(next.as_str())
        .bind(&f.md5)
        .bind(&f.sha1)
        .bind(&f.sha256)
        .bind(&f.pdq)
        .bind(f.pdq_quality.map(i64::from))
        .bind(f.width.map(i64::from))
        .bind(f.height.map(i64::from))
        .bind(&f.content_type)
        .bind(f.size)
        .bind(&f.evidence_ref)
        .bind(&f.error)
        .bind(classification.map(|c| c.as_str()))
        .bind(how)
        .bind(&by)
        .bind(&now)
        .bind(list)
        .bind(entry)
        .bind(inherited)
        .bind(item_id)
        .execute(&mut *tx)
        .await?;
        aw.append(
            &mut tx,
            Some(item.tenant_id),
            actor,
            "item.process",
            &format!("item:{item_id}"),
            serde_json::json!({
                "from": item.state.as_str(),
                "to": next.as_str(),
                "sha256": f.sha256,
                "pdq": f.pdq,
                "classification": classification.map(|c| c.as_str()),
                "how": how,
                "by": by,
                "error": f.error,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn refetch_report(&self, actor: &Actor, report_id: ReportId) -> StoreResult<Report> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let r = load_report(&mut tx, report_id).await?;
        if r.state == ReportState::Processing {
            return Err(StoreError::Conflict(format!(
                "report {} is being processed",
                r.reference
            )));
        }
        let now_t = audit::now();
        let now = ts(&now_t);
        let ids: Vec<ItemId> = sqlx::query_scalar(
            "SELECT id FROM report_items WHERE report_id = $1 AND state = 'unavailable' ORDER BY id",
        )
        .bind(report_id)
        .fetch_all(&mut *tx)
        .await?;
        for id in &ids {
            let next = transition(ItemState::Unavailable, ItemEvent::Retry)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            sqlx::query(
                "UPDATE report_items SET state = $1, error = NULL, updated_at = $2 WHERE id = $3",
            )
            .bind(next.as_str())
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            aw.append(
                &mut tx,
                Some(r.tenant_id),
                actor,
                "item.retry",
                &format!("item:{id}"),
                serde_json::json!({"from": "unavailable", "to": next.as_str()}),
            )
            .await?;
        }
        sqlx::query(
            "UPDATE reports SET processed = 0, fetch_error = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(&now)
        .bind(report_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO jobs (kind, payload, run_at, max_attempts, idempotency_key, created_at, updated_at) \
             VALUES ($1, $2, $3, 5, $4, $3, $3) ON CONFLICT DO NOTHING",
        )
        .bind(JOB_PROCESS)
        .bind(serde_json::json!({"report_id": report_id}).to_string())
        .bind(&now)
        .bind(format!("{JOB_PROCESS}:{report_id}:{}", now_t.timestamp_micros()))
        .execute(&mut *tx)
        .await?;
        aw.append(
            &mut tx,
            Some(r.tenant_id),
            actor,
            "report.refetch",
            &format!("report:{report_id}"),
            serde_json::json!({"items_retried": ids.len()}),
        )
        .await?;
        rederive(&mut tx, &mut aw, actor, report_id).await?;
        let r = load_report(&mut tx, report_id).await?;
        tx.commit().await?;
        Ok(r)
    }

    async fn finish_report(&self, actor: &Actor, report_id: ReportId) -> StoreResult<Report> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        sqlx::query("UPDATE reports SET processed = 1 WHERE id = $1")
            .bind(report_id)
            .execute(&mut *tx)
            .await?;
        rederive(&mut tx, &mut aw, actor, report_id).await?;
        let r = load_report(&mut tx, report_id).await?;
        tx.commit().await?;
        Ok(r)
    }

    async fn classified_by_sha256(
        &self,
        tenant_id: TenantId,
        sha256: &str,
    ) -> StoreResult<Option<Item>> {
        sqlx::query(
            "SELECT * FROM report_items WHERE tenant_id = $1 AND sha256 = $2 \
             AND classification IS NOT NULL AND state IN ('notice_pending', 'closed') \
             ORDER BY id LIMIT 1",
        )
        .bind(tenant_id)
        .bind(sha256)
        .fetch_optional(&self.read)
        .await?
        .as_ref()
        .map(item_row)
        .transpose()
    }

    async fn lock_next_report(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        until: DateTime<Utc>,
    ) -> StoreResult<Option<Report>> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let now = ts(&audit::now());
        let id: Option<ReportId> = sqlx::query_scalar(
            "SELECT r.id FROM reports r WHERE r.tenant_id = $1 \
             AND (r.lock_by IS NULL OR r.lock_by = $2 OR r.lock_until < $3) \
             AND EXISTS (SELECT 1 FROM report_items i WHERE i.report_id = r.id AND \
                 (i.state = 'awaiting_classification' OR \
                  (i.state = 'awaiting_verification' AND i.classified_by <> $2))) \
             ORDER BY r.created_at, r.id LIMIT 1",
        )
        .bind(tenant_id)
        .bind(&actor.0)
        .bind(&now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(None);
        };
        sqlx::query("UPDATE reports SET lock_by = $1, lock_until = $2 WHERE id = $3")
            .bind(&actor.0)
            .bind(ts(&until))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        aw.append(
            &mut tx,
            Some(tenant_id),
            actor,
            "report.lock",
            &format!("report:{id}"),
            serde_json::json!({"until": ts(&until)}),
        )
        .await?;
        let r = load_report(&mut tx, id).await?;
        tx.commit().await?;
        Ok(Some(r))
    }

    async fn lock_report(
        &self,
        actor: &Actor,
        report_id: ReportId,
        until: DateTime<Utc>,
    ) -> StoreResult<Report> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let r = load_report(&mut tx, report_id).await?;
        let now = audit::now();
        if let (Some(by), Some(u)) = (&r.lock_by, r.lock_until)
            && by != &actor.0
            && u > now
        {
            return Err(StoreError::Conflict(format!(
                "report {} is locked by another analyst until {}",
                r.reference,
                ts(&u)
            )));
        }
        sqlx::query("UPDATE reports SET lock_by = $1, lock_until = $2 WHERE id = $3")
            .bind(&actor.0)
            .bind(ts(&until))
            .bind(report_id)
            .execute(&mut *tx)
            .await?;
        aw.append(
            &mut tx,
            Some(r.tenant_id),
            actor,
            "report.lock",
            &format!("report:{report_id}"),
            serde_json::json!({"until": ts(&until)}),
        )
        .await?;
        let r = load_report(&mut tx, report_id).await?;
        tx.commit().await?;
        Ok(r)
    }

    async fn unlock_report(&self, actor: &Actor, report_id: ReportId) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let r = load_report(&mut tx, report_id).await?;
        if r.lock_by.as_deref() != Some(actor.0.as_str()) {
            return Ok(());
        }
        sqlx::query("UPDATE reports SET lock_by = NULL, lock_until = NULL WHERE id = $1")
            .bind(report_id)
            .execute(&mut *tx)
            .await?;
        aw.append(
            &mut tx,
            Some(r.tenant_id),
            actor,
            "report.unlock",
            &format!("report:{report_id}"),
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn analyst_action(
        &self,
        actor: &Actor,
        item_ids: &[ItemId],
        action: AnalystAction,
        four_eyes: bool,
    ) -> StoreResult<Vec<Item>> {
        if item_ids.is_empty() {
            return Err(StoreError::Invalid("no items given".into()));
        }
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let now_t = audit::now();
        let now = ts(&now_t);
        let mut reports = Vec::new();
        let mut out = Vec::new();
        for &id in item_ids {
            let item = load_item(&mut tx, id).await?;
            if !reports.contains(&item.report_id) {
                let r = load_report(&mut tx, item.report_id).await?;
                if let (Some(by), Some(u)) = (&r.lock_by, r.lock_until)
                    && by != &actor.0
                    && u > now_t
                {
                    return Err(StoreError::Conflict(format!(
                        "report {} is locked by another analyst",
                        r.reference
                    )));
                }
                reports.push(item.report_id);
            }
            let (event, details) = match &action {
                AnalystAction::Classify {
                    classification,
                    attributes,
                } => (
                    ItemEvent::Classify {
                        classification: *classification,
                        four_eyes,
                    },
                    serde_json::json!({"classification": classification.as_str(), "attributes": attributes, "four_eyes": four_eyes}),
                ),
                AnalystAction::Verify { agree } => {
                    if item.classified_by.as_deref() == Some(actor.0.as_str()) {
                        return Err(StoreError::Conflict(format!(
                            "item {id}: the analyst who classified it cannot verify it"
                        )));
                    }
                    (
                        if *agree {
                            ItemEvent::VerifyAgree
                        } else {
                            ItemEvent::VerifyDisagree
                        },
                        serde_json::json!({"agree": agree, "first_analyst": item.classified_by, "classification": item.classification.map(|c| c.as_str())}),
                    )
                }
            };
            let next = transition(item.state, event)
                .map_err(|e| StoreError::Conflict(format!("item {id}: {e}")))?;
            match &action {
                AnalystAction::Classify {
                    classification,
                    attributes,
                } => {
                    sqlx::query(
                        "UPDATE report_items SET state = $1, classification = $2, attributes = $3, \
                         classified_how = 'analyst', classified_by = $4, classified_at = $5, \
                         verified_by = NULL, verified_at = NULL, updated_at = $5 WHERE id = $6",
                    )
                    .bind(next.as_str())
                    .bind(classification.as_str())
                    .bind(serde_json::to_string(attributes).unwrap_or_default())
                    .bind(&actor.0)
                    .bind(&now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                AnalystAction::Verify { agree: true } => {
                    sqlx::query(
                        "UPDATE report_items SET state = $1, verified_by = $2, verified_at = $3, \
                         updated_at = $3 WHERE id = $4",
                    )
                    .bind(next.as_str())
                    .bind(&actor.0)
                    .bind(&now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                AnalystAction::Verify { agree: false } => {
                    sqlx::query(
                        "UPDATE report_items SET state = $1, classification = NULL, \
                         classified_how = NULL, classified_by = NULL, classified_at = NULL, \
                         updated_at = $2 WHERE id = $3",
                    )
                    .bind(next.as_str())
                    .bind(&now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            let mut d = details;
            d["from"] = item.state.as_str().into();
            d["to"] = next.as_str().into();
            let action_name = match action {
                AnalystAction::Classify { .. } => "item.classify",
                AnalystAction::Verify { .. } => "item.verify",
            };
            aw.append(
                &mut tx,
                Some(item.tenant_id),
                actor,
                action_name,
                &format!("item:{id}"),
                d,
            )
            .await?;
        }
        for r in reports {
            rederive(&mut tx, &mut aw, actor, r).await?;
        }
        for &id in item_ids {
            out.push(load_item(&mut tx, id).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn record_evidence_view(&self, actor: &Actor, item_id: ItemId) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let item = load_item(&mut tx, item_id).await?;
        sqlx::query("UPDATE report_items SET human_views = human_views + 1 WHERE id = $1")
            .bind(item_id)
            .execute(&mut *tx)
            .await?;
        aw.append(
            &mut tx,
            Some(item.tenant_id),
            actor,
            "item.evidence_view",
            &format!("item:{item_id}"),
            serde_json::json!({"evidence_ref": item.evidence_ref}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn purgeable_evidence(
        &self,
        closed_before: DateTime<Utc>,
    ) -> StoreResult<Vec<(ItemId, String)>> {
        let rows: Vec<(ItemId, String)> = sqlx::query_as(
            "SELECT i.id, i.evidence_ref FROM report_items i JOIN reports r ON r.id = i.report_id \
             WHERE i.evidence_ref IS NOT NULL AND i.evidence_purged_at IS NULL \
             AND r.closed_at IS NOT NULL AND r.closed_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM report_items j JOIN reports q ON q.id = j.report_id \
                 WHERE j.evidence_ref = i.evidence_ref AND j.evidence_purged_at IS NULL \
                 AND (q.closed_at IS NULL OR q.closed_at >= $1)) \
             UNION \
             SELECT -r.id, r.page_evidence FROM reports r WHERE r.page_evidence IS NOT NULL \
             AND r.closed_at IS NOT NULL AND r.closed_at < $1 \
             ORDER BY 1",
        )
        .bind(ts(&closed_before))
        .fetch_all(&self.read)
        .await?;
        Ok(rows)
    }

    async fn mark_evidence_purged(&self, actor: &Actor, item_ids: &[ItemId]) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let now = ts(&audit::now());
        for &id in item_ids {
            // Negative ids are reports' page evidence (see `purgeable_evidence`).
            if id < 0 {
                let rid = -id;
                let tenant: Option<TenantId> = sqlx::query_scalar(
                    "UPDATE reports SET page_evidence = NULL WHERE id = $1 RETURNING tenant_id",
                )
                .bind(rid)
                .fetch_optional(&mut *tx)
                .await?;
                aw.append(
                    &mut tx,
                    tenant,
                    actor,
                    "report.evidence_purge",
                    &format!("report:{rid}"),
                    serde_json::json!({"reason": "retention"}),
                )
                .await?;
                continue;
            }
            let tenant: Option<TenantId> = sqlx::query_scalar(
                "UPDATE report_items SET evidence_purged_at = $1 WHERE id = $2 RETURNING tenant_id",
            )
            .bind(&now)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            aw.append(
                &mut tx,
                tenant,
                actor,
                "item.evidence_purge",
                &format!("item:{id}"),
                serde_json::json!({"reason": "retention"}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn audit_for_subjects(&self, subjects: &[String]) -> StoreResult<Vec<AuditEvent>> {
        let mut out = Vec::new();
        for chunk in subjects.chunks(200) {
            let marks = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!("SELECT * FROM audit_events WHERE subject IN ({marks}) ORDER BY id");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for s in chunk {
                q = q.bind(s);
            }
            for row in q.fetch_all(&self.read).await? {
                out.push(audit_row(&row)?);
            }
        }
        out.sort_by_key(|e| e.id);
        Ok(out)
    }
}
