//! The SQL behind [`crate::manage`], compiled once per backend (see `crate::sqlite` and
//! `crate::postgres`). Portable: `$n` placeholders, `CASE` instead of backend functions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schoon_core::takedown::{CaseId, NoticeState};
use schoon_core::{EntryId, ListId, TenantId, policy};
use sqlx::{AssertSqlSafe, Row};

use super::Backend;
use super::common::{AuditWriter, job_row};
use crate::jobs::Job;
use crate::manage::*;
use crate::{Actor, StoreError, StoreResult, opt_ts, parse_enum, ts};

/// `'attributing', 'needs_contact', …` for an `IN (…)` (constants, not input).
fn open_states() -> String {
    OPEN_CASE_STATES
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl ManageStore for Backend {
    async fn list_counts(&self, tenant: TenantId) -> StoreResult<Vec<ListCounts>> {
        let rows = sqlx::query(
            "SELECT e.list_id AS list_id, \
                    SUM(CASE WHEN e.revoked_at IS NULL THEN 1 ELSE 0 END) AS active, \
                    SUM(CASE WHEN e.revoked_at IS NULL THEN 0 ELSE 1 END) AS revoked \
             FROM list_entries e JOIN hash_lists l ON l.id = e.list_id \
             WHERE l.tenant_id = $1 GROUP BY e.list_id",
        )
        .bind(tenant)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ListCounts {
                    list_id: r.try_get("list_id")?,
                    active: r.try_get::<Option<i64>, _>("active")?.unwrap_or(0),
                    revoked: r.try_get::<Option<i64>, _>("revoked")?.unwrap_or(0),
                })
            })
            .collect()
    }

    async fn active_entry_ids_by_source(
        &self,
        list_id: ListId,
        source: &str,
    ) -> StoreResult<Vec<EntryId>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM list_entries WHERE list_id = $1 AND source = $2 \
             AND revoked_at IS NULL ORDER BY id",
        )
        .bind(list_id)
        .bind(source)
        .fetch_all(&self.read)
        .await?)
    }

    async fn set_hit_deadline(
        &self,
        actor: &Actor,
        tenant: TenantId,
        hours: i64,
    ) -> StoreResult<()> {
        policy::validate_deadline_hours(hours).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let n = sqlx::query("UPDATE tenants SET hit_deadline_hours = $1 WHERE id = $2")
            .bind(hours)
            .bind(tenant)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 {
            return Err(StoreError::NotFound(format!("tenant {tenant}")));
        }
        aw.append(
            &mut tx,
            Some(tenant),
            actor,
            "tenant.hit_deadline",
            &format!("tenant:{tenant}"),
            serde_json::json!({"hit_deadline_hours": hours}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn hit_grace_hours(&self, tenant: TenantId) -> StoreResult<i64> {
        let h: Option<i64> =
            sqlx::query_scalar("SELECT hit_grace_hours FROM tenants WHERE id = $1")
                .bind(tenant)
                .fetch_optional(&self.read)
                .await?;
        h.ok_or_else(|| StoreError::NotFound(format!("tenant {tenant}")))
    }

    async fn job_counts(&self, now: DateTime<Utc>) -> StoreResult<Vec<JobCount>> {
        let rows = sqlx::query(
            "SELECT kind, status, COUNT(*) AS n, \
                    SUM(CASE WHEN status = 'pending' AND run_at <= $1 THEN 1 ELSE 0 END) AS due \
             FROM jobs GROUP BY kind, status ORDER BY kind, status",
        )
        .bind(ts(&now))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JobCount {
                    kind: r.try_get("kind")?,
                    status: r.try_get("status")?,
                    count: r.try_get("n")?,
                    due: r.try_get::<Option<i64>, _>("due")?.unwrap_or(0),
                })
            })
            .collect()
    }

    async fn failed_jobs(&self, limit: u32) -> StoreResult<Vec<Job>> {
        sqlx::query(
            "SELECT * FROM jobs WHERE status = 'dead' \
             OR (status = 'pending' AND last_error IS NOT NULL) \
             ORDER BY updated_at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(job_row)
        .collect()
    }

    async fn check_summary(
        &self,
        tenant: TenantId,
        window: chrono::Duration,
    ) -> StoreResult<CheckSummary> {
        let last: Option<String> = sqlx::query_scalar(
            "SELECT MAX(o.at) FROM observations o JOIN takedown_cases c ON c.id = o.case_id \
             WHERE c.tenant_id = $1",
        )
        .bind(tenant)
        .fetch_one(&self.read)
        .await?;
        let Some(last_at) = opt_ts(last)? else {
            return Ok(CheckSummary::default());
        };
        let rows = sqlx::query(
            "SELECT o.outcome AS outcome, COUNT(*) AS n \
             FROM observations o JOIN takedown_cases c ON c.id = o.case_id \
             WHERE c.tenant_id = $1 AND o.at >= $2 AND o.at <= $3 GROUP BY o.outcome",
        )
        .bind(tenant)
        .bind(ts(&(last_at - window)))
        .bind(ts(&last_at))
        .fetch_all(&self.read)
        .await?;
        let mut s = CheckSummary {
            last_at: Some(last_at),
            ..CheckSummary::default()
        };
        for r in &rows {
            let n: i64 = r.try_get("n")?;
            match r.try_get::<String, _>("outcome")?.as_str() {
                "online" => s.online = n,
                "gone" => s.gone = n,
                "error" => s.error = n,
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "observation outcome {other:?}"
                    )));
                }
            }
        }
        Ok(s)
    }

    async fn notice_counts(&self, tenant: TenantId) -> StoreResult<Vec<(NoticeState, i64)>> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM notices WHERE tenant_id = $1 \
             GROUP BY state ORDER BY state",
        )
        .bind(tenant)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    parse_enum::<NoticeState>(r.try_get("state")?)?,
                    r.try_get("n")?,
                ))
            })
            .collect()
    }

    async fn hoster_contacts(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> StoreResult<Vec<HosterContact>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT hoster_org, hoster_email, hoster_country, COUNT(*) AS n \
             FROM takedown_cases WHERE tenant_id = $1 AND state IN ({}) \
             GROUP BY hoster_org, hoster_email, hoster_country \
             ORDER BY n DESC, hoster_org LIMIT $2",
            open_states()
        )))
        .bind(tenant)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HosterContact {
                    hoster_org: r.try_get("hoster_org")?,
                    hoster_email: r.try_get("hoster_email")?,
                    hoster_country: r.try_get("hoster_country")?,
                    cases: r.try_get("n")?,
                })
            })
            .collect()
    }

    async fn open_cases_of_hoster(
        &self,
        tenant: TenantId,
        org: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<CaseId>> {
        // Two statements rather than `$2 IS NULL`: PostgreSQL cannot type an unused NULL.
        let ids = match org {
            Some(org) => {
                sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT id FROM takedown_cases WHERE tenant_id = $1 AND hoster_org = $2 \
                     AND state IN ({}) ORDER BY id LIMIT $3",
                    open_states()
                )))
                .bind(tenant)
                .bind(org)
                .bind(i64::from(limit))
                .fetch_all(&self.read)
                .await?
            }
            None => {
                sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT id FROM takedown_cases WHERE tenant_id = $1 AND hoster_org IS NULL \
                     AND state IN ({}) ORDER BY id LIMIT $2",
                    open_states()
                )))
                .bind(tenant)
                .bind(i64::from(limit))
                .fetch_all(&self.read)
                .await?
            }
        };
        Ok(ids)
    }
}
