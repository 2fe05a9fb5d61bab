//! The escalation ladder tick: which notices are due, grouped per recipient.
//!
//! Per tenant: the cases on the ladder (`monitoring`, and `police_hold` for the police referral)
//! → [`schoon_core::takedown::due_steps`] with the tenant's policy → e-mail steps grouped per
//! (recipient address, rung, held) → one notice per group
//! ([`store::TakedownStore::enqueue_notice`]), due at the next moment inside the policy's sending
//! window. The regulator rung is an escalation record (the regulator module picks it up); the
//! police rung is an escalation record plus, when a police address is configured, a notice.
//!
//! "Never twice for the same step" is the store's UNIQUE (case, rung, sequence): if another node
//! took a step first, the grouped insert writes nothing and the group is retried case by case,
//! so the other cases still get their notice in this round.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use schoon_core::takedown::{
    CaseId, CaseState, DueStep, LadderRung, TakedownPolicy, due_steps, next_send_time,
};
use store::Actor;
use store::takedown::{Case, CaseEscalationKind, LadderCase, NewNotice, NoticeState};

use crate::app::AppState;

/// Cases read per page.
const LADDER_BATCH: u32 = 5000;
/// Unsent notices read per state per round (to hold back further steps of their cases).
const PENDING_LIMIT: u32 = 10_000;

fn system_actor() -> Actor {
    Actor("system:takedown-ladder".into())
}

/// Where one e-mail step goes: `(address, organisation)`; `None` when the case has no contact
/// for that rung (it then waits, visible on the case, instead of mailing someone else).
pub fn recipient(
    case: &Case,
    rung: LadderRung,
    police_email: Option<&str>,
) -> Option<(String, Option<String>)> {
    let c = &case.contacts;
    fn nonempty(s: &Option<String>) -> Option<&str> {
        s.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    let (email, org) = match rung {
        LadderRung::Hoster => (nonempty(&c.hoster_email), c.hoster_org.clone()),
        LadderRung::Cdn => (nonempty(&c.cdn_email), c.cdn_org.clone()),
        LadderRung::SiteOwner => (nonempty(&c.site_owner_email), None),
        LadderRung::Registrar => (nonempty(&c.registrar_email), c.registrar_name.clone()),
        LadderRung::Police => (police_email.map(str::trim).filter(|s| !s.is_empty()), None),
        LadderRung::Regulator => (None, None),
    };
    email.map(|e| (e.to_ascii_lowercase(), org))
}

/// One notice to be: a recipient, a rung and the (case, sequence) steps it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedNotice {
    /// Recipient address (lower case).
    pub email: String,
    /// Recipient organisation, when known.
    pub org: Option<String>,
    /// Rung.
    pub rung: LadderRung,
    /// Enqueued `held` (the case is on police hold).
    pub held: bool,
    /// The steps.
    pub items: Vec<(CaseId, u32)>,
}

/// What one tenant's ladder round decided.
#[derive(Debug, Default)]
pub struct LadderPlan {
    /// Notices to enqueue.
    pub notices: Vec<PlannedNotice>,
    /// Escalation records to write: (case, kind, reason).
    pub escalations: Vec<(CaseId, CaseEscalationKind, String)>,
    /// Steps that are due but have no recipient: (case, rung).
    pub missing: Vec<(CaseId, LadderRung)>,
}

/// Plans one round for one tenant (pure: no I/O). `pending` holds the (case, rung) pairs with
/// a notice not yet out (queued, held or sending): no further step of that rung is queued for
/// the case until it has gone, so a notice delayed by the sending window is not followed by a
/// pile of reminders leaving at the same moment.
pub fn plan(
    cases: &[LadderCase],
    pending: &HashSet<(CaseId, LadderRung)>,
    policy: &TakedownPolicy,
    police_email: Option<&str>,
    now: DateTime<Utc>,
) -> LadderPlan {
    let mut out = LadderPlan::default();
    // Keyed by the rung's text: the rung enum has no order; the text gives a stable one.
    let mut groups: BTreeMap<(String, &'static str, bool), PlannedNotice> = BTreeMap::new();
    for lc in cases {
        let case = &lc.case;
        for DueStep { rung, sequence, .. } in due_steps(&lc.ladder, policy, now) {
            if pending.contains(&(case.id, rung)) {
                continue;
            }
            match rung {
                LadderRung::Regulator => {
                    let hours = policy.regulator_after_hours.unwrap_or_default();
                    out.escalations.push((
                        case.id,
                        CaseEscalationKind::Regulator,
                        format!("still online {hours} h after the ladder started"),
                    ));
                    continue;
                }
                LadderRung::Police => {
                    let why = if lc.ladder.police_first {
                        "marked police first".to_owned()
                    } else {
                        format!(
                            "still online {} h after the ladder started",
                            policy.police_after_hours.unwrap_or_default()
                        )
                    };
                    out.escalations
                        .push((case.id, CaseEscalationKind::Police, why));
                }
                _ => {}
            }
            let Some((email, org)) = recipient(case, rung, police_email) else {
                if rung != LadderRung::Police {
                    out.missing.push((case.id, rung));
                }
                continue;
            };
            // A case on police hold gets only its police referral now; anything else is held
            // until the police release it (the referral itself is never held).
            let held = case.state == CaseState::PoliceHold && rung != LadderRung::Police;
            let g = groups
                .entry((email.clone(), rung.as_str(), held))
                .or_insert_with(|| PlannedNotice {
                    email,
                    org: None,
                    rung,
                    held,
                    items: Vec::new(),
                });
            if g.org.is_none() {
                g.org = org;
            }
            g.items.push((case.id, sequence));
        }
    }
    for (_, g) in groups {
        // Mail size and readability: at most MAX_ITEMS URLs per notice.
        for chunk in g.items.chunks(schoon_notify::MAX_ITEMS) {
            out.notices.push(PlannedNotice {
                items: chunk.to_vec(),
                ..g.clone()
            });
        }
    }
    out
}

/// The ladder tick (registered with the job runner; idempotent).
pub async fn tick(state: AppState) -> anyhow::Result<()> {
    let td = &state.takedown;
    if !td.config.enabled {
        return Ok(());
    }
    let police_email = td.config.mail.police_email.clone();
    for tenant in state.store.tenants().await? {
        let policy = state.store.takedown_policy(tenant.id).await?;
        let mut pending = HashSet::new();
        for st in [NoticeState::Queued, NoticeState::Held, NoticeState::Sending] {
            for n in state
                .store
                .notices(tenant.id, Some(st), PENDING_LIMIT)
                .await?
            {
                pending.extend(n.items.iter().map(|i| (i.case_id, n.rung)));
            }
        }
        let mut after = 0;
        loop {
            let cases = state
                .store
                .ladder_cases_after(tenant.id, after, LADDER_BATCH)
                .await?;
            let Some(last) = cases.last() else { break };
            after = last.case.id;
            let now = state.clock.now();
            let p = plan(&cases, &pending, &policy, police_email.as_deref(), now);
            run_plan(&state, tenant.id, &policy, p, now).await?;
            if cases.len() < LADDER_BATCH as usize {
                break;
            }
        }
    }
    Ok(())
}

async fn run_plan(
    state: &AppState,
    tenant: schoon_core::TenantId,
    policy: &TakedownPolicy,
    p: LadderPlan,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let actor = system_actor();
    for (case, kind, reason) in &p.escalations {
        if state
            .store
            .escalate_case(&actor, *case, *kind, reason, now)
            .await?
        {
            tracing::info!(case, ?kind, "case escalated");
        }
    }
    for (case, rung) in &p.missing {
        tracing::debug!(case, %rung, "due step without a contact");
    }
    for n in p.notices {
        // Police referrals ignore the sending window (office hours are for abuse desks).
        let due_at = if n.rung == LadderRung::Police {
            now
        } else {
            next_send_time(policy.sending_window.as_ref(), now)
        };
        let new = |items: Vec<(CaseId, u32)>| NewNotice {
            tenant_id: tenant,
            rung: n.rung,
            recipient_email: n.email.clone(),
            recipient_org: n.org.clone(),
            language: None,
            due_at,
            held: n.held,
            items,
        };
        match state
            .store
            .enqueue_notice(&actor, new(n.items.clone()), now)
            .await?
        {
            Some(notice) => {
                tracing::info!(
                    notice = notice.id,
                    rung = %n.rung,
                    items = n.items.len(),
                    held = n.held,
                    "notice queued"
                );
            }
            // Some step was taken meanwhile (another node): the rest one by one.
            None if n.items.len() > 1 => {
                for item in &n.items {
                    state
                        .store
                        .enqueue_notice(&actor, new(vec![*item]), now)
                        .await?;
                }
            }
            None => {}
        }
    }
    Ok(())
}
