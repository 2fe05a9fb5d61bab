//! Input types: the recorded timelines the statistics are computed from. The store produces
//! them from cases, notices, observations and hits; nothing here reads a database or a clock.

use std::fmt;

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Database id of a takedown case (as the store numbers them).
pub type CaseId = i64;
/// Database id of a follow-up hit.
pub type HitId = i64;

/// A hosting organisation. Two keys are the same organisation when both fields are equal, so
/// the caller merges an organisation's ASes (and resold ranges) into one key before calling:
/// either the organisation name with its main AS number, or the name alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OrgKey {
    /// Organisation name as attribution found it (RDAP org or a curated rule).
    pub name: String,
    /// Main AS number, if the organisation is identified by one.
    pub asn: Option<u32>,
}

impl OrgKey {
    /// A key from a name and an optional AS number.
    pub fn new(name: &str, asn: Option<u32>) -> OrgKey {
        OrgKey {
            name: name.to_string(),
            asn,
        }
    }
}

impl fmt::Display for OrgKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.asn {
            Some(asn) => write!(f, "{} (AS{asn})", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Who hosted a URL during a time span, half-open `[from, to)`; `to = None` means "still".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HosterSpell {
    /// The hosting organisation.
    pub org: OrgKey,
    /// Start of the span (first observation attributing the URL to `org`).
    pub from: DateTime<Utc>,
    /// End of the span (exclusive), if the URL moved or the attribution changed.
    pub to: Option<DateTime<Utc>>,
}

impl HosterSpell {
    /// Whether the spell covers instant `at`.
    pub fn covers(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && self.to.is_none_or(|to| at < to)
    }
}

/// Which notice in a case's sequence this was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeStep {
    /// The first notice to this recipient.
    Notice,
    /// A repeated notice (the content was still online).
    Reminder,
    /// A notice one level up (upstream provider, registrar, police route).
    Escalation,
}

/// One notice that was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeRecord {
    /// When it was sent.
    pub at: DateTime<Utc>,
    /// The organisation it was sent to (hoster, upstream, registrar, …).
    pub recipient: OrgKey,
    /// Its place in the sequence.
    pub step: NoticeStep,
}

/// A verified removal: the first failed observation of an offline streak and the moment the
/// streak was long enough to count as verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removal {
    /// First observation that found the content gone (start of the offline streak).
    pub offline_at: DateTime<Utc>,
    /// When the offline streak was confirmed (removal verified).
    pub verified_at: DateTime<Utc>,
}

/// The recorded timeline of one takedown case (one URL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseTimeline {
    /// Case id.
    pub case_id: CaseId,
    /// The normalised URL.
    pub url: String,
    /// Registrable domain of the URL (repeat detection).
    pub site: String,
    /// SHA-256 of the material (lowercase hex), if it was captured (repeat detection).
    pub digest: Option<String>,
    /// Who hosted the URL when; may overlap or leave gaps (then attribution fails or picks the
    /// earliest-starting spell, see [`CaseTimeline::hoster_at`]).
    pub hosters: Vec<HosterSpell>,
    /// When the report reached the hotline.
    pub reported_at: DateTime<Utc>,
    /// Every notice sent for the case, to any recipient.
    pub notices: Vec<NoticeRecord>,
    /// First response of the provider (acknowledgement or dispute), if any.
    pub responded_at: Option<DateTime<Utc>>,
    /// The first verified removal, if any.
    pub removal: Option<Removal>,
    /// Times the same URL was found online again after a verified removal.
    pub reoccurred_at: Vec<DateTime<Utc>>,
}

impl CaseTimeline {
    /// The first notice to anyone (the clock for removal times starts here).
    pub fn first_notice_at(&self) -> Option<DateTime<Utc>> {
        self.notices.iter().map(|n| n.at).min()
    }

    /// The hoster at `at`: the covering spell that started latest (the most recent
    /// attribution wins when spells overlap).
    pub fn hoster_at(&self, at: DateTime<Utc>) -> Option<&OrgKey> {
        self.hosters
            .iter()
            .filter(|s| s.covers(at))
            .max_by(|a, b| a.from.cmp(&b.from).then_with(|| b.org.cmp(&a.org)))
            .map(|s| &s.org)
    }
}

/// The recorded follow-up timeline of one hash-check hit (the provider's own upload matched a
/// list), attributed to the provider organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HitRecord {
    /// Hit id.
    pub hit_id: HitId,
    /// The provider the hit belongs to.
    pub org: OrgKey,
    /// When the hit was recorded.
    pub created_at: DateTime<Utc>,
    /// Acknowledgement deadline.
    pub deadline_at: DateTime<Utc>,
    /// First acknowledgement, if any.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When the removal was verified, if it was.
    pub verified_at: Option<DateTime<Utc>>,
    /// When the hit went overdue, if it did.
    pub overdue_at: Option<DateTime<Utc>>,
}

/// Address space an organisation announces in BGP (summed over its ASes): the denominator of
/// the normalised figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnouncedSpace {
    /// The organisation.
    pub org: OrgKey,
    /// Announced IPv4 addresses.
    pub ipv4_addresses: u64,
    /// Announced IPv6 space in /48 blocks.
    pub ipv6_slash48s: u64,
}

impl AnnouncedSpace {
    /// IPv4 space in /24 equivalents (256 addresses each); `None` without IPv4 space, so no
    /// figure is divided by zero.
    pub fn slash24_equivalents(&self) -> Option<f64> {
        (self.ipv4_addresses > 0).then(|| self.ipv4_addresses as f64 / 256.0)
    }
}

/// Everything the statistics are computed from. Pass the full history, not only the period:
/// repeat offences look back at earlier removals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorInput {
    /// Takedown cases.
    pub cases: Vec<CaseTimeline>,
    /// Follow-up hits.
    pub hits: Vec<HitRecord>,
    /// Announced address space per organisation.
    pub space: Vec<AnnouncedSpace>,
}

/// A half-open reporting period `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "PeriodRaw")]
pub struct Period {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

#[derive(Deserialize)]
struct PeriodRaw {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl TryFrom<PeriodRaw> for Period {
    type Error = PeriodError;
    fn try_from(raw: PeriodRaw) -> Result<Self, Self::Error> {
        Period::new(raw.from, raw.to)
    }
}

/// A period that is empty or reversed, or a month that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// `from` is not before `to`.
    #[error("period start {from} is not before its end {to}")]
    Empty {
        /// Start.
        from: DateTime<Utc>,
        /// End.
        to: DateTime<Utc>,
    },
    /// Year or month out of range.
    #[error("no such month {year}-{month:02}")]
    BadMonth {
        /// Year.
        year: i32,
        /// Month.
        month: u32,
    },
}

impl Period {
    /// `[from, to)`; refuses empty and reversed periods.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Period, PeriodError> {
        if from >= to {
            return Err(PeriodError::Empty { from, to });
        }
        Ok(Period { from, to })
    }

    /// One calendar month in UTC.
    pub fn month(year: i32, month: u32) -> Result<Period, PeriodError> {
        let bad = || PeriodError::BadMonth { year, month };
        let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
        let next = first.checked_add_months(Months::new(1)).ok_or_else(bad)?;
        let at = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t));
        Period::new(at(first).ok_or_else(bad)?, at(next).ok_or_else(bad)?)
    }

    /// The calendar months (UTC) that overlap this period, each cut to the period.
    pub fn months(&self) -> Vec<Period> {
        let mut out = Vec::new();
        let mut year = self.from.year();
        let mut month = self.from.month();
        while let Ok(whole) = Period::month(year, month) {
            if whole.from >= self.to {
                break;
            }
            let from = whole.from.max(self.from);
            let to = whole.to.min(self.to);
            if let Ok(part) = Period::new(from, to) {
                out.push(part);
            }
            (year, month) = if month == 12 {
                (year + 1, 1)
            } else {
                (year, month + 1)
            };
        }
        out
    }

    /// Start (inclusive).
    pub fn from(&self) -> DateTime<Utc> {
        self.from
    }

    /// End (exclusive).
    pub fn to(&self) -> DateTime<Utc> {
        self.to
    }

    /// Whether `at` lies in `[from, to)`.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }

    /// `YYYY-MM` of the start (labels of monthly trend points).
    pub fn month_label(&self) -> String {
        format!("{:04}-{:02}", self.from.year(), self.from.month())
    }
}

/// Settings of a statistics run. No `Default`: the caller (the regulator's configuration)
/// decides; [`MonitorConfig::STANDARD`] holds the values the methodology text describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorConfig {
    /// A case counts as non-response when, this many hours after the first notice, the provider
    /// has neither responded nor removed the content.
    pub non_response_hours: u32,
}

impl MonitorConfig {
    /// The published method: non-response after 48 hours.
    pub const STANDARD: MonitorConfig = MonitorConfig {
        non_response_hours: 48,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    #[test]
    fn periods_are_half_open_and_validated() {
        let p = Period::new(at(2026, 1, 1), at(2026, 2, 1)).unwrap();
        assert!(p.contains(at(2026, 1, 1)));
        assert!(!p.contains(at(2026, 2, 1)));
        assert!(Period::new(at(2026, 2, 1), at(2026, 2, 1)).is_err());
        assert!(Period::month(2026, 13).is_err());
        assert_eq!(Period::month(2026, 12).unwrap().to(), at(2027, 1, 1));
        let bad: Result<Period, _> =
            serde_json::from_str(r#"{"from":"2026-02-01T00:00:00Z","to":"2026-01-01T00:00:00Z"}"#);
        assert!(bad.is_err());
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Period>(&json).unwrap(), p);
    }

    #[test]
    fn months_split_a_period_at_calendar_boundaries() {
        let p = Period::new(at(2025, 11, 15), at(2026, 2, 10)).unwrap();
        let labels: Vec<_> = p.months().iter().map(Period::month_label).collect();
        assert_eq!(labels, ["2025-11", "2025-12", "2026-01", "2026-02"]);
        assert_eq!(p.months()[0].from(), at(2025, 11, 15));
        assert_eq!(p.months()[3].to(), at(2026, 2, 10));
    }

    #[test]
    fn hoster_at_uses_half_open_spells_and_the_latest_start() {
        let a = OrgKey::new("A", Some(1));
        let b = OrgKey::new("B", None);
        let case = CaseTimeline {
            case_id: 1,
            url: "http://x.example/".into(),
            site: "x.example".into(),
            digest: None,
            hosters: vec![
                HosterSpell {
                    org: a.clone(),
                    from: at(2026, 1, 1),
                    to: Some(at(2026, 1, 10)),
                },
                HosterSpell {
                    org: b.clone(),
                    from: at(2026, 1, 10),
                    to: None,
                },
            ],
            reported_at: at(2026, 1, 1),
            notices: vec![],
            responded_at: None,
            removal: None,
            reoccurred_at: vec![],
        };
        assert_eq!(case.hoster_at(at(2026, 1, 9)), Some(&a));
        assert_eq!(case.hoster_at(at(2026, 1, 10)), Some(&b));
        assert_eq!(case.hoster_at(at(2025, 12, 31)), None);
        assert_eq!(a.to_string(), "A (AS1)");
    }
}
