//! The OpenAPI document (`/api/openapi.json`), generated from the handlers' annotations.
//!
//! It covers every route under `/api/` and `/v1/` and the public machine-readable exports
//! (`*.json`, `*.csv`). The test `document_covers_every_registered_api_route` below fails when a
//! route is registered without an operation here, or documented without being registered.
//!
//! Conventions applied to every operation by [`Conventions`], so annotations stay short: an error
//! response without a body is `application/problem+json` ([`ProblemDetails`]); an operation
//! secured by `bearer`/`basic` answers 401 (no, bad or revoked credentials) and 403 (a
//! credential of the wrong kind).

use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    Content, KnownFormat, ObjectBuilder, Ref, RefOr, Required, ResponseBuilder, SchemaFormat, Type,
};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::problem::{ItemError, PROBLEM_JSON};
use crate::takedown::{cases, respond};
use crate::{admin, check, followup, monitor, regulator, reports, shield};

struct Security;

/// An HTTP auth scheme with a description.
fn http_scheme(scheme: HttpAuthScheme, description: &str) -> SecurityScheme {
    let mut h = Http::new(scheme);
    h.description = Some(description.to_string());
    SecurityScheme::Http(h)
}

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            http_scheme(
                HttpAuthScheme::Bearer,
                "`Authorization: Bearer <key id>.<secret>`: an organisation's API key (check key) \
                 or an instance admin token; each operation says which one it needs.",
            ),
        );
        c.add_security_scheme(
            "basic",
            http_scheme(
                HttpAuthScheme::Basic,
                "HTTP Basic with the key id as user name and the secret as password (what \
                 Arachnid Shield clients send); accepted wherever Bearer is.",
            ),
        );
        c.add_security_scheme(
            "signed_link",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "sig",
                "The signature of a link the hotline or regulator sent (a notice's response link, \
                 an order's provider link). No account: whoever holds the link may use it. A \
                 wrong signature is 403 before any look-up.",
            ))),
        );
    }
}

/// RFC 9457 problem details: the body of every error (`application/problem+json`).
#[derive(ToSchema)]
pub struct ProblemDetails {
    /// Problem type URI, relative: `/problems/<slug>` (e.g. `/problems/not-found`).
    #[schema(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this case, for a human.
    pub detail: String,
    /// Per-item errors (`index` of a batch item or `line` of an uploaded file); omitted when
    /// there are none.
    #[schema(required = false)]
    pub errors: Vec<ItemError>,
}

/// Fills in what every operation shares (see the module documentation).
struct Conventions;

/// A path parameter's schema, for operations whose annotation does not declare it. Unknown
/// names are left undeclared, which `every_path_parameter_is_declared` reports.
fn path_param_type(name: &str) -> Option<ObjectBuilder> {
    let int = || {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
    };
    match name {
        "tenant_id" | "org_id" | "list_id" | "hit_id" => Some(int()),
        "key_id" => Some(ObjectBuilder::new().schema_type(Type::String)),
        _ => None,
    }
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// `{name}` segments of a path template.
fn template_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_string)
        .collect()
}

fn problem_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                PROBLEM_JSON,
                Content::new(Some(Ref::from_schema_name("ProblemDetails"))),
            )
            .build(),
    )
}

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (path, item) in doc.paths.paths.iter_mut() {
            let template = template_params(path);
            for op in operations_mut(item) {
                for (status, resp) in op.responses.responses.iter_mut() {
                    // A response must have a description; some annotations give only a status.
                    if let RefOr::T(r) = resp
                        && r.description.is_empty()
                    {
                        r.description = status
                            .parse::<u16>()
                            .ok()
                            .and_then(|c| axum::http::StatusCode::from_u16(c).ok())
                            .and_then(|c| c.canonical_reason())
                            .unwrap_or("response")
                            .to_string();
                    }
                    let is_error = status.starts_with('4') || status.starts_with('5');
                    if let RefOr::T(r) = resp
                        && is_error
                        && r.content.is_empty()
                    {
                        r.content.insert(
                            PROBLEM_JSON.to_string(),
                            RefOr::T(Content::new(Some(Ref::from_schema_name("ProblemDetails")))),
                        );
                    }
                }
                let keyed = op.security.iter().flatten().any(|req| {
                    serde_json::to_value(req)
                        .is_ok_and(|v| v.get("bearer").is_some() || v.get("basic").is_some())
                });
                if keyed {
                    let r = &mut op.responses.responses;
                    r.entry("401".into()).or_insert_with(|| {
                        problem_response("missing, malformed, invalid or revoked credentials")
                    });
                    r.entry("403".into()).or_insert_with(|| {
                        problem_response("the credential is not of the kind this operation needs")
                    });
                }
                // A parameter declared "in path" whose name is not in the template is a query
                // parameter (`IntoParams` without `parameter_in` defaults to path).
                let params = op.parameters.get_or_insert_with(Vec::new);
                for p in params.iter_mut() {
                    if let RefOr::T(p) = p
                        && matches!(p.parameter_in, ParameterIn::Path)
                        && !template.contains(&p.name)
                    {
                        p.parameter_in = ParameterIn::Query;
                        p.required = Required::False;
                    }
                }
                for name in &template {
                    let declared = params.iter().any(|p| {
                        matches!(p, RefOr::T(p) if &p.name == name
                            && matches!(p.parameter_in, ParameterIn::Path))
                    });
                    if let (false, Some(schema)) = (declared, path_param_type(name)) {
                        params.push(RefOr::T(
                            ParameterBuilder::new()
                                .name(name)
                                .parameter_in(ParameterIn::Path)
                                .required(Required::True)
                                .schema(Some(schema))
                                .build(),
                        ));
                    }
                }
                if params.is_empty() {
                    op.parameters = None;
                }
            }
        }
    }
}

// --- schemas of types from other crates (small, documented; they cannot derive here) ---

/// A tenant's report handling policy.
#[derive(ToSchema)]
#[schema(as = ReportPolicy)]
pub struct ReportPolicySchema {
    /// Prefix of reference numbers (`NL` → `NL-2026-000123`).
    pub reference_prefix: String,
    /// Whether an illegal classification needs a second analyst before notices.
    pub four_eyes: bool,
}

/// Outcome of one submitted report URL.
#[derive(ToSchema)]
#[schema(as = Submitted)]
pub struct SubmittedSchema {
    /// The report (new, or the open one it joined).
    pub report_id: i64,
    /// Its reference number.
    pub reference: String,
    /// Whether the URL joined an open report instead of creating one.
    pub joined: bool,
}

/// The provider an order is addressed to.
#[derive(ToSchema)]
#[schema(as = ProviderContact)]
pub struct ProviderContactSchema {
    /// Provider (legal entity) name.
    pub name: String,
    /// E-mail address of the point of contact.
    pub email: String,
    /// The provider's order API endpoint, if it has one.
    pub api_url: Option<String>,
}

/// Penalty unit of periodic terms.
#[derive(ToSchema, serde::Serialize)]
#[schema(as = PenaltyUnit, rename_all = "snake_case")]
pub enum PenaltyUnitSchema {
    /// Per started hour.
    Hour,
    /// Per started day.
    Day,
}

/// The sanction attached to an order (amounts in euro cents), tagged by `kind`.
#[derive(ToSchema, serde::Serialize)]
#[schema(as = PenaltyTerms)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PenaltyTermsSchema {
    /// Periodic penalty payment: an amount per started unit after the deadline, until
    /// compliance, optionally capped.
    Periodic {
        /// Amount per unit.
        amount_cents: u64,
        /// `hour` or `day`.
        unit: PenaltyUnitSchema,
        /// Maximum total.
        max_cents: Option<u64>,
    },
    /// Administrative fine: a fixed amount once the deadline is missed.
    Fixed {
        /// The fine.
        amount_cents: u64,
    },
}

// --- the analysts' report API (handlers in `classify.rs`; documented here) ---

/// An item verdict.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Classification {
    /// Internationally illegal (INHOPE baseline).
    Baseline,
    /// Illegal under national law only.
    National,
    /// Not illegal.
    NotIllegal,
    /// Not relevant (icons, banners…).
    Ignore,
}

/// Optional descriptive attributes of a classification.
#[derive(ToSchema)]
pub struct Attributes {
    /// e.g. `infant`, `prepubescent`, `pubescent` (1–64 printable characters).
    pub age_group: Option<String>,
    /// e.g. `female`, `male`, `both`, `unknown`.
    pub gender: Option<String>,
    /// e.g. `image_host`, `forum`, `cyberlocker`, `website`.
    pub site_type: Option<String>,
    /// Drawn, rendered or AI-generated.
    pub virtual_content: Option<bool>,
}

/// `POST /api/v1/items/classify` body (unknown fields are refused).
#[derive(ToSchema)]
pub struct ClassifyRequest {
    /// Items (of one or more reports).
    pub items: Vec<i64>,
    /// The verdict.
    pub classification: Classification,
    /// Attributes (default none).
    #[schema(required = false)]
    pub attributes: Attributes,
}

/// `POST /api/v1/items/verify` body (unknown fields are refused).
#[derive(ToSchema)]
pub struct VerifyRequest {
    /// Items awaiting verification.
    pub items: Vec<i64>,
    /// Whether the second analyst agrees.
    pub agree: bool,
}

/// `POST /api/v1/items/{id}/add-to-list` body (unknown fields are refused).
#[derive(ToSchema)]
pub struct AddToListRequest {
    /// Target list (a `known` list of the item's tenant).
    pub list_id: i64,
    /// Include the PDQ hash (default true).
    #[schema(required = false)]
    pub pdq: bool,
}

/// What an add-to-list did.
#[derive(ToSchema)]
pub struct AddedToList {
    /// The list.
    pub list_id: i64,
    /// Entries added.
    pub added: u64,
    /// Hashes the list already had.
    pub duplicates: u64,
}

/// Operations whose handlers live in files this document does not annotate; each stub only
/// carries the annotation (the router calls the real handler).
#[allow(dead_code)]
mod stubs {
    use super::{AddToListRequest, AddedToList, ClassifyRequest, VerifyRequest};

    /// This document.
    #[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
        responses((status = 200, description = "the OpenAPI 3.1 document", body = Object)))]
    pub fn openapi_document() {}

    /// A report with its items.
    #[utoipa::path(get, path = "/api/v1/reports/{id}", tag = "reports",
        params(("id" = i64, Path, description = "Report id")),
        responses((status = 200, description = "`{report, items}`", body = Object),
                  (status = 404, description = "no such report")),
        security(("bearer" = []), ("basic" = [])))]
    pub fn get_report() {}

    /// A report by its reference number, with its items.
    #[utoipa::path(get, path = "/api/v1/reports/by-reference/{reference}", tag = "reports",
        params(("reference" = String, Path, description = "Reference number, e.g. `NL-2026-000123`")),
        responses((status = 200, description = "`{report, items}`", body = Object),
                  (status = 404, description = "no such report")),
        security(("bearer" = []), ("basic" = [])))]
    pub fn get_report_by_reference() {}

    /// Every recorded change of a report and its items (audit events).
    #[utoipa::path(get, path = "/api/v1/reports/{id}/timeline", tag = "reports",
        params(("id" = i64, Path, description = "Report id")),
        responses((status = 200, description = "audit events, oldest first", body = Vec<Object>),
                  (status = 404, description = "no such report")),
        security(("bearer" = []), ("basic" = [])))]
    pub fn report_timeline() {}

    /// Takes or renews the classification lock of a report.
    #[utoipa::path(post, path = "/api/v1/reports/{id}/lock", tag = "reports",
        params(("id" = i64, Path, description = "Report id")),
        responses((status = 200, description = "the report with its lock", body = Object),
                  (status = 404, description = "no such report"),
                  (status = 409, description = "another analyst holds the lock")),
        security(("bearer" = []), ("basic" = [])))]
    pub fn lock_report() {}

    /// Releases the caller's classification lock of a report.
    #[utoipa::path(delete, path = "/api/v1/reports/{id}/lock", tag = "reports",
        params(("id" = i64, Path, description = "Report id")),
        responses((status = 204, description = "unlocked"),
                  (status = 404, description = "no such report"),
                  (status = 409, description = "another analyst holds the lock")),
        security(("bearer" = []), ("basic" = [])))]
    pub fn unlock_report() {}

    /// Retries a report's unavailable items (and a failed page fetch).
    #[utoipa::path(post, path = "/api/v1/reports/{id}/refetch", tag = "reports",
        params(("id" = i64, Path, description = "Report id")),
        responses((status = 202, description = "the report, queued for fetching again", body = Object),
                  (status = 404, description = "no such report"),
                  (status = 409, description = "not possible in the report's state")),
        security(("bearer" = []), ("basic" = [])))]
    pub fn refetch_report() {}

    /// Locks the next report of a tenant's classification queue for the caller.
    #[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/classify/next", tag = "reports",
        params(("tenant_id" = i64, Path, description = "Tenant id")),
        responses((status = 200, description = "`{report, items}`, now locked by the caller", body = Object),
                  (status = 204, description = "the queue is empty")),
        security(("bearer" = []), ("basic" = [])))]
    pub fn classify_next() {}

    /// Classifies items (the caller must hold the report lock, or it must be free).
    #[utoipa::path(post, path = "/api/v1/items/classify", tag = "reports",
        request_body = ClassifyRequest,
        responses((status = 200, description = "the items afterwards", body = Vec<Object>),
                  (status = 400, description = "invalid body or attributes"),
                  (status = 404, description = "no such item"),
                  (status = 409, description = "the report is locked by another analyst, or an item's state does not allow it")),
        security(("bearer" = []), ("basic" = [])))]
    pub fn classify_items() {}

    /// Second-analyst verification of illegal classifications (4-eyes; a different analyst).
    #[utoipa::path(post, path = "/api/v1/items/verify", tag = "reports",
        request_body = VerifyRequest,
        responses((status = 200, description = "the items afterwards", body = Vec<Object>),
                  (status = 400, description = "invalid body"),
                  (status = 404, description = "no such item"),
                  (status = 409, description = "not awaiting verification, or the same analyst")),
        security(("bearer" = []), ("basic" = [])))]
    pub fn verify_items() {}

    /// Adds a classified illegal item's hashes to a tenant's list, with provenance.
    #[utoipa::path(post, path = "/api/v1/items/{id}/add-to-list", tag = "reports",
        params(("id" = i64, Path, description = "Item id")),
        request_body = AddToListRequest,
        responses((status = 201, description = "entries added", body = AddedToList),
                  (status = 400, description = "invalid body, or the item has no hashes"),
                  (status = 404, description = "no such item, or no such list of the item's tenant"),
                  (status = 409, description = "the item is not classified illegal, or verification is pending")),
        security(("bearer" = []), ("basic" = [])))]
    pub fn add_item_to_list() {}

    /// An item's evidence bytes from the vault (every view is audited; never cached).
    #[utoipa::path(get, path = "/api/v1/items/{id}/evidence", tag = "reports",
        params(("id" = i64, Path, description = "Item id")),
        responses((status = 200, description = "the bytes, with the content type they were served with",
                   content_type = "application/octet-stream", body = Vec<u8>),
                  (status = 404, description = "no such item, or no evidence stored"),
                  (status = 410, description = "purged by the retention policy, or missing from the vault")),
        security(("bearer" = []), ("basic" = [])))]
    pub fn item_evidence() {}

    /// The vault's fetch records of an item (URL, final URL, time, status, headers, IP).
    #[utoipa::path(get, path = "/api/v1/items/{id}/fetches", tag = "reports",
        params(("id" = i64, Path, description = "Item id")),
        responses((status = 200, description = "fetch records (empty once purged)", body = Vec<Object>),
                  (status = 404, description = "no such item")),
        security(("bearer" = []), ("basic" = [])))]
    pub fn item_fetches() {}

    /// Every recorded change of an item (audit events).
    #[utoipa::path(get, path = "/api/v1/items/{id}/timeline", tag = "reports",
        params(("id" = i64, Path, description = "Item id")),
        responses((status = 200, description = "audit events, oldest first", body = Vec<Object>)),
        security(("bearer" = []), ("basic" = [])))]
    pub fn item_timeline() {}
}

#[derive(OpenApi)]
#[openapi(
    info(title = "schoon hash-check service", description = "Check hashes and media against a hotline's hash lists; Arachnid Shield compatible endpoints under /v1/; hotline report intake and analysis, takedown cases and notices, the regulator's orders, and the public monitor and register exports. Errors are application/problem+json (the public HTML-backed exports answer errors as text/html)."),
    paths(
        stubs::openapi_document,
        check::check, check::check_media,
        shield::media, shield::url, shield::pdq,
        admin::create_tenant, admin::tenants, admin::create_org, admin::orgs, admin::create_key,
        admin::keys, admin::revoke_key, admin::create_list, admin::lists, admin::update_list,
        admin::upload, admin::revoke_entries, admin::entries, admin::hits, admin::audit,
        admin::audit_verify,
        followup::my_hits, followup::my_hit, followup::acknowledge, followup::dispute,
        followup::revocations, followup::my_metrics, followup::review, followup::tenant_metrics,
        followup::escalations, followup::set_policy,
        reports::submit, reports::upload_csv, reports::set_partner, reports::set_policy,
        reports::get_policy, reports::purge_now,
        stubs::get_report, stubs::get_report_by_reference, stubs::report_timeline,
        stubs::lock_report, stubs::unlock_report, stubs::refetch_report, stubs::classify_next,
        stubs::classify_items, stubs::verify_items, stubs::add_item_to_list,
        stubs::item_evidence, stubs::item_fetches, stubs::item_timeline,
        cases::list_cases, cases::case_timeline, cases::set_contacts, cases::police_first,
        cases::release, cases::close, cases::reattribute, cases::queues,
        respond::api_respond, respond::list_notices, respond::get_notice, respond::resolve,
        respond::get_policy, respond::put_policy,
        regulator::public_key, regulator::escalations, regulator::pick_up_case,
        regulator::overdue_hits, regulator::pick_up_hit, regulator::list_orders,
        regulator::create_order, regulator::get_order, regulator::issue, regulator::comply,
        regulator::withdraw, regulator::terms, regulator::penalty_start, regulator::accrual,
        regulator::fine, regulator::appeal, regulator::publish, regulator::evidence,
        regulator::replies, regulator::set_reply, regulator::provider_get,
        regulator::provider_ack, regulator::register_json, regulator::register_csv_route,
        monitor::json_export, monitor::csv_export,
    ),
    components(schemas(ProblemDetails)),
    tags(
        (name = "reports", description = "Hotline report intake (report partners' batches, analysts' CSV uploads), the analysts' classification API, and report settings. Analyst and admin operations need an admin token; intake by partners needs the organisation's API key."),
        (name = "takedown", description = "Takedown cases and notices (admin token), the takedown policy, and the signed-link response API for abuse desks."),
        (name = "regulator", description = "Binding removal orders: the officer API under /api/v1/regulator/tenants/{tenant}/ (admin token), the order-signing public key, and the provider's signed-link access."),
        (name = "monitor", description = "Public machine-readable exports, no authentication: the hosting monitor (/monitor.json, /monitor.csv) and the register of published orders (/register.json, /register.csv)."),
        (name = "meta", description = "This document."),
    ),
    modifiers(&Security, &Conventions)
)]
struct ApiDoc;

/// The document as JSON text.
pub fn json() -> String {
    ApiDoc::openapi().to_json().unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests {
    //! The document against the router. axum cannot list a router's routes, so the registered
    //! set is read from the `.route(…)` calls in this crate's sources. Why not one shared route
    //! table: the routes are registered in several modules (some of them owned elsewhere) with
    //! per-route layers, and a table would have to be threaded through all of them. The parser
    //! refuses anything it does not understand (so it cannot silently miss a route), and
    //! `tests/api.rs` checks the other way round against the live router: every documented
    //! operation is routed.

    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    use super::*;

    /// Routes in the document's scope: the APIs and the machine-readable exports (the HTML
    /// pages and forms are not API).
    fn in_scope(path: &str) -> bool {
        path.starts_with("/api/")
            || path.starts_with("/v1/")
            || path.ends_with(".json")
            || path.ends_with(".csv")
    }

    /// Shield clients call `/v1/media` and `/v1/media/`; the document lists one spelling.
    fn normalise(path: &str) -> String {
        match path.strip_suffix('/') {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => path.to_string(),
        }
    }

    #[derive(Debug, Clone, PartialEq)]
    enum Tok {
        Str(String),
        Ident(String),
        Punct(char),
    }

    /// `Some(number of #)` when a raw string literal (`r"…"`, `r#"…"#`) starts at `i`.
    fn raw_string_at(c: &[char], i: usize) -> Option<usize> {
        if c.get(i) != Some(&'r') {
            return None;
        }
        let hashes = c[i + 1..].iter().take_while(|&&x| x == '#').count();
        (c.get(i + 1 + hashes) == Some(&'"')).then_some(hashes)
    }

    /// A small Rust lexer: string literals (plain and raw), identifiers and punctuation;
    /// comments, char literals, lifetimes and numbers are dropped.
    fn lex(src: &str) -> Vec<Tok> {
        let c: Vec<char> = src.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < c.len() {
            let ch = c[i];
            if ch.is_whitespace() {
                i += 1;
            } else if ch == '/' && c.get(i + 1) == Some(&'/') {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            } else if ch == '/' && c.get(i + 1) == Some(&'*') {
                let mut depth = 0;
                while i < c.len() {
                    if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            } else if ch == '"' {
                let mut s = String::new();
                i += 1;
                while i < c.len() && c[i] != '"' {
                    if c[i] == '\\' {
                        i += 1;
                    }
                    if let Some(&x) = c.get(i) {
                        s.push(x);
                    }
                    i += 1;
                }
                i += 1;
                out.push(Tok::Str(s));
            } else if let Some(hashes) = raw_string_at(&c, i) {
                let mut j = i + 2 + hashes;
                let start = j;
                while j < c.len()
                    && !(c[j] == '"' && (1..=hashes).all(|k| c.get(j + k) == Some(&'#')))
                {
                    j += 1;
                }
                out.push(Tok::Str(c[start..j.min(c.len())].iter().collect()));
                i = j + 1 + hashes;
            } else if ch == '\'' {
                if c.get(i + 1) == Some(&'\\') {
                    // '\n', '\'', '\u{…}'
                    let mut j = i + 3;
                    while j < c.len() && c[j] != '\'' {
                        j += 1;
                    }
                    i = j + 1;
                } else if c.get(i + 2) == Some(&'\'') {
                    i += 3;
                } else {
                    // A lifetime or label.
                    i += 1;
                }
            } else if ch.is_alphanumeric() || ch == '_' {
                let start = i;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
                let word: String = c[start..i].iter().collect();
                if !word.starts_with(|x: char| x.is_ascii_digit()) {
                    out.push(Tok::Ident(word));
                }
            } else {
                out.push(Tok::Punct(ch));
                i += 1;
            }
        }
        out
    }

    fn ident(t: Option<&Tok>, name: &str) -> bool {
        matches!(t, Some(Tok::Ident(x)) if x == name)
    }

    fn punct(t: Option<&Tok>, p: char) -> bool {
        t == Some(&Tok::Punct(p))
    }

    /// Expands a `format!` template with the file's `let NAME = "…";` bindings.
    fn expand(fmt: &str, lets: &BTreeMap<String, String>, at: &str) -> String {
        let mut out = String::new();
        let mut it = fmt.chars().peekable();
        while let Some(ch) = it.next() {
            match ch {
                '{' if it.peek() == Some(&'{') => {
                    it.next();
                    out.push('{');
                }
                '}' if it.peek() == Some(&'}') => {
                    it.next();
                    out.push('}');
                }
                '{' => {
                    let name: String = it.by_ref().take_while(|&x| x != '}').collect();
                    let value = lets.get(&name).unwrap_or_else(|| {
                        panic!("{at}: route format! uses {{{name}}}, which is not a `let {name} = \"…\";` in that file")
                    });
                    out.push_str(value);
                }
                _ => out.push(ch),
            }
        }
        out
    }

    const METHODS: [&str; 8] = [
        "get", "post", "put", "patch", "delete", "head", "options", "trace",
    ];

    /// `(METHOD, path)` of every `.route(…)` call in the given file's tokens.
    fn routes_in(file: &str, toks: &[Tok]) -> Vec<(String, String)> {
        let mut lets = BTreeMap::new();
        for w in toks.windows(5) {
            if let [
                Tok::Ident(l),
                Tok::Ident(name),
                Tok::Punct('='),
                Tok::Str(v),
                Tok::Punct(';'),
            ] = w
                && l == "let"
            {
                lets.insert(name.clone(), v.clone());
            }
        }
        let mut out = Vec::new();
        for i in 0..toks.len() {
            if !(punct(toks.get(i), '.')
                && ident(toks.get(i + 1), "route")
                && punct(toks.get(i + 2), '('))
            {
                continue;
            }
            let at = format!("{file}: .route call #{}", out.len() + 1);
            // The argument tokens, up to the matching `)`.
            let mut depth = 0usize;
            let mut j = i + 3;
            let mut args: Vec<Vec<Tok>> = vec![Vec::new()];
            loop {
                let t = toks
                    .get(j)
                    .unwrap_or_else(|| panic!("{at}: unbalanced parentheses"));
                match t {
                    Tok::Punct('(' | '[' | '{') => depth += 1,
                    Tok::Punct(')' | ']' | '}') if depth == 0 => break,
                    Tok::Punct(')' | ']' | '}') => depth -= 1,
                    Tok::Punct(',') if depth == 0 => {
                        args.push(Vec::new());
                        j += 1;
                        continue;
                    }
                    _ => {}
                }
                if let Some(a) = args.last_mut() {
                    a.push(t.clone());
                }
                j += 1;
            }
            args.retain(|a| !a.is_empty());
            let [path_arg, router] = &args[..] else {
                panic!("{at}: expected two arguments, got {args:?}");
            };
            let path = match &path_arg[..] {
                [Tok::Str(p)] => p.clone(),
                [
                    Tok::Punct('&'),
                    Tok::Ident(f),
                    Tok::Punct('!'),
                    Tok::Punct('('),
                    Tok::Str(t),
                    Tok::Punct(')'),
                ] if f == "format" => expand(t, &lets, &at),
                [Tok::Ident(name)] | [Tok::Punct('&'), Tok::Ident(name)] => lets
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| panic!("{at}: path `{name}` is not a `let` string")),
                other => panic!("{at}: cannot read the path from {other:?}"),
            };
            // Method routers at the top level of the second argument: `get(h).post(h2).layer(…)`
            // or `axum::routing::put(h)`.
            let mut depth = 0usize;
            let mut methods = Vec::new();
            for (k, t) in router.iter().enumerate() {
                match t {
                    Tok::Punct('(' | '[' | '{') => depth += 1,
                    Tok::Punct(')' | ']' | '}') => depth = depth.saturating_sub(1),
                    Tok::Ident(m) if depth == 0 && punct(router.get(k + 1), '(') => {
                        if METHODS.contains(&m.as_str()) {
                            methods.push(m.to_ascii_uppercase());
                        } else if matches!(
                            m.as_str(),
                            "any" | "on" | "get_service" | "post_service"
                        ) {
                            panic!("{at}: `{m}(…)` is not understood by this test; extend it");
                        }
                    }
                    _ => {}
                }
            }
            assert!(
                !methods.is_empty(),
                "{at} ({path}): no method router found in {router:?}"
            );
            out.extend(methods.into_iter().map(|m| (m, path.clone())));
        }
        out
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("read src dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// Every `(METHOD, path)` registered in this crate's sources.
    fn registered_routes() -> BTreeSet<(String, String)> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut all = BTreeSet::new();
        for f in files {
            let text = std::fs::read_to_string(&f).expect("read source");
            let name = f.display().to_string();
            let toks = lex(&text);
            for w in toks.windows(3) {
                if let [Tok::Punct('.'), Tok::Ident(m), Tok::Punct('(')] = w {
                    assert!(
                        !matches!(m.as_str(), "nest" | "route_service" | "nest_service"),
                        "{name}: `.{m}(…)` registers routes this test cannot read; extend it"
                    );
                }
            }
            all.extend(routes_in(&name, &toks));
        }
        all
    }

    fn documented() -> serde_json::Value {
        serde_json::to_value(ApiDoc::openapi()).expect("document serialises")
    }

    /// `(METHOD, path)` → operation of the document.
    fn operations(doc: &serde_json::Value) -> BTreeMap<(String, String), serde_json::Value> {
        let mut out = BTreeMap::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (m, op) in item.as_object().expect("path item") {
                if METHODS.contains(&m.as_str()) {
                    out.insert((m.to_ascii_uppercase(), path.clone()), op.clone());
                }
            }
        }
        out
    }

    #[test]
    fn the_route_reader_understands_the_registrations() {
        let src = r##"
            let t = "/api/v1/x/{tenant}";
            // .route("/api/commented-out", get(nope))
            Router::new()
                .route("/api/a", get(a).post(b).layer(DefaultBodyLimit::max(1 << 20)))
                .route(&format!("{t}/orders/{{id}}"), get(c))
                .route(
                    "/api/b",
                    // a comment with an apostrophe: isn't it
                    axum::routing::put(d).delete(e),
                )
                .route("/ui/x", get(|| async { let m = map.get(&'"'); }));
        "##;
        let got: BTreeSet<_> = routes_in("inline", &lex(src)).into_iter().collect();
        let want: BTreeSet<(String, String)> = [
            ("GET", "/api/a"),
            ("POST", "/api/a"),
            ("GET", "/api/v1/x/{tenant}/orders/{id}"),
            ("PUT", "/api/b"),
            ("DELETE", "/api/b"),
            ("GET", "/ui/x"),
        ]
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn document_covers_every_registered_api_route() {
        let registered: BTreeSet<(String, String)> = registered_routes()
            .into_iter()
            .filter(|(_, p)| in_scope(p))
            .map(|(m, p)| (m, normalise(&p)))
            .collect();
        // Anchors: if the reader broke, these would vanish with everything else.
        for anchor in [
            ("POST", "/api/v1/check"),
            ("PUT", "/api/admin/tenants/{tenant_id}/followup/policy"),
            (
                "POST",
                "/api/v1/regulator/tenants/{tenant}/orders/{id}/issue",
            ),
            ("DELETE", "/api/v1/reports/{id}/lock"),
            ("GET", "/monitor.json"),
        ] {
            let a = (anchor.0.to_string(), anchor.1.to_string());
            assert!(registered.contains(&a), "route reader missed {a:?}");
        }
        let doc = documented();
        let documented: BTreeSet<(String, String)> = operations(&doc)
            .into_keys()
            .map(|(m, p)| (m, normalise(&p)))
            .collect();
        let undocumented: Vec<_> = registered.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&registered).collect();
        assert!(
            undocumented.is_empty() && unrouted.is_empty(),
            "registered but not in the OpenAPI document (add #[utoipa::path] and list it in \
             ApiDoc): {undocumented:#?}\ndocumented but not registered: {unrouted:#?}"
        );
    }

    #[test]
    fn every_operation_is_complete() {
        let doc = documented();
        let mut ids = BTreeSet::new();
        for ((m, path), op) in operations(&doc) {
            let at = format!("{m} {path}");
            if let Some(id) = op["operationId"].as_str() {
                assert!(
                    ids.insert(id.to_string()),
                    "{at}: duplicate operationId {id}"
                );
            }
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{at}: no success response"
            );
            for (status, r) in responses {
                assert!(
                    r["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{at}: response {status} has no description"
                );
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        r["content"].as_object().is_some_and(|c| !c.is_empty()),
                        "{at}: error {status} has no body"
                    );
                }
            }
            // Every `{param}` of the path is declared as a path parameter.
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            for name in template_params(&path) {
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == name.as_str() && p["in"] == "path"),
                    "{at}: path parameter {name} is not declared"
                );
            }
            for p in &params {
                if p["in"] == "path" {
                    let name = p["name"].as_str().unwrap_or_default().to_string();
                    assert!(
                        template_params(&path).contains(&name),
                        "{at}: path parameter {name} is not in the path"
                    );
                }
            }
            if let Some(schemes) = op["security"].as_array() {
                for req in schemes {
                    for k in req.as_object().expect("requirement").keys() {
                        assert!(
                            doc["components"]["securitySchemes"][k].is_object(),
                            "{at}: unknown security scheme {k}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn new_areas_are_tagged_and_secured_as_their_handlers_require() {
        let doc = documented();
        let ops = operations(&doc);
        let tag = |m: &str, p: &str| -> (String, serde_json::Value) {
            let op = ops
                .get(&(m.to_string(), p.to_string()))
                .unwrap_or_else(|| panic!("{m} {p} is not documented"));
            (
                op["tags"][0].as_str().unwrap_or_default().to_string(),
                op["security"].clone(),
            )
        };
        let admin = serde_json::json!([{"bearer": []}, {"basic": []}]);
        let link = serde_json::json!([{"signed_link": []}]);
        let public = serde_json::Value::Null;
        for (m, p, want_tag, want_sec) in [
            ("POST", "/api/v1/reports", "reports", &admin),
            ("GET", "/api/v1/reports/{id}", "reports", &admin),
            ("GET", "/api/v1/takedown/cases", "takedown", &admin),
            ("POST", "/api/v1/respond/{reference}", "takedown", &link),
            (
                "PUT",
                "/api/v1/admin/tenants/{tenant_id}/takedown-policy",
                "takedown",
                &admin,
            ),
            (
                "POST",
                "/api/v1/regulator/tenants/{tenant}/orders",
                "regulator",
                &admin,
            ),
            ("GET", "/api/v1/regulator/public-key", "regulator", &public),
            (
                "GET",
                "/api/v1/provider/orders/{reference}",
                "regulator",
                &link,
            ),
            ("GET", "/monitor.json", "monitor", &public),
            ("GET", "/register.csv", "monitor", &public),
        ] {
            assert_eq!(
                tag(m, p),
                (want_tag.to_string(), want_sec.clone()),
                "{m} {p}"
            );
        }
        // Every operation of the four areas carries exactly its area's tag.
        for ((m, p), op) in &ops {
            let tags = op["tags"].as_array().cloned().unwrap_or_default();
            let in_area = ["reports", "takedown", "regulator", "monitor"]
                .into_iter()
                .any(|t| tags.iter().any(|x| x == t));
            if in_area {
                assert_eq!(tags.len(), 1, "{m} {p}: tags {tags:?}");
                // Id aliases (`TenantId`…) must be documented as integers, not as a
                // reference to a schema named after the primitive.
                assert!(
                    !op.to_string().contains("#/components/schemas/i64"),
                    "{m} {p}: an id alias without value_type"
                );
            }
        }
    }

    #[test]
    fn documented_request_schemas_are_accepted_by_the_real_types() {
        // The analysts' request schemas are written here, not derived: check that a body with
        // every documented property deserialises into the handler's type (which refuses unknown
        // fields), so the two cannot drift apart.
        let doc = documented();
        let props = |name: &str| -> BTreeSet<String> {
            doc["components"]["schemas"][name]["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("schema {name}"))
                .keys()
                .cloned()
                .collect()
        };
        let classify = serde_json::json!({"items": [1], "classification": "not_illegal",
            "attributes": {"age_group": "x", "gender": "x", "site_type": "x", "virtual_content": false}});
        let verify = serde_json::json!({"items": [1], "agree": true});
        let add = serde_json::json!({"list_id": 1, "pdq": false});
        for (name, body) in [
            ("ClassifyRequest", &classify),
            ("VerifyRequest", &verify),
            ("AddToListRequest", &add),
            ("Attributes", &classify["attributes"]),
        ] {
            let keys: BTreeSet<String> =
                body.as_object().expect("object").keys().cloned().collect();
            assert_eq!(props(name), keys, "{name}");
        }
        serde_json::from_value::<crate::classify::ClassifyRequest>(classify).expect("classify");
        serde_json::from_value::<crate::classify::VerifyRequest>(verify).expect("verify");
        serde_json::from_value::<crate::classify::AddToListRequest>(add).expect("add");
        serde_json::from_value::<store::reports::ReportPolicy>(
            serde_json::json!({"reference_prefix": "NL", "four_eyes": true}),
        )
        .expect("report policy");
        assert_eq!(props("ReportPolicy").len(), 2);
        serde_json::from_value::<schoon_core::order::PenaltyTerms>(
            serde_json::json!({"kind": "periodic", "amount_cents": 100, "unit": "day", "max_cents": null}),
        )
        .expect("penalty terms");
    }
}
