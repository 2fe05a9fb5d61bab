//! Web UI accounts: users (one tenant each, provider users also one organisation), sessions,
//! login bookkeeping (failures, lock-out) and the analysts' daily exposure counters.
//!
//! A separate trait ([`AccountStore`], a supertrait of [`crate::Store`]). The store never sees a
//! password or a session token: callers pass the Argon2id PHC string and the SHA-256 of the
//! token. Every state change writes its audit event (`user.*` on `user:<id>`, `item.reveal` on
//! `item:<id>`) in the same transaction. Times come from the caller, so lock-out and expiry are
//! testable without sleeping.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use schoon_core::report::{ItemId, ReportId};
use schoon_core::{OrgId, TenantId};
use serde::{Deserialize, Serialize};

use crate::{Actor, StoreResult};

/// User id.
pub type UserId = i64;

/// What a user may do. Pages check it; the tenant (and organisation) bound every look-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the tenant: users, policies, lists.
    Admin,
    /// Classifies reported items.
    Analyst,
    /// Second analyst (4-eyes); may also classify.
    Verifier,
    /// Police liaison.
    Police,
    /// Regulator officer.
    Regulator,
    /// A provider's user (bound to one organisation).
    Provider,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Analyst,
        Role::Verifier,
        Role::Police,
        Role::Regulator,
        Role::Provider,
    ];

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Verifier => "verifier",
            Role::Police => "police",
            Role::Regulator => "regulator",
            Role::Provider => "provider",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}"))
    }
}

/// Interface language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// Dutch (the default: the first hotline is Dutch).
    #[default]
    Nl,
    /// English.
    En,
}

impl Language {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Nl => "nl",
            Language::En => "en",
        }
    }
}

impl FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Language, String> {
        match s {
            "nl" => Ok(Language::Nl),
            "en" => Ok(Language::En),
            _ => Err(format!("unknown language {s:?}")),
        }
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Organisation (provider users only).
    pub org_id: Option<OrgId>,
    /// Unique login name.
    pub username: String,
    /// Name shown in the UI.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Base32 TOTP secret, when a second factor is set up (never serialised).
    #[serde(skip)]
    pub totp_secret: Option<String>,
    /// Last accepted TOTP step.
    #[serde(skip)]
    pub totp_last_step: Option<i64>,
    /// Language.
    pub language: Language,
    /// Consecutive failed logins.
    pub failed_logins: i64,
    /// Locked until then.
    pub locked_until: Option<DateTime<Utc>>,
    /// Disabled accounts cannot log in.
    pub disabled: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl User {
    /// The audit actor of this user.
    pub fn actor(&self) -> Actor {
        Actor(format!("user:{}", self.id))
    }

    /// Whether the account is locked at `at`.
    pub fn locked_at(&self, at: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|u| u > at)
    }
}

/// A user to create (the password is already hashed).
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Tenant.
    pub tenant_id: TenantId,
    /// Organisation (required for, and only for, provider users).
    pub org_id: Option<OrgId>,
    /// Unique login name.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Language.
    pub language: Language,
}

/// Whether a session has passed every factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStage {
    /// Password accepted; TOTP outstanding.
    Totp,
    /// Signed in.
    Full,
}

impl SessionStage {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SessionStage::Totp => "totp",
            SessionStage::Full => "full",
        }
    }
}

impl FromStr for SessionStage {
    type Err = String;
    fn from_str(s: &str) -> Result<SessionStage, String> {
        match s {
            "totp" => Ok(SessionStage::Totp),
            "full" => Ok(SessionStage::Full),
            _ => Err(format!("unknown session stage {s:?}")),
        }
    }
}

/// A stored session.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// SHA-256 hex of the cookie token.
    pub id: String,
    /// User.
    pub user_id: UserId,
    /// Stage.
    pub stage: SessionStage,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last request.
    pub last_seen: DateTime<Utc>,
    /// Absolute expiry.
    pub expires_at: DateTime<Utc>,
    /// Key of its CSRF tokens (hex).
    pub csrf_secret: String,
}

/// A session to open.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 hex of the cookie token.
    pub id: String,
    /// Stage.
    pub stage: SessionStage,
    /// Absolute expiry.
    pub expires_at: DateTime<Utc>,
    /// CSRF key (hex).
    pub csrf_secret: String,
}

/// Outcome of a failed login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailure {
    /// Consecutive failures now.
    pub failed_logins: i64,
    /// Set when this failure locked the account.
    pub locked_until: Option<DateTime<Utc>>,
}

/// Counts of a tenant's items awaiting people, for the queue page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    /// Items awaiting classification.
    pub to_classify: i64,
    /// Items awaiting a second analyst.
    pub to_verify: i64,
}

/// A report in a work queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueEntry {
    /// Report.
    pub report_id: ReportId,
    /// Reference number.
    pub reference: String,
    /// Reported URL.
    pub url: String,
    /// Its items in the queue's state.
    pub items: i64,
    /// Report created.
    pub created_at: DateTime<Utc>,
    /// Who holds the classification lock (if unexpired at query time it is shown).
    pub lock_by: Option<String>,
}

/// Account storage. Object-safe.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates a user (`Conflict` when the user name is taken, `Invalid` when the role and the
    /// organisation do not fit or the organisation is of another tenant).
    async fn create_user(&self, actor: &Actor, u: NewUser) -> StoreResult<User>;
    /// One user.
    async fn user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// A user by login name, with the stored password hash.
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<(User, String)>>;
    /// A tenant's users, by user name.
    async fn users(&self, tenant_id: TenantId) -> StoreResult<Vec<User>>;
    /// Records a failed login at `at`; the `max_failures`-th consecutive failure locks the
    /// account until `at + lock_for` (audited `user.login_failed`, and `user.lockout`).
    async fn record_login_failure(
        &self,
        id: UserId,
        at: DateTime<Utc>,
        reason: &str,
        max_failures: i64,
        lock_for: Duration,
    ) -> StoreResult<LoginFailure>;
    /// Opens a session after a correct password (audited `user.login_ok`, or
    /// `user.login_password_ok` while a TOTP is outstanding); clears the failure count.
    async fn open_session(&self, id: UserId, s: NewSession, at: DateTime<Utc>) -> StoreResult<()>;
    /// Completes a session's second factor with the accepted TOTP step (`Conflict` when that
    /// step or an earlier one was already used: a code counts once). Audited `user.login_ok`.
    async fn complete_totp(
        &self,
        session_id: &str,
        step: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// A session and its user (expired sessions are not returned).
    async fn session(&self, id: &str, at: DateTime<Utc>) -> StoreResult<Option<(Session, User)>>;
    /// Moves a session's `last_seen` (not audited: no state anyone relies on).
    async fn touch_session(&self, id: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// Ends a session (audited `user.logout`). Unknown ids are a no-op.
    async fn end_session(&self, id: &str) -> StoreResult<()>;
    /// Sets a new password hash and ends the user's other sessions (audited
    /// `user.password_changed`); `keep_session` survives.
    async fn set_password(
        &self,
        actor: &Actor,
        id: UserId,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> StoreResult<()>;
    /// Sets or clears the TOTP secret (audited `user.totp_set` / `user.totp_cleared`).
    async fn set_totp(&self, actor: &Actor, id: UserId, secret: Option<&str>) -> StoreResult<()>;
    /// Sets the interface language (audited `user.language`).
    async fn set_language(&self, actor: &Actor, id: UserId, lang: Language) -> StoreResult<()>;
    /// Disables or enables an account and unlocks it; disabling ends its sessions (audited).
    async fn set_disabled(&self, actor: &Actor, id: UserId, disabled: bool) -> StoreResult<()>;
    /// Records that the user revealed an item (audited `item.reveal` on `item:<id>`) and
    /// returns the user's count for `day`. The item must be of the user's tenant.
    async fn record_reveal(&self, user: &User, item: ItemId, day: NaiveDate) -> StoreResult<i64>;
    /// A user's reveals on `day`.
    async fn exposure(&self, id: UserId, day: NaiveDate) -> StoreResult<i64>;
    /// Every user's reveals on `day` in a tenant (for supervisors), most first.
    async fn exposures(&self, tenant_id: TenantId, day: NaiveDate)
    -> StoreResult<Vec<(User, i64)>>;
    /// Items awaiting people in a tenant.
    async fn queue_counts(&self, tenant_id: TenantId) -> StoreResult<QueueCounts>;
    /// Reports with items in `item_state` (`awaiting_classification`, `awaiting_verification`),
    /// oldest first.
    async fn queue(
        &self,
        tenant_id: TenantId,
        item_state: &str,
        limit: u32,
    ) -> StoreResult<Vec<QueueEntry>>;
}
