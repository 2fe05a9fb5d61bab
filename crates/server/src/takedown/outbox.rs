//! The notice outbox: at most once across crashes.
//!
//! ```text
//! queued ──claim (committed, with a lease)──► sending ──SMTP──► sent | rejected
//!   ▲                                            │  │
//!   └──── temporary failure (4xx, no connection) ─┘  │
//!         due again after a growing delay            │
//!                         lease ran out (crash between SMTP and record)
//!                                                ▼
//!                                         delivery_unknown ──human──► sent | queued (same Message-ID)
//! ```
//!
//! A temporary failure (greylisting, a full mailbox, a relay that is down) is retried as a mail
//! server would: after 5 min, 15 min, 30 min, 1 h, 2 h, 4 h, 8 h and 12 h, each moved into the
//! tenant's sending window (police referrals ignore it); after the last one the notice is
//! `rejected` with the last reply, like a permanent (5xx) refusal.
//!
//! A notice is claimed in its own committed transaction *before* the SMTP dialogue, and the
//! result is recorded after it. If the process dies in between, nobody knows whether the relay
//! took the message, so the notice is never re-sent automatically: when its lease has run out
//! it becomes `delivery_unknown` (start-up and every round), and a human confirms it went out or
//! re-queues it. A re-queued notice builds the identical message (same reference → same
//! Message-ID and bytes), so the receiving side can de-duplicate.
//!
//! Crash testing: with `SCHOON_FAILPOINT=after-smtp-send` the process aborts right after the
//! relay accepted a message and before the delivery is recorded.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schoon_core::report::{Attributes, Classification};
use schoon_core::takedown::{LadderRung, next_send_time};
use schoon_notify::{
    CsamGrade, Detection, Digests, Language, LegalCategory, MailLayout, MediaKind, NoticeItem,
    Recipient, Renderer, SmtpConfig, SmtpCredentials, SmtpSender, Step, StepKind, TlsMode,
};
use store::reports::Item;
use store::takedown::{Case, Delivery, Notice};

use crate::app::AppState;
use crate::takedown::MailConfig;

/// The failpoint variable and the value that aborts after SMTP accepted.
pub const FAILPOINT_ENV: &str = "SCHOON_FAILPOINT";
/// See [`FAILPOINT_ENV`].
pub const FAILPOINT_AFTER_SEND: &str = "after-smtp-send";

/// Notices claimed at once. One: a claimed notice is `sending` until recorded, so a worker that
/// dies leaves only the notice it was actually sending in doubt (`delivery_unknown`), not a
/// batch of notices it never got to; and each lease covers one SMTP dialogue, not a batch.
const CLAIM_BATCH: u32 = 1;
/// Claims per tick.
const MAX_CLAIMS_PER_ROUND: usize = 200;
/// Delays before the retries after temporary SMTP failures, in minutes (about 28 h in all).
const RETRY_DELAYS_MINUTES: [i64; 8] = [5, 15, 30, 60, 120, 240, 480, 720];

/// How long to wait after the `deferrals`-th temporary failure before trying again (`None`:
/// the retries are used up).
pub fn retry_delay(deferrals: u32) -> Option<chrono::Duration> {
    let i = usize::try_from(deferrals).ok()?;
    RETRY_DELAYS_MINUTES
        .get(i)
        .map(|m| chrono::Duration::minutes(*m))
}

/// The notify rung of an e-mail ladder rung (`None` for the regulator: no e-mail).
pub fn step_kind(rung: LadderRung) -> Option<StepKind> {
    Some(match rung {
        LadderRung::Hoster => StepKind::Hoster,
        LadderRung::Cdn => StepKind::Cdn,
        LadderRung::SiteOwner => StepKind::SiteOwner,
        LadderRung::Registrar => StepKind::Registrar,
        LadderRung::Police => StepKind::Police,
        LadderRung::Regulator => return None,
    })
}

/// The sender profile from `[takedown.mail]`; `Err` names what is missing.
pub fn sender_profile(m: &MailConfig) -> Result<schoon_notify::Tenant, String> {
    let need = |name: &str, v: &Option<String>| {
        v.clone()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| format!("takedown.mail.{name} is not set"))
    };
    let from = need("from", &m.from)?;
    let domain = match &m.domain {
        Some(d) if !d.trim().is_empty() => d.clone(),
        _ => from
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
            .ok_or("takedown.mail.domain is not set")?,
    };
    Ok(schoon_notify::Tenant {
        name: need("tenant_name", &m.tenant_name)?,
        domain,
        bounce_address: m.bounce.clone().unwrap_or_else(|| from.clone()),
        contact_address: m.contact.clone().unwrap_or_else(|| from.clone()),
        from_address: from,
        reply_to: m.contact.clone(),
        website: m.response_base_url.clone(),
        language: parse_language(&m.language).unwrap_or(Language::Nl),
    })
}

fn parse_language(s: &str) -> Option<Language> {
    match s.trim().to_ascii_lowercase().as_str() {
        "nl" => Some(Language::Nl),
        "en" => Some(Language::En),
        _ => None,
    }
}

/// The SMTP settings from `[takedown.mail]` (`None` when no relay is configured).
pub fn smtp_config(m: &MailConfig) -> Result<Option<SmtpConfig>, String> {
    let Some(host) = m.smtp_host.clone().filter(|h| !h.trim().is_empty()) else {
        return Ok(None);
    };
    let tls = match m.smtp_tls.trim().to_ascii_lowercase().as_str() {
        "starttls" => TlsMode::StartTls,
        "tls" | "implicit" => TlsMode::Implicit,
        "none" | "plain" => TlsMode::Plain,
        other => {
            return Err(format!(
                "takedown.mail.smtp_tls must be starttls, tls or none, got {other:?}"
            ));
        }
    };
    let credentials = m.smtp_username.clone().map(|username| SmtpCredentials {
        username,
        password: m.smtp_password.clone().unwrap_or_default(),
    });
    Ok(Some(SmtpConfig {
        host,
        port: m.smtp_port,
        tls,
        credentials,
        timeout: Duration::from_secs(m.smtp_timeout_secs.max(1)),
        hello_name: m.domain.clone(),
        extra_root_certificates_pem: None,
    }))
}

/// Legal category and grade of an item for the notice.
///
/// XARF has no value for "national only", so a national item needs an industry grade: from
/// the age group when the analyst gave one (prepubescent → A, pubescent → B); the act is not
/// recorded yet, so the lesser "2" (exhibition) is claimed, and B2 when nothing is known — a
/// notice must never claim more than the verdict says.
pub fn legal(
    classification: Option<Classification>,
    attributes: Option<&Attributes>,
) -> (LegalCategory, Option<CsamGrade>) {
    let age = attributes
        .and_then(|a| a.age_group.as_deref())
        .map(str::to_ascii_lowercase);
    let grade = match age.as_deref() {
        Some("infant" | "toddler" | "prepubescent") => Some(CsamGrade::A2),
        Some("pubescent") => Some(CsamGrade::B2),
        _ => None,
    };
    match classification {
        Some(Classification::National) => (LegalCategory::National, grade.or(Some(CsamGrade::B2))),
        _ => (LegalCategory::Baseline, grade),
    }
}

fn hex_or_none(v: &Option<String>, len: usize) -> Option<String> {
    v.as_ref()
        .filter(|s| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|s| s.to_ascii_lowercase())
}

/// One notice line from a case and its report item (identifiers only, never the material).
pub fn notice_item(case: &Case, item: Option<&Item>, first_seen: DateTime<Utc>) -> NoticeItem {
    let (legal_category, grade) = legal(
        item.and_then(|i| i.classification),
        item.and_then(|i| i.attributes.as_ref()),
    );
    let detection = match item.and_then(|i| i.classified_how.as_deref()) {
        Some("auto" | "inherited") => Detection::HashMatch,
        _ => Detection::ManualReview,
    };
    let media = item.and_then(|i| i.content_type.as_deref()).and_then(|ct| {
        if ct.starts_with("image/") {
            Some(MediaKind::Image)
        } else if ct.starts_with("video/") {
            Some(MediaKind::Video)
        } else {
            None
        }
    });
    NoticeItem {
        url: case.url.clone(),
        first_seen,
        last_seen_online: None,
        digests: Digests {
            md5: item.and_then(|i| hex_or_none(&i.md5, 32)),
            sha1: item.and_then(|i| hex_or_none(&i.sha1, 40)),
            sha256: item.and_then(|i| hex_or_none(&i.sha256, 64)),
        },
        pdq: item.and_then(|i| hex_or_none(&i.pdq, 64)),
        legal_category,
        grade,
        detection,
        media,
        ip: case.contacts.ip.as_deref().and_then(|s| s.parse().ok()),
        asn: case.contacts.asn.filter(|a| *a != 0),
        hosting_org: case
            .contacts
            .hoster_org
            .clone()
            .filter(|o| !o.chars().any(char::is_control)),
    }
}

/// The notify input for a stored notice.
pub fn build_notice(
    tenant: &schoon_notify::Tenant,
    n: &Notice,
    items: Vec<NoticeItem>,
    response_link: Option<String>,
) -> Option<schoon_notify::Notice> {
    let kind = step_kind(n.rung)?;
    // A notice may group first notices and reminders; it counts as a reminder only if every
    // case in it is one (the lowest sequence), so a first notice never reads as a reminder.
    let sequence = n.items.iter().map(|i| i.sequence).min().unwrap_or(0);
    Some(schoon_notify::Notice {
        tenant: tenant.clone(),
        reference: n.reference.clone(),
        step: Step { kind, sequence },
        recipient: Recipient {
            email: n.recipient_email.clone(),
            name: None,
            organisation: n.recipient_org.clone(),
            language: n.language.as_deref().and_then(parse_language),
        },
        items,
        response_link,
        created_at: n.created_at,
    })
}

fn renderer() -> Option<&'static Renderer> {
    static R: OnceLock<Option<Renderer>> = OnceLock::new();
    R.get_or_init(|| match Renderer::builtin() {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!(error = %e, "built-in notice templates do not compile");
            None
        }
    })
    .as_ref()
}

/// The outbox tick: recover stuck notices, then claim, build, send and record.
pub async fn tick(state: AppState) -> anyhow::Result<()> {
    let td = &state.takedown;
    if !td.config.enabled {
        return Ok(());
    }
    recover(&state).await?;
    let mail = &td.config.mail;
    let smtp = match smtp_config(mail) {
        Ok(Some(c)) => c,
        Ok(None) => return Ok(()), // no relay: notices stay queued, visible in the API
        Err(e) => anyhow::bail!(e),
    };
    let profile = sender_profile(mail).map_err(anyhow::Error::msg)?;
    let Some(renderer) = renderer() else {
        return Ok(());
    };
    let sender = SmtpSender::new(&smtp)?;
    let worker = format!("outbox-{}", std::process::id());
    let lease = chrono::Duration::seconds(i64::try_from(mail.notice_lease_secs.max(1))?);
    // Bounded: a round never monopolises the runner.
    for _ in 0..MAX_CLAIMS_PER_ROUND {
        let claimed = state
            .store
            .claim_notices(&worker, state.clock.now(), lease, CLAIM_BATCH)
            .await?;
        if claimed.is_empty() {
            return Ok(());
        }
        for n in claimed {
            send_one(&state, &sender, renderer, &profile, &worker, n).await?;
        }
    }
    Ok(())
}

/// `sending` notices whose lease ran out → `delivery_unknown` (never re-sent automatically).
pub async fn recover(state: &AppState) -> anyhow::Result<()> {
    let stuck = state.store.recover_stuck_notices(state.clock.now()).await?;
    for n in &stuck {
        tracing::warn!(
            notice = n.id,
            reference = %n.reference,
            "notice was being sent when a worker stopped: delivery unknown, needs a human decision"
        );
    }
    Ok(())
}

async fn send_one(
    state: &AppState,
    sender: &SmtpSender,
    renderer: &Renderer,
    profile: &schoon_notify::Tenant,
    worker: &str,
    n: Notice,
) -> anyhow::Result<()> {
    let td = &state.takedown;
    let mut items = Vec::with_capacity(n.items.len());
    let mut first_seen: HashMap<i64, DateTime<Utc>> = HashMap::new();
    for r in &n.items {
        let Some(case) = state.store.case(r.case_id).await? else {
            continue;
        };
        let item = state.store.item(case.item_id).await?;
        let seen = match first_seen.get(&case.report_id) {
            Some(t) => *t,
            None => {
                let t = state
                    .store
                    .report(case.report_id)
                    .await?
                    .map(|r| r.created_at)
                    .unwrap_or(case.created_at);
                first_seen.insert(case.report_id, t);
                t
            }
        };
        items.push(notice_item(&case, item.as_ref(), seen));
    }
    let link = td
        .config
        .mail
        .response_base_url
        .as_deref()
        .map(|base| super::respond::response_link(base, &td.link_key, &n.reference));
    let built = match build_notice(profile, &n, items, link) {
        Some(notice) => schoon_notify::build_mails(renderer, &notice, MailLayout::Grouped)
            .map_err(|e| e.to_string()),
        None => Err(format!("the {} rung has no e-mail", n.rung)),
    };
    let mails = match built {
        Ok(m) => m,
        Err(e) => {
            // Nothing went out; the notice cannot be built as stored (bad address…): rejected.
            tracing::warn!(notice = n.id, error = %e, "notice cannot be built");
            state
                .store
                .record_delivery(
                    n.id,
                    worker,
                    Delivery {
                        accepted: false,
                        smtp_code: None,
                        smtp_message: format!("not sent: {e}"),
                        message_id: String::new(),
                        at: state.clock.now(),
                    },
                )
                .await?;
            return Ok(());
        }
    };
    // Grouped layout: exactly one message per notice.
    let Some(mail) = mails.first() else {
        return Ok(());
    };
    let result = sender.send(mail).await;
    if let schoon_notify::DeliveryResult::Temporary { code, message } = &result
        && let Some(delay) = retry_delay(n.deferrals)
    {
        let now = state.clock.now();
        // Police referrals ignore the sending window, as when they were queued.
        let retry_at = if n.rung == LadderRung::Police {
            now + delay
        } else {
            let policy = state.store.takedown_policy(n.tenant_id).await?;
            next_send_time(policy.sending_window.as_ref(), now + delay)
        };
        let deferred = state
            .store
            .defer_delivery(
                n.id,
                worker,
                Delivery {
                    accepted: false,
                    smtp_code: *code,
                    smtp_message: format!("temporary: {message}"),
                    message_id: mail.message_id.clone(),
                    at: now,
                },
                retry_at,
            )
            .await?;
        tracing::warn!(
            notice = n.id,
            deferrals = deferred.deferrals,
            %retry_at,
            "temporary SMTP failure: notice queued again"
        );
        return Ok(());
    }
    let (accepted, code, message) = match &result {
        schoon_notify::DeliveryResult::Accepted { code, message } => {
            (true, Some(*code), message.clone())
        }
        schoon_notify::DeliveryResult::Temporary { code, message } => (
            false,
            *code,
            format!(
                "temporary, given up after {} retries: {message}",
                n.deferrals
            ),
        ),
        schoon_notify::DeliveryResult::Permanent { code, message } => {
            (false, *code, message.clone())
        }
    };
    if accepted && std::env::var(FAILPOINT_ENV).as_deref() == Ok(FAILPOINT_AFTER_SEND) {
        tracing::error!(notice = n.id, "failpoint after-smtp-send: aborting");
        std::process::abort();
    }
    let recorded = state
        .store
        .record_delivery(
            n.id,
            worker,
            Delivery {
                accepted,
                smtp_code: code,
                smtp_message: message,
                message_id: mail.message_id.clone(),
                at: state.clock.now(),
            },
        )
        .await?;
    tracing::info!(
        notice = n.id,
        state = %recorded.state,
        "notice delivery recorded"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_failures_are_retried_with_growing_delays_then_given_up() {
        let delays: Vec<i64> = (0..)
            .map_while(retry_delay)
            .map(|d| d.num_minutes())
            .collect();
        assert_eq!(delays, [5, 15, 30, 60, 120, 240, 480, 720]);
        assert!(delays.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(retry_delay(8), None);
        assert_eq!(retry_delay(u32::MAX), None);
    }

    #[test]
    fn national_items_never_claim_more_than_the_verdict() {
        let attrs = |age: &str| Attributes {
            age_group: Some(age.into()),
            ..Attributes::default()
        };
        assert_eq!(
            legal(Some(Classification::Baseline), None),
            (LegalCategory::Baseline, None)
        );
        assert_eq!(
            legal(Some(Classification::National), None),
            (LegalCategory::National, Some(CsamGrade::B2))
        );
        assert_eq!(
            legal(Some(Classification::National), Some(&attrs("prepubescent"))),
            (LegalCategory::National, Some(CsamGrade::A2))
        );
        assert_eq!(
            legal(Some(Classification::Baseline), Some(&attrs("pubescent"))),
            (LegalCategory::Baseline, Some(CsamGrade::B2))
        );
    }

    #[test]
    fn every_email_rung_maps_to_a_notify_step() {
        for r in [
            LadderRung::Hoster,
            LadderRung::Cdn,
            LadderRung::SiteOwner,
            LadderRung::Registrar,
            LadderRung::Police,
        ] {
            assert!(step_kind(r).is_some(), "{r}");
        }
        assert_eq!(step_kind(LadderRung::Regulator), None);
    }

    #[test]
    fn sender_profile_needs_from_and_name() {
        let mut m = MailConfig::default();
        assert!(sender_profile(&m).is_err());
        m.from = Some("notices@meldpunt.example".into());
        m.tenant_name = Some("Meldpunt".into());
        let t = sender_profile(&m).unwrap();
        assert_eq!(t.domain, "meldpunt.example");
        assert_eq!(t.bounce_address, "notices@meldpunt.example");
        m.smtp_host = Some("127.0.0.1".into());
        m.smtp_tls = "bogus".into();
        assert!(smtp_config(&m).is_err());
        m.smtp_tls = "none".into();
        assert_eq!(smtp_config(&m).unwrap().unwrap().tls, TlsMode::Plain);
    }
}
