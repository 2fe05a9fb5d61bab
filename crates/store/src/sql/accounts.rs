//! The SQL behind [`crate::accounts`], compiled once per backend (see `crate::sqlite` and
//! `crate::postgres`).

use super::common::AuditWriter;
use super::{Backend, Conn, DbRow};
use crate::accounts::*;
use crate::{Actor, StoreError, StoreResult, parse_ts, ts};
use crate::{opt_ts, parse_enum};
use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use schoon_core::TenantId;
use schoon_core::report::ItemId;
use sqlx::Row;

fn user_row(r: &DbRow) -> StoreResult<User> {
    let disabled: i64 = r.try_get("disabled")?;
    Ok(User {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        org_id: r.try_get("org_id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        role: parse_enum(r.try_get("role")?)?,
        totp_secret: r.try_get("totp_secret")?,
        totp_last_step: r.try_get("totp_last_step")?,
        language: parse_enum(r.try_get("language")?)?,
        failed_logins: r.try_get("failed_logins")?,
        locked_until: opt_ts(r.try_get("locked_until")?)?,
        disabled: disabled != 0,
        created_at: parse_ts(r.try_get("created_at")?)?,
    })
}

fn session_row(r: &DbRow) -> StoreResult<Session> {
    Ok(Session {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        stage: parse_enum(r.try_get("stage")?)?,
        created_at: parse_ts(r.try_get("created_at")?)?,
        last_seen: parse_ts(r.try_get("last_seen")?)?,
        expires_at: parse_ts(r.try_get("expires_at")?)?,
        csrf_secret: r.try_get("csrf_secret")?,
    })
}

async fn load_user(conn: &mut Conn, id: UserId) -> StoreResult<User> {
    let row = sqlx::query("SELECT * FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
    user_row(&row)
}

fn subject(id: UserId) -> String {
    format!("user:{id}")
}

#[async_trait]
impl AccountStore for Backend {
    async fn create_user(&self, actor: &Actor, u: NewUser) -> StoreResult<User> {
        let username = u.username.trim().to_string();
        if username.is_empty() || username.len() > 100 || username.chars().any(char::is_whitespace)
        {
            return Err(StoreError::Invalid(
                "a user name is 1–100 characters without spaces".into(),
            ));
        }
        if (u.role == Role::Provider) != u.org_id.is_some() {
            return Err(StoreError::Invalid(
                "provider users need an organisation; other roles have none".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        if let Some(org) = u.org_id {
            let t: Option<TenantId> =
                sqlx::query_scalar("SELECT tenant_id FROM organisations WHERE id = $1")
                    .bind(org)
                    .fetch_optional(&mut *tx)
                    .await?;
            if t != Some(u.tenant_id) {
                return Err(StoreError::Invalid(format!(
                    "organisation {org} is not in tenant {}",
                    u.tenant_id
                )));
            }
        }
        let tenant: Option<i64> = sqlx::query_scalar("SELECT id FROM tenants WHERE id = $1")
            .bind(u.tenant_id)
            .fetch_optional(&mut *tx)
            .await?;
        if tenant.is_none() {
            return Err(StoreError::NotFound(format!("tenant {}", u.tenant_id)));
        }
        let now = ts(&schoon_core::audit::now());
        let id: UserId = sqlx::query_scalar(
            "INSERT INTO users (tenant_id, org_id, username, display_name, role, password_hash, \
             language, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
             RETURNING id",
        )
        .bind(u.tenant_id)
        .bind(u.org_id)
        .bind(&username)
        .bind(&u.display_name)
        .bind(u.role.as_str())
        .bind(&u.password_hash)
        .bind(u.language.as_str())
        .bind(&now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(format!("user name {username:?} is taken"))
            }
            _ => StoreError::Database(e),
        })?;
        aw.append(
            &mut tx,
            Some(u.tenant_id),
            actor,
            "user.created",
            &subject(id),
            serde_json::json!({"username": username, "role": u.role.as_str(), "org_id": u.org_id}),
        )
        .await?;
        let user = load_user(&mut tx, id).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(user_row).transpose()
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<(User, String)>> {
        let row = sqlx::query("SELECT * FROM users WHERE username = $1")
            .bind(username.trim())
            .fetch_optional(&self.read)
            .await?;
        match row {
            Some(r) => Ok(Some((user_row(&r)?, r.try_get("password_hash")?))),
            None => Ok(None),
        }
    }

    async fn users(&self, tenant_id: TenantId) -> StoreResult<Vec<User>> {
        let rows = sqlx::query("SELECT * FROM users WHERE tenant_id = $1 ORDER BY username")
            .bind(tenant_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(user_row).collect()
    }

    async fn record_login_failure(
        &self,
        id: UserId,
        at: DateTime<Utc>,
        reason: &str,
        max_failures: i64,
        lock_for: Duration,
    ) -> StoreResult<LoginFailure> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let user = load_user(&mut tx, id).await?;
        // A failure after an expired lock starts a fresh count.
        let before = if user.locked_until.is_some_and(|u| u <= at) {
            0
        } else {
            user.failed_logins
        };
        let failed = before + 1;
        let locked_until = (failed >= max_failures.max(1)).then(|| at + lock_for);
        sqlx::query(
            "UPDATE users SET failed_logins = $1, locked_until = COALESCE($2, locked_until), \
             updated_at = $3 WHERE id = $4",
        )
        .bind(if locked_until.is_some() { 0 } else { failed })
        .bind(locked_until.as_ref().map(ts))
        .bind(ts(&at))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let actor = user.actor();
        aw.append(
            &mut tx,
            Some(user.tenant_id),
            &actor,
            "user.login_failed",
            &subject(id),
            serde_json::json!({"reason": reason, "failed_logins": failed}),
        )
        .await?;
        if let Some(until) = locked_until {
            aw.append(
                &mut tx,
                Some(user.tenant_id),
                &Actor::system(),
                "user.lockout",
                &subject(id),
                serde_json::json!({"until": ts(&until), "failed_logins": failed}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(LoginFailure {
            failed_logins: failed,
            locked_until,
        })
    }

    async fn open_session(&self, id: UserId, s: NewSession, at: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let user = load_user(&mut tx, id).await?;
        if user.disabled || user.locked_at(at) {
            return Err(StoreError::Conflict(
                "the account is locked or disabled".into(),
            ));
        }
        let now = ts(&at);
        sqlx::query(
            "INSERT INTO sessions (id, user_id, stage, created_at, last_seen, expires_at, \
             csrf_secret) VALUES ($1, $2, $3, $4, $4, $5, $6)",
        )
        .bind(&s.id)
        .bind(id)
        .bind(s.stage.as_str())
        .bind(&now)
        .bind(ts(&s.expires_at))
        .bind(&s.csrf_secret)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE users SET failed_logins = 0, locked_until = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        // Expired sessions of anyone are dropped here: logins are rare, so this stays cheap.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        let action = match s.stage {
            SessionStage::Full => "user.login_ok",
            SessionStage::Totp => "user.login_password_ok",
        };
        aw.append(
            &mut tx,
            Some(user.tenant_id),
            &user.actor(),
            action,
            &subject(id),
            serde_json::json!({"session": &s.id[..s.id.len().min(12)]}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn complete_totp(
        &self,
        session_id: &str,
        step: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let row = sqlx::query("SELECT * FROM sessions WHERE id = $1 AND expires_at > $2")
            .bind(session_id)
            .bind(ts(&at))
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound("session".into()))?;
        let s = session_row(&row)?;
        let user = load_user(&mut tx, s.user_id).await?;
        if user.totp_last_step.is_some_and(|last| step <= last) {
            return Err(StoreError::Conflict("this code was already used".into()));
        }
        sqlx::query("UPDATE sessions SET stage = 'full', last_seen = $1 WHERE id = $2")
            .bind(ts(&at))
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE users SET totp_last_step = $1, failed_logins = 0, updated_at = $2 WHERE id = $3",
        )
        .bind(step)
        .bind(ts(&at))
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
        aw.append(
            &mut tx,
            Some(user.tenant_id),
            &user.actor(),
            "user.login_ok",
            &subject(user.id),
            serde_json::json!({"second_factor": "totp", "session": &session_id[..session_id.len().min(12)]}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session(&self, id: &str, at: DateTime<Utc>) -> StoreResult<Option<(Session, User)>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE id = $1 AND expires_at > $2")
            .bind(id)
            .bind(ts(&at))
            .fetch_optional(&self.read)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let s = session_row(&row)?;
        let Some(u) = self.user(s.user_id).await? else {
            return Ok(None);
        };
        Ok(Some((s, u)))
    }

    async fn touch_session(&self, id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_seen = $1 WHERE id = $2")
            .bind(ts(&at))
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn end_session(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let user_id: Option<UserId> =
            sqlx::query_scalar("SELECT user_id FROM sessions WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(user_id) = user_id else {
            return Ok(());
        };
        let user = load_user(&mut tx, user_id).await?;
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        aw.append(
            &mut tx,
            Some(user.tenant_id),
            &user.actor(),
            "user.logout",
            &subject(user_id),
            serde_json::json!({"session": &id[..id.len().min(12)]}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_password(
        &self,
        actor: &Actor,
        id: UserId,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let user = load_user(&mut tx, id).await?;
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(ts(&schoon_core::audit::now()))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let ended =
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id IS DISTINCT FROM $2")
                .bind(id)
                .bind(keep_session)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        aw.append(
            &mut tx,
            Some(user.tenant_id),
            actor,
            "user.password_changed",
            &subject(id),
            serde_json::json!({"sessions_ended": ended}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_totp(&self, actor: &Actor, id: UserId, secret: Option<&str>) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let user = load_user(&mut tx, id).await?;
        sqlx::query(
            "UPDATE users SET totp_secret = $1, totp_last_step = NULL, updated_at = $2 WHERE id = $3",
        )
        .bind(secret)
        .bind(ts(&schoon_core::audit::now()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let action = if secret.is_some() {
            "user.totp_set"
        } else {
            "user.totp_cleared"
        };
        aw.append(
            &mut tx,
            Some(user.tenant_id),
            actor,
            action,
            &subject(id),
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_language(&self, actor: &Actor, id: UserId, lang: Language) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let user = load_user(&mut tx, id).await?;
        sqlx::query("UPDATE users SET language = $1, updated_at = $2 WHERE id = $3")
            .bind(lang.as_str())
            .bind(ts(&schoon_core::audit::now()))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        aw.append(
            &mut tx,
            Some(user.tenant_id),
            actor,
            "user.language",
            &subject(id),
            serde_json::json!({"language": lang.as_str()}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_disabled(&self, actor: &Actor, id: UserId, disabled: bool) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let user = load_user(&mut tx, id).await?;
        sqlx::query(
            "UPDATE users SET disabled = $1, failed_logins = 0, locked_until = NULL, \
             updated_at = $2 WHERE id = $3",
        )
        .bind(i64::from(disabled))
        .bind(ts(&schoon_core::audit::now()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        aw.append(
            &mut tx,
            Some(user.tenant_id),
            actor,
            if disabled {
                "user.disabled"
            } else {
                "user.enabled"
            },
            &subject(id),
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_reveal(&self, user: &User, item: ItemId, day: NaiveDate) -> StoreResult<i64> {
        let mut tx = self.begin_write().await?;
        let mut aw = AuditWriter::start(&mut tx).await?;
        let tenant: Option<TenantId> =
            sqlx::query_scalar("SELECT tenant_id FROM report_items WHERE id = $1")
                .bind(item)
                .fetch_optional(&mut *tx)
                .await?;
        if tenant != Some(user.tenant_id) {
            return Err(StoreError::NotFound(format!("item {item}")));
        }
        let day = day.format("%Y-%m-%d").to_string();
        let views: i64 = sqlx::query_scalar(
            "INSERT INTO user_exposure (user_id, day, views) VALUES ($1, $2, 1) \
             ON CONFLICT (user_id, day) DO UPDATE SET views = user_exposure.views + 1 RETURNING views",
        )
        .bind(user.id)
        .bind(&day)
        .fetch_one(&mut *tx)
        .await?;
        aw.append(
            &mut tx,
            Some(user.tenant_id),
            &user.actor(),
            "item.reveal",
            &format!("item:{item}"),
            serde_json::json!({"day": day, "views_today": views}),
        )
        .await?;
        tx.commit().await?;
        Ok(views)
    }

    async fn exposure(&self, id: UserId, day: NaiveDate) -> StoreResult<i64> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT views FROM user_exposure WHERE user_id = $1 AND day = $2")
                .bind(id)
                .bind(day.format("%Y-%m-%d").to_string())
                .fetch_optional(&self.read)
                .await?;
        Ok(v.unwrap_or(0))
    }

    async fn exposures(
        &self,
        tenant_id: TenantId,
        day: NaiveDate,
    ) -> StoreResult<Vec<(User, i64)>> {
        let rows = sqlx::query(
            "SELECT u.*, e.views AS views FROM user_exposure e JOIN users u ON u.id = e.user_id \
             WHERE u.tenant_id = $1 AND e.day = $2 ORDER BY e.views DESC, u.username",
        )
        .bind(tenant_id)
        .bind(day.format("%Y-%m-%d").to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((user_row(r)?, r.try_get("views")?)))
            .collect()
    }

    async fn queue_counts(&self, tenant_id: TenantId) -> StoreResult<QueueCounts> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT state, COUNT(*) FROM report_items WHERE tenant_id = $1 \
             AND state IN ('awaiting_classification', 'awaiting_verification') GROUP BY state",
        )
        .bind(tenant_id)
        .fetch_all(&self.read)
        .await?;
        let mut c = QueueCounts::default();
        for (state, n) in rows {
            match state.as_str() {
                "awaiting_classification" => c.to_classify = n,
                _ => c.to_verify = n,
            }
        }
        Ok(c)
    }

    async fn queue(
        &self,
        tenant_id: TenantId,
        item_state: &str,
        limit: u32,
    ) -> StoreResult<Vec<QueueEntry>> {
        let rows = sqlx::query(
            "SELECT r.id, r.reference, r.url, r.created_at, r.lock_by, r.lock_until, \
             COUNT(i.id) AS n FROM reports r JOIN report_items i ON i.report_id = r.id \
             WHERE r.tenant_id = $1 AND i.state = $2 GROUP BY r.id ORDER BY r.created_at, r.id \
             LIMIT $3",
        )
        .bind(tenant_id)
        .bind(item_state)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        let now = schoon_core::audit::now();
        rows.iter()
            .map(|r| {
                let until = opt_ts(r.try_get("lock_until")?)?;
                let lock_by: Option<String> = r.try_get("lock_by")?;
                Ok(QueueEntry {
                    report_id: r.try_get("id")?,
                    reference: r.try_get("reference")?,
                    url: r.try_get("url")?,
                    items: r.try_get("n")?,
                    created_at: parse_ts(r.try_get("created_at")?)?,
                    lock_by: lock_by.filter(|_| until.is_some_and(|u| u > now)),
                })
            })
            .collect()
    }
}
