//! The SQL behind [`crate::casework`], compiled once per backend (see `crate::sqlite` and
//! `crate::postgres`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schoon_core::TenantId;
use schoon_core::report::ReportId;
use schoon_core::takedown::CaseId;
use sqlx::Row;

use super::common::AuditWriter;
use super::{Backend, DbRow};
use crate::casework::*;
use crate::takedown::Case;
use crate::{Actor, StoreError, StoreResult, TakedownStore, parse_ts, ts};

fn note_row(r: &DbRow) -> StoreResult<ReportNote> {
    Ok(ReportNote {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        report_id: r.try_get("report_id")?,
        author: r.try_get("author")?,
        body: r.try_get("body")?,
        created_at: parse_ts(r.try_get("created_at")?)?,
    })
}

impl Backend {
    /// Loads cases by id, in the given order (lists are short: one page of a queue).
    async fn cases_by_id(&self, ids: Vec<i64>) -> StoreResult<Vec<Case>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(c) = self.case(id).await? {
                out.push(c);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl CaseworkStore for Backend {
    async fn add_report_note(
        &self,
        actor: &Actor,
        report: ReportId,
        body: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<ReportNote> {
        let body = body.trim();
        let chars = body.chars().count();
        if chars == 0 || chars > MAX_NOTE_CHARS {
            return Err(StoreError::Invalid(format!(
                "a note has 1 to {MAX_NOTE_CHARS} characters"
            )));
        }
        let mut tx = self.begin_write().await?;
        let tenant: Option<i64> = sqlx::query_scalar("SELECT tenant_id FROM reports WHERE id = $1")
            .bind(report)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(tenant) = tenant else {
            return Err(StoreError::NotFound(format!("report {report}")));
        };
        let mut aw = AuditWriter::start(&mut tx).await?;
        let row = sqlx::query(
            "INSERT INTO report_notes (tenant_id, report_id, author, body, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING *",
        )
        .bind(tenant)
        .bind(report)
        .bind(&actor.0)
        .bind(body)
        .bind(ts(&now))
        .fetch_one(&mut *tx)
        .await?;
        let note = note_row(&row)?;
        aw.append(
            &mut tx,
            Some(tenant),
            actor,
            "report.note",
            &format!("report:{report}"),
            serde_json::json!({"note_id": note.id, "text": note.body}),
        )
        .await?;
        tx.commit().await?;
        Ok(note)
    }

    async fn report_notes(&self, report: ReportId) -> StoreResult<Vec<ReportNote>> {
        let rows = sqlx::query("SELECT * FROM report_notes WHERE report_id = $1 ORDER BY id")
            .bind(report)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(note_row).collect()
    }

    async fn report_cases(&self, report: ReportId) -> StoreResult<Vec<Case>> {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM takedown_cases WHERE report_id = $1 ORDER BY id")
                .bind(report)
                .fetch_all(&self.read)
                .await?;
        self.cases_by_id(ids).await
    }

    async fn changed_hoster_cases(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> StoreResult<(u64, Vec<Case>)> {
        const WHERE: &str = "WHERE tenant_id = $1 AND hoster_changed_at IS NOT NULL \
             AND state NOT IN ('closed', 'forwarded')";
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM takedown_cases {WHERE}"
        )))
        .bind(tenant)
        .fetch_one(&self.read)
        .await?;
        let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM takedown_cases {WHERE} ORDER BY hoster_changed_at DESC, id DESC LIMIT $2"
        )))
        .bind(tenant)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        Ok((
            u64::try_from(count).unwrap_or(0),
            self.cases_by_id(ids).await?,
        ))
    }

    async fn last_observation(&self, case: CaseId) -> StoreResult<Option<LastObservation>> {
        let row = sqlx::query(
            "SELECT at, outcome, http_status FROM observations WHERE case_id = $1 \
             ORDER BY at DESC, id DESC LIMIT 1",
        )
        .bind(case)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(LastObservation {
                at: parse_ts(r.try_get("at")?)?,
                outcome: r.try_get("outcome")?,
                http_status: r.try_get("http_status")?,
            })
        })
        .transpose()
    }

    async fn record_ip_login_failure(
        &self,
        ip: &str,
        at: DateTime<Utc>,
        since: DateTime<Utc>,
        block_at: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM login_ip_failures WHERE ip = $1 AND at < $2")
            .bind(ip)
            .bind(ts(&since))
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO login_ip_failures (ip, at) VALUES ($1, $2)")
            .bind(ip)
            .bind(ts(&at))
            .execute(&mut *tx)
            .await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM login_ip_failures WHERE ip = $1")
            .bind(ip)
            .fetch_one(&mut *tx)
            .await?;
        if n == block_at {
            let mut aw = AuditWriter::start(&mut tx).await?;
            aw.append(
                &mut tx,
                None,
                &Actor("system:login".into()),
                "login.ip_blocked",
                &format!("ip:{ip}"),
                serde_json::json!({"failures": n, "since": ts(&since)}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    async fn ip_login_failures(&self, ip: &str, since: DateTime<Utc>) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM login_ip_failures WHERE ip = $1 AND at >= $2")
                .bind(ip)
                .bind(ts(&since))
                .fetch_one(&self.read)
                .await?,
        )
    }
}
