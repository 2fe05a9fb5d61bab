//! The append-only, hash-chained audit log: event type and the chain hash.
//!
//! Each event's hash is SHA-256 over an unambiguous (length-prefixed) encoding of its fields and
//! the previous event's hash, so removing, reordering or editing any recorded event breaks every
//! later hash. Timestamps are truncated to microseconds so they survive every database.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::TenantId;

/// The `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A recorded state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Sequence number (database id, increasing).
    pub id: i64,
    /// When (UTC, microsecond precision).
    pub at: DateTime<Utc>,
    /// Tenant concerned, if any.
    pub tenant_id: Option<TenantId>,
    /// Who: `admin:<key id>`, `cli:<user>`, `system`, `key:<key id>`.
    pub actor: String,
    /// What: e.g. `list.import`, `entry.revoke`, `api_key.create`.
    pub action: String,
    /// On what: e.g. `list:3`, `api_key:k1a2…`.
    pub subject: String,
    /// Reason and details as JSON text (kept verbatim: the hash covers these exact bytes).
    pub details: String,
    /// Hash of the previous event.
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

/// The current time, truncated to what every backend stores exactly.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The canonical text of a timestamp inside the hash.
pub fn canonical_time(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Computes an event's chain hash from its fields and the previous hash.
pub fn chain_hash(
    at: &DateTime<Utc>,
    tenant_id: Option<TenantId>,
    actor: &str,
    action: &str,
    subject: &str,
    details: &str,
    prev_hash: &str,
) -> String {
    let tenant = tenant_id.map(|t| t.to_string()).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(b"schoon-audit-v1");
    for field in [
        canonical_time(at).as_str(),
        tenant.as_str(),
        actor,
        action,
        subject,
        details,
        prev_hash,
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Where a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// An event's `prev_hash` is not the previous event's hash.
    #[error("audit event {id}: prev_hash does not match the previous event")]
    Link {
        /// The event id.
        id: i64,
    },
    /// An event's hash does not match its contents.
    #[error("audit event {id}: hash does not match its contents")]
    Content {
        /// The event id.
        id: i64,
    },
}

/// Checks a complete chain from the first event on.
pub fn verify_chain(events: &[AuditEvent]) -> Result<(), ChainError> {
    let mut prev = GENESIS_HASH.to_string();
    for e in events {
        if e.prev_hash != prev {
            return Err(ChainError::Link { id: e.id });
        }
        let h = chain_hash(
            &e.at,
            e.tenant_id,
            &e.actor,
            &e.action,
            &e.subject,
            &e.details,
            &e.prev_hash,
        );
        if h != e.hash {
            return Err(ChainError::Content { id: e.id });
        }
        prev = h;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, prev: &str, action: &str) -> AuditEvent {
        let at = now();
        let hash = chain_hash(&at, Some(1), "system", action, "list:1", "{}", prev);
        AuditEvent {
            id,
            at,
            tenant_id: Some(1),
            actor: "system".into(),
            action: action.into(),
            subject: "list:1".into(),
            details: "{}".into(),
            prev_hash: prev.into(),
            hash,
        }
    }

    #[test]
    fn a_valid_chain_verifies_and_any_edit_breaks_it() {
        let a = event(1, GENESIS_HASH, "list.create");
        let b = event(2, &a.hash, "list.import");
        let c = event(3, &b.hash, "entry.revoke");
        let chain = vec![a, b, c];
        assert_eq!(verify_chain(&chain), Ok(()));

        let mut edited = chain.clone();
        edited[1].details = r#"{"reason":"x"}"#.into();
        assert_eq!(verify_chain(&edited), Err(ChainError::Content { id: 2 }));

        let mut dropped = chain.clone();
        dropped.remove(1);
        assert_eq!(verify_chain(&dropped), Err(ChainError::Link { id: 3 }));
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let at = now();
        let a = chain_hash(&at, None, "ab", "c", "s", "{}", GENESIS_HASH);
        let b = chain_hash(&at, None, "a", "bc", "s", "{}", GENESIS_HASH);
        assert_ne!(a, b);
    }
}
