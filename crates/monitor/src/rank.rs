//! Ranking organisations by one metric, leaving out small samples so a provider with three
//! cases is not put at the top or bottom of a public list by chance.

use serde::{Deserialize, Serialize};

use crate::model::OrgKey;
use crate::stats::OrgStats;

/// What to rank by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankMetric {
    /// Distinct URLs received.
    Urls,
    /// Notices received.
    Notices,
    /// Median removal time.
    RemovalP50,
    /// 90th percentile removal time.
    RemovalP90,
    /// Share removed within 24 h.
    RemovedWithin24h,
    /// Share of cases online at period end.
    OnlineAtPeriodEnd,
    /// Share of non-response.
    NonResponse,
    /// Repeat offences per case.
    RepeatOffences,
    /// URLs per announced IPv4 /24.
    UrlsPerSlash24,
}

impl RankMetric {
    /// Every metric (UI selects, tests).
    pub const ALL: &[RankMetric] = &[
        RankMetric::Urls,
        RankMetric::Notices,
        RankMetric::RemovalP50,
        RankMetric::RemovalP90,
        RankMetric::RemovedWithin24h,
        RankMetric::OnlineAtPeriodEnd,
        RankMetric::NonResponse,
        RankMetric::RepeatOffences,
        RankMetric::UrlsPerSlash24,
    ];

    /// Whether a higher value is worse for the provider.
    pub fn higher_is_worse(self) -> bool {
        !matches!(self, RankMetric::RemovedWithin24h)
    }

    /// The metric's value for a row; `None` when it is undefined (no removals, no denominator,
    /// unknown address space).
    pub fn value(self, row: &OrgStats) -> Option<f64> {
        let ratio = |n: u64, d: u64| (d > 0).then(|| n as f64 / d as f64);
        match self {
            RankMetric::Urls => Some(row.urls as f64),
            RankMetric::Notices => Some(row.notices as f64),
            RankMetric::RemovalP50 => row.removal_p50_seconds.map(|s| s as f64),
            RankMetric::RemovalP90 => row.removal_p90_seconds.map(|s| s as f64),
            RankMetric::RemovedWithin24h => row.removed_within[2].share,
            RankMetric::OnlineAtPeriodEnd => ratio(row.online_at_period_end, row.cases),
            RankMetric::NonResponse => row.non_response.share,
            RankMetric::RepeatOffences => ratio(row.repeat_offences, row.cases),
            RankMetric::UrlsPerSlash24 => row.normalised.map(|n| n.urls_per_slash24),
        }
    }
}

/// Which end of the list comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankOrder {
    /// The worst performer gets rank 1 (the "naming" list).
    WorstFirst,
    /// The best performer gets rank 1.
    BestFirst,
}

/// One ranked organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedOrg {
    /// 1-based competition rank: equal values share a rank and the next rank skips (1, 2, 2, 4).
    pub rank: u32,
    /// The organisation.
    pub org: OrgKey,
    /// The metric's value.
    pub value: f64,
    /// Its number of cases (the volume the threshold is checked against).
    pub cases: u64,
}

/// A ranking and the organisations left out of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranking {
    /// The metric.
    pub metric: RankMetric,
    /// The order.
    pub order: RankOrder,
    /// Minimum number of cases to be ranked.
    pub min_cases: u64,
    /// Ranked organisations, rank 1 first.
    pub ranked: Vec<RankedOrg>,
    /// Organisations with fewer cases than `min_cases` (listed, never ranked).
    pub below_threshold: Vec<OrgKey>,
    /// Organisations for which the metric is undefined.
    pub no_value: Vec<OrgKey>,
}

/// Ranks organisation rows by `metric`. Rows with fewer than `min_cases` cases are listed
/// separately, and so are rows without a value; the national row (`org = None`) is skipped.
/// Ties keep the same rank and are listed by organisation (name, then AS number), so the
/// result does not depend on the input order.
pub fn rank(rows: &[OrgStats], metric: RankMetric, order: RankOrder, min_cases: u64) -> Ranking {
    let mut candidates = Vec::new();
    let mut below_threshold = Vec::new();
    let mut no_value = Vec::new();
    for row in rows {
        let Some(org) = &row.org else { continue };
        if row.cases < min_cases {
            below_threshold.push(org.clone());
            continue;
        }
        match metric.value(row) {
            Some(value) if value.is_finite() => candidates.push((org.clone(), value, row.cases)),
            _ => no_value.push(org.clone()),
        }
    }
    let worst_first = order == RankOrder::WorstFirst;
    let descending = worst_first == metric.higher_is_worse();
    candidates.sort_by(|a, b| {
        let by_value = if descending {
            b.1.total_cmp(&a.1)
        } else {
            a.1.total_cmp(&b.1)
        };
        by_value.then_with(|| a.0.cmp(&b.0))
    });
    let mut ranked: Vec<RankedOrg> = Vec::with_capacity(candidates.len());
    for (idx, (org, value, cases)) in candidates.into_iter().enumerate() {
        let rank = match ranked.last() {
            Some(prev) if prev.value == value => prev.rank,
            _ => u32::try_from(idx + 1).unwrap_or(u32::MAX),
        };
        ranked.push(RankedOrg {
            rank,
            org,
            value,
            cases,
        });
    }
    below_threshold.sort();
    no_value.sort();
    Ranking {
        metric,
        order,
        min_cases,
        ranked,
        below_threshold,
        no_value,
    }
}
