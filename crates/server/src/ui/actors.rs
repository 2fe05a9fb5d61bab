//! Audit actors as people read them: `user:12` becomes "Anna de Vries (analyst)", `system:*`
//! "system", `worker:*` "schoon (automatic)"; anything else stays as stored. Pages keep the raw
//! actor next to the label (a `title` attribute) so a line can still be matched to the audit log.
//!
//! Users are named only when they belong to the viewer's tenant: another tenant's user id, or an
//! unknown one, stays `user:<id>`, so names never cross tenants.

use std::collections::{HashMap, HashSet};

use store::accounts::{User, UserId};

use super::{SignedIn, Tr};
use crate::app::AppState;

/// What an actor string denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// `user:<id>`: a UI user.
    User(UserId),
    /// `system` or `system:*`: the server itself.
    System,
    /// `worker:*`: a background worker.
    Worker,
    /// Anything else (API keys, admin tokens, providers…): shown as stored.
    Other,
}

/// Classifies an audit actor string.
pub fn classify(actor: &str) -> ActorKind {
    if let Some(id) = actor.strip_prefix("user:") {
        // Digits only: `user:+5` or `user:-1` are not ids anyone wrote.
        return match id.parse::<UserId>() {
            Ok(n) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => ActorKind::User(n),
            _ => ActorKind::Other,
        };
    }
    if actor == "system" || actor.starts_with("system:") {
        return ActorKind::System;
    }
    if actor.starts_with("worker:") {
        return ActorKind::Worker;
    }
    ActorKind::Other
}

/// An actor as a page shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Who {
    /// Readable label.
    pub label: String,
    /// The stored actor (for the `title` attribute).
    pub raw: String,
}

/// Labels for the actors of one page.
#[derive(Debug, Clone)]
pub struct ActorLabels {
    tr: Tr,
    /// Names of the viewer's tenant's users that appear on the page.
    users: HashMap<UserId, String>,
}

impl ActorLabels {
    /// Looks up the users among `actors` once each, keeping only the viewer's tenant's. A failed
    /// look-up leaves that actor raw (logged): a label is not worth failing the page for.
    pub async fn load<'a>(
        state: &AppState,
        viewer: &SignedIn,
        actors: impl IntoIterator<Item = &'a str>,
    ) -> ActorLabels {
        let tr = viewer.tr();
        let ids: HashSet<UserId> = actors
            .into_iter()
            .filter_map(|a| match classify(a) {
                ActorKind::User(id) => Some(id),
                _ => None,
            })
            .collect();
        let mut users = HashMap::new();
        for id in ids {
            match state.store.user(id).await {
                Ok(Some(u)) if u.tenant_id == viewer.user.tenant_id => {
                    users.insert(id, user_label(tr, &u));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(user = id, error = %e, "actor label look-up failed"),
            }
        }
        ActorLabels { tr, users }
    }

    /// Labels from names already known (`users` must hold the viewer's tenant's users only).
    pub fn new(tr: Tr, users: HashMap<UserId, String>) -> ActorLabels {
        ActorLabels { tr, users }
    }

    /// The label of `actor`.
    pub fn label(&self, actor: &str) -> String {
        match classify(actor) {
            ActorKind::User(id) => self
                .users
                .get(&id)
                .cloned()
                .unwrap_or_else(|| actor.to_string()),
            ActorKind::System => self.tr.t("casework.actor_system").to_string(),
            ActorKind::Worker => self.tr.t("casework.actor_worker").to_string(),
            ActorKind::Other => actor.to_string(),
        }
    }

    /// Label and raw actor.
    pub fn who(&self, actor: &str) -> Who {
        Who {
            label: self.label(actor),
            raw: actor.to_string(),
        }
    }
}

/// "Display name (role)"; the user name when no display name is set.
fn user_label(tr: Tr, u: &User) -> String {
    let name = if u.display_name.trim().is_empty() {
        &u.username
    } else {
        &u.display_name
    };
    let role = tr.t(&format!("role.{}", u.role)).to_lowercase();
    format!("{name} ({role})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::accounts::Language;

    #[test]
    fn actors_are_classified() {
        assert_eq!(classify("user:12"), ActorKind::User(12));
        assert_eq!(classify("user:"), ActorKind::Other);
        assert_eq!(classify("user:abc"), ActorKind::Other);
        assert_eq!(classify("user:+5"), ActorKind::Other);
        assert_eq!(classify("user:-1"), ActorKind::Other);
        assert_eq!(classify("system"), ActorKind::System);
        assert_eq!(classify("system:takedown"), ActorKind::System);
        assert_eq!(classify("systemd"), ActorKind::Other);
        assert_eq!(classify("worker:outbox-123"), ActorKind::Worker);
        assert_eq!(classify("admin:tok1"), ActorKind::Other);
        assert_eq!(classify("provider:7"), ActorKind::Other);
        assert_eq!(classify("key:abc"), ActorKind::Other);
        assert_eq!(classify(""), ActorKind::Other);
    }

    #[test]
    fn labels_name_known_users_only() {
        let users = HashMap::from([(12, "Anna de Vries (analyst)".to_string())]);
        let en = ActorLabels::new(Tr(Language::En), users.clone());
        assert_eq!(en.label("user:12"), "Anna de Vries (analyst)");
        // Not among the tenant's users: stays raw.
        assert_eq!(en.label("user:13"), "user:13");
        assert_eq!(en.label("system:takedown"), "system");
        assert_eq!(en.label("worker:outbox-1"), "schoon (automatic)");
        assert_eq!(en.label("admin:tok1"), "admin:tok1");
        let nl = ActorLabels::new(Tr(Language::Nl), users);
        assert_eq!(nl.label("system"), "systeem");
        assert_eq!(nl.label("worker:outbox-1"), "schoon (automatisch)");
        assert_eq!(
            nl.who("user:12"),
            Who {
                label: "Anna de Vries (analyst)".into(),
                raw: "user:12".into()
            }
        );
    }

    #[test]
    fn user_labels_carry_the_role() {
        let u = User {
            id: 12,
            tenant_id: 1,
            org_id: None,
            username: "anna".into(),
            display_name: "Anna de Vries".into(),
            role: store::accounts::Role::Analyst,
            totp_secret: None,
            totp_last_step: None,
            language: Language::Nl,
            failed_logins: 0,
            locked_until: None,
            disabled: false,
            created_at: chrono::Utc::now(),
        };
        assert_eq!(user_label(Tr(Language::En), &u), "Anna de Vries (analyst)");
        assert_eq!(user_label(Tr(Language::Nl), &u), "Anna de Vries (analist)");
        let unnamed = User {
            display_name: " ".into(),
            ..u
        };
        assert_eq!(user_label(Tr(Language::En), &unnamed), "anna (analyst)");
    }
}
