//! The input of a notice: plain data the takedown workflow fills from its records.
//!
//! These types are deliberately independent of `schoon-core` for now (the domain crate is being
//! built in parallel); they carry exactly what a notice shows and nothing else. Strings arrive
//! raw and are checked once by [`Notice::validate`], which every renderer and builder in this
//! crate calls first, so a bad address or URL is a clear [`Error`] and never a half-built mail.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Language of a notice. Default templates exist for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Dutch.
    Nl,
    /// English.
    En,
}

impl Language {
    /// The ISO 639-1 code (`nl`, `en`).
    pub fn code(self) -> &'static str {
        match self {
            Language::Nl => "nl",
            Language::En => "en",
        }
    }
}

/// The hotline (tenant) that sends the notice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tenant {
    /// Organisation name, shown as sender and used as XARF `reporter.org` (max 200 characters).
    pub name: String,
    /// The organisation's own domain: XARF `reporter.domain`, and the right-hand side of
    /// Message-IDs so they are globally unique.
    pub domain: String,
    /// `From:` address of notices.
    pub from_address: String,
    /// `Reply-To:` address, when replies should go elsewhere than `From:`.
    pub reply_to: Option<String>,
    /// Envelope sender (`MAIL FROM`, which becomes `Return-Path` at delivery): where bounces go.
    pub bounce_address: String,
    /// Contact address in the XARF report (`reporter.contact` / `sender.contact`).
    pub contact_address: String,
    /// Public web site, shown in the footer of the notice (as text).
    pub website: Option<String>,
    /// Default language of the tenant's notices.
    pub language: Language,
}

/// Who receives the notice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recipient {
    /// The abuse contact's e-mail address.
    pub email: String,
    /// A person's or desk's name, if known (e.g. "Abuse desk").
    pub name: Option<String>,
    /// The organisation (hosting provider, registrar, …), if known.
    pub organisation: Option<String>,
    /// Preferred language; the tenant's language when absent.
    pub language: Option<Language>,
}

/// Which rung of the escalation ladder this notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// The hosting provider of the server that serves the material.
    Hoster,
    /// The operator of the site.
    SiteOwner,
    /// The registrar of the domain.
    Registrar,
    /// A CDN or proxy in front of the origin (asked to act and to disclose the origin).
    Cdn,
    /// A police unit (referral).
    Police,
}

impl StepKind {
    /// Stable lowercase code, used in Message-IDs and templates.
    pub fn code(self) -> &'static str {
        match self {
            StepKind::Hoster => "hoster",
            StepKind::SiteOwner => "site_owner",
            StepKind::Registrar => "registrar",
            StepKind::Cdn => "cdn",
            StepKind::Police => "police",
        }
    }
}

/// The step of the notice: the ladder rung and how many times this rung was sent before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Step {
    /// Ladder rung.
    pub kind: StepKind,
    /// 0 for the first notice on this rung, 1 for the first reminder, and so on. Part of the
    /// Message-ID and XARF report ids, so every reminder is a distinct message while a retry of
    /// the same step is byte-for-byte the same message.
    pub sequence: u32,
}

/// Legal category of an item in the tenant's jurisdiction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalCategory {
    /// Illegal internationally (INTERPOL baseline).
    Baseline,
    /// Illegal under the tenant's national law only.
    National,
}

/// Grade of the industry classification scheme that XARF's CSAM `classification` uses
/// besides `baseline`: A = prepubescent, B = pubescent; 1 = sex act, 2 = lascivious exhibition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CsamGrade {
    /// Prepubescent, sex act.
    A1,
    /// Prepubescent, lascivious exhibition.
    A2,
    /// Pubescent, sex act.
    B1,
    /// Pubescent, lascivious exhibition.
    B2,
}

impl CsamGrade {
    /// The code as written in XARF (`A1` …).
    pub fn code(self) -> &'static str {
        match self {
            CsamGrade::A1 => "A1",
            CsamGrade::A2 => "A2",
            CsamGrade::B1 => "B1",
            CsamGrade::B2 => "B2",
        }
    }
}

/// How the item was found to be illegal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detection {
    /// Its digest or PDQ matched a list of known material.
    HashMatch,
    /// An analyst classified it.
    ManualReview,
}

/// Kind of media at the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A still image.
    Image,
    /// A video.
    Video,
    /// A page or archive that holds several media.
    Mixed,
}

/// Exact digests of the media, lowercase or uppercase hex.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digests {
    /// MD5, 32 hex digits.
    pub md5: Option<String>,
    /// SHA-1, 40 hex digits.
    pub sha1: Option<String>,
    /// SHA-256, 64 hex digits.
    pub sha256: Option<String>,
}

/// One URL the notice asks to remove. Only identifiers: never the material.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoticeItem {
    /// The URL where the material is served (`http` or `https`).
    pub url: String,
    /// When the hotline first saw the material at this URL (UTC).
    pub first_seen: DateTime<Utc>,
    /// When the material was last seen online at this URL, if checked.
    pub last_seen_online: Option<DateTime<Utc>>,
    /// Exact digests.
    pub digests: Digests,
    /// PDQ perceptual hash, 64 hex digits.
    pub pdq: Option<String>,
    /// Legal category in the tenant's jurisdiction.
    pub legal_category: LegalCategory,
    /// Industry grade; required for [`LegalCategory::National`] items because XARF has no
    /// value for "national" (see [`crate::xarf`]).
    pub grade: Option<CsamGrade>,
    /// How the material was identified.
    pub detection: Detection,
    /// Kind of media, if known.
    pub media: Option<MediaKind>,
    /// IP address the host resolved to when the material was seen.
    pub ip: Option<IpAddr>,
    /// Autonomous system of that address.
    pub asn: Option<u32>,
    /// Hosting organisation according to attribution.
    pub hosting_org: Option<String>,
}

/// Everything needed to render and send one notice to one recipient.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notice {
    /// The sending hotline.
    pub tenant: Tenant,
    /// Stable notice reference, e.g. `NL-2026-000123`: shown in the subject, part of the
    /// Message-ID. 1–64 characters from `A-Z a-z 0-9 -`, starting with a letter or digit.
    pub reference: String,
    /// Ladder rung and repetition.
    pub step: Step,
    /// The recipient.
    pub recipient: Recipient,
    /// The URLs (at least one).
    pub items: Vec<NoticeItem>,
    /// Signed link where the recipient acknowledges or disputes the notice (shown as text).
    pub response_link: Option<String>,
    /// When the notice was created (the `Date:` header and the XARF `verified_at` fallback).
    pub created_at: DateTime<Utc>,
}

/// Most items one notice may list; larger groups should be split by the caller (mail size and
/// readability).
pub const MAX_ITEMS: usize = 500;

impl Notice {
    /// The language the notice is written in: the recipient's preference, else the tenant's.
    pub fn language(&self) -> Language {
        self.recipient.language.unwrap_or(self.tenant.language)
    }

    /// Checks every field once; all builders call this first.
    pub fn validate(&self) -> Result<(), Error> {
        check_reference(&self.reference)?;
        check_nonempty("tenant.name", &self.tenant.name)?;
        if self.tenant.name.chars().count() > 200 {
            return Err(Error::invalid("tenant.name", "longer than 200 characters"));
        }
        check_domain("tenant.domain", &self.tenant.domain)?;
        check_email("tenant.from_address", &self.tenant.from_address)?;
        check_email("tenant.bounce_address", &self.tenant.bounce_address)?;
        check_email("tenant.contact_address", &self.tenant.contact_address)?;
        if let Some(reply_to) = &self.tenant.reply_to {
            check_email("tenant.reply_to", reply_to)?;
        }
        check_email("recipient.email", &self.recipient.email)?;
        for (field, value) in [
            ("recipient.name", &self.recipient.name),
            ("recipient.organisation", &self.recipient.organisation),
        ] {
            if let Some(value) = value {
                check_single_line(field, value)?;
            }
        }
        check_single_line("tenant.name", &self.tenant.name)?;
        if let Some(link) = &self.response_link {
            check_http_url("response_link", link)?;
        }
        if self.items.is_empty() {
            return Err(Error::invalid("items", "a notice lists at least one URL"));
        }
        if self.items.len() > MAX_ITEMS {
            return Err(Error::invalid(
                "items",
                format!("{} URLs; at most {MAX_ITEMS} per notice", self.items.len()),
            ));
        }
        for item in &self.items {
            item.validate()?;
        }
        Ok(())
    }
}

impl NoticeItem {
    /// Checks the URL, digests and the category/grade combination.
    pub fn validate(&self) -> Result<(), Error> {
        check_http_url("items.url", &self.url)?;
        let hex_fields = [
            ("md5", self.digests.md5.as_deref(), 32),
            ("sha1", self.digests.sha1.as_deref(), 40),
            ("sha256", self.digests.sha256.as_deref(), 64),
            ("pdq", self.pdq.as_deref(), 64),
        ];
        for (name, value, len) in hex_fields {
            if let Some(value) = value
                && (value.len() != len || !value.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(Error::invalid(
                    "items.digests",
                    format!("{name} of {} is not {len} hex digits: {value:?}", self.url),
                ));
            }
        }
        if self.legal_category == LegalCategory::National && self.grade.is_none() {
            return Err(Error::NationalWithoutGrade {
                url: self.url.clone(),
            });
        }
        if let Some(org) = &self.hosting_org {
            check_single_line("items.hosting_org", org)?;
        }
        if self.asn == Some(0) {
            return Err(Error::invalid("items.asn", "AS 0 is not a real AS"));
        }
        Ok(())
    }
}

fn check_reference(reference: &str) -> Result<(), Error> {
    let ok = !reference.is_empty()
        && reference.len() <= 64
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && reference.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "reference",
            format!("{reference:?} is not 1-64 characters of A-Z a-z 0-9 -"),
        ))
    }
}

fn check_nonempty(field: &'static str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "empty"));
    }
    Ok(())
}

fn check_single_line(field: &'static str, value: &str) -> Result<(), Error> {
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            format!("{value:?} contains control characters"),
        ));
    }
    Ok(())
}

fn check_email(field: &'static str, value: &str) -> Result<(), Error> {
    value
        .parse::<lettre::Address>()
        .map(|_| ())
        .map_err(|e| Error::invalid(field, format!("{value:?} is not an e-mail address: {e}")))
}

/// A host name as XARF's `hostname` format and Message-IDs need it: labels of letters, digits
/// and inner hyphens, at least two labels.
fn check_domain(field: &'static str, value: &str) -> Result<(), Error> {
    if crate::xarf::is_plain_domain(value) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("{value:?} is not a lowercase domain name like hotline.example"),
        ))
    }
}

fn check_http_url(field: &'static str, value: &str) -> Result<(), Error> {
    let parsed = url::Url::parse(value)
        .map_err(|e| Error::invalid(field, format!("{value:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(Error::invalid(
            field,
            format!("{value:?} is not an http(s) URL with a host"),
        ));
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid(
            field,
            format!("{value:?} contains whitespace or control characters"),
        ));
    }
    Ok(())
}
