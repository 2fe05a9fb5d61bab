//! The tenant and its policies: hit deadline and grace period, report policy (reference
//! prefix, 4-eyes; evidence retention is instance configuration and shown read-only), and the
//! takedown policy (ladder steps and deadlines, checks, offline verdict, sending window).
//!
//! Each section is its own form; a refused value is shown next to its field with the submitted
//! values kept (422). Saving calls the store methods of the JSON admin API, which validate and
//! write the same audit events (`tenant.hit_deadline`, `tenant.grace_hours`,
//! `report_policy.set`, `tenant.takedown_policy`).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use schoon_core::takedown::{SendingWindow, TakedownPolicy};
use serde::Deserialize;
use store::reports::ReportPolicy;

use super::{Control, admin, checked, field};
use crate::app::AppState;
use crate::ui::{Page, SignedIn, Tr, UiResult, render};

const PATH: &str = "/ui/manage/policy";

#[derive(Template)]
#[template(path = "ui/manage_policy.html")]
struct PolicyPage {
    page: Page,
    tenant_name: String,
    country: String,
    tenant: Vec<Control>,
    report: Vec<Control>,
    takedown: Vec<Control>,
    window: Vec<Control>,
    retention_hours: i64,
    police_email: String,
    mail_language: String,
}

/// Field errors by form name.
type Errors = HashMap<&'static str, String>;

/// A submitted section to show instead of the stored values.
struct Submitted<'a> {
    form: &'a [(String, String)],
    errors: Errors,
}

/// Lays submitted values and errors over controls built from stored values.
fn overlay(controls: &mut [Control], s: Option<&Submitted<'_>>) {
    let Some(s) = s else { return };
    for c in controls {
        c.value = if c.kind == "checkbox" {
            if checked(s.form, c.name) { "on" } else { "" }.to_string()
        } else {
            field(s.form, c.name).to_string()
        };
        c.error = s.errors.get(c.name).cloned();
    }
}

fn tenant_controls(tr: Tr, deadline: i64, grace: i64) -> Vec<Control> {
    vec![
        Control::number(
            "hit_deadline_hours",
            tr.t("manage.policy.hit_deadline"),
            deadline,
        )
        .help(tr.t("manage.policy.hit_deadline_help")),
        Control::number("hit_grace_hours", tr.t("manage.policy.grace"), grace)
            .help(tr.t("manage.policy.grace_help")),
    ]
}

fn report_controls(tr: Tr, p: &ReportPolicy) -> Vec<Control> {
    vec![
        Control::text(
            "reference_prefix",
            tr.t("manage.policy.prefix"),
            &p.reference_prefix,
        )
        .help(tr.t("manage.policy.prefix_help")),
        Control::checkbox("four_eyes", tr.t("manage.policy.four_eyes"), p.four_eyes)
            .help(tr.t("manage.policy.four_eyes_help")),
    ]
}

fn takedown_controls(tr: Tr, p: &TakedownPolicy) -> Vec<Control> {
    vec![
        Control::number(
            "first_notice_delay_minutes",
            tr.t("manage.td.first_notice_delay_minutes"),
            p.first_notice_delay_minutes,
        ),
        Control::number(
            "hoster_reminder_hours",
            tr.t("manage.td.hoster_reminder_hours"),
            p.hoster_reminder_hours,
        ),
        Control::number(
            "site_owner_every_hours",
            tr.t("manage.td.site_owner_every_hours"),
            p.site_owner_every_hours,
        ),
        Control::number(
            "registrar_after_hours",
            tr.t("manage.td.registrar_after_hours"),
            p.registrar_after_hours,
        ),
        Control::opt_number(
            "police_after_hours",
            tr.t("manage.td.police_after_hours"),
            p.police_after_hours,
        )
        .help(tr.t("manage.td.empty_never")),
        Control::opt_number(
            "regulator_after_hours",
            tr.t("manage.td.regulator_after_hours"),
            p.regulator_after_hours,
        )
        .help(tr.t("manage.td.empty_never")),
        Control::number(
            "max_reminders",
            tr.t("manage.td.max_reminders"),
            p.max_reminders,
        ),
        Control::number(
            "check_interval_minutes",
            tr.t("manage.td.check_interval_minutes"),
            p.check_interval_minutes,
        ),
        Control::number(
            "early_check_interval_minutes",
            tr.t("manage.td.early_check_interval_minutes"),
            p.early_check_interval_minutes,
        ),
        Control::number("early_hours", tr.t("manage.td.early_hours"), p.early_hours),
        Control::number(
            "offline_misses",
            tr.t("manage.td.offline_misses"),
            p.offline_misses,
        ),
        Control::number(
            "offline_min_spacing_minutes",
            tr.t("manage.td.offline_min_spacing_minutes"),
            p.offline_min_spacing_minutes,
        ),
    ]
}

fn window_controls(tr: Tr, w: Option<&SendingWindow>) -> Vec<Control> {
    let d = w.copied().unwrap_or(SendingWindow {
        utc_offset_minutes: 60,
        start_hour: 9,
        end_hour: 17,
        weekdays_only: true,
    });
    vec![
        Control::checkbox(
            "window_enabled",
            tr.t("manage.td.window_enabled"),
            w.is_some(),
        ),
        Control::number(
            "utc_offset_minutes",
            tr.t("manage.td.utc_offset_minutes"),
            d.utc_offset_minutes,
        ),
        Control::number("start_hour", tr.t("manage.td.start_hour"), d.start_hour),
        Control::number("end_hour", tr.t("manage.td.end_hour"), d.end_hour),
        Control::checkbox(
            "weekdays_only",
            tr.t("manage.td.weekdays_only"),
            d.weekdays_only,
        ),
    ]
}

#[derive(Default)]
struct Overrides<'a> {
    tenant: Option<Submitted<'a>>,
    report: Option<Submitted<'a>>,
    takedown: Option<Submitted<'a>>,
}

async fn show(
    state: &AppState,
    user: &SignedIn,
    o: Overrides<'_>,
    flash: Option<&'static str>,
) -> UiResult<Response> {
    let tr = user.tr();
    let t = user.user.tenant_id;
    let tenant = state
        .store
        .tenant(t)
        .await?
        .ok_or(crate::ui::UiError::NotFound)?;
    let grace = state.store.hit_grace_hours(t).await?;
    let rp = state.store.report_policy(t).await?;
    let tp = state.store.takedown_policy(t).await?;
    let mut tenant_c = tenant_controls(tr, tenant.hit_deadline_hours, grace);
    overlay(&mut tenant_c, o.tenant.as_ref());
    let mut report_c = report_controls(tr, &rp);
    overlay(&mut report_c, o.report.as_ref());
    let mut takedown_c = takedown_controls(tr, &tp);
    overlay(&mut takedown_c, o.takedown.as_ref());
    let mut window_c = window_controls(tr, tp.sending_window.as_ref());
    overlay(&mut window_c, o.takedown.as_ref());
    let invalid = [&o.tenant, &o.report, &o.takedown]
        .iter()
        .any(|s| s.as_ref().is_some_and(|s| !s.errors.is_empty()));
    let mut page = Page::new(state, user, PATH, tr.t("manage.policy.title")).await;
    page.flash = flash.map(|k| tr.t(k).to_string());
    let mail = &state.takedown.config.mail;
    let mut resp = render(&PolicyPage {
        page,
        tenant_name: tenant.name,
        country: tenant.country.unwrap_or_default(),
        tenant: tenant_c,
        report: report_c,
        takedown: takedown_c,
        window: window_c,
        retention_hours: state.config.reports.retention_hours,
        police_email: mail.police_email.clone().unwrap_or_default(),
        mail_language: mail.language.clone(),
    })?;
    if invalid {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// Query of the page.
#[derive(Debug, Deserialize)]
pub struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// `GET /ui/manage/policy`.
pub async fn page(
    State(state): State<AppState>,
    user: SignedIn,
    Query(q): Query<SavedQuery>,
) -> UiResult<Response> {
    admin(&user)?;
    let flash = q.saved.is_some().then_some("manage.saved");
    show(&state, &user, Overrides::default(), flash).await
}

fn saved() -> Response {
    Redirect::to(&format!("{PATH}?saved=1")).into_response()
}

fn int<T: std::str::FromStr>(
    form: &[(String, String)],
    name: &'static str,
    tr: Tr,
    errors: &mut Errors,
) -> Option<T> {
    match field(form, name).parse::<T>() {
        Ok(v) => Some(v),
        Err(_) => {
            errors.insert(name, tr.t("manage.not_a_number").to_string());
            None
        }
    }
}

fn opt_int<T: std::str::FromStr>(
    form: &[(String, String)],
    name: &'static str,
    tr: Tr,
    errors: &mut Errors,
) -> Option<Option<T>> {
    if field(form, name).is_empty() {
        Some(None)
    } else {
        int(form, name, tr, errors).map(Some)
    }
}

/// `POST /ui/manage/policy/tenant`: `hit_deadline_hours`, `hit_grace_hours`.
pub async fn save_tenant(
    State(state): State<AppState>,
    user: SignedIn,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult<Response> {
    user.check_csrf(field(&form, "csrf"))?;
    admin(&user)?;
    let tr = user.tr();
    let t = user.user.tenant_id;
    let mut errors = Errors::new();
    let deadline: Option<i64> = int(&form, "hit_deadline_hours", tr, &mut errors);
    let grace: Option<i64> = int(&form, "hit_grace_hours", tr, &mut errors);
    if let Some(h) = deadline
        && let Err(e) = schoon_core::policy::validate_deadline_hours(h)
    {
        errors.insert("hit_deadline_hours", e.to_string());
    }
    if let Some(g) = grace
        && !(0..=8760).contains(&g)
    {
        errors.insert("hit_grace_hours", tr.t("manage.policy.grace_range").into());
    }
    if let (true, Some(h), Some(g)) = (errors.is_empty(), deadline, grace) {
        let tenant = state
            .store
            .tenant(t)
            .await?
            .ok_or(crate::ui::UiError::NotFound)?;
        // Only what changed, so the audit log records decisions rather than every save click.
        if tenant.hit_deadline_hours != h {
            state.store.set_hit_deadline(&user.actor(), t, h).await?;
        }
        if state.store.hit_grace_hours(t).await? != g {
            state.store.set_grace_hours(&user.actor(), t, g).await?;
        }
        return Ok(saved());
    }
    let o = Overrides {
        tenant: Some(Submitted {
            form: &form,
            errors,
        }),
        ..Overrides::default()
    };
    show(&state, &user, o, None).await
}

/// `POST /ui/manage/policy/report`: `reference_prefix`, `four_eyes` (checkbox).
pub async fn save_report(
    State(state): State<AppState>,
    user: SignedIn,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult<Response> {
    user.check_csrf(field(&form, "csrf"))?;
    admin(&user)?;
    let p = ReportPolicy {
        reference_prefix: field(&form, "reference_prefix").to_string(),
        four_eyes: checked(&form, "four_eyes"),
    };
    let r = state
        .store
        .set_report_policy(&user.actor(), user.user.tenant_id, p)
        .await;
    let errors = match r {
        Ok(()) => return Ok(saved()),
        Err(store::StoreError::Invalid(d) | store::StoreError::Conflict(d)) => {
            Errors::from([("reference_prefix", d)])
        }
        Err(e) => return Err(e.into()),
    };
    let o = Overrides {
        report: Some(Submitted {
            form: &form,
            errors,
        }),
        ..Overrides::default()
    };
    show(&state, &user, o, None).await
}

/// The form field a core validation message is about (messages start with the field name).
fn field_of(msg: &str) -> &'static str {
    const NAMES: &[&str] = &[
        "first_notice_delay_minutes",
        "hoster_reminder_hours",
        "site_owner_every_hours",
        "registrar_after_hours",
        "police_after_hours",
        "regulator_after_hours",
        "max_reminders",
        "check_interval_minutes",
        "early_check_interval_minutes",
        "early_hours",
        "offline_misses",
        "offline_min_spacing_minutes",
        "utc_offset_minutes",
        "start_hour",
    ];
    let msg = msg
        .trim_start_matches("invalid takedown policy: ")
        .trim_start_matches("sending_window.");
    if msg.starts_with("sending_window needs") {
        return "start_hour";
    }
    NAMES
        .iter()
        .copied()
        // Longest first: `early_check_interval_minutes` before `check_interval_minutes`.
        .filter(|n| msg.starts_with(n))
        .max_by_key(|n| n.len())
        .unwrap_or("first_notice_delay_minutes")
}

fn parse_takedown(form: &[(String, String)], tr: Tr) -> Result<TakedownPolicy, Errors> {
    let mut e = Errors::new();
    let p = TakedownPolicy {
        first_notice_delay_minutes: int(form, "first_notice_delay_minutes", tr, &mut e)
            .unwrap_or_default(),
        hoster_reminder_hours: int(form, "hoster_reminder_hours", tr, &mut e).unwrap_or_default(),
        site_owner_every_hours: int(form, "site_owner_every_hours", tr, &mut e).unwrap_or_default(),
        registrar_after_hours: int(form, "registrar_after_hours", tr, &mut e).unwrap_or_default(),
        police_after_hours: opt_int(form, "police_after_hours", tr, &mut e).unwrap_or_default(),
        regulator_after_hours: opt_int(form, "regulator_after_hours", tr, &mut e)
            .unwrap_or_default(),
        max_reminders: int(form, "max_reminders", tr, &mut e).unwrap_or_default(),
        check_interval_minutes: int(form, "check_interval_minutes", tr, &mut e).unwrap_or_default(),
        early_check_interval_minutes: int(form, "early_check_interval_minutes", tr, &mut e)
            .unwrap_or_default(),
        early_hours: int(form, "early_hours", tr, &mut e).unwrap_or_default(),
        offline_misses: int(form, "offline_misses", tr, &mut e).unwrap_or_default(),
        offline_min_spacing_minutes: int(form, "offline_min_spacing_minutes", tr, &mut e)
            .unwrap_or_default(),
        sending_window: if checked(form, "window_enabled") {
            Some(SendingWindow {
                utc_offset_minutes: int(form, "utc_offset_minutes", tr, &mut e).unwrap_or_default(),
                start_hour: int(form, "start_hour", tr, &mut e).unwrap_or_default(),
                end_hour: int(form, "end_hour", tr, &mut e).unwrap_or_default(),
                weekdays_only: checked(form, "weekdays_only"),
            })
        } else {
            None
        },
    };
    if !e.is_empty() {
        return Err(e);
    }
    p.validate().map_err(|err| {
        let msg = err.to_string();
        Errors::from([(field_of(&msg), msg)])
    })?;
    Ok(p)
}

/// `POST /ui/manage/policy/takedown`: every [`TakedownPolicy`] field; the sending window when
/// `window_enabled` is checked.
pub async fn save_takedown(
    State(state): State<AppState>,
    user: SignedIn,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult<Response> {
    user.check_csrf(field(&form, "csrf"))?;
    admin(&user)?;
    let errors = match parse_takedown(&form, user.tr()) {
        Ok(p) => {
            match state
                .store
                .set_takedown_policy(&user.actor(), user.user.tenant_id, &p, state.clock.now())
                .await
            {
                Ok(()) => return Ok(saved()),
                Err(store::StoreError::Invalid(d)) => Errors::from([(field_of(&d), d)]),
                Err(e) => return Err(e.into()),
            }
        }
        Err(errors) => errors,
    };
    let o = Overrides {
        takedown: Some(Submitted {
            form: &form,
            errors,
        }),
        ..Overrides::default()
    };
    show(&state, &user, o, None).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages_find_their_field() {
        let mut p = TakedownPolicy {
            early_check_interval_minutes: 500,
            ..TakedownPolicy::default()
        };
        let msg = p.validate().unwrap_err().to_string();
        assert_eq!(field_of(&msg), "early_check_interval_minutes");
        p.early_check_interval_minutes = 15;
        p.sending_window = Some(SendingWindow {
            utc_offset_minutes: 0,
            start_hour: 18,
            end_hour: 9,
            weekdays_only: false,
        });
        let msg = p.validate().unwrap_err().to_string();
        assert_eq!(field_of(&msg), "start_hour");
        p.sending_window = None;
        p.offline_misses = 0;
        assert_eq!(
            field_of(&p.validate().unwrap_err().to_string()),
            "offline_misses"
        );
    }
}
