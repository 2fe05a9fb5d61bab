//! Domain rules and notice templates, read-only: both are files today. The attribution rules
//! are a JSON file ([`attribution::RuleSet`]) loaded at start-up from
//! `[takedown.attribution] rules` (default `<data_dir>/attribution/rules.json`) and again when
//! it changes (`reload_secs`); the notice templates are the ones built into `schoon-notify`
//! (`crates/notify/templates/{nl,en}/`). The page shows where each comes from, the rules in use
//! (or why the current file was refused), and a preview of every template rendered with sample
//! data (no real case) in Dutch and English.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use chrono::Duration;
use schoon_notify::{
    Detection, Digests, Language, LegalCategory, MediaKind, Notice, NoticeItem, Recipient, Step,
    StepKind, TemplateSet,
};

use super::admin;
use crate::app::AppState;
use crate::ui::{Page, SignedIn, UiResult, render};

/// A rule as shown.
#[derive(Debug, Clone)]
pub struct RuleRow {
    /// `domain` or `host`.
    pub scope_kind: &'static str,
    /// The domain or host.
    pub scope: String,
    /// Forced hoster.
    pub hoster: String,
    /// Forced registrar.
    pub registrar: String,
    /// Site owner contact.
    pub site_owner: String,
    /// Proxy / origin.
    pub proxy: String,
    /// Do not scrape.
    pub no_scrape: bool,
    /// Why.
    pub note: String,
}

/// One language's rendered preview.
#[derive(Debug, Clone)]
pub struct Preview {
    /// `nl` / `en`.
    pub code: &'static str,
    /// Language name (translated).
    pub label: &'static str,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body (shown as source).
    pub html: String,
    /// Why it could not be rendered.
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/manage_rules.html")]
struct RulesPage {
    page: Page,
    rules_path: String,
    rules_state: &'static str,
    rules_error: String,
    rules: Vec<RuleRow>,
    previews: Vec<Preview>,
    profile_note: String,
}

fn contact(c: &Option<attribution::RuleContact>) -> String {
    c.as_ref()
        .map(|c| {
            let mut s = c.organisation.clone();
            if let Some(e) = &c.abuse_email {
                s.push_str(&format!(" <{e}>"));
            }
            if let Some(k) = &c.country {
                s.push_str(&format!(" ({k})"));
            }
            s
        })
        .unwrap_or_default()
}

fn rule_row(r: &attribution::Rule) -> RuleRow {
    let (scope_kind, scope) = match &r.scope {
        attribution::RuleScope::Domain(d) => ("domain", d.clone()),
        attribution::RuleScope::Host(h) => ("host", h.clone()),
    };
    let proxy = r
        .proxy
        .as_ref()
        .map(|p| {
            let mut parts = vec![contact(&p.proxy)];
            if !p.origin_ips.is_empty() {
                let ips: Vec<String> = p.origin_ips.iter().map(|i| i.to_string()).collect();
                parts.push(format!("origin {}", ips.join(", ")));
            }
            if let Some(h) = &p.origin_host {
                parts.push(format!("origin {h}"));
            }
            parts.retain(|s| !s.is_empty());
            parts.join("; ")
        })
        .unwrap_or_default();
    RuleRow {
        scope_kind,
        scope,
        hoster: contact(&r.hoster),
        registrar: contact(&r.registrar),
        site_owner: contact(&r.site_owner),
        proxy,
        no_scrape: r.do_not_scrape == Some(true),
        note: r.note.clone().unwrap_or_default(),
    }
}

/// The sample notice the preview renders (documentation addresses and networks only).
pub fn sample_notice(
    tenant: schoon_notify::Tenant,
    language: Language,
    prefix: &str,
    now: chrono::DateTime<chrono::Utc>,
    response_link: String,
) -> Notice {
    Notice {
        tenant,
        reference: format!("{prefix}-N-1"),
        step: Step {
            kind: StepKind::Hoster,
            sequence: 0,
        },
        recipient: Recipient {
            email: "abuse@hosting.example".into(),
            name: None,
            organisation: Some("Example Hosting B.V.".into()),
            language: Some(language),
        },
        items: vec![NoticeItem {
            url: "https://files.example.net/gallery/0001.jpg".into(),
            first_seen: now - Duration::days(2),
            last_seen_online: Some(now - Duration::hours(1)),
            digests: Digests {
                md5: Some("0123456789abcdef0123456789abcdef".into()),
                sha1: None,
                sha256: Some(
                    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff".into(),
                ),
            },
            pdq: None,
            legal_category: LegalCategory::Baseline,
            grade: None,
            detection: Detection::ManualReview,
            media: Some(MediaKind::Image),
            ip: "192.0.2.10".parse().ok(),
            asn: Some(64500),
            hosting_org: Some("Example Hosting B.V.".into()),
        }],
        response_link: Some(response_link),
        created_at: now,
    }
}

/// `GET /ui/manage/rules`.
pub async fn page(State(state): State<AppState>, user: SignedIn) -> UiResult<Response> {
    admin(&user)?;
    let tr = user.tr();
    // The rules in use (reloaded when the file changes), or why the current file was refused.
    let path = state.takedown.rules_path().to_path_buf();
    let data = state.takedown.data();
    let in_use = || data.rules().rules.iter().map(rule_row).collect::<Vec<_>>();
    let (rules_state, rules_error, rules) = match state.takedown.rules_error() {
        // The refused file is shown with the rules that stay in use.
        Some(e) => (
            "invalid",
            e,
            if data.rules_loaded() {
                in_use()
            } else {
                Vec::new()
            },
        ),
        None if !data.rules_loaded() => ("missing", String::new(), Vec::new()),
        None => ("loaded", String::new(), in_use()),
    };
    let mail = &state.takedown.config.mail;
    let (profile, profile_note) = match crate::takedown::outbox::sender_profile(mail) {
        Ok(p) => (p, String::new()),
        Err(missing) => (
            schoon_notify::Tenant {
                name: "Hotline (example)".into(),
                domain: "hotline.example".into(),
                from_address: "notices@hotline.example".into(),
                reply_to: None,
                bounce_address: "bounces@hotline.example".into(),
                contact_address: "info@hotline.example".into(),
                website: Some("https://hotline.example/".into()),
                language: Language::Nl,
            },
            missing,
        ),
    };
    let prefix = state
        .store
        .report_policy(user.user.tenant_id)
        .await?
        .reference_prefix;
    let base = mail
        .response_base_url
        .clone()
        .unwrap_or_else(|| "https://hotline.example/".into());
    let link = format!("{}/respond/SAMPLE", base.trim_end_matches('/'));
    let set = TemplateSet::builtin();
    let now = state.clock.now();
    let previews = [(Language::Nl, "lang.nl"), (Language::En, "lang.en")]
        .into_iter()
        .map(|(lang, label)| {
            let n = sample_notice(profile.clone(), lang, &prefix, now, link.clone());
            match schoon_notify::preview(&set, &n) {
                Ok(r) => Preview {
                    code: lang.code(),
                    label: tr.t(label),
                    subject: r.subject,
                    text: r.text,
                    html: r.html,
                    error: None,
                },
                Err(e) => Preview {
                    code: lang.code(),
                    label: tr.t(label),
                    subject: String::new(),
                    text: String::new(),
                    html: String::new(),
                    error: Some(e.to_string()),
                },
            }
        })
        .collect();
    let page = Page::new(
        &state,
        &user,
        "/ui/manage/rules",
        tr.t("manage.rules.title"),
    )
    .await;
    render(&RulesPage {
        page,
        rules_path: path.display().to_string(),
        rules_state,
        rules_error,
        rules,
        previews,
        profile_note,
    })
}
