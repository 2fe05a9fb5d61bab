//! Operations shared by the admin API and the `schoon admin` CLI, so both do exactly the same
//! thing (and write the same audit events).

use rand::RngCore;
use schoon_core::apikey::{Credential, hash_secret, key_id_from_random, secret_from_random};
use schoon_core::{ApiKey, KeyRole, ListId, OrgId};
use store::{Actor, ImportSummary, NewApiKey, Store, StoreError};

use crate::listfile::{self, ParseOptions};
use crate::problem::Problem;

/// A fresh random credential (64-bit id, 256-bit secret).
pub fn generate_credential() -> Credential {
    let mut rng = rand::rng();
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut id);
    rng.fill_bytes(&mut secret);
    Credential {
        id: key_id_from_random(id),
        secret: secret_from_random(secret),
    }
}

/// A created key and its credential, shown exactly once.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    /// The key's metadata.
    #[schema(value_type = Object)]
    pub key: ApiKey,
    /// Bearer token `<id>.<secret>`.
    pub token: String,
    /// Basic-auth user name.
    pub key_id: String,
    /// Basic-auth password.
    pub secret: String,
}

async fn create_key(
    store: &dyn Store,
    actor: &Actor,
    tenant_id: Option<i64>,
    org_id: Option<OrgId>,
    role: KeyRole,
    label: &str,
) -> Result<CreatedKey, StoreError> {
    let cred = generate_credential();
    let key = store
        .create_api_key(
            actor,
            NewApiKey {
                id: cred.id.clone(),
                tenant_id,
                org_id,
                role,
                label: label.to_string(),
                secret_hash: hash_secret(&cred.secret),
            },
        )
        .await?;
    Ok(CreatedKey {
        key,
        token: cred.token(),
        key_id: cred.id,
        secret: cred.secret,
    })
}

/// Creates an organisation's check key.
pub async fn create_check_key(
    store: &dyn Store,
    actor: &Actor,
    org_id: OrgId,
    label: &str,
) -> Result<CreatedKey, StoreError> {
    let org = store
        .org(org_id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("organisation {org_id}")))?;
    create_key(
        store,
        actor,
        Some(org.tenant_id),
        Some(org.id),
        KeyRole::Check,
        label,
    )
    .await
}

/// Creates an instance admin token.
pub async fn create_admin_token(
    store: &dyn Store,
    actor: &Actor,
    label: &str,
) -> Result<CreatedKey, StoreError> {
    create_key(store, actor, None, None, KeyRole::Admin, label).await
}

/// Outcome of an upload.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Entries added.
    pub added: u64,
    /// Entries already on the list (or repeated in the file).
    pub duplicates: u64,
    /// PhotoDNA values skipped (proprietary, not matchable here).
    pub skipped_photodna: u64,
}

/// Parses and imports a list file: all lines valid and stored in one transaction, or nothing
/// stored and a problem listing the bad lines.
pub async fn import_list_file(
    store: &dyn Store,
    actor: &Actor,
    list_id: ListId,
    bytes: &[u8],
    opts: &ParseOptions,
    file_label: &str,
) -> Result<ImportReport, Problem> {
    store
        .list(list_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("list {list_id} not found")))?;
    let parsed = listfile::parse(bytes, opts).map_err(|(errors, total)| {
        Problem::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid-list-file",
            "Invalid list file",
            format!("{total} bad line(s); nothing was imported"),
        )
        .with_errors(errors)
    })?;
    let n = parsed.entries.len();
    let ImportSummary { added, duplicates } = store
        .import_entries(
            actor,
            list_id,
            parsed.entries,
            serde_json::json!({"file": file_label, "lines": n,
                "skipped_photodna": parsed.skipped_photodna}),
        )
        .await?;
    Ok(ImportReport {
        added,
        duplicates,
        skipped_photodna: parsed.skipped_photodna,
    })
}
