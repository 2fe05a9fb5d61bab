//! Domain records of the hash-check service: tenants, organisations, API keys, lists, entries,
//! hits. Plain data (serde), shared by the store, the server and the CLI.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::signal::{SignalType, SignalValue};

/// Database id of a tenant.
pub type TenantId = i64;
/// Database id of an organisation.
pub type OrgId = i64;
/// Database id of a hash list.
pub type ListId = i64;
/// Database id of a list entry.
pub type EntryId = i64;
/// Database id of a hit.
pub type HitId = i64;

/// Error for an enum value read from text (database or API) that we do not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownValue {
    /// Which enum.
    pub what: &'static str,
    /// The text received.
    pub value: String,
}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// The canonical text form (API, database).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue { what: $what, value: s.to_string() }),
                }
            }
        }
    };
}

text_enum!(
    /// What a hash list means.
    ListKind, "list kind", {
        /// Known illegal material: a match is a hit.
        Known => "known",
        /// Known benign material (e.g. CMS default images): a match suppresses hits.
        Allow => "allow",
    }
);

text_enum!(
    /// Legal category of an entry on a `known` list.
    Category, "category", {
        /// Internationally illegal (INHOPE baseline).
        Baseline => "baseline",
        /// Illegal under the tenant's national law only.
        National => "national",
    }
);

text_enum!(
    /// What an API key may do.
    KeyRole, "key role", {
        /// A provider's key: check hashes and media for its organisation.
        Check => "check",
        /// An instance administrator token: manage tenants, organisations, keys and lists.
        Admin => "admin",
    }
);

text_enum!(
    /// Where a hit is in its follow-up life cycle. Only `open` is produced here; the [followup]
    /// work adds the transitions.
    HitState, "hit state", {
        /// Recorded, nothing done yet.
        Open => "open",
        /// The provider said what it did.
        Acknowledged => "acknowledged",
        /// Removal verified.
        Verified => "verified",
        /// Verification found the content still there.
        VerificationFailed => "verification_failed",
        /// Deadline passed without acknowledgement.
        Overdue => "overdue",
        /// Escalated after the grace period.
        Escalated => "escalated",
        /// The entry was revoked.
        Revoked => "revoked",
    }
);

/// A hotline / national instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    /// Id.
    pub id: TenantId,
    /// Short unique name (e.g. `nl`).
    pub name: String,
    /// ISO 3166 country code, if national.
    pub country: Option<String>,
    /// Hours a provider has to act on a hit.
    pub hit_deadline_hours: i64,
    /// Bumped in the same transaction as every list change; matchers compare it to know
    /// whether they are current.
    pub list_version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// An outside company (provider, platform…) that may hold API keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organisation {
    /// Id.
    pub id: OrgId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Display name (unique per tenant).
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// An API key's metadata; the secret itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Public key id (the Basic-auth user name; the part before `.` in a Bearer token).
    pub id: String,
    /// Tenant the key works in (`None` for instance-wide admin tokens).
    pub tenant_id: Option<TenantId>,
    /// Organisation the key belongs to (`None` for admin tokens).
    pub org_id: Option<OrgId>,
    /// What the key may do.
    pub role: KeyRole,
    /// Free-text label.
    pub label: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A tenant's hash list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HashList {
    /// Id.
    pub id: ListId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Name (unique per tenant).
    pub name: String,
    /// Known or allow.
    pub kind: ListKind,
    /// Maximum PDQ Hamming distance that counts as a match.
    pub pdq_radius: u32,
    /// Minimum PDQ quality a query must have to be matched against this list (when the caller
    /// says the quality).
    pub min_quality: u32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A list entry with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Id.
    pub id: EntryId,
    /// Owning list.
    pub list_id: ListId,
    /// The signal.
    pub signal_type: SignalType,
    /// Lowercase hex value.
    pub value: String,
    /// Legal category.
    pub category: Category,
    /// Where the entry comes from (file name, partner hotline…).
    pub source: Option<String>,
    /// Who assessed it.
    pub assessor: Option<String>,
    /// When it was added.
    pub added_at: DateTime<Utc>,
    /// When it was revoked, if so.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
}

/// An entry to add (from an upload or the CLI).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    /// The signal.
    pub value: SignalValue,
    /// Legal category.
    pub category: Category,
    /// Provenance: source.
    pub source: Option<String>,
    /// Provenance: assessor.
    pub assessor: Option<String>,
}

/// The compact form of an active entry that the in-memory matcher holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveEntry {
    /// Entry id.
    pub id: EntryId,
    /// List id.
    pub list_id: ListId,
    /// The signal.
    pub value: SignalValue,
    /// Legal category.
    pub category: Category,
}

/// A hit to record: one organisation's check matched one entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewHit {
    /// Organisation that checked.
    pub org_id: OrgId,
    /// Matched entry.
    pub entry_id: EntryId,
    /// The entry's list.
    pub list_id: ListId,
    /// Type of the checked signal.
    pub signal_type: SignalType,
    /// Lowercase hex of the checked value (for re-occurrence checks in follow-up).
    pub query_value: String,
    /// Hamming distance (0 for exact matches).
    pub distance: u32,
    /// Caller's opaque content reference, if given.
    pub content_ref: Option<String>,
    /// Public URL of the content, if given.
    pub content_url: Option<String>,
}

/// A recorded hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Id.
    pub id: HitId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// The hit's details as recorded.
    #[serde(flatten)]
    pub hit: NewHit,
    /// Follow-up state.
    pub state: HitState,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When the provider must have acted.
    pub deadline: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_enums_round_trip_and_reject_unknown() {
        for k in [ListKind::Known, ListKind::Allow] {
            assert_eq!(k.as_str().parse::<ListKind>(), Ok(k));
        }
        assert_eq!(
            "verification_failed".parse::<HitState>(),
            Ok(HitState::VerificationFailed)
        );
        assert!("Known".parse::<ListKind>().is_err());
        assert_eq!(
            serde_json::to_string(&Category::National).unwrap(),
            "\"national\""
        );
    }
}
