//! schoon hosting monitor: how fast each hosting organisation removes reported material.
//!
//! # Overview
//!
//! Pure functions over recorded timelines; no I/O, no async, no clock (the report time
//! `as_of` is passed in, so a report can be recomputed bit for bit later).
//!
//! - [`model`]: the input. [`CaseTimeline`] (one URL: hoster spells, notices, response,
//!   verified removal, re-occurrences), [`HitRecord`] (a hash-check hit's follow-up),
//!   [`AnnouncedSpace`] (normalisation), [`Period`] (half-open), [`MonitorConfig`].
//! - [`stats`]: [`compute_report`] gives a [`MonitorReport`]: a national row and one
//!   [`OrgStats`] row per organisation; [`assess_cases`] gives the per-case basis;
//!   [`monthly_trend`] the trend line; [`percentile_nearest_rank`] the percentile method.
//! - [`rank`]: [`rank()`] orders organisations by a [`RankMetric`] with a minimum volume.
//! - [`export`]: CSV and JSON of a report, with the method version on every row.
//! - [`svg`]: accessible SVG charts (removal-time histogram, monthly trend).
//! - [`methodology`]: what every number means, in English and Dutch.
//!
//! Attribution rule: a case belongs to the organisation that hosted the URL at the first
//! notice, for the whole case, even if the URL moves later (then `hoster_changed` is set).
//!
//! ```
//! use chrono::{Duration, TimeZone, Utc};
//! use schoon_monitor::*;
//!
//! let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
//! let hoster = OrgKey::new("Example Hosting", Some(64500));
//! let case = CaseTimeline {
//!     case_id: 1,
//!     url: "http://site.example/a.jpg".into(),
//!     site: "site.example".into(),
//!     digest: None,
//!     hosters: vec![HosterSpell { org: hoster.clone(), from: t0 - Duration::days(30), to: None }],
//!     reported_at: t0 - Duration::hours(1),
//!     notices: vec![NoticeRecord { at: t0, recipient: hoster.clone(), step: NoticeStep::Notice }],
//!     responded_at: Some(t0 + Duration::hours(2)),
//!     removal: Some(Removal {
//!         offline_at: t0 + Duration::hours(5),
//!         verified_at: t0 + Duration::hours(6),
//!     }),
//!     reoccurred_at: vec![],
//! };
//! let input = MonitorInput { cases: vec![case], ..MonitorInput::default() };
//! let january = Period::month(2026, 1).unwrap();
//! let report = compute_report(&input, &january, january.to(), &MonitorConfig::STANDARD);
//! let row = &report.rows[0];
//! assert_eq!(row.removal_p50_seconds, Some(5 * 3600));
//! assert_eq!(row.removed_within[2].share, Some(1.0)); // within 24 h
//! let csv = export::report_csv(&report);
//! assert!(csv.lines().nth(2).unwrap().starts_with(METHOD_VERSION));
//! let chart = svg::removal_histogram(&row.distribution, "Example Hosting", "hist-1", Lang::En);
//! assert!(chart.contains("<title id=\"hist-1-title\">"));
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod export;
pub mod model;
pub mod rank;
pub mod stats;
pub mod svg;

pub use model::{
    AnnouncedSpace, CaseId, CaseTimeline, HitId, HitRecord, HosterSpell, MonitorConfig,
    MonitorInput, NoticeRecord, NoticeStep, OrgKey, Period, PeriodError, Removal,
};
pub use rank::{RankMetric, RankOrder, RankedOrg, Ranking, rank};
pub use stats::{
    CaseAssessment, Exclusions, HitQuality, MonitorReport, Normalised, OrgStats,
    RemovalDistribution, Share, TrendPoint, WINDOWS_HOURS, assess_cases, compute_report,
    monthly_trend, percentile_nearest_rank,
};

/// Version of the method (definitions in `METHOD.*.md`). Every export carries it; change it
/// whenever a definition changes, so published figures stay comparable.
pub const METHOD_VERSION: &str = "2026.1";

/// Language of texts and chart labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    /// English.
    En,
    /// Dutch.
    Nl,
}

/// The methodology text (Markdown) that is published next to the numbers.
pub fn methodology(lang: Lang) -> &'static str {
    match lang {
        Lang::En => include_str!("../METHOD.en.md"),
        Lang::Nl => include_str!("../METHOD.nl.md"),
    }
}
