//! XARF v4 reports: one machine-readable JSON report per URL of a notice.
//!
//! Abuse desks that automate (ticket systems, AbuseIO-style parsers) read XARF instead of
//! prose. Each item of a notice becomes one report of category `content`, type `csam`, laid out
//! as the XARF v4 schemas (`xarf-core.json` + `types/content-csam.json`, schema release 4.2.0)
//! prescribe. The mapping is documented field by field in the crate README; the important
//! choices:
//!
//! * `report_id` must be a UUID. It is derived from (tenant domain, notice reference, step,
//!   sequence, URL) by SHA-256, shaped as a version-4 UUID, so a retried job produces the
//!   identical report while every reminder gets a new id.
//! * `classification` is `baseline` for baseline items and the industry grade (A1, A2, B1, B2)
//!   for national-only items; a national item without a grade is an error
//!   ([`Error::NationalWithoutGrade`]) rather than a false "baseline".
//! * `hash_values` carries the exact digests and, as an extra key, `pdq`.
//! * No `evidence` array: XARF says to attach no visual content for CSAM, only hashes and
//!   reference ids, and schoon never sends the material.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::model::{Detection, LegalCategory, MediaKind, Notice, NoticeItem};

/// The XARF schema version our reports follow (`xarf_version`).
pub const XARF_VERSION: &str = "4.2.0";

/// Longest `description` XARF allows.
const MAX_DESCRIPTION: usize = 1000;

/// A contact block (`reporter`, `sender`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XarfContact {
    /// Organisation name.
    pub org: String,
    /// Contact e-mail address.
    pub contact: String,
    /// Organisation domain.
    pub domain: String,
}

/// `hash_values` of a CSAM report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XarfHashes {
    /// MD5, lowercase hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    /// SHA-1, lowercase hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    /// SHA-256, lowercase hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// PDQ, lowercase hex (not named by the schema, which allows extra keys here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdq: Option<String>,
}

/// One XARF v4 `content`/`csam` report, serialised in this field order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XarfReport {
    /// Always [`XARF_VERSION`].
    pub xarf_version: String,
    /// Deterministic UUID (see the module docs).
    pub report_id: String,
    /// When the incident was observed: the item's first sighting (RFC 3339, UTC).
    pub timestamp: String,
    /// The hotline.
    pub reporter: XarfContact,
    /// The hotline again (it sends its own reports).
    pub sender: XarfContact,
    /// IP address serving the material, else the URL's host.
    pub source_identifier: String,
    /// The URL's port (explicit, or 80/443).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
    /// Always `content`.
    pub category: String,
    /// Always `csam`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `automated_scan` (hash match) or `researcher_analysis` (analyst).
    pub evidence_source: String,
    /// The URL of the material, in its normalised ASCII form.
    pub url: String,
    /// The URL's host when it is a plain DNS name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// `baseline`, `A1`, `A2`, `B1` or `B2`.
    pub classification: String,
    /// `hash_match` or `manual_review`.
    pub detection_method: String,
    /// `image`, `video` or `mixed`, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Digests, when any are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash_values: Option<XarfHashes>,
    /// Always `false`: the notice asks for removal of material that is online.
    pub content_removed: bool,
    /// When the material was last confirmed online.
    pub verified_at: String,
    /// `automated_crawler` or `manual`.
    pub verification_method: String,
    /// Hosting organisation from attribution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosting_provider: Option<String>,
    /// Autonomous system of the serving address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// Short human-readable summary (at most 1000 characters).
    pub description: String,
    /// `notice:<reference>`, `step:<kind>`, `legal:<category>` and, when known, `grade:<grade>`.
    pub tags: Vec<String>,
}

impl XarfReport {
    /// The report as pretty-printed JSON (what is attached to the e-mail).
    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string_pretty(self).map_err(|e| Error::Mail(format!("xarf json: {e}")))
    }
}

/// Builds the XARF report of every item of the notice, in item order.
pub fn reports(notice: &Notice) -> Result<Vec<XarfReport>, Error> {
    notice.validate()?;
    notice
        .items
        .iter()
        .map(|item| report_for_item(notice, item))
        .collect()
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn report_for_item(notice: &Notice, item: &NoticeItem) -> Result<XarfReport, Error> {
    let url = url::Url::parse(&item.url)
        .map_err(|e| Error::invalid("items.url", format!("{:?}: {e}", item.url)))?;
    let host = match url.host() {
        Some(url::Host::Domain(domain)) => domain.to_ascii_lowercase(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => {
            return Err(Error::invalid(
                "items.url",
                format!("{} has no host", item.url),
            ));
        }
    };
    let source_identifier = item.ip.map_or_else(|| host.clone(), |ip| ip.to_string());
    let domain = is_plain_domain(&host).then(|| host.clone());

    let classification = match (item.legal_category, item.grade) {
        (LegalCategory::Baseline, _) => "baseline".to_owned(),
        (LegalCategory::National, Some(grade)) => grade.code().to_owned(),
        (LegalCategory::National, None) => {
            return Err(Error::NationalWithoutGrade {
                url: item.url.clone(),
            });
        }
    };
    let (detection_method, evidence_source) = match item.detection {
        Detection::HashMatch => ("hash_match", "automated_scan"),
        Detection::ManualReview => ("manual_review", "researcher_analysis"),
    };
    let (verified_at, verification_method) = match (item.last_seen_online, item.detection) {
        (Some(seen), _) => (seen, "automated_crawler"),
        (None, Detection::HashMatch) => (item.first_seen, "automated_crawler"),
        (None, Detection::ManualReview) => (item.first_seen, "manual"),
    };
    let lower = |value: &Option<String>| value.as_ref().map(|v| v.to_ascii_lowercase());
    let hashes = XarfHashes {
        md5: lower(&item.digests.md5),
        sha1: lower(&item.digests.sha1),
        sha256: lower(&item.digests.sha256),
        pdq: lower(&item.pdq),
    };
    let hash_values = (hashes != XarfHashes::default()).then_some(hashes);

    let contact = XarfContact {
        org: notice.tenant.name.clone(),
        contact: notice.tenant.contact_address.clone(),
        domain: notice.tenant.domain.clone(),
    };
    let legal = match item.legal_category {
        LegalCategory::Baseline => "baseline",
        LegalCategory::National => "national",
    };
    let mut tags = vec![
        format!("notice:{}", notice.reference.to_ascii_lowercase()),
        format!("step:{}", notice.step.kind.code()),
        format!("legal:{legal}"),
    ];
    if let Some(grade) = item.grade {
        tags.push(format!("grade:{}", grade.code().to_ascii_lowercase()));
    }
    let mut description = format!(
        "Notice {} from {}: child sexual abuse material ({}) at this URL. Please remove it.",
        notice.reference,
        notice.tenant.name,
        match item.legal_category {
            LegalCategory::Baseline => "illegal internationally, INTERPOL baseline",
            LegalCategory::National => "illegal under national law",
        }
    );
    if let Some(link) = &notice.response_link {
        description.push_str(" Acknowledge or dispute: ");
        description.push_str(link);
    }
    truncate_chars(&mut description, MAX_DESCRIPTION);

    Ok(XarfReport {
        xarf_version: XARF_VERSION.to_owned(),
        report_id: report_id(notice, &item.url),
        timestamp: rfc3339(item.first_seen),
        reporter: contact.clone(),
        sender: contact,
        source_identifier,
        source_port: url.port_or_known_default(),
        category: "content".to_owned(),
        kind: "csam".to_owned(),
        evidence_source: evidence_source.to_owned(),
        // The parsed form: ASCII (punycode host, percent-encoded path) as the `uri` format
        // requires; the same resource as the text in the notice body.
        url: url.as_str().to_owned(),
        domain,
        classification,
        detection_method: detection_method.to_owned(),
        media_type: item.media.map(|media| {
            match media {
                MediaKind::Image => "image",
                MediaKind::Video => "video",
                MediaKind::Mixed => "mixed",
            }
            .to_owned()
        }),
        hash_values,
        content_removed: false,
        verified_at: rfc3339(verified_at),
        verification_method: verification_method.to_owned(),
        hosting_provider: item.hosting_org.clone(),
        asn: item.asn,
        description,
        tags,
    })
}

/// Deterministic, version-4-shaped UUID for the report of `url` in this notice step.
fn report_id(notice: &Notice, url: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [
        "schoon-xarf-report-v1",
        notice.tenant.domain.as_str(),
        notice.reference.as_str(),
        notice.step.kind.code(),
        &notice.step.sequence.to_string(),
        url,
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn truncate_chars(text: &mut String, max: usize) {
    if let Some((idx, _)) = text.char_indices().nth(max) {
        text.truncate(idx);
    }
}

/// True for a lowercase DNS name as XARF's content `domain` pattern accepts it:
/// `^([a-z0-9]+(-[a-z0-9]+)*\.)+[a-z]{2,}$` (so no IP literals, no trailing dot, no `--`).
pub(crate) fn is_plain_domain(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    let Some((tld, rest)) = labels.split_last() else {
        return false;
    };
    if rest.is_empty() || tld.len() < 2 || !tld.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    rest.iter().all(|label| {
        !label.is_empty()
            && label.split('-').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_domain_follows_the_xarf_pattern() {
        for ok in [
            "example.com",
            "a-b.c-d.example.nl",
            "x1.io",
            "0.example.org",
        ] {
            assert!(is_plain_domain(ok), "{ok}");
        }
        for bad in [
            "example",
            "Example.com",
            "example.c",
            "example.com.",
            "-a.example.com",
            "a-.example.com",
            "xn--bcher-kva.example",
            "192.0.2.1",
            "a..example.com",
            "example.co1",
        ] {
            assert!(!is_plain_domain(bad), "{bad}");
        }
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let mut text = "ééé".to_owned();
        truncate_chars(&mut text, 2);
        assert_eq!(text, "éé");
        let mut short = "ab".to_owned();
        truncate_chars(&mut short, 5);
        assert_eq!(short, "ab");
    }
}
