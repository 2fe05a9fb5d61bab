//! The statistics: per-case assessment, per-organisation aggregation, percentiles, monthly
//! trend. Every number is defined in `METHOD.en.md` / `METHOD.nl.md`; the doc comments here
//! repeat the definition briefly so code and text can be checked against each other.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::METHOD_VERSION;
use crate::model::{
    AnnouncedSpace, CaseId, CaseTimeline, HitRecord, MonitorConfig, MonitorInput, OrgKey, Period,
};

/// The removal windows reported as shares, in hours.
pub const WINDOWS_HOURS: [u32; 4] = [1, 12, 24, 48];

/// A count out of a denominator, with the share when the denominator is not zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Share {
    /// Numerator.
    pub count: u64,
    /// Denominator.
    pub of: u64,
    /// `count / of`, `None` when `of` is zero.
    pub share: Option<f64>,
}

impl Share {
    /// `count` out of `of`.
    pub fn new(count: u64, of: u64) -> Share {
        Share {
            count,
            of,
            share: (of > 0).then(|| count as f64 / of as f64),
        }
    }
}

/// Counts of cases in the period that could not be attributed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusions {
    /// Reported in the period but never notified.
    pub no_notice: u64,
    /// First notice in the period, but no hoster known at that time.
    pub no_hoster: u64,
}

/// What the method concludes about one case (the per-case basis of every figure; the
/// per-provider pages can list these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseAssessment {
    /// Case id.
    pub case_id: CaseId,
    /// URL (for the analyst's drill-down; never published on the public pages).
    pub url: String,
    /// The organisation the case is attributed to: the hoster at the first notice.
    pub org: OrgKey,
    /// First notice to anyone.
    pub first_notice_at: DateTime<Utc>,
    /// Seconds from first notice to the first offline observation of the verified removal;
    /// `Some(0)` when removed before the first notice; `None` when not (yet) verified removed at
    /// the report time (censored).
    pub removal_seconds: Option<i64>,
    /// The content was already offline at (or before) the first notice.
    pub removed_before_notice: bool,
    /// Online at the end of the period (or at the report time, if earlier).
    pub online_at_period_end: bool,
    /// Another organisation hosted the URL after the first notice, before removal.
    pub hoster_changed: bool,
    /// Neither a response nor a removal within the non-response window; `None` while the window
    /// has not ended and nothing happened yet.
    pub non_response: Option<bool>,
    /// The same URL came back online after its verified removal.
    pub reoccurred: bool,
    /// An earlier case at the same organisation with the same site or digest had been verified
    /// removed before this case's first notice.
    pub repeat_of_earlier: bool,
}

impl CaseAssessment {
    /// Whether this case counts as a repeat offence (re-occurrence or repeat of earlier).
    pub fn is_repeat(&self) -> bool {
        self.reoccurred || self.repeat_of_earlier
    }
}

/// Cases in buckets of removal time (upper bounds inclusive), plus the censored ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovalDistribution {
    /// Removed within 1 h (includes removed before notice).
    pub within_1h: u64,
    /// More than 1 h, at most 12 h.
    pub h1_to_12: u64,
    /// More than 12 h, at most 24 h.
    pub h12_to_24: u64,
    /// More than 24 h, at most 48 h.
    pub h24_to_48: u64,
    /// More than 48 h.
    pub over_48h: u64,
    /// Not verified removed at the report time.
    pub never: u64,
}

impl RemovalDistribution {
    /// The six buckets in order, for charts and tables.
    pub fn buckets(&self) -> [u64; 6] {
        [
            self.within_1h,
            self.h1_to_12,
            self.h12_to_24,
            self.h24_to_48,
            self.over_48h,
            self.never,
        ]
    }

    fn add(&mut self, removal_seconds: Option<i64>) {
        match removal_seconds {
            None => self.never += 1,
            Some(s) if s <= 3_600 => self.within_1h += 1,
            Some(s) if s <= 12 * 3_600 => self.h1_to_12 += 1,
            Some(s) if s <= 24 * 3_600 => self.h12_to_24 += 1,
            Some(s) if s <= 48 * 3_600 => self.h24_to_48 += 1,
            Some(_) => self.over_48h += 1,
        }
    }
}

/// Follow-up quality from hash-check hits in the period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HitQuality {
    /// Hits recorded in the period.
    pub hits: u64,
    /// Acknowledged at or before the deadline, out of hits whose deadline has passed (or that
    /// were acknowledged in time already).
    pub acknowledged_in_deadline: Share,
    /// Removal verified (at the report time), out of all hits.
    pub verified: Share,
    /// Hits that went overdue.
    pub overdue: u64,
}

/// Address-space-normalised figures (per IPv4 /24 equivalent).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Normalised {
    /// Announced IPv4 space in /24 equivalents.
    pub ipv4_slash24s: f64,
    /// Announced IPv6 /48s (shown, not used as a denominator).
    pub ipv6_slash48s: u64,
    /// Distinct URLs per /24.
    pub urls_per_slash24: f64,
    /// Notices per /24.
    pub notices_per_slash24: f64,
    /// Cases online at period end per /24.
    pub online_at_end_per_slash24: f64,
}

/// All figures for one organisation (or the national total) over one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgStats {
    /// The organisation; `None` on the national row.
    pub org: Option<OrgKey>,
    /// Notices sent in the period to this organisation (all steps).
    pub notices: u64,
    /// `notices` as a share of the national total of notices to hosting organisations.
    pub share_of_national_notices: Option<f64>,
    /// Cases whose first notice fell in the period and that are attributed here.
    pub cases: u64,
    /// Distinct URLs among those cases.
    pub urls: u64,
    /// `urls` as a share of the national total.
    pub share_of_national_urls: Option<f64>,
    /// Cases verified removed at the report time (including removed before notice).
    pub removed: u64,
    /// Cases already offline at the first notice (counted with time 0).
    pub removed_before_notice: u64,
    /// Cases not verified removed at the report time (censored; excluded from percentiles).
    pub not_removed: u64,
    /// Cases online at the end of the period (or at the report time, if earlier).
    pub online_at_period_end: u64,
    /// Nearest-rank percentiles of the removal time in seconds, over removed cases.
    pub removal_p50_seconds: Option<i64>,
    /// 90th percentile.
    pub removal_p90_seconds: Option<i64>,
    /// 99th percentile.
    pub removal_p99_seconds: Option<i64>,
    /// Removed within 1, 12, 24 and 48 hours ([`WINDOWS_HOURS`]), each out of the cases whose
    /// window has ended or that were removed.
    pub removed_within: [Share; 4],
    /// Removal-time histogram.
    pub distribution: RemovalDistribution,
    /// Cases with neither response nor removal within the non-response window.
    pub non_response: Share,
    /// Cases that are repeat offences (re-occurred, or repeat of an earlier removal).
    pub repeat_offences: u64,
    /// Of which: the same URL came back after removal.
    pub reoccurred: u64,
    /// Of which: same site or digest as an earlier removed case here.
    pub repeat_of_earlier: u64,
    /// Cases whose URL moved to another hoster after the first notice (still counted here).
    pub hoster_changed: u64,
    /// Follow-up quality of hash-check hits.
    pub hits: HitQuality,
    /// Normalised figures, when the announced space is known and has IPv4.
    pub normalised: Option<Normalised>,
}

/// A statistics run: the method, the period, the national row and one row per organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorReport {
    /// [`METHOD_VERSION`] at computation time.
    pub method_version: String,
    /// The period.
    pub period: Period,
    /// Information recorded after this instant was ignored.
    pub as_of: DateTime<Utc>,
    /// Settings used.
    pub config: MonitorConfig,
    /// All attributed cases together.
    pub national: OrgStats,
    /// One row per organisation with cases or hits in the period, sorted by organisation.
    pub rows: Vec<OrgStats>,
    /// Cases left out, and why.
    pub excluded: Exclusions,
    /// The windows of `removed_within`, in hours ([`WINDOWS_HOURS`]), so JSON readers need not
    /// know the order by heart.
    pub windows_hours: [u32; 4],
}

/// Nearest-rank percentile of sorted values: the value at 1-based rank `ceil(p / 100 × n)`,
/// clamped to `[1, n]`; exact integer arithmetic. `None` for no values; `p` above 100 is
/// treated as 100 and 0 as the minimum.
pub fn percentile_nearest_rank(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as u64;
    let p = u64::from(p.min(100));
    let rank = (p * n).div_ceil(100).clamp(1, n);
    sorted.get(usize::try_from(rank - 1).ok()?).copied()
}

/// Per-case assessment of every case that falls in `period` (first notice in the period),
/// using only what was recorded at or before `as_of`. `all_cases` is the full history, which
/// repeat detection looks back into.
pub fn assess_cases(
    all_cases: &[CaseTimeline],
    period: &Period,
    as_of: DateTime<Utc>,
    config: &MonitorConfig,
) -> (Vec<CaseAssessment>, Exclusions) {
    let attributed = attributions(all_cases, as_of);
    let earlier = EarlierRemovals::build(all_cases, &attributed, as_of);
    let mut out = Vec::new();
    let mut excluded = Exclusions::default();
    for (case, attribution) in all_cases.iter().zip(&attributed) {
        let Some((first_notice_at, org)) = attribution else {
            let anchor = visible_first_notice(case, as_of).unwrap_or(case.reported_at);
            if period.contains(anchor) && anchor <= as_of {
                if visible_first_notice(case, as_of).is_some() {
                    excluded.no_hoster += 1;
                } else {
                    excluded.no_notice += 1;
                }
            }
            continue;
        };
        if !period.contains(*first_notice_at) {
            continue;
        }
        out.push(assess_one(
            case,
            org,
            *first_notice_at,
            period,
            as_of,
            config,
            &earlier,
        ));
    }
    (out, excluded)
}

/// Computes the report for `period` with information up to `as_of`.
pub fn compute_report(
    input: &MonitorInput,
    period: &Period,
    as_of: DateTime<Utc>,
    config: &MonitorConfig,
) -> MonitorReport {
    let (assessments, excluded) = assess_cases(&input.cases, period, as_of, config);
    let mut by_org: BTreeMap<&OrgKey, Vec<&CaseAssessment>> = BTreeMap::new();
    for a in &assessments {
        by_org.entry(&a.org).or_default().push(a);
    }
    let mut hits_by_org: BTreeMap<&OrgKey, Vec<&HitRecord>> = BTreeMap::new();
    for hit in &input.hits {
        if period.contains(hit.created_at) && hit.created_at <= as_of {
            hits_by_org.entry(&hit.org).or_default().push(hit);
        }
    }
    let orgs: BTreeSet<&OrgKey> = by_org.keys().chain(hits_by_org.keys()).copied().collect();
    let mut notices_by_org: HashMap<&OrgKey, u64> = HashMap::new();
    for case in &input.cases {
        for notice in &case.notices {
            if period.contains(notice.at) && notice.at <= as_of && orgs.contains(&notice.recipient)
            {
                *notices_by_org.entry(&notice.recipient).or_default() += 1;
            }
        }
    }
    let space: HashMap<&OrgKey, &AnnouncedSpace> =
        input.space.iter().map(|s| (&s.org, s)).collect();
    let all_cases: Vec<&CaseAssessment> = assessments.iter().collect();
    let all_hits: Vec<&HitRecord> = hits_by_org.values().flatten().copied().collect();
    let national_notices: u64 = notices_by_org.values().sum();
    let mut national = aggregate(None, &all_cases, national_notices, &all_hits, None, as_of);
    let national_urls = national.urls;
    national.share_of_national_notices = share(national_notices, national_notices);
    national.share_of_national_urls = share(national_urls, national_urls);
    let rows = orgs
        .into_iter()
        .map(|org| {
            let cases = by_org.get(org).map(Vec::as_slice).unwrap_or_default();
            let hits = hits_by_org.get(org).map(Vec::as_slice).unwrap_or_default();
            let notices = notices_by_org.get(org).copied().unwrap_or(0);
            let mut row = aggregate(
                Some(org),
                cases,
                notices,
                hits,
                space.get(org).copied(),
                as_of,
            );
            row.share_of_national_notices = share(notices, national_notices);
            row.share_of_national_urls = share(row.urls, national_urls);
            row
        })
        .collect();
    MonitorReport {
        method_version: METHOD_VERSION.to_string(),
        period: *period,
        as_of,
        config: *config,
        national,
        rows,
        excluded,
        windows_hours: WINDOWS_HOURS,
    }
}

/// One point of a monthly trend line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    /// `YYYY-MM`.
    pub month: String,
    /// The month (cut to the requested period).
    pub period: Period,
    /// Cases with their first notice in the month.
    pub cases: u64,
    /// Removed within 24 h (same definition as in the report).
    pub removed_within_24h: Share,
    /// Median removal time in seconds.
    pub removal_p50_seconds: Option<i64>,
}

/// The monthly trend of one organisation (or nationally with `org = None`) over `period`.
pub fn monthly_trend(
    input: &MonitorInput,
    org: Option<&OrgKey>,
    period: &Period,
    as_of: DateTime<Utc>,
    config: &MonitorConfig,
) -> Vec<TrendPoint> {
    period
        .months()
        .into_iter()
        .map(|month| {
            let report = compute_report(input, &month, as_of, config);
            let row = match org {
                None => Some(&report.national),
                Some(org) => report.rows.iter().find(|r| r.org.as_ref() == Some(org)),
            };
            TrendPoint {
                month: month.month_label(),
                period: month,
                cases: row.map_or(0, |r| r.cases),
                removed_within_24h: row.map_or(Share::new(0, 0), |r| r.removed_within[2]),
                removal_p50_seconds: row.and_then(|r| r.removal_p50_seconds),
            }
        })
        .collect()
}

fn share(count: u64, of: u64) -> Option<f64> {
    Share::new(count, of).share
}

fn visible_first_notice(case: &CaseTimeline, as_of: DateTime<Utc>) -> Option<DateTime<Utc>> {
    case.first_notice_at().filter(|t| *t <= as_of)
}

/// (first notice, attributed hoster) per case, or `None` when unattributable.
fn attributions(
    all_cases: &[CaseTimeline],
    as_of: DateTime<Utc>,
) -> Vec<Option<(DateTime<Utc>, OrgKey)>> {
    all_cases
        .iter()
        .map(|case| {
            let first = visible_first_notice(case, as_of)?;
            Some((first, case.hoster_at(first)?.clone()))
        })
        .collect()
}

/// The removal visible at `as_of`.
fn visible_removal(case: &CaseTimeline, as_of: DateTime<Utc>) -> Option<crate::model::Removal> {
    case.removal.filter(|r| r.verified_at <= as_of)
}

/// Per (organisation, site) and (organisation, digest): the two earliest verified removals from
/// distinct cases, so "an earlier removal of another case" is one lookup.
struct EarlierRemovals {
    by_key: HashMap<(OrgKey, String), EarliestTwo>,
}

/// The two earliest (verified removal, case) entries of one key, from distinct cases.
type EarliestTwo = [Option<(DateTime<Utc>, CaseId)>; 2];

impl EarlierRemovals {
    fn build(
        all_cases: &[CaseTimeline],
        attributed: &[Option<(DateTime<Utc>, OrgKey)>],
        as_of: DateTime<Utc>,
    ) -> EarlierRemovals {
        let mut by_key: HashMap<(OrgKey, String), EarliestTwo> = HashMap::new();
        for (case, attribution) in all_cases.iter().zip(attributed) {
            let (Some((_, org)), Some(removal)) = (attribution, visible_removal(case, as_of))
            else {
                continue;
            };
            for key in Self::keys(case) {
                let slot = by_key.entry((org.clone(), key)).or_default();
                let entry = (removal.verified_at, case.case_id);
                match slot {
                    [None, _] => slot[0] = Some(entry),
                    [Some(first), second] => {
                        if first.1 == case.case_id {
                            continue;
                        }
                        if entry < *first {
                            *second = Some(*first);
                            *first = entry;
                        } else if second.is_none_or(|s| entry < s) {
                            *second = Some(entry);
                        }
                    }
                }
            }
        }
        EarlierRemovals { by_key }
    }

    /// Site and digest keys of a case; prefixed so a digest never equals a site name.
    fn keys(case: &CaseTimeline) -> Vec<String> {
        let mut keys = vec![format!("site:{}", case.site.to_ascii_lowercase())];
        if let Some(digest) = &case.digest {
            keys.push(format!("sha256:{}", digest.to_ascii_lowercase()));
        }
        keys
    }

    fn repeat(&self, case: &CaseTimeline, org: &OrgKey, before: DateTime<Utc>) -> bool {
        Self::keys(case).into_iter().any(|key| {
            self.by_key
                .get(&(org.clone(), key))
                .into_iter()
                .flatten()
                .flatten()
                .any(|(verified_at, case_id)| *case_id != case.case_id && *verified_at < before)
        })
    }
}

fn assess_one(
    case: &CaseTimeline,
    org: &OrgKey,
    first_notice_at: DateTime<Utc>,
    period: &Period,
    as_of: DateTime<Utc>,
    config: &MonitorConfig,
    earlier: &EarlierRemovals,
) -> CaseAssessment {
    let removal = visible_removal(case, as_of);
    let removed_before_notice = removal.is_some_and(|r| r.offline_at <= first_notice_at);
    let removal_seconds = removal.map(|r| (r.offline_at - first_notice_at).num_seconds().max(0));

    // Online at the end of the period (or now, for a running period): not removed by then, or
    // come back after the removal.
    let reference = period.to().min(as_of);
    let online_at_period_end = match removal {
        Some(r) if r.offline_at < reference => case
            .reoccurred_at
            .iter()
            .any(|t| *t > r.offline_at && *t < reference && *t <= as_of),
        _ => true,
    };

    // A hoster change counts between the first notice and the removal (or the report time).
    let change_until = removal.map_or(as_of, |r| r.offline_at);
    let hoster_changed = case
        .hosters
        .iter()
        .any(|s| s.org != *org && s.from > first_notice_at && s.from <= change_until);

    let window_end = first_notice_at + Duration::hours(i64::from(config.non_response_hours));
    let responded = case
        .responded_at
        .is_some_and(|t| t <= window_end && t <= as_of);
    let removed_in_window = removal.is_some_and(|r| r.offline_at <= window_end);
    let non_response = if responded || removed_in_window {
        Some(false)
    } else if window_end <= as_of {
        Some(true)
    } else {
        None
    };

    CaseAssessment {
        case_id: case.case_id,
        url: case.url.clone(),
        org: org.clone(),
        first_notice_at,
        removal_seconds,
        removed_before_notice,
        online_at_period_end,
        hoster_changed,
        non_response,
        reoccurred: removal.is_some() && case.reoccurred_at.iter().any(|t| *t <= as_of),
        repeat_of_earlier: earlier.repeat(case, org, first_notice_at),
    }
}

fn aggregate(
    org: Option<&OrgKey>,
    cases: &[&CaseAssessment],
    notices: u64,
    hits: &[&HitRecord],
    space: Option<&AnnouncedSpace>,
    as_of: DateTime<Utc>,
) -> OrgStats {
    let count = |f: &dyn Fn(&CaseAssessment) -> bool| cases.iter().filter(|c| f(c)).count() as u64;
    let n_cases = cases.len() as u64;
    let urls = cases
        .iter()
        .map(|c| c.url.as_str())
        .collect::<BTreeSet<_>>()
        .len() as u64;
    let mut times: Vec<i64> = cases.iter().filter_map(|c| c.removal_seconds).collect();
    times.sort_unstable();
    let removed_within = WINDOWS_HOURS.map(|hours| {
        let limit = i64::from(hours) * 3_600;
        let window = Duration::hours(i64::from(hours));
        let within = count(&|c| c.removal_seconds.is_some_and(|s| s <= limit));
        let decided =
            count(&|c| c.removal_seconds.is_some() || c.first_notice_at + window <= as_of);
        Share::new(within, decided)
    });
    let mut distribution = RemovalDistribution::default();
    for c in cases {
        distribution.add(c.removal_seconds);
    }
    let online_at_period_end = count(&|c| c.online_at_period_end);
    let normalised = space.and_then(|space| {
        let slash24s = space.slash24_equivalents()?;
        Some(Normalised {
            ipv4_slash24s: slash24s,
            ipv6_slash48s: space.ipv6_slash48s,
            urls_per_slash24: urls as f64 / slash24s,
            notices_per_slash24: notices as f64 / slash24s,
            online_at_end_per_slash24: online_at_period_end as f64 / slash24s,
        })
    });
    OrgStats {
        org: org.cloned(),
        notices,
        share_of_national_notices: None,
        cases: n_cases,
        urls,
        share_of_national_urls: None,
        removed: times.len() as u64,
        removed_before_notice: count(&|c| c.removed_before_notice),
        not_removed: count(&|c| c.removal_seconds.is_none()),
        online_at_period_end,
        removal_p50_seconds: percentile_nearest_rank(&times, 50),
        removal_p90_seconds: percentile_nearest_rank(&times, 90),
        removal_p99_seconds: percentile_nearest_rank(&times, 99),
        removed_within,
        distribution,
        non_response: Share::new(
            count(&|c| c.non_response == Some(true)),
            count(&|c| c.non_response.is_some()),
        ),
        repeat_offences: count(&|c| c.is_repeat()),
        reoccurred: count(&|c| c.reoccurred),
        repeat_of_earlier: count(&|c| c.repeat_of_earlier),
        hoster_changed: count(&|c| c.hoster_changed),
        hits: hit_quality(hits, as_of),
        normalised,
    }
}

fn hit_quality(hits: &[&HitRecord], as_of: DateTime<Utc>) -> HitQuality {
    let count = |f: &dyn Fn(&HitRecord) -> bool| hits.iter().filter(|h| f(h)).count() as u64;
    let acked_in_time = |h: &HitRecord| {
        h.acknowledged_at
            .is_some_and(|t| t <= h.deadline_at && t <= as_of)
    };
    HitQuality {
        hits: hits.len() as u64,
        acknowledged_in_deadline: Share::new(
            count(&acked_in_time),
            count(&|h| acked_in_time(h) || h.deadline_at <= as_of),
        ),
        verified: Share::new(
            count(&|h| h.verified_at.is_some_and(|t| t <= as_of)),
            hits.len() as u64,
        ),
        overdue: count(&|h| h.overdue_at.is_some_and(|t| t <= as_of)),
    }
}
