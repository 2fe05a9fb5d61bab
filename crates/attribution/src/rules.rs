//! Manual per-domain rules, applied over the automatic result.
//!
//! Analysts know things lookups do not: that a site's real hoster sits behind a CDN, that a
//! registrar's RDAP abuse address bounces, that a site owner has its own abuse desk, or that a
//! site must not be scraped. A [`Rule`] records that for a registrable domain or one exact host.
//!
//! Matching: a host-scoped rule applies to that exact host; a domain-scoped rule applies to
//! every host whose registrable domain (full PSL) or registry domain (ICANN section) is the
//! rule's domain. When several match, fields are layered from least to most specific — registry
//! domain, then registrable domain, then exact host — so a host rule can override one field of
//! a domain rule and inherit the rest.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::names::HostNames;

/// A contact given by a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleContact {
    /// Organisation name.
    pub organisation: String,
    /// Where notices go.
    #[serde(default)]
    pub abuse_email: Option<String>,
    /// Upper-case ISO country code.
    #[serde(default)]
    pub country: Option<String>,
}

/// A proxy or CDN in front of the site, with what is known of the origin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyRule {
    /// The proxy's contact (if not given, the CDN list and RDAP of the resolved address are
    /// used).
    #[serde(default)]
    pub proxy: Option<RuleContact>,
    /// Known origin addresses: these are attributed as the real hoster.
    #[serde(default)]
    pub origin_ips: Vec<IpAddr>,
    /// A known origin host name: resolved and attributed as the real hoster.
    #[serde(default)]
    pub origin_host: Option<String>,
}

/// What a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum RuleScope {
    /// Every host under this registrable (or registry) domain.
    Domain(String),
    /// Exactly this host.
    Host(String),
}

/// One manual rule. Every field is optional; `None` means "no opinion, use the lookup".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// What it applies to.
    pub scope: RuleScope,
    /// Forced hosting organisation (replaces the looked-up one).
    #[serde(default)]
    pub hoster: Option<RuleContact>,
    /// Forced registrar.
    #[serde(default)]
    pub registrar: Option<RuleContact>,
    /// The site owner's own contact (an escalation step between hoster and registrar).
    #[serde(default)]
    pub site_owner: Option<RuleContact>,
    /// The site must not be scraped (e.g. a platform that asked for notices only).
    #[serde(default)]
    pub do_not_scrape: Option<bool>,
    /// A proxy/CDN with a known origin.
    #[serde(default)]
    pub proxy: Option<ProxyRule>,
    /// Why the rule exists (shown to analysts).
    #[serde(default)]
    pub note: Option<String>,
}

impl Rule {
    /// A rule for a domain with no fields set yet.
    pub fn domain(name: &str) -> Self {
        Self::empty(RuleScope::Domain(clean(name)))
    }

    /// A rule for one exact host with no fields set yet.
    pub fn host(name: &str) -> Self {
        Self::empty(RuleScope::Host(clean(name)))
    }

    fn empty(scope: RuleScope) -> Self {
        Self {
            scope,
            hoster: None,
            registrar: None,
            site_owner: None,
            do_not_scrape: None,
            proxy: None,
            note: None,
        }
    }

    /// Lays `over`'s set fields on top of `self`.
    fn layer(&mut self, over: &Rule) {
        if over.hoster.is_some() {
            self.hoster.clone_from(&over.hoster);
        }
        if over.registrar.is_some() {
            self.registrar.clone_from(&over.registrar);
        }
        if over.site_owner.is_some() {
            self.site_owner.clone_from(&over.site_owner);
        }
        if over.do_not_scrape.is_some() {
            self.do_not_scrape = over.do_not_scrape;
        }
        if over.proxy.is_some() {
            self.proxy.clone_from(&over.proxy);
        }
        if over.note.is_some() {
            self.note.clone_from(&over.note);
        }
    }
}

fn clean(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The effective rule for one host, with the scopes it was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRule {
    /// The merged fields (its scope is the most specific one that matched).
    pub rule: Rule,
    /// The scopes that matched, least specific first.
    pub matched: Vec<RuleScope>,
}

/// All rules of a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSet {
    /// The rules; for one scope, later rules override earlier ones field by field.
    pub rules: Vec<Rule>,
}

impl RuleSet {
    /// No rules.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a rule.
    pub fn with(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The merged rule for `names`, or `None` when no rule matches.
    pub fn effective(&self, names: &HostNames) -> Option<AppliedRule> {
        let mut scopes: Vec<RuleScope> = Vec::new();
        if let Some(d) = &names.registry_domain {
            scopes.push(RuleScope::Domain(d.clone()));
        }
        if let Some(d) = &names.registrable_domain
            && names.registry_domain.as_ref() != Some(d)
        {
            scopes.push(RuleScope::Domain(d.clone()));
        }
        scopes.push(RuleScope::Host(names.host.clone()));

        let mut merged: Option<Rule> = None;
        let mut matched = Vec::new();
        for scope in scopes {
            let mut hit = false;
            for rule in self.rules.iter().filter(|r| normalised(&r.scope) == scope) {
                let m = merged.get_or_insert_with(|| Rule::empty(scope.clone()));
                m.layer(rule);
                m.scope = scope.clone();
                hit = true;
            }
            if hit {
                matched.push(scope);
            }
        }
        merged.map(|rule| AppliedRule { rule, matched })
    }
}

fn normalised(scope: &RuleScope) -> RuleScope {
    match scope {
        RuleScope::Domain(d) => RuleScope::Domain(clean(d)),
        RuleScope::Host(h) => RuleScope::Host(clean(h)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(org: &str) -> RuleContact {
        RuleContact {
            organisation: org.into(),
            abuse_email: Some(format!("abuse@{}", org.to_lowercase())),
            country: None,
        }
    }

    #[test]
    fn host_rule_overrides_domain_rule_field_by_field() {
        let mut d = Rule::domain("Example.co.uk");
        d.hoster = Some(contact("DomainHost"));
        d.registrar = Some(contact("Reg"));
        let mut h = Rule::host("img.example.co.uk");
        h.hoster = Some(contact("ImgHost"));
        h.do_not_scrape = Some(true);
        let set = RuleSet::new().with(d).with(h);

        let img = set
            .effective(&HostNames::new("img.example.co.uk"))
            .expect("matches");
        assert_eq!(img.rule.hoster.expect("hoster").organisation, "ImgHost");
        assert_eq!(img.rule.registrar.expect("registrar").organisation, "Reg");
        assert_eq!(img.rule.do_not_scrape, Some(true));
        assert_eq!(img.matched.len(), 2);

        let www = set
            .effective(&HostNames::new("www.example.co.uk"))
            .expect("matches");
        assert_eq!(www.rule.hoster.expect("hoster").organisation, "DomainHost");
        assert_eq!(www.rule.do_not_scrape, None);

        // co.uk itself, and a sibling domain, are not covered.
        assert!(set.effective(&HostNames::new("other.co.uk")).is_none());
    }

    #[test]
    fn registry_domain_rule_covers_private_suffix_sites() {
        let mut r = Rule::domain("blogspot.com");
        r.registrar = Some(contact("Reg"));
        let mut site = Rule::domain("foo.blogspot.com");
        site.site_owner = Some(contact("Owner"));
        let set = RuleSet::new().with(r).with(site);
        let got = set
            .effective(&HostNames::new("foo.blogspot.com"))
            .expect("matches");
        assert!(got.rule.registrar.is_some() && got.rule.site_owner.is_some());
        let other = set
            .effective(&HostNames::new("bar.blogspot.com"))
            .expect("matches");
        assert!(other.rule.site_owner.is_none());
    }

    #[test]
    fn rules_round_trip_as_json() {
        let mut r = Rule::domain("example.com");
        r.proxy = Some(ProxyRule {
            proxy: None,
            origin_ips: vec!["198.51.100.20".parse().expect("ip")],
            origin_host: None,
        });
        let set = RuleSet::new().with(r);
        let json = serde_json::to_string(&set).expect("ser");
        assert!(
            json.contains(r#""scope":{"kind":"domain","name":"example.com"}"#),
            "{json}"
        );
        let back: RuleSet = serde_json::from_str(&json).expect("de");
        assert_eq!(back, set);
    }
}
