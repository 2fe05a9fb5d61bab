//! The OpenAPI document (`/api/openapi.json`), generated from the handlers' annotations.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{admin, check, followup, shield};

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        c.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "schoon hash-check service", description = "Check hashes and media against a hotline's hash lists; Arachnid Shield compatible endpoints under /v1/. Errors are application/problem+json."),
    paths(
        check::check, check::check_media,
        shield::media, shield::url, shield::pdq,
        admin::create_tenant, admin::tenants, admin::create_org, admin::orgs, admin::create_key,
        admin::keys, admin::revoke_key, admin::create_list, admin::lists, admin::update_list,
        admin::upload, admin::revoke_entries, admin::entries, admin::hits, admin::audit,
        admin::audit_verify,
        followup::my_hits, followup::my_hit, followup::acknowledge, followup::dispute,
        followup::revocations, followup::my_metrics, followup::review, followup::tenant_metrics,
        followup::escalations, followup::set_policy,
    ),
    modifiers(&Security)
)]
struct ApiDoc;

/// The document as JSON text.
pub fn json() -> String {
    ApiDoc::openapi().to_json().unwrap_or_else(|_| "{}".into())
}
