//! Hit follow-up ("check op de hashcheck"): the hit life cycle as a pure state machine, the
//! follow-up policy, an injectable clock, and follow-up metrics as pure functions over recorded
//! timelines.
//!
//! Life cycle:
//!
//! ```text
//! open ──ack{removed|blocked|false_positive|not_ours}──▶ acknowledged
//! acknowledged{removed|blocked} ──verification──▶ verified | verification_failed
//! open ──deadline──▶ overdue ──grace──▶ escalated
//! acknowledged{false_positive} ──review upheld──▶ open (deadline restarts)
//! any unresolved state ──entry revoked──▶ revoked
//! ```
//!
//! Late acknowledgements are allowed (from `overdue`, `escalated`, `verification_failed`): the
//! escalation record stays, and a provider that fixes a failed removal gets verified again.
//! `reoccurred` is a flag, not a state: it is set by the check path and never changes the state.

use std::sync::Mutex;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{HitState, UnknownValue};

/// Where time comes from. Injected so deadlines and sweeps are tested without sleeping.
pub trait Clock: Send + Sync + 'static {
    /// The current time (microsecond precision, like everything stored).
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        crate::audit::now()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock(Mutex::new(start.trunc_subsecs(6)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }

    /// Sets the clock.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at.trunc_subsecs(6);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What a provider says it did about a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckAction {
    /// The content was deleted.
    Removed,
    /// Access to the content was blocked (still stored, no longer served).
    Blocked,
    /// The provider disputes the match (goes to the list owner for review).
    FalsePositive,
    /// The content is not on the provider's service.
    NotOurs,
}

impl AckAction {
    /// Text form (API, database).
    pub fn as_str(self) -> &'static str {
        match self {
            AckAction::Removed => "removed",
            AckAction::Blocked => "blocked",
            AckAction::FalsePositive => "false_positive",
            AckAction::NotOurs => "not_ours",
        }
    }

    /// Whether the provider claims the content is no longer served (so it can be verified).
    pub fn claims_gone(self) -> bool {
        matches!(self, AckAction::Removed | AckAction::Blocked)
    }
}

impl std::str::FromStr for AckAction {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "removed" => AckAction::Removed,
            "blocked" => AckAction::Blocked,
            "false_positive" => AckAction::FalsePositive,
            "not_ours" => AckAction::NotOurs,
            _ => {
                return Err(UnknownValue {
                    what: "acknowledgement action",
                    value: s.to_string(),
                });
            }
        })
    }
}

impl std::fmt::Display for AckAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happens to a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitEvent {
    /// The provider acknowledges with an action.
    Acknowledge(AckAction),
    /// The deadline passed without acknowledgement (sweep).
    DeadlinePassed,
    /// The grace period after the deadline passed (sweep).
    GraceExpired,
    /// Verification found the content gone.
    VerificationPassed,
    /// Verification found the same content still served.
    VerificationFailed,
    /// The list owner upheld the entry against a false-positive dispute.
    ReviewUpheld,
    /// The entry was revoked (by review or otherwise).
    EntryRevoked,
}

impl HitEvent {
    /// Short name for the audit log (`hit.<name>`).
    pub fn name(self) -> &'static str {
        match self {
            HitEvent::Acknowledge(_) => "acknowledge",
            HitEvent::DeadlinePassed => "overdue",
            HitEvent::GraceExpired => "escalate",
            HitEvent::VerificationPassed => "verified",
            HitEvent::VerificationFailed => "verification_failed",
            HitEvent::ReviewUpheld => "review_upheld",
            HitEvent::EntryRevoked => "revoked",
        }
    }
}

/// A hit's follow-up status: its state plus the acknowledged action, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HitStatus {
    /// State.
    pub state: HitState,
    /// The last acknowledged action (kept after verification, for metrics and re-occurrence).
    pub action: Option<AckAction>,
}

impl HitStatus {
    /// A freshly recorded hit.
    pub const OPEN: HitStatus = HitStatus {
        state: HitState::Open,
        action: None,
    };
}

/// The result of an allowed transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The new status.
    pub to: HitStatus,
    /// Whether the deadline starts again from now (review upheld).
    pub restart_deadline: bool,
    /// Whether an escalation record must be written (the regulator picks these up).
    pub escalate: bool,
    /// Whether a verification should be scheduled (a removal/blocking claim).
    pub verify: bool,
}

/// A transition the life cycle does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hit in state {from} cannot take event {event}")]
pub struct TransitionError {
    /// The state the hit is in.
    pub from: HitState,
    /// The refused event.
    pub event: &'static str,
}

/// The life cycle: which event moves which status where. Pure; the store applies the result
/// with a conditional update so concurrent or repeated events cannot both win.
pub fn transition(from: HitStatus, event: HitEvent) -> Result<Transition, TransitionError> {
    use HitState as S;
    let to = |state, action| Transition {
        to: HitStatus { state, action },
        restart_deadline: false,
        escalate: false,
        verify: false,
    };
    let refused = || TransitionError {
        from: from.state,
        event: event.name(),
    };
    let claimed = from.action.is_some_and(AckAction::claims_gone);
    Ok(match (from.state, event) {
        (S::Open | S::Overdue | S::Escalated | S::VerificationFailed, HitEvent::Acknowledge(a)) => {
            Transition {
                verify: a.claims_gone(),
                ..to(S::Acknowledged, Some(a))
            }
        }
        (S::Open, HitEvent::DeadlinePassed) => to(S::Overdue, None),
        (S::Overdue, HitEvent::GraceExpired) => Transition {
            escalate: true,
            ..to(S::Escalated, None)
        },
        // A removal claim checked: passed or failed.
        (S::Acknowledged, HitEvent::VerificationPassed) if claimed => to(S::Verified, from.action),
        (S::Acknowledged, HitEvent::VerificationFailed) if claimed => {
            to(S::VerificationFailed, from.action)
        }
        // Silent removal: the provider never answered but the content is gone.
        (S::Overdue | S::Escalated, HitEvent::VerificationPassed) => to(S::Verified, None),
        (S::Acknowledged, HitEvent::ReviewUpheld)
            if from.action == Some(AckAction::FalsePositive) =>
        {
            Transition {
                restart_deadline: true,
                ..to(S::Open, None)
            }
        }
        (
            S::Open | S::Overdue | S::Escalated | S::Acknowledged | S::VerificationFailed,
            HitEvent::EntryRevoked,
        ) => to(S::Revoked, from.action),
        _ => return Err(refused()),
    })
}

/// Follow-up policy (per tenant; these are the defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowupPolicy {
    /// Hours after the deadline before an overdue hit is escalated.
    pub grace_hours: i64,
    /// Consecutive failed fetches (unreachable, 5xx…) that count as "gone".
    pub unreachable_misses: u32,
    /// Minutes between those fetches (SCART: at least 15).
    pub retry_spacing_minutes: i64,
}

impl Default for FollowupPolicy {
    fn default() -> Self {
        FollowupPolicy {
            grace_hours: 24,
            unreachable_misses: 3,
            retry_spacing_minutes: 15,
        }
    }
}

/// What one re-fetch of a hit's public URL found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Observation {
    /// 404 or 410.
    Gone,
    /// Served, but not the matched content (other bytes, not within the PDQ radius, or not an
    /// image at all).
    Different,
    /// Served, and it is the matched content (exact digest, or PDQ within the list radius).
    Same,
    /// No usable answer (network error, timeout, 5xx, other status).
    Unreachable,
}

/// What to do after an observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyDecision {
    /// The content is gone.
    Passed,
    /// The content is still there.
    Failed,
    /// Try again after the spacing; `misses` is the new count of consecutive misses.
    Retry {
        /// Consecutive unreachable observations so far.
        misses: u32,
    },
}

/// Decides a verification attempt. `misses_before` counts earlier consecutive unreachable
/// observations of this verification round.
pub fn decide_verification(
    obs: Observation,
    misses_before: u32,
    policy: &FollowupPolicy,
) -> VerifyDecision {
    match obs {
        Observation::Gone | Observation::Different => VerifyDecision::Passed,
        Observation::Same => VerifyDecision::Failed,
        Observation::Unreachable => {
            let misses = misses_before.saturating_add(1);
            if misses >= policy.unreachable_misses.max(1) {
                VerifyDecision::Passed
            } else {
                VerifyDecision::Retry { misses }
            }
        }
    }
}

/// The recorded follow-up timeline of one hit: what metrics are computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HitTimeline {
    /// When the hit was recorded.
    pub created_at: DateTime<Utc>,
    /// First acknowledgement, if any.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When the removal was verified, if it was.
    pub verified_at: Option<DateTime<Utc>>,
    /// Whether any verification of this hit failed.
    pub verification_failed: bool,
    /// Whether the hit ever went overdue.
    pub was_overdue: bool,
    /// Whether the content re-occurred after a removal was acknowledged.
    pub reoccurred: bool,
    /// Whether a removal or blocking was ever acknowledged.
    pub removal_acknowledged: bool,
}

/// Follow-up quality of one organisation over one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowupMetrics {
    /// Hits recorded in the period.
    pub hits: u64,
    /// Hits acknowledged.
    pub acknowledged: u64,
    /// `acknowledged / hits` (None without hits).
    pub acknowledged_share: Option<f64>,
    /// Median hours from hit to first acknowledgement.
    pub ack_hours_median: Option<f64>,
    /// 90th percentile hours from hit to first acknowledgement.
    pub ack_hours_p90: Option<f64>,
    /// Median hours from hit to verified removal.
    pub removal_hours_median: Option<f64>,
    /// 90th percentile hours from hit to verified removal.
    pub removal_hours_p90: Option<f64>,
    /// Verified / (verified + failed verifications) (None when nothing was verified).
    pub verification_pass_rate: Option<f64>,
    /// Re-occurred / acknowledged removals (None without acknowledged removals).
    pub reoccurrence_rate: Option<f64>,
    /// Hits that went overdue.
    pub overdue: u64,
}

/// Nearest-rank percentile (`p` in 0..=100) of unsorted values.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

fn hours(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_microseconds().unwrap_or(i64::MAX) as f64 / 3_600_000_000.0
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// Computes follow-up metrics over the timelines of one organisation and period.
pub fn followup_metrics(timelines: &[HitTimeline]) -> FollowupMetrics {
    let ack: Vec<f64> = timelines
        .iter()
        .filter_map(|t| t.acknowledged_at.map(|a| hours(t.created_at, a)))
        .collect();
    let removal: Vec<f64> = timelines
        .iter()
        .filter_map(|t| t.verified_at.map(|a| hours(t.created_at, a)))
        .collect();
    let hits = timelines.len() as u64;
    let verified = removal.len() as u64;
    let failed = timelines
        .iter()
        .filter(|t| t.verification_failed && t.verified_at.is_none())
        .count() as u64;
    let removals = timelines.iter().filter(|t| t.removal_acknowledged).count() as u64;
    let reoccurred = timelines.iter().filter(|t| t.reoccurred).count() as u64;
    FollowupMetrics {
        hits,
        acknowledged: ack.len() as u64,
        acknowledged_share: ratio(ack.len() as u64, hits),
        ack_hours_median: percentile(&ack, 50.0),
        ack_hours_p90: percentile(&ack, 90.0),
        removal_hours_median: percentile(&removal, 50.0),
        removal_hours_p90: percentile(&removal, 90.0),
        verification_pass_rate: ratio(verified, verified + failed),
        reoccurrence_rate: ratio(reoccurred, removals),
        overdue: timelines.iter().filter(|t| t.was_overdue).count() as u64,
    }
}

/// CSV header matching [`FollowupMetrics::csv_row`].
pub const METRICS_CSV_HEADER: &str = "org,hits,acknowledged,acknowledged_share,ack_hours_median,ack_hours_p90,removal_hours_median,removal_hours_p90,verification_pass_rate,reoccurrence_rate,overdue";

impl FollowupMetrics {
    /// One CSV row (the organisation name is quoted; empty cells for "no data").
    pub fn csv_row(&self, org: &str) -> String {
        let f = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
        format!(
            "\"{}\",{},{},{},{},{},{},{},{},{},{}",
            org.replace('"', "\"\""),
            self.hits,
            self.acknowledged,
            f(self.acknowledged_share),
            f(self.ack_hours_median),
            f(self.ack_hours_p90),
            f(self.removal_hours_median),
            f(self.removal_hours_p90),
            f(self.verification_pass_rate),
            f(self.reoccurrence_rate),
            self.overdue
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AckAction as A;
    use HitEvent as E;
    use HitState as S;

    fn st(state: HitState, action: Option<AckAction>) -> HitStatus {
        HitStatus { state, action }
    }

    #[test]
    fn life_cycle_table() {
        // (from, event, Some(to) or None for refused)
        let table: &[(HitStatus, HitEvent, Option<HitStatus>)] = &[
            (
                HitStatus::OPEN,
                E::Acknowledge(A::Removed),
                Some(st(S::Acknowledged, Some(A::Removed))),
            ),
            (
                HitStatus::OPEN,
                E::Acknowledge(A::NotOurs),
                Some(st(S::Acknowledged, Some(A::NotOurs))),
            ),
            (
                HitStatus::OPEN,
                E::DeadlinePassed,
                Some(st(S::Overdue, None)),
            ),
            (HitStatus::OPEN, E::GraceExpired, None),
            (HitStatus::OPEN, E::VerificationPassed, None),
            (HitStatus::OPEN, E::ReviewUpheld, None),
            (HitStatus::OPEN, E::EntryRevoked, Some(st(S::Revoked, None))),
            (
                st(S::Overdue, None),
                E::GraceExpired,
                Some(st(S::Escalated, None)),
            ),
            (st(S::Overdue, None), E::DeadlinePassed, None),
            (
                st(S::Overdue, None),
                E::Acknowledge(A::Blocked),
                Some(st(S::Acknowledged, Some(A::Blocked))),
            ),
            (
                st(S::Overdue, None),
                E::VerificationPassed,
                Some(st(S::Verified, None)),
            ),
            (st(S::Overdue, None), E::VerificationFailed, None),
            (
                st(S::Escalated, None),
                E::Acknowledge(A::Removed),
                Some(st(S::Acknowledged, Some(A::Removed))),
            ),
            (st(S::Escalated, None), E::GraceExpired, None),
            (
                st(S::Acknowledged, Some(A::Removed)),
                E::VerificationPassed,
                Some(st(S::Verified, Some(A::Removed))),
            ),
            (
                st(S::Acknowledged, Some(A::Blocked)),
                E::VerificationFailed,
                Some(st(S::VerificationFailed, Some(A::Blocked))),
            ),
            (
                st(S::Acknowledged, Some(A::NotOurs)),
                E::VerificationPassed,
                None,
            ),
            (
                st(S::Acknowledged, Some(A::FalsePositive)),
                E::VerificationFailed,
                None,
            ),
            (
                st(S::Acknowledged, Some(A::Removed)),
                E::Acknowledge(A::Removed),
                None,
            ),
            (
                st(S::Acknowledged, Some(A::Removed)),
                E::DeadlinePassed,
                None,
            ),
            (
                st(S::Acknowledged, Some(A::FalsePositive)),
                E::ReviewUpheld,
                Some(HitStatus::OPEN),
            ),
            (st(S::Acknowledged, Some(A::Removed)), E::ReviewUpheld, None),
            (
                st(S::Acknowledged, Some(A::FalsePositive)),
                E::EntryRevoked,
                Some(st(S::Revoked, Some(A::FalsePositive))),
            ),
            (
                st(S::VerificationFailed, Some(A::Removed)),
                E::Acknowledge(A::Removed),
                Some(st(S::Acknowledged, Some(A::Removed))),
            ),
            (st(S::Verified, Some(A::Removed)), E::EntryRevoked, None),
            (
                st(S::Verified, Some(A::Removed)),
                E::Acknowledge(A::Removed),
                None,
            ),
            (st(S::Revoked, None), E::Acknowledge(A::Removed), None),
            (st(S::Revoked, None), E::EntryRevoked, None),
        ];
        for (i, (from, ev, want)) in table.iter().enumerate() {
            let got = transition(*from, *ev).ok().map(|t| t.to);
            assert_eq!(got, *want, "row {i}: {from:?} + {ev:?}");
        }
    }

    #[test]
    fn side_effects() {
        let t = transition(HitStatus::OPEN, E::Acknowledge(A::Removed)).unwrap();
        assert!(t.verify && !t.escalate && !t.restart_deadline);
        let t = transition(HitStatus::OPEN, E::Acknowledge(A::FalsePositive)).unwrap();
        assert!(!t.verify);
        let t = transition(st(S::Overdue, None), E::GraceExpired).unwrap();
        assert!(t.escalate);
        let t = transition(st(S::Acknowledged, Some(A::FalsePositive)), E::ReviewUpheld).unwrap();
        assert!(t.restart_deadline);
        let e = transition(st(S::Verified, None), E::DeadlinePassed).unwrap_err();
        assert_eq!(
            e.to_string(),
            "hit in state verified cannot take event overdue"
        );
    }

    #[test]
    fn verification_decisions() {
        let p = FollowupPolicy::default();
        assert_eq!(
            decide_verification(Observation::Gone, 0, &p),
            VerifyDecision::Passed
        );
        assert_eq!(
            decide_verification(Observation::Different, 0, &p),
            VerifyDecision::Passed
        );
        assert_eq!(
            decide_verification(Observation::Same, 2, &p),
            VerifyDecision::Failed
        );
        assert_eq!(
            decide_verification(Observation::Unreachable, 0, &p),
            VerifyDecision::Retry { misses: 1 }
        );
        assert_eq!(
            decide_verification(Observation::Unreachable, 1, &p),
            VerifyDecision::Retry { misses: 2 }
        );
        assert_eq!(
            decide_verification(Observation::Unreachable, 2, &p),
            VerifyDecision::Passed
        );
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let c = ManualClock::new(start);
        assert_eq!(c.now(), start);
        c.advance(Duration::hours(25));
        assert_eq!(c.now(), start + Duration::hours(25));
    }

    #[test]
    fn metrics_on_a_known_timeline() {
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let h = |n: i64| Some(t0 + Duration::hours(n));
        let base = HitTimeline {
            created_at: t0,
            acknowledged_at: None,
            verified_at: None,
            verification_failed: false,
            was_overdue: false,
            reoccurred: false,
            removal_acknowledged: false,
        };
        let tl = vec![
            HitTimeline {
                acknowledged_at: h(1),
                verified_at: h(2),
                removal_acknowledged: true,
                ..base.clone()
            },
            HitTimeline {
                acknowledged_at: h(3),
                verified_at: h(5),
                removal_acknowledged: true,
                reoccurred: true,
                ..base.clone()
            },
            HitTimeline {
                acknowledged_at: h(10),
                verification_failed: true,
                removal_acknowledged: true,
                ..base.clone()
            },
            HitTimeline {
                was_overdue: true,
                ..base.clone()
            },
        ];
        let m = followup_metrics(&tl);
        assert_eq!(m.hits, 4);
        assert_eq!(m.acknowledged, 3);
        assert_eq!(m.acknowledged_share, Some(0.75));
        assert_eq!(m.ack_hours_median, Some(3.0));
        assert_eq!(m.ack_hours_p90, Some(10.0));
        assert_eq!(m.removal_hours_median, Some(2.0));
        assert_eq!(m.removal_hours_p90, Some(5.0));
        assert_eq!(m.verification_pass_rate, Some(2.0 / 3.0));
        assert_eq!(m.reoccurrence_rate, Some(1.0 / 3.0));
        assert_eq!(m.overdue, 1);
        assert_eq!(
            m.csv_row("Host \"A\""),
            "\"Host \"\"A\"\"\",4,3,0.7500,3.0000,10.0000,2.0000,5.0000,0.6667,0.3333,1"
        );
        let empty = followup_metrics(&[]);
        assert_eq!(empty.acknowledged_share, None);
        assert_eq!(empty.hits, 0);
    }
}
